"""Every label of the browse pages has an English translation, and the catalogs compile."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from web.browse import i18n

ROOT = Path(__file__).resolve().parents[2]
METHODS = [("web/browse/**.py", "python"), ("web/templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "lazy_gettext": None, "L": None, "ngettext": (1, 2)}


def source_msgids() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        str(ROOT), METHODS, keywords=KEYWORDS, options_map={"web/templates/**.html": {}}
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_browse_every_label_has_an_english_translation():
    with (i18n.TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh)
    translated = {m.id: m.string for m in catalog if m.id}
    ids = source_msgids()
    assert len(ids) > 100
    missing = sorted(i for i in ids if not translated.get(i))
    assert missing == [], f"labels without an English translation: {missing}"


def test_browse_catalogs_compile_into_a_folder(tmp_path):
    written = i18n.compile_catalogs(i18n.TRANSLATIONS, tmp_path)
    assert (tmp_path / "en" / "LC_MESSAGES" / "messages.mo").exists()
    assert written and i18n.compile_catalogs(i18n.TRANSLATIONS, tmp_path) == []  # up to date: nothing to do
