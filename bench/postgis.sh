#!/usr/bin/env bash
# Start (or stop) the private PostgreSQL + PostGIS cluster the PostGIS way of bench_analyse.py uses.
#
#   bench/postgis.sh start   # cluster in /tmp/pg, Unix socket only, port 5499, database "bench" with PostGIS
#   bench/postgis.sh stop
#
# Configured in PostGIS's favour (a benchmark, not a store: nothing here must survive a crash):
# shared_buffers 512 MB, work_mem 256 MB, fsync/synchronous_commit/full_page_writes off.
# DSN for bench_analyse.py: "host=/tmp/pg port=5499 dbname=bench user=postgres".
# Needs the Debian packages postgresql and postgresql-<major>-postgis-3 (see .ci/postgres.sh).
set -euo pipefail
dir=/tmp/pg
major=$(ls /usr/lib/postgresql | sort -n | tail -1)
bin=/usr/lib/postgresql/$major/bin
run=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir "$dir" postgres
  run=(runuser -u postgres --)
fi
case "${1:-start}" in
  start)
    if [ ! -d "$dir/data" ]; then
      mkdir -p "$dir" && chmod 700 "$dir"
      [ "$(id -u)" = 0 ] && chown postgres: "$dir"
      "${run[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log"
    fi
    "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "-c listen_addresses='' -p 5499 -k $dir \
      -c shared_buffers=512MB -c work_mem=256MB -c maintenance_work_mem=512MB -c fsync=off \
      -c synchronous_commit=off -c full_page_writes=off" start
    "$bin/psql" -h "$dir" -p 5499 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='bench'" | grep -q 1 \
      || "$bin/psql" -q -h "$dir" -p 5499 -U postgres -d postgres -c "CREATE DATABASE bench"
    "$bin/psql" -q -h "$dir" -p 5499 -U postgres -d bench -c "CREATE EXTENSION IF NOT EXISTS postgis"
    echo "host=$dir port=5499 dbname=bench user=postgres"
    ;;
  stop)
    "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast stop
    ;;
esac
