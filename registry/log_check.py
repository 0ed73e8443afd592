"""Does today's log still extend every checkpoint it issued, and one kept outside? (``yima audit verify``)

The roots are recomputed from the entries (``tree_check``), never read from the stored tree, and
the stored tree is compared with them. A rewrite that re-hashed every later entry and recomputed
the stored tree still changes the root of every checkpoint whose size covers the rewritten entry:
the history then says between which two issued sizes the change lies.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from registry import checkpoints, merkle, merkle_store, tree_check
from registry.signed_note import Checkpoint, NoteError, Signer, VerifierKey, unb64


@dataclass
class Against:
    """What was found about a checkpoint kept outside, for a page to say in its own words."""

    size: int
    #: ``name+keyid`` of the key whose signature verified; None if none did
    signed_by: str | None
    #: ``extends``; or why not: ``unsigned``, ``shorter`` (entries removed), ``changed`` (an entry at or
    #: before its size was rewritten), ``proof`` (the stored tree's consistency proof fails)
    verdict: str

    def to_dict(self) -> dict:
        return {"size": self.size, "signed_by": self.signed_by, "verdict": self.verdict}


@dataclass
class LogCheck:
    """The outcome: ``ok``, a report (``lines``, the first says it all) and where the log changed."""

    ok: bool
    size: int
    lines: list[str] = field(default_factory=list)
    #: (the largest issued size the log still extends, the smallest it does not): the change is in between
    changed_between: tuple[int, int] | None = None
    #: the checkpoint given, if one was
    against: Against | None = None

    def to_dict(self) -> dict:
        between = list(self.changed_between) if self.changed_between else None
        against = self.against.to_dict() if self.against else None
        return {
            "ok": self.ok,
            "size": self.size,
            "report": self.lines,
            "changed_between": between,
            "against": against,
        }


def check_log(session: Session, signer: Signer, note: str | None = None, key: str | None = None) -> LogCheck:
    """Recompute the tree from the entries and check the stored tree, the history and ``note``.

    ``note`` is a checkpoint kept outside (``yima audit checkpoint --out``); its signature is checked
    with ``key`` (verifier key text) or, without one, the instance's key under the note's name.
    Raises NoteError if ``note`` or ``key`` cannot be read at all.
    """
    external = Checkpoint.parse(note) if note is not None else None
    verifier = VerifierKey.parse(key) if key else None
    history = checkpoints.history(session)
    sizes = {row.size for row in history} | ({external.size} if external else set())
    rec = tree_check.recompute(session, sizes)
    result = LogCheck(True, rec.size)
    if not rec.stored_ok:
        result.ok = False
        result.lines.append("the stored Merkle tree does not match the entries:")
        result.lines += [f"  {p}" for p in rec.problems]
    if external is not None:
        _check_external(session, rec, external, verifier or signer.verifier_in(external), result)
    # a note whose signature fails says nothing about the log: it does not join the history's verdicts
    signed = external if result.against and result.against.signed_by else None
    _check_history(rec, history, signed, result)
    if result.ok:
        result.lines.insert(0, f"Merkle tree intact: {rec.size} leaves, root recomputed from the entries")
    return result


def _check_external(session, rec, cp: Checkpoint, verifier: VerifierKey, result: LogCheck) -> None:
    signer = f"{verifier.name}+{verifier.id.hex()}"
    try:
        cp.verify(verifier)
        result.lines.append(f"the checkpoint's signature verifies with {signer}")
    except NoteError as exc:
        result.ok = False
        result.against = Against(cp.size, None, "unsigned")
        result.lines.append(f"the checkpoint is not signed by this log's key: {exc.message}")
        return
    result.against = Against(cp.size, signer, "extends")
    if cp.size > rec.size:
        result.ok, result.against.verdict = False, "shorter"
        result.lines.append(
            f"the log has {rec.size} entries, fewer than the checkpoint's {cp.size}: entries were removed"
        )
        return
    if rec.roots.get(cp.size) != cp.root:
        result.ok, result.against.verdict = False, "changed"
        result.lines.append(
            f"the log NO LONGER EXTENDS the checkpoint of size {cp.size}: an entry with seq ≤ {cp.size} "
            "was changed after it was issued (even if every later hash was recomputed)"
        )
        return
    proof = merkle_store.consistency(session, cp.size, rec.size)
    if merkle.verify_consistency(cp.size, rec.size, cp.root, rec.roots[rec.size], proof):
        result.lines.append(
            f"the log ({rec.size} entries) extends the checkpoint of size {cp.size}; "
            f"the stored tree's consistency proof ({len(proof)} hashes) verifies"
        )
    else:
        result.ok, result.against.verdict = False, "proof"
        result.lines.append(
            f"the stored tree's consistency proof from {cp.size} to {rec.size} does not verify"
        )


def _check_history(rec, history, external: Checkpoint | None, result: LogCheck) -> None:
    """Every issued checkpoint against the recomputed roots; name the two sizes the change lies between."""
    verdicts = {}  # size -> (still extended?, when issued)
    for row in history:
        still = row.size <= rec.size and rec.roots.get(row.size) == unb64(row.root, "root")
        verdicts[row.size] = (still, f"issued {row.issued_at}")
    if external is not None and external.size not in verdicts:
        verdicts[external.size] = (rec.roots.get(external.size) == external.root, "the checkpoint given")
    bad = sorted(s for s, (ok, _) in verdicts.items() if not ok)
    if not bad:
        if history:
            result.lines.append(f"the log extends all {len(history)} checkpoints it issued")
        return
    result.ok = False
    first_bad = bad[0]
    good_below = [s for s, (ok, _) in verdicts.items() if ok and s < first_bad]
    last_good = max(good_below) if good_below else 0
    result.changed_between = (last_good, first_bad)
    when_good = verdicts[last_good][1] if last_good in verdicts else "the empty log"
    result.lines.append(
        f"{len(bad)} of {len(verdicts)} checkpoints are no longer extended. The log changed between size "
        f"{last_good} ({when_good}), still extended, and size {first_bad} ({verdicts[first_bad][1]}), not: "
        f"an entry with seq {last_good + 1}–{first_bad} was altered"
    )
