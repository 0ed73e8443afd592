"""Evidence an auditor can check without trusting Yima: proofs for the API, export bundles, and the checks.

* ``inclusion_proof`` / ``consistency_proof``: RFC 9162 proofs from the stored tree, as the API
  answers them (contract, "Verifiable audit log"); ``entry_evidence``: one entry with its proof.
* ``export_after`` / ``bundle``: what an audited export records and what its ``manifest.json``
  carries (the entry, a checkpoint covering it, its inclusion proof); ``verify_export`` checks such a
  folder, or the zip the API answers, step by step (file hash → entry → inclusion → signature, then
  optionally consistency with today's log), naming the step that fails.
* ``extends``: today's log, recomputed from its entries, against a tree size and root (the checks
  of the whole log against the checkpoint history are ``registry.log_check``).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from registry import checkpoints, merkle, merkle_store, tree_check
from registry.audit import AuditEntry, entry_hash
from registry.db import Database
from registry.errors import Invalid, NotFound
from registry.signed_note import Checkpoint, NoteError, Signer, VerifierKey, b64, unb64

#: the manifest's proof material: everything else in it is recorded in the export's audit entry
PROOF_FIELDS = ("entry", "checkpoint", "inclusion")
EXPORT_ACTION = "export"
ENTRY_FIELDS = ("seq", "at", "actor", "action", "entity_type", "entity_key", "before", "after")


# --- proofs, as the API answers them ---------------------------------------------------------


def inclusion_proof(session: Session, seq: int, size: int | None = None) -> dict:
    """The inclusion proof of entry ``seq`` in the tree of ``size`` leaves (default: the current size).

    Raises Invalid for a seq below 1, a size beyond the log or a seq beyond the size; NotFound for
    an entry the log does not have yet.
    """
    current = merkle_store.size(session)
    tree_size = current if size is None else size
    if seq < 1:
        raise Invalid("entries are numbered from 1", {"seq": [f"must be at least 1, not {seq}"]})
    if tree_size > current:
        raise Invalid(
            f"there is no tree of size {tree_size} yet: the log has {current} entries",
            {"size": [f"must be at most {current}"]},
        )
    if seq > tree_size:
        if size is None:
            raise NotFound(f"there is no audit entry {seq}: the log has {current} entries")
        raise Invalid(
            f"entry {seq} is not in a tree of {tree_size}", {"seq": [f"must be at most {tree_size}"]}
        )
    index = seq - 1
    leaf, *path = merkle_store.range_hashes(
        session, [(index, seq), *merkle.inclusion_ranges(index, tree_size)]
    )
    return {
        "seq": seq,
        "leaf_index": index,
        "tree_size": tree_size,
        "leaf_hash": leaf.hex(),
        "path": [b64(h) for h in path],
    }


def consistency_proof(session: Session, first: int, second: int | None = None) -> dict:
    """The consistency proof from the tree of ``first`` leaves to the one of ``second`` (default: current).

    ``first`` may be 0 (every log extends the empty one) or equal ``second``: the path is then empty.
    Raises Invalid for a negative size, a size beyond the log or ``first`` > ``second``.
    """
    current = merkle_store.size(session)
    to = current if second is None else second
    if first < 0:
        raise Invalid("tree sizes are not negative", {"from": [f"must be at least 0, not {first}"]})
    if to > current:
        raise Invalid(
            f"there is no tree of size {to} yet: the log has {current} entries",
            {"to": [f"must be at most {current}"]},
        )
    if first > to:
        raise Invalid(
            "a consistency proof goes from a smaller tree to a larger one",
            {"from": [f"must be at most {to}"]},
        )
    return {"from": first, "to": to, "path": [b64(h) for h in merkle_store.consistency(session, first, to)]}


def entry_evidence(database: Database, seq: int, signer: Signer) -> dict:
    """Audit entry ``seq`` with the proof that it is in the signed log, shaped like an export manifest's
    proof material: ``{"entry", "checkpoint" (the current signed note), "inclusion": {"leaf_index",
    "tree_size", "leaf_hash", "path"}}``.

    Entry, checkpoint and proof are read in one session, so they agree; the checkpoint joins the
    history if its size is new. Raises NotFound for an entry the log (or, briefly, its tree) lacks.
    """
    with database.session() as s:
        entry = s.get(AuditEntry, seq) if seq >= 1 else None
        if entry is None:
            raise NotFound(f"there is no audit entry {seq}")
        issued = checkpoints.current(s, signer)
        if issued.size < seq:
            raise NotFound(f"audit entry {seq} is not in the Merkle tree yet: try again in a moment")
        proof = inclusion_proof(s, seq, issued.size)
        data = entry.to_dict()
    checkpoints.keep(database, issued)
    return {
        "entry": data,
        "checkpoint": issued.note,
        "inclusion": {k: proof[k] for k in ("leaf_index", "tree_size", "leaf_hash", "path")},
    }


# --- exports ---------------------------------------------------------------------------------


def export_after(manifest: dict) -> dict:
    """The ``after`` of an export's audit entry: every manifest field but the proof material, and the file's sha256.

    Recording all of them is what lets ``verify_export`` catch an edited manifest (a node count,
    ``as_of``, a file's hash), not only an edited file.
    """
    after = {k: v for k, v in manifest.items() if k not in PROOF_FIELDS}
    files = manifest.get("files") or {}
    if len(files) == 1:
        after["sha256"] = next(iter(files.values()))["sha256"]
    return after


def bundle(session: Session, entry: AuditEntry | dict, signer: Signer) -> dict:
    """The proof material an export's manifest carries: ``{"entry", "checkpoint", "inclusion"}``.

    Call it after the entry's transaction has committed (a checkpoint is never signed over a tree
    that could still roll back), in a writer session: a checkpoint of a new size is added to the
    history, and the caller commits. The checkpoint is the current one, so its size includes the entry.
    """
    data = entry.to_dict() if isinstance(entry, AuditEntry) else dict(entry)
    issued = checkpoints.current(session, signer)
    if issued.size < data["seq"]:
        raise RuntimeError(f"entry {data['seq']} is not in the tree yet: commit it before bundling")
    checkpoints.remember(session, issued)
    proof = inclusion_proof(session, data["seq"], issued.size)
    return {
        "entry": data,
        "checkpoint": issued.note,
        "inclusion": {k: proof[k] for k in ("leaf_index", "tree_size", "path")},
    }


@dataclass
class ExportCheck:
    """The outcome of ``verify_export``: the step that failed (None if none) and why, and the steps passed."""

    ok: bool
    failed_step: str | None
    message: str
    passed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "failed_step": self.failed_step,
            "message": self.message,
            "passed": self.passed,
        }


class _Failed(Exception):
    def __init__(self, step: str, message: str):
        super().__init__(message)
        self.step, self.message = step, message


def verify_export(
    directory: str | Path, key: str | VerifierKey | Signer, *, log: Session | None = None
) -> ExportCheck:
    """Check an export folder, or the zip ``POST /api/v1/lineage/export`` answers: file hash → entry →
    inclusion → signature (→ consistency, with ``log``).

    ``key`` is the verifier key text (or a parsed one), or the instance's Signer. With ``log`` (a
    session on today's database), also prove that today's log, recomputed from its entries, still
    extends the export's checkpoint. Never raises for a bad export: the result names the step.
    """
    passed = []
    try:
        read, label = _reader(Path(directory))
        manifest = _manifest(read, label)
        sums = _check_files(read, label, manifest)
        passed.append("file hash: " + ", ".join(f"{n} {s[:12]}…" for n, s in sums.items()))
        entry = _check_entry(manifest, sums)
        passed.append(f"entry: audit entry {entry['seq']} ({entry['action']}) hashes as the contract says")
        cp = _check_inclusion(manifest, entry)
        passed.append(
            f"inclusion: entry {entry['seq']} is leaf {entry['seq'] - 1} of the checkpoint's {cp.size}"
        )
        verifier = _check_signature(cp, key)
        passed.append(f"signature: the checkpoint is signed by {verifier.name}+{verifier.id.hex()}")
        if log is not None:
            passed.append("consistency: " + _check_consistency(log, cp))
    except _Failed as failed:
        return ExportCheck(False, failed.step, failed.message, passed)
    return ExportCheck(True, None, "the export is intact and its audit entry is in the signed log", passed)


#: the most a zipped export may unpack to (its members are read into memory)
MAX_ZIP_BYTES = 1 << 30


def _reader(path: Path):
    """``(read(name) -> bytes | None, label)`` over an export folder or a zipped one (plain names only)."""
    if path.is_dir():
        return (lambda name: (path / name).read_bytes() if (path / name).is_file() else None), str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = [i for i in archive.infolist() if Path(i.filename).name == i.filename]
            if sum(i.file_size for i in members) > MAX_ZIP_BYTES:
                raise _Failed("manifest", f"{path.name} unpacks to more than {MAX_ZIP_BYTES} bytes")
            contents = {i.filename: archive.read(i) for i in members}
    except (OSError, zipfile.BadZipFile) as exc:
        raise _Failed("manifest", f"{path} is neither an export folder nor a readable zip ({exc})") from None
    return contents.get, path.name


def _manifest(read, label: str) -> dict:
    try:
        manifest = json.loads((read("manifest.json") or b"").decode("utf-8"))
    except ValueError as exc:
        raise _Failed("manifest", f"{label}/manifest.json is missing or not JSON ({exc})") from None
    missing = (
        [k for k in ("files", *PROOF_FIELDS) if k not in manifest] if isinstance(manifest, dict) else ["all"]
    )
    if missing:
        raise _Failed(
            "manifest", f"manifest.json lacks {', '.join(missing)} (an export made before signed exports?)"
        )
    return manifest


def _check_files(read, label: str, manifest: dict) -> dict[str, str]:
    files = manifest["files"]
    if not isinstance(files, dict) or not files:
        raise _Failed("file hash", "the manifest lists no files")
    sums = {}
    for name, info in sorted(files.items()):
        data = read(name) if Path(name).name == name else None
        if data is None:
            raise _Failed("file hash", f"{name} is not in {label}")
        sums[name] = hashlib.sha256(data).hexdigest()
        if not isinstance(info, dict) or sums[name] != info.get("sha256") or len(data) != info.get("bytes"):
            raise _Failed("file hash", f"{name} does not match the manifest: its sha256 is {sums[name]}")
    return sums


def _check_entry(manifest: dict, sums: dict[str, str]) -> dict:
    entry = manifest["entry"]
    if not isinstance(entry, dict) or any(k not in entry for k in (*ENTRY_FIELDS, "prev_hash", "hash")):
        raise _Failed("entry", "the manifest's entry is not an audit entry as GET /api/v1/audit shows it")
    body = {k: entry[k] for k in ENTRY_FIELDS}
    if entry_hash(str(entry["prev_hash"]), body) != entry["hash"]:
        raise _Failed("entry", f"audit entry {entry['seq']} does not hash to its 'hash' (it was edited)")
    after = entry["after"]
    if entry["action"] != EXPORT_ACTION or not isinstance(after, dict):
        raise _Failed("entry", f"audit entry {entry['seq']} records no export (action {entry['action']!r})")
    if len(sums) == 1 and after.get("sha256") != next(iter(sums.values())):
        raise _Failed(
            "entry", f"audit entry {entry['seq']} recorded another file (sha256 {after.get('sha256')})"
        )
    for name, value in manifest.items():
        if name not in PROOF_FIELDS and after.get(name, ...) != value:
            recorded = "not recorded" if name not in after else f"recorded as {json.dumps(after[name])[:80]}"
            raise _Failed(
                "entry",
                f"the manifest's {name!r} is {json.dumps(value)[:80]} but the audit entry has it {recorded}",
            )
    return entry


def _check_inclusion(manifest: dict, entry: dict) -> Checkpoint:
    try:
        cp = Checkpoint.parse(manifest["checkpoint"]) if isinstance(manifest["checkpoint"], str) else None
    except NoteError as exc:
        raise _Failed("inclusion", f"the manifest's checkpoint cannot be read: {exc.message}") from None
    inc = manifest["inclusion"]
    if cp is None or not isinstance(inc, dict) or not isinstance(inc.get("path"), list):
        raise _Failed("inclusion", "the manifest's checkpoint or inclusion proof is missing its parts")
    if inc.get("leaf_index") != entry["seq"] - 1 or inc.get("tree_size") != cp.size:
        raise _Failed(
            "inclusion",
            f"the proof is for leaf {inc.get('leaf_index')} of {inc.get('tree_size')}, "
            f"not entry {entry['seq']} in the checkpoint's {cp.size}",
        )
    try:
        path = [unb64(h, "a proof hash") for h in inc["path"]]
    except (NoteError, TypeError):
        raise _Failed("inclusion", "the inclusion proof's hashes are not base64") from None
    leaf = merkle.entry_leaf(entry["hash"])
    if not merkle.verify_inclusion(entry["seq"] - 1, cp.size, leaf, path, cp.root):
        raise _Failed(
            "inclusion", f"the proof does not lead from entry {entry['seq']} to the checkpoint's root"
        )
    return cp


def _check_signature(cp: Checkpoint, key: str | VerifierKey | Signer) -> VerifierKey:
    if isinstance(key, Signer):
        verifier = key.verifier_in(cp)
    else:
        verifier = key if isinstance(key, VerifierKey) else VerifierKey.parse(key)
    try:
        cp.verify(verifier)
    except NoteError as exc:
        raise _Failed("signature", exc.message) from None
    return verifier


def _check_consistency(session: Session, cp: Checkpoint) -> str:
    ok, message = extends(session, cp.size, cp.root)
    if not ok:
        raise _Failed("consistency", message)
    return message


def extends(session: Session, size: int, root: bytes) -> tuple[bool, str]:
    """Does today's log, recomputed from its entries, extend the tree of ``size`` with ``root``?

    Checks the stored tree against the entries and the consistency proof it serves; returns
    ``(ok, what was found)``.
    """
    rec = tree_check.recompute(session, [size])
    if rec.size < size:
        return False, f"today's log has {rec.size} entries, fewer than the checkpoint's {size}"
    if not rec.stored_ok:
        return False, "the stored tree does not match the entries: " + rec.problems[0]
    proof = merkle_store.consistency(session, size, rec.size)
    if not merkle.verify_consistency(size, rec.size, root, rec.roots[rec.size], proof):
        return False, (
            f"today's log ({rec.size} entries) does not extend the checkpoint of size {size}: an entry at or "
            f"before seq {size} was changed after it was issued"
        )
    return (
        True,
        f"today's log ({rec.size} entries, recomputed from the entries) extends the checkpoint of size {size}",
    )
