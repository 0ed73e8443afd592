"""lineage compatibility: what intake assumed of an event (warnings), dataset aliases from the
``symlinks`` facet, a job's parent job from the ``parent`` run facet

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # nullable: events stored before had nothing assumed, and their audit entries keep their hashes
    with op.batch_alter_table("lineage_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("warnings", sa.JSON(), nullable=True))
    with op.batch_alter_table("lineage_node", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent", sa.String(length=1000), nullable=True))
    op.create_table(
        "lineage_alias",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alias", sa.String(length=1000), nullable=False),
        sa.Column("node_id", sa.String(length=1000), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=True),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"], ["lineage_event.id"], name=op.f("fk_lineage_alias_event_id_lineage_event")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lineage_alias")),
        sa.UniqueConstraint("alias", "node_id", name=op.f("uq_lineage_alias_alias")),
    )


def downgrade() -> None:
    op.drop_table("lineage_alias")
    with op.batch_alter_table("lineage_node", schema=None) as batch_op:
        batch_op.drop_column("parent")
    with op.batch_alter_table("lineage_event", schema=None) as batch_op:
        batch_op.drop_column("warnings")
