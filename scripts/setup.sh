#!/usr/bin/env bash
# Installs everything Mắt Thần needs on Debian 12 and writes .cache/env.sh.
# Idempotent: every step checks before it acts, so re-running is cheap.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/.cache"
mkdir -p "$cache/lib" "$cache/media"

apt_pkgs=(
  pkg-config build-essential python3 python3-venv python3-pip
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstrtspserver-1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools
  curl mosquitto mosquitto-clients postgresql libssl-dev chromium chromium-driver unzip
  sumo sumo-tools nats-server
)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The packaged mosquitto service listens on 1883 for the whole machine; we run our own on loopback.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active -q mosquitto 2>/dev/null; then
  echo "setup: note: the system mosquitto service is running; Mắt Thần uses its own broker on 127.0.0.1:${MATTHAN_MQTT_PORT:-18830}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found. Install Rust >= 1.95 with rustup (https://rustup.rs) and re-run." >&2
  exit 1
fi

# Real test media: vtest.avi from Debian's opencv-doc (BSD-3-Clause), extracted without installing the docs.
if [ ! -s "$cache/media/vtest.avi" ]; then
  tmp=$(mktemp -d); chmod 777 "$tmp"  # apt drops to the _apt user to download
  (cd "$tmp" && apt-get download opencv-doc >/dev/null && dpkg -x opencv-doc_*.deb x)
  cp "$tmp/x/usr/share/doc/opencv-doc/examples/data/vtest.avi" "$cache/media/vtest.avi"
  rm -rf "$tmp"
fi

# Darknet's sample photos (public domain): the vehicle crops of the traffic-violation scenarios
# (test-videos/traffic/make.py) come from dog.jpg.
if [ ! -s "$cache/media/darknet/dog.jpg" ]; then
  tmp=$(mktemp -d); chmod 777 "$tmp"
  (cd "$tmp" && apt-get download darknet >/dev/null && dpkg -x darknet_*.deb x)
  mkdir -p "$cache/media/darknet"
  cp "$tmp"/x/usr/share/darknet/data/{dog,person,horses,kite}.jpg "$cache/media/darknet/"
  cp "$tmp"/x/usr/share/doc/darknet/copyright "$cache/media/darknet/copyright"
  rm -rf "$tmp"
fi

# The first 20 s of vtest as H.264 MP4, which the RTSP tests serve (key frame every second, so
# a client joining mid-stream starts quickly).
if [ ! -s "$cache/media/vtest-20s.mp4" ]; then
  gst-launch-1.0 -q filesrc location="$cache/media/vtest.avi" ! decodebin ! identity eos-after=200 ! videoconvert ! \
    x264enc speed-preset=ultrafast tune=zerolatency key-int-max=10 ! h264parse ! mp4mux ! \
    filesink location="$cache/media/vtest-20s.mp4.tmp" >/dev/null
  mv "$cache/media/vtest-20s.mp4.tmp" "$cache/media/vtest-20s.mp4"
fi

# ONNX Runtime shared library from the PyPI wheel (ort loads it at run time), and the
# `onnx` package the tests use to generate small models with known outputs.
venv="$root/.venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import onnxruntime, onnx, numpy, PIL, av' 2>/dev/null; then
  "$venv/bin/pip" install -q --disable-pip-version-check onnxruntime==1.32.0 onnx==1.23.2 numpy pillow==13.0.0 av==18.1.0
fi
# PP-OCRv4 plate-reading models from the rapidocr-onnxruntime wheel, hashes checked.
PIP="$venv/bin/pip" bash "$root/models/fetch-ppocr.sh"
ortlib=$(ls "$venv"/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.1.* | head -n1)
ln -sf "$ortlib" "$cache/lib/libonnxruntime.so"

# The shipped detector must match its provenance card.
want=$(awk '/^sha256:/ {print $2}' "$root/models/nanodet-m-416.md")
have=$(sha256sum "$root/models/nanodet-m-416.onnx" | cut -d' ' -f1)
if [ "$want" != "$have" ]; then
  echo "setup: models/nanodet-m-416.onnx sha256 $have does not match its card ($want); re-create it with models/make-nanodet.sh" >&2
  exit 1
fi
# The dynamic-batch variant (cameras batched into one call) is derived from it in a second,
# byte for byte the same each time (hash on the variants card); the int8 one is committed.
for m in nanodet-m-416-dyn nanodet-m-416-int8; do
  want=$(awk -v m="$m.onnx" '$1 == "sha256("m"):" {print $2}' "$root/models/nanodet-m-416-variants.md")
  have=$(sha256sum "$root/models/$m.onnx" 2>/dev/null | cut -d' ' -f1 || true)
  if [ "$want" != "$have" ] && [ "$m" = nanodet-m-416-dyn ]; then
    "$venv/bin/python" "$root/models/make-nanodet-variants.py" --dyn-only >/dev/null
    have=$(sha256sum "$root/models/$m.onnx" | cut -d' ' -f1)
  fi
  if [ "$want" != "$have" ]; then
    echo "setup: models/$m.onnx sha256 $have does not match models/nanodet-m-416-variants.md ($want)" >&2
    exit 1
  fi
done

cat > "$cache/env.sh" <<ENV
export ORT_DYLIB_PATH="$cache/lib/libonnxruntime.so"
export MATTHAN_VTEST="$cache/media/vtest.avi"
export MATTHAN_VTEST_MP4="$cache/media/vtest-20s.mp4"
export MATTHAN_PYTHON="$venv/bin/python"
export MATTHAN_DARKNET="$cache/media/darknet"
ENV
echo "setup: ok"
