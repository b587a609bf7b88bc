"""tasks, accounts replica, activity, reassignments

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():

    op.create_table('accounts',
    sa.Column('account_id', sa.String(length=36), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('assignable', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('account_id', name=op.f('pk_accounts'))
    )
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_accounts_assignable'), ['assignable'], unique=False)

    op.create_table('reassignments',
    sa.Column('reassignment_id', sa.String(length=36), nullable=False),
    sa.Column('requested_by', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('reassigned', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('reassignment_id', name=op.f('pk_reassignments'))
    )
    with op.batch_alter_table('reassignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reassignments_status'), ['status'], unique=False)

    op.create_table('tasks',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('task_id', sa.String(length=36), nullable=False),
    sa.Column('jira_id', sa.String(length=40), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('assignee_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tasks')),
    sa.UniqueConstraint('task_id', name=op.f('uq_tasks_task_id'))
    )
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tasks_assignee_id'), ['assignee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tasks_status'), ['status'], unique=False)

    op.create_table('reassignment_items',
    sa.Column('reassignment_id', sa.String(length=36), nullable=False),
    sa.Column('task_id', sa.String(length=36), nullable=False),
    sa.Column('done', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['reassignment_id'], ['reassignments.reassignment_id'], name=op.f('fk_reassignment_items_reassignment_id_reassignments')),
    sa.PrimaryKeyConstraint('reassignment_id', 'task_id', name=op.f('pk_reassignment_items'))
    )
    with op.batch_alter_table('reassignment_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reassignment_items_done'), ['done'], unique=False)

    op.create_table('task_activity',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('task_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('account_id', sa.String(length=36), nullable=False),
    sa.Column('reassignment_id', sa.String(length=36), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.task_id'], name=op.f('fk_task_activity_task_id_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_activity'))
    )
    with op.batch_alter_table('task_activity', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_activity_task_id'), ['task_id'], unique=False)




def downgrade():

    with op.batch_alter_table('task_activity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_activity_task_id'))

    op.drop_table('task_activity')
    with op.batch_alter_table('reassignment_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reassignment_items_done'))

    op.drop_table('reassignment_items')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tasks_status'))
        batch_op.drop_index(batch_op.f('ix_tasks_assignee_id'))

    op.drop_table('tasks')
    with op.batch_alter_table('reassignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reassignments_status'))

    op.drop_table('reassignments')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_accounts_assignable'))

    op.drop_table('accounts')

