"""What a person may type into text we store and show again: names, titles, descriptions.

Refused: every control character (Unicode category Cc: C0, DEL, C1) and every lone surrogate (Cs).
NUL cannot be stored by PostgreSQL, a surrogate cannot be encoded at all, and the others end up in
terminals, logs, CSV and mail where they do harm, never good. A multi-line text (a description)
keeps its line breaks and tabs; a single line (a title, a name, an email) does not need them.
"""

import re

# Cc is exactly U+0000-U+001F and U+007F-U+009F; Cs is U+D800-U+DFFF (tests/unit/test_text.py).
REFUSED_IN_A_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
REFUSED_IN_LINES = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]"
)  # keeps \t \n \r


def unprintable(value: str, what: str, multiline: bool = False) -> str | None:
    """Why `value` cannot be taken as `what` ("the title"), or None when it can."""
    found = (REFUSED_IN_LINES if multiline else REFUSED_IN_A_LINE).search(value)
    if found is None:
        return None
    character = found.group()
    kind = "a lone surrogate" if "\ud800" <= character <= "\udfff" else "a control character"
    return f"{what} contains {kind} (U+{ord(character):04X} at position {found.start() + 1}); remove it"


def printable_part(value: str) -> str:
    """The value without what a single line refuses, for keys and logs made of untrusted text."""
    return REFUSED_IN_A_LINE.sub("", value)
