"""Times as a steward reads them: in ``YIMA_TIMEZONE`` (default Asia/Shanghai) with the offset shown.

The services and the API keep UTC (``2025-05-01T12:45:00Z``); only the pages convert. A date typed into
a page (``as_of``) means 00:00 that day in the same zone: ``parse_local_date`` turns it into the naive
UTC instant the services take.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from web.context import config


def zone() -> ZoneInfo:
    return ZoneInfo(config().timezone)


def _instant(value) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        moment = value
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)  # the services store naive UTC
    return moment


def offset_label(moment: dt.datetime) -> str:
    """``+08:00`` (or ``UTC`` for a zero offset)."""
    text = moment.strftime("%z")
    return "UTC" if text in ("+0000", "") else f"{text[:3]}:{text[3:]}"


def local_text(value, *, seconds: bool = True) -> str:
    """``2025-05-01T12:45:00Z`` → ``2025-05-01 20:45:00 +08:00`` (text as stored when it is no time)."""
    moment = _instant(value)
    if moment is None:
        return "—" if value in (None, "") else str(value)
    local = moment.astimezone(zone())
    return local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M") + " " + offset_label(local)


def localtime(value, *, seconds: bool = True) -> Markup:
    """A ``<time>`` element: the local time with its offset, the UTC instant in ``datetime`` and the zone's
    name in ``title``."""
    moment = _instant(value)
    if moment is None:
        return Markup(escape("—" if value in (None, "") else value))
    utc = moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        utc, config().timezone, local_text(moment, seconds=seconds)
    )


def parse_local_date(value: str) -> dt.datetime:
    """``2025-04-01`` (a date picker's value) → the naive UTC instant of 00:00 that day in the zone; an
    ISO instant with its own offset is taken as it says. Raises ValueError."""
    raw = value.strip()
    if len(raw) == 10:
        day = dt.date.fromisoformat(raw)
        local = dt.datetime(day.year, day.month, day.day, tzinfo=zone())
    else:
        local = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        if local.tzinfo is None:
            local = local.replace(tzinfo=zone())
    return local.astimezone(dt.UTC).replace(tzinfo=None)
