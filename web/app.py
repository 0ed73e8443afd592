"""``create_app``: the only place a Yima Flask app is built."""

from __future__ import annotations

import logging
import random
import time
import weakref
from inspect import iscoroutinefunction
from pathlib import Path

from flask import Flask, g, request
from flask.sessions import SecureCookieSessionInterface
from flask_smorest import Api
from werkzeug.routing import IntegerConverter

from registry.config import Config
from registry.db import Database
from registry.signed_note import signer_for
from standards import formats
from web import auth, browse, domains, errors, review_gate
from web.api import (
    audit,
    catalog,
    changes,
    common,
    evidence,
    health,
    lineage,
    openapi,
    organizations,
    requests,
    standards,
    trace,
    webhooks,
)
from web.context import Yima
from webhooks import checkpoint_events

log = logging.getLogger("yima")

#: the API's modules, each exposing ``blp`` or a list ``blueprints`` (registered in this order)
API_MODULES = (
    health,
    audit,
    evidence,
    organizations,
    standards,
    catalog,
    lineage,
    requests,
    trace,
    webhooks,
    changes,
)


#: how many times a request whose transaction lost a deadlock or a serialization race is run again
#: before its caller is answered 503 (each try rolled back whole; the winner has committed by then)
RETRIES = 3


class YimaFlask(Flask):
    """Flask that runs a request again when PostgreSQL chose its transaction as a deadlock victim or
    failed it for serialization: bad luck among concurrent writers, not load, so the caller should
    not see it (every view's write is one transaction, rolled back whole before the retry)."""

    def dispatch_request(self):
        for attempt in range(RETRIES + 1):
            try:
                return super().dispatch_request()
            except Exception as exc:
                if attempt == RETRIES or not errors.retryable(exc):
                    raise
                read = g.pop("db_session", None)
                if read is not None:
                    read.close()
                log.info(
                    "%s %s lost a database race (SQLSTATE %s): running it again (%d of %d)",
                    request.method,
                    request.path,
                    errors.sqlstate(exc),
                    attempt + 1,
                    RETRIES,
                )
                time.sleep(random.uniform(0.005, 0.05) * (attempt + 1))  # let the winner's commit land
        raise AssertionError("unreachable")

    def ensure_sync(self, func):
        """Flask's, with the answer per function remembered: Flask asks it of every hook and view on
        every request (15 times per API request here), and ``inspect.iscoroutinefunction`` unwraps
        each one afresh. Keyed weakly by the plain function (a bound method's ``__func__``)."""
        target = getattr(func, "__func__", func)
        try:
            is_async = _ASYNC[target]
        except (KeyError, TypeError):  # not seen yet, or not weakly referenceable
            is_async = iscoroutinefunction(func)
            try:
                _ASYNC[target] = is_async
            except TypeError:
                pass
        return self.async_to_sync(func) if is_async else func


_ASYNC: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class _CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing serializer built once per key instead of on
    every request (each API request opens a session, even without a cookie)."""

    def get_signing_serializer(self, app):
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = getattr(self, "_cached", None)
        if cached is None or cached[0] != key:
            cached = self._cached = (key, super().get_signing_serializer(app))
        return cached[1]


class BoundedIntConverter(IntegerConverter):
    """``<int:…>`` limited to what a BIGINT column holds."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(map, *args, **kwargs)


def create_app(config: Config | dict | None = None) -> Flask:
    """Build the app from ``config`` (a Config, a dict of overrides, or None for the environment)."""
    if isinstance(config, dict):
        cfg = Config.from_env(**config)
    else:
        cfg = config or Config.from_env()
    cfg = cfg.with_secret()
    app = _flask_app(cfg)
    app.extensions["yima"] = Yima(
        cfg, Database(cfg.database_url, sqlite_busy_timeout=cfg.sqlite_busy_timeout)
    )
    # evidence: the checkpoint key, generated on first start (a bad one fails here); its checkpoints
    # reach the webhooks and the feed that ask for audit.checkpoint
    checkpoint_events.install(app.extensions["yima"].db, signer_for(cfg), cfg.checkpoint_event_seconds)
    formats.configure(cfg.scheme_paths)  # the bundled scheme definitions plus YIMA_SCHEME_PATH
    domains.check()  # every audited entity type is registered, or verify would skip it

    _register_api(app)
    auth.init_app(app)
    common.init_app(app)
    errors.init_app(app)
    browse.init_app(app)
    review_gate.init_app(app)  # after the principal is known (auth, the browse login)

    @app.teardown_appcontext
    def _close_session(_exc):
        session = g.pop("db_session", None)
        if session is not None:
            session.close()

    return app


def _flask_app(cfg: Config) -> Flask:
    """The Flask object with Yima's settings: OpenAPI paths, cookie flags, 64-bit ids, JSON as written."""
    app = YimaFlask(__name__, instance_path=str(Path(cfg.instance_path).resolve()))
    app.config.update(
        SECRET_KEY=cfg.secret_key,
        MAX_CONTENT_LENGTH=cfg.max_content_length,
        API_TITLE="Yima 一码",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="/static/swagger-ui/",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    # ids in paths are 64-bit: a larger number matches no route (404) instead of overflowing the driver
    app.url_map.converters["int"] = BoundedIntConverter
    app.session_interface = _CookieSessions()
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    if not app.debug:
        logging.getLogger("yima").setLevel(logging.INFO)
    return app


def _register_api(app: Flask) -> None:
    api = Api(
        app,
        spec_kwargs={
            "info": {"description": "Yima 一码: data resource catalog, classification codes, lineage."},
            "extra_plugins": [openapi.YimaSpecPlugin(app)],
        },
    )
    openapi.register(app, api.spec)
    for module in API_MODULES:
        for blueprint in getattr(module, "blueprints", None) or [getattr(module, "blp", None)]:
            if blueprint is not None:
                api.register_blueprint(blueprint)
