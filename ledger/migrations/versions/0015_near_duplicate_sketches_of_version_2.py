"""near-duplicate sketches of version 2: the old signatures and bands are dropped, every contribution re-signed

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 05:00:00.000000

The sketch changed (ledger.near_duplicates.VERSION 2: two sketches of 128 bins, assistant and
the rest, with their shingle counts; 16 bands of 3 bins): signatures of version 1 cannot be
compared with it. The column and the table are renamed along with it, so that a replica still
running the old code fails on them rather than mixing old signatures into the new index. Every
contribution is left unsigned (near_duplicate_sketch null): the leader's storage job re-signs
them from their stored bytes, a few hundred a pass, as it signs those accepted while the check
was off (ledger.near_duplicate_backfill). Downgrading leaves the old index empty in the same way.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def _index_table(name: str) -> None:
    op.create_table(name,
    sa.Column('key', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('contribution_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False,
              nullable=False),
    sa.ForeignKeyConstraint(['contribution_id'], ['contributions.id'],
                            name=op.f(f'fk_{name}_contribution_id_contributions')),
    sa.PrimaryKeyConstraint('key', 'contribution_id', name=op.f(f'pk_{name}'))
    )


def upgrade() -> None:
    op.drop_table('near_duplicate_bands')
    with op.batch_alter_table('contributions', schema=None) as batch_op:
        batch_op.drop_column('near_duplicate_signature')
        batch_op.add_column(sa.Column('near_duplicate_sketch', sa.LargeBinary(length=521), nullable=True))
    _index_table('near_duplicate_keys')


def downgrade() -> None:
    op.drop_table('near_duplicate_keys')
    with op.batch_alter_table('contributions', schema=None) as batch_op:
        batch_op.drop_column('near_duplicate_sketch')
        batch_op.add_column(sa.Column('near_duplicate_signature', sa.LargeBinary(length=256), nullable=True))
    _index_table('near_duplicate_bands')
