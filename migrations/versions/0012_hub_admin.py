"""the audit log (append-only) and campaigns that can be closed

Revision ID: 0012_hub_admin
Revises: 0011_fx_policy
Create Date: 2026-12-05 01:00:00
"""
from alembic import op
import sqlalchemy as sa

import twestival.storage.database
from twestival.audit.models import trigger_ddl


# revision identifiers, used by Alembic.
revision = '0012_hub_admin'
down_revision = '0011_fx_policy'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('audit_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', twestival.storage.database.UTCDateTime(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=48), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('city_id', sa.Integer(), nullable=True),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['user.id'], name=op.f('fk_audit_entry_actor_id_user')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_audit_entry_campaign_id_campaign')),
    sa.ForeignKeyConstraint(['city_id'], ['city.id'], name=op.f('fk_audit_entry_city_id_city')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entry'))
    )
    op.create_index('ix_audit_entry_campaign_at', 'audit_entry', ['campaign_id', 'at'], unique=False)
    for statement in trigger_ddl(op.get_bind().dialect.name):
        op.execute(statement)
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closed_at', twestival.storage.database.UTCDateTime(), nullable=True))


def downgrade():
    # ALTER TABLE .. DROP COLUMN, not a batch copy: dropping the campaign table to copy it
    # would break the foreign keys that point at it.
    op.drop_column('campaign', 'closed_at')
    # Dropping the table drops its triggers with it, on SQLite and PostgreSQL.
    op.drop_index('ix_audit_entry_campaign_at', table_name='audit_entry')
    op.drop_table('audit_entry')
