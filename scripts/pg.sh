#!/usr/bin/env bash
# Starts (or stops) a private PostgreSQL for the tests on 127.0.0.1:${MATTHAN_PG_PORT:-25432}
# (below the ephemeral range 32768-60999, so no outgoing connection can hold it),
# with its data in a throw-away folder. `start` prints the URL to use as MATTHAN_PG_URL.
# PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user.
set -euo pipefail
cmd=${1:?usage: pg.sh start|stop|crash-restart}
port=${MATTHAN_PG_PORT:-25432}
data=${MATTHAN_PG_DATA:-/tmp/matthan-pg-$port}
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "$cmd" in
  start)
    if [ ! -f "$data/PG_VERSION" ]; then
      mkdir -p "$data"
      [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$data"
      as_pg "$bin/initdb" -D "$data" -A trust -U postgres -E UTF8 >/dev/null
    fi
    if ! as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
      as_pg "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w \
        -o "-p $port -k $data -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
    fi
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    if [ -f "$data/PG_VERSION" ]; then
      as_pg "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
      rm -rf "$data"
    fi
    ;;
  crash-restart)
    # The server dies as in a power cut (immediate: no checkpoint, recovery from the WAL on
    # start) and comes back on the same data: the cluster test's "restart everything".
    as_pg "$bin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null
    as_pg "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w \
      -o "-p $port -k $data -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
    ;;
  *) echo "usage: pg.sh start|stop|crash-restart" >&2; exit 2 ;;
esac
