#!/usr/bin/env bash
# Shows, at the level of system calls, that a node answers a write only after an fdatasync:
# runs one node under strace, submits N cases one at a time, and counts the node's
# fdatasync/fsync calls. Needs strace (apt-get install strace) and a built binary.
#   scripts/fsync-check.sh [N]          (default 50)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-50}
bin=target/release/liandong
[ -x "$bin" ] || bin=target/debug/liandong
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 2; }
command -v strace >/dev/null || { echo "strace is missing: apt-get install strace" >&2; exit 2; }
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
"$bin" init --code 350322 --name 仙游县行政服务中心 --dir "$dir/node" --api 127.0.0.1:0 >/dev/null
strace -f -qq -e trace=fdatasync,fsync,sync_file_range -o "$dir/strace" \
    "$bin" run --config "$dir/node/node.toml" 2>"$dir/log" &
pid=$!
for _ in $(seq 100); do grep -q ready "$dir/log" 2>/dev/null && break; sleep 0.1; done
export LIANDONG_CONFIG="$dir/node/node.toml"
before=$(grep -c 'fdatasync\|fsync(' "$dir/strace" || true)
for i in $(seq "$n"); do
    "$bin" case submit --item 000172005000 --person 张三:11010519491231002X >/dev/null
done
after=$(grep -c 'fdatasync\|fsync(' "$dir/strace" || true)
ranges=$(grep -c sync_file_range "$dir/strace" || true)
echo "$n cases answered: $((after - before)) fdatasync/fsync calls, $ranges sync_file_range calls"
[ $((after - before)) -ge "$n" ] || { echo "FAIL: fewer syncs than answers" >&2; exit 1; }
echo "ok: at least one fdatasync per answer"
