"""phone verifications: a patient proves a mobile number so that their channels can be linked

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 05:25:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('phone_verifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('code_salt', sa.String(length=32), nullable=True),
    sa.Column('code_hash', sa.String(length=64), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('phone_verifications', schema=None) as batch_op:
        batch_op.create_index('ix_phone_verifications_conversation_status', ['conversation_id', 'status'], unique=False)
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.create_index('ix_patients_phone', ['phone'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_index('ix_patients_phone')
    with op.batch_alter_table('phone_verifications', schema=None) as batch_op:
        batch_op.drop_index('ix_phone_verifications_conversation_status')
    op.drop_table('phone_verifications')
