from analytics.models import metadata
from ates.migrations import run_env

run_env(metadata)
