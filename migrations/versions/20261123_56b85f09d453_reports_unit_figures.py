"""reports: unit_figures, each unit's own figures as last counted (read for very large
subtrees instead of counting everyone again)

Revision ID: 56b85f09d453
Revises: fdb58e751a1c
Create Date: 2026-11-23 22:43:22.419108

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '56b85f09d453'
down_revision = 'fdb58e751a1c'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('unit_figures',
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('active', sa.Integer(), nullable=False),
    sa.Column('trained', sa.Integer(), nullable=False),
    sa.Column('in_progress', sa.Integer(), nullable=False),
    sa.Column('on_time', sa.Integer(), nullable=False),
    sa.Column('computed_on', sa.Date(), nullable=False),
    sa.Column('computed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['programme_id'], ['programmes.id'], name=op.f('fk_unit_figures_programme_id_programmes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_unit_figures_unit_id_units'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('programme_id', 'unit_id', name=op.f('pk_unit_figures'))
    )


def downgrade():
    op.drop_table('unit_figures')
