"""axe-core for the browser tests: the npm package, installed into a cache at test time (never served by
the app). Without npm or the registry the axe tests fail in CI (YIMA_REQUIRE_AXE=1, set by .ci/run)
and skip elsewhere, saying why."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

import pytest

AXE_CACHE = Path.home() / ".cache" / "yima-test-axe"
SCRIPT = AXE_CACHE / "node_modules" / "axe-core" / "axe.min.js"


def _unavailable(reason: str):
    if os.environ.get("YIMA_REQUIRE_AXE"):
        pytest.fail(f"axe-core is required here (YIMA_REQUIRE_AXE): {reason}")
    pytest.skip(reason)


def axe_script() -> str:
    """The text of axe.min.js, installing axe-core@4 once (a file lock: parallel test workers wait)."""
    AXE_CACHE.mkdir(parents=True, exist_ok=True)
    with open(AXE_CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not SCRIPT.exists():
            npm = shutil.which("npm")
            if not npm:
                _unavailable("npm is not installed (apt-get install npm): axe-core cannot be fetched")
            done = subprocess.run(
                [
                    npm,
                    "install",
                    "--no-save",
                    "--no-audit",
                    "--no-fund",
                    "--prefix",
                    str(AXE_CACHE),
                    "axe-core@4",
                ],
                capture_output=True,
                text=True,
                timeout=300,
            )
            if done.returncode != 0 or not SCRIPT.exists():
                _unavailable(f"npm could not install axe-core: {done.stderr[-300:]}")
    return SCRIPT.read_text("utf-8")


@pytest.fixture(scope="module")
def axe_source() -> str:
    return axe_script()
