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
cargo fmt --all -- --check
cargo clippy --release --workspace --all-targets -- -D warnings
cargo test --release --workspace
