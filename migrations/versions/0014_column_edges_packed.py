"""column lineage: one row per (event or flow, output) holding its column edges, packed

Revision ID: 0014
Revises: 0013

A row per column edge made the first column-level question read 400,000 rows of nine values each
(sqlite3 making a Python object per value was 40 % of it) and intake write dozens of rows and index
entries per event. Now a row holds every edge that shares its target dataset, job, interval, opening
and closing event and flow, packed as JSON (``lineage.columns.store.pack``; the format is repeated
here so that this migration keeps working whatever the code becomes). Existing rows are grouped so;
the downgrade writes a row per edge again, in the same order.
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_FIELD = "datasetField:"
_BATCH = 1000
#: what a row's edges share
_SHARED = ("target_dataset", "job", "valid_from", "valid_to", "event_id", "closed_by", "flow_id")


def _pack(edges: list[tuple]) -> str:
    """(source_dataset, source_field, target_field, transformations) in their order → the stored JSON."""
    index: dict[str, int] = {}
    groups: list[list] = []
    last = None
    for sds, sf, tf, trans in edges:
        if last is None or last[0] != sds:
            last = [sds, [], [], []]
            groups.append(last)
        last[1].append(sf)
        last[2].append(tf)
        last[3].append(index.setdefault(trans, len(index)))
    return json.dumps([list(index), groups], separators=(",", ":"))


def _unpack(text: str) -> list[tuple]:
    transformations, groups = json.loads(text)
    return [
        (sds, sf, tf, transformations[t])
        for sds, fields, targets, trans in groups
        for sf, tf, t in zip(fields, targets, trans, strict=True)
    ]


def _table(name: str, *columns) -> sa.Table:
    return sa.Table(name, sa.MetaData(), sa.Column("id", sa.Integer(), primary_key=True), *columns)


def _shared_columns() -> list[sa.Column]:
    return [
        sa.Column("target_dataset", sa.String(length=1000), nullable=False),
        sa.Column("job", sa.String(length=1000), nullable=True),
        sa.Column("valid_from", sa.DateTime(), nullable=False),
        sa.Column("valid_to", sa.DateTime(), nullable=True),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("closed_by", sa.Integer(), nullable=True),
        sa.Column("flow_id", sa.Integer(), nullable=True),
    ]


def _per_edge_columns() -> list[sa.Column]:
    return [
        sa.Column("source", sa.String(length=1000), nullable=False),
        sa.Column("target", sa.String(length=1000), nullable=False),
        sa.Column("source_dataset", sa.String(length=1000), nullable=False),
        sa.Column("source_field", sa.String(length=1000), nullable=False),
        sa.Column("target_field", sa.String(length=1000), nullable=True),
        sa.Column("transformations", sa.Text(), nullable=False),
    ]


def _create(packed: bool) -> None:
    extra = (
        [
            sa.Column("edge_count", sa.Integer(), nullable=False),
            sa.Column("edges", sa.Text(), nullable=False),
        ]
        if packed
        else _per_edge_columns()
    )
    op.create_table(
        "lineage_column_edge",
        sa.Column("id", sa.Integer(), nullable=False),
        *_shared_columns(),
        *extra,
        sa.ForeignKeyConstraint(
            ["event_id"], ["lineage_event.id"], name=op.f("fk_lineage_column_edge_event_id_lineage_event")
        ),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["lineage_flow.id"], name=op.f("fk_lineage_column_edge_flow_id_lineage_flow")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lineage_column_edge")),
    )
    op.create_index(
        op.f("ix_lineage_column_edge_target_dataset"), "lineage_column_edge", ["target_dataset"], unique=False
    )


def _drop() -> None:
    op.drop_index(op.f("ix_lineage_column_edge_target_dataset"), table_name="lineage_column_edge")
    op.drop_table("lineage_column_edge")


def upgrade() -> None:
    bind = op.get_bind()
    old = _table("lineage_column_edge", *_shared_columns(), *_per_edge_columns())
    rows = bind.execute(
        sa.select(
            *(old.c[c] for c in _SHARED),
            old.c.source_dataset,
            old.c.source_field,
            old.c.target_field,
            old.c.transformations,
        ).order_by(old.c.id)
    ).all()
    #: what the rows share → their edges, in the order of their first edge's id
    sets: dict[tuple, list[tuple]] = {}
    for r in rows:
        sets.setdefault(tuple(r[: len(_SHARED)]), []).append(tuple(r[len(_SHARED) :]))
    _drop()
    _create(packed=True)
    new = _table(
        "lineage_column_edge",
        *_shared_columns(),
        sa.Column("edge_count", sa.Integer()),
        sa.Column("edges", sa.Text()),
    )
    values = [
        {**dict(zip(_SHARED, shared, strict=True)), "edge_count": len(edges), "edges": _pack(edges)}
        for shared, edges in sets.items()
    ]
    for start in range(0, len(values), _BATCH):
        bind.execute(new.insert(), values[start : start + _BATCH])


def downgrade() -> None:
    bind = op.get_bind()
    packed = _table(
        "lineage_column_edge",
        *_shared_columns(),
        sa.Column("edge_count", sa.Integer()),
        sa.Column("edges", sa.Text()),
    )
    rows = bind.execute(
        sa.select(*(packed.c[c] for c in _SHARED), packed.c.edges).order_by(packed.c.id)
    ).all()
    _drop()
    _create(packed=False)
    old = _table("lineage_column_edge", *_shared_columns(), *_per_edge_columns())
    values = []
    for r in rows:
        shared = dict(zip(_SHARED, r[: len(_SHARED)], strict=True))
        tds = shared["target_dataset"]
        for sds, sf, tf, trans in _unpack(r[-1]):
            values.append(
                {
                    **shared,
                    "source": _FIELD + sds[8:] + ":" + sf,  # 8: len("dataset:")
                    "target": tds if tf is None else _FIELD + tds[8:] + ":" + tf,
                    "source_dataset": sds,
                    "source_field": sf,
                    "target_field": tf,
                    "transformations": trans,
                }
            )
    for start in range(0, len(values), _BATCH * 10):
        bind.execute(old.insert(), values[start : start + _BATCH * 10])
