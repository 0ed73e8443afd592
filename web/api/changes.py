"""``/api/v1/changes``: the change feed, the webhooks' events for systems that prefer pulling (long-poll with ``wait``)."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from web.api.webhooks import tools
from web.context import db
from webhooks import feed
from webhooks.schemas import ChangesQueryArgsSchema, ChangesSchema

blp = Blueprint("changes", __name__, url_prefix="/api/v1/changes", description="The change feed")


@blp.route("")
class Changes(MethodView):
    @blp.arguments(ChangesQueryArgsSchema, location="query")
    @blp.response(200, ChangesSchema)
    def get(self, args):
        """Events after ``after_seq`` (``{"seq", "type", "timestamp", "data"}``, data = the audit entry), filtered
        by ``types`` patterns; with ``wait`` (≤ 30 s) an empty answer waits for the next change. Send
        ``next_seq`` as ``after_seq`` next time. A waiting request holds a server thread, not a connection."""
        return feed.changes(db(), poll=tools().settings.poll, **args)
