"""programs with a guaranteed minimum, their membership changes, their payouts, usage items

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 01:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('programs',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('minimum', sa.BigInteger(), nullable=False),
    sa.Column('start', sa.BigInteger(), nullable=False),
    sa.Column('retro_from', sa.BigInteger(), nullable=True),
    sa.Column('retro_rate', sa.BigInteger(), nullable=True),
    sa.Column('defined_at', sa.BigInteger(), nullable=False),
    sa.Column('periods_closed', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_programs'))
    )
    op.create_table('program_changes',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('program', sa.String(length=40), nullable=False),
    sa.Column('change', sa.String(length=8), nullable=False),
    sa.Column('account', sa.String(length=42), nullable=True),
    sa.Column('at', sa.BigInteger(), nullable=False),
    sa.Column('by', sa.String(length=8), nullable=False),
    sa.Column('nonce', sa.String(length=78), nullable=True),
    sa.Column('issued_at', sa.BigInteger(), nullable=True),
    sa.Column('signature', sa.LargeBinary(length=65), nullable=True),
    sa.Column('epoch', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_program_changes')),
    sa.UniqueConstraint('account', 'nonce', name='uq_program_changes_account_nonce')
    )
    with op.batch_alter_table('program_changes', schema=None) as batch_op:
        batch_op.create_index('ix_program_changes_program_account', ['program', 'account'], unique=False)
        batch_op.create_index(batch_op.f('ix_program_changes_epoch'), ['epoch'], unique=False)
    op.create_table('program_payouts',
    sa.Column('ref', sa.String(length=128), nullable=False),
    sa.Column('program', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('account', sa.String(length=42), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('transfer_id', _ID, nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['transfer_id'], ['journal_transfers.id'],
                            name=op.f('fk_program_payouts_transfer_id_journal_transfers')),
    sa.PrimaryKeyConstraint('ref', name=op.f('pk_program_payouts')),
    sa.UniqueConstraint('transfer_id', name=op.f('uq_program_payouts_transfer_id'))
    )
    op.create_table('usage_items',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('ref', sa.String(length=128), nullable=False),
    sa.Column('contribution_id', sa.BigInteger(), nullable=False),
    sa.Column('account', sa.String(length=42), nullable=False),
    sa.Column('units', sa.BigInteger(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('epoch', sa.Integer(), nullable=True),
    sa.Column('retro_ref', sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_usage_items'))
    )
    with op.batch_alter_table('usage_items', schema=None) as batch_op:
        batch_op.create_index('ix_usage_items_account_created_at', ['account', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_usage_items_epoch'), ['epoch'], unique=False)
    with op.batch_alter_table('journal_entries', schema=None) as batch_op:
        batch_op.create_index('ix_journal_entries_account_created_at', ['account', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('journal_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_journal_entries_account_created_at')
    with op.batch_alter_table('usage_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_usage_items_epoch'))
        batch_op.drop_index('ix_usage_items_account_created_at')
    op.drop_table('usage_items')
    op.drop_table('program_payouts')
    with op.batch_alter_table('program_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_program_changes_epoch'))
        batch_op.drop_index('ix_program_changes_program_account')
    op.drop_table('program_changes')
    op.drop_table('programs')
