"""review: tokens act for an organization; audit entries name it (and the change request an approval
applied); change requests and their history

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # nullable: existing tokens act for nobody, and existing entries keep their hashes (the body
    # includes ``organization`` and ``request`` only when they are set)
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organization", sa.String(length=64), nullable=True))
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organization", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("request", sa.Integer(), nullable=True))
    op.create_table(
        "change_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("scheme", sa.String(length=64), nullable=True),
        sa.Column("release", sa.String(length=64), nullable=True),
        sa.Column("target", sa.String(length=500), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("submitted_by", sa.String(length=200), nullable=False),
        sa.Column("organization", sa.String(length=64), nullable=False),
        sa.Column("base", sa.String(length=64), nullable=True),
        sa.Column("submitted_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_request")),
    )
    with op.batch_alter_table("change_request", schema=None) as batch_op:
        batch_op.create_index("ix_change_request_status_kind", ["status", "kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_change_request_target"), ["target"], unique=False)
        batch_op.create_index(batch_op.f("ix_change_request_organization"), ["organization"], unique=False)
    op.create_table(
        "change_request_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("organization", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["change_request.id"],
            name=op.f("fk_change_request_event_request_id_change_request"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_request_event")),
        sa.UniqueConstraint("request_id", "n", name="uq_change_request_event_request_id_n"),
    )


def downgrade() -> None:
    op.drop_table("change_request_event")
    with op.batch_alter_table("change_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_change_request_organization"))
        batch_op.drop_index(batch_op.f("ix_change_request_target"))
        batch_op.drop_index("ix_change_request_status_kind")
    op.drop_table("change_request")
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_column("request")
        batch_op.drop_column("organization")
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_column("organization")
