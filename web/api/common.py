"""What every API view shares: paging arguments, the list envelope, ETags, accepted content types, gzip bodies."""

from __future__ import annotations

import gzip
import io
import json
import zlib

from flask import Flask, current_app, request
from marshmallow import Schema, fields

from registry.errors import HeadersTooLarge, Invalid, TooLarge, UnsupportedMediaType, YimaError
from registry.jsonutil import etag_of
from registry.paging import PageArgsSchema, PageEnvelopeSchema
from web.errors import error_body

__all__ = ["PageArgsSchema", "page_schema", "with_etag", "accepts", "init_app", "MAX_HEADER_BYTES"]

#: the longest request header Yima reads (a token is 48 characters); the WSGI server lets longer ones
#: through up to ``web.server.SERVER_MAX_HEADER_BYTES`` so that Yima answers them in its own error shape
MAX_HEADER_BYTES = 8190


def page_schema(item_schema: type[Schema], name: str) -> type[Schema]:
    """The list envelope ``{"items", "total", "page", "per_page"}`` for OpenAPI."""
    return type(name, (PageEnvelopeSchema,), {"items": fields.List(fields.Nested(item_schema))})


def with_etag(representation: dict, status: int = 200):
    """A view's return value: the object, its status and its ETag header."""
    return representation, status, {"ETag": etag_of(representation)}


def accepts(*mimetypes: str):
    """Declare the body content types a view method accepts (default: JSON only)."""

    def decorate(fn):
        fn._yima_accepts = set(mimetypes)
        return fn

    return decorate


def _accepted_types() -> set[str]:
    view = current_app.view_functions.get(request.endpoint or "")
    cls = getattr(view, "view_class", None)
    method = getattr(cls, request.method.lower(), None) if cls else view
    return getattr(method, "_yima_accepts", None) or {"application/json"}


def check_content_type() -> None:
    """415 for a body the view does not take (before any parsing)."""
    if not request.path.startswith("/api/") or request.method not in ("POST", "PUT", "PATCH"):
        return
    if not request.content_length and not request.headers.get("Transfer-Encoding"):
        return
    mimetype = request.mimetype or ""
    accepted = _accepted_types()
    if mimetype not in accepted and not (mimetype.endswith("+json") and "application/json" in accepted):
        raise UnsupportedMediaType(
            f"unsupported content type {mimetype or '(none)'!r}; this endpoint takes {', '.join(sorted(accepted))}"
        )


def limit_headers() -> None:
    """431 for a header longer than ``MAX_HEADER_BYTES`` (checked before the token is even looked up).
    The WSGI environ's values are measured first (cheap); only an oversized one names its header."""
    if all(len(value) <= MAX_HEADER_BYTES for value in request.environ.values() if isinstance(value, str)):
        return
    for name, value in request.headers.items():
        if len(value) > MAX_HEADER_BYTES:
            raise HeadersTooLarge(
                f"the {name} header is {len(value)} bytes; headers are limited to {MAX_HEADER_BYTES} bytes each"
            )


def reject_nul_in_query() -> None:
    """422 for a NUL character in a query parameter: it means nothing in any of them, SQLite's full-text
    search reads it as the end of its query (an error) and PostgreSQL refuses it in text."""
    if b"%00" not in request.query_string:  # the browse pages' search too: same service, same FTS
        return
    bad = sorted({key for key, value in request.args.items(multi=True) if "\x00" in key or "\x00" in value})
    if bad:
        raise Invalid(
            "a query parameter contains a NUL character (%00)",
            {"query": {key.replace("\x00", "\\0"): ["contains a NUL character"] for key in bad}},
        )


def reject_nul_in_json_body() -> None:
    """422 for a NUL character in a JSON body's key or string (written ``\\u0000``): it means nothing in
    any of them, and PostgreSQL refuses it in text — without this, the same request stored on SQLite
    failed on PostgreSQL with a 500. The body's bytes are searched first (a string that merely holds a
    backslash and ``u0000`` is a false alarm, cleared by reading the body)."""
    if request.method not in ("POST", "PUT", "PATCH") or not request.is_json:
        return
    data = request.get_data(cache=True)
    if b"\\u0000" not in data:
        return
    try:
        body = json.loads(data)
    except ValueError:
        return  # not JSON: the endpoint says so
    path = _nul_path(body, "")
    if path is not None:
        raise Invalid(
            "the body contains a NUL character (\\u0000)",
            {"json": {path or "(body)": ["contains a NUL character"]}},
        )


def _nul_path(value, path: str) -> str | None:
    """Where the first NUL character is in a JSON value (a key or a string), as ``a.b[2]``; None if nowhere."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if "\x00" in key:
                return here.replace("\x00", "\\0")
            found = _nul_path(item, here)
            if found is not None:
                return found
    elif isinstance(value, list):
        for n, item in enumerate(value):
            found = _nul_path(item, f"{path}[{n}]")
            if found is not None:
                return found
    return None


class GzipRequestMiddleware:
    """Inflate ``Content-Encoding: gzip`` request bodies (the OpenLineage client compresses), within the size limit."""

    def __init__(self, wsgi_app, max_bytes: int):
        self.wsgi_app = wsgi_app
        self.max_bytes = max_bytes

    def __call__(self, environ, start_response):
        encoding = environ.get("HTTP_CONTENT_ENCODING", "").lower()
        if encoding in ("gzip", "deflate") and environ.get("PATH_INFO", "").startswith("/api/"):
            raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0) or -1)
            try:
                decomp = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
                body = decomp.decompress(raw, self.max_bytes + 1)
                if len(body) > self.max_bytes or decomp.unconsumed_tail:
                    return _plain_error(
                        start_response, TooLarge("the request body is too large once decompressed")
                    )
            except (zlib.error, gzip.BadGzipFile, EOFError):
                return _plain_error(
                    start_response, YimaError(f"the request body is not valid {encoding} data")
                )
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            environ.pop("HTTP_CONTENT_ENCODING", None)
        return self.wsgi_app(environ, start_response)


def _plain_error(start_response, exc: YimaError):
    body = json.dumps(error_body(exc.status, exc.message), ensure_ascii=False).encode()
    reason = {400: "Bad Request", 413: "Request Entity Too Large"}.get(exc.status, "Error")
    start_response(
        f"{exc.status} {reason}", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


def init_app(app: Flask) -> None:
    # first of all the request hooks: before the token in an oversized Authorization header is looked up
    app.before_request_funcs.setdefault(None, []).insert(0, limit_headers)
    app.before_request(check_content_type)
    app.before_request(reject_nul_in_query)
    app.before_request(reject_nul_in_json_body)
    app.wsgi_app = GzipRequestMiddleware(app.wsgi_app, app.config["MAX_CONTENT_LENGTH"])
