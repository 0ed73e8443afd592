"""column lineage: column edges from columnLineage facets and flows' column mappings

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lineage_column_edge",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=1000), nullable=False),
        sa.Column("target", sa.String(length=1000), nullable=False),
        sa.Column("source_dataset", sa.String(length=1000), nullable=False),
        sa.Column("source_field", sa.String(length=1000), nullable=False),
        sa.Column("target_dataset", sa.String(length=1000), nullable=False),
        sa.Column("target_field", sa.String(length=1000), nullable=True),
        sa.Column("transformations", sa.Text(), nullable=False),
        sa.Column("job", sa.String(length=1000), nullable=True),
        sa.Column("valid_from", sa.DateTime(), nullable=False),
        sa.Column("valid_to", sa.DateTime(), nullable=True),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("closed_by", sa.Integer(), nullable=True),
        sa.Column("flow_id", sa.Integer(), nullable=True),
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
    with op.batch_alter_table("lineage_flow", schema=None) as batch_op:
        batch_op.add_column(sa.Column("columns", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("lineage_flow", schema=None) as batch_op:
        batch_op.drop_column("columns")
    op.drop_index(op.f("ix_lineage_column_edge_target_dataset"), table_name="lineage_column_edge")
    op.drop_table("lineage_column_edge")
