"""catalog: systems, data resources, fields, revisions, search index

Revision ID: 0003
Revises: 0002

The search index is database-specific and lives outside the models: on SQLite an FTS5 table
``resource_fts`` (trigram tokenizer, external content ``resource_search``, kept in step by triggers);
plus ``resource_fts_grams`` (unicode61, over ``grams``: single characters and pairs, for 1–2 character
queries); on PostgreSQL the pg_trgm extension and a GIN index ``resource_fts_trgm`` on
``resource_search.text`` plus a pg_trgm GIN index ``resource_fts_grams`` on ``grams`` (space-padded words).
``migrations.include_name`` hides both from the model comparison.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "system",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("namespaces", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_system")),
        sa.UniqueConstraint("code", name=op.f("uq_system_code")),
    )
    with op.batch_alter_table("system", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_system_owner"), ["owner"], unique=False)

    op.create_table(
        "data_resource",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("system", sa.String(length=64), nullable=True),
        sa.Column("format", sa.String(length=20), nullable=True),
        sa.Column("share_type", sa.String(length=20), nullable=False),
        sa.Column("share_condition", sa.Text(), nullable=True),
        sa.Column("share_method", sa.String(length=20), nullable=True),
        sa.Column("open_to_public", sa.Boolean(), nullable=False),
        sa.Column("open_condition", sa.Text(), nullable=True),
        sa.Column("update_cycle", sa.String(length=20), nullable=True),
        sa.Column("published_on", sa.Date(), nullable=True),
        sa.Column("security_grade", sa.String(length=20), nullable=False),
        sa.Column("related", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("steward", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("lineage_namespace", sa.String(length=500), nullable=True),
        sa.Column("lineage_name", sa.String(length=500), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_resource")),
        sa.UniqueConstraint("code", name=op.f("uq_data_resource_code")),
        sa.UniqueConstraint("lineage_namespace", "lineage_name", name="uq_data_resource_lineage"),
    )
    with op.batch_alter_table("data_resource", schema=None) as batch_op:
        for column in ("category", "provider", "system", "share_type", "security_grade", "status"):
            batch_op.create_index(batch_op.f(f"ix_data_resource_{column}"), [column], unique=False)

    op.create_table(
        "resource_field",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("unique", sa.Boolean(), nullable=False),
        sa.Column("code_scheme", sa.String(length=64), nullable=True),
        sa.Column("constraints", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["data_resource.id"],
            name=op.f("fk_resource_field_resource_id_data_resource"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource_field")),
        sa.UniqueConstraint("resource_id", "name", name="uq_resource_field_resource_id_name"),
    )
    with op.batch_alter_table("resource_field", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_resource_field_resource_id"), ["resource_id"], unique=False)

    op.create_table(
        "resource_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource_code", sa.String(length=64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource_revision")),
        sa.UniqueConstraint("resource_code", "number", name="uq_resource_revision_code_number"),
    )
    with op.batch_alter_table("resource_revision", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_resource_revision_resource_code"), ["resource_code"], unique=False
        )

    op.create_table(
        "resource_search",
        sa.Column("resource_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("grams", sa.Text(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("share_type", sa.String(length=20), nullable=False),
        sa.Column("security_grade", sa.String(length=20), nullable=False),
        sa.Column("system", sa.String(length=64), nullable=True),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["data_resource.id"],
            name=op.f("fk_resource_search_resource_id_data_resource"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("resource_id", name=op.f("pk_resource_search")),
    )

    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE resource_fts USING fts5("
            "text, content='resource_search', content_rowid='resource_id', tokenize='trigram')"
        )
        op.execute(
            "CREATE VIRTUAL TABLE resource_fts_grams USING fts5("
            "grams, content='resource_search', content_rowid='resource_id', tokenize='unicode61')"
        )
        op.execute(
            "CREATE TRIGGER resource_fts_ai AFTER INSERT ON resource_search BEGIN "
            "INSERT INTO resource_fts(rowid, text) VALUES (new.resource_id, new.text); "
            "INSERT INTO resource_fts_grams(rowid, grams) VALUES (new.resource_id, new.grams); END"
        )
        op.execute(
            "CREATE TRIGGER resource_fts_ad AFTER DELETE ON resource_search BEGIN "
            "INSERT INTO resource_fts(resource_fts, rowid, text) VALUES ('delete', old.resource_id, old.text); "
            "INSERT INTO resource_fts_grams(resource_fts_grams, rowid, grams) "
            "VALUES ('delete', old.resource_id, old.grams); END"
        )
        op.execute(
            "CREATE TRIGGER resource_fts_au AFTER UPDATE ON resource_search BEGIN "
            "INSERT INTO resource_fts(resource_fts, rowid, text) VALUES ('delete', old.resource_id, old.text); "
            "INSERT INTO resource_fts(rowid, text) VALUES (new.resource_id, new.text); "
            "INSERT INTO resource_fts_grams(resource_fts_grams, rowid, grams) "
            "VALUES ('delete', old.resource_id, old.grams); "
            "INSERT INTO resource_fts_grams(rowid, grams) VALUES (new.resource_id, new.grams); END"
        )
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX resource_fts_trgm ON resource_search USING gin (text gin_trgm_ops)")
        op.execute("CREATE INDEX resource_fts_grams ON resource_search USING gin (grams gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("resource_fts_ai", "resource_fts_ad", "resource_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS resource_fts")
        op.execute("DROP TABLE IF EXISTS resource_fts_grams")
    else:
        op.execute("DROP INDEX IF EXISTS resource_fts_trgm")
        op.execute("DROP INDEX IF EXISTS resource_fts_grams")
    op.drop_table("resource_search")
    with op.batch_alter_table("resource_revision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resource_revision_resource_code"))
    op.drop_table("resource_revision")
    with op.batch_alter_table("resource_field", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resource_field_resource_id"))
    op.drop_table("resource_field")
    with op.batch_alter_table("data_resource", schema=None) as batch_op:
        for column in ("category", "provider", "system", "share_type", "security_grade", "status"):
            batch_op.drop_index(batch_op.f(f"ix_data_resource_{column}"))
    op.drop_table("data_resource")
    with op.batch_alter_table("system", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_system_owner"))
    op.drop_table("system")
