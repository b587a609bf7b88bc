# One image for every aTES process (gateway, auth, tracker, accounting, analytics: web, worker,
# migrate). compose.yaml picks the process with `command:`; see docs/running-in-containers.md.
# The base image by digest (docs/supply-chain.md says how to refresh it); another base is one
# build argument away: docker build --build-arg PYTHON_IMAGE=python:3.11-slim@sha256:... .
ARG PYTHON_IMAGE=python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7
FROM ${PYTHON_IMAGE}

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app

WORKDIR /app

# Runtime dependencies first, from the lock alone, so this layer is rebuilt only when the lock
# changes. Every file is checked against its hash in requirements/runtime.txt (no test extras);
# the lock also holds setuptools, which builds aTES below without fetching anything.
COPY requirements/runtime.txt /tmp/requirements.txt
RUN pip install --require-hashes -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# The source tree as is: the schema registry finds event_schemas/ next to the ates/ package
# (/app/event_schemas), and gateway templates / migrations stay where the code expects them.
# The editable install (no deps: they are above) plus PYTHONPATH=/app keep every import on /app.
COPY . .
RUN pip install --no-deps --no-build-isolation -e . \
 && groupadd --system --gid 10001 ates \
 && useradd --system --uid 10001 --gid ates --home-dir /app --no-create-home --shell /usr/sbin/nologin ates \
 && mkdir -p /app/var \
 && chown ates:ates /app/var

USER ates

# Fail the build if the event schema registry cannot be loaded from the image.
RUN python -c "from ates.schemas import registry; registry()"

EXPOSE 5000 5001 5002 5003 5004

# Default process: the gateway (it has no database). compose.yaml sets the command of each service.
CMD ["gunicorn", "--bind", "0.0.0.0:5000", "gateway.app:create_app()"]
