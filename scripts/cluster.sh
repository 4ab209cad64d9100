#!/usr/bin/env bash
# The cluster deployment on one box's loopback (docs/deployment.md): a three-node NATS cluster
# (JetStream with the events' stream replicated three times, an MQTT listener on every node for
# the edges), PostgreSQL, and two hubs sharing one durable JetStream consumer.
#   scripts/cluster.sh start   # prints where everything listens
#   scripts/cluster.sh stop
# Ports: NATS clients 14220-14222, routes 14230-14232, MQTT 14240-14242, hubs 18090-18091,
# PostgreSQL 25433: all below Linux's ephemeral range. State lives in .cache/cluster/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
state="$root/.cache/cluster"
cmd=${1:?usage: cluster.sh start|stop}
export MATTHAN_PG_PORT=25433 MATTHAN_PG_DATA="$state/pg"

stop() {
  for pid in "$state"/*.pid; do
    [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
    rm -f "$pid"
  done
  bash "$root/scripts/pg.sh" stop
}

case "$cmd" in
  start)
    mkdir -p "$state"
    routes='"nats://127.0.0.1:14230", "nats://127.0.0.1:14231", "nats://127.0.0.1:14232"'
    for i in 0 1 2; do
      cat > "$state/nats$i.conf" <<CONF
server_name: n$i
listen: 127.0.0.1:1422$i
max_payload: 16MB
jetstream { store_dir: "$state/js$i" }
mqtt { listen: 127.0.0.1:1424$i }
cluster { name: matthan, listen: 127.0.0.1:1423$i, routes: [$routes] }
CONF
      nats-server -c "$state/nats$i.conf" > "$state/nats$i.log" 2>&1 &
      echo $! > "$state/nats$i.pid"
    done
    pg=$(bash "$root/scripts/pg.sh" start)
    for i in 0 1; do
      sed -e "s|^db = .*|db = \"$pg\"|" -e "s|^listen = .*|listen = \"127.0.0.1:1809$i\"|" \
          -e "s|^port = 18830|port = 14240|" -e "s|^client_id = .*|client_id = \"hub-$i\"|" \
          -e "s|\"\.\./|\"$root/|g" "$root/configs/hub-demo.toml" > "$state/hub$i.toml"
      cat >> "$state/hub$i.toml" <<CONF

[nats]
servers = ["nats://127.0.0.1:14220", "nats://127.0.0.1:14221", "nats://127.0.0.1:14222"]
replicas = 3
CONF
      "$root/target/release/central-hub" serve --config "$state/hub$i.toml" > "$state/hub$i.log" 2>&1 &
      echo $! > "$state/hub$i.pid"
    done
    echo "NATS clients nats://127.0.0.1:14220-14222; edges' MQTT 127.0.0.1:14240-14242"
    echo "PostgreSQL $pg; hubs http://127.0.0.1:18090 and :18091; logs in $state"
    ;;
  stop) stop ;;
  *) echo "usage: cluster.sh start|stop" >&2; exit 2 ;;
esac
