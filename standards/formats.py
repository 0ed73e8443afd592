"""Code scheme definitions read from JSON files, and the format engine: normalise, parse, level, parent, check digit."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from registry.errors import Invalid, NotFound
from registry.messages import msg

BUNDLED_DIR = Path(__file__).resolve().parent / "schemes"


@dataclass(frozen=True)
class Parsed:
    """A well-formed code: its canonical spelling, table, level (non-zero pairs) and parent (or None)."""

    code: str
    table: str | None
    level: int
    parent: str | None


class Malformed(ValueError):
    """The text is not in the scheme's format; the message says why."""


@dataclass
class Scheme:
    """One code scheme as declared in its JSON file (see docs/standards.md for every key)."""

    id: str
    name: str
    name_en: str
    description: str
    code_list: bool | str  # True, False, or "optional"
    format: dict
    assignable_levels: tuple[int, ...] | None
    examples: dict = field(default_factory=dict)
    source: str = ""

    def __post_init__(self):
        fmt = self.format
        self.kind = fmt.get("kind")
        if self.kind not in ("segmented", "digits"):
            raise ValueError(f"scheme {self.id}: format.kind must be 'segmented' or 'digits'")
        self.tables: dict[str, str] = dict(fmt.get("tables") or {})
        self._tables_ci = {t.upper(): t for t in self.tables}
        self.case = fmt.get("case", "upper")
        seps = fmt.get("alternative_separators", "")
        if self.kind == "segmented":
            self.tsep = fmt["table_separator"]
            self.ssep = fmt["segment_separator"]
            self.seg_min, self.seg_max = fmt["segments"]
            self.zero_padded = bool(fmt.get("zero_padded"))
            self.table_is_root = bool(fmt.get("table_is_root"))
            self._seg_re = re.compile(fmt.get("segment_pattern", "[0-9]{2}"))
            self._two_digits = fmt.get("segment_pattern", "[0-9]{2}") == "[0-9]{2}"
            self._table_re = re.compile(fmt.get("table_pattern", "[0-9]{2}"))
            all_seps = set(seps) | {self.tsep, self.ssep}
            self._split = re.compile("[" + re.escape("".join(sorted(all_seps))) + "]")
        else:
            widths = fmt.get("widths")
            self.widths = tuple(widths or ())
            if widths:
                total, cum = 0, []
                for w in widths:
                    total += w
                    cum.append(total)
                self.lengths = tuple(cum)
            else:
                self.lengths = tuple(fmt["lengths"])
            self.check_digit = fmt.get("check_digit")
            self.digital_link = bool(fmt.get("digital_link"))
            self.free_last_level = bool(fmt.get("free_last_level"))
            self._strip = str.maketrans("", "", seps) if seps else None
        self.zero = "00"

    # -- normalisation ----------------------------------------------------------------------

    def normalise(self, text: str) -> str:
        """NFKC (full-width to ASCII), trim and the scheme's case rule; separators are fixed by ``parse``."""
        if not text.isascii():
            text = unicodedata.normalize("NFKC", text)
        text = text.strip()
        return text.upper() if self.case == "upper" else text

    @property
    def has_code_list(self) -> bool:
        return self.code_list is not False

    def assignable(self, level: int) -> bool:
        return self.assignable_levels is None or level in self.assignable_levels

    # -- parsing ----------------------------------------------------------------------------

    def parse(self, text: str) -> Parsed:
        """Parse already-normalised text into its canonical code. Raises Malformed with the reason."""
        if not text:
            raise Malformed(msg("code.empty", "the code is empty"))
        if self.kind == "segmented":
            return self._parse_segmented(text)
        return self._parse_digits(text)

    def _table(self, token: str) -> str:
        if self.tables:
            table = self._tables_ci.get(token.upper())
            if table is None:
                raise Malformed(
                    msg(
                        "code.table_unknown",
                        "{token!r} is not one of this scheme's tables ({tables})",
                        token=token,
                        tables=", ".join(self.tables),
                    )
                )
            return table
        if not self._table_re.fullmatch(token):
            raise Malformed(msg("code.not_table", "{token!r} is not a table code", token=token))
        return token

    def _parse_segmented(self, text: str) -> Parsed:
        tokens = self._split.split(text)
        table = self._table(tokens[0])
        segs = tokens[1:]
        if not segs and self.table_is_root:
            return Parsed(table, table, 0, None)
        self._check_levels(segs)
        canonical = table + self.tsep + self.ssep.join(segs)
        if self.zero_padded:
            return self._zero_padded(canonical, table, segs)
        parent = (
            table + self.tsep + self.ssep.join(segs[:-1])
            if len(segs) > 1
            else (table if self.table_is_root else None)
        )
        return Parsed(canonical, table, len(segs), parent)

    def _check_levels(self, segs: list[str]) -> None:
        """How many levels there are, and that each is two digits (Malformed otherwise)."""
        if not self.seg_min <= len(segs) <= self.seg_max:
            raise Malformed(
                msg(
                    "code.levels_range",
                    "expected {a}–{b} levels after the table code, found {n}",
                    a=self.seg_min,
                    b=self.seg_max,
                    n=len(segs),
                )
                if self.seg_min != self.seg_max
                else msg(
                    "code.levels",
                    "expected {a} levels after the table code, found {n}",
                    a=self.seg_min,
                    n=len(segs),
                )
            )
        for seg in segs:
            if self._two_digits and len(seg) == 2 and seg.isdigit() and seg.isascii():
                continue
            if not self._seg_re.fullmatch(seg):
                raise Malformed(
                    msg("code.level_digits", "level {seg!r} is not two digits", seg=seg)
                    if seg
                    else msg("code.level_empty", "an empty level (two separators)")
                )

    def _zero_padded(self, canonical: str, table: str, segs: list[str]) -> Parsed:
        """A code whose unused levels are 00 (GB/T 51269): its level is the last non-00 one."""
        zero = self.zero
        level = 0
        for i, seg in enumerate(segs):
            if seg == zero:
                break
            level = i + 1
        if level == 0:
            raise Malformed(msg("code.first_zero", "the first level must not be 00"))
        if any(seg != zero for seg in segs[level:]):
            raise Malformed(
                msg(
                    "code.after_zero",
                    "a level follows a 00 level (once a level is 00, every later level is 00)",
                )
            )
        if len(segs) > self.seg_min and level < len(segs):
            raise Malformed(
                msg(
                    "code.optional_zero",
                    "a level after level {n} is only present when it is not 00",
                    n=self.seg_min,
                )
            )
        if len(segs) > self.seg_min:
            parent_segs = segs[:-1]
        elif level == 1:
            return Parsed(canonical, table, level, None)
        else:
            parent_segs = segs[: level - 1] + [zero] * (len(segs) - level + 1)
        return Parsed(canonical, table, level, table + self.tsep + self.ssep.join(parent_segs))

    def _parse_digits(self, text: str) -> Parsed:
        if self.digital_link and "/01/" in text:
            text = text.split("/01/", 1)[1].split("/", 1)[0].split("?", 1)[0]
        if self._strip is not None:
            text = text.translate(self._strip)
        if not (text.isascii() and text.isdigit()):
            raise Malformed(msg("code.digits_only", "only digits are allowed"))
        n = len(text)
        if n not in self.lengths:
            raise Malformed(
                msg(
                    "code.digit_count",
                    "expected {lengths} digits, found {n}",
                    lengths=" or ".join(map(str, self.lengths)),
                    n=n,
                )
            )
        table = None
        if self.tables:
            table = text[:2]
            if table not in self.tables:
                raise Malformed(
                    msg(
                        "code.table_unknown",
                        "{token!r} is not one of this scheme's tables ({tables})",
                        token=table,
                        tables=", ".join(self.tables),
                    )
                )
        if self.check_digit == "gs1-mod10" and gs1_check_digit(text[:-1]) != int(text[-1]):
            raise CheckDigitError(
                msg(
                    "code.check_digit",
                    "the check digit is {got}, but the digits before it give {want}",
                    got=text[-1],
                    want=gs1_check_digit(text[:-1]),
                )
            )
        if self.widths:
            level = self.lengths.index(n) + 1
            parent = text[: self.lengths[level - 2]] if level > 1 else None
            return Parsed(text, table, level, parent)
        return Parsed(text, table, 1, None)

    def to_dict(self) -> dict:
        """The public description of the scheme (what GET /api/v1/schemes/{id} shows)."""
        return {
            "id": self.id,
            "name": self.name,
            "name_en": self.name_en,
            "description": self.description,
            "has_code_list": self.has_code_list,
            "tables": self.tables,
            "assignable_levels": list(self.assignable_levels) if self.assignable_levels else None,
            "examples": self.examples,
            "format": self.format,
        }


