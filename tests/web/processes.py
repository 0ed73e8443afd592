"""Real processes for the fault, concurrency and backup tests: ``yima serve`` in its own process group (so
``kill -9`` takes its gunicorn master and workers at once), ``yima`` commands, a private PostgreSQL server,
a small HTTP client and the checks every such test ends with."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from registry.db import Database
from registry.tokens import create_token

YIMA = str(Path(sys.executable).with_name("yima"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def yima_env(url: str, instance: Path, **extra) -> dict:
    """The environment of a ``yima`` process on database ``url`` (nothing inherited that points elsewhere)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIMA_")}
    env.update(YIMA_DATABASE_URL=url, YIMA_SECRET_KEY="test-secret", YIMA_INSTANCE_PATH=str(instance))
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_yima(env: dict, *args, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([YIMA, *map(str, args)], env=env, capture_output=True, text=True, timeout=timeout)


def token(url: str, role: str = "admin", name: str | None = None) -> dict:
    """Headers with a fresh Bearer token of ``role`` on the database at ``url``."""
    database = Database(url)
    try:
        with database.writer() as s:
            _, secret = create_token(s, name or f"proc-{role}-{uuid.uuid4().hex[:8]}", role, actor="test")
    finally:
        database.dispose()
    return {"Authorization": f"Bearer {secret}"}


class Served:
    """``yima serve`` on a free port, in a session of its own; its output goes to ``log``."""

    def __init__(self, env: dict, log: Path, *, threads: int = 8):
        self.env, self.log, self.threads = env, log, threads
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> Served:
        out = self.log.open("ab")
        cmd = [YIMA, "serve", "--port", str(self.port), "--threads", str(self.threads)]
        self.proc = subprocess.Popen(
            cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        out.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"yima serve exited with {self.proc.returncode}:\n{self.output()}")
            with contextlib.suppress(OSError):
                if request(self.url, "GET", "/api/v1/health", timeout=5)[0] == 200:
                    return self
            time.sleep(0.2)
        raise AssertionError(f"yima serve did not answer within {timeout} s:\n{self.output()}")

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown code runs (a crash, a power cut of the process)."""
        if self.proc and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def __enter__(self) -> Served:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def request(base: str, method: str, path: str, body=None, headers=None, timeout: float = 30):
    """One HTTP request on a fresh connection: ``(status, headers, parsed JSON or None)``.

    Raises OSError (refused, reset) and http.client errors when the server goes away mid-request."""
    url = base.split("//", 1)[1]
    host, port = url.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        data = None
        hdrs = dict(headers or {})
        if isinstance(body, bytes | str):
            data = body.encode() if isinstance(body, str) else body
        elif body is not None:
            data = json.dumps(body, ensure_ascii=False).encode()
            hdrs.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return resp.status, dict(resp.getheaders()), parsed
    finally:
        conn.close()


def is_error_shape(status: int, body) -> bool:
    """The contract's error shape: ``{"code": status, "status": str, "message": str, ...}``."""
    return (
        isinstance(body, dict)
        and body.get("code") == status
        and isinstance(body.get("status"), str)
        and isinstance(body.get("message"), str)
    )


def run_event(run_id: str | None = None, job: str = "fault_job", n: int = 0) -> dict:
    """An OpenLineage 2-0-2 RunEvent with its own run id (the key a test looks it up by)."""
    return {
        "eventType": "COMPLETE",
        "eventTime": "2026-01-01T00:00:00Z",
        "producer": "https://example.org/yima-tests",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": run_id or str(uuid.uuid4())},
        "job": {"namespace": "faults", "name": job},
        "inputs": [{"namespace": "faults", "name": f"in_{n % 7}"}],
        "outputs": [{"namespace": "faults", "name": f"out_{n % 5}"}],
    }


def audit_verifies(env: dict) -> None:
    """``yima audit verify`` (a process of its own) says the chain and current state are intact."""
    done = run_yima(env, "audit", "verify")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "audit chain intact" in done.stdout


# --- a PostgreSQL server of the test's own ---------------------------------------------------


def postgres_bin() -> Path | None:
    """The folder holding initdb and pg_ctl (Debian's /usr/lib/postgresql/N/bin, else PATH)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    if found:
        return found[0].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


class PrivatePostgres:
    """A PostgreSQL cluster in a temporary folder, on a free port and a socket in that folder, so that
    restarting it disturbs nobody else's tests. As root, its processes run as the ``postgres`` user."""

    def __init__(self):
        self.bin = postgres_bin()
        # not under pytest's tmp_path: its folders are private to root, the postgres user cannot enter
        self.root = Path(tempfile.mkdtemp(prefix="yima-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.user = None
        if os.geteuid() == 0:
            self.user = "postgres"
            pw = pwd.getpwnam(self.user)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)

    def _run(self, *args, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
        done = subprocess.run(
            [str(self.bin / args[0]), *map(str, args[1:])],
            user=self.user,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"{args[0]} failed: {done.stdout}{done.stderr}")
        return done

    def init(self) -> PrivatePostgres:
        self._run("initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", self.data, "-l", self.root / "server.log", "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "stop", check=False)

    def remove(self) -> None:
        """Stop the server (immediately) and delete its folder."""
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
