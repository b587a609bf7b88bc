# Shared by bin/up, bin/test and deploy/images/build: the virtualenv, RabbitMQ, PostgreSQL, Docker
# (and more), made ready on a fresh Debian machine.
# Sourced, not run. Root may install what is missing with apt-get; anyone else is told what to do.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${ATES_VENV:-$ROOT/.venv}

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf '\033[31mxx %s\033[0m\n' "$*" >&2; exit 1; }
warn() { printf '\033[33m!! %s\033[0m\n' "$*" >&2; }
can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }

apt_install() {
  say "installing $* with apt-get"
  if [ -z "${ATES_APT_UPDATED:-}" ]; then apt-get update -q >/dev/null; ATES_APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null
}

# make_venv [test]: a virtualenv at .venv, on PATH, with the locked dependencies and aTES itself.
# Every file comes from requirements/runtime.txt (or test.txt: every extra), checked against its
# hash; aTES is then installed editable with no dependencies and no build isolation, so pip
# fetches nothing that the lock does not name (its build backend, setuptools, is locked too).
make_venv() {
  local lock=$ROOT/requirements/${1:-runtime}.txt
  [ -f "$lock" ] || die "no lock file $lock"
  command -v python3 >/dev/null || { can_apt && apt_install python3; } || die "python3 is missing: apt-get install python3"
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating the virtualenv $VENV"
    if ! python3 -m venv "$VENV" 2>/dev/null; then
      rm -rf "$VENV"
      can_apt || die "python3 cannot make a virtualenv: apt-get install python3-venv"
      apt_install python3-venv
      python3 -m venv "$VENV"
    fi
  fi
  "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
    || warn "the lock files are compiled for Python 3.11, this virtualenv has $("$VENV/bin/python" -V)"
  say "installing the locked dependencies ($(basename "$lock")) and aTES into the virtualenv"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --require-hashes -r "$lock" \
    || die "pip install --require-hashes -r $lock failed (see above)"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e "$ROOT" \
    || die "pip install -e . failed (see above)"
  export PATH="$VENV/bin:$PATH"
}

# audit_requirements: pip-audit checks every pin of requirements/test.txt (a superset of
# runtime.txt) against PyPI's vulnerability data; a known vulnerability fails, PyPI out of reach
# only warns (bin/audit.py says why).
audit_requirements() {
  say "auditing the locked requirements for known vulnerabilities (pip-audit, PyPI)"
  python "$ROOT/bin/audit.py" "$ROOT/requirements/test.txt" || die "the dependency audit failed (see above)"
}

# ensure_rabbitmq: a RabbitMQ on this machine, running, with its management plugin.
# Skipped when ATES_AMQP_URL points at another host: that broker is someone else's to run.
ensure_rabbitmq() {
  case "${ATES_AMQP_URL:-amqp://guest:guest@localhost:5672/}" in
    *@localhost[:/]*|*@127.0.0.1[:/]*) ;;
    *) say "using the broker at ATES_AMQP_URL; not managing a local RabbitMQ"; return 0 ;;
  esac
  if ! command -v rabbitmqctl >/dev/null 2>&1; then
    can_apt || die "RabbitMQ is not installed: sudo apt-get install rabbitmq-server (or set ATES_AMQP_URL to a running broker)"
    apt_install rabbitmq-server
  fi
  if ! rabbitmqctl -q await_startup --timeout 2 >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || die "RabbitMQ is not running: sudo rabbitmq-server -detached (or sudo service rabbitmq-server start)"
    say "starting RabbitMQ"
    rabbitmq-server -detached >/dev/null 2>&1 || service rabbitmq-server start >/dev/null 2>&1 || true
    rabbitmqctl -q await_startup --timeout 120 >/dev/null || die "RabbitMQ did not start; see /var/log/rabbitmq/"
  fi
  if ! rabbitmq-plugins -q is_enabled rabbitmq_management >/dev/null 2>&1; then
    say "enabling the RabbitMQ management UI (http://localhost:15672)"
    rabbitmq-plugins -q enable rabbitmq_management >/dev/null || die "could not enable rabbitmq_management"
  fi
}

