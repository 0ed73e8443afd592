"""Secrets: the whsec_ format, encrypted at rest with a key file of mode 600, bound to their webhook, and signing."""

from __future__ import annotations

import base64
import datetime as dt
import stat
from dataclasses import replace

import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook

from webhooks import crypto
from webhooks.crypto import SecretBox, SecretKeyError
from webhooks.settings import WebhookSettings
from webhooks.worker import DeliveryLoop


def test_new_secrets_are_whsec_and_24_to_64_random_bytes():
    text, raw = crypto.new_secret()
    assert text.startswith("whsec_") and 24 <= len(raw) <= 64
    assert crypto.secret_bytes(text) == raw
    assert crypto.new_secret()[0] != text


def test_signature_is_what_standardwebhooks_verifies():
    text, raw = crypto.new_secret()
    stamp = int(dt.datetime.now(dt.UTC).timestamp())
    body = '{"type":"resource.update","timestamp":"x","data":{"名称":"中文"}}'.encode()
    header = crypto.signature([raw], "msg_1_2", stamp, body)
    verified = StandardWebhook(text).verify(
        body, {"webhook-id": "msg_1_2", "webhook-timestamp": str(stamp), "webhook-signature": header}
    )
    assert verified["data"] == {"名称": "中文"}
    assert header == StandardWebhook(text).sign(
        "msg_1_2", dt.datetime.fromtimestamp(stamp, dt.UTC), body.decode()
    )


def test_the_key_file_is_made_once_with_mode_600_and_reused(tmp_path):
    path = tmp_path / "inst" / "webhook_key"
    box = SecretBox(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    sealed = box.seal(b"s" * 32, 7)
    assert SecretBox(path).open(sealed, 7) == b"s" * 32  # a second process reads the same key
    assert b"s" * 8 not in base64.b64decode(sealed.removeprefix("aesgcm1:"))


def test_a_sealed_secret_opens_only_with_its_key_and_for_its_webhook(tmp_path):
    box = SecretBox(tmp_path / "a")
    sealed = box.seal(b"k" * 32, 1)
    with pytest.raises(SecretKeyError, match="webhook 2") as wrong_row:
        box.open(sealed, 2)
    with pytest.raises(SecretKeyError, match="YIMA_WEBHOOK_KEY") as wrong_key:
        SecretBox(tmp_path / "b").open(sealed, 1)
    for raised in (wrong_row, wrong_key):
        assert "kkkk" not in str(raised.value) and sealed not in str(raised.value)


def test_an_unreadable_key_file_is_one_clear_error(tmp_path):
    path = tmp_path / "bad"
    path.write_text("not base64 at all!!")
    with pytest.raises(SecretKeyError, match="cannot be read as a key"):
        SecretBox(path)


def test_a_deliverer_with_another_key_records_why_and_retries_without_sending(
    client, admin, receiver, hook, org, db, config, tmp_path
):
    made = hook()
    org("K1")
    other = WebhookSettings.from_config(replace(config, webhook_key_path=str(tmp_path / "other_key")))
    loop = DeliveryLoop(db, other, threads=1)
    loop.run_once()
    assert receiver.requests == []
    row = client.get(f"/api/v1/webhooks/{made['id']}/deliveries", headers=admin).get_json()["items"][0]
    assert row["status"] == "pending" and "cannot be decrypted" in row["last_error"]
    assert made["secret"] not in row["last_error"]
    loop.stop()
