"""Record validation against a resource's fields, column-wise with polars (never row by row in Python).

Each check (type, required, constraint, unique, code, unknown_field) is one vectorised expression over
a column of strings; only the rows it flags are visited in Python to write their messages. Code-valued
fields are validated through the code registry once per distinct value.
"""

from __future__ import annotations

import gc
import io
import json
from dataclasses import dataclass

import polars as pl
from sqlalchemy.orm import Session

from catalog.resources import get_resource
from registry.errors import Invalid, NotFound, TooLarge
from standards.validation import get_validator

ERROR_TYPES = ("required", "type", "constraint", "unique", "code", "unknown_field")
TRUE_VALUES = ("true", "True", "TRUE", "1")
FALSE_VALUES = ("false", "False", "FALSE", "0")
_INTEGER = r"^[+-]?\d+$"
_DATE = r"^\d{4}-\d{2}-\d{2}$"
_DATETIME = r"^\d{4}-\d{2}-\d{2}[T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$"
_TYPE_NAMES = {
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "date": "a date (YYYY-MM-DD)",
    "datetime": "a date and time (ISO 8601)",
}


@dataclass
class Table:
    """The records as a frame of strings (null = missing), plus cells that were not scalars (JSON)."""

    frame: pl.DataFrame
    nested: dict[str, list[int]]


def read_csv(data: bytes) -> Table:
    """A CSV body (UTF-8 with or without BOM, or GB18030 as Chinese Excel writes it) as strings. Raises Invalid."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            data = data.decode("gb18030").encode("utf-8")
        except UnicodeDecodeError as exc:
            raise Invalid("the CSV is neither UTF-8 nor GB18030 text") from exc
    if not data.strip():
        raise Invalid("the CSV is empty: it needs a header row naming the fields")
    try:
        frame = pl.read_csv(io.BytesIO(data), infer_schema=False, raise_if_empty=False)
    except Exception as exc:  # polars: ragged rows, duplicate headers, bad quoting
        raise Invalid(f"the CSV cannot be read: {str(exc).splitlines()[0]}") from exc
    frame = frame.rename({c: c.strip() for c in frame.columns})
    return Table(frame, {})


def from_records(records: list) -> Table:
    """JSON records (a list of objects) as a frame of strings; numbers and booleans become their text."""
    columns: dict[str, list] = {}
    nested: dict[str, list[int]] = {}
    n = len(records)
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise Invalid(f"records[{i}] is not an object", {"records": {str(i): ["must be an object"]}})
        for key, value in record.items():
            col = columns.get(key)
            if col is None:
                col = columns[key] = [None] * n
            if value is None or isinstance(value, str):
                col[i] = value
            elif isinstance(value, bool):
                col[i] = "true" if value else "false"
            elif isinstance(value, int | float):
                col[i] = repr(value)
            else:
                col[i] = json.dumps(value, ensure_ascii=False)
                nested.setdefault(key, []).append(i)
    if not columns:
        # records with no keys at all ([{}]) are still n rows, each missing every required field;
        # polars builds a zero-column frame of height n only by dropping a column
        frame = pl.DataFrame([pl.Series("_", [None] * n, dtype=pl.String)]).drop("_")
        return Table(frame, nested)
    frame = pl.DataFrame({k: pl.Series(k, v, dtype=pl.String) for k, v in columns.items()}, height=n)
    return Table(frame, nested)


def _cast_ok(s: pl.Series, ftype: str) -> tuple[pl.Series, pl.Series | None]:
    """(mask of values of the right type, the cast values or None) for non-null values."""
    if ftype == "integer":
        cast = s.cast(pl.Int64, strict=False)
        return s.str.contains(_INTEGER) & cast.is_not_null(), cast
    if ftype == "number":
        cast = s.str.strip_chars().cast(pl.Float64, strict=False)
        return cast.is_not_null(), cast
    if ftype == "boolean":
        ok = s.is_in(TRUE_VALUES + FALSE_VALUES)
        return ok, s.is_in(TRUE_VALUES)
    if ftype == "date":
        return s.str.contains(_DATE) & s.str.to_date("%Y-%m-%d", strict=False).is_not_null(), s
    if ftype == "datetime":
        day_ok = s.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False).is_not_null()
        return s.str.contains(_DATETIME) & day_ok, s
    return pl.Series(s.name, [True] * len(s), dtype=pl.Boolean), s


class _Errors:
    def __init__(self):
        self.by_row: dict[int, list[dict]] = {}

    def add(self, mask: pl.Series, field: str, type_: str, message, values: pl.Series | None = None) -> None:
        """Flag every row where ``mask`` is true; ``message`` is a string or a function of the row's value."""
        mask = mask.fill_null(False)
        if not mask.any():
            return
        rows = mask.arg_true().to_list()
        by_row = self.by_row
        if callable(message):
            vals = values.filter(mask).to_list()
            for row, value in zip(rows, vals, strict=True):
                by_row.setdefault(row, []).append({"field": field, "type": type_, "message": message(value)})
        else:
            error = {"field": field, "type": type_, "message": message}
            for row in rows:
                by_row.setdefault(row, []).append(error)


