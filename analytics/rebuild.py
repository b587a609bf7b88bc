"""Rebuilding every read model from scratch: wipe them and re-apply the archived events, in the
order they were first applied, through the same projections the live handlers run.

One transaction: a failure changes nothing, and the worker waits for the end (see
archive.hold_off_archiving), so no event is lost or counted twice.

    flask --app analytics.app rebuild        or        python -m analytics.rebuild
"""

import sys
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select

from analytics import archive
from analytics.models import READ_MODELS
from analytics.projections import PROJECTIONS
from ates.bus import NotYet
from ates.config import load_settings
from ates.unit_of_work import UnitOfWork


class RebuildFailed(Exception):
    """Some archived events could not be applied; the transaction rolls back and nothing changed."""


@dataclass
class RebuildReport:
    replayed: Counter = field(default_factory=Counter)  # "type vN" -> events applied
    without_projection: Counter = field(default_factory=Counter)  # archived by an older analytics
    rows: dict[str, int] = field(default_factory=dict)  # read model -> rows after the rebuild

    def lines(self) -> list[str]:
        found = [f"replayed {sum(self.replayed.values())} events"]
        found += [f"  {name}: {count}" for name, count in sorted(self.replayed.items())]
        found += [
            f"  {name}: {count} skipped, no projection takes it"
            for name, count in sorted(self.without_projection.items())
        ]
        found += ["read models now hold"] + [
            f"  {table}: {count} rows" for table, count in self.rows.items()
        ]
        return found


def rebuild_read_models(session, zone) -> RebuildReport:
    """In the caller's transaction: empty the read models, then replay the archive into them."""
    archive.hold_off_archiving(session)
    for table in READ_MODELS:
        session.execute(delete(table))
    report, waiting = RebuildReport(), []
    for event in archive.replay(session):
        if not _applied(session, event, zone, report):
            waiting.append(event)
    # The archive's order is one the events were applied in, so nothing should wait; but a
    # projection changed since may need another event first. Retry until no progress is made.
    while waiting:
        still_waiting = [event for event in waiting if not _applied(session, event, zone, report)]
        if len(still_waiting) == len(waiting):
            example = waiting[0]
            raise RebuildFailed(
                f"{len(waiting)} archived events cannot be applied, e.g. {example.type} {example.id}"
            )
        waiting = still_waiting
    report.rows = {
        table.name: session.scalar(select(func.count()).select_from(table)) for table in READ_MODELS
    }
    return report


def _applied(session, event, zone, report: RebuildReport) -> bool:
    name = f"{event.type} v{event.version}"
    projection = PROJECTIONS.get((event.type, event.version))
    if projection is None:
        report.without_projection[name] += 1
        return True
    try:
        projection(session, event, zone)  # a projection raises NotYet before it writes anything
    except NotYet:
        return False
    report.replayed[name] += 1
    return True


def main() -> int:
    settings = load_settings("analytics")
    uow = UnitOfWork.from_url(settings.database_url)
    try:
        with uow.begin() as session:
            report = rebuild_read_models(session, settings.timezone)
    except RebuildFailed as error:
        print(f"rebuild failed, nothing changed: {error}", file=sys.stderr)
        return 1
    finally:
        uow.dispose()
    print("\n".join(report.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
