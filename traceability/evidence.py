"""An item's trail with its proofs: every event's audit entry hash and RFC 9162 inclusion proof against one
signed checkpoint, so a printed item page or a phone scan can be checked later with ``docs/auditor/yima_verify.py``.

Everything is read in the caller's session (item, events, entry hashes, tree), so the proofs and the checkpoint
agree; the caller keeps a checkpoint of a new size in the history (``registry.checkpoints.keep``), as every
checkpoint handed out is kept. All proofs come from one query of the stored tree (``merkle_store.range_hashes``).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import checkpoints, merkle, merkle_store
from registry.audit import AuditEntry
from registry.jsonutil import jsonable
from registry.signed_note import Signer, b64, unb64
from traceability import events
from traceability.models import Item


def _proofs(session: Session, seqs: list[int], size: int) -> dict[int, dict]:
    """seq → {"leaf_index", "tree_size", "path"} for entries within the tree of ``size`` leaves (one query)."""
    wanted = sorted({s for s in seqs if 1 <= s <= size})
    ranges, spans = [], []
    for seq in wanted:
        path = merkle.inclusion_ranges(seq - 1, size)
        spans.append((seq, len(ranges), len(path)))
        ranges.extend(path)
    hashes = merkle_store.range_hashes(session, ranges) if ranges else []
    return {
        seq: {"leaf_index": seq - 1, "tree_size": size, "path": [b64(h) for h in hashes[at : at + n]]}
        for seq, at, n in spans
    }


def item_evidence(session: Session, item: Item, signer: Signer) -> tuple[dict, checkpoints.Issued]:
    """(the item as ``GET /api/v1/trace/items/{key}`` shows it, the checkpoint its proofs are against).

    ``events[i]`` carries ``hash`` (its audit entry's) and ``proof`` ({"leaf_index", "tree_size", "path"}, or
    None for an entry not yet in the tree); ``registration`` is the same for the entry that registered the item
    (its own, or its delivery's); ``checkpoint`` is ``{"size", "root", "note", "key"}``.
    """
    found = events.detail(session, item)
    issued = checkpoints.current(session, signer)
    seqs = [e["seq"] for e in found["events"]] + [item.seq]
    rows = session.execute(
        select(AuditEntry.seq, AuditEntry.hash, AuditEntry.entity_type).where(AuditEntry.seq.in_(seqs))
    ).all()
    hashes = {seq: (h, kind) for seq, h, kind in rows}
    proofs = _proofs(session, seqs, issued.size)
    for event in found["events"]:
        event["hash"] = hashes.get(event["seq"], (None, None))[0]
        event["proof"] = proofs.get(event["seq"])
    entry_hash, kind = hashes.get(item.seq, (None, None))
    found["registration"] = {
        "seq": item.seq,
        "entity_type": kind,
        "hash": entry_hash,
        "proof": proofs.get(item.seq),
    }
    found["checkpoint"] = {
        "size": issued.size,
        "root": b64(issued.root),
        "note": issued.note,
        "key": issued.key,
    }
    return jsonable(found), issued


def check_proof(hash_hex: str | None, proof: dict | None, root: bytes) -> bool:
    """Whether ``proof`` puts the entry of ``hash_hex`` under ``root`` (what a page shows as its proof status)."""
    if not hash_hex or not proof:
        return False
    path = [unb64(h, "a proof hash") for h in proof["path"]]
    return merkle.verify_inclusion(
        proof["leaf_index"], proof["tree_size"], merkle.entry_leaf(hash_hex), path, root
    )
