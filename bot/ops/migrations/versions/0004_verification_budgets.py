"""verification budgets: codes sent per conversation, number, client address and hospital, per window

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08 03:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('verification_budgets',
    sa.Column('scope', sa.String(length=20), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('scope', 'key', 'window_start')
    )
    with op.batch_alter_table('verification_budgets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_verification_budgets_window_start'), ['window_start'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('verification_budgets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_verification_budgets_window_start'))
    op.drop_table('verification_budgets')
