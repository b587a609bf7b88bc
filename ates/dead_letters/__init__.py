"""Dead letters, for the admin page and `ates dlq`: `letter` reads one (no I/O), `queues` reads,
replays and discards what waits in every `.dead` queue, as the broker's operator user. Not part of
the bus: the bus only puts letters there (ates/bus/consumer.py)."""