def _enum_mask(s: pl.Series, cast: pl.Series, ftype: str, enum: list) -> pl.Series:
    if ftype == "integer":
        wanted = [int(e) for e in enum if _is_int(e)]
        return cast.is_in(wanted)
    if ftype == "number":
        wanted = [float(e) for e in enum if _is_num(e)]
        return cast.is_in(wanted)
    if ftype == "boolean":
        wanted = [e if isinstance(e, bool) else str(e) in TRUE_VALUES for e in enum]
        return cast.is_in(wanted)
    return s.is_in([str(e) for e in enum])


def _is_int(v) -> bool:
    try:
        int(v)
        return not isinstance(v, bool)
    except (TypeError, ValueError):
        return False


def _is_num(v) -> bool:
    try:
        float(v)
        return not isinstance(v, bool)
    except (TypeError, ValueError):
        return False


def _fmt(v) -> str:
    return repr(v) if isinstance(v, str) else str(v)


def check(table: Table, fields: list[dict], code_validator=None) -> dict[int, list[dict]]:
    """The errors of the rows that have any (row index → errors in field order), from the field definitions.

    ``code_validator(scheme, values) -> {value: RESULT}`` answers for the invalid codes among distinct values.
    """
    frame = table.frame
    errors = _Errors()
    for f in fields:
        name = f["name"]
        if name in frame.columns:
            s = frame.get_column(name)
        else:
            s = pl.Series(name, [None] * frame.height, dtype=pl.String)
        _check_field(errors, f, s, table.nested.get(name), code_validator)
    _check_unknown_columns(errors, frame, {f["name"] for f in fields})
    return errors.by_row


def _check_field(
    errors: _Errors, f: dict, s: pl.Series, nested_rows: list[int] | None, code_validator
) -> None:
    """Every check of one field over its column, in the order the errors are listed."""
    name, ftype = f["name"], f.get("type") or "string"
    c = f.get("constraints") or {}
    missing = s.is_null() | (s == "")
    present = ~missing
    if f.get("required"):
        errors.add(missing, name, "required", f"{name} is required")
    ok, cast = _check_type(errors, name, ftype, s, present, nested_rows)
    _check_lengths(errors, name, c, s, ok)
    _check_bounds(errors, name, ftype, c, s, cast, ok)
    _check_pattern_and_enum(errors, name, ftype, c, s, cast, ok)
    if f.get("unique"):
        key = cast if ftype in ("integer", "number", "boolean") else s
        dup = ok & ~key.is_first_distinct()
        # is_first_distinct treats nulls as a value: only non-null duplicates of a valid value count
        errors.add(dup, name, "unique", lambda v, fname=name: f"{_fmt(v)} repeats an earlier {fname}", s)
    if f.get("code_scheme") and code_validator is not None:
        _check_codes(errors, name, f["code_scheme"], s, ok, code_validator)


def _check_type(errors: _Errors, name: str, ftype: str, s: pl.Series, present: pl.Series, nested_rows):
    """Flag values of the wrong type; returns (mask of present values of the right type, the cast values)."""
    ok, cast = _cast_ok(s, ftype)
    ok = ok.fill_null(False) & present
    if nested_rows:
        nested_mask = pl.Series([False] * len(s))
        nested_mask.scatter(nested_rows, True)
        ok = ok & ~nested_mask
    if ftype != "string" or nested_rows:
        expected = _TYPE_NAMES.get(ftype, "text")
        errors.add(present & ~ok, name, "type", lambda v, e=expected: f"{_fmt(v)} is not {e}", s)
    return ok, cast


def _check_lengths(errors: _Errors, name: str, c: dict, s: pl.Series, ok: pl.Series) -> None:
    if c.get("min_length") is not None:
        errors.add(
            ok & (s.str.len_chars() < c["min_length"]),
            name,
            "constraint",
            f"{name} must be at least {c['min_length']} characters long",
        )
    if c.get("max_length") is not None:
        errors.add(
            ok & (s.str.len_chars() > c["max_length"]),
            name,
            "constraint",
            f"{name} must be at most {c['max_length']} characters long",
        )


