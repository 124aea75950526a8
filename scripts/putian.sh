#!/usr/bin/env bash
# The 莆田市 federation on one machine: 63 liandong nodes on loopback — the city (350300), its 5
# county-level districts and their 57 townships, from the divisions CSV — with one federation CA.
#
# Usage: scripts/putian.sh [--dir DIR] [--csv FILE] COMMAND [CODE...]
#
#   init             create the CA (DIR/pki) and every node folder (DIR/<code>): `liandong init`
#                    with fixed ports and --parent, then `liandong ca issue` into the same folder.
#                    Idempotent: what exists is kept, never overwritten; a second run only
#                    completes what is missing.
#   start [CODE...]  start every node (or the given ones) in the background, parents first;
#                    logs go to DIR/logs/<code>.log, the pid to DIR/<code>/liandong.pid. Waits
#                    until each started node is ready. LIANDONG_CLOCK=2025-09-30T09:00 passes
#                    --clock to the nodes.
#   stop [CODE...]   stop every running node (or the given ones), children first (SIGTERM).
#   status [CODE...] each node's links: GET /api/v1/links with the node's admin token.
#   revoke CODE      `liandong ca revoke` CODE and hand the new revoked.toml to every node
#                    folder (nodes re-read it at each incoming connection).
#   configs [OUT]    write only the node.toml files (no keys, tokens or certificates), a
#                    README.md with the tree and a .gitignore into OUT (default
#                    config-examples/putian); existing files are kept.
#
# Defaults, relative to the repository root: DIR = putian, FILE = ../shared/data/divisions_putian.csv.
# The binary is $LIANDONG_BIN (default target/release/liandong; build it with
# `cargo build --release`).
#
# Ports (fixed, all on 127.0.0.1): the city has QUIC 7300 and API 8300; the districts, in CSV
# order, QUIC 7301..7305 and API 8301..8305; the townships, in CSV order, QUIC 7306..7362 and
# API 8306..8362. A node's parent is `<parent code>@127.0.0.1:<the parent's QUIC port>`; the
# city's parent (350000, the province) is not in the file, so the city is the root.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=$root/putian
csv=$root/../shared/data/divisions_putian.csv
bin=${LIANDONG_BIN:-$root/target/release/liandong}
QUIC_BASE=7300
API_BASE=8300

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

die() {
    echo "putian.sh: $*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case $1 in
        --dir) [ $# -ge 2 ] || usage; dir=$2; shift 2 ;;
        --csv) [ $# -ge 2 ] || usage; csv=$2; shift 2 ;;
        -h|--help) usage ;;
        *) break ;;
    esac
done
[ $# -ge 1 ] || usage
command=$1
shift

# ------------------------------------------------------------------------------ the tree

# Node codes in start order (city, districts, townships) and, per code, its name, level,
# parent code ("" for the root) and index (which gives its ports).
declare -a CODES=()
declare -A NAME=() LEVEL=() PARENT=() INDEX=()

load_tree() {
    [ -f "$csv" ] || die "no divisions file at $csv (use --csv FILE)"
    local code name level parent rows=() city=() county=() town=()
    while IFS=, read -r code name level parent; do
        code=${code%$'\r'} name=${name%$'\r'} level=${level%$'\r'} parent=${parent%$'\r'}
        [ "$code" = code ] && continue          # the header
        [ -n "$code" ] || continue
        [[ $code =~ ^[0-9]{6}([0-9]{3})?$ ]] || die "$csv: bad code '$code'"
        [ -z "${NAME[$code]+x}" ] || die "$csv: $code appears twice"
        NAME[$code]=$name LEVEL[$code]=$level PARENT[$code]=$parent
        case $level in
            city) city+=("$code") ;;
            county) county+=("$code") ;;
            township) town+=("$code") ;;
            *) die "$csv: $code has an unknown level '$level'" ;;
        esac
    done <"$csv"
    [ ${#city[@]} -eq 1 ] || die "$csv: expected one city, found ${#city[@]}"
    CODES=("${city[@]}" "${county[@]}" "${town[@]}")
    local i=0
    for code in "${CODES[@]}"; do
        INDEX[$code]=$i
        i=$((i + 1))
        parent=${PARENT[$code]}
        if [ -z "${NAME[$parent]+x}" ]; then
            [ "${LEVEL[$code]}" = city ] || die "$csv: the parent $parent of $code is not in the file"
            PARENT[$code]=""
        fi
    done
}

quic_port() { echo $((QUIC_BASE + INDEX[$1])); }
api_port() { echo $((API_BASE + INDEX[$1])); }

center_name() {
    case ${LEVEL[$1]} in
        township) echo "${NAME[$1]}便民服务中心" ;;
        *) echo "${NAME[$1]}行政服务中心" ;;
    esac
}

