from ates.migrations import run_env
from analytics.models import metadata

run_env(metadata)
