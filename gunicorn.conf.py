"""gunicorn reads this file from the working directory on every start (Procfile, compose, tests):
its own error and access logs come out as JSON lines like the app's (docs/observability.md)."""
logger_class = "ates.logs.GunicornLogger"
