"""search: indexes for broad matches (a term found in most resources)

Revision ID: 0012
Revises: 0011

A broad search (catalog.search ``_is_broad``) reads its page in code order and stops when the page is
full: ``resource_fts_code`` on ``resource_search`` (SQLite: ``(code, name)``, so that the walk and its
name-first rank read the index alone). SQLite also counts a broad match's facets from the covering
index ``resource_fts_facets`` (the six facet columns; the rowid is in every SQLite index) instead of
looking up every wide search row. PostgreSQL counts them from the bitmap of its text indexes (an index
of the facet columns cannot be combined with it) and gets only the code index. Like 0003/0010's
indexes they are outside the models (``migrations.include_name``: names starting with ``resource_fts``).
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE INDEX resource_fts_code ON resource_search (code, name)")
        op.execute(
            "CREATE INDEX resource_fts_facets ON resource_search "
            "(category, share_type, security_grade, system, provider, status)"
        )
    else:
        op.execute("CREATE INDEX resource_fts_code ON resource_search (code)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS resource_fts_facets")
    op.execute("DROP INDEX IF EXISTS resource_fts_code")
