"""giving2: PayPal orders remember the fee the donor covered, keyed on PayPal's order id

Revision ID: 0016_giving2
Revises: 0015_donor_erasure
Create Date: 2026-12-05 03:20:00
"""
from alembic import op
import sqlalchemy as sa

from twestival.storage.database import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0016_giving2'
down_revision = '0015_donor_erasure'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('paypal_order',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('city_id', sa.Integer(), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('fee_covered_minor', sa.BigInteger(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_paypal_order_campaign_id_campaign')),
    sa.ForeignKeyConstraint(['city_id'], ['city.id'], name=op.f('fk_paypal_order_city_id_city')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_paypal_order')),
    sa.UniqueConstraint('order_id', name=op.f('uq_paypal_order_order_id'))
    )


def downgrade():
    op.drop_table('paypal_order')
