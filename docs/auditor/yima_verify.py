#!/usr/bin/env python3
"""Check Yima's audit evidence without trusting Yima: Python's standard library plus ``cryptography``.

Nothing here imports Yima; every rule is written out from docs/audit.md (RFC 9162, C2SP
signed notes, the audit entry hash). Each command exits 0 if everything holds, 1 naming the step
that failed (2 for bad usage).

  yima_verify.py checkpoint NOTE --key KEY
  yima_verify.py inclusion --key KEY --checkpoint NOTE --entry ENTRY.json --proof PROOF.json
  yima_verify.py entry EVIDENCE.json --key KEY        (what GET /api/v1/audit/{seq} answers)
  yima_verify.py consistency --key KEY --old NOTE --new NOTE --proof PROOF.json
  yima_verify.py export DIR_OR_ZIP --key KEY [--log URL]
  yima_verify.py log URL --key KEY [--against NOTE] [--entries] [--token T]
  yima_verify.py item ITEM.json --key KEY [--log URL]  (an item's trail: GET /01/… or /api/v1/trace/items/…)

KEY is the verifier key text the bureau published (``name+<8 hex>+<base64>``). ``log`` fetches
the server's current checkpoint and checks its signature; ``--against`` proves it extends a note
you kept; ``--entries`` downloads every entry, re-checks the hash chain and recomputes the root.
"""

import argparse
import base64
import hashlib
import json
import sys
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


class Failed(Exception):
    def __init__(self, step, message):
        super().__init__(f"{step}: {message}")
        self.step = step


def sha256(data):
    return hashlib.sha256(data).digest()


# --- RFC 9162 ---------------------------------------------------------------------------------


def leaf_of(entry_hash_hex):
    return sha256(b"\x00" + bytes.fromhex(entry_hash_hex))


def node(left, right):
    return sha256(b"\x01" + left + right)