# SELECTED: the given codes (checked), or every code, in the tree's order (parents first)
# whatever the order of the arguments.
declare -a SELECTED=()
select_codes() {
    local c
    SELECTED=()
    for c in "$@"; do
        [ -n "${NAME[$c]+x}" ] || die "$c is not a node of $csv"
    done
    for c in "${CODES[@]}"; do
        if [ $# -eq 0 ]; then
            SELECTED+=("$c")
        else
            case " $* " in *" $c "*) SELECTED+=("$c") ;; esac
        fi
    done
}

need_bin() {
    [ -x "$bin" ] || die "no liandong binary at $bin: build it (cargo build --release) or set LIANDONG_BIN"
}

need_dir() {
    [ -d "$dir/pki" ] || die "$dir holds no federation: run '$0 --dir $dir init' first"
}

# `liandong init` a node into $1/<code> with its fixed ports and parent.
init_node() {
    local out=$1 code=$2 args parent
    args=(init --code "$code" --name "$(center_name "$code")" --dir "$out/$code"
        --listen "127.0.0.1:$(quic_port "$code")" --api "127.0.0.1:$(api_port "$code")")
    parent=${PARENT[$code]}
    [ -z "$parent" ] || args+=(--parent "$parent@127.0.0.1:$(quic_port "$parent")")
    "$bin" "${args[@]}" >/dev/null
}

