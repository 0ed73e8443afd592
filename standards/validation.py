"""Code validation: the batch validator over a release's in-memory index (``standards.index``).

The public interface other areas code against (keep it stable):
``get_validator(session, scheme_id, release=None) -> Validator``; ``Validator.scheme``, ``Validator.release``
and ``Validator.validate(codes, attributes=None) -> list[RESULT]`` (RESULT as in the contract, with ``index``).
"""

from __future__ import annotations

import gc
import unicodedata

import orjson
from sqlalchemy.orm import Session

from registry.errors import Invalid, TooLarge
from registry.messages import msg
from standards.formats import CheckDigitError, Malformed
from standards.index import ReleaseIndex, release_index

RESULT_KEYS = ("index", "input", "code", "valid", "status", "name", "successor", "errors")


class Validator:
    """Validates batches of codes against one release (or a format-only scheme) without touching the database."""

    def __init__(self, index: ReleaseIndex):
        self.index = index
        self.scheme: str = index.scheme.id
        self.release: str | None = index.release
        self._scheme = index.scheme

    def validate(self, codes: list, attributes: list | None = None) -> list[dict]:
        """One RESULT per code, in input order: ``{"index", "input", "code", "valid", "status", "name",
        "successor", "errors"}``. ``attributes[i]`` (a dict or None) is checked against code i's template."""
        scheme = self._scheme
        fragments = self.index.fragments
        normalise_upper = scheme.case == "upper"
        nfkc = unicodedata.normalize
        out = []
        append = out.append
        slow = self._slow
        # 100,000 new dicts would trigger the cyclic collector over and over; none of them form cycles
        pause_gc = len(codes) > 5000 and gc.isenabled()
        if pause_gc:
            gc.disable()
        try:
            for i, raw in enumerate(codes):
                if type(raw) is str:
                    s = raw if raw.isascii() else nfkc("NFKC", raw)
                    s = s.strip()
                    if normalise_upper:
                        s = s.upper()
                    frag = fragments.get(s)
                    if frag is not None:
                        append({"index": i, "input": raw, **frag})
                        continue
                append(slow(i, raw))
        finally:
            if pause_gc:
                gc.enable()
        if attributes is not None:
            self._check_attributes(out, attributes)
        return out

    def validate_json(self, codes: list) -> bytes:
        """The contract's whole batch response as JSON bytes, written without building a dict per code.

        The hot path of ``POST /api/v1/validate/codes``: same results as ``validate``, in input order.
        """
        scheme = self._scheme
        fragments = self.index.json_fragments()
        normalise_upper = scheme.case == "upper"
        nfkc = unicodedata.normalize
        dumps = orjson.dumps
        parts = []
        append = parts.append
        judge = self._judge
        memo: dict[str, tuple[bytes, bool]] = {}
        valid = 0
        for i, raw in enumerate(codes):
            if type(raw) is str:
                s = raw if raw.isascii() else nfkc("NFKC", raw)
                s = s.strip()
                if normalise_upper:
                    s = s.upper()
                frag = fragments.get(s)
                if frag is not None:
                    if s == raw:
                        append(b'{"index":%d,%b' % (i, frag[2]))
                    else:
                        append(b'{"index":%d,"input":%b%b' % (i, dumps(raw), frag[0]))
                    valid += frag[1]
                    continue
            # inputs outside the release are judged once per distinct spelling (batches repeat codes)
            key = raw if type(raw) is str else None
            frag = memo.get(key) if key is not None else None
            if frag is None:
                judged = judge(raw)
                frag = (b'"input":' + dumps(raw) + b"," + dumps(judged)[1:], judged["valid"])
                if key is not None:
                    memo[key] = frag
            append(b'{"index":%d,%b' % (i, frag[0]))
            valid += frag[1]
        head = dumps(
            {
                "scheme": self.scheme,
                "release": self.release,
                "total": len(parts),
                "valid": valid,
                "invalid": len(parts) - valid,
            }
        )
        return b"".join((head[:-1], b',"results":[', b",".join(parts), b"]}"))

    def validate_one(self, code: str, attributes: dict | None = None) -> dict:
        """One RESULT without ``index``."""
        result = self.validate([code], None if attributes is None else [attributes])[0]
        result.pop("index")
        return result

    def _slow(self, i: int, raw) -> dict:
        return {"index": i, "input": raw, **self._judge(raw)}

    def _judge(self, raw) -> dict:
        """The result (without ``index`` and ``input``) for input the precomputed fragments do not cover."""
        scheme = self._scheme
        if not isinstance(raw, str):
            return _result(None, "malformed", "malformed", msg("code.not_string", "a code must be a string"))
        s = scheme.normalise(raw)
        try:
            parsed = scheme.parse(s)
        except CheckDigitError as exc:
            reason = exc.args[0] if exc.args else str(exc)
            return _result(
                s, "malformed", "check_digit", msg("code.reason", "{code}: {reason}", code=s, reason=reason)
            )
        except Malformed as exc:
            reason = exc.args[0] if exc.args else str(exc)
            return _result(
                s,
                "malformed",
                "malformed",
                msg(
                    "code.malformed",
                    "{text!r} is not a {scheme} code: {reason}",
                    text=s,
                    scheme=scheme.id,
                    reason=reason,
                ),
            )
        frag = self.index.fragments.get(parsed.code)
        if frag is not None:
            return frag
        code = parsed.code
        if scheme.has_code_list and self.index.release_id is not None:
            parent = self.index.entries.get(parsed.parent) if parsed.parent else None
            if (
                scheme.kind == "digits"
                and scheme.free_last_level
                and parent is not None
                and parsed.level == len(scheme.lengths)
            ):
                return self._format_ok(code, parsed.level, parent.name)
            return _result(
                code,
                "unknown",
                "unknown",
                msg(
                    "code.unknown",
                    "{code} is not in {scheme} release {release}",
                    code=code,
                    scheme=scheme.id,
                    release=self.index.release,
                ),
            )
        return self._format_ok(code, parsed.level, None)

    def _format_ok(self, code, level, name) -> dict:
        scheme = self._scheme
        if not scheme.assignable(level):
            levels = ", ".join(map(str, scheme.assignable_levels or ()))
            return {
                **_result(
                    code,
                    "active",
                    "not_assignable",
                    msg(
                        "code.not_assignable",
                        "{code} is a level-{level} category; items carry codes of level {levels}",
                        code=code,
                        level=level,
                        levels=levels,
                    ),
                ),
                "name": name,
            }
        return {
            "code": code,
            "valid": True,
            "status": "active",
            "name": name,
            "successor": None,
            "errors": [],
        }

    def _check_attributes(self, results: list[dict], attributes: list) -> None:
        entries = self.index.entries
        for result, attrs in zip(results, attributes, strict=False):
            if attrs is None or result["status"] in ("malformed", "unknown"):
                continue
            entry = entries.get(result["code"])
            problems = check_attributes(entry.template if entry else None, attrs)
            if problems:
                result["valid"] = False
                result["errors"] = list(result["errors"]) + [
                    {"type": "attribute", "message": p} for p in problems
                ]


