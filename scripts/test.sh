#!/usr/bin/env bash
# The README's test command: installs what is missing (scripts/setup.sh), then runs every test
# against real components. Tests start their own mosquitto brokers and RTSP servers on
# 127.0.0.1 with free ports and stop them when done.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
# shellcheck disable=SC1091
source .cache/env.sh
# A private PostgreSQL on loopback for the store tests (both engines are tested for real).
MATTHAN_PG_URL=$(bash scripts/pg.sh start)
export MATTHAN_PG_URL
trap 'bash scripts/pg.sh stop' EXIT
cargo fmt --all -- --check
# Style limits: no source file over 600 lines, no function over 120 (scripts/fn-lengths.py).
python3 scripts/fn-lengths.py
cargo clippy --release --workspace --all-targets -- -D warnings
# Every test binary runs even after one fails, so one CI run names every failure.
cargo test --release --workspace --no-fail-fast
