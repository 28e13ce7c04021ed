"""login failures per client instead of an account lock

Five wrong passwords from anyone locked an account (failed_attempts, locked_until), so anyone
who knew a counsellor's name could keep them out. Failed attempts are now rows keyed by hashes
of the log-in name and of the client (complaints/accounts/throttle.py); the account page shows
them since the log-in before the last (previous_login_at). A lock that was running is dropped.

Revision ID: 19384f70246a
Revises: 3c4f9a7e21b6
Create Date: 2026-12-07 02:50:42.022762
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "19384f70246a"
down_revision: str | None = "3c4f9a7e21b6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("login_key", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("client_key", sa.String(length=32), nullable=False),
        sa.Column(
            "step",
            sa.Enum("password", "totp", name="loginstep", native_enum=False, length=40),
            nullable=False,
        ),
        sa.Column("throttled", sa.Boolean(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_login_failures_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_login_failures_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_login_failures_at"), ["at"], unique=False)
        batch_op.create_index("ix_login_failures_client_key_at", ["client_key", "at"], unique=False)
        batch_op.create_index("ix_login_failures_login_key_at", ["login_key", "at"], unique=False)

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("previous_login_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.drop_column("locked_until")
        batch_op.drop_column("failed_attempts")


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        # Nobody is locked after a downgrade: the counters start again from zero.
        batch_op.add_column(
            sa.Column("failed_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_column("previous_login_at")
    # The default only filled the rows there were; the earlier schema has none.
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.alter_column("failed_attempts", server_default=None)

    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_login_failures_login_key_at")
        batch_op.drop_index("ix_login_failures_client_key_at")
        batch_op.drop_index(batch_op.f("ix_login_failures_at"))
        batch_op.drop_index(batch_op.f("ix_login_failures_account_id"))

    op.drop_table("login_failures")
