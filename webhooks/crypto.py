"""Webhook secrets: made (``whsec_`` + base64), kept encrypted at rest (AES-GCM), and used to sign (Standard Webhooks).

The signer needs the secret's bytes, so it cannot be hashed like a token: it is encrypted with a
256-bit key kept in a file of its own (``instance/webhook_key``, mode 600, or ``YIMA_WEBHOOK_KEY``).
Every process that delivers must read the same key file. Neither the key nor a secret is ever
logged or put in an error message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "whsec_"
#: bytes of a new secret (the spec allows 24 to 64)
SECRET_BYTES = 32
_FORMAT = "aesgcm1:"


class SecretKeyError(Exception):
    """The key file is unreadable or is not the key the secret was encrypted with (message names no secret)."""


def new_secret() -> tuple[str, bytes]:
    """A fresh secret: the text shown once to the caller, and its bytes."""
    raw = os.urandom(SECRET_BYTES)
    return PREFIX + base64.b64encode(raw).decode(), raw


def secret_bytes(secret: str) -> bytes:
    """The bytes a ``whsec_`` secret stands for (what the HMAC is keyed with)."""
    try:
        return base64.b64decode(secret.removeprefix(PREFIX), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not a whsec_ secret") from exc


def signature(keys: list[bytes], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: ``v1,<base64 HMAC-SHA256 of id.timestamp.body>`` per key, space-separated."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode() for key in keys
    )


class SecretBox:
    """Encrypts and decrypts secrets with the key in ``path`` (made, mode 600, on first use)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._aead = AESGCM(_load_or_create_key(self.path))

    def seal(self, raw: bytes, webhook_id: int) -> str:
        """The stored form of a secret, bound to its webhook (a ciphertext moved to another row fails)."""
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, raw, _aad(webhook_id))
        return _FORMAT + base64.b64encode(nonce + sealed).decode()

    def open(self, stored: str, webhook_id: int) -> bytes:
        """The secret's bytes. Raises SecretKeyError when this key did not seal it."""
        try:
            blob = base64.b64decode(stored.removeprefix(_FORMAT), validate=True)
            return self._aead.decrypt(blob[:12], blob[12:], _aad(webhook_id))
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise SecretKeyError(
                f"the secret of webhook {webhook_id} cannot be decrypted with the key in {self.path} "
                "(every delivering process needs the same YIMA_WEBHOOK_KEY file)"
            ) from exc


def _aad(webhook_id: int) -> bytes:
    return f"yima-webhook:{webhook_id}".encode()


def _load_or_create_key(path: Path) -> bytes:
    """Read the key file, or create it atomically (two processes starting at once agree on one key)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, base64.b64encode(AESGCM.generate_key(bit_length=256)) + b"\n")
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # fails if another process made it first: theirs wins
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    try:
        key = base64.b64decode(path.read_bytes().strip(), validate=True)
    except (OSError, binascii.Error, ValueError) as exc:
        raise SecretKeyError(f"the webhook key file {path} cannot be read as a key") from exc
    if len(key) not in (16, 24, 32):
        raise SecretKeyError(f"the webhook key file {path} does not hold a 128, 192 or 256-bit key")
    return key
