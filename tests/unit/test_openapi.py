"""Every service documents its REST API: each route of its API blueprint and of its event log
(`/api/events/...`, what `ates trace` reads), its errors as Problems."""

import pytest

from ates.config import load_settings

SERVICES = ["accounting", "analytics", "auth", "tracker"]


@pytest.fixture(params=SERVICES)
def service_app(request, tmp_path):
    module = __import__(f"{request.param}.app", fromlist=["create_app"])
    return module.create_app(load_settings(request.param, env={"ATES_VAR_DIR": str(tmp_path)}))


def test_every_api_route_is_documented(service_app):
    document = service_app.test_client().get("/openapi.json").get_json()
    documented = {
        (path, method) for path, operations in document["paths"].items() for method in operations
    }
    routes = {
        (rule.rule.replace("<", "{").replace(">", "}"), method.lower())
        for rule in service_app.url_map.iter_rules()
        if rule.endpoint.split(".")[0] in ("api", "event_log")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes and routes == documented
    if (
        service_app.config["ATES"].service != "auth"
    ):  # auth's events are about accounts, not tasks: no trace
        assert any(path.startswith("/api/events/") for path, _ in documented)


def test_every_operation_says_what_it_answers_and_how_it_fails(service_app):
    document = service_app.test_client().get("/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            assert any(status.startswith("2") for status in statuses), (path, method)
            assert {"400", "401", "403"} <= statuses, (path, method)
            assert operation["security"] == [{"bearer": []}]
            for status, response in operation["responses"].items():
                if status.startswith("4"):
                    assert response["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/Problem"
                    }


def test_every_write_of_tracker_accounting_and_auth_documents_the_idempotency_key(tmp_path):
    from accounting.app import create_app as accounting
    from ates.config import load_settings
    from ates.openapi import build_spec
    from tracker.app import create_app as tracker

    for name, create in (("tracker", tracker), ("accounting", accounting)):
        app = create(load_settings(name, {"ATES_VAR_DIR": str(tmp_path)}))
        document = build_spec(app, name, "api", (), "")
        writes = [
            operation
            for operations in document["paths"].values()
            for method, operation in operations.items()
            if method in ("post", "put", "patch", "delete")
        ]
        assert writes, name
        for operation in writes:
            headers = [p["name"] for p in operation["parameters"] if p["in"] == "header"]
            assert headers == ["Idempotency-Key"], (name, operation.get("summary"))
            assert "Idempotency-Key" in operation["responses"]["409"]["description"]
            assert "422" in operation["responses"]