pid_of() {
    local file=$dir/$1/liandong.pid pid
    [ -f "$file" ] || return 1
    pid=$(cat "$file")
    kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

# ------------------------------------------------------------------------------ commands

cmd_init() {
    need_bin
    mkdir -p "$dir"
    if [ -f "$dir/pki/ca.crt" ]; then
        echo "CA: kept $dir/pki"
    else
        "$bin" ca init --dir "$dir/pki" --name 莆田市 >/dev/null
        echo "CA: created $dir/pki (ca.key is the federation's secret)"
    fi
    local code created=0 kept=0
    for code in "${CODES[@]}"; do
        if [ -f "$dir/$code/node.toml" ]; then
            kept=$((kept + 1))
        else
            init_node "$dir" "$code"
            created=$((created + 1))
        fi
        if [ ! -f "$dir/$code/node.crt" ]; then
            "$bin" ca issue --dir "$dir/pki" --code "$code" --out "$dir/$code" >/dev/null
        fi
        if [ ! -f "$dir/$code/revoked.toml" ]; then
            cp "$dir/pki/revoked.toml" "$dir/$code/revoked.toml"
        fi
    done
    echo "nodes: $created created, $kept kept, in $dir (${#CODES[@]} in all)"
    echo "start them with: $0 --dir $dir start"
}

cmd_start() {
    need_bin
    need_dir
    mkdir -p "$dir/logs"
    local code pid started=()
    select_codes "$@"
    for code in "${SELECTED[@]}"; do
        [ -f "$dir/$code/node.toml" ] || die "$dir/$code is not a node: run init first"
        if pid=$(pid_of "$code"); then
            echo "$code: running already (pid $pid)"
            continue
        fi
        rm -f "$dir/$code/ports.json"
        NO_COLOR=1 nohup "$bin" run --config "$dir/$code/node.toml" ${LIANDONG_CLOCK:+--clock "$LIANDONG_CLOCK"} \
            >>"$dir/logs/$code.log" 2>&1 </dev/null &
        echo $! >"$dir/$code/liandong.pid"
        started+=("$code")
    done
    local failed=0
    for code in ${started[@]+"${started[@]}"}; do
        local tries=0
        until [ -f "$dir/$code/ports.json" ]; do
            if ! pid_of "$code" >/dev/null; then
                echo "$code: exited; see $dir/logs/$code.log" >&2
                tail -n 5 "$dir/logs/$code.log" >&2 || true
                failed=$((failed + 1))
                continue 2
            fi
            tries=$((tries + 1))
            [ $tries -le 300 ] || { echo "$code: not ready after 30 s" >&2; failed=$((failed + 1)); continue 2; }
            sleep 0.1
        done
        echo "$code: ready (QUIC $(quic_port "$code"), API http://127.0.0.1:$(api_port "$code"), pid $(cat "$dir/$code/liandong.pid"))"
    done
    [ $failed -eq 0 ] || die "$failed node(s) did not start"
}

cmd_stop() {
    need_dir
    local code pid i stopping=()
    select_codes "$@"
    # Children first.
    for ((i = ${#SELECTED[@]} - 1; i >= 0; i--)); do
        code=${SELECTED[$i]}
        if pid=$(pid_of "$code"); then
            kill -TERM "$pid"
            stopping+=("$code:$pid")
        fi
    done
    local entry tries
    for entry in ${stopping[@]+"${stopping[@]}"}; do
        code=${entry%%:*} pid=${entry#*:}
        tries=0
        while kill -0 "$pid" 2>/dev/null; do
            tries=$((tries + 1))
            [ $tries -le 100 ] || die "$code (pid $pid) still running 10 s after SIGTERM"
            sleep 0.1
        done
        rm -f "$dir/$code/liandong.pid"
        echo "$code: stopped"
    done
    [ ${#stopping[@]} -gt 0 ] || echo "no node was running"
}

cmd_status() {
    need_dir
    local code api token answer
    select_codes "$@"
    for code in "${SELECTED[@]}"; do
        if ! pid_of "$code" >/dev/null; then
            printf '%-10s %s: stopped\n' "$code" "${NAME[$code]}"
            continue
        fi
        api=$(api_port "$code")
        token=$(cat "$dir/$code/admin.token")
        if ! answer=$(curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$api/api/v1/links"); then
            printf '%-10s %s: running, API http://127.0.0.1:%s not answering\n' "$code" "${NAME[$code]}" "$api"
            continue
        fi
        if command -v jq >/dev/null; then
            printf '%-10s %s: %s\n' "$code" "${NAME[$code]}" "$(jq -r '
                if (.links | length) == 0 then "no links"
                else [.links[] | "\(.peer) \(.role) \(if .connected then "up" else "DOWN" + (if .last_error then " (\(.last_error))" else "" end) end) outbox=\(.outbox) last_ack=\(.last_ack)"]
                     | join("; ") end' <<<"$answer")"
        else
            printf '%-10s %s: %s\n' "$code" "${NAME[$code]}" "$answer"
        fi
    done
}

cmd_revoke() {
    need_bin
    need_dir
    [ $# -eq 1 ] || usage
    [ -n "${NAME[$1]+x}" ] || die "$1 is not a node of $csv"
    "$bin" ca revoke --dir "$dir/pki" --code "$1"
    local code
    for code in "${CODES[@]}"; do
        [ -d "$dir/$code" ] && cp "$dir/pki/revoked.toml" "$dir/$code/revoked.toml"
    done
    echo "handed revoked.toml to every node folder in $dir"
}

cmd_configs() {
    need_bin
    local out=${1:-$root/config-examples/putian} code written=0 kept=0
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    mkdir -p "$out"
    for code in "${CODES[@]}"; do
        if [ -f "$out/$code/node.toml" ]; then
            kept=$((kept + 1))
            continue
        fi
        init_node "$tmp" "$code"
        mkdir -p "$out/$code"
        cp "$tmp/$code/node.toml" "$out/$code/node.toml"
        written=$((written + 1))
    done
    if [ ! -f "$out/.gitignore" ]; then
        printf '%s\n' '# Secrets and state never belong in the repository: only node.toml files live here.' \
            '*.key' '*.token' '*.crt' 'data/' 'ports.json' 'revoked.toml' '*.pid' '*.log' >"$out/.gitignore"
    fi
    if [ ! -f "$out/README.md" ]; then
        write_configs_readme >"$out/README.md"
    fi
    echo "node.toml files: $written written, $kept kept, in $out"
}

write_configs_readme() {
    cat <<'EOF'
# 莆田市: a real federation topology

The `node.toml` of each of the 63 nodes of 莆田市 — the city, its 5 county-level districts and
their 57 townships (`../../../shared/data/divisions_putian.csv`) — as `scripts/putian.sh configs`
writes them: one folder per node, named by its division code, with fixed loopback ports and each
node's parent. Only the configs are here: the keys, certificates and admin tokens are made per
installation and are never committed (see `.gitignore`).

To run them all on one machine, let the script make complete node folders elsewhere:

```sh
cargo build --release
scripts/putian.sh init          # CA + 63 nodes in ./putian (keys, certificates, tokens)
scripts/putian.sh start         # all of them, in the background
scripts/putian.sh status        # every node's links
scripts/putian.sh stop
```

To use one of these folders by hand, copy it and certify the node into it (the CA's folder is
the city's):

```sh
cp -r config-examples/putian/350322 /srv/liandong/350322
liandong ca issue --dir /srv/liandong/pki --code 350322 --out /srv/liandong/350322
# the admin token (liandong init writes one; a copied folder needs 32+ random characters, mode 0600)
(umask 077; head -c 48 /dev/urandom | base64 | tr -dc A-Za-z0-9 > /srv/liandong/350322/admin.token)
liandong run --config /srv/liandong/350322/node.toml
```

Ports: QUIC 7300 + i and API 8300 + i, where i is 0 for the city, 1–5 for the districts and
6–62 for the townships, each in file order.

| code | name | level | parent | QUIC | API |
| --- | --- | --- | --- | --- | --- |
EOF
    local code parent
    for code in "${CODES[@]}"; do
        parent=${PARENT[$code]:-—}
        echo "| \`$code\` | $(center_name "$code") | ${LEVEL[$code]} | $parent | $(quic_port "$code") | $(api_port "$code") |"
    done
}

load_tree
case $command in
    init) [ $# -eq 0 ] || usage; cmd_init ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    revoke) cmd_revoke "$@" ;;
    configs) [ $# -le 1 ] || usage; cmd_configs "$@" ;;
    *) usage ;;
esac