def mth(leaves):
    if not leaves:
        return sha256(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node(mth(leaves[:k]), mth(leaves[k:]))


def inclusion_ok(index, size, leaf, path, root):
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def consistency_ok(m, n, first, second, path):
    """RFC 9162 §2.1.4.2 (with the trivial cases m = 0 and m = n)."""
    if not 0 <= m <= n:
        return False
    if m == 0 or m == n:
        return not path and (m == 0 or first == second)
    if not path:
        return False
    path = ([first] if m & (m - 1) == 0 else []) + list(path)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first and sr == second and sn == 0


# --- C2SP signed notes and checkpoints ------------------------------------------------------


def parse_key(text):
    name, key_id, b64 = text.strip().split("+", 2)
    raw = base64.b64decode(b64)
    if raw[:1] != b"\x01" or len(raw) != 33 or sha256(name.encode() + b"\n" + raw)[:4].hex() != key_id:
        raise Failed("key", "not an Ed25519 verifier key whose id matches its name and key")
    return name, bytes.fromhex(key_id), raw[1:]


def check_note(note, key_text, step="signature"):
    """Verify the note's signature by the key; return (origin, size, root bytes)."""
    name, key_id, public = parse_key(key_text)
    body, sep, sigs = note.partition("\n\n")
    lines = body.split("\n")
    if not sep or len(lines) < 3 or not lines[1].isdigit():
        raise Failed("checkpoint", "not a checkpoint note (origin, size, root, blank line, signatures)")
    signed = (body + "\n").encode()
    for line in sigs.split("\n"):
        prefix = "\u2014 " + name + " "
        if line.startswith(prefix):
            raw = base64.b64decode(line[len(prefix) :])
            if raw[:4] == key_id:
                try:
                    Ed25519PublicKey.from_public_bytes(public).verify(raw[4:], signed)
                except InvalidSignature:
                    raise Failed(step, f"the signature by {name} does not verify") from None
                return lines[0], int(lines[1]), base64.b64decode(lines[2])
    raise Failed(step, f"no signature by key {name}+{key_id.hex()} on the note")


def entry_hash_ok(entry):
    """The contract's rule: SHA-256 hex of prev_hash + "\\n" + canonical JSON of the entry without both hashes."""
    body = {k: v for k, v in entry.items() if k not in ("hash", "prev_hash")}
    canon = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((entry["prev_hash"] + "\n" + canon).encode("utf-8")).hexdigest() == entry["hash"]


# --- commands ---------------------------------------------------------------------------------


def cmd_checkpoint(a):
    origin, size, root = check_note(Path(a.note).read_text("utf-8"), a.key)
    return f"checkpoint of {origin}: {size} entries, root {root.hex()}, signature verifies"


def cmd_inclusion(a):
    _, size, root = check_note(Path(a.checkpoint).read_text("utf-8"), a.key)
    entry, proof = json.loads(Path(a.entry).read_text("utf-8")), json.loads(Path(a.proof).read_text("utf-8"))
    if not entry_hash_ok(entry):
        raise Failed("entry", "the entry does not hash to its 'hash'")
    path = [base64.b64decode(p) for p in proof["path"]]
    if proof["tree_size"] != size or not inclusion_ok(
        entry["seq"] - 1, size, leaf_of(entry["hash"]), path, root
    ):
        raise Failed("inclusion", f"the proof does not put entry {entry['seq']} in the checkpoint's tree")
    return f"entry {entry['seq']} is in the signed tree of {size} entries"


def cmd_entry(a):
    """The entry, checkpoint and inclusion proof of GET /api/v1/audit/{seq}, saved in one file."""
    found = json.loads(Path(a.evidence).read_text("utf-8"))
    entry, inc = found["entry"], found["inclusion"]
    if not entry_hash_ok(entry):
        raise Failed("entry", "the entry does not hash to its 'hash'")
    _, size, root = check_note(found["checkpoint"], a.key)
    path = [base64.b64decode(p) for p in inc["path"]]
    if inc["tree_size"] != size or not inclusion_ok(
        entry["seq"] - 1, size, leaf_of(entry["hash"]), path, root
    ):
        raise Failed("inclusion", f"the proof does not put entry {entry['seq']} in the checkpoint's tree")
    return f"entry {entry['seq']} is in the signed tree of {size} entries"


def cmd_consistency(a):
    _, m, old_root = check_note(Path(a.old).read_text("utf-8"), a.key)
    _, n, new_root = check_note(Path(a.new).read_text("utf-8"), a.key)
    proof = [base64.b64decode(p) for p in json.loads(Path(a.proof).read_text("utf-8"))["path"]]
    if not consistency_ok(m, n, old_root, new_root, proof):
        raise Failed("consistency", f"the tree of {n} entries does not extend the one of {m}")
    return f"the tree of {n} entries extends the one of {m}"


def export_files(path):
    """read(name) -> bytes over an export folder, or the zip POST /api/v1/lineage/export answers."""
    path = Path(path)
    if path.is_dir():
        return lambda name: (path / Path(name).name).read_bytes()
    with zipfile.ZipFile(path) as archive:
        files = {i.filename: archive.read(i) for i in archive.infolist() if "/" not in i.filename}
    return lambda name: files[name]


def cmd_export(a):
    read = export_files(a.dir)
    manifest = json.loads(read("manifest.json").decode("utf-8"))
    for name, info in manifest["files"].items():
        data = read(name)
        if hashlib.sha256(data).hexdigest() != info["sha256"] or len(data) != info["bytes"]:
            raise Failed("file hash", f"{name} is not the file the manifest describes")
    entry = manifest["entry"]
    if not entry_hash_ok(entry) or entry["action"] != "export":
        raise Failed("entry", "the manifest's audit entry is edited or records no export")
    after, sums = entry["after"], [i["sha256"] for i in manifest["files"].values()]
    if len(sums) == 1 and after.get("sha256") != sums[0]:
        raise Failed("entry", "the audit entry recorded another file")
    for k, v in manifest.items():
        if k not in ("entry", "checkpoint", "inclusion") and after.get(k, ...) != v:
            raise Failed("entry", f"the manifest's {k!r} differs from what the audit entry recorded")
    body, _, _ = manifest["checkpoint"].partition("\n\n")
    _, size, root = body.split("\n")[0], int(body.split("\n")[1]), base64.b64decode(body.split("\n")[2])
    inc = manifest["inclusion"]
    path = [base64.b64decode(p) for p in inc["path"]]
    if inc["tree_size"] != size or not inclusion_ok(
        entry["seq"] - 1, size, leaf_of(entry["hash"]), path, root
    ):
        raise Failed("inclusion", "the proof does not put the export's entry in the checkpoint's tree")
    check_note(manifest["checkpoint"], a.key)
    done = f"export intact: entry {entry['seq']} in the signed tree of {size}"
    if a.log:
        now_size, now_root = _current(a.log, a.key, a.token)
        proof = _get(a.log, f"/api/v1/audit/consistency?from={size}&to={now_size}", a.token)["path"]
        if not consistency_ok(size, now_size, root, now_root, [base64.b64decode(p) for p in proof]):
            raise Failed(
                "consistency", f"today's log ({now_size}) does not extend the export's checkpoint ({size})"
            )
        done += f"; today's log ({now_size} entries) extends it"
    return done


def _get(base, path, token=None):
    req = urllib.request.Request(
        base.rstrip("/") + path, headers={"Authorization": f"Bearer {token}"} if token else {}
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read().decode("utf-8"))


def _current(base, key, token):
    cp = _get(base, "/api/v1/audit/checkpoint", token)
    _, size, root = check_note(cp["note"], key)
    return size, root


def cmd_log(a):
    size, root = _current(a.url, a.key, a.token)
    done = [f"the server's checkpoint ({size} entries) is signed by the key"]
    if a.against:
        _, m, old_root = check_note(Path(a.against).read_text("utf-8"), a.key)
        proof = _get(a.url, f"/api/v1/audit/consistency?from={m}&to={size}", a.token)["path"]
        if not consistency_ok(m, size, old_root, root, [base64.b64decode(p) for p in proof]):
            raise Failed("consistency", f"the log no longer extends your checkpoint of size {m}")
        done.append(f"it extends your checkpoint of size {m}")
    if a.entries:
        leaves, prev = [], "0" * 64
        while len(leaves) < size:
            items = _get(a.url, f"/api/v1/audit?after_seq={len(leaves)}&per_page=1000", a.token)["items"]
            if not items:
                break
            for e in items:
                if e["seq"] != len(leaves) + 1 or e["prev_hash"] != prev or not entry_hash_ok(e):
                    raise Failed("entries", f"entry {e['seq']} breaks the hash chain")
                prev = e["hash"]
                leaves.append(leaf_of(e["hash"]))
        if mth(leaves[:size]) != root:
            raise Failed("entries", "the entries do not make the checkpoint's root")
        done.append(f"its {size} entries re-hash and make its root")
    return "; ".join(done)


#: the fields of a traceability event that its audit entry's ``after`` records
EVENT_FIELDS = ("type", "at", "organization", "actor", "result", "note")


def item_proofs(item, key_text):
    """Check an item's trail as the traceability API answers it; returns the checkpoint size and the seqs proved.

    The checkpoint note must be signed by the key and name the size and root the JSON states; every event (and
    the registration) must carry a proof putting its entry hash in that tree.
    """
    cp = item["checkpoint"]
    _, size, root = check_note(cp["note"], key_text)
    if size != cp["size"] or base64.b64encode(root).decode() != cp["root"]:
        raise Failed("checkpoint", "the item's checkpoint size or root is not the signed note's")
    proved = []
    for label, entry in [(f"event {e.get('n')} ({e.get('type')})", e) for e in item["events"]] + [
        ("registration", item["registration"])
    ]:
        proof = entry.get("proof")
        if not proof or not entry.get("hash"):
            raise Failed("inclusion", f"{label} has no proof in this checkpoint")
        path = [base64.b64decode(p) for p in proof["path"]]
        if (
            proof["tree_size"] != size
            or proof["leaf_index"] != entry["seq"] - 1
            or not inclusion_ok(entry["seq"] - 1, size, leaf_of(entry["hash"]), path, root)
        ):
            raise Failed(
                "inclusion", f"the proof does not put {label} (entry {entry['seq']}) in the signed tree"
            )
        proved.append(entry["seq"])
    return size, proved


def cmd_item(a):
    item = json.loads(Path(a.item).read_text("utf-8"))
    size, proved = item_proofs(item, a.key)
    done = f"{item['key']}: {len(proved)} entries (events and registration) in the signed tree of {size}"
    if a.log:  # fetch each event's entry: it must hash to the proved hash and record what the page shows
        for event in item["events"]:
            entry = _get(a.log, f"/api/v1/audit/{event['seq']}", a.token)["entry"]
            if not entry_hash_ok(entry) or entry["hash"] != event["hash"]:
                raise Failed(
                    "entry", f"audit entry {event['seq']} is not the one proved for event {event['n']}"
                )
            after = entry["after"] or {}
            if after.get("item") != item["key"] or any(after.get(f) != event.get(f) for f in EVENT_FIELDS):
                raise Failed(
                    "entry", f"audit entry {event['seq']} records another event than event {event['n']}"
                )
        done += "; each event's audit entry records exactly what the item shows"
    return done


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("checkpoint", help="check a checkpoint note's signature")
    c.add_argument("note")
    i = sub.add_parser("inclusion", help="check that an entry is in a checkpoint")
    i.add_argument("--checkpoint", required=True)
    i.add_argument("--entry", required=True)
    i.add_argument("--proof", required=True)
    n = sub.add_parser("entry", help="check an entry and its proof as GET /api/v1/audit/{seq} answers")
    n.add_argument("evidence")
    k = sub.add_parser("consistency", help="check that a newer checkpoint extends an older one")
    k.add_argument("--old", required=True)
    k.add_argument("--new", required=True)
    k.add_argument("--proof", required=True)
    e = sub.add_parser("export", help="check an export folder or zip (manifest.json and its file)")
    e.add_argument("dir")
    e.add_argument("--log", help="server URL: also prove today's log extends the export's checkpoint")
    g = sub.add_parser("log", help="check a server's current checkpoint")
    g.add_argument("url")
    g.add_argument("--against", help="a checkpoint note you kept: prove the log still extends it")
    g.add_argument("--entries", action="store_true", help="download every entry and recompute the root")
    t = sub.add_parser("item", help="check an item's trail (events with proofs and checkpoint, as JSON)")
    t.add_argument("item")
    t.add_argument("--log", help="server URL: also fetch each event's audit entry and compare")
    for q in (c, i, n, k, e, g, t):
        q.add_argument("--key", required=True, help="the verifier key text the bureau published")
        q.add_argument("--token", help="a Bearer token, if the server's reads need one")
    a = p.parse_args(argv)
    try:
        print("ok: " + globals()[f"cmd_{a.cmd}"](a))
        return 0
    except Failed as f:
        print(f"FAIL {f}", file=sys.stderr)
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        print(f"FAIL input: {type(exc).__name__}: {exc}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
