"""The bundled code sets for ``yima demo``: the bureau's szgws-me codes, GB/T 51269 and GB 50500 excerpts, Uniclass, crosswalks."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from sqlalchemy import select

from registry.db import Database
from standards.crosswalks import find_crosswalks, set_crosswalk
from standards.importer.writer import import_files
from standards.models import CodeScheme, Release

DATA = Path(__file__).resolve().parent / "data"
BUREAU_RELEASE = "2025-01"
GBT_RELEASE = "2017-excerpt"
GB50500_RELEASE = "2013-excerpt"
UNICLASS_RELEASE = "2022-01"


#: where the Uniclass 2015 CSVs are looked for when YIMA_UNICLASS_DIR is not set (relative to the current folder)
DEFAULT_UNICLASS_DIR = Path("..") / "shared" / "data" / "uniclass2015"


def uniclass_dir(configured: str | None = None) -> Path | None:
    """Where the Uniclass 2015 CSVs are, if anywhere: ``configured`` (YIMA_UNICLASS_DIR) only when it is
    set, else ../shared/data/uniclass2015. (Demo data is looked for, not required: the demo works without it.)
    """
    candidate = Path(configured) if configured else Path.cwd() / DEFAULT_UNICLASS_DIR
    if candidate.is_dir() and any(candidate.glob("Uniclass2015_*.csv")):
        return candidate.resolve()
    return None


def _has_release(session, scheme_id: str, release: str) -> bool:
    return (
        session.scalar(
            select(Release.id)
            .join(CodeScheme, CodeScheme.id == Release.scheme_id)
            .where(CodeScheme.scheme == scheme_id, Release.release == release)
        )
        is not None
    )


def _import(database: Database, scheme_id: str, release: str, paths: list[Path], actor: str) -> int:
    with database.writer() as s:
        if _has_release(s, scheme_id, release):
            return 0
        report = import_files(s, scheme_id, release, paths, actor=actor, publish=True)
        return report.added


def _crosswalk(database: Database, to_scheme: str, to_release: str, path: Path, actor: str) -> int:
    text = path.read_text(encoding="utf-8")
    mappings = list(csv.DictReader(io.StringIO(text)))
    with database.writer() as s:
        if not _has_release(s, to_scheme, to_release):
            return 0
        if find_crosswalks(s, "szgws-me", mappings[0]["from"], release=BUREAU_RELEASE, to_scheme=to_scheme):
            return 0
        result = set_crosswalk(
            s,
            "szgws-me",
            to_scheme,
            mappings,
            actor=actor,
            from_release=BUREAU_RELEASE,
            to_release=to_release,
        )
        return result["mappings"]


def load(database: Database, actor: str, *, with_uniclass: bool = True, config=None) -> int:
    """Load the bundled code sets and crosswalks; return how many codes and mappings were created (0 if loaded).

    Uniclass 2015 is loaded too when its CSVs are found (see ``uniclass_dir``; ``config.uniclass_dir``
    names a folder) and ``with_uniclass``.
    """
    created = _import(database, "szgws-me", BUREAU_RELEASE, [DATA / "szgws-me.csv"], actor)
    created += _import(database, "gbt51269", GBT_RELEASE, [DATA / "gbt51269-excerpt.csv"], actor)
    created += _import(database, "gb50500", GB50500_RELEASE, [DATA / "gb50500-excerpt.csv"], actor)
    found = uniclass_dir(getattr(config, "uniclass_dir", None)) if with_uniclass else None
    if found is not None:
        created += _import(
            database, "uniclass2015", UNICLASS_RELEASE, sorted(found.glob("Uniclass2015_*.csv")), actor
        )
    created += _crosswalk(database, "gbt51269", GBT_RELEASE, DATA / "crosswalk-szgws-me-gbt51269.csv", actor)
    created += _crosswalk(
        database, "uniclass2015", UNICLASS_RELEASE, DATA / "crosswalk-szgws-me-uniclass2015.csv", actor
    )
    return created
