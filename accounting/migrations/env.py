from ates.migrations import run_env
from accounting.models import metadata

run_env(metadata)
