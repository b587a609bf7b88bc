"""The v1 task title (ates/task_titles.py) over every odd title, and what the tracker writes read back.
tests/integration/test_task_titles_agree.py runs the same table through the three services."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ates.task_titles import split_v1_title, v1_title

ODD_TITLES = [
    ("[UBERPOP-42] — Change the green", ("Change the green", "UBERPOP-42")),
    ("[UBERPOP-42] - Change the green", ("Change the green", "UBERPOP-42")),
    ("[UBERPOP-42] – Change the green", ("Change the green", "UBERPOP-42")),
    ("[UBERPOP-42]Change the green", ("Change the green", "UBERPOP-42")),
    ("[UBERPOP-42]—Change the green", ("Change the green", "UBERPOP-42")),
    ("  [UBERPOP-42] —  Change the green  ", ("Change the green", "UBERPOP-42")),
    ("[UBERPOP-42] — ", ("", "UBERPOP-42")),  # an id and no title: still an id
    ("[UBERPOP-42]", ("", "UBERPOP-42")),
    ("[UBERPOP-42] — [UBERPOP-43] — x", ("[UBERPOP-43] — x", "UBERPOP-42")),
    ("[UBERPOP-42] —— x", ("— x", "UBERPOP-42")),  # one dash is punctuation, the next is title
    ("[UBERPOP-42] — line one\nline two", ("line one\nline two", "UBERPOP-42")),
    ("Change the green", ("Change the green", None)),
    ("", ("", None)),
    ("   ", ("", None)),
    ("[not-a-jira-id] Change", ("[not-a-jira-id] Change", None)),
    ("[uberpop-42] Change", ("[uberpop-42] Change", None)),
    ("[UBERPOP-] Change", ("[UBERPOP-] Change", None)),
    ("[42-UBERPOP] Change", ("[42-UBERPOP] Change", None)),
    ("Change [UBERPOP-42]", ("Change [UBERPOP-42]", None)),
    ("— [UBERPOP-42] Change", ("— [UBERPOP-42] Change", None)),
]


@pytest.mark.parametrize("text, expected", ODD_TITLES)
def test_the_v1_title_reads_one_way(text, expected):
    assert split_v1_title(text) == expected


TITLES = (
    st.text(
        st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="[]"),
        min_size=1,
        max_size=60,
    )
    .map(str.strip)
    .filter(bool)
)


@given(
    TITLES, st.one_of(st.none(), st.from_regex(r"[A-Z][A-Z0-9]{0,5}-[0-9]{1,5}", fullmatch=True))
)
def test_what_the_tracker_writes_every_consumer_reads_back(title, jira_id):
    if jira_id is None and title[0] in "-–—":
        return  # without an id a dash is just the title's first character
    assert split_v1_title(v1_title(title, jira_id)) == (title, jira_id)
