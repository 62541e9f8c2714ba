"""the public feed: publications, the Publish and Engage statements, and engagements

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 02:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('publications',
    sa.Column('contribution_id', BIG_ID, autoincrement=False, nullable=False),
    sa.Column('published_at', sa.BigInteger(), nullable=False),
    sa.Column('images', sa.JSON(), nullable=False),
    sa.Column('preview', sa.String(length=400), nullable=False),
    sa.ForeignKeyConstraint(['contribution_id'], ['contributions.id'],
                            name=op.f('fk_publications_contribution_id_contributions')),
    sa.PrimaryKeyConstraint('contribution_id', name=op.f('pk_publications'))
    )
    op.create_index('ix_publications_feed_order', 'publications', ['published_at', 'contribution_id'])
    op.create_table('feed_statements',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('signer', sa.String(length=42), nullable=False),
    sa.Column('nonce', sa.String(length=78), nullable=False),
    sa.Column('contribution_id', BIG_ID, nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.Column('issued_at', sa.BigInteger(), nullable=False),
    sa.Column('signature', sa.LargeBinary(length=65), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['contribution_id'], ['contributions.id'],
                            name=op.f('fk_feed_statements_contribution_id_contributions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feed_statements')),
    sa.UniqueConstraint('type', 'signer', 'nonce', name='uq_feed_statements_type_signer_nonce')
    )
    op.create_index(op.f('ix_feed_statements_contribution_id'), 'feed_statements', ['contribution_id'])
    op.create_table('engagements',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('contribution_id', BIG_ID, nullable=False),
    sa.Column('actor', sa.String(length=42), nullable=False),
    sa.Column('kind', sa.Integer(), nullable=False),
    sa.Column('remix_id', BIG_ID, nullable=True),
    sa.Column('transfer_id', BIG_ID, nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['contribution_id'], ['contributions.id'],
                            name=op.f('fk_engagements_contribution_id_contributions')),
    sa.ForeignKeyConstraint(['remix_id'], ['contributions.id'], name=op.f('fk_engagements_remix_id_contributions')),
    sa.ForeignKeyConstraint(['transfer_id'], ['journal_transfers.id'],
                            name=op.f('fk_engagements_transfer_id_journal_transfers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_engagements')),
    sa.UniqueConstraint('contribution_id', 'actor', 'kind', name='uq_engagements_once'),
    sa.UniqueConstraint('remix_id', name=op.f('uq_engagements_remix_id'))
    )
    op.create_index('ix_engagements_actor_created_at', 'engagements', ['actor', 'created_at'])


def downgrade() -> None:
    op.drop_index('ix_engagements_actor_created_at', table_name='engagements')
    op.drop_table('engagements')
    op.drop_index(op.f('ix_feed_statements_contribution_id'), table_name='feed_statements')
    op.drop_table('feed_statements')
    op.drop_index('ix_publications_feed_order', table_name='publications')
    op.drop_table('publications')
