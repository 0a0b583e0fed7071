"""index ledger_entry.payload_id (what a payload recorded is read after every payment) and
(campaign_id, reporting_minor) (the night's largest gifts are read on every push)

Revision ID: 0020_entry_payload_index
Revises: 0018_desk
Create Date: 2026-12-05 03:30:00
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0020_entry_payload_index'
down_revision = '0018_desk'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_ledger_entry_payload_id", "ledger_entry", ["payload_id"])
    op.create_index("ix_ledger_entry_campaign_reporting", "ledger_entry",
                    ["campaign_id", "reporting_minor"])


def downgrade():
    op.drop_index("ix_ledger_entry_campaign_reporting", table_name="ledger_entry")
    op.drop_index("ix_ledger_entry_payload_id", table_name="ledger_entry")
