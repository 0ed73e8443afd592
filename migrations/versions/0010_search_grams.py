"""search: on PostgreSQL, 1–2 character queries use an exact array index of the grams

Revision ID: 0010
Revises: 0009

The pg_trgm index of ``resource_search.grams`` (0003) answered ``grams LIKE '% 工程 %'`` with
candidates that had to be rechecked against the 700-byte grams of every row, and a broad pair
('工程', every row) made the planner scan and LIKE the whole table (451 ms over 50,000 rows). The grams
are exact tokens, so an array GIN index over ``string_to_array(grams, ' ')`` answers ``@>`` without a
recheck: the rows are visited only for the facet columns. The index expression carries no statistics
(``SET STATISTICS 0``) so that the planner keeps the default containment estimate and never prefers
splitting the grams of every row in a sequential scan (docs/catalog.md "Search on PostgreSQL").
SQLite is unchanged (FTS5 ``resource_fts_grams``).
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS resource_fts_grams")
    op.execute("CREATE INDEX resource_fts_grams ON resource_search USING gin (string_to_array(grams, ' '))")
    op.execute("ALTER INDEX resource_fts_grams ALTER COLUMN 1 SET STATISTICS 0")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS resource_fts_grams")
    op.execute("CREATE INDEX resource_fts_grams ON resource_search USING gin (grams gin_trgm_ops)")
