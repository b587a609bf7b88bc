"""The bare app bench/http.py compares the tracker with: the same kind of work and nothing else.

Each request verifies its bearer token as every aTES service does (`ates.tokens.TokenVerifier`:
an RS256 JWT against the issuer's JWKS, fetched once), then `POST /api/tasks` inserts one row and
`GET /api/tasks?scope=mine` selects the caller's newest 100, on a SQLite table shaped like the
tracker's tasks. No outbox, no activity log, no replica, no logging or metrics beyond gunicorn's.
"""

import os
import uuid
from datetime import UTC, datetime

from flask import Flask, jsonify, request
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, insert, select

from ates.db import make_engine
from ates.tokens import InvalidToken, TokenVerifier

metadata = MetaData()
tasks = Table(
    "tasks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("task_id", String(36), nullable=False, unique=True),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("assignee_id", String(36), nullable=False, index=True),
    Column("status", String(10), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


def create_app() -> Flask:
    app = Flask(__name__)
    engine = make_engine(os.environ["BARE_DATABASE_URL"])
    metadata.create_all(engine)
    verifier = TokenVerifier(os.environ["ATES_AUTH_ISSUER"])

    def caller() -> str | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        try:
            return verifier.principal(token.strip()).account_id if scheme == "Bearer" else None
        except InvalidToken:
            return None

    @app.post("/api/tasks")
    def create():
        account_id = caller()
        if account_id is None:
            return jsonify(error="invalid_token"), 401
        body = request.get_json()
        row = {
            "task_id": str(uuid.uuid4()),
            "title": body["title"],
            "description": body.get("description", ""),
            "assignee_id": account_id,
            "status": "open",
            "created_at": datetime.now(UTC),
        }
        with engine.begin() as connection:
            connection.execute(insert(tasks).values(**row))
        return jsonify({**row, "created_at": row["created_at"].isoformat()}), 201

    @app.get("/api/tasks")
    def mine():
        account_id = caller()
        if account_id is None:
            return jsonify(error="invalid_token"), 401
        with engine.connect() as connection:
            rows = connection.execute(
                select(tasks)
                .where(tasks.c.assignee_id == account_id)
                .order_by(tasks.c.id.desc())
                .limit(100)
            ).mappings()
            found = [{**row, "created_at": row["created_at"].isoformat()} for row in rows]
        return jsonify(tasks=found)

    return app
