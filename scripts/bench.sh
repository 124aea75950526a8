#!/usr/bin/env bash
# Builds the release binary and runs `liandong bench`, writing the figures as JSON.
#
#   scripts/bench.sh                 # the full run (several minutes), JSON in target/bench/
#   scripts/bench.sh --quick         # under three minutes
#   scripts/bench.sh --json out.json # any `liandong bench` option is passed on
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
exec target/release/liandong bench "$@"
