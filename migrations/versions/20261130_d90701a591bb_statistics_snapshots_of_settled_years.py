"""statistics: snapshots of the protected tables of years that are over

Computed once and read back by every worker; they hold protected counts only.

Revision ID: d90701a591bb
Revises: 1666a241dd73
Create Date: 2026-11-30 18:25:20.607218
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d90701a591bb"
down_revision: str | None = "1666a241dd73"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stat_snapshots",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("k", sa.Integer(), nullable=False),
        sa.Column("algorithm", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stat_snapshots")),
        sa.UniqueConstraint(
            "kind", "year", "k", "algorithm", name=op.f("uq_stat_snapshots_kind_year_k_algorithm")
        ),
    )


def downgrade() -> None:
    op.drop_table("stat_snapshots")
