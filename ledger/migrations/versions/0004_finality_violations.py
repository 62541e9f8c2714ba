"""finality violations: final epochs a reorg deeper than the confirmations took off the chain

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('finality_violations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('epoch', sa.Integer(), nullable=False),
    sa.Column('detected_at', sa.BigInteger(), nullable=False),
    sa.Column('chain_latest', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('tx_hash', sa.String(length=66), nullable=True),
    sa.Column('block_number', sa.BigInteger(), nullable=True),
    sa.Column('block_hash', sa.String(length=66), nullable=True),
    sa.ForeignKeyConstraint(['epoch'], ['epochs.number'], name=op.f('fk_finality_violations_epoch_epochs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finality_violations'))
    )
    with op.batch_alter_table('finality_violations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_finality_violations_epoch'), ['epoch'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('finality_violations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_finality_violations_epoch'))

    op.drop_table('finality_violations')
