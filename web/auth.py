"""Bearer-token authentication for the API, and the read gate of ``YIMA_READ_REQUIRES_TOKEN``."""

from __future__ import annotations

from flask import Flask, g, request

from registry.errors import Unauthorized
from registry.tokens import identify
from web.context import Principal, config, db

#: reachable without a token even when reads are closed (liveness probes)
OPEN_PATHS = {"/api/v1/health"}


def load_principal() -> None:
    g.principal = None
    header = request.headers.get("Authorization")
    if header:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthorized("the Authorization header must be 'Bearer TOKEN'")
        found = identify(db().engine, secret.strip())
        if found is None:
            raise Unauthorized("the token is unknown or has been revoked")
        g.principal = Principal(*found)
    else:
        for extra in _EXTRA_LOADERS:
            g.principal = g.principal or extra()
    if (
        config().read_requires_token
        and g.principal is None
        and request.path.startswith("/api/")
        and request.path not in OPEN_PATHS
    ):
        raise Unauthorized(
            "this server requires a token for every request: send 'Authorization: Bearer TOKEN'"
        )


#: other ways to identify the caller (the browse pages' login session adds one)
_EXTRA_LOADERS: list = []


def add_principal_loader(fn) -> None:
    """Add a way to identify the caller; adding the same one again does nothing (apps are built many times)."""
    if fn not in _EXTRA_LOADERS:
        _EXTRA_LOADERS.append(fn)


def init_app(app: Flask) -> None:
    app.before_request(load_principal)
