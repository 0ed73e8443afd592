"""tokens: PostgreSQL notifies every change of ``api_token`` (channel ``yima_tokens``)

Revision ID: 0013
Revises: 0012

Each process caches the token checks it has answered (``registry.token_cache``) and forgets them when
this notification arrives. A statement-level trigger rather than a notify in the token service, so
that a change made any other way (an operator's ``UPDATE api_token SET revoked = true`` in psql, a
restore, a ``TRUNCATE``) is announced too; PostgreSQL sends it only when the transaction commits.
SQLite has no notifications and no cache: nothing to do there.
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE FUNCTION yima_tokens_changed() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM pg_notify('yima_tokens', ''); RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER api_token_changed AFTER INSERT OR UPDATE OR DELETE ON api_token "
        "FOR EACH STATEMENT EXECUTE FUNCTION yima_tokens_changed()"
    )
    op.execute(
        "CREATE TRIGGER api_token_truncated AFTER TRUNCATE ON api_token "
        "FOR EACH STATEMENT EXECUTE FUNCTION yima_tokens_changed()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS api_token_truncated ON api_token")
    op.execute("DROP TRIGGER IF EXISTS api_token_changed ON api_token")
    op.execute("DROP FUNCTION IF EXISTS yima_tokens_changed()")
