"""entered exchange rates (with their source), a campaign's fixed rate day, revoked tokens' why

Revision ID: 0011_fx_policy
Revises: 0010_chain
Create Date: 2026-12-05 01:00:00

Plain ADD COLUMNs: nothing is copied, no table loses its triggers.
"""
from alembic import op
import sqlalchemy as sa

from twestival.storage.database import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0011_fx_policy'
down_revision = '0010_chain'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('fx_rate', sa.Column('note', sa.String(length=200), nullable=True))
    op.add_column('fx_rate', sa.Column('entered_by', sa.String(length=254), nullable=True))
    op.add_column('fx_rate', sa.Column('entered_at', UTCDateTime(), nullable=True))
    op.add_column('campaign', sa.Column('fx_fixed_on', sa.Date(), nullable=True))
    op.add_column('api_token', sa.Column('revoked_by', sa.String(length=254), nullable=True))
    op.add_column('api_token', sa.Column('revoke_reason', sa.String(length=500), nullable=True))


def downgrade():
    # ALTER TABLE .. DROP COLUMN (SQLite 3.35+), not a batch copy: dropping the campaign table
    # to copy it would break the foreign keys that point at it.
    for table, column in (('api_token', 'revoke_reason'), ('api_token', 'revoked_by'),
                          ('campaign', 'fx_fixed_on'), ('fx_rate', 'entered_at'),
                          ('fx_rate', 'entered_by'), ('fx_rate', 'note')):
        op.drop_column(table, column)
