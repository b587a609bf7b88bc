"""gunicorn reads this file from the working directory on every start (Procfile, compose, tests):
its own error and access logs come out as JSON lines like the app's (docs/observability.md)."""

logger_class = "ates.logs.GunicornLogger"

# An idle keep-alive connection is closed after this many seconds. gunicorn's default of 2 s makes
# the close race a client's next request on the same connection often enough to show (a reset GET
# in the e2e day); the services sit behind the gateway and other services' clients, not the open
# internet, so holding idle connections longer costs a file descriptor each and nothing else.
keepalive = 30

# A master killed outright (SIGKILL, OOM) leaves its worker running for a few seconds, still
# holding the listening socket; without SO_REUSEPORT the restarted master cannot bind the port,
# exits, and is restarted again and again until the orphan has gone (seen in the chaos test: the
# tracker down for 20 s). With it the new master binds at once beside the orphan, which serves
# what it accepted and then goes.
reuse_port = True
