#!/bin/sh
# The entrypoint of the stand-in for the official mariadb image (see build.py beside it).
# It keeps the part of that image's contract that testcontainers and the tests use:
#   MARIADB_ROOT_PASSWORD (required), MARIADB_DATABASE, MARIADB_USER and MARIADB_PASSWORD, or
#   their MYSQL_ names; root@'%' and root@localhost with the root password; the database
#   created, and the user given ALL on that database only, as the official image grants; the
#   time zone tables loaded; a temporary server without networking for all this, then the real
#   one on all IPv4 addresses, port 3306: each logs "ready for connections", and testcontainers
#   waits for both.
# Arguments are passed to the server (for example: --innodb-flush-log-at-trx-commit=0).
set -eu

datadir=/var/lib/mysql
socket=/run/mysqld/mysqld.sock

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$datadir" /run/mysqld
    chown mysql:mysql "$datadir" /run/mysqld
    exec setpriv --reuid=mysql --regid=mysql --init-groups "$0" "$@"
fi

# The value as an SQL string literal, and as a quoted identifier; the x keeps trailing newlines.
sql_literal() {
    escaped="$(printf '%sx' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/''/g")"
    printf "'%s'" "${escaped%x}"
}
# shellcheck disable=SC2016  # the backticks are SQL's quotes, not the shell's
sql_identifier() {
    escaped="$(printf '%sx' "$1" | sed -e 's/`/``/g')"
    printf '`%s`' "${escaped%x}"
}
# A database name in a GRANT is a pattern: _ and % match any character unless escaped.
sql_database_pattern() {
    escaped="$(printf '%sx' "$1" | sed -e 's/\\/\\\\/g' -e 's/_/\\_/g' -e 's/%/\\%/g')"
    sql_identifier "${escaped%x}"
}

# The server's options, the user's arguments last so that they win.
set -- --datadir="$datadir" --socket="$socket" --skip-name-resolve --host-cache-size=0 "$@"

if [ ! -d "$datadir/mysql" ]; then
    root_password="${MARIADB_ROOT_PASSWORD:-${MYSQL_ROOT_PASSWORD:-}}"
    database="${MARIADB_DATABASE:-${MYSQL_DATABASE:-}}"
    user="${MARIADB_USER:-${MYSQL_USER:-}}"
    password="${MARIADB_PASSWORD:-${MYSQL_PASSWORD:-}}"
    if [ -z "$root_password" ]; then
        echo "The database is not initialised yet: set MARIADB_ROOT_PASSWORD (or MYSQL_ROOT_PASSWORD)." >&2
        exit 1
    fi
    if [ "$user" = root ]; then
        echo "MARIADB_USER (or MYSQL_USER) cannot be root: root is made with MARIADB_ROOT_PASSWORD." >&2
        exit 1
    fi

    mariadb-install-db --datadir="$datadir" --rpm --auth-root-authentication-method=normal \
        --skip-test-db --cross-bootstrap --old-mode=UTF8_IS_UTF8MB3 --default-time-zone=SYSTEM \
        --skip-log-bin --expire-logs-days=0 --loose-innodb-buffer-pool-load-at-startup=0 \
        --loose-innodb-buffer-pool-dump-at-shutdown=0

    mariadbd "$@" --skip-networking --default-time-zone=SYSTEM --skip-log-bin \
        --loose-innodb-buffer-pool-load-at-startup=0 &
    temporary_server=$!
    client() {
        mariadb --protocol=socket --socket="$socket" --user=root --binary-mode "$@"
    }
    tries=0
    until echo 'SELECT 1' | client > /dev/null 2>&1; do
        tries=$((tries + 1))
        if [ "$tries" -gt 300 ] || ! kill -0 "$temporary_server" 2> /dev/null; then
            echo "The temporary server for the initialisation did not start." >&2
            exit 1
        fi
        sleep 0.1
    done

    mariadb-tzinfo-to-sql --skip-write-binlog /usr/share/zoneinfo | client --database=mysql
    {
        echo "SET @@SESSION.SQL_MODE = REPLACE(@@SESSION.SQL_MODE, 'NO_BACKSLASH_ESCAPES', '');"
        echo "DROP USER IF EXISTS root@'127.0.0.1', root@'::1';"
        echo "EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@', QUOTE(@@hostname));"
        printf 'SET PASSWORD FOR root@localhost = PASSWORD(%s);\n' "$(sql_literal "$root_password")"
        printf "CREATE USER root@'%%' IDENTIFIED BY %s;\n" "$(sql_literal "$root_password")"
        echo "GRANT ALL ON *.* TO root@'%' WITH GRANT OPTION;"
        echo "GRANT PROXY ON ''@'%' TO root@'%' WITH GRANT OPTION;"
        if [ -n "$database" ]; then
            printf 'CREATE DATABASE IF NOT EXISTS %s;\n' "$(sql_identifier "$database")"
        fi
        if [ -n "$user" ] && [ -n "$password" ]; then
            printf "CREATE USER %s@'%%' IDENTIFIED BY %s;\n" \
                "$(sql_literal "$user")" "$(sql_literal "$password")"
            if [ -n "$database" ]; then
                printf "GRANT ALL ON %s.* TO %s@'%%';\n" \
                    "$(sql_database_pattern "$database")" "$(sql_literal "$user")"
            fi
        fi
    } | client --database=mysql

    kill "$temporary_server"
    wait "$temporary_server"
fi

exec mariadbd --bind-address=0.0.0.0 --port=3306 "$@"
