"""traceability: products (GTIN → bureau code), deliveries, items (GS1 Digital Link keys), lifecycle events

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trace_product",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("scheme", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("release", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("manufacturer", sa.String(length=200), nullable=True),
        sa.Column("organization", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trace_product")),
        sa.UniqueConstraint("gtin", name=op.f("uq_trace_product_gtin")),
    )
    op.create_index(op.f("ix_trace_product_code"), "trace_product", ["code"], unique=False)
    op.create_table(
        "trace_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("project", sa.String(length=100), nullable=True),
        sa.Column("organization", sa.String(length=64), nullable=True),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trace_delivery")),
        sa.UniqueConstraint("reference", name=op.f("uq_trace_delivery_reference")),
    )
    op.create_table(
        "trace_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=209), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("cpv", sa.String(length=20), nullable=True),
        sa.Column("lot", sa.String(length=20), nullable=True),
        sa.Column("serial", sa.String(length=20), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=True),
        sa.Column("project", sa.String(length=100), nullable=True),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("organization", sa.String(length=64), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"], ["trace_product.id"], name=op.f("fk_trace_item_product_id_trace_product")
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"], ["trace_delivery.id"], name=op.f("fk_trace_item_delivery_id_trace_delivery")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trace_item")),
        sa.UniqueConstraint("key", name=op.f("uq_trace_item_key")),
    )
    op.create_index("ix_trace_item_product_id", "trace_item", ["product_id"], unique=False)
    op.create_index(op.f("ix_trace_item_delivery_id"), "trace_item", ["delivery_id"], unique=False)
    op.create_index(op.f("ix_trace_item_project"), "trace_item", ["project"], unique=False)
    op.create_table(
        "trace_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("result", sa.String(length=4), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("organization", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["trace_item.id"], name=op.f("fk_trace_event_item_id_trace_item")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trace_event")),
        sa.UniqueConstraint("item_id", "n", name="uq_trace_event_item_id_n"),
        sa.UniqueConstraint("seq", name=op.f("uq_trace_event_seq")),
    )
    op.create_index(op.f("ix_trace_event_organization"), "trace_event", ["organization"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_trace_event_organization"), table_name="trace_event")
    op.drop_table("trace_event")
    op.drop_index(op.f("ix_trace_item_project"), table_name="trace_item")
    op.drop_index(op.f("ix_trace_item_delivery_id"), table_name="trace_item")
    op.drop_index("ix_trace_item_product_id", table_name="trace_item")
    op.drop_table("trace_item")
    op.drop_table("trace_delivery")
    op.drop_index(op.f("ix_trace_product_code"), table_name="trace_product")
    op.drop_table("trace_product")
