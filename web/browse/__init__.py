"""The browse pages (HTML, server-rendered): language choice, the shell, and each area's pages."""

from __future__ import annotations

from flask import Flask, g, request, send_from_directory
from flask_babel import Babel

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
        default_translation_directories="translations",
    )

    from web.browse import pages

    app.register_blueprint(pages.bp)

    @app.before_request
    def _lang():
        g.lang = select_locale()

    @app.after_request
    def _remember_lang(response):
        if request.args.get("lang") in LANGUAGES:
            response.set_cookie(
                "lang", request.args["lang"], max_age=365 * 86400, samesite="Lax", httponly=True
            )
        return response

    @app.route("/static/swagger-ui/<path:filename>")
    def swagger_ui_assets(filename):
        import swagger_ui_bundle

        return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)
