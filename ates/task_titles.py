"""The v1 task title, part of the event contract (event_schemas/task.created/1.json): a task with a
Jira id carries it in front of its title, "[UBERPOP-42] — Change the green". One writer for the
tracker and one reader for every consumer, so that no two services read one title two ways.

Reading: an id in brackets at the start is the Jira id (a dash after it, of any kind, or none, is
punctuation), and what follows is the title, possibly nothing; a text that does not start so is all
title. Whether an empty title is acceptable is the producer's rule, not the format's.
"""

import re

JIRA_ID = re.compile(r"[A-Z][A-Z0-9]*-[0-9]+")
_V1 = re.compile(r"\[(?P<jira_id>[A-Z][A-Z0-9]*-[0-9]+)\]\s*(?:[-–—]\s*)?(?P<title>.*)", re.DOTALL)


def v1_title(title: str, jira_id: str | None) -> str:
    return f"[{jira_id}] — {title}" if jira_id else title


def split_v1_title(text: str) -> tuple[str, str | None]:
    """(title, jira_id) of a v1 title; jira_id is None when it carries none."""
    text = text.strip()
    found = _V1.fullmatch(text)
    if found is None:
        return text, None
    return found["title"].strip(), found["jira_id"]
