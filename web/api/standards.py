"""``/api/v1/schemes``, ``/api/v1/crosswalks`` and ``/api/v1/validate/codes``: the classification code registry."""

from __future__ import annotations

import orjson
from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from registry.errors import Invalid
from registry.paging import page_of
from standards import codes, crosswalks, releases, schemas, validation
from standards.importer import reader, writer
from web.api.common import PageArgsSchema, accepts, page_schema
from web.context import actor, config, db, needs, session
from web.trace_support import link_results, looks_like_link, merge_link_result

blp = Blueprint(
    "schemes",
    __name__,
    url_prefix="/api/v1/schemes",
    description="Code schemes, releases and codes (一码到底)",
)
crosswalks_blp = Blueprint(
    "crosswalks", __name__, url_prefix="/api/v1/crosswalks", description="Mappings between code schemes"
)
validate_blp = Blueprint(
    "validate-codes",
    __name__,
    url_prefix="/api/v1/validate",
    description="Validate codes before storing them",
)
blueprints = [blp, crosswalks_blp, validate_blp]


# --- schemes and releases -------------------------------------------------------------------


@blp.route("")
class Schemes(MethodView):
    @blp.response(200, page_schema(schemas.SchemeSchema, "SchemePage"))
    def get(self):
        """Every scheme with its releases (status, number of codes) and current release."""
        items = releases.list_schemes(session())
        return {"items": items, "total": len(items), "page": 1, "per_page": max(1, len(items))}


@blp.route("/<scheme>")
class SchemeItem(MethodView):
    @blp.response(200, schemas.SchemeSchema)
    def get(self, scheme):
        """One scheme: its format rules, tables, examples and releases."""
        return releases.scheme_info(session(), scheme)


@blp.route("/<scheme>/releases")
class Releases(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(schemas.ReleaseSchema, "ReleasePage"))
    def get(self, args, scheme):
        """The scheme's releases, oldest first, in the list envelope."""
        return page_of(releases.list_releases(session(), scheme), **args).envelope()

    @needs("admin")
    @blp.arguments(schemas.ReleaseCreateSchema)
    @blp.response(201, schemas.ReleaseSchema)
    def post(self, values, scheme):
        """Create a draft release (role admin), optionally as a copy of another release."""
        with db().writer() as s:
            return releases.create_release(
                s,
                scheme,
                values["release"],
                actor=actor(),
                note=values.get("note"),
                copy_from=values.get("copy_from"),
            )


@blp.route("/<scheme>/releases/<release>/publish")
class Publish(MethodView):
    @needs("admin")
    @blp.response(200, schemas.ReleaseSchema)
    def post(self, scheme, release):
        """Publish a draft release (role admin): validation uses it from now on."""
        with db().writer() as s:
            return releases.publish_release(s, scheme, release, actor=actor())


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@blp.route("/<scheme>/releases/<release>/import")
class Import(MethodView):
    @needs("admin")
    @accepts("text/csv", XLSX, "application/octet-stream", "multipart/form-data")
    @blp.arguments(schemas.ImportArgsSchema, location="query")
    @blp.response(200, schemas.ImportReportSchema)
    @blp.doc(
        requestBody={
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                XLSX: {"schema": {"type": "string", "format": "binary"}},
            }
        }
    )
    def post(self, args, scheme, release):
        """Import codes from a CSV (UTF-8 or GB18030) or XLSX body, or multipart ``file`` fields (role admin).

        All rows or none; ``dry_run=true`` reports every bad row and writes nothing.
        """
        if request.mimetype == "multipart/form-data":
            uploads = request.files.getlist("file")
            if not uploads:
                raise Invalid("send the table as multipart field 'file'", {"file": ["required"]})
            tables = [reader.read_table(f.filename or "upload", f.read()) for f in uploads]
        else:
            name = args.get("filename") or ("upload.xlsx" if request.mimetype == XLSX else "upload.csv")
            tables = [reader.read_table(name, request.get_data())]
        with db().writer() as s:
            report = writer.import_codes(
                s, scheme, release, tables, actor=actor(), publish=args["publish"], dry_run=args["dry_run"]
            )
        return report.to_dict()


# --- codes ----------------------------------------------------------------------------------


@blp.route("/<scheme>/codes")
class Codes(MethodView):
    @blp.arguments(schemas.CodeQueryArgsSchema, location="query")
    @blp.response(200, schemas.CodePageSchema)
    def get(self, args, scheme):
        """Codes of a release (default: the current one); ``q`` = code prefix, name substring or pinyin initials."""
        return codes.list_codes(session(), scheme, **args).envelope()

    @needs("steward")
    @blp.arguments(schemas.CodeCreateSchema)
    @blp.response(201, schemas.CodeSchema)
    def post(self, values, scheme):
        """Add a code to a release (role steward); its parent must exist."""
        release = values.pop("release", None)
        with db().writer() as s:
            return codes.add_code(s, scheme, values, actor=actor(), release=release)


@blp.route("/<scheme>/codes/<code>")
class CodeItem(MethodView):
    @blp.arguments(schemas.ReleaseArgsSchema, location="query")
    @blp.response(200, schemas.CodeSchema)
    def get(self, args, scheme, code):
        """One code with its ancestors (root first), children count, attribute template and crosswalks."""
        return codes.get_code(session(), scheme, code, args.get("release"))

    @needs("steward")
    @blp.arguments(schemas.CodeUpdateSchema)
    @blp.response(200, schemas.CodeSchema)
    def patch(self, values, scheme, code):
        """Change a code's names, unit, description or attribute template (role steward)."""
        release = values.pop("release", None)
        with db().writer() as s:
            return codes.update_code(s, scheme, code, values, actor=actor(), release=release)


