"""gunicorn reads this file from the working directory on every start (Procfile, compose, tests):
its own error and access logs come out as JSON lines like the app's (docs/observability.md)."""

logger_class = "ates.logs.GunicornLogger"

# An idle keep-alive connection is closed after this many seconds. gunicorn's default of 2 s makes
# the close race a client's next request on the same connection often enough to show (a reset GET
# in the e2e day); the services sit behind the gateway and other services' clients, not the open
# internet, so holding idle connections longer costs a file descriptor each and nothing else.
keepalive = 30
