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
from traceability import events, gs1, items
from traceability.errors import not_found
from traceability.models import Delivery, Event, Item, Product


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


def item_evidence(session: Session, key: str, signer: Signer) -> tuple[dict, checkpoints.Issued]:
    """(the item ``key`` as ``GET /api/v1/trace/items/{key}`` shows it, the checkpoint its proofs are against).

    ``events[i]`` carries ``hash`` (its audit entry's) and ``proof`` ({"leaf_index", "tree_size", "path"}, or
    None for an entry not yet in the tree); ``registration`` is the same for the entry that registered the item
    (its own, or its delivery's); ``checkpoint`` is ``{"size", "root", "note", "key"}``. Six queries whatever
    the log's size: the item with its product, delivery and registration entry; its events with their
    entries' hashes; the checkpoint (size, root, the stored note); every proof at once.
    Raises GS1Invalid (not a key), NotFound.
    """
    canonical = gs1.parse_key(key).key
    row = session.execute(
        select(Item, Product, Delivery.reference, AuditEntry.hash, AuditEntry.entity_type)
        .join(Product, Product.id == Item.product_id)
        .outerjoin(Delivery, Delivery.id == Item.delivery_id)
        .outerjoin(AuditEntry, AuditEntry.seq == Item.seq)
        .where(Item.key == canonical)
    ).first()
    if row is None:
        raise not_found("key", "trace.item_unknown", key=canonical)
    item, product, delivery, reg_hash, reg_kind = row
    trail = session.execute(
        select(Event, AuditEntry.hash)
        .outerjoin(AuditEntry, AuditEntry.seq == Event.seq)
        .where(Event.item_id == item.id)
        .order_by(Event.n)
    ).all()
    issued = checkpoints.current(session, signer)
    proofs = _proofs(session, [e.seq for e, _ in trail] + [item.seq], issued.size)
    last = trail[-1][0] if trail else None
    found = items.summary(item, product, (last.type, last.result) if last else None, delivery)
    found["events"] = [{**events.to_dict(e), "hash": h, "proof": proofs.get(e.seq)} for e, h in trail]
    found["registration"] = {
        "seq": item.seq,
        "entity_type": reg_kind,
        "hash": reg_hash,
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
