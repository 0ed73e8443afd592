"""The CLI of the review: tokens for an organization, the demo's sample tokens, and ``yima requests``."""

from __future__ import annotations

from tests.review.review_helpers import audit_of

SHEET = "编码,名称,计量单位\n30-10.10.90,隔热防火门,樘\n30-10.10.91,隔声防火门,樘\n"


def _secret(result) -> str:
    return result.output.strip().splitlines()[-1].strip()


def test_token_create_for_an_organization_and_an_unknown_one(runner, client, demo):
    made = runner(["token", "create", "李工", "--role", "contributor", "--org", "CSCEC3B"])
    assert made.exit_code == 0
    me = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {_secret(made)}"}).get_json()
    assert me == {"name": "李工", "role": "contributor", "organization": "CSCEC3B"}
    refused = runner(["token", "create", "张工", "--role", "steward", "--org", "NOPE"])
    assert refused.exit_code == 1
    assert refused.output.strip().splitlines() == [
        "error: unknown organization 'NOPE': use the code of one of /api/v1/organizations"
    ]
    listed = runner(["token", "list"]).output
    assert "李工\tcontributor\tCSCEC3B\tactive" in listed and "张工" not in listed


def test_demo_tokens_work_at_once_and_a_rerun_replaces_them(runner, client):
    first = runner(["demo", "--tokens"])
    assert first.exit_code == 0, first.output
    rows = [line.split("\t") for line in first.output.splitlines() if line.count("\t") == 4]
    assert [(r[1], r[2], r[3]) for r in rows] == [
        ("CSCEC3B", "contributor", "demo-contractor"),
        ("SUP-DEMO", "contributor", "demo-supervisor"),
        ("SZGWS-GCGL", "steward", "demo-owner"),
    ]
    old = {"Authorization": f"Bearer {rows[1][4]}"}
    assert client.get("/api/v1/whoami", headers=old).get_json()["organization"] == "SUP-DEMO"
    again = runner(["demo", "--tokens"])
    assert "already loaded" in again.output
    names = [line.split("\t")[3] for line in again.output.splitlines() if line.count("\t") == 4]
    assert names == ["demo-contractor-2", "demo-supervisor-2", "demo-owner-2"]
    assert client.get("/api/v1/whoami", headers=old).status_code == 401  # the previous set is revoked


def test_requests_from_the_command_line_carry_the_organization(runner, client, party, tmp_path):
    sheet = tmp_path / "防火门.csv"
    sheet.write_text(SHEET, encoding="utf-8")
    con = party["contractor"]["Authorization"].split()[1]
    sup = party["supervisor"]["Authorization"].split()[1]
    own = party["owner"]["Authorization"].split()[1]
    sent = runner(
        ["requests", "submit-codes", sheet, "--scheme", "szgws-me", "--reason", "现场新材料", "--token", con]
    )
    assert sent.exit_code == 0, sent.output
    rid = int(_secret(sent))
    entry = audit_of(client, entity_type="change_request", entity_key=rid)[0]
    assert (entry["actor"], entry["organization"], entry["action"]) == ("contractor", "CSCEC3B", "submit")

    wrong = runner(["requests", "decide", rid, "approve", "--token", con])  # a contributor deciding
    assert (
        wrong.exit_code == 1
        and wrong.output.startswith("error: ")
        and len(wrong.output.strip().splitlines()) == 1
    )
    assert runner(["requests", "review", rid, "endorse", "--token", sup]).exit_code == 0
    done = runner(["requests", "decide", rid, "approve", "--comment", "同意", "--token", own])
    assert done.exit_code == 0 and "\tapproved\t" in done.output
    assert client.get("/api/v1/schemes/szgws-me/codes/30-10.10.91").status_code == 200

    listed = runner(["requests", "list", "--status", "approved"]).output
    assert f"{rid}\tapproved\tcode.add (2 rows)" in listed
    shown = runner(["requests", "show", rid]).output
    assert "row 2\t30-10.10.90\t隔热防火门" in shown and "approve\towner (SZGWS-GCGL)" in shown
    assert runner(["requests", "show", 999]).exit_code == 1
    bad = runner(["requests", "review", rid, "endorse", "--token", "yima_nope"])
    assert bad.exit_code == 1 and "unknown or has been revoked" in bad.output
