"""The key that signs a service's browser session cookies (auth's, the gateway's).

It comes from the environment. In development, when it is not set, the service makes a random
key once, keeps it in `<ATES_VAR_DIR>/<service>-session.key` (mode 0600) and reuses it, so that no
key in the repository can sign a cookie someone forged. Production has no fallback at all
(ates.production refuses to start without the variable).
"""

import os
import secrets
import tempfile
from pathlib import Path

from ates.config import Settings


def session_key(settings: Settings, configured: str | None) -> str | None:
    """`configured` (the variable's value) when set; else in development the key file's, in
    production None."""
    if configured:
        return configured
    if settings.is_production:
        return None
    return _kept_key(Path(settings.var_dir) / f"{settings.service}-session.key")


def _kept_key(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # mkstemp makes the file 0600; link() then publishes it whole or not at all, so gunicorn
        # workers starting together all end up with the one key the first of them wrote.
        handle, draft = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(handle, "w") as file:
                file.write(secrets.token_urlsafe(48))
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(draft)
    key = path.read_text().strip()
    if not key:
        raise RuntimeError(f"{path} is empty; delete it and a new session key is made")
    return key
