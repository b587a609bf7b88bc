"""Runs a worker's parts (outbox relay, consumer) side by side until SIGTERM or SIGINT."""

import logging
import signal
import threading

log = logging.getLogger(__name__)


def run_until_signalled(*parts) -> int:
    """Each part has run() and a thread-safe stop(). Returns the process's exit code."""
    finished = threading.Event()
    failures = []

    def run(part):
        try:
            part.run()
        except Exception:
            log.exception("%s stopped with an error", type(part).__name__)
            failures.append(part)
        finally:
            finished.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: finished.set())
    threads = [
        threading.Thread(target=run, args=(part,), name=type(part).__name__) for part in parts
    ]
    for thread in threads:
        thread.start()
    while not finished.wait(1.0):
        pass
    for part in parts:
        part.stop()
    for thread in threads:
        thread.join(timeout=30)
    return 1 if failures else 0
