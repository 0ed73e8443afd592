"""Domain errors raised by services; ``web/errors.py`` maps them to HTTP in one place."""

from __future__ import annotations


class YimaError(Exception):
    """Base of every error a service raises on purpose. ``status`` is the HTTP status it maps to."""

    status = 400

    def __init__(self, message: str, errors: dict | list | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors


class Invalid(YimaError):
    """The input is well formed but breaks a rule (422). ``errors`` says which field and why."""

    status = 422


class NotFound(YimaError):
    status = 404


class Conflict(YimaError):
    """A duplicate key or a change that would break a reference (409)."""

    status = 409


class Unauthorized(YimaError):
    status = 401


class Forbidden(YimaError):
    status = 403


class Stale(YimaError):
    """The caller's ``If-Match`` no longer matches the stored object (412)."""

    status = 412


class TooLarge(YimaError):
    status = 413


class UnsupportedMediaType(YimaError):
    status = 415


class HeadersTooLarge(YimaError):
    """A request header longer than the server reads (431)."""

    status = 431