def _result(code, status, etype, message) -> dict:
    return {
        "code": code,
        "valid": False,
        "status": status,
        "name": None,
        "successor": None,
        "errors": [{"type": etype, "message": message}],
    }


def check_attributes(template: list | None, values: dict) -> list[str]:
    """What is wrong with ``values`` for an attribute template (empty list when they fit)."""
    if not isinstance(values, dict):
        return ["attributes must be an object of name → value"]
    problems = []
    spec = {a["name"]: a for a in template or ()}
    for name, attr in spec.items():
        if name not in values or values[name] in (None, ""):
            problems += _missing(name, attr)
            continue
        kind = attr.get("type", "string")
        if kind == "enum":
            problems += _check_enum(name, attr, values[name])
        elif kind in ("number", "integer"):
            problems += _check_number(name, attr, values[name], integer=kind == "integer")
        elif not isinstance(values[name], str):
            problems.append(msg("attr.text", "{name} must be text", name=name))
    for name in values:
        if name not in spec:
            problems.append(
                msg("attr.unknown", "{name} is not an attribute of this code's template", name=name)
            )
    return problems


def _missing(name: str, attr: dict) -> list[str]:
    if not attr.get("required"):
        return []
    if attr.get("unit"):
        return [msg("attr.required_unit", "{name} is required ({unit})", name=name, unit=attr["unit"])]
    return [msg("attr.required", "{name} is required", name=name)]


def _check_enum(name: str, attr: dict, value) -> list[str]:
    allowed = attr.get("values") or []
    if value in allowed:
        return []
    return [
        msg(
            "attr.enum",
            "{name} {value!r} is not one of {allowed}",
            name=name,
            value=value,
            allowed=", ".join(map(str, allowed)),
        )
    ]


