"""Where a browser may be sent back to after a login or a form: a path on this site, nothing else.

Browsers are lenient: they drop tabs and newlines inside a URL (`/<TAB>/evil.example` becomes
`//evil.example`) and read `\\` as `/`; a proxy or a second redirect may decode `%2F` once more.
So a target must be a local path as given, and its path part must stay one when percent-decoded.
"""

from urllib.parse import unquote, urlsplit

MAX_LENGTH = 2048  # longer than any page of ours; a longer target is no path we made
DECODING_ROUNDS = 3  # `%25252F` shows its slash after three; anything encoded deeper is refused


def local_path(target: str | None) -> str | None:
    """`target` when it is a path on this site (a query and a fragment allowed), else None."""
    if (
        not isinstance(target, str)
        or not target
        or len(target) > MAX_LENGTH
        or not _plainly_local(target)
    ):
        return None
    path = target.split("?", 1)[0].split("#", 1)[0]
    for _ in range(DECODING_ROUNDS):
        decoded = unquote(path)
        if decoded == path:
            return target
        if not _plainly_local(decoded):
            return None
        path = decoded
    return None


def _plainly_local(target: str) -> bool:
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    if any(ord(character) < 32 or 127 <= ord(character) < 160 for character in target):
        return False  # C0 and C1 controls: dropped by browsers, or a header split
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc
