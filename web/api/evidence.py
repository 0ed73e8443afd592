"""``/api/v1/audit/checkpoint``, ``/key``, ``/proof``, ``/consistency``, ``/{seq}``: the signed tree head and RFC 9162 proofs."""

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from registry import checkpoints, evidence
from registry.signed_note import signer_for
from web.api.audit import AuditEntrySchema
from web.context import config, db, session

blp = Blueprint(
    "evidence",
    __name__,
    url_prefix="/api/v1/audit",
    description="Signed checkpoints of the audit log and RFC 9162 proofs an auditor checks with SHA-256 and Ed25519",
)

_BIG = validate.Range(min=0, max=2**63 - 1)


class AuditCheckpointSchema(Schema):
    origin = fields.String(metadata={"description": "the log's name, first line of the note"})
    size = fields.Integer(metadata={"description": "entries in the tree (the newest entry's seq)"})
    root = fields.String(metadata={"description": "RFC 9162 root hash, standard base64"})
    note = fields.String(metadata={"description": "C2SP signed note (tlog-checkpoint), Ed25519"})
    key = fields.String(
        metadata={"description": "verifier key: origin+<8 hex key id>+base64(0x01 ‖ public key)"}
    )


class AuditKeySchema(Schema):
    key = fields.String(metadata={"description": "verifier key text of the checkpoint signer"})


class InclusionProofArgsSchema(Schema):
    seq = fields.Integer(required=True, validate=_BIG, metadata={"description": "the entry (from 1)"})
    size = fields.Integer(validate=_BIG, metadata={"description": "tree size (default: the current size)"})


class InclusionProofSchema(Schema):
    seq = fields.Integer()
    leaf_index = fields.Integer(metadata={"description": "seq - 1"})
    tree_size = fields.Integer()
    leaf_hash = fields.String(metadata={"description": "hex SHA-256(0x00 ‖ the entry's hash bytes)"})
    path = fields.List(
        fields.String(), metadata={"description": "RFC 9162 inclusion path, base64, leaf first"}
    )


class EntryInclusionSchema(Schema):
    leaf_index = fields.Integer(metadata={"description": "seq - 1"})
    tree_size = fields.Integer(metadata={"description": "the checkpoint's size"})
    leaf_hash = fields.String(metadata={"description": "hex SHA-256(0x00 ‖ the entry's hash bytes)"})
    path = fields.List(fields.String(), metadata={"description": "RFC 9162 inclusion path, base64"})


class EntryEvidenceSchema(Schema):
    entry = fields.Nested(AuditEntrySchema, metadata={"description": "as GET /api/v1/audit shows it"})
    checkpoint = fields.String(metadata={"description": "the current signed checkpoint note (C2SP)"})
    inclusion = fields.Nested(EntryInclusionSchema)


class ConsistencyProofArgsSchema(Schema):
    first = fields.Integer(
        data_key="from", required=True, validate=_BIG, metadata={"description": "the earlier size"}
    )
    second = fields.Integer(
        data_key="to", validate=_BIG, metadata={"description": "the later size (default: current)"}
    )


class ConsistencyProofSchema(Schema):
    first = fields.Integer(data_key="from")
    second = fields.Integer(data_key="to")
    path = fields.List(fields.String(), metadata={"description": "RFC 9162 consistency proof, base64"})


@blp.route("/checkpoint")
class CheckpointView(MethodView):
    @blp.response(200, AuditCheckpointSchema)
    def get(self):
        """The signed checkpoint of the log as it stands; a size not issued before is added to the history."""
        return checkpoints.issue(db(), signer_for(config())).to_dict()


@blp.route("/key")
class KeyView(MethodView):
    @blp.response(200, AuditKeySchema)
    def get(self):
        """The verifier key that signs the checkpoints (publish it; auditors pin it)."""
        return {"key": signer_for(config()).key}


@blp.route("/proof")
class ProofView(MethodView):
    @blp.arguments(InclusionProofArgsSchema, location="query")
    @blp.response(200, InclusionProofSchema)
    def get(self, args):
        """RFC 9162 inclusion proof of entry ``seq`` in the tree of ``size`` entries."""
        return evidence.inclusion_proof(session(), args["seq"], args.get("size"))


@blp.route("/consistency")
class ConsistencyView(MethodView):
    @blp.arguments(ConsistencyProofArgsSchema, location="query")
    @blp.response(200, ConsistencyProofSchema)
    def get(self, args):
        """RFC 9162 consistency proof that the tree of ``to`` entries extends the one of ``from``."""
        proof = evidence.consistency_proof(session(), args["first"], args.get("second"))
        return {"first": proof["from"], "second": proof["to"], "path": proof["path"]}


@blp.route("/<int:seq>")
class EntryEvidenceView(MethodView):
    @blp.response(200, EntryEvidenceSchema)
    def get(self, seq):
        """Audit entry ``seq`` with its inclusion proof in the current signed checkpoint: the proof material
        of an export's manifest (``entry``, ``checkpoint``, ``inclusion``), for any entry.

        Save it and run ``yima_verify.py entry FILE --key KEY``. 404 for an entry the log does not have.
        """
        return evidence.entry_evidence(db(), seq, signer_for(config()))
