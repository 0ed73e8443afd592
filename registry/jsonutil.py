"""Canonical JSON: the one serialisation used for hashes, ETags and audit payloads."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
from typing import Any

from registry.errors import Stale


def jsonable(value: Any) -> Any:
    """Convert a value to plain JSON types (dates to ISO 8601, decimals to numbers, sets sorted)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(jsonable(v) for v in value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(timespec="microseconds").rstrip("0").rstrip(".") + "Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def canonical(value: Any) -> str:
    """The contract's canonical form: sorted keys, no spaces, UTF-8 characters kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


def etag_of(representation: dict) -> str:
    """A strong ETag for an object's JSON representation (quoted, as HTTP wants it)."""
    return '"' + sha256_hex(canonical(jsonable(representation)))[:32] + '"'


def check_if_match(if_match: str | None, current: dict) -> None:
    """Raise Stale unless ``if_match`` is absent, ``*``, or the current representation's ETag."""
    if not if_match or if_match.strip() == "*":
        return
    wanted = {t.strip().removeprefix("W/") for t in if_match.split(",")}
    if etag_of(current) not in wanted:
        raise Stale(
            "this object was changed since you read it (If-Match is stale); reload it and apply your change again"
        )
