//! `liandong status` and `liandong stats`: the supervisors' view (电子监察) of this node's
//! subtree, as human tables or, with `--json`, the API's answer as it is.

use anyhow::Result;
use serde_json::{json, Value};

use super::case::text;
use crate::client::Client;

/// `liandong status [--pull] [--json]`.
pub fn status(client: &Client, pull: bool, timeout_ms: u64, json: bool) -> Result<()> {
    let s = if pull {
        client.post("/api/v1/status/pull", &json!({ "timeout_ms": timeout_ms }))?
    } else {
        client.get("/api/v1/status")?
    };
    print_answer(&s, json, "status", print_nodes)
}

/// The status of each node of the subtree, and those that did not report to a pull.
fn print_nodes(s: &Value) {
    println!();
    println!(
        "  {:<12} {:<11} {:<30} {:>6} {:>8} {:>8}",
        "node", "reachable", "data as of", "cases", "overdue", "on time"
    );
    for n in s["nodes"].as_array().into_iter().flatten() {
        let reachable = match n["reachable"].as_bool() {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "unknown",
        };
        let fresh = match (n["fresh_as_of"].as_str(), n["age_seconds"].as_u64()) {
            (Some(t), Some(age)) => format!("{} ({})", &t[..19.min(t.len())], ago(age)),
            _ => "never heard".to_string(),
        };
        println!(
            "  {:<12} {:<11} {:<30} {:>6} {:>8} {:>8}",
            text(&n["code"]),
            reachable,
            fresh,
            text(&n["cases"]),
            text(&n["overdue"]),
            rate(&n["on_time_rate"])
        );
    }
    if let Some(missing) = s["not_reported"].as_array().filter(|m| !m.is_empty()) {
        let names: Vec<String> = missing.iter().map(text).collect();
        println!("\n  did not report to this pull: {}", names.join(", "));
    }
}

/// `liandong stats [--json]`.
pub fn stats(client: &Client, json: bool) -> Result<()> {
    let s = client.get("/api/v1/stats")?;
    print_answer(&s, json, "statistics", print_breakdowns)
}

/// The statistics by node, by department and by item.
fn print_breakdowns(s: &Value) {
    for (title, key) in [
        ("by node (owner)", "by_node"),
        ("by department", "by_department"),
        ("by item", "by_item"),
    ] {
        println!("\n  {title}");
        println!(
            "    {:<26} {:>6} {:>8} {:>9} {:>8} {:>9} {:>8}",
            "", "cases", "overdue", "concluded", "on time", "avg days", "督办 open"
        );
        for (name, f) in s[key].as_object().into_iter().flatten() {
            println!(
                "    {:<26} {:>6} {:>8} {:>9} {:>8} {:>9} {:>8}",
                name,
                text(&f["cases"]),
                text(&f["overdue"]),
                text(&f["concluded"]),
                rate(&f["on_time_rate"]),
                days(&f["average_working_days"]),
                text(&f["notices_open"])
            );
        }
    }
}

/// The API's answer `s` as it is with `--json`; otherwise the heading (`<node> — <what> of its
/// subtree as of …`), the totals, and then `details`.
fn print_answer(s: &Value, json: bool, what: &str, details: fn(&Value)) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(s)?);
        return Ok(());
    }
    println!(
        "{} — {what} of its subtree as of {}",
        text(&s["node"]),
        text(&s["as_of"])
    );
    if let Some(alarm) = s["calendar"]["alarm"].as_str() {
        println!("  CALENDAR: {alarm}");
    }
    print_totals(&s["totals"]);
    details(s);
    Ok(())
}

fn print_totals(t: &Value) {
    println!("  cases                 {}", t["cases"]);
    println!(
        "  overdue / due soon    {} / {}   (past the legal deadline: {})",
        t["overdue"], t["due_soon"], t["legal_overdue"]
    );
    println!(
        "  concluded             {}   on time (按期办结率) {}   average {} working days",
        t["concluded"],
        rate(&t["on_time_rate"]),
        days(&t["average_working_days"])
    );
    println!(
        "  joint reviews         {} waiting, {} with a late participant",
        t["joint_waiting"], t["joint_late"]
    );
    println!(
        "  materials owed        {} cases    督办 {} open, {} answered",
        t["materials_owed"], t["notices_open"], t["notices_answered"]
    );
    println!(
        "  rectifications (整改)  {} open, {} late",
        t["rectifications_open"], t["rectifications_late"]
    );
    if t["provisional"].as_u64().is_some_and(|n| n > 0) {
        println!(
            "  provisional clocks    {} cases (counted without next year's notice: may move)",
            t["provisional"]
        );
    }
    if let Some(scores) = t["satisfaction"].as_object().filter(|s| !s.is_empty()) {
        let line: Vec<String> = scores.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        println!(
            "  satisfaction (1 非常满意 … 5 非常不满意)  {}",
            line.join("  ")
        );
    }
    if let Some(states) = t["by_state"].as_object() {
        let line: Vec<String> = states.iter().map(|(k, v)| format!("{k} {v}")).collect();
        println!("  by state              {}", line.join(", "));
    }
}

fn rate(v: &Value) -> String {
    v.as_f64()
        .map_or("-".to_string(), |r| format!("{:.1} %", r * 100.0))
}

fn days(v: &Value) -> String {
    v.as_f64().map_or("-".to_string(), |d| format!("{d:.1}"))
}

fn ago(seconds: u64) -> String {
    match seconds {
        0..=59 => format!("{seconds} s ago"),
        60..=3599 => format!("{} min ago", seconds / 60),
        _ => format!("{} h ago", seconds / 3600),
    }
}
