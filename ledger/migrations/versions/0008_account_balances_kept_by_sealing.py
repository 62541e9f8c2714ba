"""account balances kept by sealing, filled from the sealed journal

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 22:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('account_balances',
    sa.Column('account', sa.String(length=64), nullable=False),
    sa.Column('balance', sa.BigInteger(), nullable=False),
    sa.Column('epoch', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('account', name=op.f('pk_account_balances'))
    )
    # Every balance sealed so far is the sum of the account's sealed entries.
    op.execute("INSERT INTO account_balances (account, balance, epoch) "
               "SELECT account, SUM(amount), MAX(epoch) FROM journal_entries "
               "WHERE epoch IS NOT NULL GROUP BY account")


def downgrade() -> None:
    op.drop_table('account_balances')
