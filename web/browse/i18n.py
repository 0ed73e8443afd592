"""Message catalogs: Chinese msgids in the templates, English in ``web/translations``; .po compiled to .mo on demand."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

log = logging.getLogger("yima")

#: where the .po catalogs live (inside the package, so they install with it)
TRANSLATIONS = Path(__file__).resolve().parents[1] / "translations"


def compile_catalogs(source: Path = TRANSLATIONS, target: Path | None = None) -> list[Path]:
    """Compile every ``*.po`` under ``source`` whose ``.mo`` is missing or older; returns the files written.

    ``target`` (default: beside the .po) is used when the package folder is read-only.
    """
    written = []
    for po in sorted(source.glob("*/LC_MESSAGES/*.po")):
        mo = (target / po.relative_to(source) if target else po).with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh)
        mo.parent.mkdir(parents=True, exist_ok=True)
        tmp = mo.with_suffix(f".mo.{os.getpid()}.tmp")  # several workers may start at once
        with tmp.open("wb") as fh:
            write_mo(fh, catalog, use_fuzzy=False)
        tmp.replace(mo)
        written.append(mo)
    return written


def translation_directories(instance_path: str) -> str:
    """The directories Flask-Babel should read: the package's own, or a compiled copy in the instance folder."""
    try:
        compile_catalogs()
        return str(TRANSLATIONS)
    except OSError:
        fallback = Path(instance_path) / "translations"
        compile_catalogs(TRANSLATIONS, fallback)
        log.info("package folder is read-only: message catalogs compiled into %s", fallback)
        return str(fallback)
