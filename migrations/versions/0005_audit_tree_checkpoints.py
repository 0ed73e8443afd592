"""audit tree and checkpoints: the RFC 9162 tree's stored subtrees (backfilled from the log) and issued checkpoints

Revision ID: 0005
Revises: 0004
"""

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: rows per INSERT while backfilling
_BATCH = 5000


def upgrade() -> None:
    op.create_table(
        "audit_tree_node",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_audit_tree_node")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "audit_checkpoint",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root", sa.String(length=44), nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_audit_checkpoint")),
    )
    _backfill_tree()


def _backfill_tree() -> None:
    """Every existing entry becomes a leaf, with its complete subtrees, exactly as appends would store them.

    Written out here rather than imported so this revision keeps working whatever later code does;
    the rule is the contract's (leaf = SHA-256(0x00 ‖ hash bytes), node = SHA-256(0x01 ‖ l ‖ r)).
    """
    bind = op.get_bind()
    node = sa.table("audit_tree_node", sa.column("level"), sa.column("idx"), sa.column("hash"))
    rows, stack = [], []
    result = bind.execute(
        sa.text("SELECT seq, hash FROM audit_entry ORDER BY seq"),
        execution_options={"stream_results": True, "yield_per": _BATCH},
    )
    for j, (seq, entry_hash) in enumerate(result):
        if seq != j + 1:
            print(
                f"audit_entry has a gap before seq {seq}: the tree covers entries 1–{j} (run yima audit verify)"
            )
            break
        h = hashlib.sha256(b"\x00" + bytes.fromhex(entry_hash)).digest()
        rows.append({"level": 0, "idx": j, "hash": h})
        level, idx = 0, j
        while idx & 1:
            h = hashlib.sha256(b"\x01" + stack.pop() + h).digest()
            level, idx = level + 1, idx >> 1
            rows.append({"level": level, "idx": idx, "hash": h})
        stack.append(h)
        if len(rows) >= _BATCH:
            bind.execute(node.insert(), rows)
            rows = []
    if rows:
        bind.execute(node.insert(), rows)


def downgrade() -> None:
    op.drop_table("audit_checkpoint")
    op.drop_table("audit_tree_node")
