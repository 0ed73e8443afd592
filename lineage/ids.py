"""Lineage's vocabulary: node ids, graph levels and directions, and the one ``as_of`` time parser."""

from __future__ import annotations

import datetime as dt
import re

from lineage.models import NODE_ID
from registry.db import utcnow
from registry.errors import Invalid
from registry.jsonutil import jsonable
from registry.messages import msg

NODE_TYPES = ("dataset", "job", "system")
LEVELS = ("dataset", "system")
#: the levels a graph query or an export may ask for: fields and column edges too
GRAPH_LEVELS = (*LEVELS, "column")
#: what a caller may write for a direction → the direction it means
DIRECTIONS = {
    "upstream": "upstream",
    "downstream": "downstream",
    "both": "both",
    "up": "upstream",
    "down": "downstream",
}
_BARE_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


# --- time -----------------------------------------------------------------------------------


def parse_time(value: str | dt.datetime | None, *, what: str = "as_of", default_now: bool = True):
    """An ISO 8601 date or date-time as naive UTC: the one reading of ``as_of`` (API, CLI, browse page).

    **A bare date (``2025-06-30``) is the start of that day, 00:00:00 UTC**: ``as_of=2025-06-30``
    and ``as_of=2025-06-30T00:00:00Z`` are the same instant, so an edge opened later on the 30th is
    not in it. A date-time without a zone is read as UTC; one with a zone is converted to UTC.
    None or "" gives now (or None when ``default_now`` is false). Raises Invalid for anything else,
    keyed by ``what``.
    """
    if value is None or value == "":
        return utcnow() if default_now else None
    if isinstance(value, dt.datetime):
        moment = value
    else:
        raw = str(value).strip()
        try:
            if _BARE_DATE.fullmatch(raw):
                moment = dt.datetime.fromisoformat(raw)
            else:
                moment = dt.datetime.fromisoformat(raw.replace("z", "Z"))
        except ValueError:
            raise Invalid(
                msg(
                    "lineage.not_date",
                    "{what} must be an ISO 8601 date or date-time, e.g. 2025-06-30T00:00:00Z (got {raw!r})",
                    what=what,
                    raw=raw,
                ),
                {what: ["not an ISO 8601 date-time"]},
            ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


def iso(moment: dt.datetime | None) -> str | None:
    """Naive UTC → ``2025-05-01T00:00:00Z`` (microseconds only when present)."""
    return None if moment is None else jsonable(moment)


# --- node ids -------------------------------------------------------------------------------


def dataset_id(namespace: str, name: str) -> str:
    return f"dataset:{namespace}:{name}"


def job_id(namespace: str, name: str) -> str:
    return f"job:{namespace}:{name}"


def split_node_id(node: str, *, what: str = "node", types=NODE_TYPES) -> tuple[str, str, str]:
    """``dataset:{namespace}:{name}`` → (type, namespace, name); ``system:{code}`` → ("system", "", code).

    The name is what follows the last colon (namespaces such as ``postgres://host:5432`` keep theirs).
    Raises Invalid for a malformed id or a type not in ``types``.
    """
    kind, sep, rest = (node or "").partition(":")
    if not sep or kind not in NODE_TYPES or not rest:
        raise Invalid(
            msg(
                "lineage.not_node_id",
                "{what} must be a node id: dataset:{{namespace}}:{{name}}, job:{{namespace}}:{{name}} or "
                "system:{{code}} (got {node!r})",
                what=what,
                node=node,
            ),
            {what: ["not a node id"]},
        )
    if kind not in types:
        raise Invalid(
            f"{what} must be a {' or '.join(types)} node (got {node!r})", {what: [f"not a {types[0]}"]}
        )
    if kind == "system":
        return kind, "", rest
    namespace, sep, name = rest.rpartition(":")
    if not sep or not namespace or not name:
        raise Invalid(
            f"{what} must name a namespace and a name: {kind}:{{namespace}}:{{name}} (got {node!r})",
            {what: ["missing namespace or name"]},
        )
    if len(node) > NODE_ID:
        raise Invalid(f"{what} is longer than {NODE_ID} characters", {what: ["too long"]})
    return kind, namespace, name


# --- query vocabulary -----------------------------------------------------------------------


def check_level(level: str | None) -> str:
    """``level`` as given, if it is one of LEVELS. Raises Invalid."""
    if level not in LEVELS:
        raise Invalid(f"level must be one of {', '.join(LEVELS)}", {"level": [f"one of {LEVELS}"]})
    return level


def check_direction(direction: str | None) -> str:
    """upstream, downstream or both, from any spelling in DIRECTIONS (None: both). Raises Invalid."""
    value = DIRECTIONS.get((direction or "both").lower())
    if value is None:
        raise Invalid(
            "direction must be upstream, downstream or both (up, down)",
            {"direction": ["upstream|downstream|both"]},
        )
    return value
