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

./target/release/central-hub serve --config configs/hub-demo.toml 2>"$demo/hub.log" &
hub=$!
pids+=($hub)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/18080) 2>/dev/null && break; sleep 0.1; done

echo "== live counts and crossings from the broker (matthan/+/+/counts, .../crossing) =="
# Process substitution, so that $! is mosquitto_sub itself (a pipeline's $! is its last command,
# and a subscriber left behind would keep the demo from exiting).
mosquitto_sub -h 127.0.0.1 -p $port -t 'matthan/+/+/counts' -t 'matthan/+/+/crossing' -t 'matthan/+/+/alert' \
  -F '%t %p' > >(cut -c1-220) &
pids+=($!)

./target/release/edge-node run --config configs/demo-vtest.toml 2>"$demo/edge.log"
sleep 2
echo
echo "== the hub's HTTP API (operator token), as the web UI at http://127.0.0.1:18080/ uses it =="
curl -s -H "Authorization: Bearer demo-operator" \
  "http://127.0.0.1:18080/api/search?limit=3&q=$(python3 -c 'import urllib.parse;print(urllib.parse.quote("người đi vào quảng trường"))')" \
  | python3 -c 'import json,sys; d=json.load(sys.stdin); print("understood:", {k:v for k,v in d["understood"].items() if v}); [print(" -", r["caption"], "|", "; ".join(r["reasons"])) for r in d["results"]]'
echo
echo "== description search from the command line =="
for q in "people crossing inbound" "người đi ra" "person staying in the plaza" "người lảng vảng trên bãi cỏ" "intrusion"; do
  ./target/release/central-hub search --config configs/hub-demo.toml --limit 5 "$q"
  echo
done
kill -TERM $hub && wait $hub 2>/dev/null || true
tail -n 1 "$demo/hub.log" || true
echo "demo: logs in $demo (edge.log, hub.log, mosquitto.log); run scripts/demo.sh again to repeat"
