#!/usr/bin/env python3
"""liandong against the NATS JetStream anchor: one table of ratios.

Reads the JSON of `liandong bench --json FILE` and the result files of the anchor harness
(`bench.py --tag T` writes results/T.json; see ../shared/anchors/nats/REPORT.md) and prints, for
the figures both sides measure in the same shape, liandong's value, NATS's without fsync (2.9.10)
and with `sync_interval: always` (2.15.x), and the ratios. A ratio is always oriented so that
> 1 means liandong is better: liandong ÷ NATS for rates, NATS ÷ liandong for latencies and RSS.

    scripts/anchors_table.py --liandong target/bench/bench-1.json \\
        --nats-nofsync nofsync.json --nats-fsync fsync.json [--out table.json] \\
        [--timing "NATS no-fsync=41.2" ...]

Either NATS file may be left out (its columns show "—"). Python 3 standard library only.
"""
import argparse
import json
import statistics
import sys
import time

# (key, label, unit, higher_is_better)
ROWS = [
    ("replication_eps", "3-level replication, township→city holds all", "events/s", True),
    ("latency_light_p50_ms", "light-load latency township→city, p50", "ms", False),
    ("latency_light_p99_ms", "light-load latency township→city, p99", "ms", False),
    ("catchup_eps", "catch-up after a county kill, until the city is current", "events/s", True),
    ("rss_largest_node_mb", "RSS of the largest node", "MB", False),
]


def figure(report, prefix):
    """The liandong figure whose name starts with `prefix`, or None."""
    for f in report.get("figures", []):
        if f.get("name", "").startswith(prefix):
            return f
    return None


def liandong_values(report):
    vals, notes = {}, {}
    f = figure(report, "replication township→county→city")
    if f:
        vals["replication_eps"] = f["median"]
    for q in ("p50", "p99"):
        f = figure(report, f"latency township→city summary, light load, {q}")
        if f:
            vals[f"latency_light_{q}_ms"] = f["median"]
    f = figure(report, "catch-up:")
    if f:
        vals["catchup_eps"] = f["median"]
        backlog = report.get("sizes", {}).get("catchup_events")
        notes["catchup_backlog"] = backlog
        if backlog and f["median"] > 0:
            notes["catchup_city_current_s"] = backlog / f["median"]
    f = figure(report, "scale: node RSS after the replay")
    if f:
        # the per-node samples (VmRSS after the replay); their max is the busiest of the nodes
        vals["rss_largest_node_mb"] = f["max"]
        notes["rss_median_node_mb"] = f["median"]
        notes["rss_nodes"] = len(f.get("samples", []))
    f = figure(report, "scale: largest node RSS after the replay")  # newer builds report it
    if f:
        vals["rss_largest_node_mb"] = f["median"]
    return vals, notes


def nats_values(r, fsync):
    vals, notes = {}, {}
    b, lat, c = r.get("bulk", {}), r.get("latency", {}), r.get("catchup", {})
    if "e2e_eps" in b:
        vals["replication_eps"] = b["e2e_eps"]
    poll = lat.get("e2e_poll_city_streaminfo", {})
    for q in ("p50", "p99"):
        if f"{q}_ms" in poll:
            vals[f"latency_light_{q}_ms"] = poll[f"{q}_ms"]
    if "catchup_eps_city" in c:
        vals["catchup_eps"] = c["catchup_eps_city"]
        notes["catchup_backlog"] = c.get("M")
        notes["catchup_city_all_s"] = c.get("city_all_after_restart_s")
        notes["catchup_first_new_msg_s"] = c.get("county_first_new_msg_s")
    peaks = r.get("peak_VmHWM_MB", {})
    if peaks:
        vals["rss_largest_node_mb"] = max(peaks.values())
        notes["rss_median_node_mb"] = statistics.median(peaks.values())
        notes["peak_VmHWM_MB"] = peaks
    notes["server"] = r.get("nats_server", "?")
    notes["n"] = b.get("N")
    notes["poll_rtt_ms"] = lat.get("poll_rtt_ms")
    push = lat.get("e2e_push_ordered_consumer_city", {})
    notes["push_p50_p99_ms"] = [push.get("p50_ms"), push.get("p99_ms")]
    warnings = []
    final, expected = r.get("final_counts"), r.get("expected_total")
    if final and expected is not None and any(v != expected for v in final.values()):
        warnings.append(f"final counts {final} differ from expected {expected}")
    errors = b.get("ack_errors", 0) + c.get("ack_errors", 0)
    if errors:
        warnings.append(f"{errors} publish acks were errors")
    config = (r.get("varz_js_config") or {}).get("township") or {}
    if bool(config.get("sync_always")) != fsync:
        warnings.append(f"expected sync_always {fsync}, the township's /varz says {config!r}")
    notes["warnings"] = warnings
    return vals, notes


def ratio(ours, theirs, higher_is_better):
    if ours is None or theirs is None or ours <= 0 or theirs <= 0:
        return None
    return ours / theirs if higher_is_better else theirs / ours


