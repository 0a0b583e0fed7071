"""giving: sandbox checkout sessions, gift receipts (one per campaign and entry), Gift Aid
declarations, match offers

Revision ID: 0013_giving
Revises: 0012_hub_admin
Create Date: 2026-12-05 00:30:00
"""
from alembic import op
import sqlalchemy as sa

from twestival.storage.database import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0013_giving'
down_revision = '0012_hub_admin'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sandbox_checkout',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('city_id', sa.Integer(), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('meta', sa.JSON(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_sandbox_checkout_campaign_id_campaign')),
    sa.ForeignKeyConstraint(['city_id'], ['city.id'], name=op.f('fk_sandbox_checkout_city_id_city')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_checkout'))
    )
    op.create_table('gift_receipt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('lang', sa.String(length=8), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_gift_receipt_campaign_id_campaign')),
    sa.ForeignKeyConstraint(['entry_id'], ['ledger_entry.id'], name=op.f('fk_gift_receipt_entry_id_ledger_entry')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gift_receipt')),
    sa.UniqueConstraint('campaign_id', 'entry_id', name=op.f('uq_gift_receipt_campaign_id_entry_id'))
    )

    op.create_table('gift_aid_declaration',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('checkout_session', sa.String(length=255), nullable=False),
    sa.Column('title', sa.String(length=8), nullable=False),
    sa.Column('first_name', sa.String(length=35), nullable=False),
    sa.Column('last_name', sa.String(length=35), nullable=False),
    sa.Column('house', sa.String(length=40), nullable=False),
    sa.Column('postcode', sa.String(length=8), nullable=False),
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('declared_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_gift_aid_declaration_campaign_id_campaign')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gift_aid_declaration')),
    sa.UniqueConstraint('checkout_session', name=op.f('uq_gift_aid_declaration_checkout_session'))
    )
    with op.batch_alter_table('gift_aid_declaration', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gift_aid_declaration_campaign_id'), ['campaign_id'], unique=False)

    op.create_table('match_offer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('sponsor', sa.String(length=200), nullable=False),
    sa.Column('pot_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('ratio', sa.Integer(), nullable=False),
    sa.Column('cities', sa.JSON(), nullable=True),
    sa.Column('starts_at', UTCDateTime(), nullable=False),
    sa.Column('ends_at', UTCDateTime(), nullable=False),
    sa.Column('spent_minor', sa.BigInteger(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_match_offer_campaign_id_campaign')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_match_offer'))
    )
    with op.batch_alter_table('match_offer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_match_offer_campaign_id'), ['campaign_id'], unique=False)


def downgrade():
    op.drop_table('match_offer')
    op.drop_table('gift_aid_declaration')
    op.drop_table('gift_receipt')
    op.drop_table('sandbox_checkout')