def _check_number(name: str, attr: dict, raw, *, integer: bool) -> list[str]:
    value = raw
    if isinstance(value, str):
        try:
            value = float(unicodedata.normalize("NFKC", value).strip())
        except ValueError:
            return [msg("attr.number_not", "{name} must be a number, not {value!r}", name=name, value=raw)]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return [msg("attr.number", "{name} must be a number", name=name)]
    problems = []
    if integer and value != int(value):
        problems.append(msg("attr.integer", "{name} must be a whole number", name=name))
    unit = f" {attr['unit']}" if attr.get("unit") else ""
    for bound, key, words in (("minimum", "attr.below", "below"), ("maximum", "attr.above", "above")):
        limit = attr.get(bound)
        if limit is None or (value >= limit if bound == "minimum" else value <= limit):
            continue
        problems.append(
            msg(
                key,
                "{name} {value:g}{unit} is " + words + " the " + bound + " {limit}{unit}",
                name=name,
                value=value,
                unit=unit,
                limit=limit,
            )
        )
    return problems


def get_validator(session: Session, scheme_id: str, release: str | None = None) -> Validator:
    """A validator for ``scheme_id`` at ``release`` (default: the current published release).

    Raises registry.errors.NotFound for an unknown scheme, an unknown release, or a scheme with a code
    list but no published release. Uses one cheap query when the release's cached index is current.
    """
    return Validator(release_index(session, scheme_id, release))


def parse_batch(body, max_batch: int) -> tuple[str, str | None, list, list | None]:
    """Check a validation request body (``{"scheme", "release"?, "codes": [...]}`` or ``{"scheme", "items":
    [{"code", "attributes"?}]}``) and return (scheme, release, codes, attributes or None).

    Raises Invalid (422) naming what is wrong, TooLarge (413) above ``max_batch`` codes.
    """
    if not isinstance(body, dict):
        raise Invalid("the body must be a JSON object with 'scheme' and 'codes' (or 'items')")
    unknown = set(body) - {"scheme", "release", "codes", "items"}
    errors: dict[str, list[str]] = {k: ["unknown field"] for k in sorted(unknown)}
    scheme, release = body.get("scheme"), body.get("release")
    if not isinstance(scheme, str) or not scheme:
        errors["scheme"] = ["a scheme id is required, e.g. szgws-me"]
    if release is not None and not isinstance(release, str):
        errors["release"] = ["a release name (string) or absent"]
    codes, items = body.get("codes"), body.get("items")
    if (codes is None) == (items is None):
        errors["codes"] = [
            "send either 'codes' (a list of strings) or 'items' (a list of {code, attributes})"
        ]
    elif codes is not None and not isinstance(codes, list):
        errors["codes"] = ["must be a list of strings"]
    elif items is not None and not isinstance(items, list):
        errors["items"] = ["must be a list of {code, attributes} objects"]
    if errors:
        raise Invalid(
            "the validation request is not valid: " + "; ".join(f"{k}: {v[0]}" for k, v in errors.items()),
            errors,
        )
    n = len(codes if codes is not None else items)
    if n > max_batch:
        raise TooLarge(
            f"{n} codes in one request; at most {max_batch} (YIMA_MAX_BATCH) are accepted: split the batch"
        )
    if codes is not None:
        return scheme, release, codes, None
    out_codes, attributes, bad = [], [], {}
    for i, item in enumerate(items):
        if not isinstance(item, dict) or set(item) - {"code", "attributes"}:
            bad[str(i)] = ["an object with 'code' and optional 'attributes'"]
            continue
        attrs = item.get("attributes")
        if attrs is not None and not isinstance(attrs, dict):
            bad[str(i)] = ["'attributes' must be an object"]
            continue
        out_codes.append(item.get("code"))
        attributes.append(attrs)
    if bad:
        raise Invalid(f"{len(bad)} item(s) are not {{code, attributes}} objects", {"items": bad})
    return scheme, release, out_codes, attributes


def validate_batch(
    session: Session, scheme: str, codes: list, attributes=None, release: str | None = None
) -> dict:
    """The contract's batch response: ``{"scheme", "release", "total", "valid", "invalid", "results"}``."""
    validator = get_validator(session, scheme, release)
    results = validator.validate(codes, attributes)
    valid = sum(1 for r in results if r["valid"])
    return {
        "scheme": validator.scheme,
        "release": validator.release,
        "total": len(results),
        "valid": valid,
        "invalid": len(results) - valid,
        "results": results,
    }
