"""Every process sees every change: two real ``yima serve`` processes on one PostgreSQL database; a change
made through one (or by a ``yima`` command) is seen by the other within a second, for each per-process
cache (code-release index, lineage timeline and graph, search and overview counts, token checks)."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest

from tests.conftest import _truncate
from tests.web.processes import Served, request, run_event, run_yima, token, yima_env

pytestmark = pytest.mark.concurrency

WITHIN = 1.0  # seconds


def seen_within(check, seconds: float = WITHIN) -> float:
    """Poll ``check()`` until it is true; the seconds it took. Fails if not within ``seconds``."""
    start = time.monotonic()
    while True:
        if check():
            return time.monotonic() - start
        if time.monotonic() - start > seconds:
            raise AssertionError(f"not seen within {seconds} s")
        time.sleep(0.02)


def _validation(base: str, code: str, headers: dict) -> dict:
    status, _, body = request(
        base, "GET", f"/api/v1/validate/codes?scheme=szgws-me&code={code}", headers=headers
    )
    assert status == 200, body
    return body


def test_a_change_through_one_server_is_seen_by_the_other_within_a_second(pg_database, tmp_path):
    url = pg_database
    _truncate(url)
    admin, steward = token(url, "admin"), token(url, "steward")
    reader = token(url, "contributor", name="coherence-reader")
    env = yima_env(url, tmp_path / "instance")
    one, other = (Served(env, tmp_path / f"serve-{k}.log") for k in (1, 2))
    with one, other:
        # a release published through one server, validated through the other (its index now cached)
        csv = "编码,名称\n40-10.00.00,材料甲\n40-11.00.00,材料乙\n"
        path = "/api/v1/schemes/szgws-me/releases/r1/import?filename=r1.csv"
        assert request(one.url, "POST", path, csv, {**admin, "Content-Type": "text/csv"})[0] == 200
        status, _, body = request(one.url, "POST", "/api/v1/schemes/szgws-me/releases/r1/publish", {}, admin)
        assert status == 200, body
        before = _validation(other.url, "40-10.00.00", reader)
        assert "deprecated" not in str(before)

        # code-release index: a deprecation through one server
        deprecate = "/api/v1/schemes/szgws-me/codes/40-10.00.00/deprecate"
        status, _, body = request(one.url, "POST", deprecate, {"successor": "40-11.00.00"}, steward)
        assert status == 200, body
        seen_within(lambda: "deprecated" in str(_validation(other.url, "40-10.00.00", reader)))

        # lineage timeline and graph: an event through one server, the graph read through the other
        def node_known():
            return (
                request(other.url, "GET", "/api/v1/lineage/node?node=dataset:faults:out_3", headers=reader)[0]
                == 200
            )

        assert not node_known()
        status, _, body = request(one.url, "POST", "/api/v1/lineage", run_event(n=3), reader)
        assert status == 201, body
        seen_within(node_known)

        # search and overview counts: a resource created through one server
        def found():
            body = request(other.url, "GET", f"/api/v1/resources?q={quote('一致性')}", headers=reader)[2]
            return body["total"] == 1

        assert not found()
        status, _, body = request(
            one.url,
            "POST",
            "/api/v1/organizations",
            {"code": "COH", "name": "一致性测试单位", "kind": "owner"},
            steward,
        )
        assert status == 201, body
        resource = {
            "code": "COH-1",
            "name": "一致性资源",
            "summary": "跨进程",
            "category": "A0201",
            "provider": "COH",
        }
        assert request(one.url, "POST", "/api/v1/resources", resource, steward)[0] == 201
        seen_within(found)

        # token checks: a token revoked by a `yima` command is refused by both servers at once
        assert request(other.url, "GET", "/api/v1/whoami", headers=reader)[0] == 200
        done = run_yima(env, "token", "revoke", "coherence-reader")
        assert done.returncode == 0, done.stdout + done.stderr
        seen_within(lambda: request(other.url, "GET", "/api/v1/whoami", headers=reader)[0] == 401)
        assert request(one.url, "GET", "/api/v1/whoami", headers=reader)[0] == 401
