"""Two ``yima serve`` processes on one PostgreSQL database, 16 writers at once for a minute
(``YIMA_CONCURRENCY_SECONDS`` shortens it): PATCH with If-Match, OpenLineage events, declared flows, code
imports and creates that race for one key. No 5xx, no fork of the audit chain, every 2xx write there
afterwards, every lost race a 412 or a 409. ``-m concurrency`` selects it (``make test`` runs it too).
"""

from __future__ import annotations

import collections
import http.client
import os
import random
import threading
import time

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import _truncate
from tests.web.processes import Served, request, run_event, token, yima_env

pytestmark = pytest.mark.concurrency

SECONDS = float(os.environ.get("YIMA_CONCURRENCY_SECONDS") or 60)
WRITERS = 16
RESOURCES = ("CONC-1", "CONC-2", "CONC-3")
OPERATIONS = ("patch", "event", "flow", "import", "race")


class Outcomes:
    """What the writers were told, by operation: statuses, and the keys of every 2xx write."""

    def __init__(self):
        self.lock = threading.Lock()
        self.statuses: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.written: dict[str, list] = collections.defaultdict(list)
        self.broken: list = []

    def add(self, op: str, status: int, key=None, body=None) -> None:
        with self.lock:
            self.statuses[op][status] += 1
            if 200 <= status < 300 and key is not None:
                self.written[op].append(key)
            if status >= 500 or status not in (200, 201, 409, 412):
                self.broken.append((op, status, body))


def seed(base: str, steward: dict, admin: dict) -> None:
    for org in ({"code": "CONC-ORG", "name": "并发测试单位", "kind": "owner"},):
        assert request(base, "POST", "/api/v1/organizations", org, steward)[0] == 201
    for code in RESOURCES:
        body = {
            "code": code,
            "name": f"并发资源{code}",
            "summary": "初始",
            "category": "A0201",
            "provider": "CONC-ORG",
            "fields": [{"name": "id", "type": "integer"}],
        }
        assert request(base, "POST", "/api/v1/resources", body, steward)[0] == 201
    rows = ["编码,名称"] + [f"40-{10 + i}.00.00,材料{i}" for i in range(WRITERS)]
    status, _, body = request(
        base,
        "POST",
        "/api/v1/schemes/szgws-me/releases/conc/import",
        "\n".join(rows) + "\n",
        {**admin, "Content-Type": "text/csv"},
    )
    assert status == 200, body


def writer(i: int, servers: list[str], tokens: dict, deadline: float, out: Outcomes) -> None:
    rng = random.Random(i)
    n = 0
    while time.monotonic() < deadline:
        base = servers[(i + n) % len(servers)]
        op = OPERATIONS[(i + n) % len(OPERATIONS)]
        n += 1
        try:
            _operation(op, i, n, rng, base, tokens, out)
        except (OSError, http.client.HTTPException) as exc:  # a server that hangs up is a failure too
            out.add(op, 599, body=repr(exc))


def _operation(op, i, n, rng, base, tokens, out: Outcomes) -> None:
    if op == "patch":
        code = rng.choice(RESOURCES)
        status, headers, _ = request(base, "GET", f"/api/v1/resources/{code}")
        summary = f"writer {i} change {n}"
        status, _, body = request(
            base,
            "PATCH",
            f"/api/v1/resources/{code}",
            {"summary": summary},
            {**tokens["steward"], "If-Match": headers.get("ETag", "")},
        )
        out.add(op, status, (code, summary), body)
    elif op == "event":
        event = run_event(job=f"writer_{i}", n=n)
        status, _, body = request(base, "POST", "/api/v1/lineage", event, tokens["contributor"])
        out.add(op, status, event["run"]["runId"], body)
    elif op == "flow":
        flow = {
            "source": f"dataset:conc:src_{i}_{n}",
            "target": f"dataset:conc:tgt_{n % 4}",
            "description": "并发",
        }
        status, _, body = request(base, "POST", "/api/v1/lineage/flows", flow, tokens["contributor"])
        out.add(op, status, (body or {}).get("id"), body)
    elif op == "import":
        group, item = divmod(n, 90)
        parent, code = f"40-{10 + i}.{10 + group}.00", f"40-{10 + i}.{10 + group}.{10 + item}"
        csv = f"编码,名称\n{parent},组{group}\n{code},材料{n}\n"
        path = f"/api/v1/schemes/szgws-me/releases/conc/import?filename=w{i}.csv"
        status, _, body = request(base, "POST", path, csv, {**tokens["admin"], "Content-Type": "text/csv"})
        out.add(op, status, code, body)
    else:  # every writer tries to create the same organizations: one wins each, the others get 409
        org = {"code": f"RACE-{n // len(OPERATIONS)}", "name": f"抢注{n}", "kind": "other"}
        status, _, body = request(base, "POST", "/api/v1/organizations", org, tokens["steward"])
        out.add(op, status, org["code"], body)


