"""fees settled in another currency: kept as stated, and converted at the rate that applied

Revision ID: 0007_fee_fx
Revises: 0006_fees
Create Date: 2026-11-23 15:10:00

Plain ADD COLUMNs (not a batch table copy), so entry_fee keeps its append-only triggers on
SQLite as on PostgreSQL.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_fee_fx'
down_revision = '0006_fees'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('entry_fee', sa.Column('entry_minor', sa.BigInteger(), nullable=True))
    op.add_column('entry_fee', sa.Column('fx_rate', sa.String(length=32), nullable=True))
    op.add_column('entry_fee', sa.Column('fx_date', sa.Date(), nullable=True))
    op.add_column('entry_fee', sa.Column('fx_source', sa.String(length=16), nullable=True))
    op.add_column('stripe_charge', sa.Column('fee_exchange_rate', sa.String(length=32),
                                             nullable=True))
    op.add_column('stripe_charge', sa.Column('fee_rate_date', sa.Date(), nullable=True))


def downgrade():
    with op.batch_alter_table('stripe_charge', schema=None) as batch_op:
        batch_op.drop_column('fee_rate_date')
        batch_op.drop_column('fee_exchange_rate')
    # SQLite drops columns by copying the table, which loses its triggers: put them back.
    from twestival.ledger.models import append_only_ddl
    with op.batch_alter_table('entry_fee', schema=None) as batch_op:
        batch_op.drop_column('fx_source')
        batch_op.drop_column('fx_date')
        batch_op.drop_column('fx_rate')
        batch_op.drop_column('entry_minor')
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in append_only_ddl(dialect, ("entry_fee",)):
            op.execute(statement)
