"""standards: code schemes, releases, codes, crosswalks

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "code_scheme",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scheme", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_code_scheme")),
        sa.UniqueConstraint("scheme", name=op.f("uq_code_scheme_scheme")),
    )
    op.create_table(
        "code_release",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scheme_id", sa.Integer(), nullable=False),
        sa.Column("release", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.Column("last_change", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["scheme_id"],
            ["code_scheme.id"],
            name=op.f("fk_code_release_scheme_id_code_scheme"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_code_release")),
        sa.UniqueConstraint("scheme_id", "release", name="uq_code_release_scheme_id_release"),
    )
    op.create_index(op.f("ix_code_release_scheme_id"), "code_release", ["scheme_id"], unique=False)
    op.create_table(
        "code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("parent", sa.String(length=64), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("name_en", sa.String(length=500), nullable=True),
        sa.Column("unit", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("successor", sa.String(length=64), nullable=True),
        sa.Column("pinyin", sa.String(length=200), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["release_id"],
            ["code_release.id"],
            name=op.f("fk_code_release_id_code_release"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_code")),
        sa.UniqueConstraint("release_id", "code", name="uq_code_release_id_code"),
    )
    op.create_index("ix_code_release_id_parent", "code", ["release_id", "parent"], unique=False)
    op.create_table(
        "code_crosswalk",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("from_release_id", sa.Integer(), nullable=False),
        sa.Column("from_code", sa.String(length=64), nullable=False),
        sa.Column("to_release_id", sa.Integer(), nullable=False),
        sa.Column("to_code", sa.String(length=64), nullable=False),
        sa.Column("relation", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["from_release_id"],
            ["code_release.id"],
            name=op.f("fk_code_crosswalk_from_release_id_code_release"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["to_release_id"],
            ["code_release.id"],
            name=op.f("fk_code_crosswalk_to_release_id_code_release"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_code_crosswalk")),
        sa.UniqueConstraint(
            "from_release_id", "from_code", "to_release_id", "to_code", name="uq_code_crosswalk_pair"
        ),
    )
    op.create_index(
        "ix_code_crosswalk_from", "code_crosswalk", ["from_release_id", "from_code"], unique=False
    )
    op.create_index("ix_code_crosswalk_to", "code_crosswalk", ["to_release_id", "to_code"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_code_crosswalk_to", table_name="code_crosswalk")
    op.drop_index("ix_code_crosswalk_from", table_name="code_crosswalk")
    op.drop_table("code_crosswalk")
    op.drop_index("ix_code_release_id_parent", table_name="code")
    op.drop_table("code")
    op.drop_index(op.f("ix_code_release_scheme_id"), table_name="code_release")
    op.drop_table("code_release")
    op.drop_table("code_scheme")
