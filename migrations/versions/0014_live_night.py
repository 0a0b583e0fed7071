"""the live night: gift moderation, the newest gift sent per campaign, each city's end time

Revision ID: 0014_live_night
Revises: 0013_giving
Create Date: 2026-12-05 00:20:00

Cities keep their local start; the end is new and optional (none: five hours after the
start). The gift wall reads donations newest first per campaign, hence the index.
"""
from alembic import op
import sqlalchemy as sa

import twestival.storage.database


# revision identifiers, used by Alembic.
revision = '0014_live_night'
down_revision = '0013_giving'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('gift_moderation',
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('name_hidden', sa.Boolean(), nullable=False),
    sa.Column('message_hidden', sa.Boolean(), nullable=False),
    sa.Column('message_approved', sa.Boolean(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', twestival.storage.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_gift_moderation_campaign_id_campaign')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user.id'], name=op.f('fk_gift_moderation_decided_by_id_user')),
    sa.ForeignKeyConstraint(['entry_id'], ['ledger_entry.id'], name=op.f('fk_gift_moderation_entry_id_ledger_entry')),
    sa.PrimaryKeyConstraint('entry_id', name=op.f('pk_gift_moderation'))
    )
    op.create_index(op.f('ix_gift_moderation_campaign_id'), 'gift_moderation', ['campaign_id'], unique=False)
    with op.batch_alter_table('live_sequence') as batch_op:
        batch_op.add_column(sa.Column('gift_id', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('city_seqs', sa.JSON(), nullable=True))
    with op.batch_alter_table('city') as batch_op:
        batch_op.add_column(sa.Column('ends_at_local', sa.DateTime(), nullable=True))
    op.create_index('ix_ledger_entry_campaign_id_id', 'ledger_entry', ['campaign_id', 'id'], unique=False)


def downgrade():
    op.drop_index('ix_ledger_entry_campaign_id_id', table_name='ledger_entry')
    # ALTER TABLE .. DROP COLUMN, not a batch copy: dropping the city table to copy it would
    # break the foreign keys that point at it.
    op.drop_column('city', 'ends_at_local')
    with op.batch_alter_table('live_sequence') as batch_op:
        batch_op.drop_column('city_seqs')
        batch_op.drop_column('gift_id')
    op.drop_index(op.f('ix_gift_moderation_campaign_id'), table_name='gift_moderation')
    op.drop_table('gift_moderation')
