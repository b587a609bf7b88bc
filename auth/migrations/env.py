from ates.migrations import run_env
from auth.models import metadata

run_env(metadata)
