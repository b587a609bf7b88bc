"""Every service's Alembic history builds the schema its models describe, from an empty database."""

import importlib
import json
import os
import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ates import migrations
from ates.db import make_engine
from tests.migration_schemas import RECORD, SERVICES, schemas_by_revision

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_ADMIN_URL = os.environ.get(
    "ATES_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@pytest.mark.parametrize("service", ["auth", "tracker", "accounting", "analytics"])
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
    psycopg2 = pytest.importorskip("psycopg2")
    try:
        admin = psycopg2.connect(POSTGRES_ADMIN_URL, connect_timeout=2)
    except psycopg2.OperationalError:
        pytest.skip(f"no PostgreSQL at {POSTGRES_ADMIN_URL}")
    admin.autocommit = True
    name = f"ates_migrations_test_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    url = f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    try:
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
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
