"""What a password must be: 8–200 characters, not the username, and not one an attacker tries early.

"Tries early" is zxcvbn's judgement (Dropbox's estimator): the password is, as a whole, one of the
30,000 most common passwords it ships (also reversed, capitalised or l33t-spelt, `P@ssw0rd`), or it
would fall to fewer than 1,000 guesses (`aaaaaaaa`, `qwertyuiop`). Plain Python, no I/O.
"""

from zxcvbn import zxcvbn

MIN_LENGTH = 8
MAX_LENGTH = 200
ZXCVBN_MAX_LENGTH = 72  # zxcvbn refuses longer input; a longer password is judged by its first 72
COMMON_LIST = "passwords"


class WeakPassword(ValueError):
    """Why a password is refused, for the person choosing it."""


def weakness(password: str, username: str = "") -> str | None:
    """Why this password may not be used, or None when it may."""
    if not MIN_LENGTH <= len(password or "") <= MAX_LENGTH:
        return f"A password is {MIN_LENGTH} to {MAX_LENGTH} characters long."
    if username and password.casefold() == username.casefold():
        return "A password must not be your username."
    if is_common(password):
        return (
            "This password is too common: it is among the first an attacker tries. "
            "Choose another, for example three or four unrelated words."
        )
    return None


def is_common(password: str) -> bool:
    estimate = zxcvbn(password[:ZXCVBN_MAX_LENGTH])
    sequence = estimate["sequence"]
    listed = len(sequence) == 1 and sequence[0].get("dictionary_name") == COMMON_LIST
    return listed or estimate["score"] == 0
