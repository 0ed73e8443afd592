"""What the OpenAPI document says beyond flask-smorest: the bearer scheme, every status an operation answers, plain summaries.

Done once here, for every blueprint, from what the views already declare (``needs(role)``, path
parameters, a request body), so that a view never repeats it and the document cannot drift from the
code: the fuzzer (``make fuzz``) checks each status the server answers against this list.
"""

from __future__ import annotations

import re

from apispec import BasePlugin
from flask import Flask

BEARER = "bearerAuth"

#: reusable error responses (``#/components/responses/...``), each in the contract's error shape
ERROR_RESPONSES = {
    400: ("BAD_REQUEST", "The body is not valid JSON (or not valid data of its content type)"),
    401: ("UNAUTHORIZED", "No token, a malformed Authorization header, or an unknown or revoked token"),
    403: ("FORBIDDEN", "The token's role is too low for this"),
    404: ("NOT_FOUND", "Nothing at this address (or a referenced object does not exist)"),
    409: ("CONFLICT", "A duplicate key, a broken reference, or an object in the wrong state"),
    412: ("PRECONDITION_FAILED", "The If-Match header no longer matches the stored object"),
    413: ("CONTENT_TOO_LARGE", "The body (or a batch in it) is larger than the server takes"),
    414: (
        "URI_TOO_LONG",
        "The request line (method, URL and version) is over 8,190 bytes: send long inputs in a POST body",
    ),
    415: ("UNSUPPORTED_MEDIA_TYPE", "The body's Content-Type is not one this operation takes"),
    422: ("UNPROCESSABLE_ENTITY", "A parameter or a field of the body is invalid"),
    431: ("HEADERS_TOO_LARGE", "A request header is larger than the server takes"),
    503: ("SERVICE_UNAVAILABLE", "The database is busy or unavailable; try again shortly"),
}

_RST_LITERAL = re.compile(r"``(.+?)``", re.S)
_WRITES = {"post", "put", "patch", "delete"}


def plain(text: str) -> str:
    """A docstring's RST literals (````x````) as Markdown code (```x```), which Swagger UI renders."""
    return _RST_LITERAL.sub(r"`\1`", text)


def register(app: Flask, spec) -> None:
    """Add the bearer security scheme, the error responses and the plugin that uses them to ``spec``."""
    spec.components.security_scheme(
        BEARER,
        {
            "type": "http",
            "scheme": "bearer",
            "description": "A token from `yima token create NAME --role ROLE` (viewer < contributor < steward < admin)",
        },
    )
    for name, description in ERROR_RESPONSES.values():
        spec.components.response(
            name,
            {
                "description": description,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        )


class YimaSpecPlugin(BasePlugin):
    """An apispec plugin: completes each operation flask-smorest registers (see the module docstring)."""

    def __init__(self, app: Flask):
        super().__init__()
        self.app = app

    def operation_helper(self, path=None, operations=None, **kwargs):
        rule = kwargs.get("rule")
        view = self.app.view_functions.get(rule.endpoint) if rule is not None else None
        view_class = getattr(view, "view_class", None)
        for method, operation in (operations or {}).items():
            func = getattr(view_class, method, None) if view_class else view
            complete(
                operation,
                method=method,
                role=getattr(func, "_yima_role", None),
                in_path=bool(rule is not None and rule.arguments),
            )


def complete(operation: dict, *, method: str, role: str | None, in_path: bool) -> None:
    """Document one operation's security and every error status the server gives it (in place)."""
    for key in ("summary", "description"):
        if key in operation:
            operation[key] = plain(operation[key])
    responses = operation.setdefault("responses", {})
    # flask-smorest's catch-all ``default`` would make any status "documented": list the real ones instead
    responses.pop("default", None)
    if not any(str(status).startswith("2") for status in responses):
        # a view that declares no response schema yet: say at least that it answers 200
        responses["200"] = {"description": "OK"}
    statuses = {
        401,
        414,
        422,
        431,
        503,
    }  # a bad token, a URL too long (gunicorn) or a huge header on any request; NUL in the query or body; no database
    if role:
        operation["security"] = [{BEARER: []}]
        statuses |= {403}
    else:  # open unless YIMA_READ_REQUIRES_TOKEN=1; a token, when sent, is checked
        operation["security"] = [{}, {BEARER: []}]
    if in_path or operation.get("parameters") or method in _WRITES:
        statuses.add(404)  # the object at the path, or one a parameter or the body names
    if method in _WRITES:
        statuses |= {400, 409, 413, 415}
    if method in ("put", "patch", "delete"):
        statuses.add(412)
    for status in sorted(statuses):
        responses.setdefault(str(status), {"$ref": f"#/components/responses/{ERROR_RESPONSES[status][0]}"})
