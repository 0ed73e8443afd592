"""C2SP signed notes and tlog-checkpoints with Ed25519: the log's key, its verifier key text, signing and checking.

A checkpoint note is ``origin\\nsize\\nbase64(root)\\n``, a blank line, then one line per signature:
``— <key name> base64(4-byte key id ‖ 64-byte Ed25519 signature)`` (U+2014). The key name is the
log's origin. Key id = SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]; the verifier key text is
``name+<key id hex>+base64(0x01 ‖ public key)``. The private key is read from ``YIMA_SIGNING_KEY``
or generated once into the instance folder (mode 600); it is never logged nor put in a message.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import os
import re
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from registry.config import Config
from registry.errors import YimaError

DASH = "\u2014"
ALG_ED25519 = b"\x01"
KEY_FILE = "signing_key.pem"
ORIGIN_FILE = "log_origin"
_NAME = re.compile(r"[^\s+]+")


class NoteError(YimaError):
    """A note, checkpoint or verifier key that is malformed or whose signature does not verify."""

    status = 422


class SigningKeyError(YimaError):
    """The configured signing key or origin cannot be used (the message names the file, never the key)."""

    status = 500


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteError(f"{what} is not standard base64") from exc


def key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ALG_ED25519 + public).digest()[:4]


def verifier_key(name: str, public: bytes) -> str:
    return f"{name}+{key_id(name, public).hex()}+{b64(ALG_ED25519 + public)}"


def fingerprint(key_text: str) -> str:
    """SHA-256 (hex) of the key text's last field decoded (0x01 ‖ public key): what a printed report shows."""
    return hashlib.sha256(unb64(key_text.split("+", 2)[-1], "the verifier key")).hexdigest()


@dataclass(frozen=True)
class VerifierKey:
    name: str
    id: bytes
    public: bytes

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        """Parse ``name+hexid+base64(0x01‖key)``; raises NoteError saying what is wrong."""
        parts = text.strip().split("+", 2)  # the name and id hold no '+'; the base64 may
        if len(parts) != 3 or not _NAME.fullmatch(parts[0]) or not re.fullmatch(r"[0-9a-f]{8}", parts[1]):
            raise NoteError("a verifier key is name+<8 hex key id>+<base64 key>")
        raw = unb64(parts[2], "the verifier key")
        if len(raw) != 33 or raw[:1] != ALG_ED25519:
            raise NoteError("the verifier key is not an Ed25519 key (0x01 and 32 bytes)")
        key = cls(parts[0], bytes.fromhex(parts[1]), raw[1:])
        if key_id(key.name, key.public) != key.id:
            raise NoteError("the verifier key's id does not match its name and public key")
        return key

    def text(self) -> str:
        return verifier_key(self.name, self.public)


@dataclass(frozen=True)
class Checkpoint:
    """A parsed checkpoint note: its body's three lines and its signature lines."""

    origin: str
    size: int
    root: bytes
    body: str
    signatures: tuple[tuple[str, bytes, bytes], ...]  # (key name, key id, signature)
    note: str

    @classmethod
    def parse(cls, note: str) -> Checkpoint:
        """Parse a C2SP checkpoint note; raises NoteError naming the line that is wrong."""
        if not note.endswith("\n") or "\n\n" not in note:
            raise NoteError("a signed note is a body, a blank line and signature lines, ending in a newline")
        cut = note.index("\n\n")
        body, sig_text = note[: cut + 1], note[cut + 2 :]
        lines = body.split("\n")[:-1]
        if len(lines) < 3 or not _NAME.fullmatch(lines[0]):
            raise NoteError("a checkpoint's body is origin, size and base64 root, one per line")
        if not re.fullmatch(r"0|[1-9][0-9]{0,18}", lines[1]):
            raise NoteError(f"a checkpoint's second line is its size, not {lines[1][:40]!r}")
        root = unb64(lines[2], "the checkpoint's root")
        if len(root) != 32:
            raise NoteError("the checkpoint's root is not 32 bytes")
        sigs = []
        for line in sig_text.split("\n")[:-1]:
            m = re.fullmatch(DASH + r" ([^\s+]+) ([A-Za-z0-9+/=]+)", line)
            raw = unb64(m.group(2), "a signature") if m else b""
            if not m or len(raw) < 5:
                raise NoteError(f"not a signature line: {line[:60]!r}")
            sigs.append((m.group(1), raw[:4], raw[4:]))
        if not sigs:
            raise NoteError("the note has no signature")
        return cls(lines[0], int(lines[1]), root, body, tuple(sigs), note)

    def verify(self, key: VerifierKey) -> None:
        """Raise NoteError unless a signature line by ``key`` verifies over the body."""
        mine = [sig for name, kid, sig in self.signatures if name == key.name and kid == key.id]
        if not mine:
            raise NoteError(f"the note carries no signature by key {key.name}+{key.id.hex()}")
        try:
            Ed25519PublicKey.from_public_bytes(key.public).verify(mine[0], self.body.encode())
        except InvalidSignature as exc:
            raise NoteError(f"the signature by {key.name}+{key.id.hex()} does not verify") from exc


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    return f"{origin}\n{size}\n{b64(root)}\n"


