"""Event type patterns: ``*`` wildcards over ``{entity_type}.{action}``, checked in SQL first and exactly in Python."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, or_

from registry.errors import Invalid

#: what a pattern may hold: the characters of entity types and actions, dots and ``*``
PATTERN = re.compile(r"^[A-Za-z0-9_.*:-]{1,120}$")
MAX_PATTERNS = 50


def validate(patterns: Iterable[str] | None, *, field: str = "events") -> list[str]:
    """The patterns, trimmed, duplicates dropped (order kept). Raises Invalid naming ``field``."""
    if patterns is None or isinstance(patterns, str):
        raise Invalid(f"{field} must be a list of event type patterns", {field: ["a list of patterns"]})
    found: list[str] = []
    for raw in patterns:
        pattern = str(raw).strip()
        if not PATTERN.match(pattern):
            raise Invalid(
                f"{field}: {str(raw)[:130]!r} is not an event type pattern "
                "(letters, digits, '_', '-', ':', '.', and '*' for any text, e.g. 'resource.*')",
                {field: [f"bad pattern {str(raw)[:130]!r}"]},
            )
        if pattern not in found:
            found.append(pattern)
    if not found or len(found) > MAX_PATTERNS:
        raise Invalid(
            f"{field} needs 1 to {MAX_PATTERNS} patterns ('*' is every event)",
            {field: [f"1 to {MAX_PATTERNS} patterns"]},
        )
    return found


def parse_list(text: str | None) -> list[str] | None:
    """``types=resource.*,release.publish`` as a list (None when absent or empty: every type)."""
    if not text or not text.strip():
        return None
    return validate([p for p in text.split(",") if p.strip()], field="types")


class Matcher:
    """Compiled patterns: ``matches(type)`` exactly, and ``sql(expr)`` as a LIKE filter that may let more through."""

    def __init__(self, patterns: Sequence[str] | None):
        self.patterns = list(patterns or ["*"])
        self.everything = "*" in self.patterns
        self._regex = re.compile(
            "|".join("(?:" + ".*".join(map(re.escape, p.split("*"))) + ")" for p in self.patterns)
        )

    def matches(self, event_type: str) -> bool:
        return self.everything or self._regex.fullmatch(event_type) is not None

    def names(self, event_type: str) -> bool:
        """Whether a pattern other than the bare ``*`` matches: how the events that are not audit
        entries (``audit.checkpoint``) are asked for, so ``*`` keeps meaning "every change"."""
        named = [p for p in self.patterns if p != "*"]
        return any(re.fullmatch(".*".join(map(re.escape, p.split("*"))), event_type) for p in named)

    def sql(self, expr) -> ColumnElement[bool] | None:
        """A WHERE clause over ``expr`` (the type as SQL text), or None for every type.

        LIKE is case-insensitive on SQLite, so rows it lets through are checked again with ``matches``.
        """
        if self.everything:
            return None
        return or_(*(expr.like(_like(p), escape="\\") for p in self.patterns))


def _like(pattern: str) -> str:
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")
