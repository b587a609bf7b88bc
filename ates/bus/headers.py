"""AMQP header values as aTES reads and writes them again: the consumer's retry counts, the
copies it republishes, and the dead-letter tools' replays all go through these."""

SENDER_SELECTED = (
    "CC",
    "BCC",
)  # the broker routes a message to these queues as well: a copy must not go there


def rewritable(value):
    """Header values as pika can publish them again: it reads a double as an int of any size (1e300
    from another client), but writes no int beyond 64 bits, so those go on as text."""
    if isinstance(value, dict):
        return {name: rewritable(item) for name, item in value.items()}
    if isinstance(value, list):
        return [rewritable(item) for item in value]
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        return str(value)
    return value


def header_count(value) -> int:
    """A count we wrote (`ates-attempts`, `ates-replays`): small and never negative. Anything else is a
    producer's or garbled and counts as none, also because a replay writes `ates-replays` + 1 back, and
    pika writes no int past 64 bits."""
    try:
        count = int(value or 0)
    except (TypeError, ValueError, OverflowError):  # OverflowError: a float inf
        return 0
    return count if 0 <= count < 2**31 else 0