def fmt(x, unit):
    if x is None:
        return "—"
    if unit == "×":
        return f"{x:.2f}×"
    if abs(x) >= 100:
        return f"{x:,.0f}".replace(",", " ")
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def build(ld, nofsync, fsync):
    lv, ln = liandong_values(ld)
    sides = {"nofsync": nats_values(nofsync, False) if nofsync else ({}, {}),
             "fsync": nats_values(fsync, True) if fsync else ({}, {})}
    rows = []
    for key, label, unit, hib in ROWS:
        a, b = sides["nofsync"][0].get(key), sides["fsync"][0].get(key)
        rows.append({
            "figure": label, "key": key, "unit": unit,
            "better": "higher" if hib else "lower",
            "liandong": lv.get(key), "nats_nofsync": a, "nats_fsync": b,
            "ratio_vs_nofsync": ratio(lv.get(key), a, hib),
            "ratio_vs_fsync": ratio(lv.get(key), b, hib),
        })
    return {
        "ratio_direction": "liandong ÷ NATS for rates, NATS ÷ liandong for latencies and RSS: "
                           "> 1 means liandong is better",
        "rows": rows,
        "liandong": {"quick": ld.get("quick"), "seconds": ld.get("seconds"),
                     "sizes": ld.get("sizes"), **ln},
        "nats_nofsync": sides["nofsync"][1] or None,
        "nats_fsync": sides["fsync"][1] or None,
    }


def render(table):
    head = ["figure", "unit", "liandong", "NATS no-fsync", "NATS fsync-always",
            "× vs no-fsync", "× vs fsync-always"]
    lines = [head]
    for r in table["rows"]:
        lines.append([r["figure"], r["unit"], fmt(r["liandong"], r["unit"]),
                      fmt(r["nats_nofsync"], r["unit"]), fmt(r["nats_fsync"], r["unit"]),
                      fmt(r["ratio_vs_nofsync"], "×"), fmt(r["ratio_vs_fsync"], "×")])
    width = [max(len(l[i]) for l in lines) for i in range(len(head))]
    out = []
    for n, l in enumerate(lines):
        cells = [c.ljust(width[i]) if i < 2 else c.rjust(width[i]) for i, c in enumerate(l)]
        out.append("| " + " | ".join(cells) + " |")
        if n == 0:
            out.append("|" + "|".join("-" * (w + 2) if i < 2 else "-" * (w + 1) + ":"
                                      for i, w in enumerate(width)) + "|")
    out.append("")
    out.append("× = liandong ÷ NATS for rates, NATS ÷ liandong for latencies and RSS: "
               "> 1 means liandong is better.")
    ld = table["liandong"]
    out.append(f"liandong: `liandong bench{' --quick' if ld.get('quick') else ''}`, "
               f"median of repeated runs, {round(ld.get('seconds') or 0)} s; "
               f"catch-up backlog {ld.get('catchup_backlog')} (city current "
               f"{fmt(ld.get('catchup_city_current_s'), 's')} s after the county's restart, "
               f"at the median)")
    for key, name in (("nats_nofsync", "NATS no-fsync"), ("nats_fsync", "NATS fsync-always")):
        n = table[key]
        if not n:
            out.append(f"{name}: not run")
            continue
        out.append(f"{name}: {n['server']}, one run, {n['n']} events, catch-up backlog "
                   f"{n.get('catchup_backlog')} (first new event at the county "
                   f"{n.get('catchup_first_new_msg_s')} s after its restart, city current at "
                   f"{n.get('catchup_city_all_s')} s); peak VmHWM MB {n.get('peak_VmHWM_MB')}")
        for w in n["warnings"]:
            out.append(f"  WARNING {name}: {w}")
    out.append("latency: liandong = HTTP submit (201, durable) → summary readable at the city "
               "(GET polled every 0.5 ms); NATS = publish → count seen in the city stream "
               "(tight STREAM.INFO poll, one poll ≈ "
               + " / ".join(str((table[k] or {}).get("poll_rtt_ms", "—"))
                            for k in ("nats_nofsync", "nats_fsync")) + " ms).")
    cases = (ld.get("sizes") or {}).get("scale_cases")
    out.append(f"RSS: liandong = VmRSS after the 63-node replay of {cases} cases, largest node "
               f"(median node "
               f"{fmt(ld.get('rss_median_node_mb'), 'MB')} MB); NATS = peak VmHWM of its three "
               f"servers over the run. Different loads: an order of magnitude, not a ratio to "
               f"quote.")
    timings = table.get("timings")
    if timings:
        out.append("wall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
    return "\n".join(out)


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--liandong", required=True, help="JSON of `liandong bench --json FILE`")
    ap.add_argument("--nats-nofsync", help="harness results/T.json, NATS 2.9.10 (no fsync)")
    ap.add_argument("--nats-fsync", help="harness results/T.json, NATS 2.15 sync_interval: always")
    ap.add_argument("--out", help="write the table (and the inputs' paths) as JSON here")
    ap.add_argument("--timing", action="append", default=[], metavar="NAME=SECONDS",
                    help="wall time of a part, shown under the table and kept in the JSON")
    args = ap.parse_args(argv)
    table = build(load(args.liandong),
                  load(args.nats_nofsync) if args.nats_nofsync else None,
                  load(args.nats_fsync) if args.nats_fsync else None)
    timings = {}
    for t in args.timing:
        name, _, secs = t.rpartition("=")
        timings[name] = float(secs)
    table["timings"] = timings
    table["inputs"] = {"liandong": args.liandong, "nats_nofsync": args.nats_nofsync,
                       "nats_fsync": args.nats_fsync}
    table["written_unix"] = int(time.time())
    print(render(table))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(table, f, indent=1, ensure_ascii=False)
        print(f"table written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