# ensure_postgres: a PostgreSQL server the tests can make databases on (ATES_TEST_POSTGRES_URL,
# by default the local server's postgres role). Installs and starts it when this machine may.
ensure_postgres() {
  local url=${ATES_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
  case "$url" in
    *@localhost[:/]*|*@127.0.0.1[:/]*) ;;
    *) say "using the PostgreSQL at ATES_TEST_POSTGRES_URL; not managing a local one"; return 0 ;;
  esac
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    can_apt || die "PostgreSQL is not installed: sudo apt-get install postgresql (or set ATES_TEST_POSTGRES_URL)"
    apt_install postgresql
  fi
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    [ "$(id -u)" = 0 ] || die "PostgreSQL is not running: sudo service postgresql start"
    say "starting PostgreSQL"
    service postgresql start >/dev/null 2>&1 || true
    for _ in $(seq 60); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
    pg_isready -q -h 127.0.0.1 -p 5432 || die "PostgreSQL did not start; see /var/log/postgresql/"
  fi
  if ! psql "$url" -qAtc 'select 1' >/dev/null 2>&1; then
    # A fresh Debian server asks for a password over TCP: give the postgres role one for the tests.
    [ "$(id -u)" = 0 ] && [ -z "${ATES_TEST_POSTGRES_URL:-}" ] \
      || die "cannot connect to PostgreSQL as $url; set ATES_TEST_POSTGRES_URL"
    su postgres -c "psql -qc \"ALTER ROLE postgres PASSWORD 'postgres'\"" >/dev/null \
      || die "could not set a password for the postgres role"
    export ATES_TEST_POSTGRES_URL=postgresql://postgres:postgres@127.0.0.1:5432/postgres
    psql "$ATES_TEST_POSTGRES_URL" -qAtc 'select 1' >/dev/null || die "cannot connect to PostgreSQL"
  fi
}

# ensure_chromium: Debian's headless Chromium and its ChromeDriver, for the real-browser e2e test.
ensure_chromium() {
  [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] && return 0
  can_apt || die "Chromium is not installed: sudo apt-get install chromium chromium-driver"
  apt_install chromium chromium-driver
}

# ensure_axe: the accessibility checker axe-core (npm), which the real-browser test injects into
# every page, under var/node/ (not committed; fetched once per machine, pinned to one version).
AXE_VERSION=4.14.1
ensure_axe() {
  local dir="$ROOT/var/node" package="$ROOT/var/node/node_modules/axe-core/package.json"
  if [ -f "$package" ] && grep -q "\"version\": \"$AXE_VERSION\"" "$package"; then
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    can_apt || die "npm is not installed (it fetches axe-core): sudo apt-get install nodejs npm"
    apt_install nodejs npm
  fi
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "axe-core@$AXE_VERSION" >&2 \
    || die "npm could not install axe-core@$AXE_VERSION"
  [ -f "$dir/node_modules/axe-core/axe.min.js" ] || die "axe-core installed without axe.min.js"
}

# ensure_docker_compose: Debian's docker-compose (v1), which checks compose.yaml without an engine
# and runs it on one (tests/e2e/test_compose.py).
ensure_docker_compose() {
  command -v docker-compose >/dev/null 2>&1 && return 0
  can_apt || die "docker-compose is not installed: sudo apt-get install docker-compose"
  apt_install docker-compose
}

# ensure_docker: a Docker engine that answers, and debootstrap for the local stand-in images
# (deploy/images/build). Installs Debian's docker.io and starts dockerd as root when no engine
# answers; when it cannot start, this fails with dockerd's own words: no test is skipped for it.
ensure_docker() {
  if ! command -v debootstrap >/dev/null 2>&1 && [ ! -x /usr/sbin/debootstrap ]; then
    can_apt || die "debootstrap is not installed: sudo apt-get install debootstrap"
    apt_install debootstrap
  fi
  if ! command -v docker >/dev/null 2>&1; then
    can_apt || die "Docker is not installed: sudo apt-get install docker.io"
    apt_install docker.io
  fi
  docker info >/dev/null 2>&1 && return 0
  [ "$(id -u)" = 0 ] || die "the Docker engine does not answer ($(docker info 2>&1 | tail -1)): start it (sudo dockerd) or join the docker group"
  if ! command -v dockerd >/dev/null 2>&1; then
    can_apt || die "dockerd is not installed: apt-get install docker.io"
    apt_install docker.io
  fi
  local log=${ATES_DOCKERD_LOG:-/var/log/ates-dockerd.log}
  say "starting dockerd (log: $log)"
  # In its own session, so it outlives this shell and a Ctrl-C of the test run does not reach it.
  setsid dockerd >>"$log" 2>&1 </dev/null &
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && return 0; sleep 1; done
  die "dockerd did not start within 60 s: $(grep -iE 'level=(error|fatal)' "$log" | tail -3) (see $log)"
}
