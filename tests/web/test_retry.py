"""A request whose transaction PostgreSQL picks as a deadlock victim is run again, not answered 503.

The deadlock is a real one: the request's writer takes advisory lock A then waits for B, while a
connection of the test holds B and then asks for A. PostgreSQL's detector (``deadlock_timeout``, 1 s)
runs first in the transaction that has waited longest, the request's, and aborts it with 40P01.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import create_engine, text

from registry.config import Config
from web import create_app
from web.app import RETRIES
from web.context import db

A, B = (7351, 1), (7351, 2)
LOCK = text("SELECT pg_advisory_xact_lock(:a, :b)")


def _other_side(url: str, holding: threading.Event, go: threading.Event) -> threading.Thread:
    """A connection that takes B, waits for ``go``, then asks for A (closing the cycle), and commits."""

    def run():
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                conn.execute(LOCK, {"a": B[0], "b": B[1]})
                holding.set()
                go.wait(10)
                time.sleep(0.2)  # the request is already waiting for B: its detector fires first
                conn.execute(LOCK, {"a": A[0], "b": A[1]})
        finally:
            engine.dispose()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def deadlocking_app(pg_database, tmp_path):
    """An app with one extra write route that deadlocks against the test's own connection on its
    first ``deadlocks`` tries."""
    app = create_app(Config(database_url=pg_database, secret_key="t", instance_path=str(tmp_path / "i")))
    state = {"tries": 0, "deadlocks": 1, "others": []}

    def write():
        state["tries"] += 1
        with db().writer() as s:
            s.execute(LOCK, {"a": A[0], "b": A[1]})
            if state["tries"] <= state["deadlocks"]:
                holding, go = threading.Event(), threading.Event()
                state["others"].append(_other_side(pg_database, holding, go))
                assert holding.wait(10)
                go.set()
            s.execute(LOCK, {"a": B[0], "b": B[1]})
            s.commit()
        return {"tries": state["tries"]}

    app.add_url_rule("/api/v1/_test/deadlock", "deadlock", write, methods=["POST"])
    yield app, state
    for other in state["others"]:
        other.join(15)
    app.extensions["yima"].db.dispose()


def test_a_deadlock_victim_is_run_again_and_the_caller_sees_success(deadlocking_app):
    app, state = deadlocking_app
    response = app.test_client().post("/api/v1/_test/deadlock")
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"tries": 2}  # the first try lost the deadlock, the second committed


def test_a_request_that_keeps_losing_is_answered_503_with_retry_after(deadlocking_app):
    app, state = deadlocking_app
    state["deadlocks"] = RETRIES + 1
    response = app.test_client().post("/api/v1/_test/deadlock")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert "busy" in response.get_json()["message"]
    assert state["tries"] == RETRIES + 1
