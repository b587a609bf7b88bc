"""What a request the rules refuse looks like, in every service: one exception and one answer.

A service's own refusals subclass `RuleBroken` and say their `code` (for programs) and `status`
(the HTTP answer); the message is for a person. `service_app` (ates/web.py) registers `refusal`,
so a view simply lets a refusal rise and every API answers it the same way:

    {"error": "<code>", "message": "<why>"}  with the refusal's status
"""

from flask import jsonify


class RuleBroken(Exception):
    """A request the rules refuse; str() and `message` are the reason, for a person."""

    code = "rule_broken"
    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def refusal(error: RuleBroken):
    return jsonify(error=error.code, message=error.message), error.status
