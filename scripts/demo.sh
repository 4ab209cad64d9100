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
# The edge box's evidence key, made once (as an installer would) and trusted by the demo hub.
[ -f .cache/edge-demo.key ] || ./target/release/edge-node keygen --out .cache/edge-demo.key
# Three traffic scenarios (composites of real vehicle crops, see test-videos/traffic/README.md):
# a motorbike running the red, a speeding truck, a truck parked in a no-stopping lane.
traffic="$root/.cache/traffic-demo"
if [ ! -s "$traffic/parked.mp4" ]; then
  "$MATTHAN_PYTHON" test-videos/traffic/make.py --darknet "$MATTHAN_DARKNET" --out "$traffic" \
    --only red-run-bike speeding-truck parked >/dev/null
fi
{
  cat <<CFG
# Written by scripts/demo.sh: the traffic-violation demo edge (see test-videos/traffic/).
site = "hcmc-demo"
edge_id = "edge-demo-traffic"
[mqtt]
host = "127.0.0.1"
port = 18830
[outbox]
path = "$demo/outbox-traffic.db"
[model]
path = "$root/models/nanodet-m-416.onnx"
classes = ["bicycle", "car", "motorcycle", "bus", "truck"]
[model.class_thresholds]
bicycle = 0.3
[tracker]
high_score = 0.35
[evidence]
dir = "$demo/bundles"
key = "$root/.cache/edge-demo.key"
before_s = 2.0
after_s = 1.0
[evidence.ocr]
det = "$root/models/ppocr/ch_PP-OCRv4_det_infer.onnx"
rec = "$root/models/ppocr/ch_PP-OCRv4_rec_infer.onnx"
CFG
  sed 's/{CAMERA}/le-loi-red/' test-videos/traffic/junction.toml
  for pair in le-loi-red:red-run-bike le-loi-speed:speeding-truck ham-nghi-kerb:parked; do
    cam=${pair%%:*}; clip=${pair#*:}
    printf '\n[[cameras]]\nid = "%s"\nurl = "file://%s/%s.mp4"\nstart_at = "2026-11-26T08:00:00+07:00"\n' "$cam" "$traffic" "$clip"
    # The scenario camera without its helmet rules (no helmet model ships).
    sed '/kind = "no_helmet"/,$d' test-videos/traffic/camera.toml | sed '$d'
  done
} > "$demo/traffic.toml"
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
echo
echo "== traffic violations with signed evidence (matthan/+/+/violation) =="
mosquitto_sub -h 127.0.0.1 -p $port -t 'matthan/+/+/violation' \
  -F '%t %p' > >(cut -c1-220) &
pids+=($!)
./target/release/edge-node run --config "$demo/traffic.toml" 2>"$demo/edge-traffic.log"
for b in "$demo"/bundles/*/*/; do ./target/release/edge-node verify "$b" --public-key .cache/edge-demo.pub; done
sleep 2
echo
echo "== the hub's HTTP API (operator token), as the web UI at http://127.0.0.1:18080/ uses it =="
curl -s -H "Authorization: Bearer demo-operator" \
  "http://127.0.0.1:18080/api/search?limit=3&q=$(python3 -c 'import urllib.parse;print(urllib.parse.quote("người đi vào quảng trường"))')" \
  | python3 -c 'import json,sys; d=json.load(sys.stdin); print("understood:", {k:v for k,v in d["understood"].items() if v}); [print(" -", r["caption"], "|", "; ".join(r["reasons"])) for r in d["results"]]'
echo
echo "== a violation exported as a case zip and verified offline (edge-node verify) =="
vid=$(python3 - <<'PY'
import json, urllib.parse, urllib.request
for q in ["vượt đèn đỏ", "đỗ xe trái phép", "quá tốc độ"]:
    req = urllib.request.Request("http://127.0.0.1:18080/api/search?limit=5&q=" + urllib.parse.quote(q),
                                 headers={"Authorization": "Bearer demo-operator"})
    hits = [r for r in json.load(urllib.request.urlopen(req))["results"] if r.get("kind") == "violation"]
    if hits:
        print(hits[0]["id"]); break
PY
)
if [ -n "$vid" ]; then
  curl -s -o "$demo/case.zip" -H "Authorization: Bearer demo-operator" "http://127.0.0.1:18080/api/events/$vid/export"
  ./target/release/edge-node verify "$demo/case.zip" --public-key .cache/edge-demo.pub
else
  echo "no violation found to export"
fi
echo
echo "== description search from the command line =="
for q in "people crossing inbound" "người đi ra" "person staying in the plaza" "người lảng vảng trên bãi cỏ" "intrusion" "vượt đèn đỏ" "xe tải quá tốc độ" "đỗ xe trái phép" "biển số 51N"; do
  ./target/release/central-hub search --config configs/hub-demo.toml --limit 5 "$q"
  echo
done
kill -TERM $hub && wait $hub 2>/dev/null || true
tail -n 1 "$demo/hub.log" || true
echo "demo: logs in $demo (edge.log, hub.log, mosquitto.log); run scripts/demo.sh again to repeat"
