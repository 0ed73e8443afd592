"""The wheel as a user installs it: built without warnings, compiled catalogs inside, English pages from a read-only install."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> tuple[Path, str]:
    """The wheel built from the tracked files only, as from a fresh clone (no .mo left by earlier runs)."""
    source = tmp_path_factory.mktemp("source")
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    assert not list(source.rglob("*.mo"))
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return next(out.glob("yima-*.whl")), done.stdout + done.stderr


@pytest.mark.slow
def test_the_wheel_builds_without_package_warnings(wheel):
    _, log = wheel
    assert "is absent from the `packages` configuration" not in log
    assert "Package would be ignored" not in log


@pytest.mark.slow
def test_the_wheel_carries_compiled_catalogs_and_every_data_file(wheel):
    path, _ = wheel
    names = set(zipfile.ZipFile(path).namelist())
    assert "web/translations/en/LC_MESSAGES/messages.mo" in names
    assert "web/translations/en/LC_MESSAGES/messages.po" in names
    assert {"web/templates/base.html", "web/static/css/yima.css", "web/static/js/yima.js"} <= names
    assert any(n.startswith("migrations/versions/0001_") for n in names)
    assert "standards/schemes/szgws-me.json" in names and "standards/data/szgws-me.csv" in names
    assert not [n for n in names if "__pycache__" in n or n.startswith("tests/")]


@pytest.mark.slow
def test_a_read_only_install_serves_english_pages_without_writing_into_itself(wheel, tmp_path):
    path, _ = wheel
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = Path(
        subprocess.check_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
        )
        .decode()
        .strip()
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(site), str(path)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    # the dependencies from this interpreter (a path line: its editable-install hooks are not run)
    (site / "yima-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # read-only (which root, running CI, ignores: the listing below is compared too)
    for folder in ("web", "migrations", "standards", "catalog", "registry"):
        for p in (site / folder).rglob("*"):
            p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    translations = site / "web" / "translations"
    before = {p: p.stat().st_mtime_ns for p in translations.rglob("*")}
    script = textwrap.dedent(
        f"""
        import web, migrations
        assert web.__file__.startswith({str(site)!r}), web.__file__
        url = "sqlite:///{tmp_path / "y.db"}"
        migrations.upgrade(url)
        app = web.create_app({{"database_url": url, "secret_key": "k", "instance_path": "{tmp_path / "inst"}"}})
        page = app.test_client().get("/?lang=en").get_data(as_text=True)
        assert "Overview" in page and 'lang="en"' in page, page[:500]
        print("ok")
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YIMA_", "PYTHON"))}
    done = subprocess.run(
        [str(python), "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stdout + done.stderr
    assert not (tmp_path / "inst" / "translations").exists()  # read as built, nothing compiled anywhere
    assert {p: p.stat().st_mtime_ns for p in translations.rglob("*")} == before
