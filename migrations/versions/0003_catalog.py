"""catalog: systems, data resources, fields, revisions, search index

Revision ID: 0003
Revises: 0002
(placeholder until its issue lands: upgrade and downgrade do nothing yet)
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
