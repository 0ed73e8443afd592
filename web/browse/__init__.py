"""The browse pages (HTML, server-rendered): language choice, security, login, and each area's pages."""

from __future__ import annotations

import swagger_ui_bundle
from flask import Flask, g, request, send_from_directory
from flask_babel import Babel

# one module per area, each adding its routes to ``pages.bp`` when imported
from web.browse import (  # noqa: F401
    access,
    audit_pages,
    auth_pages,
    catalog_pages,
    codes,
    i18n,
    lineage_pages,
    overview,
    pages,
    review_forms,
    review_pages,
    security,
    trace_pages,
    webhook_pages,
)

LANGUAGES = ("zh", "en")


def select_locale() -> str:
    """``?lang=`` (remembered in a cookie), else the browser's language, else Chinese."""
    wanted = request.args.get("lang") or request.cookies.get("lang")
    if wanted in LANGUAGES:
        return wanted
    return request.accept_languages.best_match(LANGUAGES, default="zh") or "zh"


def init_app(app: Flask) -> None:
    Babel(
        app,
        locale_selector=select_locale,
        default_locale="zh",
        default_translation_directories=i18n.translation_directories(app.instance_path),
    )
    app.register_blueprint(pages.bp)
    pages.init_app(app)
    security.init_app(app)
    access.init_app(app)

    @app.before_request
    def _lang():
        # the pages' language (templates, field messages); the API answers in English and renders no
        # page (``errors.wants_json``), so its requests skip parsing the query, cookies and Accept-Language
        if not request.path.startswith("/api/"):
            g.lang = select_locale()

    @app.after_request
    def _remember_lang(response):
        if request.args.get("lang") in LANGUAGES:
            response.set_cookie(
                "lang", request.args["lang"], max_age=365 * 86400, samesite="Lax", httponly=True
            )
        return response

    @app.route("/favicon.ico")
    def favicon():
        # browsers ask for it on pages without a <link rel="icon"> (the API docs)
        return send_from_directory(app.static_folder, "favicon.svg", mimetype="image/svg+xml")

    @app.route("/static/swagger-ui/<path:filename>")
    def swagger_ui_assets(filename):
        return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)
