"""`ates dlq`'s arguments, what it prints, and its exit codes; the broker side is faked here
(tests/integration/test_dead_letters.py runs it against the real one)."""

import pytest

from ates.dead_letters.queues import DeadLetter, DeadQueue, NotFound, Outcome
from cli import dlq
from cli.main import _parser, main

KEY = "0a4cbb3e-8d55-4d8e-b7a9-4a0f3f1a2b3c"


def a_letter(key=KEY, reason="schema: no schema for task.created v7", **fields) -> DeadLetter:
    return DeadLetter(
        **{
            "queue": "accounting.tracker.dead",
            "key": key,
            "event_id": key,
            "type": "task.created",
            "version": 7,
            "time": "2026-03-01T10:15:00Z",
            "reason": reason,
            "dead_at": "2026-03-01T10:15:01Z",
            "attempts": 0,
            "replays": 0,
            "original_queue": "accounting.tracker",
            "original_exchange": "tracker.events",
            "original_routing_key": "task.created.v7",
            **fields,
        }
    )


class FakeDeadLetters:
    def __init__(self, queues=(), outcome=None, error=None):
        self.queues, self.outcome, self.error, self.calls = list(queues), outcome, error, []

    def list(self, queue=None):
        self.calls.append(("list", queue))
        return self.queues

    def replay(self, queue, key=None, reason=None):
        self.calls.append(("replay", queue, key, reason))
        if self.error:
            raise self.error
        return self.outcome

    discard = replay


def run(argv, fake):
    return dlq.run(_parser().parse_args(argv), dead_letters=fake)


@pytest.mark.parametrize(
    "argv",
    [
        ["dlq", "replay", "q"],
        ["dlq", "discard", "q", "k", "--all"],
        ["dlq", "replay", "q", "--reason", "r", "--all"],
        ["dlq", "show", "q"],
    ],
)
def test_an_action_needs_exactly_one_choice(argv, capsys):
    with pytest.raises(SystemExit) as exit:
        _parser().parse_args(argv)
    assert exit.value.code == 2


@pytest.mark.parametrize(
    "argv,call",
    [
        (["dlq", "replay", "accounting.tracker", KEY], ("replay", "accounting.tracker", KEY, None)),
        (
            ["dlq", "replay", "accounting.tracker", "--reason", "not JSON"],
            ("replay", "accounting.tracker", None, "not JSON"),
        ),
        (
            ["dlq", "discard", "accounting.tracker.dead", "--all"],
            ("replay", "accounting.tracker.dead", None, None),
        ),
    ],
)
def test_the_choice_reaches_the_dead_letters(argv, call):
    fake = FakeDeadLetters(outcome=Outcome("accounting.tracker.dead", (a_letter(),), (), 0))
    assert run(argv, fake) == 0
    assert fake.calls == [call]


def test_list_prints_each_queue_its_groups_and_their_letters(capsys):
    waiting = [
        a_letter(
            f"0a4cbb3e-8d55-4d8e-b7a9-4a0f3f1a2b3{n}",
            reason=f"gave up after 2 tries: not yet: task "
            f"7d0b1f4c-1b8e-4d7b-9a43-0c5b7b0d7c1{n} is not known yet",
            attempts=1,
        )
        for n in range(2)
    ]
    fake = FakeDeadLetters(
        [
            DeadQueue("accounting.tracker.dead", 3, (a_letter(), *waiting)),
            DeadQueue("analytics.tracker.dead", 0, ()),
        ]
    )
    assert run(["dlq", "list"], fake) == 0
    out = capsys.readouterr().out
    assert (
        "accounting.tracker.dead: 3 dead letters" in out
        and "analytics.tracker.dead: 0 dead letters (empty)" in out
    )
    assert "[1] schema: no schema for task.created v7" in out
    assert "[2] gave up after 2 tries: not yet: task <id> is not known yet" in out
    assert f"{KEY}  task.created v7" in out and "2026-03-01T10:15:00Z" in out and "tries 1" in out


def test_a_truncated_queue_says_so(capsys):
    run(
        ["dlq", "list"],
        FakeDeadLetters([DeadQueue("accounting.tracker.dead", 10_001, (a_letter(),))]),
    )
    assert "only the first 1 are read" in capsys.readouterr().out


def test_a_replay_says_where_to_and_what_stayed_with_a_non_zero_exit(capsys):
    stayed = a_letter("body-1234", original_queue="gone.tracker")
    fake = FakeDeadLetters(
        outcome=Outcome(
            "accounting.tracker.dead",
            (a_letter(),),
            ((stayed, "there is no queue gone.tracker to replay it to"),),
            5,
        )
    )
    assert run(["dlq", "replay", "accounting.tracker", "--all"], fake) == 1
    out, err = capsys.readouterr()
    assert "Replayed 1 dead letter from accounting.tracker.dead to accounting.tracker." in out
    assert "5 more were not read this time" in out
    assert (
        "body-1234 was not replayed and stays in accounting.tracker.dead: there is no queue gone.tracker"
        in err
    )


def test_a_problem_is_told_on_stderr_with_a_non_zero_exit(capsys):
    fake = FakeDeadLetters(error=NotFound(f"no dead letter {KEY} in accounting.tracker.dead"))
    assert run(["dlq", "discard", "accounting.tracker", KEY], fake) == 1
    assert capsys.readouterr().err == f"ates dlq: no dead letter {KEY} in accounting.tracker.dead\n"


def test_a_broker_that_is_down_is_told_with_a_non_zero_exit(monkeypatch, capsys):
    monkeypatch.setenv("ATES_AMQP_URL", "amqp://guest:guest@localhost:1/%2F")
    monkeypatch.setenv("ATES_AMQP_PASSWORD_OPERATOR", "pw")
    assert main(["dlq", "list", "--queue", "accounting.tracker"]) == 1
    assert (
        "ates dlq: cannot reach RabbitMQ at localhost:1, virtual host '/'"
        in capsys.readouterr().err
    )


def test_a_management_api_that_is_down_is_told_with_a_non_zero_exit(monkeypatch, capsys):
    monkeypatch.setenv("ATES_AMQP_URL", "amqp://guest:guest@localhost:1/%2F")
    monkeypatch.setenv("ATES_RABBITMQ_MANAGEMENT_URL", "http://localhost:1")
    monkeypatch.delenv("ATES_RABBITMQ_MANAGEMENT_API_URL", raising=False)
    monkeypatch.setenv("ATES_AMQP_PASSWORD_OPERATOR", "pw")
    assert main(["dlq", "list"]) == 1
    assert (
        "ates dlq: cannot reach RabbitMQ's management API at http://localhost:1"
        in capsys.readouterr().err
    )


def test_without_the_operator_s_password_it_says_where_to_find_one(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("ATES_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("ATES_AMQP_PASSWORD_OPERATOR", raising=False)
    assert main(["dlq", "list"]) == 1
    assert "ates dlq: no broker password for ates-operator" in capsys.readouterr().err
