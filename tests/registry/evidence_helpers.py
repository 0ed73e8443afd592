"""What the evidence tests do to exports and to the log: each way of tampering with an export folder, and the
malicious operator's rewrite of the log (an entry edited, every later hash and the stored tree recomputed)."""

from __future__ import annotations

import base64
import hashlib

from sqlalchemy import select, text

from registry import audit, evidence, merkle_store


def _flip_b64(text_b64):
    raw = bytearray(base64.b64decode(text_b64))
    raw[-1] ^= 1
    return base64.b64encode(bytes(raw)).decode()


def _tamper_file(folder, m):
    (folder / "lineage.json").write_bytes(b'{"nodes": [], "edges": []}\n')


def _tamper_file_and_manifest(folder, m):
    body = b'{"nodes": [], "edges": []}\n'
    (folder / "lineage.json").write_bytes(body)
    m["files"]["lineage.json"] = {"sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body)}


def _tamper_manifest(folder, m):
    m["nodes"] = 250


def _tamper_entry(folder, m):
    m["entry"]["actor"] = "someone else"


def _tamper_entry_rehashed(folder, m):  # content and hash changed together: the leaf is not in the tree
    m["entry"]["actor"] = "someone else"
    m["entry"]["hash"] = audit.entry_hash(
        m["entry"]["prev_hash"], {k: m["entry"][k] for k in evidence.ENTRY_FIELDS}
    )


def _tamper_proof(folder, m):
    m["inclusion"]["path"][0] = _flip_b64(m["inclusion"]["path"][0])


def _tamper_signature(folder, m):
    body, sig = m["checkpoint"].split("\n\n")
    dash, name, value = sig.rstrip("\n").split(" ")
    m["checkpoint"] = f"{body}\n\n{dash} {name} {_flip_b64(value)}\n"


def _tamper_root(folder, m):  # a checkpoint re-written to fit a forged proof: the signature no longer holds
    lines = m["checkpoint"].split("\n")
    lines[2] = _flip_b64(lines[2])
    m["checkpoint"] = "\n".join(lines)


TAMPERING = {
    "file": (_tamper_file, "file hash"),
    "file and manifest": (_tamper_file_and_manifest, "entry"),
    "manifest": (_tamper_manifest, "entry"),
    "entry": (_tamper_entry, "entry"),
    "entry re-hashed": (_tamper_entry_rehashed, "inclusion"),
    "proof": (_tamper_proof, "inclusion"),
    "checkpoint root": (_tamper_root, "inclusion"),
    "signature": (_tamper_signature, "signature"),
}


def rewrite(db, seq, *, actor, tree=True):
    """What an operator with database access does: edit entry ``seq``, re-hash every later entry so the chain
    verifies, and (``tree``) rebuild the stored Merkle tree from the new hashes."""
    with db.writer() as s:
        rows = [e.to_dict() for e in s.scalars(select(audit.AuditEntry).order_by(audit.AuditEntry.seq))]
        prev = rows[seq - 2]["hash"] if seq > 1 else audit.GENESIS
        for e in rows[seq - 1 :]:
            if e["seq"] == seq:
                e["actor"] = actor
            body = {k: e[k] for k in evidence.ENTRY_FIELDS}
            e["prev_hash"], e["hash"] = prev, audit.entry_hash(prev, body)
            s.execute(
                text("UPDATE audit_entry SET actor = :a, prev_hash = :p, hash = :h WHERE seq = :s"),
                {
                    "a": e["actor"],
                    "p": e["prev_hash"],
                    "h": "x" * 52 + str(e["seq"]).zfill(12),
                    "s": e["seq"],
                },
            )
            prev = e["hash"]
        for e in rows[seq - 1 :]:  # the unique index on hash: placeholders first, then the real values
            s.execute(
                text("UPDATE audit_entry SET hash = :h WHERE seq = :s"), {"h": e["hash"], "s": e["seq"]}
            )
        if tree:
            s.execute(text("DELETE FROM audit_tree"))
            merkle_store.append(s, [(e["seq"], e["hash"]) for e in rows])
        s.commit()
