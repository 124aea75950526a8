//! The supervisors' view (电子监察) of a subtree as text: the answers of `GET /api/v1/status`
//! (each node's reachability and freshness) and `GET /api/v1/stats` (breakdowns by node,
//! department and item), each under the same heading and totals.

use std::fmt;

use serde_json::Value;

use super::text;

/// `liandong status`: heading, totals, then each node of the subtree and those that did not
/// report to a pull.
pub struct Status<'a>(pub &'a Value);

impl fmt::Display for Status<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        heading_and_totals(f, s, "status")?;
        writeln!(f)?;
        writeln!(
            f,
            "  {:<12} {:<11} {:<30} {:>6} {:>8} {:>8}",
            "node", "reachable", "data as of", "cases", "overdue", "on time"
        )?;
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
            writeln!(
                f,
                "  {:<12} {:<11} {:<30} {:>6} {:>8} {:>8}",
                text(&n["code"]),
                reachable,
                fresh,
                text(&n["cases"]),
                text(&n["overdue"]),
                rate(&n["on_time_rate"])
            )?;
        }
        if let Some(missing) = s["not_reported"].as_array().filter(|m| !m.is_empty()) {
            let names: Vec<String> = missing.iter().map(text).collect();
            writeln!(f, "\n  did not report to this pull: {}", names.join(", "))?;
        }
        Ok(())
    }
}

/// `liandong stats`: heading, totals, then the figures by node, by department and by item.
pub struct Stats<'a>(pub &'a Value);

impl fmt::Display for Stats<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        heading_and_totals(f, s, "statistics")?;
        for (title, key) in [
            ("by node (owner)", "by_node"),
            ("by department", "by_department"),
            ("by item", "by_item"),
        ] {
            writeln!(f, "\n  {title}")?;
            writeln!(
                f,
                "    {:<26} {:>6} {:>8} {:>9} {:>8} {:>9} {:>8}",
                "", "cases", "overdue", "concluded", "on time", "avg days", "督办 open"
            )?;
            for (name, row) in s[key].as_object().into_iter().flatten() {
                writeln!(
                    f,
                    "    {:<26} {:>6} {:>8} {:>9} {:>8} {:>9} {:>8}",
                    name,
                    text(&row["cases"]),
                    text(&row["overdue"]),
                    text(&row["concluded"]),
                    rate(&row["on_time_rate"]),
                    days(&row["average_working_days"]),
                    text(&row["notices_open"])
                )?;
            }
        }
        Ok(())
    }
}

/// `<node> — <what> of its subtree as of …`, the calendar's alarm if any, and the totals.
fn heading_and_totals(f: &mut fmt::Formatter<'_>, s: &Value, what: &str) -> fmt::Result {
    writeln!(
        f,
        "{} — {what} of its subtree as of {}",
        text(&s["node"]),
        text(&s["as_of"])
    )?;
    if let Some(alarm) = s["calendar"]["alarm"].as_str() {
        writeln!(f, "  CALENDAR: {alarm}")?;
    }
    totals(f, &s["totals"])
}

fn totals(f: &mut fmt::Formatter<'_>, t: &Value) -> fmt::Result {
    writeln!(f, "  cases                 {}", t["cases"])?;
    writeln!(
        f,
        "  overdue / due soon    {} / {}   (past the legal deadline: {})",
        t["overdue"], t["due_soon"], t["legal_overdue"]
    )?;
    writeln!(
        f,
        "  concluded             {}   on time (按期办结率) {}   average {} working days",
        t["concluded"],
        rate(&t["on_time_rate"]),
        days(&t["average_working_days"])
    )?;
    writeln!(
        f,
        "  joint reviews         {} waiting, {} with a late participant",
        t["joint_waiting"], t["joint_late"]
    )?;
    writeln!(
        f,
        "  materials owed        {} cases    督办 {} open, {} answered",
        t["materials_owed"], t["notices_open"], t["notices_answered"]
    )?;
    writeln!(
        f,
        "  rectifications (整改)  {} open, {} late",
        t["rectifications_open"], t["rectifications_late"]
    )?;
    if t["provisional"].as_u64().is_some_and(|n| n > 0) {
        writeln!(
            f,
            "  provisional clocks    {} cases (counted without next year's notice: may move)",
            t["provisional"]
        )?;
    }
    if let Some(scores) = t["satisfaction"].as_object().filter(|s| !s.is_empty()) {
        let line: Vec<String> = scores.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        writeln!(
            f,
            "  satisfaction (1 非常满意 … 5 非常不满意)  {}",
            line.join("  ")
        )?;
    }
    if let Some(states) = t["by_state"].as_object() {
        let line: Vec<String> = states.iter().map(|(k, v)| format!("{k} {v}")).collect();
        writeln!(f, "  by state              {}", line.join(", "))?;
    }
    Ok(())
}

/// A rate in [0, 1] as a percentage with one decimal, `-` when there is none.
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn status_names_unreachable_nodes_and_those_that_did_not_report() {
        let answer = json!({
            "node": "350300", "as_of": "2025-10-20T09:00:00+08:00",
            "totals": {"cases": 3, "on_time_rate": 0.5},
            "nodes": [{"code": "350322", "reachable": false, "cases": 3, "overdue": 1,
                       "on_time_rate": null, "fresh_as_of": "2025-10-20T08:58:00+08:00",
                       "age_seconds": 120}],
            "not_reported": ["350322"],
        });
        let text = Status(&answer).to_string();
        assert!(text.starts_with("350300 — status of its subtree as of 2025-10-20"));
        assert!(text.contains("on time (按期办结率) 50.0 %"), "{text}");
        assert!(
            text.contains("  350322       NO          2025-10-20T08:58:00 (2 min ago)"),
            "{text}"
        );
        assert!(
            text.ends_with("\n  did not report to this pull: 350322\n"),
            "{text}"
        );
    }
}
