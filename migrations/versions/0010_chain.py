"""the ledger's hash chain (ledger_link, ledger_salt, ledger_chain_head); INSERT OR REPLACE
refused on the append-only tables

Revision ID: 0010_chain
Revises: 0009_sign_in_guard
Create Date: 2026-12-05 00:45:00

Entries already in the ledger are linked in id order, campaign by campaign, as
``ledger.chain`` links new ones (see docs/ledger-chain.md).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_chain'
down_revision = '0009_sign_in_guard'
branch_labels = None
depends_on = None

GUARDED = ("ledger_entry", "entry_confirmation", "entry_fee", "ledger_link")


def upgrade():
    op.create_table('ledger_chain_head',
    sa.Column('campaign_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('entries', sa.BigInteger(), nullable=False),
    sa.Column('head', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_ledger_chain_head_campaign_id_campaign')),
    sa.PrimaryKeyConstraint('campaign_id', name=op.f('pk_ledger_chain_head'))
    )
    op.create_table('ledger_link',
    sa.Column('entry_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.BigInteger(), nullable=False),
    sa.Column('personal', sa.String(length=64), nullable=True),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_ledger_link_campaign_id_campaign')),
    sa.ForeignKeyConstraint(['entry_id'], ['ledger_entry.id'], name=op.f('fk_ledger_link_entry_id_ledger_entry')),
    sa.PrimaryKeyConstraint('entry_id', name=op.f('pk_ledger_link')),
    sa.UniqueConstraint('campaign_id', 'position', name=op.f('uq_ledger_link_campaign_id_position'))
    )
    op.create_table('ledger_salt',
    sa.Column('entry_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('salt', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['ledger_entry.id'], name=op.f('fk_ledger_salt_entry_id_ledger_entry')),
    sa.PrimaryKeyConstraint('entry_id', name=op.f('pk_ledger_salt'))
    )
    from twestival.ledger.models import append_only_ddl, no_replace_ddl
    dialect = op.get_bind().dialect.name
    for statement in append_only_ddl(dialect, ("ledger_link",)):
        if "FUNCTION twestival_append_only" not in statement:
            op.execute(statement)
    if dialect == "sqlite":
        for table in GUARDED:
            for statement in no_replace_ddl(table):
                op.execute(statement)
    _backfill()


def _backfill():
    from sqlalchemy.orm import Session
    from twestival.ledger import chain
    session = Session(bind=op.get_bind())
    for campaign_id in session.scalars(sa.text("SELECT id FROM campaign ORDER BY id")).all():
        chain.backfill(session, campaign_id)
    session.flush()


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        from twestival.ledger.models import no_replace_ddl
        for table in GUARDED:
            for statement in no_replace_ddl(table):
                op.execute(f"DROP TRIGGER IF EXISTS {statement.split()[2]}")
    op.drop_table('ledger_salt')
    op.drop_table('ledger_link')
    op.drop_table('ledger_chain_head')
