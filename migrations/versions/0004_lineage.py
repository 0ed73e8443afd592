"""lineage: lineage datasets, jobs, edges with validity intervals, raw events

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lineage_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("event_type", sa.String(length=20), nullable=True),
        sa.Column("event_time", sa.DateTime(), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("job_namespace", sa.String(length=1000), nullable=True),
        sa.Column("job_name", sa.String(length=1000), nullable=True),
        sa.Column("producer", sa.String(length=1000), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lineage_event")),
        sa.UniqueConstraint("sha256", name=op.f("uq_lineage_event_sha256")),
    )
    op.create_table(
        "lineage_node",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.String(length=1000), nullable=False),
        sa.Column("type", sa.String(length=10), nullable=False),
        sa.Column("namespace", sa.String(length=1000), nullable=False),
        sa.Column("name", sa.String(length=1000), nullable=False),
        sa.Column("facets", sa.JSON(), nullable=True),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lineage_node")),
        sa.UniqueConstraint("node_id", name=op.f("uq_lineage_node_node_id")),
    )
    op.create_table(
        "lineage_flow",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=1000), nullable=False),
        sa.Column("target", sa.String(length=1000), nullable=False),
        sa.Column("job", sa.String(length=1000), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("valid_from", sa.DateTime(), nullable=False),
        sa.Column("valid_to", sa.DateTime(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lineage_flow")),
    )
    op.create_table(
        "lineage_edge",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=1000), nullable=False),
        sa.Column("target", sa.String(length=1000), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("job", sa.String(length=1000), nullable=True),
        sa.Column("valid_from", sa.DateTime(), nullable=False),
        sa.Column("valid_to", sa.DateTime(), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("closed_by", sa.Integer(), nullable=True),
        sa.Column("flow_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"], ["lineage_event.id"], name=op.f("fk_lineage_edge_event_id_lineage_event")
        ),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["lineage_flow.id"], name=op.f("fk_lineage_edge_flow_id_lineage_flow")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lineage_edge")),
    )
    op.create_index(op.f("ix_lineage_edge_job"), "lineage_edge", ["job"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_lineage_edge_job"), table_name="lineage_edge")
    op.drop_table("lineage_edge")
    op.drop_table("lineage_flow")
    op.drop_table("lineage_node")
    op.drop_table("lineage_event")
