"""sign-in guard: revocable sessions (user.session_epoch) and per-account login throttling

Revision ID: 0009_sign_in_guard
Revises: 0008_file_pieces
Create Date: 2026-12-05 00:20:00

Existing sessions carry a bare user id, which the loader reads as epoch 0: they stay valid
until the person signs out or changes their password.
"""
from alembic import op
import sqlalchemy as sa

import twestival.storage.database


# revision identifiers, used by Alembic.
revision = '0009_sign_in_guard'
down_revision = '0008_file_pieces'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_epoch', sa.Integer(), server_default='0',
                                      nullable=False))
    op.create_table('login_throttle',
    sa.Column('account_key', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', twestival.storage.database.UTCDateTime(), nullable=False),
    sa.Column('locked_until', twestival.storage.database.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('account_key', name=op.f('pk_login_throttle'))
    )


def downgrade():
    op.drop_table('login_throttle')
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('session_epoch')
