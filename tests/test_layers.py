"""The import-linter contracts in pyproject.toml: they see every package and they reject an upward import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_root_packages_name_every_top_level_package():
    # a package missing from root_packages is not analysed at all: its upward imports would pass
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert set(CONFIG["root_packages"]) == packages


def _lint(tmp_path: Path, files: dict[str, str]) -> subprocess.CompletedProcess:
    """Run lint-imports with this project's contracts over stand-in packages made of ``files``."""
    for package in CONFIG["root_packages"]:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=tmp_path, env=env, capture_output=True, text=True
    )


@pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is in the test extra")
def test_the_contracts_pass_imports_that_run_downward(tmp_path):
    found = _lint(
        tmp_path, {"web/a.py": "import catalog\nimport registry\n", "catalog/b.py": "import standards\n"}
    )
    assert found.returncode == 0, found.stdout


@pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is in the test extra")
def test_the_contracts_reject_an_upward_import_and_a_cycle(tmp_path):
    found = _lint(
        tmp_path,
        {
            "standards/low.py": "import catalog\n",  # standards is below catalog
            "registry/a.py": "from registry import b\n",
            "registry/b.py": "from registry import a\n",
            "migrations/m.py": "import web\n",  # web runs the migrations: this would be a cycle
        },
    )
    assert found.returncode == 1
    assert "standards.low -> catalog" in found.stdout
    assert "No cycles are allowed in registry" in found.stdout
    assert "migrations.m -> web" in found.stdout
