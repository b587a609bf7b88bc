"""Every service's Alembic history builds the schema its models describe, from an empty database."""
import importlib
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ates import migrations
from ates.db import make_engine

ROOT = Path(__file__).resolve().parents[2]


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
