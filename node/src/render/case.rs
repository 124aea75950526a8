//! One case as text — applicant's item, state, deadlines, materials, joint review, 督办 and
//! history — and the rows of the case list.

use std::fmt;

use serde_json::Value;

use super::text;

/// A case view of the API (`GET /api/v1/cases/{no}`) as text: its heading, deadlines, what is
/// missing or owed, the joint review's seats, 督办 notices and the history.
pub struct CaseView<'a>(pub &'a Value);

impl fmt::Display for CaseView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let case = self.0;
        writeln!(
            f,
            "{}  {} {}  [{}]  warning: {}",
            text(&case["case_no"]),
            text(&case["item"]),
            text(&case["item_name"]),
            text(&case["state"]),
            text(&case["warning"])
        )?;
        writeln!(
            f,
            "  department {}  accepted at {}  owner {}",
            text(&case["department"]),
            text(&case["accepting_node"]),
            text(&case["owner"])
        )?;
        writeln!(
            f,
            "  accepted on {}  deadline {} (legal {})  concluded {}",
            text(&case["accepted_on"]),
            text(&case["deadline"]),
            text(&case["legal_deadline"]),
            text(&case["concluded_on"])
        )?;
        if case["provisional"] == true {
            writeln!(
                f,
                "  deadlines provisional (暂定): counted over a year without its State Council \
                 notice; they may move when it is loaded"
            )?;
        }
        if case["first_review_due"].is_string() {
            writeln!(
                f,
                "  first review (初审) due {}  reported up {}  warning: {}",
                text(&case["first_review_due"]),
                text(&case["reported_on"]),
                text(&case["first_review_warning"])
            )?;
        }
        for (label, key) in [
            ("missing (补正)", "missing"),
            ("owed (容缺)", "owed"),
            ("requested (补件)", "requested"),
        ] {
            if let Some(list) = case[key].as_array().filter(|l| !l.is_empty()) {
                let names: Vec<String> = list.iter().map(text).collect();
                writeln!(f, "  {label}: {}", names.join("、"))?;
            }
        }
        participants(f, case)?;
        for n in case["notices"].as_array().into_iter().flatten() {
            let answer = match n["answer"].as_str() {
                Some(a) => format!("answered {}: {a}", text(&n["answered_on"])),
                None => format!(
                    "OPEN — answer with: answer_notice 'notice:={}' answer=...",
                    n["id"]
                ),
            };
            writeln!(
                f,
                "  督办 from {} on {}: {}  [{answer}]",
                text(&n["from"]),
                text(&n["on"]),
                text(&n["note"])
            )?;
        }
        if let Some(events) = case["events"].as_array() {
            for e in events {
                let rejected = e
                    .get("rejected")
                    .map(|r| format!("  REJECTED: {}", text(r)));
                writeln!(
                    f,
                    "    {} #{:<4} {:<18} {:<10} {}{}",
                    text(&e["at"]),
                    e["seq"],
                    text(&e["action"]),
                    text(&e["origin"]),
                    text(&e["actor"]),
                    rejected.unwrap_or_default()
                )?;
            }
        }
        Ok(())
    }
}

/// The joint review's seats: who answered what, and whose feedback is late.
fn participants(f: &mut fmt::Formatter<'_>, case: &Value) -> fmt::Result {
    let Some(seats) = case["participants"].as_array().filter(|s| !s.is_empty()) else {
        return Ok(());
    };
    writeln!(
        f,
        "  joint review (联审) feedback due {}  warning: {}",
        text(&case["feedback_due"]),
        text(&case["feedback_warning"])
    )?;
    for seat in seats {
        let opinion = match seat["opinion"]["agree"].as_bool() {
            Some(true) => format!("agrees ({})", text(&seat["opinion"]["on"])),
            Some(false) => format!(
                "DISAGREES ({}): {}",
                text(&seat["opinion"]["on"]),
                text(&seat["opinion"]["comment"])
            ),
            None => "no opinion yet".to_string(),
        };
        writeln!(
            f,
            "    {} {:<12} [{}] {}",
            text(&seat["node"]),
            text(&seat["department"]),
            text(&seat["feedback"]),
            opinion
        )?;
    }
    Ok(())
}

/// The heading of the case list's table.
pub struct CaseListHeader;

impl fmt::Display for CaseListHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<28} {:<20} {:<20} {:<12} {:<7}",
            "case", "item", "state", "deadline", "warning"
        )
    }
}

/// Rows of the case list's table, one per case of a page of `GET /api/v1/cases`; a
/// provisional deadline is marked (暂定).
pub struct CaseRows<'a>(pub &'a [Value]);

impl fmt::Display for CaseRows<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0 {
            writeln!(
                f,
                "{:<28} {:<20} {:<20} {:<12} {:<7}",
                text(&c["case_no"]),
                text(&c["item"]),
                text(&c["state"]),
                text(&c["deadline"]),
                text(&c["warning"])
                    + if c["provisional"] == true {
                        " (暂定)"
                    } else {
                        ""
                    }
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_case_reads_as_lines_with_its_history() {
        let case = json!({
            "case_no": "350302-20250930-000001", "item": "000187002000",
            "item_name": "个体工商户设立登记", "state": "approved", "warning": "green",
            "department": "市场监督管理局", "accepting_node": "350302", "owner": "350302",
            "accepted_on": "2025-09-30", "deadline": "2025-09-30",
            "legal_deadline": "2025-09-30", "concluded_on": null, "owed": ["授权委托书"],
            "events": [{"at": "2025-09-30T09:00", "seq": 1, "action": "submit",
                        "origin": "350302", "actor": "林窗口"}],
        });
        // `{:<4}` does not pad a JSON number (`Value`'s Display ignores the width): the
        // history has always read `#1 submit`.
        assert_eq!(
            CaseView(&case).to_string(),
            "350302-20250930-000001  000187002000 个体工商户设立登记  [approved]  warning: green\n\
             \x20 department 市场监督管理局  accepted at 350302  owner 350302\n\
             \x20 accepted on 2025-09-30  deadline 2025-09-30 (legal 2025-09-30)  concluded -\n\
             \x20 owed (容缺): 授权委托书\n\
             \x20   2025-09-30T09:00 #1 submit             350302     林窗口\n"
        );
    }

    #[test]
    fn a_provisional_deadline_is_marked_in_the_list() {
        let rows = [json!({"case_no": "A", "item": "I", "state": "accepted",
                           "deadline": "2027-01-05", "warning": "green", "provisional": true})];
        let line = CaseRows(&rows).to_string();
        assert!(line.ends_with("green (暂定)\n"), "{line:?}");
    }
}
