"""`ates dlq`: the operator's view of the dead letters, straight to RabbitMQ with ATES_AMQP_URL.

ates dlq list [--queue Q]
ates dlq show Q KEY
ates dlq replay Q (KEY | --reason R | --all)
ates dlq discard Q (KEY | --reason R | --all)
"""

import sys

from ates.bus.users import OPERATOR
from ates.config import load_settings
from ates.dead_letters.queues import DeadLetterError, DeadLetters, DeadQueue, Outcome

LIMIT_PER_GROUP = (
    50  # lines of letters printed per group by `list`; actions still take the whole group
)


def add_parser(commands) -> None:
    dlq = commands.add_parser(
        "dlq",
        help="see, replay and discard dead-lettered events (needs ATES_AMQP_URL)",
        description="Dead-lettered events in every <queue>.dead of the broker at "
        "ATES_AMQP_URL. A queue may be named with or without its .dead.",
    )
    actions = dlq.add_subparsers(dest="dlq_command", required=True)
    listing = actions.add_parser("list", help="every .dead queue, its letters grouped by reason")
    listing.add_argument("--queue", help="only this queue")
    show = actions.add_parser("show", help="one letter in full: headers and body")
    show.add_argument("queue")
    show.add_argument("key", help="the event id, or body-<hash> as `list` prints it")
    for name, what in (
        ("replay", "republish to the consumer queue the letters came from"),
        ("discard", "remove for good"),
    ):
        action = actions.add_parser(name, help=what)
        action.add_argument("queue")
        chosen = action.add_mutually_exclusive_group(required=True)
        chosen.add_argument("key", nargs="?", help="one letter, by its key")
        chosen.add_argument(
            "--reason", help="every letter of this reason group (as `list` prints it)"
        )
        chosen.add_argument("--all", action="store_true", help="every letter in the queue")


def run(args, dead_letters: DeadLetters | None = None) -> int:
    try:
        dead_letters = dead_letters or DeadLetters(load_settings(OPERATOR).amqp_url)
    except RuntimeError as error:  # no operator password here
        print(f"ates dlq: {error}", file=sys.stderr)
        return 1
    try:
        if args.dlq_command == "list":
            return _list(dead_letters.list(args.queue))
        if args.dlq_command == "show":
            return _show(dead_letters.show(args.queue, args.key))
        act = dead_letters.replay if args.dlq_command == "replay" else dead_letters.discard
        return _report(
            act(args.queue, key=args.key, reason=args.reason),
            args.dlq_command,
            by_key=bool(args.key),
        )
    except DeadLetterError as error:
        print(f"ates dlq: {error}", file=sys.stderr)
        return 1


def _list(queues: list[DeadQueue]) -> int:
    if not queues:
        print("There are no .dead queues.")
    for queue in queues:
        print(f"{queue.name}: {_count(queue.count)}" + (" (empty)" if not queue.count else ""))
        if queue.truncated:
            print(
                f"  only the first {len(queue.letters)} are read; act on them and list again for the rest"
            )
        for group in queue.groups:
            print(f"  [{len(group.letters)}] {group.reason}")
            for letter in group.letters[:LIMIT_PER_GROUP]:
                kind = f"{letter.type} v{letter.version}" if letter.type else "(no type)"
                tries = f"  tries {letter.attempts}" if letter.attempts else ""
                replays = f"  replays {letter.replays}" if letter.replays else ""
                print(
                    f"      {letter.key:<36}  {kind:<22}  {letter.time or '-':<27}  "
                    f"dead {letter.dead_at or '-'}"
                    f"{tries}{replays}"
                )
            if len(group.letters) > LIMIT_PER_GROUP:
                print(f"      … and {len(group.letters) - LIMIT_PER_GROUP} more")
    return 0


def _show(shown) -> int:
    letter = shown.letter
    for label, value in (
        ("queue", letter.queue),
        ("key", letter.key),
        ("event id", letter.event_id),
        ("type", f"{letter.type} v{letter.version}" if letter.type else None),
        ("time", letter.time),
        ("reason", letter.reason),
        ("dead at", letter.dead_at),
        ("replays to", letter.original_queue),
        (
            "came from",
            f"{letter.original_exchange} {letter.original_routing_key}"
            if letter.original_routing_key
            else None,
        ),
        ("copies", shown.copies if shown.copies > 1 else None),
    ):
        if value is not None:
            print(f"{label + ':':<12}{value}")
    print("headers:")
    for name, value in sorted(shown.headers.items()):
        print(f"  {name}: {value}")
    print("properties:")
    for name, value in shown.properties.items():
        print(f"  {name}: {value}")
    print("body:")
    print(shown.body)
    return 0


def _report(outcome: Outcome, action: str, by_key: bool) -> int:
    done = "replayed" if action == "replay" else "discarded"
    targets = sorted({letter.original_queue for letter in outcome.done})
    where = f" to {', '.join(targets)}" if action == "replay" and targets else ""
    print(f"{done.capitalize()} {_count(len(outcome.done))} from {outcome.queue}{where}.")
    for letter, why in outcome.failed:
        print(
            f"ates dlq: {letter.key} was not {done} and stays in {outcome.queue}: {why}",
            file=sys.stderr,
        )
    if outcome.unread and not by_key:
        print(
            f"{outcome.unread} more were not read this time; run the same command again for them."
        )
    return 1 if outcome.failed else 0


def _count(number: int) -> str:
    return f"{number} dead letter" + ("" if number == 1 else "s")
