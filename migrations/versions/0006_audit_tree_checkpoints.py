"""audit tree and checkpoints: the RFC 9162 tree's stored subtrees (backfilled from the log) and issued checkpoints

Revision ID: 0006
Revises: 0005
"""

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

#: rows per INSERT while backfilling
_BATCH = 5000


def upgrade() -> None:
    op.create_table(
        "audit_tree",
        sa.Column("leaf", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hashes", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("leaf", name=op.f("pk_audit_tree")),
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
    """Every existing entry becomes a leaf: row ``leaf`` holds the hashes of the subtrees ending there,
    level 0 first, exactly as appends store them.

    Written out here rather than imported so this revision keeps working whatever later code does;
    the rule is the contract's (leaf = SHA-256(0x00 ‖ hash bytes), node = SHA-256(0x01 ‖ l ‖ r)).
    """
    bind = op.get_bind()
    tree = sa.table("audit_tree", sa.column("leaf"), sa.column("hashes"))
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
        hashes, idx = [h], j
        while idx & 1:
            h = hashlib.sha256(b"\x01" + stack.pop() + h).digest()
            hashes.append(h)
            idx >>= 1
        stack.append(h)
        rows.append({"leaf": j, "hashes": b"".join(hashes)})
        if len(rows) >= _BATCH:
            bind.execute(tree.insert(), rows)
            rows = []
    if rows:
        bind.execute(tree.insert(), rows)


def downgrade() -> None:
    op.drop_table("audit_checkpoint")
    op.drop_table("audit_tree")
