#!/usr/bin/env bash
# Start a throw-away PostgreSQL + PostGIS on 127.0.0.1 for the store tests.
#
#   . .ci/postgres.sh          # source it: installs if needed, starts, exports
#                              #   ASSETS_MAP_TEST_DATABASE_URL and ASSETS_MAP_PG_DIR
#   .ci/postgres.sh stop       # stop the cluster started above (uses ASSETS_MAP_PG_DIR)
#
# The cluster lives in a temporary folder, listens only on 127.0.0.1 (a free
# port), uses SCRAM password authentication with a random password, and is run
# by an unprivileged user (the Debian 'postgres' user when called as root).
# Debian packages: postgresql, postgresql-<major>-postgis-3 (apt-get when absent).

_am_pg_start() (
  set -euo pipefail
  log() { echo "postgres.sh: $*" >&2; }

  major=""
  if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    major=$(ls /usr/lib/postgresql | sort -n | tail -1)
  fi
  if [ -z "$major" ] || ! ls /usr/share/postgresql/"$major"/extension/postgis.control >/dev/null 2>&1; then
    log "installing PostgreSQL and PostGIS from Debian packages"
    sudo=()
    [ "$(id -u)" != 0 ] && sudo=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq >&2 || true
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    major=$(ls /usr/lib/postgresql | sort -n | tail -1)
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-${major}-postgis-3" >&2 \
      || "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgis >&2
  fi
  bin=/usr/lib/postgresql/$major/bin

  dir=$(mktemp -d /tmp/assets-map-pg.XXXXXX)
  chmod 700 "$dir"
  run=()
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir "$dir" postgres
    chown postgres: "$dir"
    run=(runuser -u postgres --)
  fi
  password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  printf '%s\n' "$password" > "$dir/pwfile"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir/pwfile"
  "${run[@]}" "$bin/initdb" -D "$dir/data" -U assets_map --pwfile="$dir/pwfile" --auth=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  rm -f "$dir/pwfile"
  "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=100" start >&2 \
    || { cat "$dir/server.log" >&2; exit 1; }
  export PGPASSWORD=$password
  "$bin/psql" -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U assets_map -d postgres \
    -c "CREATE DATABASE assets_map_test" >&2
  "$bin/psql" -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U assets_map -d assets_map_test \
    -c "CREATE EXTENSION postgis" >&2
  log "PostgreSQL $major with PostGIS $("$bin/psql" -tA -h 127.0.0.1 -p "$port" -U assets_map \
       -d assets_map_test -c 'SELECT postgis_lib_version()') on 127.0.0.1:$port (data in $dir)"
  echo "$dir postgresql://assets_map:${password}@127.0.0.1:${port}/assets_map_test"
)

_am_pg_stop() {
  local dir=${ASSETS_MAP_PG_DIR:?ASSETS_MAP_PG_DIR is not set: nothing to stop}
  local bin
  bin=/usr/lib/postgresql/$(ls /usr/lib/postgresql | sort -n | tail -1)/bin
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -m fast -w stop
  else
    "$bin/pg_ctl" -D "$dir/data" -m fast -w stop
  fi
  rm -rf "$dir"
}

if [ "${1:-}" = "stop" ]; then
  _am_pg_stop
elif _am_pg_out=$(_am_pg_start); then
  export ASSETS_MAP_PG_DIR=${_am_pg_out%% *}
  export ASSETS_MAP_TEST_DATABASE_URL=${_am_pg_out#* }
  unset _am_pg_out
  # Executed rather than sourced: print the exports for `eval "$(.ci/postgres.sh)"`.
  if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    printf 'export ASSETS_MAP_PG_DIR=%q\nexport ASSETS_MAP_TEST_DATABASE_URL=%q\n' \
      "$ASSETS_MAP_PG_DIR" "$ASSETS_MAP_TEST_DATABASE_URL"
  fi
else
  echo "postgres.sh: could not start PostgreSQL/PostGIS" >&2
  return 1 2>/dev/null || exit 1
fi
