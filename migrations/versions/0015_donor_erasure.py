"""donor erasure: ledger_entry's UPDATE guard lets through only the blanking of donor data on
an entry whose chain salt is gone (docs/donor-data.md); every other UPDATE is still refused

Revision ID: 0015_donor_erasure
Revises: 0014_live_night
Create Date: 2026-12-05 01:45:00
"""
from alembic import op

from twestival.ledger.models import append_only_ddl, erasable_ddl

# revision identifiers, used by Alembic.
revision = '0015_donor_erasure'
down_revision = '0014_live_night'
branch_labels = None
depends_on = None


def upgrade():
    for statement in erasable_ddl(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS ledger_entry_no_update")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS ledger_entry_no_update ON ledger_entry")
        op.execute("DROP TRIGGER IF EXISTS ledger_entry_no_delete ON ledger_entry")
        op.execute("DROP FUNCTION IF EXISTS twestival_erasure_only()")
    for statement in append_only_ddl(dialect, ("ledger_entry",)):
        if "ledger_entry_no_delete" in statement:
            continue   # never dropped on SQLite
        op.execute(statement)
