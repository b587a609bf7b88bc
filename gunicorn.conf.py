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

# How many processes and threads serve requests. Every process of every service is stateless (the
# state is in its database), so more processes behind one port only add capacity. The count comes
# from WEB_CONCURRENCY (gunicorn's own convention, which Heroku-style hosts set); without it, one
# process per core: a request spends most of its time in the database and the token check, and the
# four threads of each process fill the waits. The tests' systems set WEB_CONCURRENCY=1.
import os  # noqa: E402  (gunicorn reads the names below; the import sits beside their use)
import tempfile  # noqa: E402

workers = int(os.environ.get("WEB_CONCURRENCY") or os.cpu_count() or 1)
worker_class = "gthread"
threads = int(os.environ.get("ATES_WEB_THREADS") or 4)


def on_starting(server):
    """Several processes: /metrics must add up all of them (docs/observability.md). Each start
    gets a fresh, empty directory for prometheus_client's files unless the operator chose one;
    the workers are forked after this and inherit the variable."""
    if server.cfg.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="ates-metrics-")
        server.ates_metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"]


def on_exit(server):
    """The directory this start made goes with it; one the operator chose stays."""
    made = getattr(server, "ates_metrics_dir", None)
    if made:
        import shutil

        shutil.rmtree(made, ignore_errors=True)


def child_exit(server, worker):
    """A worker that ended leaves its gauges behind unless its files are marked dead."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
