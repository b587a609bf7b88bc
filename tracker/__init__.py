"""The task tracker: tasks, their assignees and activity; publishes task.* events."""
