//! One case as text — applicant's item, state, deadlines, materials, joint review, 督办 and
//! history — and the rows of the case list.

use std::fmt;

use crate::contract;

/// A value as a word in a line: `-` when absent.
fn or_dash<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// A serde-named value (a state, a warning) as its name.
fn name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => super::text(&other),
        Err(_) => "?".to_string(),
    }
}

/// A case view of the API (`GET /api/v1/cases/{no}`) as text: its heading, deadlines, what is
/// missing or owed, the joint review's seats, 督办 notices and the history.
pub struct CaseView<'a>(pub &'a contract::CaseView);

impl fmt::Display for CaseView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let case = self.0;
        writeln!(
            f,
            "{}  {} {}  [{}]  warning: {}",
            case.case_no,
            case.item,
            case.item_name,
            name(&case.state),
            name(&case.warning)
        )?;
        writeln!(
            f,
            "  department {}  accepted at {}  owner {}",
            case.department, case.accepting_node, case.owner
        )?;
        writeln!(
            f,
            "  accepted on {}  deadline {} (legal {})  concluded {}",
            or_dash(case.accepted_on),
            or_dash(case.deadline),
            or_dash(case.legal_deadline),
            or_dash(case.concluded_on)
        )?;
        if case.provisional {
            writeln!(
                f,
                "  deadlines provisional (暂定): counted over a year without its State Council \
                 notice; they may move when it is loaded"
            )?;
        }
        if let Some(due) = case.first_review_due {
            writeln!(
                f,
                "  first review (初审) due {due}  reported up {}  warning: {}",
                or_dash(case.reported_on),
                or_dash(case.first_review_warning.map(|w| name(&w)))
            )?;
        }
        for (label, list) in [
            ("missing (补正)", &case.missing),
            ("owed (容缺)", &case.owed),
            ("requested (补件)", &case.requested),
        ] {
            if !list.is_empty() {
                writeln!(f, "  {label}: {}", list.join("、"))?;
            }
        }
        participants(f, case)?;
        for n in &case.notices {
            let answer = match &n.answer {
                Some(a) => format!("answered {}: {a}", or_dash(n.answered_on)),
                None => format!(
                    "OPEN — answer with: answer_notice 'notice:={}' answer=...",
                    serde_json::to_string(&n.id).unwrap_or_default()
                ),
            };
            writeln!(
                f,
                "  督办 from {} on {}: {}  [{answer}]",
                n.from, n.on, n.note
            )?;
        }
        for e in &case.events {
            let rejected = e.rejected.as_ref().map(|r| format!("  REJECTED: {r}"));
            // `#{seq}` unpadded: the history has always read `#1 submit`.
            writeln!(
                f,
                "    {} #{} {:<18} {:<10} {}{}",
                e.at,
                e.seq,
                e.action,
                e.origin.to_string(),
                e.actor,
                rejected.unwrap_or_default()
            )?;
        }
        Ok(())
    }
}

/// The joint review's seats: who answered what, and whose feedback is late.
fn participants(f: &mut fmt::Formatter<'_>, case: &contract::CaseView) -> fmt::Result {
    if case.participants.is_empty() {
        return Ok(());
    }
    writeln!(
        f,
        "  joint review (联审) feedback due {}  warning: {}",
        or_dash(case.feedback_due),
        or_dash(case.feedback_warning.map(|w| name(&w)))
    )?;
    for seat in &case.participants {
        let opinion = match &seat.opinion {
            Some(o) if o.agree => format!("agrees ({})", o.on),
            Some(o) => format!("DISAGREES ({}): {}", o.on, o.comment),
            None => "no opinion yet".to_string(),
        };
        writeln!(
            f,
            "    {} {:<12} [{}] {}",
            seat.node,
            seat.department,
            or_dash(seat.feedback.map(|w| name(&w))),
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
pub struct CaseRows<'a>(pub &'a [contract::CaseView]);

impl fmt::Display for CaseRows<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0 {
            writeln!(
                f,
                "{:<28} {:<20} {:<20} {:<12} {:<7}",
                c.case_no.to_string(),
                c.item,
                name(&c.state),
                or_dash(c.deadline),
                name(&c.warning) + if c.provisional { " (暂定)" } else { "" }
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    /// A case view with every field, as the node answers it, with `fields` over it.
    fn view(fields: Value) -> contract::CaseView {
        let mut case = json!({
            "case_no": "350302-20250930-000001", "item": "000187002000",
            "item_name": "个体工商户设立登记", "kind": "immediate", "state": "approved",
            "department": "市场监督管理局", "accepting_node": "350302", "owner": "350302",
            "applicant": {"kind": "person", "name": "张三", "id": "350102199001011234"},
            "applicant_masked": false, "participants": [], "submitted_on": "2025-09-30",
            "accepted_on": "2025-09-30", "deadline": "2025-09-30",
            "legal_deadline": "2025-09-30", "concluded_on": null, "warning": "green",
            "legal_warning": "green", "provisional": false, "working_days": null,
            "remaining_days": null, "paused_days": 0, "extension_days": 0,
            "feedback_due": null, "feedback_warning": null, "reported_on": null,
            "first_review_due": null, "first_review_warning": null, "materials": [],
            "missing": [], "owed": [], "requested": [], "fee_fen": 0, "payment": null,
            "certificate_no": null, "decision": null, "pending_sign_off": false,
            "rating": null, "rectification_due": null, "rectification_warning": null,
            "rectified_on": null, "notices": [], "forwarded_to": null, "events": [],
        });
        for (k, v) in fields.as_object().unwrap() {
            case[k] = v.clone();
        }
        serde_json::from_value(case).unwrap()
    }

    #[test]
    fn a_case_reads_as_lines_with_its_history() {
        let case = view(json!({
            "owed": ["授权委托书"],
            "events": [{"at": "2025-09-30T09:00", "seq": 1, "action": "submit",
                        "origin": "350302", "actor": "林窗口"}],
        }));
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
        let rows = [view(
            json!({"case_no": "350302-20270105-000001", "item": "I",
                                "state": "accepted", "deadline": "2027-01-05",
                                "provisional": true}),
        )];
        let line = CaseRows(&rows).to_string();
        assert!(line.ends_with("green (暂定)\n"), "{line:?}");
    }
}
