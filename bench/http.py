"""Benchmark: the tracker's HTTP path against a bare Flask app doing the same work, in one run.

tracker  the real tracker app (`tracker.app:create_app()`) under gunicorn with the Procfile's
         settings (gunicorn.conf.py: gthread, 4 threads, WEB_CONCURRENCY processes, by default
         one per core; access log), on PostgreSQL as in production (`--database sqlite` for the
         development default), in development mode (production refuses an http issuer, and the
         stand-in SSO here is plain http on loopback; what a request does is the same);
bare     a Flask app with nothing but the work under the same gunicorn settings: it verifies the
         same kind of bearer token (RS256 JWT against a JWKS, `ates.tokens.TokenVerifier`) and
         does the same single insert (POST) or select (GET) on a table of the same shape.

Both are loaded by `wrk` (Debian's package) for the same time with the same connections:
`POST /api/tasks` and `GET /api/tasks?scope=mine`. Printed: requests/s and p99 latency of each,
the ratio tracker / bare (goal >= 0.5), and the CPU wrk itself used (a load generator using far
less than a core is not the bottleneck).

    python -m bench.http [--seconds 10] [--connections 8] [--database postgresql|sqlite]
"""

import argparse
import contextlib
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import insert

from ates import migrations
from ates.db import make_engine
from tests.databases import postgres_database
from tracker.models import accounts

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = ["--access-logfile", "-"]  # the rest from gunicorn.conf.py, as the Procfile has it
APPS = {"tracker": "tracker.app:create_app()", "bare": "bench.bare_app:create_app()"}
BODY = json.dumps({"title": "Feed the parrots", "description": "all of them"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="per round and app")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk")
    with contextlib.ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        issuer = stack.enter_context(Issuer())
        if args.database == "postgresql":
            urls = [stack.enter_context(postgres_database(f"bench_{app}")) for app in APPS]
        else:
            urls = [f"sqlite:///{directory}/{app}.db" for app in APPS]
        urls = dict(zip(APPS, urls, strict=True))
        found = run(directory, issuer, urls, args.seconds, args.connections, args.rounds)
    print(
        f"{args.database}, {args.connections} connections, {args.rounds} rounds of "
        f"{args.seconds} s per app (medians)"
    )
    for name, runs in found["paths"].items():
        got = summary(runs)
        tracker, bare = got["tracker"], got["bare"]
        print(
            f"{name:<26} tracker {tracker['rps']:7.0f}/s p99 {tracker['p99']:7.1f} ms   "
            f"bare {bare['rps']:7.0f}/s p99 {bare['p99']:7.1f} ms   "
            f"ratio {got['ratio']:.2f} ({got['spread'][0]:.2f}-{got['spread'][1]:.2f})"
            "  (goal >= 0.5)"
        )
    print(f"wrk used {found['wrk_cpu']:.0%} of one core on average (the load generator)")


def run(
    directory: Path, issuer: "Issuer", urls: dict, seconds: int, connections: int, rounds: int
) -> dict:
    popug = str(uuid.uuid4())
    tracker_url = urls["tracker"]
    migrations.upgrade(ROOT / "tracker" / "migrations", tracker_url)
    engine = make_engine(tracker_url)
    with engine.begin() as connection:  # the popug, assignable, known to the tracker's replica
        connection.execute(
            insert(accounts).values(
                account_id=popug,
                username="kesha",
                role="developer",
                active=True,
                assignable=True,
                version=1,
            )
        )
    engine.dispose()
    token = issuer.token(popug, "developer")
    env = {
        **os.environ,
        "TRACKER_DATABASE_URL": tracker_url,
        "BARE_DATABASE_URL": urls["bare"],
        "ATES_AUTH_ISSUER": issuer.url,
        "ATES_VAR_DIR": str(directory),
    }
    paths = {
        "POST /api/tasks": ("POST", "/api/tasks"),
        "GET /api/tasks?scope=mine": ("GET", "/api/tasks?scope=mine"),
    }
    results = {name: {app: [] for app in APPS} for name in paths}
    wrk_cpu, wrk_seconds = 0.0, 0.0
    with contextlib.ExitStack() as servers:
        bases = {}
        for app, factory in APPS.items():
            port = _free_port()
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--bind",
                    f"127.0.0.1:{port}",
                    *GUNICORN,
                    factory,
                ],
                cwd=ROOT,
                env=env,
                stdout=servers.enter_context(open(directory / f"{app}.log", "ab")),
                stderr=subprocess.STDOUT,
            )
            servers.callback(_stop, server)
            bases[app] = f"http://127.0.0.1:{port}"
        for app, base in bases.items():
            _wait_until_up(base, token, directory / f"{app}.log")
        # Rounds taking turns, so a neighbour's load on this noisy machine falls on both alike.
        for name, (method, path) in paths.items():
            for _round in range(rounds):
                for app, base in bases.items():
                    before = resource.getrusage(resource.RUSAGE_CHILDREN)
                    started = time.monotonic()
                    results[name][app].append(
                        _wrk(base + path, method, token, seconds, connections, directory)
                    )
                    wrk_seconds += time.monotonic() - started
                    after = resource.getrusage(resource.RUSAGE_CHILDREN)
                    wrk_cpu += after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {"paths": results, "wrk_cpu": wrk_cpu / wrk_seconds}


