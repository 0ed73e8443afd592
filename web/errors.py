"""The one place errors become HTTP: the contract's JSON error shape for the API, HTML pages for browsing."""

from __future__ import annotations

import logging
import uuid

from flask import Flask, jsonify, make_response, render_template, request
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
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


def handle_operational_error(exc: OperationalError):
    log.exception("database error")
    return error_response(503, "the database is busy or unavailable; try again shortly")


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
    app.register_error_handler(DataError, handle_data_error)
    app.register_error_handler(Exception, handle_unexpected)
