"""the organiser's desk: the imports history, and mail retried with back-off

Revision ID: 0018_desk
Revises: 0017_nightshow
Create Date: 2026-12-05 03:20:00

Every run of an imported file gets a history row (who, when, the file's name and hash, its
report); an unsent outbox message keeps the time of its next attempt.
"""
import sqlalchemy as sa
from alembic import op

import twestival.storage.database

# revision identifiers, used by Alembic.
revision = '0018_desk'
down_revision = '0017_nightshow'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('import_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('city_id', sa.Integer(), nullable=True),
    sa.Column('payload_id', sa.Integer(), nullable=False),
    sa.Column('stream', sa.String(length=32), nullable=False),
    sa.Column('format', sa.String(length=16), nullable=False),
    sa.Column('filename', sa.String(length=300), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('via', sa.String(length=16), nullable=False),
    sa.Column('by_user_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=300), nullable=False),
    sa.Column('at', twestival.storage.database.UTCDateTime(), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('imported', sa.Integer(), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=False),
    sa.Column('unmatched', sa.Integer(), nullable=False),
    sa.Column('report', sa.JSON(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['by_user_id'], ['user.id'], name=op.f('fk_import_record_by_user_id_user')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_import_record_campaign_id_campaign')),
    sa.ForeignKeyConstraint(['city_id'], ['city.id'], name=op.f('fk_import_record_city_id_city')),
    sa.ForeignKeyConstraint(['payload_id'], ['inbound_payload.id'], name=op.f('fk_import_record_payload_id_inbound_payload')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_record'))
    )
    op.create_index('ix_import_record_campaign_id_id', 'import_record', ['campaign_id', 'id'], unique=False)
    op.create_index(op.f('ix_import_record_city_id'), 'import_record', ['city_id'], unique=False)
    op.create_index(op.f('ix_import_record_payload_id'), 'import_record', ['payload_id'], unique=False)
    op.add_column('outbox_message', sa.Column('next_attempt_at', twestival.storage.database.UTCDateTime(), nullable=True))


def downgrade():
    # ALTER TABLE .. DROP COLUMN, not a batch copy (see 0014).
    op.drop_column('outbox_message', 'next_attempt_at')
    op.drop_index(op.f('ix_import_record_payload_id'), table_name='import_record')
    op.drop_index(op.f('ix_import_record_city_id'), table_name='import_record')
    op.drop_index('ix_import_record_campaign_id_id', table_name='import_record')
    op.drop_table('import_record')