def summary(runs: dict) -> dict:
    """Per app: the median round's requests/s and p99; the ratio: the median of the rounds' ratios
    (each round measured both apps one after the other)."""
    ratios = [t["rps"] / b["rps"] for t, b in zip(runs["tracker"], runs["bare"], strict=True)]
    return {
        **{
            app: {
                "rps": statistics.median(r["rps"] for r in found),
                "p99": statistics.median(r["p99"] for r in found),
            }
            for app, found in runs.items()
        },
        "ratio": statistics.median(ratios),
        "spread": (min(ratios), max(ratios)),
    }


def _stop(server: subprocess.Popen) -> None:
    server.terminate()
    server.wait(timeout=30)


def _wrk(url, method, token, seconds, connections, directory: Path) -> dict:
    script = directory / "request.lua"
    script.write_text(
        f'wrk.method = "{method}"\n'
        f'wrk.headers["Authorization"] = "Bearer {token}"\n'
        + (
            f'wrk.headers["Content-Type"] = "application/json"\nwrk.body = {json.dumps(BODY)}\n'
            if method == "POST"
            else ""
        )
    )
    done = subprocess.run(
        [
            "wrk",
            "-t",
            "2",
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return parse_wrk(done.stdout)


def parse_wrk(output: str) -> dict:
    """Requests/s, the p99 latency in ms, and the non-2xx count from wrk's --latency output."""
    rate = float(re.search(r"Requests/sec:\s+([0-9.]+)", output).group(1))
    p99 = re.search(r"^\s*99%\s+([0-9.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if errors:
        raise RuntimeError(f"{errors.group(1)} answers were not 2xx:\n{output}")
    return {"rps": rate, "p99": float(p99.group(1)) * scale}


def _wait_until_up(base: str, token: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(
                f"{base}/api/tasks?scope=mine",
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            ).ok:
                return
        except requests.RequestException:  # not listening yet, or busy starting
            pass
        time.sleep(0.2)
    tail = f"; the end of its log:\n{log.read_text(errors='replace')[-3000:]}" if log else ""
    raise RuntimeError(f"{base} did not come up{tail}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Issuer:
    """A stand-in SSO on a loopback port: signs RS256 access tokens and serves their JWKS."""

    def __init__(self):
        self.key = RSAKey.generate_key(
            2048, parameters={"kid": "bench", "use": "sig", "alg": "RS256"}
        )
        jwks = json.dumps({"keys": [self.key.as_dict(private=False)]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(jwks)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self) -> "Issuer":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()

    def token(self, account_id: str, role: str) -> str:
        now = int(time.time())
        claims = {
            "iss": self.url,
            "sub": account_id,
            "aud": "ates-api",
            "iat": now,
            "exp": now + 3600,
            "jti": str(uuid.uuid4()),
            "client_id": "ates-cli",
            "scope": "openid ates-api",
            "role": role,
            "preferred_username": "kesha",
        }
        return jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": "bench"}, claims, self.key)


if __name__ == "__main__":
    main()
