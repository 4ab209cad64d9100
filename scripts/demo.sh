#!/usr/bin/env bash
# The README's demo: a real clip (vtest.avi) decoded by GStreamer, people detected by NanoDet
# through ONNX Runtime, tracked, counted on a line and a zone, published over a real mosquitto
# broker into the hub's SQLite store, and then found again with description searches; then three
# traffic-violation scenarios with signed evidence. It ends with a summary table and keeps the
# hub and its web UI running until Ctrl-C.
#   scripts/demo.sh [--verbose] [--no-wait | --wait]
#     --verbose  also print every event as it arrives on the broker, and the build output
#     --no-wait  stop the hub at the end instead of waiting for Ctrl-C (scripted use; the
#                default when the output is not a terminal)
#     --wait     keep the hub running until Ctrl-C even when the output is not a terminal
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
verbose=0
wait_at_end=0
[ -t 1 ] && wait_at_end=1
for a in "$@"; do
  case $a in
    --verbose) verbose=1 ;;
    --no-wait) wait_at_end=0 ;;
    --wait) wait_at_end=1 ;;
    *) echo "usage: scripts/demo.sh [--verbose] [--no-wait | --wait]" >&2; exit 2 ;;
  esac
done
step=0
say() { step=$((step + 1)); printf '\n[%d] %s\n' "$step" "$*"; }
quiet() { if [ $verbose = 1 ]; then "$@"; else "$@" >>"$root/.cache/demo-build.log" 2>&1; fi; }
mkdir -p .cache && : >.cache/demo-build.log
say "Setting up and building (log: .cache/demo-build.log)"
quiet bash scripts/setup.sh
# shellcheck disable=SC1091
source .cache/env.sh
quiet cargo build --release -p edge-node -p central-hub
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
# Plates on every passing vehicle, for tracing and watch lists.
[plates]
det = "$root/models/ppocr/ch_PP-OCRv4_det_infer.onnx"
rec = "$root/models/ppocr/ch_PP-OCRv4_rec_infer.onnx"
classes = ["bicycle", "car", "motorcycle", "bus", "truck"]
CFG
  # A recommendation every 5 s instead of every 5 min, so the short clip yields some.
  sed -e 's/{CAMERA}/le-loi-red/' -e '/^all_red_s/a interval_s = 5.0' test-videos/traffic/junction.toml
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

say "Broker on 127.0.0.1:$port; hub on http://127.0.0.1:18080/ (log: $demo/hub.log)"
NO_COLOR=1 ./target/release/central-hub serve --config configs/hub-demo.toml >"$demo/hub.log" 2>&1 &
hub=$!
pids+=($hub)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/18080) 2>/dev/null && break; sleep 0.1; done
# Every event on the broker, for the summary (and on screen with --verbose).
mosquitto_sub -h 127.0.0.1 -p $port -t 'matthan/#' -v >"$demo/events.log" 2>/dev/null &
pids+=($!)
if [ $verbose = 1 ]; then
  tail -n +1 -f "$demo/events.log" > >(cut -c1-220) &
  pids+=($!)
fi

frames() { sed -n 's/^edge-node: \([0-9]*\) frames.*/\1/p' "$1" | tail -n 1; }
say "Edge 1: vtest.avi (a pedestrian square): detect, track, count, public-order rules"
NO_COLOR=1 ./target/release/edge-node run --config configs/demo-vtest.toml 2>"$demo/edge.log" | tee "$demo/edge.out" | sed 's/^/    /'
say "Edge 2: three traffic scenarios (red-light run, speeding truck, parked truck)"
NO_COLOR=1 ./target/release/edge-node run --config "$demo/traffic.toml" 2>"$demo/edge-traffic.log" | tee "$demo/edge-traffic.out" | sed 's/^/    /'

say "Signed evidence bundles, checked offline (edge-node verify)"
verified=0
for b in "$demo"/bundles/*/*/; do
  if ./target/release/edge-node verify "$b" --public-key .cache/edge-demo.pub >>"$demo/verify.log" 2>&1; then
    verified=$((verified + 1)); echo "    ok       ${b#"$demo"/bundles/}"
  else
    echo "    INVALID  ${b#"$demo"/bundles/} (see $demo/verify.log)"
  fi
done
sleep 2

say "A violation exported by the hub as a case zip, verified offline"
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
case_ok="no violation found"
if [ -n "$vid" ]; then
  curl -s -o "$demo/case.zip" -H "Authorization: Bearer demo-operator" "http://127.0.0.1:18080/api/events/$vid/export"
  if ./target/release/edge-node verify "$demo/case.zip" --public-key .cache/edge-demo.pub | sed 's/^/    /'; then case_ok="verified"; else case_ok="FAILED"; fi
fi

say "Description searches (Vietnamese and English), top hit of each"
queries=("người lảng vảng trên bãi cỏ" "người đi vào quảng trường" "people crossing inbound" "person staying in the plaza" "intrusion" "vượt đèn đỏ" "xe tải quá tốc độ" "đỗ xe trái phép" "biển số 51N")
found=0
for q in "${queries[@]}"; do
  top=$(./target/release/central-hub search --config configs/hub-demo.toml --limit 1 --json "$q" 2>/dev/null \
    | python3 -c 'import json,sys; l=[json.loads(x) for x in sys.stdin if x.strip()]; c=l[0]["caption"] if l else ""; print(c if len(c) <= 90 else c[:88].rsplit(" ", 1)[0] + " …")')
  # No column padding: printf pads by bytes, and Vietnamese letters are several bytes each.
  if [ -n "$top" ]; then found=$((found + 1)); printf '    "%s" → %s\n' "$q" "$top"; else printf '    "%s" → (nothing)\n' "$q"; fi
done

kinds() { grep -c "^matthan/[^ ]*/[^ ]*/$1 " "$demo/events.log" || true; }
say "Summary"
printf '    %-38s %s\n' \
  "frames analysed (square / traffic)" "$(frames "$demo/edge.out") / $(frames "$demo/edge-traffic.out")" \
  "events on the broker" "$(grep -c '^matthan/' "$demo/events.log" || true)" \
  "  crossings / zone events / tracks" "$(kinds crossing) / $(kinds zone) / $(kinds track)" \
  "  public-order alerts" "$(kinds alert)" \
  "  violations (bundles verified)" "$(kinds violation) ($verified)" \
  "  signal recommendations (junction j1)" "$(kinds signal_recommendation)" \
  "case export" "$case_ok" \
  "searches with a hit" "$found of ${#queries[@]}" \
  "logs" "$demo"

if [ $wait_at_end = 1 ]; then
  printf '\nThe hub and its web UI are running: http://127.0.0.1:18080/\n'
  printf 'Tokens: demo-operator (search, evidence), demo-traffic (junctions), demo-admin (all).\n'
  printf 'Press Ctrl-C to stop.\n'
  wait $hub || true
else
  kill -TERM $hub && wait $hub 2>/dev/null || true
fi
