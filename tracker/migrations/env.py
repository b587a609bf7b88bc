from ates.migrations import run_env
from tracker.models import metadata

run_env(metadata)
