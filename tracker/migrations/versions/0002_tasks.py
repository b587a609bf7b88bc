"""tasks, accounts replica, activity, reassignments"""

import sqlalchemy as sa
from alembic import op

from ates.migrations import drop_tables

revision, down_revision = "0002", "0001"


def upgrade():

    op.create_table(
        'accounts',
        sa.Column('account_id', sa.String(length=36), nullable=False),
        sa.Column('username', sa.String(length=64), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('assignable', sa.Boolean(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('account_id', name=op.f('pk_accounts')),
    )
    op.create_index(op.f('ix_accounts_assignable'), 'accounts', ['assignable'])

    op.create_table(
        'reassignments',
        sa.Column('reassignment_id', sa.String(length=36), nullable=False),
        sa.Column('requested_by', sa.String(length=36), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('total', sa.Integer(), nullable=False),
        sa.Column('reassigned', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('reassignment_id', name=op.f('pk_reassignments')),
    )
    op.create_index(op.f('ix_reassignments_status'), 'reassignments', ['status'])

    op.create_table(
        'tasks',
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
        sa.UniqueConstraint('task_id', name=op.f('uq_tasks_task_id')),
    )
    op.create_index(op.f('ix_tasks_assignee_id'), 'tasks', ['assignee_id'])
    op.create_index(op.f('ix_tasks_status'), 'tasks', ['status'])

    op.create_table(
        'reassignment_items',
        sa.Column('reassignment_id', sa.String(length=36), nullable=False),
        sa.Column('task_id', sa.String(length=36), nullable=False),
        sa.Column('done', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ['reassignment_id'],
            ['reassignments.reassignment_id'],
            name=op.f('fk_reassignment_items_reassignment_id_reassignments'),
        ),
        sa.PrimaryKeyConstraint('reassignment_id', 'task_id', name=op.f('pk_reassignment_items')),
    )
    op.create_index(op.f('ix_reassignment_items_done'), 'reassignment_items', ['done'])

    op.create_table(
        'task_activity',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('task_id', sa.String(length=36), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('account_id', sa.String(length=36), nullable=False),
        sa.Column('reassignment_id', sa.String(length=36), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['task_id'], ['tasks.task_id'], name=op.f('fk_task_activity_task_id_tasks')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_task_activity')),
    )
    op.create_index(op.f('ix_task_activity_task_id'), 'task_activity', ['task_id'])


def downgrade():
    drop_tables(
        "task_activity", "reassignment_items", "tasks", "reassignments", "accounts"
    )  # each table's indexes go with it
