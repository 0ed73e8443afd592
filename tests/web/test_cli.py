"""The ``yima`` command: help, tokens, demo, db, audit — as a user runs it."""

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def test_cli_help_lists_every_command(runner):
    out = runner(["--help"]).output
    for command in ("db", "serve", "demo", "token", "audit", "validate"):
        assert command in out
    assert "YIMA_DATABASE_URL" in out
    assert "--role" in runner(["token", "create", "--help"]).output


def test_cli_token_create_prints_the_secret_last_and_stores_only_a_hash(runner, db, client):
    result = runner(["token", "create", "ci-bot", "--role", "steward"])
    assert result.exit_code == 0
    secret = result.stdout.strip().splitlines()[-1]
    assert secret.startswith("yima_")
    from sqlalchemy import text

    with db.session() as s:
        stored = s.execute(text("SELECT token_hash FROM api_token WHERE name = 'ci-bot'")).scalar()
    assert stored != secret and secret not in stored
    r = client.post(
        "/api/v1/organizations",
        json={"code": "T", "name": "t"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert r.status_code == 201
    entries = client.get("/api/v1/audit?entity_type=token").get_json()["items"]
    assert entries[0]["entity_key"] == "ci-bot" and entries[0]["after"]["role"] == "steward"
    assert "hash" not in entries[0]["after"]
    again = runner(["token", "create", "ci-bot", "--role", "viewer"])
    assert again.exit_code == 1 and "already exists" in again.output and "Traceback" not in again.output
    assert runner(["token", "revoke", "ci-bot"]).exit_code == 0
    r = client.post(
        "/api/v1/organizations",
        json={"code": "T2", "name": "t"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert r.status_code == 401


def test_cli_demo_is_idempotent_and_audited(runner, client):
    first = runner(["demo"])
    assert first.exit_code == 0, first.output
    count = client.get("/api/v1/audit?per_page=1").get_json()["total"]
    assert count > 0
    orgs = client.get("/api/v1/organizations").get_json()
    assert "SZGWS" in [o["code"] for o in orgs["items"]]
    assert {"contractor", "supervisor", "assessor", "owner"} <= {o["kind"] for o in orgs["items"]}
    assert runner(["demo"]).exit_code == 0
    assert client.get("/api/v1/audit?per_page=1").get_json()["total"] == count
    assert runner(["audit", "verify"]).exit_code == 0


def test_cli_db_current_names_the_head(runner):
    import migrations

    out = runner(["db", "current"]).output
    assert migrations.head_revision() in out and "(head)" in out


def test_cli_serve_runs_a_production_server(tmp_path, free_port):
    """The installed console script upgrades a fresh database and serves the API (gunicorn)."""
    exe = Path(sys.executable).with_name("yima")
    port = free_port()
    env = {
        **os.environ,
        "YIMA_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}",
        "YIMA_INSTANCE_PATH": str(tmp_path / "inst"),
    }
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", str(port), "--threads", "2"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        body = None
        deadline = time.monotonic() + 90  # a loaded CI machine starts gunicorn slowly
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2) as r:
                    body, server = r.read().decode(), r.headers.get("Server", "")
                break
            except OSError:
                time.sleep(0.2)
        assert body is not None and '"status":"ok"' in body
        assert "gunicorn" in server.lower() and "werkzeug" not in server.lower()
        assert (tmp_path / "inst" / "secret_key").exists()
    finally:
        proc.terminate()
        proc.wait(60)


def test_cli_every_command_sees_schemes_from_yima_scheme_path(config, tmp_path):
    """A scheme added as a file in YIMA_SCHEME_PATH works in the CLI and the API alike, no code change."""
    import json
    from dataclasses import replace

    from click.testing import CliRunner

    from registry.tokens import create_token
    from standards import formats
    from web import create_app
    from web.cli import main

    folder = tmp_path / "schemes"
    folder.mkdir()
    definition = json.loads(
        (Path(formats.__file__).parent / "schemes" / "gtin.json").read_text(encoding="utf-8")
    )
    definition.update(id="supplier-gtin", name="供应商商品条码")
    (folder / "supplier-gtin.json").write_text(json.dumps(definition, ensure_ascii=False), encoding="utf-8")
    codes = tmp_path / "codes.txt"
    codes.write_text("6901234567892\n", encoding="utf-8")
    env = {"YIMA_DATABASE_URL": config.database_url, "YIMA_SCHEME_PATH": str(folder)}
    try:
        result = CliRunner().invoke(main, ["validate", "codes", "supplier-gtin", str(codes)], env=env)
        assert result.exit_code == 0, result.output
        app = create_app(replace(config, scheme_paths=(str(folder),)))
        client = app.test_client()
        ids = [s["id"] for s in client.get("/api/v1/schemes").get_json()["items"]]
        assert "supplier-gtin" in ids
        with app.extensions["yima"].db.writer() as s:
            _, secret = create_token(s, "steward-scheme", "steward", actor="test")
        steward = {"Authorization": f"Bearer {secret}"}
        client.post("/api/v1/organizations", json={"code": "ORG", "name": "单位"}, headers=steward)
        client.post("/api/v1/systems", json={"code": "SYS", "name": "系统", "owner": "ORG"}, headers=steward)
        category = client.get("/api/v1/catalog/categories").get_json()["items"][1]["code"]
        resource = {
            "code": "RES",
            "name": "供货记录",
            "summary": "供应商供货",
            "category": category,
            "provider": "ORG",
            "system": "SYS",
            "format": "数据库",
            "share_type": "conditional",
            "update_cycle": "daily",
            "security_grade": "general",
            "fields": [{"name": "gtin", "type": "string", "code_scheme": "supplier-gtin"}],
        }
        r = client.post("/api/v1/resources", json=resource, headers=steward)
        assert r.status_code == 201, r.get_json()
        app.extensions["yima"].db.dispose()
        records = tmp_path / "records.csv"
        records.write_text("gtin\n6901234567892\n6901234567893\n", encoding="utf-8")
        result = CliRunner().invoke(main, ["validate", "records", "RES", str(records), "--json"], env=env)
        assert result.exit_code == 1, result.output  # the second code's check digit is wrong
        report = json.loads(result.stdout)
        assert report["valid"] == 1 and report["results"][1]["errors"][0]["type"] == "code"
    finally:
        formats.configure(())  # back to the bundled schemes for the other tests


def test_cli_errors_are_one_clear_line_not_a_traceback(runner):
    for args in (["db", "downgrade", "no-such-revision"], ["validate", "records", "NOPE", __file__]):
        result = runner(args)
        assert result.exit_code == 1
        assert "error:" in result.output and "Traceback" not in result.output
