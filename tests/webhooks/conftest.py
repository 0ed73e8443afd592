"""Fixtures for webhooks: an app allowed to send to 127.0.0.1 with a fast retry schedule, a real receiver, a loop."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.webhooks.receiver import Receiver
from webhooks.settings import WebhookSettings
from webhooks.worker import DeliveryLoop

#: retries in a fraction of a second, so a test sees the whole schedule (the real one spans 3 days)
FAST_RETRIES = (0.1, 0.1, 0.1)


@pytest.fixture
def config(config):
    """The shared test config, plus what a webhook test needs: loopback allowed, fast retries, short timeouts."""
    return replace(
        config,
        webhook_allow=("127.0.0.1",),
        webhook_retry_schedule=FAST_RETRIES,
        webhook_timeout=3.0,
        webhook_poll=0.1,
    )


@pytest.fixture
def receiver():
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def settings(config) -> WebhookSettings:
    return WebhookSettings.from_config(config)


@pytest.fixture
def loop(db, settings):
    """A delivery loop on the app's database, not started: ``loop.run_once()`` delivers what is due."""
    found = DeliveryLoop(db, settings, threads=2, name="test")
    yield found
    found.stop(timeout=10)


@pytest.fixture
def hook(client, admin, receiver):
    """``hook(events=["*"], path="/hook")`` → the created webhook's JSON (with its secret)."""

    def make(events=("*",), path="/hook", **extra):
        r = client.post(
            "/api/v1/webhooks",
            json={"url": receiver.url(path), "events": list(events), **extra},
            headers=admin,
        )
        assert r.status_code == 201, r.get_json()
        return r.get_json()

    return make


@pytest.fixture
def org(client, steward):
    """``org(code)`` creates an organization through the API: one audited change (``organization.create``)."""

    def make(code: str, **extra):
        r = client.post(
            "/api/v1/organizations",
            json={"code": code, "name": f"单位 {code}", "kind": "contractor", **extra},
            headers=steward,
        )
        assert r.status_code == 201, r.get_json()
        return r.get_json()

    return make
