"""Code registry: importing Uniclass 2015, and validating 100,000 codes over HTTP against a bare-Python floor."""

from __future__ import annotations

import http.client
import os
import random
import socket
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import orjson

import migrations
from benchmarks.common import UNICLASS_DIR, Figure, best_of
from registry.db import Database
from standards import releases
from standards.codes import deprecate_code
from standards.importer.writer import import_files
from standards.validation import get_validator

N = 100_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _full_width(code: str) -> str:
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in code)


def make_batch(codes: list[str], deprecated: list[str], seed: int = 7) -> list[str]:
    """60% valid, 10% full-width, 5% other case and separators, 10% unknown, 10% malformed, 5% deprecated."""
    rnd = random.Random(seed)
    batch = []
    for i in range(N):
        kind = i % 20
        code = rnd.choice(codes)
        if kind < 12:
            batch.append(code)
        elif kind < 14:
            batch.append(_full_width(code))
        elif kind < 15:
            batch.append(" " + code.lower().replace("_", "-") + " ")
        elif kind < 17:
            batch.append(code.split("_")[0] + f"_{rnd.randint(0, 99):02d}_{rnd.randint(0, 99):02d}_99_99")
        elif kind < 19:
            batch.append(rnd.choice(["Pr_2", "Xx_20_10", "Pr_20_93_52_11_10", "", "Pr__20", "20_93"]))
        else:
            batch.append(rnd.choice(deprecated))
    return batch


def floor(body: bytes, names: dict[str, str]) -> bytes:
    """The bare-Python floor: parse, normalise, look up, build the same result shape, dump. No framework."""
    request = orjson.loads(body)
    results = []
    nfkc = unicodedata.normalize
    for i, raw in enumerate(request["codes"]):
        code = (raw if raw.isascii() else nfkc("NFKC", raw)).strip()
        name = names.get(code)
        ok = name is not None
        results.append(
            {
                "index": i,
                "input": raw,
                "code": code,
                "valid": ok,
                "status": "active" if ok else "unknown",
                "name": name,
                "successor": None,
                "errors": [] if ok else [{"type": "unknown", "message": f"{code} is not in the release"}],
            }
        )
    valid = sum(1 for r in results if r["valid"])
    return orjson.dumps(
        {
            "scheme": request["scheme"],
            "release": None,
            "total": len(results),
            "valid": valid,
            "invalid": len(results) - valid,
            "results": results,
        }
    )


def _serve(url: str, workdir: Path) -> tuple[subprocess.Popen, int]:
    """Start ``yima serve`` on a free port; retry on another port if someone else took it meanwhile."""
    env = {
        **os.environ,
        "YIMA_DATABASE_URL": url,
        "YIMA_SECRET_KEY": "bench",
        "YIMA_INSTANCE_PATH": str(workdir),
    }
    exe = Path(sys.executable).with_name("yima")
    for _attempt in range(3):
        port = _free_port()
        proc = subprocess.Popen(
            [str(exe), "serve", "--port", str(port), "--threads", "4"],
            env=env,
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 30
        while time.time() < deadline and proc.poll() is None:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/api/v1/schemes/uniclass2015")
                response = conn.getresponse()
                body = response.read()
                conn.close()
                # ours only if it knows the release just imported (another process may hold the port)
                if response.status == 200 and b"2022-01" in body and proc.poll() is None:
                    return proc, port
            except OSError:
                pass
            time.sleep(0.1)
        proc.terminate()
        proc.wait(10)
    raise RuntimeError("yima serve did not start")


def _load_and_floor(db: Database):
    """Import and publish Uniclass, deprecate a few codes, build the batch and time the bare-Python floor."""
    paths = sorted(UNICLASS_DIR.glob("Uniclass2015_*.csv"))
    t = time.perf_counter()
    with db.writer() as s:
        report = import_files(s, "uniclass2015", "2022-01", paths, actor="bench")
    import_s = time.perf_counter() - t
    with db.writer() as s:
        releases.publish_release(s, "uniclass2015", "2022-01", actor="bench")
    deprecated = ["Pr_20_96_71_13", "Pr_20_31_12_60", "Ss_25_10_30_35"]
    for code in deprecated:
        with db.writer() as s:
            deprecate_code(s, "uniclass2015", code, actor="bench")
    with db.session() as s:
        validator = get_validator(s, "uniclass2015")
        names = {c: e.name for c, e in validator.index.entries.items()}
    codes = [c for c, e in validator.index.entries.items() if e.status == "active"]
    body = orjson.dumps({"scheme": "uniclass2015", "codes": make_batch(codes, deprecated)})
    return report, import_s, body, best_of(lambda: floor(body, names), 5)


def _round_trip(url: str, workdir: Path, body: bytes) -> tuple[int, bytes, float]:
    """The batch POSTed to a real `yima serve` on one keep-alive connection: status, body, best time (s)."""
    proc, port = _serve(url, workdir)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Content-Type": "application/json"}
        answer = {}

        def round_trip():
            conn.request("POST", "/api/v1/validate/codes", body=body, headers=headers)
            response = conn.getresponse()
            answer["status"], answer["body"] = response.status, response.read()

        round_trip()  # warm the validation cache
        http_s = best_of(round_trip, 5)
        conn.close()
    finally:
        proc.terminate()
        proc.wait(10)
    return answer["status"], answer["body"], http_s


def run(workdir: Path) -> list[Figure]:
    if not UNICLASS_DIR.is_dir():
        print(f"   Uniclass data not found at {UNICLASS_DIR}; skipped")
        return []
    url = f"sqlite:///{workdir / 'standards.db'}"
    migrations.upgrade(url)
    db = Database(url)
    try:
        report, import_s, body, floor_s = _load_and_floor(db)
    finally:
        db.dispose()
    status, raw, http_s = _round_trip(url, workdir, body)
    result = orjson.loads(raw)
    if status != 200:
        raise RuntimeError(f"the server answered {status}: {raw[:500]!r}")
    statuses = {}
    for r in result["results"]:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    print(
        f"   batch verdicts: {statuses}; response {len(raw) / 1e6:.1f} MB, request {len(body) / 1e6:.1f} MB"
    )
    answer = {"status": status}
    return [
        Figure(
            f"import {report.rows:,} Uniclass rows (12 tables + roots)", import_s, "s", "< 5 s", import_s < 5
        ),
        Figure(f"bare-Python floor, {N:,} codes (parse, normalise, lookup, dump)", floor_s * 1000, "ms"),
        Figure(
            f"POST /api/v1/validate/codes, {N:,} codes, HTTP round trip",
            http_s * 1000,
            "ms",
            "< 500 ms",
            http_s < 0.5 and answer["status"] == 200 and result["total"] == N,
        ),
        Figure("ratio HTTP round trip / floor", http_s / floor_s, "x", "≤ 3x", http_s / floor_s <= 3),
    ]
