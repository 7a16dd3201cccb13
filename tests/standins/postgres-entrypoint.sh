#!/bin/sh
# The entrypoint of the stand-in for the official postgres image (see build.py beside it).
# It keeps the part of that image's contract that testcontainers and the tests use:
#   POSTGRES_USER (default postgres), POSTGRES_PASSWORD (required), POSTGRES_DB (default: the
#   user); a cluster in $PGDATA with the en_US.utf8 locale and the UTF8 encoding; scram-sha-256
#   for TCP connections from anywhere, trust over the local socket; the server listening on all
#   addresses, port 5432, in the foreground as the container's main process.
# Arguments are passed to the server (for example: -c fsync=off).
set -eu

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /run/postgresql
    chown postgres:postgres "$PGDATA" /run/postgresql
    chmod 700 "$PGDATA"
    chmod 3775 /run/postgresql
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

bin="/usr/lib/postgresql/$PG_MAJOR/bin"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    user="${POSTGRES_USER:-postgres}"
    database="${POSTGRES_DB:-$user}"
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        echo "The database is not initialised yet: set POSTGRES_PASSWORD, its superuser's password." >&2
        exit 1
    fi

    password_file="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" > "$password_file"
    "$bin/initdb" --pgdata="$PGDATA" --username="$user" --pwfile="$password_file" \
        --encoding=UTF8 --locale=en_US.utf8 --auth-local=trust --auth-host=scram-sha-256
    rm -f "$password_file"
    echo 'host all all all scram-sha-256' >> "$PGDATA/pg_hba.conf"
    echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"

    if [ "$database" != postgres ]; then
        # A server on the socket only, so that nothing connects over TCP before it is ready;
        # psql quotes the name itself (:"database"), whatever characters it holds.
        "$bin/pg_ctl" --pgdata="$PGDATA" -o "-c listen_addresses=''" --wait start
        echo 'CREATE DATABASE :"database";' | "$bin/psql" --no-psqlrc --set=ON_ERROR_STOP=1 \
            --username="$user" --dbname=postgres --set=database="$database"
        "$bin/pg_ctl" --pgdata="$PGDATA" --mode=fast --wait stop
    fi
fi

exec "$bin/postgres" -D "$PGDATA" "$@"
