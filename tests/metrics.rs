//! `/metrics`: behind a token, and its cases by state kept by the commits — right after state
//! changes, after a restart and after a SIGKILL.

mod support;

use std::collections::BTreeMap;

use serde_json::json;
use support::{assert_error, s, Node, SHICHANG};

const CLOCK: &str = "2025-09-30T10:00";
/// 个体工商户设立登记: 即办 (approved at intake with all materials).
const GETI: &str = "000187002000";

/// `liandong_cases` by state, from `/metrics`.
fn scraped(node: &Node) -> BTreeMap<String, u64> {
    node.metrics()
        .lines()
        .filter_map(|l| l.strip_prefix("liandong_cases{"))
        .map(|rest| {
            let state = rest
                .split("state=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .expect("a state label");
            let n = rest.rsplit(' ').next().and_then(|n| n.parse().ok());
            (state.to_string(), n.expect("a count"))
        })
        .collect()
}

/// Cases by state, from the case list (non-zero states only).
fn listed(node: &Node) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for case in node.cases("") {
        *counts.entry(s(&case, "state").to_string()).or_default() += 1;
    }
    counts
}

fn nonzero(counts: BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    counts.into_iter().filter(|(_, n)| *n > 0).collect()
}

#[test]
fn metrics_need_a_token_and_follow_every_state_change() {
    let node = Node::start("350322", Some(CLOCK));
    assert_error(&node.get("/metrics", ""), 401, "unauthorized");
    assert_error(
        &node.get("/metrics", "0123456789abcdef0123456789abcdef"),
        401,
        "unauthorized",
    );
    // Any live operator's token will do (a scraper gets its own operator).
    let scraper = node.add_operator("prometheus", "supervisor", None);
    let (status, text) = node.get("/metrics", &scraper);
    assert_eq!(status, 200, "{text}");
    assert!(scraped(&node).values().all(|n| *n == 0));

    let clerk = node.clerk(SHICHANG);
    let case = node.submit_all(&clerk, GETI);
    let no = s(&case, "case_no").to_string();
    assert_eq!(s(&case, "state"), "approved");
    assert_eq!(scraped(&node)["approved"], 1);
    node.act_ok(&clerk, &no, &json!({"action": "deliver"}));
    let after = scraped(&node);
    assert_eq!((after["approved"], after["delivered"]), (0, 1));
    let (status, _) = node.submit(&clerk, GETI, &[]);
    assert_eq!(status, 201);
    let after = scraped(&node);
    assert_eq!(after["awaiting_supplement"], 1);
    assert_eq!(nonzero(after.clone()), listed(&node));
    // The same figures as the statistics.
    let (_, stats) = node.get("/api/v1/stats", &node.admin_token());
    for (state, n) in nonzero(after) {
        assert_eq!(stats["totals"]["by_state"][&state], n, "{state}: {stats}");
    }
    // A disabled scraper is refused like any other operator.
    let (status, _) = node.post(
        "/api/v1/operators/prometheus/disable",
        &node.admin_token(),
        &json!({}),
    );
    assert_eq!(status, 200);
    assert_error(&node.get("/metrics", &scraper), 401, "unauthorized");
}

#[test]
fn counts_are_right_after_a_restart_and_after_a_sigkill() {
    let mut node = Node::start("350322", Some(CLOCK));
    let clerk = node.clerk(SHICHANG);
    let mut nos = Vec::new();
    for _ in 0..3 {
        nos.push(s(&node.submit_all(&clerk, GETI), "case_no").to_string());
    }
    node.act_ok(&clerk, &nos[0], &json!({"action": "deliver"}));
    node.submit(&clerk, GETI, &[]);
    let before = nonzero(scraped(&node));
    assert_eq!(before, listed(&node));
    let events = node.events_stored();

    // SIGKILL: the counts are made again at start, from what was committed.
    node.sigkill();
    node.kill9();
    node.start_again(Some(CLOCK));
    assert_eq!(nonzero(scraped(&node)), before);
    assert_eq!(node.events_stored(), events);

    // And they keep following commits after it, and across a clean restart.
    node.act_ok(&clerk, &nos[1], &json!({"action": "deliver"}));
    let moved = nonzero(scraped(&node));
    assert_eq!(moved["delivered"], 2);
    assert_eq!(moved, listed(&node));
    node.restart(Some(CLOCK));
    assert_eq!(nonzero(scraped(&node)), moved);
    node.assert_no_panic();
}
