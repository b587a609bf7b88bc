"""Calls to the services' REST APIs on behalf of the signed-in popug, with its access token (SPEC §8)."""

import uuid

import requests
from flask import current_app, has_request_context, request

from ates import correlation
from gateway import renewal

TIMEOUT = 10
FORM_KEY = "idempotency_key"  # the hidden field every form that writes carries


class ServiceError(Exception):
    """A service refused or failed a call; `message` is meant for the person at the screen."""

    def __init__(self, status: int, error: str, message: str):
        super().__init__(f"{status} {error}: {message}")
        self.status, self.error, self.message = status, error, message


def call(
    service: str, method: str, path: str, *, params: dict | None = None, json: dict | None = None
):
    """The decoded JSON answer of `service` (None for an empty one); ServiceError for a 4xx or 5xx."""
    url = f"{current_app.config['BACKEND_URLS'][service]}{path}"
    headers = {"Authorization": f"Bearer {renewal.access_token()}"}
    key = form_key()
    if key and method in ("POST", "PUT", "PATCH", "DELETE"):
        headers["Idempotency-Key"] = key  # the form's own: a double submit is done once
    if (
        correlation.current()
    ):  # the service's events then carry this request's id (docs/observability.md)
        headers[correlation.HEADER] = correlation.current()
    try:
        response = requests.request(
            method, url, params=params, json=json, headers=headers, timeout=TIMEOUT
        )
    except requests.RequestException:
        raise ServiceError(
            503, "unavailable", f"The {service} service cannot be reached right now."
        ) from None
    if response.status_code == 401:
        raise renewal.SignInRequired()
    if not response.ok:
        raise ServiceError(response.status_code, *_error_of(response))
    return response.json() if response.content else None


def form_key() -> str | None:
    """The key the page put into the form being sent (`idempotency_key()` in a template)."""
    if not has_request_context():
        return None
    return uuid_or_none(request.form.get(FORM_KEY, ""))


def uuid_or_none(text: str | None) -> str | None:
    """The id in its one spelling, or None when it is not one: nothing else goes into a path."""
    if not text or len(text) > 45:
        return None
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def get(service: str, path: str, **params):
    return call(service, "GET", path, params=params or None)


def post(service: str, path: str, json: dict | None = None):
    return call(service, "POST", path, json=json)


def _error_of(response: requests.Response) -> tuple[str, str]:
    try:
        body = response.json()
        return body["error"], body["message"]
    except (ValueError, KeyError, TypeError):
        return "error", f"The service answered {response.status_code} {response.reason}."
