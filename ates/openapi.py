"""Each service's REST API as an OpenAPI 3.1 document at `/openapi.json` (SPEC §7).

The document is built from the code: every route of the service's API blueprint, the YAML
after `---` in its view's docstring (apispec's Flask plugin reads it), and the marshmallow
schemas it names. The errors every route can give — 400, 401, 403 and 503 as `{error,
message}` — are added here once instead of in every docstring.
"""

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec_webframeworks.flask import FlaskPlugin
from flask import Flask, jsonify
from marshmallow import Schema, fields

EVENT_LOG_BLUEPRINT = (
    "event_log"  # `/api/events/...` of ates.event_log, on every service that has them
)

COMMON_ERRORS = {
    "400": "the request is malformed or breaks a rule",
    "401": "no valid bearer token",
    "403": "the token's role may not do this",
    "503": "the database or the SSO's signing keys cannot serve right now: try again after "
    "`Retry-After` seconds (`database_unavailable`, `sso_unavailable`)",
}


class Problem(Schema):
    error = fields.String(
        required=True, metadata={"description": "a stable code, e.g. `invalid_input`"}
    )
    message = fields.String(
        required=True, metadata={"description": "what went wrong, for a person"}
    )
    field_errors = fields.Dict(
        data_key="fields", metadata={"description": "invalid input: what is wrong with each field"}
    )


def document_api(
    app: Flask,
    title: str,
    blueprint: str = "api",
    schemas: tuple[type[Schema], ...] = (),
    description: str = "",
) -> None:
    """Serve `GET /openapi.json` describing the routes of `blueprint` (public, like /healthz)."""

    @app.get("/openapi.json")
    def openapi():
        if "ates.openapi" not in app.extensions:
            app.extensions["ates.openapi"] = build_spec(app, title, blueprint, schemas, description)
        return jsonify(app.extensions["ates.openapi"])


def build_spec(app: Flask, title: str, blueprint: str, schemas, description: str) -> dict:
    spec = APISpec(
        title=title,
        version="1",
        openapi_version="3.1.0",
        plugins=[FlaskPlugin(), MarshmallowPlugin()],
        info={"description": description},
    )
    spec.components.security_scheme(
        "bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    spec.components.schema("Problem", schema=Problem)
    for schema in schemas:
        spec.components.schema(schema.__name__, schema=schema)
    with app.test_request_context():
        for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
            if rule.endpoint.split(".")[0] in (blueprint, EVENT_LOG_BLUEPRINT):
                spec.path(view=app.view_functions[rule.endpoint], app=app)
    document = spec.to_dict()
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            _add_path_parameters(path, operation)
            operation.setdefault("security", [{"bearer": []}])
            responses = operation.setdefault("responses", {})
            if "ates.idempotency" in app.extensions and method in (
                "post",
                "put",
                "patch",
                "delete",
            ):
                _add_idempotency_key(operation, responses)
            for status, text in COMMON_ERRORS.items():
                responses.setdefault(status, _problem(text))
            for status, response in responses.items():
                if status.startswith("4") and "content" not in response:
                    response.update(_problem(response.get("description", "")))
    return document


def _add_idempotency_key(operation: dict, responses: dict) -> None:
    """Every write takes `Idempotency-Key` (ates/idempotency.py)."""
    operation.setdefault("parameters", []).append(
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            "description": "A key of the client's own (a UUID) to send the same write again safely: "
            "the same request under the same key gets the first answer again "
            "(`Idempotent-Replayed: true`) and changes nothing; kept for 24 hours.",
        }
    )
    in_flight = "a request with this Idempotency-Key is still being worked on (retry)"
    if "409" in responses:
        responses["409"]["description"] += f"; or {in_flight}"
    else:
        responses["409"] = _problem(in_flight)
    responses.setdefault("422", _problem("this Idempotency-Key was used for another request"))


def _add_path_parameters(path: str, operation: dict) -> None:
    named = {
        parameter["name"]
        for parameter in operation.get("parameters", [])
        if parameter.get("in") == "path"
    }
    for segment in path.split("/"):
        if segment.startswith("{") and segment.endswith("}") and segment[1:-1] not in named:
            operation.setdefault("parameters", []).append(
                {
                    "name": segment[1:-1],
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                }
            )


def _problem(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
