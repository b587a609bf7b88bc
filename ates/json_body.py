"""Reading a JSON request body that anybody may have written: the one reader of every JSON endpoint.

json.loads takes what an attacker can write and no database can store: nesting deep enough to
exhaust the stack (a RecursionError, a 500), lone UTF-16 surrogates ("\\ud800"), valid JSON
escapes that are no Unicode text and fail the moment they are encoded, and NUL, which PostgreSQL
cannot hold. Each becomes a 400 that says so, as a marshmallow ValidationError, which every API
already answers in its own words.
"""

from flask import request
from marshmallow import ValidationError
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

MAX_DEPTH = 32  # our bodies are flat objects; this is generous and still far from the stack's end


def json_object(field: str = "body") -> dict:
    """The body as a dict, or ValidationError({field: [why]})."""
    if not request.is_json:
        raise ValidationError({field: ["Send a JSON object with Content-Type: application/json."]})
    _refuse_a_cut_off_stream()
    try:
        body = request.get_json()
    except RecursionError:
        raise ValidationError(
            {field: [f"The JSON is nested too deeply (at most {MAX_DEPTH} levels)."]}
        ) from None
    except BadRequest:  # bytes that are not JSON in UTF-8 (a body too large stays werkzeug's 413)
        raise ValidationError({field: ["The body is not valid JSON in UTF-8."]}) from None
    problem = unreadable(body)
    if problem:
        raise ValidationError({field: [problem]})
    if not isinstance(body, dict):
        raise ValidationError({field: ["Send a JSON object, {...}, not a list or a single value."]})
    return body


def _refuse_a_cut_off_stream() -> None:
    """A body sent without Content-Length (chunked) is read only up to the size limit, and werkzeug
    hands over that much without a word: the JSON would look broken (a 400) instead of too large."""
    limit = request.max_content_length
    if (
        request.content_length is None
        and limit is not None
        and len(request.get_data(cache=True)) >= limit
    ):
        raise RequestEntityTooLarge()  # ates/web.py's handler says the limit


def unreadable(value) -> str | None:
    """Why a parsed JSON value cannot be taken, or None. Walks with its own stack, never Python's."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_DEPTH:
            return f"The JSON is nested too deeply (at most {MAX_DEPTH} levels)."
        if isinstance(item, dict):
            pending.extend((key, depth) for key in item)
            pending.extend((inner, depth + 1) for inner in item.values())
        elif isinstance(item, list):
            pending.extend((inner, depth + 1) for inner in item)
        elif isinstance(item, str) and not _is_unicode(item):
            return (
                "The JSON has a lone surrogate (\\ud800-\\udfff without its pair): that is no text."
            )
        elif isinstance(item, str) and "\x00" in item:
            return "The JSON has a NUL character (U+0000): no text aTES keeps may contain one."
    return None


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
