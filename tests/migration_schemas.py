"""Each service's schema as every revision of its migrations makes it, read back from the database.

`tests/integration/migration_schemas.json` holds what the migrations made when they were written
out in full; a migration rewritten onto a shared helper (ates/migrations.py) must make the same.
`python -m tests.migration_schemas` writes the file anew: only ever from migrations known to be right.
"""

import json
import sys
from pathlib import Path

from alembic import command
from sqlalchemy import inspect

from ates import migrations
from ates.db import make_engine

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("auth", "tracker", "accounting", "analytics", "notifier")
RECORD = ROOT / "tests" / "integration" / "migration_schemas.json"


def revisions(service: str) -> list[str]:
    return sorted(
        path.name.split("_", 1)[0]
        for path in (ROOT / service / "migrations" / "versions").glob("0*.py")
    )


def schema(url: str) -> dict:
    """Tables, columns (type, nullable), primary keys, indexes, unique constraints and foreign keys."""
    engine = make_engine(url)
    try:
        found = inspect(engine)
        tables = {}
        for table in sorted(found.get_table_names()):
            if table == "alembic_version":
                continue
            tables[table] = {
                "columns": [
                    [c["name"], str(c["type"]), c["nullable"]] for c in found.get_columns(table)
                ],
                "primary_key": found.get_pk_constraint(table)["constrained_columns"],
                "indexes": sorted(
                    [i["name"], i["column_names"], bool(i["unique"])]
                    for i in found.get_indexes(table)
                ),
                "unique": sorted(
                    [u["name"], u["column_names"]] for u in found.get_unique_constraints(table)
                ),
                "foreign_keys": sorted(
                    [
                        f["name"],
                        f["constrained_columns"],
                        f["referred_table"],
                        f["referred_columns"],
                    ]
                    for f in found.get_foreign_keys(table)
                ),
            }
        return tables
    finally:
        engine.dispose()


def schemas_by_revision(service: str, url: str) -> dict[str, dict]:
    """Upgrade one revision at a time, reading the schema after each; then all the way down and up again."""
    config = migrations.alembic_config(ROOT / service / "migrations", url)
    found = {}
    for revision in revisions(service):
        command.upgrade(config, revision)
        found[revision] = schema(url)
    command.downgrade(config, "base")
    found["base"] = schema(url)
    return found


def record(schemas: dict[str, dict]) -> None:
    RECORD.write_text(json.dumps(schemas, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        recorded = {
            service: schemas_by_revision(service, f"sqlite:///{directory}/{service}.db")
            for service in SERVICES
        }
    record(recorded)
    print(f"wrote {RECORD}", file=sys.stderr)