def test_two_servers_and_sixteen_writers_lose_nothing_and_never_fork(pg_database, tmp_path):
    url = pg_database
    _truncate(url)
    tokens = {role: token(url, role) for role in ("steward", "contributor", "admin")}
    env = yima_env(url, tmp_path / "instance")
    servers = [Served(env, tmp_path / f"serve-{k}.log") for k in (1, 2)]
    for s in servers:
        s.start()
    try:
        seed(servers[0].url, tokens["steward"], tokens["admin"])
        out = Outcomes()
        deadline = time.monotonic() + SECONDS
        threads = [
            threading.Thread(target=writer, args=(i, [s.url for s in servers], tokens, deadline, out))
            for i in range(WRITERS)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(SECONDS + 300)
        assert not out.broken, (out.broken[:5], _database_trouble(servers))
        check_everything_is_there(servers[1].url, url, out)
    finally:
        for s in servers:
            s.stop()


def _database_trouble(servers: list[Served]) -> list[str]:
    """What the servers logged about the database (the SQLSTATE of a 503, a retried deadlock)."""
    lines = []
    for s in servers:
        text_ = s.log.read_text(errors="replace") if s.log.exists() else ""
        lines += [line for line in text_.splitlines() if "database" in line or "SQLSTATE" in line]
    return lines[-20:]


def check_everything_is_there(base: str, url: str, out: Outcomes) -> None:
    verify = request(base, "GET", "/api/v1/audit/verify")[2]
    assert verify["ok"] is True, verify
    engine = create_engine(url)
    with engine.connect() as conn:
        seqs = conn.execute(text("SELECT seq, prev_hash FROM audit_entry ORDER BY seq")).all()
        events = set(conn.execute(text("SELECT run_id FROM lineage_event")).scalars())
        flows = set(conn.execute(text("SELECT id FROM lineage_flow")).scalars())
        codes = set(
            conn.execute(
                text(
                    "SELECT c.code FROM code c JOIN code_release r ON r.id = c.release_id WHERE r.release = 'conc'"
                )
            ).scalars()
        )
        orgs = set(conn.execute(text("SELECT code FROM organization")).scalars())
    engine.dispose()
    assert [s for s, _ in seqs] == list(range(1, len(seqs) + 1))
    assert len({p for _, p in seqs}) == len(seqs)  # no two entries claim the same predecessor: no fork
    assert set(out.written["event"]) <= events
    assert set(out.written["flow"]) <= flows
    assert set(out.written["import"]) <= codes
    races = collections.Counter(out.written["race"])
    assert set(races) <= orgs and set(races.values()) == {1}  # exactly one winner per contested code
    assert out.statuses["race"][409] > 0  # and the losers were told
    for code in RESOURCES:
        saved = {s for c, s in out.written["patch"] if c == code}
        page = request(base, "GET", f"/api/v1/resources/{code}/revisions?per_page=1000")[2]
        summaries = [r["snapshot"]["summary"] for r in page["items"]]
        assert saved <= set(summaries) and page["total"] == 1 + len(saved)  # every 200 is one revision
    answered = sum(sum(c.values()) for c in out.statuses.values())
    print(
        f"concurrency: {answered} writes in {SECONDS:.0f} s: { {op: dict(c) for op, c in out.statuses.items()} }"
    )