class Signer:
    """The log's Ed25519 key under its name (the origin): signs checkpoint notes."""

    def __init__(self, private: Ed25519PrivateKey, origin: str):
        self._private = private
        self.origin = origin
        self.public = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.key = verifier_key(origin, self.public)
        self.fingerprint = fingerprint(self.key)

    def __repr__(self) -> str:  # never the private key, even in a traceback
        return f"Signer({self.key})"

    def sign(self, body: str) -> str:
        """The signed note of ``body`` (which ends in a newline)."""
        sig = self._private.sign(body.encode())
        return f"{body}\n{DASH} {self.origin} {b64(key_id(self.origin, self.public) + sig)}\n"

    def checkpoint(self, size: int, root: bytes) -> str:
        return self.sign(checkpoint_body(self.origin, size, root))

    def verifier_for(self, name: str) -> VerifierKey:
        """This key under another name (a checkpoint issued before the origin was changed)."""
        return VerifierKey(name, key_id(name, self.public), self.public)

    def verifier_in(self, cp: Checkpoint) -> VerifierKey:
        """This key under the name one of ``cp``'s signature lines claims for it (other lines may be
        a witness's); under the current origin if none does."""
        for name, kid, _sig in cp.signatures:
            if kid == key_id(name, self.public):
                return self.verifier_for(name)
        return self.verifier_for(self.origin)


def signer_for(config: Config) -> Signer:
    """The signer for ``config``: loaded (or generated on first use) once per process.

    Raises SigningKeyError if ``YIMA_SIGNING_KEY`` names a file that is not an Ed25519 private key,
    or ``YIMA_LOG_ORIGIN`` is not a valid key name.
    """
    return _signer(config.signing_key, str(Path(config.instance_path).resolve()), config.log_origin)


def has_key(config: Config) -> bool:
    """Is there a signing key already (configured, or generated into the instance folder before)?"""
    return bool(config.signing_key) or (Path(config.instance_path) / KEY_FILE).exists()


@functools.lru_cache(maxsize=16)
def _signer(key_path: str | None, instance: str, origin: str | None) -> Signer:
    folder = Path(instance)
    private = _load_key(Path(key_path)) if key_path else _instance_key(folder)
    return Signer(private, _origin(origin, folder))


def _load_key(path: Path) -> Ed25519PrivateKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"YIMA_SIGNING_KEY: cannot read {path} ({exc.strerror})") from None
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_private_key(data, password=None)
        elif len(data) == 32:
            key = Ed25519PrivateKey.from_private_bytes(data)
        else:
            key = None
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(
            f"YIMA_SIGNING_KEY: {path} is not an unencrypted Ed25519 private key (PEM, or 32 raw bytes)"
        )
    return key


def _instance_key(folder: Path) -> Ed25519PrivateKey:
    path = folder / KEY_FILE
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        # a key whose base64 holds no '+' (half of them; two tries on average): the verifier key text then
        # has exactly two '+', and tools that split it naively from the right still read it right
        while "+" in b64(ALG_ED25519 + key.public_key().public_bytes_raw()):
            key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        _write_once(path, pem)
    return _load_key(path)


def _write_once(path: Path, data: bytes) -> None:
    """Create ``path`` (mode 600) with ``data`` unless another process just did: the first one wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    try:
        os.link(tmp, path)  # atomic, and never replaces a key another worker wrote first
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def default_origin() -> str:
    """``<host name>/yima``: this server's name, lower case, as a C2SP origin (no spaces, no '+')."""
    host = re.sub(r"[^a-z0-9.-]+", "-", (socket.getfqdn() or "").lower()).strip("-.") or "localhost"
    return f"{host}/yima"


def _origin(configured: str | None, folder: Path) -> str:
    if configured:
        origin = configured.strip()
        if not _NAME.fullmatch(origin):
            raise SigningKeyError("YIMA_LOG_ORIGIN must be one word: no spaces and no '+'")
        return origin
    # kept in the instance folder so the origin (part of the key's id) survives a host name change
    path = folder / ORIGIN_FILE
    if not path.exists():
        _write_once(path, (default_origin() + "\n").encode())
    return path.read_text().strip()
