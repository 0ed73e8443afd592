"""The one place errors become HTTP: the contract's JSON error shape for the API, HTML pages for browsing."""

from __future__ import annotations

import logging
import sqlite3
import uuid

import psycopg
from flask import Flask, jsonify, make_response, render_template, request
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from registry.errors import YimaError

log = logging.getLogger("yima")


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_body(status: int, message: str, errors=None) -> dict:
    body = {"code": status, "status": HTTP_STATUS_CODES.get(status, "Error"), "message": message}
    if errors:
        body["errors"] = errors
    return body


def error_response(status: int, message: str, errors=None, headers=None):
    if wants_json():
        response = jsonify(error_body(status, message, errors))
    else:
        response = make_response(
            render_template(
                "error.html",
                status=status,
                message=message,
                errors=errors,
                title=HTTP_STATUS_CODES.get(status, "Error"),
            )
        )
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


_MESSAGES = {
    400: "the request could not be understood",
    401: "this needs a token: send 'Authorization: Bearer TOKEN'",
    403: "your role does not allow this",
    404: "there is nothing at this address",
    405: "this address does not accept that method",
    413: "the request body is too large",
    415: "unsupported content type: send JSON ('Content-Type: application/json')",
    422: "the request has invalid values",
}


def handle_http_exception(exc: HTTPException):
    data = getattr(exc, "data", None) or {}
    errors = data.get("messages") or data.get("errors")
    message = data.get("message") or _MESSAGES.get(exc.code) or exc.description or exc.name
    if exc.code == 422 and errors:
        message = "the request has invalid values: " + _summarise(errors)
    headers = {}
    if exc.code == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
        headers["Allow"] = ", ".join(exc.valid_methods)
    headers.update(data.get("headers") or {})
    return error_response(exc.code or 500, message, errors, headers)


def _summarise(errors) -> str:
    parts = []

    def walk(prefix, value):
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(
                    f"{prefix}.{key}" if prefix and prefix not in ("json", "query", "form") else str(key), sub
                )
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            parts.append(f"{prefix}: {'; '.join(value)}")
        elif isinstance(value, list):
            for i, sub in enumerate(value):
                walk(f"{prefix}[{i}]", sub)
        else:
            parts.append(f"{prefix}: {value}")

    walk("", errors)
    text = ", ".join(parts[:5])
    return text + (f" (and {len(parts) - 5} more)" if len(parts) > 5 else "")


def handle_yima_error(exc: YimaError):
    return error_response(exc.status, exc.message, exc.errors)


def handle_integrity_error(exc: IntegrityError):
    log.info("integrity error: %s", exc.orig)
    return error_response(409, "this conflicts with an existing object (duplicate key or a broken reference)")


def handle_data_error(exc: DataError):
    log.info("data error: %s", exc.orig)
    return error_response(422, "a value is out of range or of the wrong kind for the database")


#: SQLite primary result codes (``sqlite_errorcode & 0xff``): a lock not granted within the busy
#: timeout, and the file or disk failing; anything else (a syntax error…) is a bug, not a 503
_SQLITE_BUSY = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED
_SQLITE_UNAVAILABLE = {7, 8, 10, 13, 14}  # NOMEM, READONLY, IOERR, FULL, CANTOPEN
#: PostgreSQL SQLSTATEs: lock/statement timeouts and lost races the client may retry, and a server
#: that is shutting down, starting, out of connections or gone (class 08, 53, 57P0x)
_PG_BUSY = {"55P03", "57014", "40001", "40P01"}
#: the two a transaction loses by bad luck rather than load: a deadlock victim and a serialization failure
#: (the other side went on and committed). Rolled back whole, the request is simply run again.
_PG_RETRYABLE = {"40P01", "40001"}
_PG_UNAVAILABLE_PREFIXES = ("08", "53", "57P")

_DB_MESSAGES = {
    "busy": "the database is busy: a lock was not granted in time; try again shortly",
    "unavailable": "the database is unavailable; try again shortly",
}


def database_trouble(exc: Exception) -> str | None:
    """``"busy"`` (a lock or statement timeout), ``"unavailable"`` (no connection, server down, disk) or
    None when the error is not the database's state but a fault in the statement (a 500 to fix)."""
    if isinstance(exc, SQLAlchemyTimeout):  # the connection pool had none free in time
        return "busy"
    if getattr(exc, "connection_invalidated", False):
        return "unavailable"
    orig = getattr(exc, "orig", None)
    if orig is None and type(exc).__module__.startswith(("psycopg", "sqlite3")):
        orig = exc  # raised by the driver itself, on a hot path that writes on its cursor
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:
        primary = code & 0xFF
        return (
            "busy" if primary in _SQLITE_BUSY else "unavailable" if primary in _SQLITE_UNAVAILABLE else None
        )
    if orig is not None and type(orig).__module__.startswith("psycopg"):
        state = getattr(orig, "sqlstate", None)
        if state in _PG_BUSY:
            return "busy"
        if state is None or state.startswith(_PG_UNAVAILABLE_PREFIXES):
            return "unavailable"  # no SQLSTATE: the connection itself failed (refused, closed)
    return None


def sqlstate(exc: BaseException) -> str | None:
    """The PostgreSQL SQLSTATE of a database error, wrapped by SQLAlchemy or raised by psycopg itself
    (the hot paths write on the driver's cursor); None for anything else."""
    for err in (exc, getattr(exc, "orig", None)):
        if err is not None and type(err).__module__.startswith("psycopg"):
            return getattr(err, "sqlstate", None)
    return None


def retryable(exc: BaseException) -> bool:
    """Whether ``exc`` lost a deadlock or a serialization race: its transaction was rolled back whole,
    so running the request again is safe and will most likely succeed."""
    return sqlstate(exc) in _PG_RETRYABLE


def handle_operational_error(exc: Exception):
    trouble = database_trouble(exc)
    if trouble is None:
        return handle_unexpected(exc)
    state = sqlstate(exc)
    log.warning(
        "database %s%s: %s",
        trouble,
        f" (SQLSTATE {state})" if state else "",
        getattr(exc, "orig", None) or exc,
    )
    return error_response(503, _DB_MESSAGES[trouble], headers={"Retry-After": "1"})


def handle_unexpected(exc: Exception):
    if isinstance(exc, HTTPException):
        return handle_http_exception(exc)
    ref = uuid.uuid4().hex[:12]
    log.exception("unexpected error (ref %s) on %s %s", ref, request.method, request.path)
    return error_response(500, f"an unexpected error occurred; it has been logged with reference {ref}")


def init_app(app: Flask) -> None:
    """Register every handler (after flask-smorest's, so these win for the whole app)."""
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(YimaError, handle_yima_error)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(OperationalError, handle_operational_error)
    app.register_error_handler(InterfaceError, handle_operational_error)
    app.register_error_handler(SQLAlchemyTimeout, handle_operational_error)
    app.register_error_handler(psycopg.OperationalError, handle_operational_error)
    app.register_error_handler(sqlite3.OperationalError, handle_operational_error)
    app.register_error_handler(DataError, handle_data_error)
    app.register_error_handler(Exception, handle_unexpected)