@blp.route("/<scheme>/codes/<code>/deprecate")
class Deprecate(MethodView):
    @needs("steward")
    @blp.arguments(schemas.DeprecateSchema)
    @blp.response(200, schemas.CodeSchema)
    def post(self, values, scheme, code):
        """Deprecate a code, naming its successor (role steward); validation then answers ``deprecated``."""
        with db().writer() as s:
            return codes.deprecate_code(
                s,
                scheme,
                code,
                actor=actor(),
                successor=values.get("successor"),
                release=values.get("release"),
            )


@blp.route("/<scheme>/codes/<code>/children")
class Children(MethodView):
    @blp.arguments(schemas.ChildrenArgsSchema, location="query")
    @blp.response(200, schemas.CodePageSchema)
    def get(self, args, scheme, code):
        """The direct children of a code (for a lazily expanded tree), in the list envelope."""
        return codes.list_codes(session(), scheme, parent=code, **args).envelope()


# --- crosswalks -----------------------------------------------------------------------------


@crosswalks_blp.route("")
class Crosswalks(MethodView):
    @crosswalks_blp.arguments(schemas.CrosswalkQueryArgsSchema, location="query")
    @crosswalks_blp.response(200, page_schema(schemas.CrosswalkRefSchema, "CrosswalkPage"))
    def get(self, args):
        """Every mapping of a code, both directions, each seen from that code, in the list envelope."""
        items = crosswalks.find_crosswalks(
            session(),
            args["from_scheme"],
            args["code"],
            release=args.get("release"),
            to_scheme=args.get("to_scheme"),
        )
        return page_of(items, args["page"], args["per_page"]).envelope()

    @needs("steward")
    @crosswalks_blp.arguments(schemas.CrosswalkCreateSchema)
    @crosswalks_blp.response(201, schemas.CrosswalkResultSchema)
    def post(self, values):
        """Map codes of one release to another's (role steward); ``replace`` swaps the whole mapping set."""
        mappings = [
            {"from": m["from_"], "to": m["to"], "relation": m["relation"]} for m in values["mappings"]
        ]
        with db().writer() as s:
            return crosswalks.set_crosswalk(
                s,
                values["from_scheme"],
                values["to_scheme"],
                mappings,
                actor=actor(),
                from_release=values.get("from_release"),
                to_release=values.get("to_release"),
                replace=values["replace"],
            )


# --- validation (the hot path: no marshmallow, no ORM) --------------------------------------


def _json(body, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status=status, mimetype="application/json")


def _with_links(scheme: str, release: str | None, batch: list, attributes) -> dict:
    """A batch holding GS1 Digital Links in place of codes (szgws-me): each link answers with the bureau code
    of the product its GTIN names (``input`` the link, ``product`` beside it); the rest as usual."""
    validator = validation.get_validator(session(), scheme, release)
    codes, extra = link_results(session(), validator.scheme, batch)
    results = validator.validate(codes, attributes)
    for i, added in extra.items():
        results[i] = merge_link_result(results[i], added)
    valid = sum(1 for r in results if r["valid"])
    return {
        "scheme": validator.scheme,
        "release": validator.release,
        "total": len(results),
        "valid": valid,
        "invalid": len(results) - valid,
        "results": results,
    }


@validate_blp.route("/codes")
class ValidateCodes(MethodView):
    @validate_blp.arguments(schemas.ValidateOneArgsSchema, location="query")
    @validate_blp.response(200, schemas.SingleResultSchema)
    def get(self, args):
        """Validate one code: one RESULT (without ``index``)."""
        validator = validation.get_validator(session(), args["scheme"], args.get("release"))
        if looks_like_link(args["code"]):  # a scanned GS1 Digital Link: its product's bureau code
            codes, extra = link_results(session(), validator.scheme, [args["code"]])
            result = validator.validate_one(codes[0])
            return _json(merge_link_result(result, extra[0]) if 0 in extra else result)
        return _json(validator.validate_one(args["code"]))

    @validate_blp.doc(
        requestBody={
            "required": True,
            "content": {"application/json": {"schema": schemas.ValidateRequestSchema}},
        }
    )
    @validate_blp.response(200, schemas.ValidateResponseSchema)
    @validate_blp.alt_response(413, description="more than YIMA_MAX_BATCH codes")
    def post(self):
        """Validate a batch of codes (or items with attributes): one RESULT per code, in input order."""
        try:
            body = orjson.loads(request.get_data(cache=False))
        except orjson.JSONDecodeError as exc:
            raise Invalid(f"the body is not valid JSON: {exc}") from None
        scheme, release, batch, attributes = validation.parse_batch(body, config().max_batch)
        if any(looks_like_link(code) for code in batch):
            return _json(_with_links(scheme, release, batch, attributes))
        if attributes is not None:
            return _json(validation.validate_batch(session(), scheme, batch, attributes, release))
        validator = validation.get_validator(session(), scheme, release)
        return Response(validator.validate_json(batch), mimetype="application/json")