class CheckDigitError(Malformed):
    """Well formed except for a wrong check digit."""


def gs1_check_digit(data: str) -> int:
    """The GS1 mod-10 check digit of ``data`` (weights 3,1,3,… from the rightmost data digit)."""
    total = 0
    for i, ch in enumerate(reversed(data)):
        total += int(ch) * (3 if i % 2 == 0 else 1)
    return (10 - total % 10) % 10


# --- the registry of schemes ----------------------------------------------------------------

_SCHEMES: dict[str, Scheme] = {}
_EXTRA_PATHS: tuple[str, ...] = ()


def load_file(path: Path) -> Scheme:
    """Read one scheme definition. Raises ValueError naming the file when it is not a valid definition."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        levels = data.get("assignable_levels")
        return Scheme(
            id=data["id"],
            name=data["name"],
            name_en=data.get("name_en") or data["name"],
            description=data.get("description", ""),
            code_list=data.get("code_list", True),
            format=data["format"],
            assignable_levels=tuple(levels) if levels else None,
            examples=data.get("examples") or {},
            source=str(path),
        )
    except (OSError, KeyError, TypeError, ValueError, re.error) as exc:
        raise ValueError(f"scheme definition {path} is not valid: {exc}") from exc


def configure(extra_paths: tuple[str, ...] | list[str] = ()) -> None:
    """(Re)load the bundled definitions and those in ``extra_paths`` (folders of ``*.json``, later wins)."""
    global _EXTRA_PATHS
    _EXTRA_PATHS = tuple(extra_paths)
    schemes: dict[str, Scheme] = {}
    for folder in (BUNDLED_DIR, *map(Path, _EXTRA_PATHS)):
        for path in sorted(Path(folder).glob("*.json")):
            scheme = load_file(path)
            schemes[scheme.id] = scheme
    _SCHEMES.clear()
    _SCHEMES.update(schemes)


def all_schemes() -> list[Scheme]:
    """Every declared scheme, by id."""
    if not _SCHEMES:
        configure(_EXTRA_PATHS)
    return [_SCHEMES[k] for k in sorted(_SCHEMES)]


def get_scheme(scheme_id: str) -> Scheme:
    """The declared scheme with this id. Raises NotFound."""
    if not _SCHEMES:
        configure(_EXTRA_PATHS)
    try:
        return _SCHEMES[scheme_id]
    except KeyError:
        raise NotFound(
            f"no code scheme {scheme_id!r}; known schemes: {', '.join(sorted(_SCHEMES))}"
        ) from None


def parse_code(scheme: Scheme, text: str, field_name: str = "code") -> Parsed:
    """Normalise and parse ``text``, raising Invalid (422) with the reason when it is malformed."""
    try:
        return scheme.parse(scheme.normalise(text or ""))
    except Malformed as exc:
        reason = exc.args[0] if exc.args else str(exc)
        raise Invalid(
            msg(
                "code.malformed",
                "{text!r} is not a {scheme} code: {reason}",
                text=text,
                scheme=scheme.id,
                reason=reason,
            ),
            {field_name: [reason]},
        ) from None


def canonical(scheme: Scheme, code: str) -> str:
    """The canonical spelling of a code as a user typed it (full-width, other separators, case), or the
    text unchanged when it is not a well-formed code of the scheme (a lookup then finds nothing)."""
    try:
        return scheme.parse(scheme.normalise(code)).code
    except Malformed:
        return code
