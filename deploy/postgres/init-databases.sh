#!/bin/bash
# Creates one PostgreSQL database per aTES service (each service owns its own database, SPEC §2).
#
# Mounted into /docker-entrypoint-initdb.d/ of the postgres image by compose.yaml; the image runs
# it once, on the first start with an empty data volume. ATES_DATABASES is a comma-separated list
# of names, e.g. "auth,tracker,accounting,analytics"; each database is owned by $POSTGRES_USER.
# Written so it works whether the entrypoint executes it or sources it (no `exit`).
set -e

create_database() {
    local name="$1"
    if [[ ! "$name" =~ ^[a-z_][a-z0-9_]*$ ]]; then
        echo "init-databases: refusing database name '$name'" >&2
        return 1
    fi
    if [ "$name" = "$POSTGRES_DB" ]; then
        echo "init-databases: $name is POSTGRES_DB, already created"
        return 0
    fi
    echo "init-databases: creating database $name"
    # psql variables (:"db") quote the identifiers; they are interpolated only in script input.
    echo 'CREATE DATABASE :"db" OWNER :"owner";' \
        | psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
               -v db="$name" -v owner="$POSTGRES_USER"
}

for ates_database in ${ATES_DATABASES//,/ }; do
    create_database "$ates_database"
done
unset ates_database
