"""imported files kept in pieces of about 1 MB, each inserted in its own short transaction

Revision ID: 0008_file_pieces
Revises: 0007_fee_fx
Create Date: 2026-12-04 15:00:00

Files archived before this keep their bytes in inbound_payload.body, where
``filearchive.archived_file`` still reads them: nothing is copied.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_file_pieces'
down_revision = '0007_fee_fx'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('inbound_file_piece',
    sa.Column('payload_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['payload_id'], ['inbound_payload.id'], name=op.f('fk_inbound_file_piece_payload_id_inbound_payload')),
    sa.PrimaryKeyConstraint('payload_id', 'seq', name=op.f('pk_inbound_file_piece'))
    )


def downgrade():
    # The archive loses nothing: files kept in pieces go back into their payload's body.
    conn = op.get_bind()
    pieces = sa.table('inbound_file_piece', sa.column('payload_id', sa.Integer()),
                      sa.column('seq', sa.Integer()), sa.column('data', sa.LargeBinary()))
    payloads = sa.table('inbound_payload', sa.column('id', sa.Integer()),
                        sa.column('body', sa.LargeBinary()))
    for payload_id in conn.scalars(sa.select(pieces.c.payload_id).distinct()).all():
        body = b"".join(conn.scalars(sa.select(pieces.c.data).where(
            pieces.c.payload_id == payload_id).order_by(pieces.c.seq)))
        conn.execute(payloads.update().where(payloads.c.id == payload_id).values(body=body))
    op.drop_table('inbound_file_piece')
