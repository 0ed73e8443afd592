"""lineage: lineage datasets, jobs, edges with validity intervals, raw events

Revision ID: 0004
Revises: 0003
(placeholder until its issue lands: upgrade and downgrade do nothing yet)
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