def _check_bounds(errors: _Errors, name: str, ftype: str, c: dict, s, cast, ok) -> None:
    for key, op, word in (("minimum", "lt", "at least"), ("maximum", "gt", "at most")):
        bound = c.get(key)
        if bound is None:
            continue
        values = cast if ftype in ("integer", "number") else s
        target = bound if ftype in ("integer", "number") else str(bound)
        errors.add(
            ok & getattr(values, op)(target),
            name,
            "constraint",
            lambda v, w=word, b=bound: f"{_fmt(v)} must be {w} {b}",
            s,
        )


def _check_pattern_and_enum(errors: _Errors, name: str, ftype: str, c: dict, s, cast, ok) -> None:
    if c.get("pattern"):
        errors.add(
            ok & ~s.str.contains(f"^(?:{c['pattern']})$"),
            name,
            "constraint",
            lambda v, p=c["pattern"]: f"{_fmt(v)} does not match the pattern {p}",
            s,
        )
    if c.get("enum"):
        errors.add(
            ok & ~_enum_mask(s, cast, ftype, c["enum"]).fill_null(False),
            name,
            "constraint",
            lambda v, e=c["enum"]: f"{_fmt(v)} is not one of {', '.join(map(str, e))}",
            s,
        )


def _check_codes(
    errors: _Errors, name: str, scheme: str, s: pl.Series, ok: pl.Series, code_validator
) -> None:
    """Code-valued fields: the registry answers once per distinct value; the invalid ones are flagged."""
    distinct = s.filter(ok).unique().to_list()
    if not distinct:
        return
    bad = code_validator(scheme, distinct)
    if not bad:
        return
    mask = ok & s.is_in(list(bad))
    rows = mask.arg_true().to_list()
    vals = s.filter(mask).to_list()
    for row, value in zip(rows, vals, strict=True):
        result = bad[value]
        err = {
            "field": name,
            "type": "code",
            "message": "; ".join(e["message"] for e in result.get("errors") or [])
            or f"{value!r} is not a valid {scheme} code",
            "status": result.get("status"),
        }
        if result.get("successor"):
            err["successor"] = result["successor"]
        errors.by_row.setdefault(row, []).append(err)


def _check_unknown_columns(errors: _Errors, frame: pl.DataFrame, known: set[str]) -> None:
    for column in frame.columns:
        if column in known:
            continue
        s = frame.get_column(column)
        errors.add(
            s.is_not_null() & (s != ""),
            column,
            "unknown_field",
            f"{column} is not a field of this resource",
        )


def registry_code_validator(session: Session):
    """A ``code_validator`` backed by the code registry: the scheme's current release, distinct values once."""

    def validate(scheme: str, values: list[str]) -> dict[str, dict]:
        try:
            validator = get_validator(session, scheme)
        except NotFound as exc:
            raise Invalid(f"the code scheme {scheme!r} cannot validate codes: {exc.message}") from exc
        return {r["input"]: r for r in validator.validate(values) if not r["valid"]}

    return validate


def validate_records(
    session: Session,
    resource_code: str,
    *,
    records: list | None = None,
    csv: bytes | None = None,
    max_rows: int | None = None,
) -> dict:
    """Validate JSON records or a CSV body against a resource's fields.

    Returns the contract's ``{"resource", "total", "valid", "invalid", "results": [{"index", "valid",
    "errors": [{"field", "type", "message"}]}]}``. Raises NotFound (resource), Invalid (unreadable CSV),
    TooLarge (more than ``max_rows`` records).
    """
    resource = get_resource(session, resource_code)
    fields = [f.to_dict() for f in resource.fields]
    table = read_csv(csv) if csv is not None else from_records(records or [])
    if max_rows is not None and table.frame.height > max_rows:
        raise TooLarge(f"{table.frame.height} records is more than this server takes at once ({max_rows})")
    by_row = check(table, fields, registry_code_validator(session))
    n = table.frame.height
    no_errors: list = []  # shared by every valid row's result (results are read-only)
    collecting = gc.isenabled()
    gc.disable()  # 100,000 small dicts: the cyclic collector would rescan them again and again
    try:
        results = [{"index": i, "valid": True, "errors": no_errors} for i in range(n)]
        for i, errs in by_row.items():
            results[i] = {"index": i, "valid": False, "errors": errs}
    finally:
        if collecting:
            gc.enable()
    return {
        "resource": resource.code,
        "total": n,
        "valid": n - len(by_row),
        "invalid": len(by_row),
        "results": results,
    }
