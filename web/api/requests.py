"""``/api/v1/requests``: three-party change requests (submit, review, decide, resubmit), and ``/api/v1/whoami``."""

from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from registry.errors import Invalid, Unauthorized
from review import code_changes, workflow
from review.schemas import (
    DecideSchema,
    ImportArgsSchema,
    RequestCreateSchema,
    RequestPageSchema,
    RequestQueryArgsSchema,
    RequestSchema,
    RequestViewSchema,
    ResubmitSchema,
    ReviewSchema,
    WhoamiSchema,
)
from standards.importer import reader
from web.api.common import PageArgsSchema, accepts, with_etag
from web.context import actor, db, needs, principal, session

blp = Blueprint(
    "requests",
    __name__,
    url_prefix="/api/v1/requests",
    description="Change requests (三方监管): the contractor proposes, the supervisor checks, the owner decides",
)
whoami_blp = Blueprint("whoami", __name__, url_prefix="/api/v1/whoami", description="The caller")
blueprints = [blp, whoami_blp]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _shown(req) -> tuple:
    return with_etag(workflow.request_dict(req))


def _created(req) -> tuple:
    return with_etag(workflow.request_dict(req), 201)


@blp.route("")
class Requests(MethodView):
    @blp.arguments(RequestQueryArgsSchema, location="query")
    @blp.response(200, RequestPageSchema)
    def get(self, args):
        """Change requests, newest first, filtered by ``status``, ``kind``, submitting ``organization``…"""
        return workflow.list_requests(session(), **args).envelope(workflow.request_dict)

    @needs("contributor")
    @blp.arguments(RequestCreateSchema)
    @blp.response(201, RequestSchema)
    def post(self, values):
        """Submit a change request for your token's organization (role contributor); the payload is checked
        as the direct write checks it (422 naming the fields)."""
        with db().writer() as s:
            return _created(workflow.submit(s, actor=actor(), **values))


@blp.route("/import")
class ImportRows(MethodView):
    @needs("contributor")
    @accepts("text/csv", XLSX, "application/octet-stream", "multipart/form-data")
    @blp.arguments(ImportArgsSchema, location="query")
    @blp.response(201, RequestSchema)
    @blp.doc(
        requestBody={
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                XLSX: {"schema": {"type": "string", "format": "binary"}},
            }
        }
    )
    def post(self, args):
        """A spreadsheet of proposed codes (CSV or XLSX, the headers of ``yima standards import``, or a
        multipart ``file``) as ONE ``code.add`` request of many rows; every bad row is named (422)."""
        if request.mimetype == "multipart/form-data":
            upload = request.files.get("file")
            if upload is None:
                raise Invalid("send the sheet as multipart field 'file'", {"file": ["required"]})
            table = reader.read_table(upload.filename or "upload.csv", upload.read())
        else:
            name = args.get("filename") or ("upload.xlsx" if request.mimetype == XLSX else "upload.csv")
            table = reader.read_table(name, request.get_data())
        with db().writer() as s:
            req = workflow.submit(
                s,
                kind="code.add",
                scheme=args["scheme"],
                release=args.get("release"),
                payload=code_changes.rows_payload(table),
                reason=args["reason"],
                actor=actor(),
            )
            return _created(req)


@blp.route("/todo")
class Todo(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, RequestPageSchema)
    def get(self, args):
        """What your token's organization may act on now: to review, to decide, or your own to amend (401 without a token)."""
        who = _caller()
        found = workflow.todo(session(), name=who.name, role=who.role, organization=who.organization, **args)
        return found.envelope(workflow.request_dict)


@blp.route("/<int:request_id>")
class RequestItem(MethodView):
    @blp.response(200, RequestSchema)
    def get(self, request_id):
        """One change request with its history."""
        return _shown(workflow.get(session(), request_id))


@blp.route("/<int:request_id>/diff")
class RequestDiff(MethodView):
    @blp.response(200, RequestViewSchema)
    def get(self, request_id):
        """What a reviewer sees: the diff against the current state (codes: the row, its parent, its siblings;
        resources: field by field), problems now, and the actions the caller may take."""
        s = session()
        req = workflow.get(s, request_id)
        who = principal()
        actions = (
            workflow.allowed_actions(s, req, name=who.name, role=who.role, organization=who.organization)
            if who
            else []
        )
        return {**workflow.view(s, req), "actions": actions}


@blp.route("/<int:request_id>/review")
class Review(MethodView):
    @needs("contributor")
    @blp.arguments(ReviewSchema)
    @blp.response(200, RequestSchema)
    def post(self, values, request_id):
        """Endorse or return a submitted request, as a supervisor organization other than the submitter's."""
        with db().writer() as s:
            return _shown(workflow.review(s, request_id, actor=actor(), **values))


@blp.route("/<int:request_id>/decide")
class Decide(MethodView):
    @needs("steward")
    @blp.arguments(DecideSchema)
    @blp.response(200, RequestSchema)
    def post(self, values, request_id):
        """Approve (the change is applied now, or 409 if its target changed) or reject a reviewed request,
        as a steward of an owner or bureau organization other than the submitter's."""
        with db().writer() as s:
            return _shown(workflow.decide(s, request_id, actor=actor(), **values))


@blp.route("/<int:request_id>/resubmit")
class Resubmit(MethodView):
    @needs("contributor")
    @blp.arguments(ResubmitSchema)
    @blp.response(200, RequestSchema)
    def post(self, values, request_id):
        """Amend (``payload``, ``reason``) and resubmit a returned request (its submitter only)."""
        with db().writer() as s:
            return _shown(workflow.resubmit(s, request_id, actor=actor(), **values))


def _caller():
    who = principal()
    if who is None:
        raise Unauthorized("send 'Authorization: Bearer TOKEN' to say who you are")
    return who


@whoami_blp.route("")
class Whoami(MethodView):
    @whoami_blp.response(200, WhoamiSchema)
    def get(self):
        """The caller's token: name, role and the organization it acts for (401 without a token)."""
        who = _caller()
        return {"name": who.name, "role": who.role, "organization": who.organization}
