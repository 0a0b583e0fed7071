"""the night's programme: each city's run sheet, and sponsors of a campaign or a city

Revision ID: 0017_nightshow
Revises: 0016_giving2
Create Date: 2026-12-05 03:30:00
"""
from alembic import op
import sqlalchemy as sa

import twestival.storage.database


# revision identifiers, used by Alembic.
revision = '0017_nightshow'
down_revision = '0016_giving2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('run_sheet_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('city_id', sa.Integer(), nullable=False),
    sa.Column('at_local', sa.DateTime(), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('note', sa.String(length=280), nullable=True),
    sa.Column('updated_at', twestival.storage.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_run_sheet_item_campaign_id_campaign')),
    sa.ForeignKeyConstraint(['city_id'], ['city.id'], name=op.f('fk_run_sheet_item_city_id_city')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_run_sheet_item'))
    )
    op.create_index('ix_run_sheet_item_city_at', 'run_sheet_item', ['city_id', 'at_local'], unique=False)
    op.create_table('sponsor',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('city_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('link', sa.String(length=500), nullable=True),
    sa.Column('image', sa.LargeBinary(), nullable=False),
    sa.Column('image_type', sa.String(length=32), nullable=False),
    sa.Column('image_digest', sa.String(length=64), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('created_at', twestival.storage.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_sponsor_campaign_id_campaign')),
    sa.ForeignKeyConstraint(['city_id'], ['city.id'], name=op.f('fk_sponsor_city_id_city')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sponsor'))
    )
    op.create_index('ix_sponsor_campaign_city', 'sponsor', ['campaign_id', 'city_id'], unique=False)


def downgrade():
    op.drop_index('ix_sponsor_campaign_city', table_name='sponsor')
    op.drop_table('sponsor')
    op.drop_index('ix_run_sheet_item_city_at', table_name='run_sheet_item')
    op.drop_table('run_sheet_item')
