"""standards: code schemes, releases, codes, crosswalks

Revision ID: 0002
Revises: 0001
(placeholder until its issue lands: upgrade and downgrade do nothing yet)
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
