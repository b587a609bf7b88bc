"""What each role may open from the home page (SPEC §3), as one table."""

from dataclasses import dataclass

from ates.roles import ROLES

EVERYONE = ROLES


@dataclass(frozen=True)
class Link:
    area: str
    label: str
    href: str
    roles: tuple[str, ...]


LINKS = (
    Link("Tasks", "My tasks", "/tasks", EVERYONE),
    Link("Tasks", "All tasks", "/tasks/all", ("admin", "manager")),
    Link("Tasks", "Reassign open tasks", "/tasks/reassign", ("admin", "manager")),
    Link("Accounting", "My balance", "/accounting", EVERYONE),
    Link("Accounting", "All accounts", "/accounting/accounts", ("admin", "accountant")),
    Link("Accounting", "Income", "/accounting/income", ("admin", "accountant")),
    Link("Analytics", "Analytics", "/analytics", ("admin",)),
    Link("Notices", "My notices", "/notifications", EVERYONE),
    Link("Notices", "Settings", "/notifications/settings", EVERYONE),
    Link("Admin", "Accounts", "{auth_url}/admin/accounts", ("admin",)),  # auth's own admin page
    Link("Admin", "Dead letters", "/admin/dead-letters", ("admin",)),
    Link("Admin", "RabbitMQ management", "{rabbitmq_management_url}", ("admin",)),
)


def navigation_for(
    role: str, rabbitmq_management_url: str, auth_url: str = ""
) -> dict[str, list[Link]]:
    """The links this role may follow, grouped by area in the table's order."""
    areas: dict[str, list[Link]] = {}
    for link in LINKS:
        if role in link.roles:
            href = link.href.format(
                rabbitmq_management_url=rabbitmq_management_url, auth_url=auth_url
            )
            areas.setdefault(link.area, []).append(Link(link.area, link.label, href, link.roles))
    return areas


def current_href(areas: dict[str, list[Link]], path: str) -> str | None:
    """The link the page at `path` belongs to: the same path, or the longest that leads to it
    (a task's page belongs to "My tasks"); None for the front page and the other services'."""
    best = None
    for links in areas.values():
        for link in links:
            href = link.href
            if not href.startswith("/"):
                continue
            leads_here = path == href or path.startswith(href.rstrip("/") + "/")
            if leads_here and (best is None or len(href) > len(best)):
                best = href
    return best
