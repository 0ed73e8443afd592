"""C2SP signed notes: the checkpoint text, key id and verifier key exactly as specified; the signing key's file."""

import base64
import hashlib
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry import signed_note
from registry.config import Config
from registry.signed_note import (
    Checkpoint,
    NoteError,
    SigningKeyError,
    VerifierKey,
    has_key,
    signer_for,
)


def _config(tmp_path, **kw):
    return Config(database_url="sqlite://", instance_path=str(tmp_path / "instance"), **kw)


def test_signed_note_checkpoint_text_key_id_and_verifier_key_follow_the_spec(tmp_path):
    signer = signer_for(_config(tmp_path, log_origin="jtj.example.gov.cn/yima"))
    root = hashlib.sha256(b"root").digest()
    note = signer.checkpoint(42, root)
    body, sig_line = note.split("\n\n")
    assert body == f"jtj.example.gov.cn/yima\n42\n{base64.b64encode(root).decode()}"
    assert sig_line.startswith("\u2014 jtj.example.gov.cn/yima ") and sig_line.endswith("\n")
    raw = base64.b64decode(sig_line.split(" ")[2])
    key_id = hashlib.sha256(b"jtj.example.gov.cn/yima\n\x01" + signer.public).digest()[:4]
    assert raw[:4] == key_id and len(raw) == 68
    encoded = base64.b64encode(b"\x01" + signer.public).decode()
    assert signer.key == f"jtj.example.gov.cn/yima+{key_id.hex()}+{encoded}"
    private = serialization.load_pem_private_key(
        (tmp_path / "instance" / "signing_key.pem").read_bytes(), None
    )
    private.public_key().verify(
        raw[4:], (body + "\n").encode()
    )  # the signature covers the body and its newline
    cp = Checkpoint.parse(note)
    assert (cp.origin, cp.size, cp.root) == ("jtj.example.gov.cn/yima", 42, root)
    cp.verify(VerifierKey.parse(signer.key))
    assert signer.fingerprint == hashlib.sha256(b"\x01" + signer.public).hexdigest()


def test_signed_note_refuses_a_changed_note_or_another_key(tmp_path):
    signer = signer_for(_config(tmp_path, log_origin="a.example/log"))
    note = signer.checkpoint(7, b"\x00" * 32)
    other = signer_for(_config(tmp_path / "other", log_origin="a.example/log"))
    with pytest.raises(NoteError, match="no signature by key"):
        Checkpoint.parse(note).verify(VerifierKey.parse(other.key))
    with pytest.raises(NoteError, match="does not verify"):
        Checkpoint.parse(note.replace("\n7\n", "\n8\n")).verify(VerifierKey.parse(signer.key))
    for bad in (
        "",
        "a\n1\nAAAA\n",
        "a\n01\n" + "A" * 43 + "=\n\n\u2014 a AAAAAAAA\n",
        note.replace("\u2014", "-"),
    ):
        with pytest.raises(NoteError):
            Checkpoint.parse(bad)
    for bad in ("a+b", "a+0000000+AQ==", signer.key.replace("+", "-", 1), signer.key[:-4] + "AAAA"):
        with pytest.raises(NoteError):
            VerifierKey.parse(bad)


def test_signed_note_key_is_generated_once_with_mode_600_and_reused(tmp_path):
    config = _config(tmp_path)
    assert not has_key(config)
    first = signer_for(config)
    path = tmp_path / "instance" / "signing_key.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert has_key(config)
    signed_note._signer.cache_clear()  # a new process: the key comes from the file
    again = signer_for(config)
    assert again.key == first.key
    assert "+" not in first.key.split("+", 2)[2]  # so that naive right-splitting tools read it too
    assert (
        first.origin.endswith("/yima")
        and (tmp_path / "instance" / "log_origin").read_text().strip() == first.origin
    )


def test_signed_note_reads_yima_signing_key_as_pem_or_raw_bytes(tmp_path):
    private = Ed25519PrivateKey.generate()
    pem = tmp_path / "k.pem"
    pem.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    raw = tmp_path / "k.raw"
    raw.write_bytes(private.private_bytes_raw())
    public = private.public_key().public_bytes_raw()
    for path in (pem, raw):
        signer = signer_for(_config(tmp_path, signing_key=str(path), log_origin="x.example/y"))
        assert signer.public == public
    assert not (tmp_path / "instance" / "signing_key.pem").exists()


def test_signed_note_bad_key_or_origin_is_one_clear_message_without_the_key(tmp_path):
    bad = tmp_path / "bad.pem"
    secret_text = "not-a-key-but-secret-looking-0123456789"
    bad.write_text(secret_text)
    with pytest.raises(SigningKeyError) as caught:
        signer_for(_config(tmp_path, signing_key=str(bad)))
    assert str(bad) in caught.value.message and secret_text not in caught.value.message
    with pytest.raises(SigningKeyError, match="cannot read"):
        signer_for(_config(tmp_path, signing_key=str(tmp_path / "missing.pem")))
    with pytest.raises(SigningKeyError, match="YIMA_LOG_ORIGIN"):
        signer_for(_config(tmp_path, log_origin="two words"))
    rsa_like = tmp_path / "other.pem"
    rsa_like.write_bytes(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(SigningKeyError, match="not an unencrypted Ed25519 private key"):
        signer_for(_config(tmp_path, signing_key=str(rsa_like)))
    assert secret_text not in repr(signer_for(_config(tmp_path)))


def test_signed_note_a_witness_cosignature_does_not_get_in_the_way(tmp_path):
    log = signer_for(_config(tmp_path / "log", log_origin="log.example/yima"))
    witness = signer_for(_config(tmp_path / "witness", log_origin="witness.example"))
    note = log.checkpoint(9, b"\x01" * 32)
    body, ours = note.split("\n\n")
    theirs = witness.sign(body + "\n").split("\n\n")[1]
    cosigned = f"{body}\n\n{theirs}{ours}"  # the witness's line first, as a witness may add it
    cp = Checkpoint.parse(cosigned)
    assert len(cp.signatures) == 2
    cp.verify(log.verifier_in(cp))
    cp.verify(VerifierKey.parse(witness.key))
    assert log.verifier_in(cp).text() == log.key
