"""contribution images: each image of a version-2 conversation and the object stored for it

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 02:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('contribution_images',
    sa.Column('contribution_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('cid', sa.String(length=128), nullable=False),
    sa.Column('stored_cid', sa.String(length=128), nullable=False),
    sa.Column('media_type', sa.String(length=32), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('wrapped_key', sa.LargeBinary(length=61), nullable=True),
    sa.ForeignKeyConstraint(['contribution_id'], ['contributions.id'],
                            name=op.f('fk_contribution_images_contribution_id_contributions')),
    sa.PrimaryKeyConstraint('contribution_id', 'position', name=op.f('pk_contribution_images'))
    )
    with op.batch_alter_table('contribution_images', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contribution_images_cid'), ['cid'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('contribution_images', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contribution_images_cid'))
    op.drop_table('contribution_images')
