#!/usr/bin/env bash
# The README's window walkthrough, runnable: creates a county node in a temporary folder, starts
# it with its clock on 2025-09-30, and takes one 建筑工程施工许可 case from intake to delivery
# with the CLI. Usage: scripts/walkthrough.sh [path/to/liandong]
set -euo pipefail
bin=${1:-target/release/liandong}
[ -x "$bin" ] || { echo "build first: cargo build --release (or pass the binary's path)" >&2; exit 2; }
dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT

"$bin" init --code 350322 --name 仙游县行政服务中心 --dir "$dir/350322"
"$bin" run --config "$dir/350322/node.toml" --clock 2025-09-30T09:00 2>"$dir/node.log" &
pid=$!
for _ in $(seq 100); do [ -f "$dir/350322/ports.json" ] && break; sleep 0.1; done
export LIANDONG_CONFIG=$dir/350322/node.toml

"$bin" operator add --name 郑窗口 --role clerk --department 住房和城乡建设局
"$bin" case submit --item 000172005000 --org 莆田市仙游建工有限公司:91350322MA2XN0001F \
    --material 建筑工程施工许可证申请表 --material 建设工程规划许可证
case=350322-20250930-000001
"$bin" case act $case supplement 'materials:=["施工图审查合格书","施工合同","建设资金已经落实承诺书"]'
"$bin" case act $case review
"$bin" case act $case supplement 'materials:=["工程质量安全监督手续","授权委托书"]'
"$bin" case act $case decide approve:=true reason=符合法定条件
"$bin" case act $case certify certificate_no=350322202509300101
"$bin" case act $case deliver
"$bin" case list
"$bin" status
