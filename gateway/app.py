"""The gateway web service: `create_app()` for gunicorn and for `flask --app gateway.app`."""
import requests
from flask import Flask, render_template

from ates.config import Settings, service_url
from ates.web import service_app

BACKENDS = ("auth", "tracker", "accounting", "analytics")


def create_app(settings: Settings | None = None) -> Flask:
    app = service_app(__name__, "gateway", settings)
    app.config["BACKEND_URLS"] = {name: service_url(name) for name in BACKENDS}

    @app.get("/")
    def home():
        return render_template("home.html", services=_service_health(app.config["BACKEND_URLS"]))

    return app


def _service_health(urls: dict[str, str]) -> list[dict]:
    """Each backend's /healthz, so the front page shows at once what is up."""
    found = []
    for name, url in urls.items():
        try:
            up = requests.get(f"{url}/healthz", timeout=1).ok
        except requests.RequestException:
            up = False
        found.append({"name": name, "url": url, "up": up})
    return found
