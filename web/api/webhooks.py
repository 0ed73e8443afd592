"""``/api/v1/webhooks``: subscriptions to change events (Standard Webhooks), their delivery log, test events.

Writes need an admin token. Reads follow the server's read rule (open unless
``YIMA_READ_REQUIRES_TOKEN=1``) and never show a secret; the delivery log, which holds receivers'
answers, is for admins only.
"""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from web.api.common import page_schema
from web.context import actor, config, db, needs, session
from webhooks import service
from webhooks.crypto import SecretBox
from webhooks.guard import Guard
from webhooks.schemas import (
    DeliveryQueryArgsSchema,
    DeliverySchema,
    WebhookCreatedSchema,
    WebhookCreateSchema,
    WebhookQueryArgsSchema,
    WebhookSchema,
    WebhookUpdateSchema,
)
from webhooks.settings import WebhookSettings

blp = Blueprint(
    "webhooks",
    __name__,
    url_prefix="/api/v1/webhooks",
    description="Webhooks: signed change events (Standard Webhooks) POSTed to your URL",
)


class Tools:
    """The app's webhook settings, SSRF guard and secret box (the key file is made on first use)."""

    def __init__(self, settings: WebhookSettings):
        self.settings = settings
        self.guard = Guard(settings.allow)
        self._box: SecretBox | None = None

    @property
    def box(self) -> SecretBox:
        if self._box is None:
            self._box = SecretBox(self.settings.key_path)
        return self._box


def tools() -> Tools:
    """This app's ``Tools`` (the browse pages use them too)."""
    found = current_app.extensions.get("yima_webhooks")
    if found is None:
        found = current_app.extensions["yima_webhooks"] = Tools(WebhookSettings.from_config(config()))
    return found


@blp.route("")
class Webhooks(MethodView):
    @blp.arguments(WebhookQueryArgsSchema, location="query")
    @blp.response(200, page_schema(WebhookSchema, "WebhookPage"))
    def get(self, args):
        """List webhooks (never their secrets), optionally only ``enabled=true|false``."""
        return service.list_(session(), **args).envelope(lambda h: h.to_dict())

    @needs("admin")
    @blp.arguments(WebhookCreateSchema)
    @blp.response(201, WebhookCreatedSchema)
    def post(self, values):
        """Subscribe a URL to event type patterns (role admin); the answer shows the secret, once."""
        t = tools()
        with db().writer() as s:
            hook, secret = service.create(s, values, actor=actor(), guard=t.guard, box=t.box)
            return {**hook.to_dict(), "secret": secret}


@blp.route("/<int:webhook_id>")
class WebhookItem(MethodView):
    @blp.response(200, WebhookSchema)
    def get(self, webhook_id):
        """One webhook: where it sends, what it matches, whether it is enabled and how far it got."""
        return service.get(session(), webhook_id).to_dict()

    @needs("admin")
    @blp.arguments(WebhookUpdateSchema)
    @blp.response(200, WebhookCreatedSchema)
    def patch(self, values, webhook_id):
        """Change, disable or re-enable a webhook, or rotate its secret (role admin; a new secret is shown once)."""
        t = tools()
        with db().writer() as s:
            hook, secret = service.update(s, webhook_id, values, actor=actor(), guard=t.guard, box=t.box)
            return {**hook.to_dict(), **({"secret": secret} if secret else {})}

    @needs("admin")
    @blp.response(204)
    def delete(self, webhook_id):
        """Delete a webhook and its delivery log (role admin)."""
        with db().writer() as s:
            service.delete(s, webhook_id, actor=actor())


@blp.route("/<int:webhook_id>/deliveries")
class WebhookDeliveries(MethodView):
    @needs("admin")
    @blp.arguments(DeliveryQueryArgsSchema, location="query")
    @blp.response(200, page_schema(DeliverySchema, "DeliveryPage"))
    def get(self, args, webhook_id):
        """The delivery log, newest first (role admin): status, attempts, last status code and error, latency."""
        return service.deliveries(session(), webhook_id, **args).envelope(lambda d: d.to_dict())


@blp.route("/<int:webhook_id>/test")
class WebhookTest(MethodView):
    @needs("admin")
    @blp.response(202, DeliverySchema)
    def post(self, webhook_id):
        """Queue a ``webhook.test`` event (role admin): sent once by the delivery loop, even to a disabled
        webhook; its row in the delivery log shows the result."""
        with db().writer() as s:
            return service.queue_test(s, webhook_id).to_dict()
