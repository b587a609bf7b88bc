"""Every service's Alembic history builds the schema its models describe, from an empty database."""

import importlib
import json
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ates import migrations
from ates.db import make_engine
from tests.databases import postgres_database
from tests.migration_schemas import RECORD, SERVICES, schemas_by_revision

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("service", SERVICES)
def test_migrations_reach_the_models_schema(service, tmp_path):
    url = f"sqlite:///{tmp_path / service}.db"
    migrations.upgrade(ROOT / service / "migrations", url)
    migrations.upgrade(ROOT / service / "migrations", url)  # a second run changes nothing
    metadata = importlib.import_module(f"{service}.models").metadata
    engine = make_engine(url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    engine.dispose()
    assert differences == [], f"{service}: models and migrations differ: {differences}"


@pytest.mark.parametrize("service", SERVICES)
def test_every_revision_still_makes_the_schema_it_made_when_written_out_in_full(service, tmp_path):
    """The migrations now call shared helpers (ates/migrations.py); what each revision makes must not move."""
    recorded = json.loads(RECORD.read_text())[service]
    found = json.loads(
        json.dumps(schemas_by_revision(service, f"sqlite:///{tmp_path / service}.db"))
    )
    assert found.keys() == recorded.keys()
    for revision in recorded:
        assert found[revision] == recorded[revision], f"{service} at {revision}"
    assert found["base"] == {}


@pytest.mark.parametrize("service", SERVICES)
def test_on_postgresql_the_migrations_go_down_and_up_again_to_the_models_schema(service):
    with postgres_database("migrations_test") as url:
        assert schemas_by_revision(service, url)["base"] == {}
        migrations.upgrade(ROOT / service / "migrations", url)
        metadata = importlib.import_module(f"{service}.models").metadata
        engine = make_engine(url)
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
        engine.dispose()
        assert differences == [], (
            f"{service}: models and migrations differ on PostgreSQL: {differences}"
        )
