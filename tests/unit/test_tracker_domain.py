"""The tracker's rules, without I/O."""

from collections import Counter

import pytest

from tracker import domain


@pytest.mark.parametrize(
    "title, jira_id, expected",
    [
        ("Change the green", None, ("Change the green", None)),
        ("  Change the green ", "UBERPOP-42", ("Change the green", "UBERPOP-42")),
        ("[UBERPOP-42] — Change the green", None, ("Change the green", "UBERPOP-42")),
        ("[UBERPOP-42] - Change the green", None, ("Change the green", "UBERPOP-42")),
        ("[UBERPOP-42] Change the green", None, ("Change the green", "UBERPOP-42")),
        ("[UBERPOP-42]—Change the green", "", ("Change the green", "UBERPOP-42")),
        ("x" * 200, None, ("x" * 200, None)),
    ],
)
def test_title_and_jira_id_split_the_old_form_and_keep_the_new(title, jira_id, expected):
    assert domain.title_and_jira_id(title, jira_id) == expected


@pytest.mark.parametrize(
    "title, jira_id, complaint",
    [
        ("", None, "needs a title"),
        ("   ", None, "needs a title"),
        ("[UBERPOP-42] — ", None, "needs a title"),
        ("x" * 201, None, "at most 200"),
        ("Fix [this]", None, "may not contain"),
        ("[UBERPOP-42] — Change", "UBERPOP-43", "may not contain"),
        ("Change the green", "uberpop-42", "not a Jira id"),
        ("Change the green", "UBERPOP-", "not a Jira id"),
        ("Change the green", "UBERPOP 42", "not a Jira id"),
        ("[uberpop-42] Change", None, "may not contain"),
    ],
)
def test_bad_titles_and_jira_ids_are_refused_with_a_reason(title, jira_id, complaint):
    with pytest.raises(domain.InvalidTask, match=complaint):
        domain.title_and_jira_id(title, jira_id)


@pytest.mark.parametrize(
    "role, active, assignable",
    [
        ("developer", True, True),
        ("accountant", True, True),
        ("boss", True, True),
        ("admin", True, False),
        ("manager", True, False),
        ("developer", False, False),
    ],
)
def test_only_active_popugs_who_are_not_admins_or_managers_are_assignable(role, active, assignable):
    assert domain.is_assignable(role, active) is assignable


def test_no_assignable_account_is_refused_clearly():
    with pytest.raises(domain.NoAssignee, match="no popug"):
        domain.choose_assignee([])


def test_assignee_is_chosen_uniformly():
    candidates = ["a", "b", "c", "d"]
    counts = Counter(domain.choose_assignee(candidates) for _ in range(20_000))
    assert set(counts) == set(candidates)
    expected = 20_000 / len(candidates)
    chi_square = sum((count - expected) ** 2 / expected for count in counts.values())
    assert chi_square < 16.27, counts  # p = 0.001 for 3 degrees of freedom


@pytest.mark.parametrize(
    "status, assignee, actor, refusal",
    [
        ("open", "me", "someone else", domain.NotYourTask),
        ("done", "me", "me", domain.AlreadyDone),
        ("done", "me", "someone else", domain.NotYourTask),
    ],
)
def test_only_the_assignee_completes_and_only_once(status, assignee, actor, refusal):
    with pytest.raises(refusal):
        domain.check_may_complete(status, assignee, actor)


def test_the_assignee_may_complete_an_open_task():
    domain.check_may_complete("open", "me", "me")


@pytest.mark.parametrize(
    "role, allowed",
    [
        ("admin", True),
        ("manager", True),
        ("accountant", False),
        ("boss", False),
        ("developer", False),
    ],
)
def test_only_admins_and_managers_see_all_and_reassign(role, allowed):
    assert domain.may_see_all_and_reassign(role) is allowed
