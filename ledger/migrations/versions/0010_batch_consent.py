"""batch consent: a ContributionBatch's root, count and item proof on each contribution, and the
batches whose nonces are used

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 01:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

SINGLE = sa.text("batch_root IS NULL")


def upgrade() -> None:
    op.create_table('consent_batches',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('contributor', sa.String(length=42), nullable=False),
    sa.Column('nonce', sa.String(length=78), nullable=False),
    sa.Column('contents_root', sa.LargeBinary(length=32), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.Column('issued_at', sa.BigInteger(), nullable=False),
    sa.Column('signature', sa.LargeBinary(length=65), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_batches')),
    sa.UniqueConstraint('contributor', 'nonce', name='uq_consent_batches_contributor_nonce')
    )
    with op.batch_alter_table('contributions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('batch_root', sa.LargeBinary(length=32), nullable=True))
        batch_op.add_column(sa.Column('batch_count', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('batch_proof', sa.LargeBinary(length=1024), nullable=True))
        # The items of a batch share its nonce: the contributor's nonce stays unique among single
        # consents only, and consent_batches keeps a batch's nonce unique.
        batch_op.drop_constraint('uq_contributions_contributor_nonce', type_='unique')
        batch_op.create_index('uq_contributions_contributor_nonce', ['contributor', 'nonce'], unique=True,
                              postgresql_where=SINGLE, sqlite_where=SINGLE)


def downgrade() -> None:
    # Refused by the database while batch-consented contributions exist: their items share a nonce.
    with op.batch_alter_table('contributions', schema=None) as batch_op:
        batch_op.drop_index('uq_contributions_contributor_nonce')
        batch_op.create_unique_constraint('uq_contributions_contributor_nonce', ['contributor', 'nonce'])
        batch_op.drop_column('batch_proof')
        batch_op.drop_column('batch_count')
        batch_op.drop_column('batch_root')
    op.drop_table('consent_batches')
