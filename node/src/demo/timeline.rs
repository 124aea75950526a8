//! Printing what the nodes hold: a case's timeline as each involved node sees it, side by side,
//! and the city's consolidated view (电子监察) as a table.
//!
//! A timeline has one row per event, in fold order, and one column per node: ✓ the node holds
//! the event and applied it, ✗ it holds it marked rejected (kept for audit), · it does not hold
//! it. When replication worked, every column of an involved node is the same — which is the
//! point the demo makes — and a rejected event is rejected everywhere.

use serde_json::Value;

use super::federation::{label, Views};

/// Prints a case's timeline on each of `views`' nodes.
pub fn print_case(title: &str, views: &Views) {
    println!("\n  ── {title} ──");
    for (node, view) in views {
        print_node_line(node, view.as_ref());
    }
    let held: Vec<(&String, &Value)> = views
        .iter()
        .filter_map(|(n, v)| v.as_ref().map(|v| (n, v)))
        .collect();
    let events = all_events(&held);
    let header: String = held
        .iter()
        .map(|(n, _)| pad(n, COLUMN))
        .collect::<Vec<_>>()
        .join("");
    println!(
        "    {} {} {} {header}",
        pad("time", 18),
        pad("action", 18),
        pad("by", 32)
    );
    for e in &events {
        let marks: String = held
            .iter()
            .map(|(_, v)| pad(mark(v, e), COLUMN))
            .collect::<Vec<_>>()
            .join("");
        let by = format!("{} {}", label(text(&e["origin"])), text(&e["actor"]));
        println!(
            "    {} {} {} {marks}",
            pad(&short_time(text(&e["at"])), 18),
            pad(text(&e["action"]), 18),
            pad(&by, 32)
        );
        if let Some(reason) = e.get("rejected") {
            println!("      ✗ rejected in the fold: {}", text(reason));
        }
    }
}

/// One node's view of the case in one line: state, owner, deadline, warning.
fn print_node_line(node: &str, view: Option<&Value>) {
    let Some(v) = view else {
        println!(
            "    at {}  does not hold the case (not involved: 404)",
            pad(&label(node), 18)
        );
        return;
    };
    let mut line = format!(
        "    at {}  {}  owner {}  deadline {}  warning {}",
        pad(&label(node), 18),
        pad(text(&v["state"]), 14),
        pad(text(&v["owner"]), 10),
        text(&v["deadline"]),
        text(&v["warning"])
    );
    if v["feedback_warning"].is_string() {
        let seats: Vec<String> = v["participants"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| format!("{} {}", text(&p["node"]), text(&p["feedback"])))
            .collect();
        line.push_str(&format!(
            "  feedback {} [{}]",
            text(&v["feedback_warning"]),
            seats.join(", ")
        ));
    }
    println!("{line}");
}

/// Every event any node holds, in fold order: the longest history, then whatever only another
/// node holds (which only happens when replication has not caught up).
fn all_events(held: &[(&String, &Value)]) -> Vec<Value> {
    let histories: Vec<&Vec<Value>> = held
        .iter()
        .filter_map(|(_, v)| v["events"].as_array())
        .collect();
    let mut events: Vec<Value> = histories
        .iter()
        .max_by_key(|h| h.len())
        .map(|h| h.to_vec())
        .unwrap_or_default();
    for h in &histories {
        for e in h.iter() {
            if !events.iter().any(|k| same_event(k, e)) {
                events.push(e.clone());
            }
        }
    }
    events
}

fn same_event(a: &Value, b: &Value) -> bool {
    a["origin"] == b["origin"] && a["seq"] == b["seq"]
}

fn mark(view: &Value, event: &Value) -> &'static str {
    let found = view["events"]
        .as_array()
        .and_then(|es| es.iter().find(|e| same_event(e, event)));
    match found {
        Some(e) if e.get("rejected").is_some() => "✗",
        Some(_) => "✓",
        None => "·",
    }
}

/// Prints the city's summaries (`GET /api/v1/summaries`) as a table; `item_names` gives each
/// item code's name.
pub fn print_summaries(summaries: &[Value], item_name: impl Fn(&str) -> String) {
    println!(
        "  {} {} {} {} {} {} {} as of",
        pad("case", 26),
        pad("item", 30),
        pad("accepted at", 18),
        pad("owner", 18),
        pad("state", 13),
        pad("deadline", 11),
        pad("warning", 8)
    );
    for s in summaries {
        let item = clip(
            &format!("{} {}", text(&s["item"]), item_name(text(&s["item"]))),
            30,
        );
        println!(
            "  {} {} {} {} {} {} {} {}",
            pad(text(&s["case_no"]), 26),
            pad(&item, 30),
            pad(&label(text(&s["accepting_node"])), 18),
            pad(&label(text(&s["owner"])), 18),
            pad(text(&s["state"]), 13),
            pad(text(&s["deadline"]), 11),
            pad(text(&s["warning"]), 8),
            as_of(&s["as_of"])
        );
    }
}

/// A summary's `as_of` (a hybrid-clock stamp) as a readable time, or as given.
fn as_of(v: &Value) -> String {
    match v["wall_ms"].as_u64() {
        Some(ms) => short_time(&crate::api::view::timestamp(ms)),
        None => v.to_string(),
    }
}

/// Width of one node's column in a timeline.
const COLUMN: usize = 11;

/// `2025-09-30T09:00:00.065+08:00` → `09-30 09:00:00.065`.
fn short_time(at: &str) -> String {
    at.get(5..23)
        .map_or(at.to_string(), |s| s.replacen('T', " ", 1))
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("-")
}

/// `s` padded with spaces to `width` terminal columns, counting CJK characters as two (a
/// `{:<width$}` format counts characters, which misaligns Chinese text).
pub fn pad(s: &str, width: usize) -> String {
    let used: usize = s.chars().map(columns).sum();
    format!("{s}{}", " ".repeat(width.saturating_sub(used)))
}

/// `s` cut to at most `width` terminal columns, with `…` where it was cut.
fn clip(s: &str, width: usize) -> String {
    if s.chars().map(columns).sum::<usize>() <= width {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 1;
    for c in s.chars() {
        used += columns(c);
        if used > width {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

fn columns(c: char) -> usize {
    let wide = matches!(u32::from(c),
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6);
    if wide {
        2
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_text_is_padded_by_terminal_columns() {
        assert_eq!(pad("枫亭镇", 8), "枫亭镇  ");
        assert_eq!(pad("350322", 8), "350322  ");
        assert_eq!(pad("龙桥街道便民服务中心", 4), "龙桥街道便民服务中心");
    }

    #[test]
    fn long_text_is_clipped_to_its_column() {
        assert_eq!(clip("残疾人证核发", 12), "残疾人证核发");
        assert_eq!(clip("国有建设用地使用权", 9), "国有建设…");
        assert_eq!(
            short_time("2025-09-30T09:00:00.065+08:00"),
            "09-30 09:00:00.065"
        );
    }
}
