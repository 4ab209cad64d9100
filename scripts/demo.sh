#!/usr/bin/env bash
# The README's demo: a real clip (vtest.avi) decoded by GStreamer, people detected by NanoDet
# through ONNX Runtime, tracked, counted on a line and a zone, published over a real mosquitto
# broker into the hub's SQLite store, and then found again with description searches.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
# shellcheck disable=SC1091
source .cache/env.sh
cargo build --release -p edge-node -p central-hub
port=18830
if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
  echo "demo: port $port is taken; stop whatever listens there and re-run" >&2
  exit 1
fi
demo="$root/.cache/demo"
rm -rf "$demo" && mkdir -p "$demo"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

mosquitto -c configs/mosquitto-test.conf >"$demo/mosquitto.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

./target/release/central-hub serve --db "$demo/hub.db" --mqtt-port $port 2>"$demo/hub.log" &
hub=$!
pids+=($hub)
sleep 1

echo "== live counts and crossings from the broker (matthan/+/+/counts, .../crossing) =="
mosquitto_sub -h 127.0.0.1 -p $port -t 'matthan/+/+/counts' -t 'matthan/+/+/crossing' -F '%t %p' \
  | cut -c1-220 &
pids+=($!)

./target/release/edge-node run --config configs/demo-vtest.toml 2>"$demo/edge.log"
sleep 1
kill -TERM $hub && wait $hub 2>/dev/null || true
echo
tail -n 1 "$demo/hub.log" || true
echo "== description search over what the hub stored =="
for q in "people crossing inbound" "người đi ra" "person in the plaza-left zone"; do
  ./target/release/central-hub search --db "$demo/hub.db" --limit 5 "$q"
  echo
done
echo "demo: logs in $demo (edge.log, hub.log, mosquitto.log)"
