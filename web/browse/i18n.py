"""Message catalogs: Chinese msgids in the templates, English in ``web/translations``; the .mo files come with the build.

``setup.py`` compiles every ``.po`` into its ``.mo`` at build time (wheels and editable installs
alike), so an installed Yima reads its package's catalogs as they are and never writes into its own
folder (a read-only site-packages must work). Only a source tree whose ``.mo`` is missing or older
than its ``.po`` (a translator's edit) is compiled again, into the instance folder.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

log = logging.getLogger("yima")

#: where the .po catalogs live (inside the package, so they install with it)
TRANSLATIONS = Path(__file__).resolve().parents[1] / "translations"


#: a source checkout (the project's setup.cfg above the package), where a translator may edit a .po
SOURCE_TREE = (TRANSLATIONS.parents[1] / "setup.cfg").exists()


def stale_catalogs(source: Path = TRANSLATIONS, *, by_time: bool = SOURCE_TREE) -> list[Path]:
    """The ``*.po`` under ``source`` whose ``.mo`` beside it is missing (or, ``by_time``, older).

    Installed files are not compared by time: an installer sets them in whatever order it unpacks.
    """
    stale = []
    for po in sorted(source.glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        if not mo.exists() or (by_time and mo.stat().st_mtime < po.stat().st_mtime):
            stale.append(po)
    return stale


def compile_catalogs(source: Path, target: Path) -> list[Path]:
    """Compile every ``*.po`` under ``source`` into the same layout under ``target``; returns the files written."""
    written = []
    for po in sorted(source.glob("*/LC_MESSAGES/*.po")):
        mo = (target / po.relative_to(source)).with_suffix(".mo")
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
    """The directory Flask-Babel should read: the package's own, or a fresh compile in the instance folder."""
    if not stale_catalogs():
        return str(TRANSLATIONS)
    fallback = Path(instance_path) / "translations"
    compile_catalogs(TRANSLATIONS, fallback)
    log.info("message catalogs compiled into %s (the package's .mo files are missing or stale)", fallback)
    return str(fallback)
