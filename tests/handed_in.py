"""What a service's worker hands its handlers (ates/bus/worker.py), for tests that build an inbox."""

from ates.bus.worker import handler_dependencies
from ates.config import load_settings


def handed_in(service: str, zone: str = "UTC") -> dict[str, object]:
    """The service's handler dependencies on default settings, its days in `zone` (ATES_TIMEZONE)."""
    return handler_dependencies(load_settings(service, {"ATES_TIMEZONE": zone}))
