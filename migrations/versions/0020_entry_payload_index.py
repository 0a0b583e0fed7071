"""index ledger_entry.payload_id: what a payload recorded is read after every payment

Revision ID: 0020_entry_payload_index
Revises: 0016_giving2
Create Date: 2026-12-05 03:30:00
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0020_entry_payload_index'
down_revision = '0016_giving2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_ledger_entry_payload_id", "ledger_entry", ["payload_id"])


def downgrade():
    op.drop_index("ix_ledger_entry_payload_id", table_name="ledger_entry")
