"""Where the gateway keeps its sessions: server-side, in the gateway's own database (Flask-Session's
SQLAlchemy backend), so the cookie holds only a random session id and never the SSO's tokens.

Signing out deletes the session's row: a cookie copied before then leads nowhere afterwards.
The database is `GATEWAY_DATABASE_URL` or `DATABASE_URL` like every service's, SQLite
`var/gateway.db` by default; it holds nothing but sessions, and Flask-Session creates its one table
on start (a lost database signs everybody out, nothing more).
"""

from datetime import timedelta
from pathlib import Path

from flask_session import Session
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.engine import make_url

# Without a request for this long a session is gone (each request moves it on); the SSO's refresh
# token lives longer, so this, not the token, decides how long an idle sign-in lasts.
IDLE_LIFETIME = timedelta(hours=12)


def init_app(app) -> None:
    url = app.config.get("SQLALCHEMY_DATABASE_URI") or _database_url(
        app.config["ATES"].database_url
    )
    app.config.update(
        SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True}
    )
    app.config.update(
        SESSION_TYPE="sqlalchemy",
        SESSION_SQLALCHEMY=SQLAlchemy(app),
        SESSION_SQLALCHEMY_TABLE="gateway_sessions",
        SESSION_PERMANENT=False,  # a browser-session cookie; the row expires after IDLE_LIFETIME
        PERMANENT_SESSION_LIFETIME=IDLE_LIFETIME,
        SESSION_CLEANUP_N_REQUESTS=100,  # SQL has no expiry of its own: now and then delete the expired rows
    )
    Session(app)


def _database_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername == "postgresql":  # the driver aTES installs, whatever SQLAlchemy's default
        return parsed.set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    return url
