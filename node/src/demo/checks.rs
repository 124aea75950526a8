//! The demo's expectations. Each one is printed as it is checked and counted; the demo exits
//! non-zero if any failed. `--falsify NAME` inverts every expectation whose name contains NAME,
//! which proves that the checks can fail at all: a demo whose checks never fail shows nothing.

use anyhow::Result;
use serde_json::{json, Value};

/// The expectations so far and how they went.
pub struct Checks {
    passed: usize,
    failed: Vec<String>,
    /// `--falsify`: the part of a check's name that inverts it.
    falsify: Option<String>,
    /// How many checks `falsify` inverted (zero means it named nothing, which is itself a
    /// failure: the run would prove nothing).
    falsified: usize,
}

impl Checks {
    pub fn new(falsify: Option<&str>) -> Checks {
        Checks {
            passed: 0,
            failed: Vec::new(),
            falsify: falsify.map(str::to_string),
            falsified: 0,
        }
    }

    /// `actual` equals `expected`.
    pub fn expect(&mut self, what: &str, actual: &Value, expected: Value) {
        if *actual == expected {
            self.record(what, true, &brief(actual));
        } else {
            self.record(what, false, &format!("expected {expected}, got {actual}"));
        }
    }

    /// The node refused the request (a 4xx): nothing was stored.
    pub fn expect_refused(&mut self, what: &str, result: Result<Value>) {
        match result {
            Err(e) => self.record(what, true, &format!("refused ({e})")),
            Ok(_) => self.record(what, false, "expected a refusal, the node accepted it"),
        }
    }

    /// Every node in `views` holds the case, and the same [`projection`] of it: the same events
    /// in the same fold order, the same rejections, and the same state, owner and decision.
    pub fn expect_agreement(&mut self, what: &str, views: &[(String, Option<Value>)]) {
        let projections: Vec<Option<Value>> = views
            .iter()
            .map(|(_, v)| v.as_ref().map(projection))
            .collect();
        let agree = projections
            .iter()
            .all(|p| p.is_some() && *p == projections[0]);
        let detail = views
            .iter()
            .map(|(node, view)| match view {
                Some(v) => format!(
                    "{node} {} ({} events)",
                    v["state"].as_str().unwrap_or("?"),
                    v["events"].as_array().map_or(0, Vec::len)
                ),
                None => format!("{node} does not hold it"),
            })
            .collect::<Vec<_>>()
            .join(" = ");
        let detail = if agree {
            detail
        } else {
            format!("disagree: {}", detail.replace(" = ", " / "))
        };
        self.record(what, agree, &detail);
    }

    /// Counts and prints one expectation (inverted when `--falsify` names it).
    fn record(&mut self, what: &str, held: bool, detail: &str) {
        let falsified = self.falsify.as_deref().is_some_and(|f| what.contains(f));
        let pass = held != falsified;
        let note = if falsified {
            self.falsified += 1;
            "  [--falsify: the opposite was expected]"
        } else {
            ""
        };
        let mark = if pass { "✓" } else { "✗" };
        println!("  {mark} {what}: {detail}{note}");
        if pass {
            self.passed += 1;
        } else {
            self.failed.push(what.to_string());
        }
    }

    /// Prints the tally; `true` when every expectation held.
    pub fn summary(&mut self) -> bool {
        if let Some(name) = &self.falsify {
            if self.falsified == 0 {
                self.failed
                    .push(format!("--falsify {name:?} names no check"));
            }
        }
        println!(
            "\n{} checks passed, {} failed",
            self.passed,
            self.failed.len()
        );
        for f in &self.failed {
            println!("  failed: {f}");
        }
        self.failed.is_empty()
    }
}

/// What every node involved in a case must agree on: the fold's result, not the clocks (those
/// depend on each node's "today") nor the applicant's identity (which is the same anyway).
pub fn projection(view: &Value) -> Value {
    let events: Vec<Value> = view["events"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            json!([
                e["origin"],
                e["seq"],
                e["action"],
                e["actor"],
                e["at"],
                e.get("rejected")
            ])
        })
        .collect();
    let seats: Vec<Value> = view["participants"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| json!([p["node"], p["department"], p.get("opinion")]))
        .collect();
    json!({
        "state": view["state"],
        "owner": view["owner"],
        "forwarded_to": view["forwarded_to"],
        "decision": view["decision"],
        "requested": view["requested"],
        "seats": seats,
        "events": events,
    })
}

/// A value shortened for one line of output.
fn brief(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falsify_inverts_only_the_checks_it_names() {
        let mut c = Checks::new(Some("上报"));
        c.expect(
            "上报件: decided at the city",
            &json!("approved"),
            json!("approved"),
        );
        c.expect("跨层级: delivered", &json!("delivered"), json!("delivered"));
        c.expect_refused(
            "上报件: the county may not decide",
            Err(anyhow::anyhow!("403")),
        );
        assert_eq!(c.passed, 1);
        assert_eq!(c.failed.len(), 2);
        assert!(!c.summary());
    }

    #[test]
    fn a_falsify_that_names_nothing_fails_the_run() {
        let mut c = Checks::new(Some("没有这个"));
        c.expect("跨层级: delivered", &json!(1), json!(1));
        assert!(!c.summary());
        assert!(Checks::new(None).summary());
    }

    #[test]
    fn agreement_ignores_clocks_but_not_history() {
        let view = |warning: &str, rejected: Option<&str>| {
            let mut e =
                json!({"origin": "350322", "seq": 1, "action": "decide", "actor": "林", "at": "t"});
            if let Some(r) = rejected {
                e["rejected"] = json!(r);
            }
            json!({"state": "approved", "owner": "350322", "warning": warning, "events": [e]})
        };
        let mut c = Checks::new(None);
        let same = vec![
            ("350322".to_string(), Some(view("green", None))),
            ("350300".to_string(), Some(view("red", None))),
        ];
        c.expect_agreement("same history, other day", &same);
        let different = vec![
            ("350322".to_string(), Some(view("green", None))),
            ("350300".to_string(), Some(view("green", Some("withdrawn")))),
        ];
        c.expect_agreement("one rejects what the other applied", &different);
        let missing = vec![
            ("350322".to_string(), Some(view("green", None))),
            ("350322100".to_string(), None),
        ];
        c.expect_agreement("one does not hold it", &missing);
        assert_eq!((c.passed, c.failed.len()), (1, 2));
    }
}
