"""GS1 identifiers of an item: Digital Link URIs and GTIN + lot + serial, validated with biip; errors name the part.

What decides validity is biip: every GTIN goes through ``biip.gtin.Gtin.parse``, every lot, serial and variant
through its AI table's pattern (set 82, 1–20), every query attribute through ``GS1ElementString.parse`` (formats,
YYMMDD dates with day 00 the month's last day), and a whole link through ``GS1DigitalLinkURI.parse`` as a final
cross-check (skipped on request by bulk paths, 60 % of a link's parsing time). What is ours: a
walk over the link first, so that an error names the part that is wrong (``Problem``: a machine ``code``, the
``part`` — "01", "10", "21", "22", an attribute AI, "uri", "path" or "query" — its ``params``, and a message in
Chinese and English), and the rules biip does not apply (each says so where it is checked):

- only a GTIN (01) primary key, only the qualifiers 22 → 10 → 21 (biip also accepts 235; it orders them too);
- a GTIN of 8, 12, 13 or 14 digits (biip zero-fills any shorter value) and not all zeros;
- well-formed percent-encoding (biip decodes ``%ZZ`` as text);
- qualifiers in the path only, never in the query string; no AI repeated (biip keeps the last);
- deprecated convenience alphas (``/gtin/``, ``/lot/``, ``/ser/``, ``?exp=``) and the compressed form refused.

The item key is the link's path without host or prefix, each value percent-encoded exactly as biip encodes
Digital Link path values (``urllib.parse.quote(v, safe="")``: everything but ``A–Z a–z 0–9 - . _ ~``): a lot
``A/B`` is keyed ``01/…/10/A%2FB/…``, so a key always splits on ``/`` into AI/value pairs.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from biip import ParseError
from biip.checksums import gs1_standard_check_digit
from biip.gs1_application_identifiers import GS1ApplicationIdentifier
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_element_strings import GS1ElementString
from biip.gtin import Gtin

from traceability.gs1_problems import GS1Invalid, Problem, fail

#: the qualifiers of a GTIN in a Digital Link path, in the order they must appear
QUALIFIERS = ("22", "10", "21")
#: GS1 character set 82 (GS1 General Specifications, figure 7.11-1): what AI 10, 21 and 22 may hold
SET82 = frozenset("!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz")
MAX_TEXT = 20
#: AIs whose value is a YYMMDD date (production, due, packaging, best before, sell by, expiry)
DATE_AIS = frozenset({"11", "12", "13", "15", "16", "17"})
#: Digital Link 1.0/1.1 short names, deprecated by Digital Link URI Syntax 1.2
CONVENIENCE_ALPHAS = {"gtin": "01", "cpv": "22", "lot": "10", "ser": "21", "exp": "17", "expdt": "17"}
#: the primary keys of GS1 Digital Link URI Syntax 1.2 (a path stops being a prefix at the first of them)
PRIMARY_KEYS = frozenset("00 01 253 255 401 402 414 415 417 8003 8004 8006 8010 8013 8017 8018".split())
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_COMPRESSED = re.compile(r"[A-Za-z0-9_-]{16,}")
_DIGITS = re.compile(r"[0-9]+")
_SPACES = re.compile(r"\s+")


def encode(value: str) -> str:
    """A value as it goes into a Digital Link path or an item key (biip's encoding of path values)."""
    return quote(value, safe="")


@dataclass(frozen=True)
class DigitalLink:
    """A validated GTIN with its qualifiers and data attributes. ``key`` is the item key (the canonical path)."""

    gtin: str
    cpv: str | None = None
    lot: str | None = None
    serial: str | None = None
    #: data attributes from the query string, AI → value (e.g. {"17": "261200"})
    attributes: dict = field(default_factory=dict)

    @functools.cached_property
    def key(self) -> str:
        parts = [f"01/{self.gtin}"]
        for ai, value in (("22", self.cpv), ("10", self.lot), ("21", self.serial)):
            if value is not None:
                parts.append(f"{ai}/{encode(value)}")
        return "/".join(parts)

    @property
    def is_item(self) -> bool:
        return self.lot is not None or self.serial is not None

    def dates(self) -> dict[str, dt.date]:
        """The date attributes (AI → date; day 00 read as the month's last day, as biip reads it)."""
        return {ai: _date(value) for ai, value in self.attributes.items() if ai in DATE_AIS}

    def uri(self, base: str, *, with_attributes: bool = False) -> str:
        """The Digital Link under ``base`` (``https://host[/prefix]``); attributes in AI order if asked."""
        uri = base.rstrip("/") + "/" + self.key
        if with_attributes and self.attributes:
            uri += "?" + "&".join(f"{ai}={encode(v)}" for ai, v in sorted(self.attributes.items()))
        return uri

    def to_dict(self) -> dict:
        return {
            "key": self.key,
            "gtin": self.gtin,
            "cpv": self.cpv,
            "lot": self.lot,
            "serial": self.serial,
            "attributes": dict(self.attributes),
        }


# --- the parts, each checked by biip -----------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def gtin_problem(value: str, part: str = "01") -> tuple[str | None, Problem | None]:
    """(GTIN-14, None) for a valid GTIN-8/12/13/14, else (None, the problem). Cached: deliveries repeat GTINs."""
    if not value:
        return None, Problem("gs1.empty", part)
    if not _DIGITS.fullmatch(value):  # str.isdecimal would let other scripts' digits through
        return None, Problem("gs1.gtin_digits", part)
    if len(value) not in (8, 12, 13, 14):  # ours: biip's link parser zero-fills any length to 14
        return None, Problem("gs1.gtin_length", part, {"length": len(value)})
    if not value.strip("0"):  # ours: biip accepts fourteen zeros
        return None, Problem("gs1.gtin_zero", part)
    expected = gs1_standard_check_digit(value[:-1])
    if expected != int(value[-1]):
        return None, Problem(
            "gs1.check_digit", part, {"value": value, "expected": expected, "got": int(value[-1])}
        )
    try:
        return Gtin.parse(value).as_gtin_14(), None
    except ParseError as exc:
        return None, Problem("gs1.rejected", part, {"detail": str(exc)})


def clean_gtin(value) -> str:
    """A GTIN as typed, before checking: full-width digits made ASCII (NFKC), spaces removed."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", str(value)))


def normalise_gtin(value, *, field_name: str = "gtin") -> str:
    """A GTIN as users type it (full-width digits, spaces) → its 14 digits. Raises GS1Invalid (422)."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise fail(field_name, "gs1.not_text", "01")
    gtin, problem = gtin_problem(clean_gtin(value))
    if problem is not None:
        raise GS1Invalid([(field_name, problem)])
    return gtin


_TEXT_PATTERNS = {ai: re.compile(GS1ApplicationIdentifier.extract(ai).pattern) for ai in QUALIFIERS}


@functools.lru_cache(maxsize=8192)
def text_problem(ai: str, value: str) -> Problem | None:
    """What is wrong with the value of AI 10, 21 or 22 (1–20 characters of set 82), or None."""
    if not value:
        return Problem("gs1.empty", ai)
    outside = sorted({c for c in value if c not in SET82})
    if outside:
        return Problem("gs1.charset", ai, {"chars": " ".join(repr(c) for c in outside)})
    if len(value) > MAX_TEXT:
        return Problem("gs1.too_long", ai, {"max": MAX_TEXT, "length": len(value)})
    if not _TEXT_PATTERNS[ai].fullmatch(ai + value):
        # the verdict is biip's: its AI table's pattern, which is all GS1ElementString.parse checks for these AIs
        return Problem("gs1.rejected", ai, {"detail": f"does not match {_TEXT_PATTERNS[ai].pattern}"})
    return None


def _date(value: str) -> dt.date:
    return GS1ElementString.parse("17" + value).date


@functools.lru_cache(maxsize=4096)
def attribute_problem(ai: str, value: str) -> Problem | None:
    """What is wrong with a data attribute's value (dates: YYMMDD, day 00 allowed), or None."""
    if not value:
        return Problem("gs1.empty", ai)
    try:
        GS1ElementString.parse(ai + value)
    except ParseError:
        if ai in DATE_AIS:
            return Problem("gs1.date", ai, {"value": value})
        return Problem(
            "gs1.attribute", ai, {"value": value, "format": GS1ApplicationIdentifier.extract(ai).format}
        )
    return None


def _known_ai(key: str) -> bool:
    if not _DIGITS.fullmatch(key) or not 2 <= len(key) <= 4:
        return False
    try:
        return GS1ApplicationIdentifier.extract(key).ai == key
    except ParseError:
        return False


# --- GTIN + lot + serial ------------------------------------------------------------------------

_FIELDS = {"01": "gtin", "22": "cpv", "10": "lot", "21": "serial"}


def from_parts(
    gtin, lot=None, serial=None, cpv=None, *, attributes: dict | None = None, require_item: bool = True
) -> DigitalLink:
    """Validate GTIN + lot + serial (+ variant, + attributes) given separately, e.g. typed or from a file.

    Blank lot/serial/variant count as absent; surrounding spaces are dropped. With ``require_item`` a lot or
    a serial is required. Raises GS1Invalid naming each wrong field (gtin, lot, serial, cpv, attributes).
    """
    problems: list[tuple[str, Problem]] = []
    gtin14 = None
    try:
        gtin14 = normalise_gtin(gtin)
    except GS1Invalid as exc:
        problems.extend(exc.problems)
    values = {}
    for ai, raw in (("22", cpv), ("10", lot), ("21", serial)):
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            values[ai] = None
            continue
        if isinstance(raw, int) and not isinstance(raw, bool):
            raw = str(raw)  # a spreadsheet cell holding a number
        if not isinstance(raw, str):
            problems.append((_FIELDS[ai], Problem("gs1.not_text", ai)))
            continue
        values[ai] = raw.strip()
        problem = text_problem(ai, values[ai])
        if problem is not None:
            problems.append((_FIELDS[ai], problem))
    attrs = {}
    for ai, value in (attributes or {}).items():
        value = str(value).strip()
        if ai == "01" or ai in QUALIFIERS:
            problem = Problem("gs1.qualifier_in_query", ai, {"ai": ai})
        elif not _known_ai(ai):
            problem = Problem("gs1.ai_unknown", "query", {"ai": ai})
        else:
            problem = attribute_problem(ai, value)
        if problem is not None:
            problems.append(("attributes", problem))
        attrs[ai] = value
    if problems:
        raise GS1Invalid(problems)
    link = DigitalLink(gtin14, values.get("22"), values.get("10"), values.get("21"), attrs)
    if require_item and not link.is_item:
        problem = Problem("gs1.no_item_qualifier", "path")
        raise GS1Invalid([("lot", problem), ("serial", problem)])
    return link


# --- Digital Link URIs --------------------------------------------------------------------------


def _segment(raw: str, part: str, field_name: str) -> str:
    bad = _BAD_PERCENT.search(raw)
    if bad:
        raise fail(field_name, "gs1.percent_encoding", part, text=raw[bad.start() : bad.start() + 3])
    try:
        return unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise fail(field_name, "gs1.percent_encoding", part, text=raw) from None


def _split_path(path: str, field_name: str) -> tuple[list[str], list[str]]:
    """(prefix segments, the AI/value segments from the first "01" on). Raises GS1Invalid."""
    segments = path.split("/")[1:]
    for i, seg in enumerate(segments):
        if seg == "01":
            return segments[:i], segments[i:]
        if seg.lower() == "gtin":
            raise fail(field_name, "gs1.convenience_alpha", "path", alpha=seg, ai="01")
        if seg in PRIMARY_KEYS and i + 1 < len(segments):
            raise fail(field_name, "gs1.other_primary_key", "path", found=seg)
    if len(segments) == 1 and _COMPRESSED.fullmatch(segments[0]) and not segments[0].isdigit():
        raise fail(field_name, "gs1.compressed", "uri")  # ours: biip does not decode the compressed form
    raise fail(field_name, "gs1.no_gtin", "path")


def _qualifiers(pairs: list[tuple[str, str]], field_name: str) -> dict[str, str]:
    """The path's qualifiers in 22 → 10 → 21 order (ours, so the error can name the misplaced one)."""
    found: dict[str, str] = {}
    last = -1
    for ai, raw in pairs:
        if ai.lower() in CONVENIENCE_ALPHAS:
            raise fail(
                field_name, "gs1.convenience_alpha", "path", alpha=ai, ai=CONVENIENCE_ALPHAS[ai.lower()]
            )
        if ai not in QUALIFIERS:
            raise fail(field_name, "gs1.qualifier_unknown", "path", ai=ai)
        if ai in found:
            raise fail(field_name, "gs1.repeated", ai)
        position = QUALIFIERS.index(ai)
        if position < last:
            raise fail(field_name, "gs1.qualifier_order", ai, after=QUALIFIERS[last])
        last = position
        found[ai] = _segment(raw, ai, field_name)
    return found


def _query(query: str, field_name: str) -> dict[str, str]:
    """The data attributes of the query string; parameters that are not GS1 AIs are ignored (as biip does)."""
    bad = _BAD_PERCENT.search(query)
    if bad:
        raise fail(field_name, "gs1.percent_encoding", "query", text=query[bad.start() : bad.start() + 3])
    attributes: dict[str, str] = {}
    try:
        pairs = parse_qsl(query, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise fail(field_name, "gs1.percent_encoding", "query", text=query) from None
    for key, value in pairs:
        if key.lower() in CONVENIENCE_ALPHAS:
            raise fail(
                field_name, "gs1.convenience_alpha", "query", alpha=key, ai=CONVENIENCE_ALPHAS[key.lower()]
            )
        if key == "01" or key in QUALIFIERS:
            raise fail(field_name, "gs1.qualifier_in_query", key, ai=key)
        if not _known_ai(key):
            continue
        if key in attributes:
            raise fail(field_name, "gs1.repeated", key)
        attributes[key] = value
    return attributes


def parse_link(
    uri, *, field_name: str = "link", require_item: bool = False, cross_check: bool = True
) -> DigitalLink:
    """Parse and validate a GS1 Digital Link URI (any host, any path prefix, percent-encoded values).

    Structural errors stop at the first; the values of the GTIN, qualifiers and attributes are all checked and
    every problem is reported. ``cross_check`` also runs biip's own Digital Link parser over the whole URI.
    With ``require_item`` a lot or a serial is required. Raises GS1Invalid (422) under ``field_name``.
    """
    if not isinstance(uri, str):
        raise fail(field_name, "gs1.not_text", "uri")
    uri = uri.strip()
    if not uri:
        raise fail(field_name, "gs1.empty", "uri")
    try:
        split = urlsplit(uri)
    except ValueError:
        raise fail(field_name, "gs1.uri_malformed", "uri") from None
    if split.scheme.lower() not in ("http", "https"):
        raise fail(field_name, "gs1.uri_scheme", "uri", scheme=split.scheme or uri[:20])
    if not split.hostname:
        raise fail(field_name, "gs1.uri_host", "uri")
    _prefix, segments = _split_path(split.path, field_name)
    if len(segments) % 2:
        raise fail(field_name, "gs1.path_pairs", "path", path="/" + "/".join(segments))
    pairs = list(zip(segments[::2], segments[1::2], strict=True))
    gtin_raw = _segment(pairs[0][1], "01", field_name)
    qualifiers = _qualifiers(pairs[1:], field_name)
    attributes = _query(split.query, field_name)
    problems: list[tuple[str, Problem]] = []
    gtin, problem = gtin_problem(gtin_raw)
    if problem is not None:
        problems.append((field_name, problem))
    for ai, value in qualifiers.items():
        if (problem := text_problem(ai, value)) is not None:
            problems.append((field_name, problem))
    for ai, value in attributes.items():
        if (problem := attribute_problem(ai, value)) is not None:
            problems.append((field_name, problem))
    if problems:
        raise GS1Invalid(problems)
    link = DigitalLink(gtin, qualifiers.get("22"), qualifiers.get("10"), qualifiers.get("21"), attributes)
    if cross_check:
        _cross_check(uri, link, field_name)
    if require_item and not link.is_item:
        raise fail(field_name, "gs1.no_item_qualifier", "path")
    return link


def _cross_check(uri: str, link: DigitalLink, field_name: str) -> None:
    """biip's Digital Link parser must read the same link; anything it refuses is refused."""
    try:
        parsed = GS1DigitalLinkURI.parse(uri)
    except ParseError as exc:
        raise fail(field_name, "gs1.rejected", "uri", detail=str(exc)) from None
    strings = parsed.element_strings
    if strings and strings[0].ai.ai != "01":
        raise fail(field_name, "gs1.other_primary_key", "path", found=strings[0].ai.ai)
    read = {es.ai.ai: es.value for es in strings}
    ours = {
        "01": link.gtin,
        **{ai: v for ai, v in (("22", link.cpv), ("10", link.lot), ("21", link.serial)) if v},
    }
    if any(read.get(ai) != value for ai, value in {**ours, **link.attributes}.items()):
        raise fail(field_name, "gs1.rejected", "uri", detail=f"biip read {read}")


def parse_key(key, *, field_name: str = "key") -> DigitalLink:
    """An item key or resolver path (``01/{gtin}[/22/…][/10/…][/21/…]``, encoded as in ``DigitalLink.key``).

    Accepts a leading ``/`` and a GTIN-8/12/13; compare the result's ``key`` to spot a non-canonical one.
    Raises GS1Invalid (422).
    """
    if not isinstance(key, str):
        raise fail(field_name, "gs1.not_text", "key")
    path = key.strip().lstrip("/")
    if not path.startswith("01/"):
        raise fail(field_name, "gs1.no_gtin", "key")
    if "?" in path or "#" in path:
        raise fail(field_name, "gs1.key_unencoded", "key")
    return parse_link("https://key.invalid/" + path, field_name=field_name, cross_check=False)
