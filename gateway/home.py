"""The front page: sign in and the services' health when signed out; the role's navigation when signed in."""

import requests
from flask import Blueprint, current_app, render_template
from flask_login import current_user

from gateway.navigation import current_href, navigation_for

blueprint = Blueprint("home", __name__)


def my_navigation() -> dict | None:
    """The signed-in popug's links, by area (gateway/navigation.py); None when signed out."""
    if not current_user.is_authenticated:
        return None
    return navigation_for(
        current_user.role,
        current_app.config["RABBITMQ_MANAGEMENT_URL"],
        current_app.config["ATES_AUTH_ISSUER"],
    )


def init_app(app) -> None:
    """The front page, and the same navigation in the header of every page."""
    app.register_blueprint(blueprint)

    @app.context_processor
    def navigation():
        return {"nav_areas": my_navigation, "current_href": current_href}


@blueprint.get("/")
def home():
    navigation = my_navigation()
    return render_template(
        "home.html",
        navigation=navigation,
        services=service_health(current_app.config["BACKEND_URLS"]),
    )


def service_health(urls: dict[str, str]) -> list[dict]:
    """Each backend's /healthz, so the front page shows at once what is up."""
    found = []
    for name, url in urls.items():
        try:
            up = requests.get(f"{url}/healthz", timeout=1).ok
        except requests.RequestException:
            up = False
        found.append({"name": name, "url": url, "up": up})
    return found
