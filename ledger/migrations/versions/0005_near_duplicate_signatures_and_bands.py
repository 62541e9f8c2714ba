"""near-duplicate signatures of contributions and their LSH band index

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 15:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('contributions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('near_duplicate_signature', sa.LargeBinary(length=256), nullable=True))
    op.create_table('near_duplicate_bands',
    sa.Column('key', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('contribution_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False,
              nullable=False),
    sa.ForeignKeyConstraint(['contribution_id'], ['contributions.id'],
                            name=op.f('fk_near_duplicate_bands_contribution_id_contributions')),
    sa.PrimaryKeyConstraint('key', 'contribution_id', name=op.f('pk_near_duplicate_bands'))
    )


def downgrade() -> None:
    op.drop_table('near_duplicate_bands')
    with op.batch_alter_table('contributions', schema=None) as batch_op:
        batch_op.drop_column('near_duplicate_signature')
