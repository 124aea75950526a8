#!/usr/bin/env bash
# The long chaos run: a federation of real liandong nodes (莆田市, 2 districts, 3 townships) under
# a load of case actions from several clients while a seeded RNG SIGKILLs nodes, cuts relayed
# links, keeps a node down for a long while, restarts everything at once and jumps clocks
# forward; then it checks that nothing acknowledged was lost or doubled and that every involved
# node shows the same timelines (tests/chaos.rs, harness in tests/support/chaos.rs). The same
# test runs for about 20 s in `cargo test`.
#
# Usage: scripts/chaos.sh [SECONDS] [CLIENTS] [SEED]
#
#   SECONDS  seconds of load (default 300)            → LIANDONG_CHAOS_SECONDS
#   CLIENTS  client threads (default 4)                → LIANDONG_CHAOS_CLIENTS
#   SEED     the seed of the faults and the clients' choices (default: from the time; printed,
#            so that a run's choices can be repeated) → LIANDONG_CHAOS_SEED
#
# Builds in release mode, runs `cargo test --release --test chaos -- --nocapture`, keeps the
# whole output in target/chaos.log (or $LIANDONG_CHAOS_LOG) and prints the summary table at the
# end. Exits with the test's status: 0 iff no acknowledged event was lost, none duplicated, no
# case divergent, no summary wrong, no sequence gap and no node panicked.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

export LIANDONG_CHAOS_SECONDS=${1:-${LIANDONG_CHAOS_SECONDS:-300}}
export LIANDONG_CHAOS_CLIENTS=${2:-${LIANDONG_CHAOS_CLIENTS:-4}}
seed=${3:-${LIANDONG_CHAOS_SEED:-}}
if [ -n "$seed" ]; then
    export LIANDONG_CHAOS_SEED=$seed
fi
log=${LIANDONG_CHAOS_LOG:-$root/target/chaos.log}
mkdir -p "$(dirname "$log")"

echo "chaos: ${LIANDONG_CHAOS_SECONDS} s of load, ${LIANDONG_CHAOS_CLIENTS} clients, seed ${LIANDONG_CHAOS_SEED:-from the time}; log in $log" >&2
cargo test --release --test chaos -- --nocapture chaos_loses_doubles_and_splits_nothing 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

echo
if ! sed -n '/^=== chaos summary ===$/,/^=== end of chaos summary ===$/p' "$log" | grep .; then
    echo "chaos: no summary table (the run failed before its checks; see $log)" >&2
fi
if [ "$status" -eq 0 ]; then
    echo "chaos: passed"
else
    echo "chaos: FAILED (exit $status); the faults and findings are in $log" >&2
fi
exit "$status"
