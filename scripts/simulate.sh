#!/usr/bin/env bash
# The deterministic simulation for as long as asked: batches of fresh seeds of
# tests/simulation.rs (seven nodes' real write paths over crashable in-memory stores, random
# schedules of windows' actions, crashes, cuts, partitions, duplicated batches, clock jumps,
# lost disks and restores),
# each schedule healed and checked. `cargo test` runs seeds 1..1000; this goes on from there.
#
# Usage: scripts/simulate.sh [SECONDS] [FIRST_SEED] [STEPS]
#
#   SECONDS     how long to keep going (default 600)
#   FIRST_SEED  the first seed (default 1001); each batch of 1000 continues after the last
#   STEPS       steps per schedule (default 150)  → LIANDONG_SIM_STEPS
#
# Builds in release mode. A failing seed is printed with the command that repeats it
# (LIANDONG_SIM_SEED=n; LIANDONG_SIM_TRACE=1 also prints every step). Exits 1 at the first
# batch with a violation, 0 when the time is up without one.
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-600}
seed=${2:-1001}
export LIANDONG_SIM_STEPS=${3:-150}
batch=1000

cargo test --release -q -p liandong --test simulation --no-run || exit 1
end=$(( $(date +%s) + seconds ))
total=0
while [ "$(date +%s)" -lt "$end" ]; do
    out=$(LIANDONG_SIM_FIRST_SEED=$seed LIANDONG_SIM_SEEDS=$batch \
        cargo test --release -q -p liandong --test simulation 2>&1)
    status=$?
    echo "$out" | grep -E "^simulated|^seed|^  " | head -40
    if [ $status -ne 0 ]; then
        echo "simulate.sh: a violation in seeds $seed..$((seed + batch - 1)) (after $total schedules)"
        exit 1
    fi
    total=$((total + batch))
    seed=$((seed + batch))
done
echo "simulate.sh: $total schedules, 0 violations"
