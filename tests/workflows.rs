//! Cross-level workflows through a federation of real `liandong` processes (DESIGN.md §3, §4,
//! §6): 跨层级受理 at a township decided by its county, a 上报件 decided by the city across a cut
//! link, a 市县联动联审 with participants at three nodes and a late one, a 退回, and a withdrawal at
//! the window racing a decision upstream.
//!
//! Every test ends the same way: each node involved in the case shows the same timeline — the
//! same events (origin, seq, action, actor, time, rejection) in the same order, and the same
//! state, owner, dates, deadlines, participants and requested materials — and the city's status
//! summary (电子监察) of the case agrees with it. The tests read only the HTTP API.
//!
//! Divisions are real ones, from `../shared/data/divisions_putian.csv`.

mod support;

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};
use support::federation::{wait_until, Federation, UdpRelay, SETTLE};
use support::*;

/// 莆田市.
const CITY: &str = "350300";
/// 城厢区.
const CHENGXIANG: &str = "350302";
/// 仙游县.
const XIANYOU: &str = "350322";
/// 仙游县 榜头镇, 郊尾镇.
const BANGTOU: &str = "350322101";
const JIAOWEI: &str = "350322102";

/// 建筑工程施工许可证核发 (住房和城乡建设局): 承诺 3 / 法定 15 working days, decided by the county.
const SHIGONG: &str = "000172005000";
/// 建设工程竣工联合验收 (住房和城乡建设局): 联办, led by the county.
const YANSHOU: &str = "000172023000";
/// 林木采伐许可证核发 (林业局): 上报件, 初审 at the county, decided by the city (承诺 10 / 法定 20).
const CAIFA: &str = "000176006000";

const RENFANG: &str = "人民防空办公室";

/// The day every federation's clock starts on ([`support::federation::CLOCK`]).
const TODAY: &str = "2025-09-30";
/// Three weeks later, a Monday: every deadline of a case accepted on [`TODAY`] with a few
/// working days has passed (2025-10-01..08 are the National Day holidays, 10-11 is a 调休
/// working Saturday).
const LATER: &str = "2025-10-20T09:00";

/// The fields of a case view every involved node must show alike.
const AGREED: [&str; 20] = [
    "case_no",
    "item",
    "state",
    "owner",
    "accepting_node",
    "accepted_on",
    "deadline",
    "legal_deadline",
    "concluded_on",
    "participants",
    "feedback_due",
    "requested",
    "missing",
    "owed",
    "reported_on",
    "first_review_due",
    "decision",
    "certificate_no",
    "forwarded_to",
    "paused_days",
];

/// The fields of each event compared across nodes.
const EVENT_FIELDS: [&str; 6] = ["origin", "seq", "action", "actor", "at", "rejected"];

/// The fields of the city's summary that must match the owner's view.
const SUMMARISED: [&str; 7] = [
    "item",
    "state",
    "owner",
    "accepting_node",
    "accepted_on",
    "deadline",
    "concluded_on",
];

fn act(action: &str) -> Value {
    json!({ "action": action })
}

fn forward() -> Value {
    act("forward")
}

fn approve(reason: &str) -> Value {
    json!({"action": "decide", "approve": true, "reason": reason})
}

/// What of a case view the involved nodes must agree on: [`AGREED`] and, per event,
/// [`EVENT_FIELDS`] (absent fields as null).
fn projection(view: &Value) -> Value {
    let mut p = Map::new();
    for field in AGREED {
        p.insert(field.into(), view[field].clone());
    }
    let events: Vec<Value> = view["events"]
        .as_array()
        .unwrap_or_else(|| panic!("a case view without events: {view}"))
        .iter()
        .map(|e| {
            EVENT_FIELDS
                .iter()
                .map(|f| (f.to_string(), e[*f].clone()))
                .collect::<Map<_, _>>()
                .into()
        })
        .collect();
    p.insert("events".into(), events.into());
    p.into()
}

/// Where the projections of `views` (one per node, `None` for a 404) differ from the first's,
/// field by field and event by event.
fn differences(nodes: &[&str], views: &[Option<Value>]) -> String {
    let mut report = String::new();
    let Some(Some(first)) = views.first() else {
        return format!("{} does not show the case\n", nodes[0]);
    };
    let first = projection(first);
    for (node, view) in nodes.iter().zip(views).skip(1) {
        let Some(view) = view else {
            report.push_str(&format!("{node} does not show the case (404)\n"));
            continue;
        };
        let view = projection(view);
        for field in AGREED {
            if first[field] != view[field] {
                report.push_str(&format!(
                    "{field}: {} shows {}, {node} shows {}\n",
                    nodes[0], first[field], view[field]
                ));
            }
        }
        let (a, b) = (
            first["events"].as_array().unwrap(),
            view["events"].as_array().unwrap(),
        );
        for i in 0..a.len().max(b.len()) {
            if a.get(i) != b.get(i) {
                report.push_str(&format!(
                    "event #{i}: {} has {}, {node} has {}\n",
                    nodes[0],
                    a.get(i).map_or("nothing".into(), Value::to_string),
                    b.get(i).map_or("nothing".into(), Value::to_string)
                ));
            }
        }
    }
    report
}

/// Fails the test if an event (origin, seq) appears twice in the case view.
#[track_caller]
fn assert_no_duplicate_events(node: &str, view: &Value) {
    let mut seen = BTreeSet::new();
    for (origin, seq, action) in events(view) {
        assert!(
            seen.insert((origin.clone(), seq)),
            "{node} shows event {origin}:{seq} ({action}) twice: {}",
            view["events"]
        );
    }
}

/// Waits until every node of `nodes` shows case `no` with the same [`projection`]: the full
/// timeline, state, owner, dates, deadlines, participants and requested materials. Fails the
/// test with the differences (and every link) after [`SETTLE`]. Returns the view of `nodes[0]`,
/// whose events are checked for duplicates.
#[track_caller]
fn assert_agree(fed: &Federation, nodes: &[&str], no: &str) -> Value {
    let mut views: Vec<Option<Value>> = Vec::new();
    let agreed = wait_until(SETTLE, || {
        views = nodes.iter().map(|n| fed.case_on(n, no)).collect();
        let projections: Vec<Option<Value>> =
            views.iter().map(|v| v.as_ref().map(projection)).collect();
        projections.iter().all(Option::is_some) && projections.windows(2).all(|w| w[0] == w[1])
    });
    assert!(
        agreed,
        "{nodes:?} never agreed on {no} within {SETTLE:?}:\n{}\nlinks:\n{}",
        differences(nodes, &views),
        fed.links_report()
    );
    for (node, view) in nodes.iter().zip(&views) {
        assert_no_duplicate_events(node, view.as_ref().unwrap());
    }
    views.swap_remove(0).unwrap()
}

/// The summary of case `no` that `node` holds (`GET /api/v1/summaries`), if any.
fn summary_on(fed: &Federation, node: &str, no: &str) -> Option<Value> {
    let n = fed.node(node);
    let (status, body) = n.get("/api/v1/summaries", &n.admin_token());
    assert_eq!(status, 200, "GET /api/v1/summaries on {node}: {body}");
    body["summaries"]
        .as_array()
        .unwrap_or_else(|| panic!("no summaries array: {body}"))
        .iter()
        .find(|s| s["case_no"] == no)
        .cloned()
}

/// Waits until the city's summary of the case matches `view` in [`SUMMARISED`]; fails the
/// test with both after [`SETTLE`]. The summary never carries the applicant's identity.
#[track_caller]
fn assert_city_summary(fed: &Federation, view: &Value) -> Value {
    let no = s(view, "case_no");
    let matches = |summary: &Value| SUMMARISED.iter().all(|f| summary[*f] == view[*f]);
    let mut last = None;
    let matched = wait_until(SETTLE, || {
        last = summary_on(fed, CITY, no);
        last.as_ref().is_some_and(matches)
    });
    let expected: Map<String, Value> = SUMMARISED
        .iter()
        .map(|f| (f.to_string(), view[*f].clone()))
        .collect();
    assert!(
        matched,
        "the city's summary of {no} never matched the case: it holds {last:?}, the case is \
         {}\nthe summaries of {no} each node holds:\n{}links:\n{}",
        Value::from(expected),
        summaries_report(fed, no),
        fed.links_report()
    );
    let summary = last.unwrap();
    let id = s(&view["applicant"], "id");
    assert!(
        !id.is_empty() && !summary.to_string().contains(id),
        "the summary carries the applicant's identity: {summary}"
    );
    summary
}

/// The state, owner and `as_of` of the summary of case `no` on every running node, for failure
/// messages.
fn summaries_report(fed: &Federation, no: &str) -> String {
    fed.running()
        .iter()
        .map(|node| {
            let brief = summary_on(fed, node, no).map(|s| {
                format!(
                    "state {}, owner {}, as_of {}",
                    s["state"], s["owner"], s["as_of"]
                )
            });
            format!("    {node}: {}\n", brief.unwrap_or_else(|| "none".into()))
        })
        .collect()
}

/// The origins of the case's events, in fold order.
fn origins(view: &Value) -> Vec<String> {
    events(view).into_iter().map(|(o, _, _)| o).collect()
}

/// A 住建 clerk at 榜头镇's window takes in an application for [`SHIGONG`] with every
/// material. Returns the case as accepted and the clerk's token.
fn accept_at_township(fed: &Federation) -> (Value, String) {
    let town = fed.node(BANGTOU);
    let town_clerk = town.clerk(ZHUJIAN);
    let case = town.submit_all(&town_clerk, SHIGONG);
    (case, town_clerk)
}

/// [`accept_at_township`], then the window forwards the case with no target, up to 仙游县, and
/// both show it alike. Returns the case number and the window clerk's token.
#[track_caller]
fn forwarded_by_township(fed: &Federation) -> (String, String) {
    let (case, town_clerk) = accept_at_township(fed);
    let no = s(&case, "case_no").to_string();
    fed.node(BANGTOU).act_ok(&town_clerk, &no, &forward());
    assert_agree(fed, &[BANGTOU, XIANYOU], &no);
    (no, town_clerk)
}

/// A 住建 clerk at 仙游县 takes over case `no`, forwarded up to the county. Returns the case as
/// taken over and the clerk's token.
fn take_over_at_county(fed: &Federation, no: &str) -> (Value, String) {
    let county = fed.node(XIANYOU);
    let county_clerk = county.clerk(ZHUJIAN);
    let case = county.act_ok(&county_clerk, no, &act("take_over"));
    (case, county_clerk)
}

/// 仙游县's clerk sends case `no` back down to 榜头镇 with `action` (a `forward` or a `return`):
/// it is in transit to the township, both show it alike, and the township's clerk takes it
/// over. Returns the case as taken over.
#[track_caller]
fn back_down_to_township(
    fed: &Federation,
    no: &str,
    county_clerk: &str,
    action: &Value,
    town_clerk: &str,
) -> Value {
    let case = fed.node(XIANYOU).act_ok(county_clerk, no, action);
    assert_eq!(s(&case, "state"), "in_transit");
    assert_eq!(s(&case, "forwarded_to"), BANGTOU, "{case}");
    assert_agree(fed, &[BANGTOU, XIANYOU], no);
    fed.node(BANGTOU).act_ok(town_clerk, no, &act("take_over"))
}

// ---------------------------------------------------------------------------------------------

/// 跨层级受理 (就近办): 榜头镇 takes in an application for a county item; `forward` with no
/// target sends it up to 仙游县, which takes it over, reviews it and asks for one more material
/// (补件). The request shows at the township — the case suspended, the material requested —
/// where the applicant brings it; the county's review resumes by itself. The county is
/// SIGKILLed and restarted before it decides: nothing it had acknowledged is lost or doubled.
/// It approves; `forward` with no target sends the decided case back down to the township,
/// which takes it over, issues the licence and delivers it. Township and county show the same
/// timeline, the city's summary follows the case, and the sibling township never sees it.
#[test]
fn a_township_accepts_the_county_decides_and_the_township_delivers() {
    let mut fed = Federation::start(&[
        (CITY, None),
        (XIANYOU, Some(CITY)),
        (BANGTOU, Some(XIANYOU)),
        (JIAOWEI, Some(XIANYOU)),
    ]);
    fed.wait_settled();
    let both = [BANGTOU, XIANYOU];
    let (case, town_clerk) = accept_at_township(&fed);
    let no = s(&case, "case_no").to_string();
    assert_eq!(s(&case, "state"), "accepted", "{case}");
    assert_eq!(s(&case, "accepting_node"), BANGTOU);
    assert_eq!(s(&case, "accepted_on"), TODAY);
    assert_eq!(
        s(&case, "deadline"),
        "2025-10-11",
        "3 working days, 10-11 is 调休"
    );
    assert_eq!(s(&case, "legal_deadline"), "2025-10-28");

    // Up to the deciding level.
    let town = fed.node(BANGTOU);
    let case = town.act_ok(&town_clerk, &no, &forward());
    assert_eq!(s(&case, "state"), "in_transit");
    assert_eq!(s(&case, "forwarded_to"), XIANYOU, "{case}");
    assert_agree(&fed, &both, &no);

    let (case, county_clerk) = take_over_at_county(&fed, &no);
    assert_eq!(
        (s(&case, "state"), s(&case, "owner")),
        ("accepted", XIANYOU)
    );
    let county = fed.node(XIANYOU);
    let case = county.act_ok(&county_clerk, &no, &act("review"));
    assert_eq!(s(&case, "state"), "in_review");

    // 补件: asked for at the county, shown and brought at the township.
    let wanted = "建设工程规划许可证附图";
    let request = json!({"action": "request_supplement", "materials": [wanted],
                         "reason": "规划许可证缺少附图，请补交"});
    let case = county.act_ok(&county_clerk, &no, &request);
    assert_eq!(s(&case, "state"), "suspended", "{case}");
    assert_eq!(case["requested"], json!([wanted]));
    let at_town = assert_agree(&fed, &both, &no);
    assert_eq!(s(&at_town, "state"), "suspended");
    assert_eq!(at_town["requested"], json!([wanted]));
    assert_eq!(s(&at_town, "owner"), XIANYOU);
    assert_city_summary(&fed, &at_town);
    // The window cannot decide for the county meanwhile.
    assert_error(
        &town.act(&town_clerk, &no, &approve("符合条件")),
        409,
        "not_owner",
    );
    let case = town.act_ok(
        &town_clerk,
        &no,
        &json!({"action": "supplement", "materials": [wanted]}),
    );
    assert_eq!(s(&case, "state"), "in_review", "{case}");
    assert_eq!(case["requested"], json!([]));
    let before_crash = assert_agree(&fed, &both, &no);
    assert_eq!(s(&before_crash, "state"), "in_review");
    assert_eq!(s(&before_crash, "owner"), XIANYOU);

    // The deciding county crashes once it has acknowledged everything (every outbox empty),
    // and comes back: it shows at once every event it acknowledged, and after the links are
    // back, the same timeline as the township — nothing lost, nothing doubled.
    // (The township notices the crash only at its link's idle timeout, some 10 s: the longest
    // wait of this file.)
    fed.wait_settled();
    fed.kill9(XIANYOU);
    fed.start_again(XIANYOU);
    let after_crash = fed
        .case_on(XIANYOU, &no)
        .expect("the case survived the crash");
    assert_eq!(
        projection(&after_crash)["events"],
        projection(&before_crash)["events"],
        "the county lost or changed acknowledged events in the crash"
    );
    assert_no_duplicate_events(XIANYOU, &after_crash);
    fed.wait_settled();
    let after_crash = assert_agree(&fed, &both, &no);
    assert_eq!(projection(&after_crash), projection(&before_crash));

    let county = fed.node(XIANYOU);
    let case = county.act_ok(&county_clerk, &no, &approve("符合法定条件，准予许可"));
    assert_eq!(s(&case, "state"), "approved", "{case}");
    assert_eq!(s(&case, "concluded_on"), TODAY);
    // Back down to the window that accepted it.
    let case = back_down_to_township(&fed, &no, &county_clerk, &forward(), &town_clerk);
    assert_eq!(
        (s(&case, "state"), s(&case, "owner")),
        ("approved", BANGTOU),
        "a decided case keeps its result when it comes back down"
    );
    let town = fed.node(BANGTOU);
    let certificate = json!({"action": "certify", "certificate_no": "350322202509300001"});
    town.act_ok(&town_clerk, &no, &certificate);
    let case = town.act_ok(&town_clerk, &no, &act("deliver"));
    assert_eq!(s(&case, "state"), "delivered");

    let view = assert_agree(&fed, &both, &no);
    assert_eq!(
        actions(&view),
        [
            "submit",
            "forward",
            "take_over",
            "review",
            "request_supplement",
            "supplement",
            "decide",
            "forward",
            "take_over",
            "certify",
            "deliver"
        ],
        "{}",
        view["events"]
    );
    assert_eq!(
        origins(&view),
        [
            BANGTOU, BANGTOU, XIANYOU, XIANYOU, XIANYOU, BANGTOU, XIANYOU, XIANYOU, BANGTOU,
            BANGTOU, BANGTOU
        ]
    );
    assert!(
        view["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e.get("rejected").is_none()),
        "{}",
        view["events"]
    );
    assert_eq!(s(&view, "owner"), BANGTOU);
    assert_eq!(s(&view, "certificate_no"), "350322202509300001");
    assert_eq!(s(&view, "concluded_on"), TODAY);
    assert_eq!(s(&view, "reported_on"), TODAY);
    assert_eq!(s(&view, "warning"), "green");
    assert_eq!(view["decision"]["approve"], true);
    let summary = assert_city_summary(&fed, &view);
    assert_eq!(s(&summary, "state"), "delivered");

    fed.wait_settled();
    assert_eq!(
        fed.case_on(JIAOWEI, &no),
        None,
        "the sibling township {JIAOWEI} is not involved but shows {no}"
    );
    fed.assert_no_panic();
}

/// 上报件: 仙游县 accepts an application for a 林木采伐许可证, which the city decides. Its first
/// review (初审) has its own clock of 20 working days, green; the county reviews and forwards
/// it (by default to the city), which stops that clock on the day it was reported. The county's
/// uplink is cut — every datagram dropped — before the forward: the city cannot take the case
/// over until the link heals. Then the city takes it over, decides, and its `forward` sends the
/// result back down to the county, which delivers it. County and city show the same timeline
/// and the city's summary follows.
#[test]
fn a_report_up_item_crosses_a_cut_link_to_the_city_and_back() {
    let mut fed = Federation::start(&[(CITY, None)]);
    let city_quic = fed.node(CITY).quic_port().expect("city QUIC port");
    let relay = UdpRelay::start(format!("127.0.0.1:{city_quic}").parse().expect("address"));
    fed.add_via(XIANYOU, CITY, relay.addr);
    fed.wait_settled();
    let both = [XIANYOU, CITY];

    let county = fed.node(XIANYOU);
    let county_clerk = county.clerk(LINYE);
    let case = county.submit_all(&county_clerk, CAIFA);
    let no = s(&case, "case_no").to_string();
    assert_eq!(s(&case, "kind"), "report_up", "{case}");
    assert_eq!(s(&case, "state"), "accepted");
    assert_eq!(s(&case, "deadline"), "2025-10-21", "10 working days");
    assert_eq!(s(&case, "legal_deadline"), "2025-11-04", "20 working days");
    assert_eq!(
        s(&case, "first_review_due"),
        "2025-11-04",
        "初审: 20 working days"
    );
    assert_eq!(s(&case, "first_review_warning"), "green");
    assert_eq!(case["reported_on"], Value::Null);
    let case = county.act_ok(&county_clerk, &no, &act("review"));
    assert_eq!(s(&case, "state"), "in_review");
    // The city holds the county's events (its off-site backup) before the case is its own,
    // and serves nothing of them (DESIGN.md §8): it knows the case by the county's summary.
    assert_city_summary(&fed, &case);
    assert_eq!(
        fed.case_on(CITY, &no),
        None,
        "the city served its backup copy"
    );

    relay.cut();
    let case = county.act_ok(&county_clerk, &no, &forward());
    assert_eq!(s(&case, "state"), "in_transit");
    assert_eq!(s(&case, "forwarded_to"), CITY, "{case}");
    assert_eq!(s(&case, "reported_on"), TODAY);
    assert_eq!(
        s(&case, "first_review_warning"),
        "green",
        "reported in time"
    );
    // The forward waits in the county's outbox; the city has not seen it.
    let uplink = fed
        .link(XIANYOU, CITY)
        .expect("the county's link to the city");
    assert!(uplink["outbox"].as_u64().unwrap_or(0) > 0, "{uplink}");
    let city = fed.node(CITY);
    let city_clerk = city.clerk(LINYE);
    // Not yet the city's: its backup copy is not served, nor acted on.
    assert_error(
        &city.act(&city_clerk, &no, &act("take_over")),
        404,
        "not_found",
    );
    assert_eq!(
        fed.case_on(CITY, &no),
        None,
        "the city served its backup copy"
    );

    relay.heal();
    assert!(
        wait_until(SETTLE, || fed
            .case_on(CITY, &no)
            .is_some_and(|c| c["state"] == "in_transit")),
        "the forward never reached the city after the link healed:\n{}",
        fed.links_report()
    );
    let case = city.act_ok(&city_clerk, &no, &act("take_over"));
    assert_eq!((s(&case, "state"), s(&case, "owner")), ("accepted", CITY));
    city.act_ok(&city_clerk, &no, &act("review"));
    let case = city.act_ok(&city_clerk, &no, &approve("伐区设计符合规定，准予采伐"));
    assert_eq!(s(&case, "state"), "approved");
    // The city keeps the summary of a case it owns itself, like those of its subtree.
    assert_city_summary(&fed, &case);
    let case = city.act_ok(&city_clerk, &no, &forward());
    assert_eq!(s(&case, "forwarded_to"), XIANYOU, "{case}");
    assert_agree(&fed, &both, &no);

    let case = county.act_ok(&county_clerk, &no, &act("take_over"));
    assert_eq!(
        (s(&case, "state"), s(&case, "owner")),
        ("approved", XIANYOU)
    );
    county.act_ok(&county_clerk, &no, &act("deliver"));

    let view = assert_agree(&fed, &both, &no);
    assert_eq!(
        actions(&view),
        [
            "submit",
            "review",
            "forward",
            "take_over",
            "review",
            "decide",
            "forward",
            "take_over",
            "deliver"
        ],
        "{}",
        view["events"]
    );
    assert_eq!(
        origins(&view),
        [XIANYOU, XIANYOU, XIANYOU, CITY, CITY, CITY, CITY, XIANYOU, XIANYOU]
    );
    assert_eq!(s(&view, "state"), "delivered");
    assert_eq!(s(&view, "reported_on"), TODAY);
    assert_eq!(s(&view, "first_review_due"), "2025-11-04");
    assert_eq!(s(&view, "first_review_warning"), "green");
    assert_eq!(s(&view, "concluded_on"), TODAY);
    assert_city_summary(&fed, &view);
    fed.assert_no_panic();
}

/// 市县联动联审: 仙游县 leads a 建设工程竣工联合验收 and opens a joint review with three seats at
/// three nodes — the city's 自然资源和规划局, its own 人民防空办公室 and 城厢区's 城市管理局 — to
/// answer within 2 working days. Each answers from its own node; the 人防 office disagrees;
/// 城厢区 says nothing. Three weeks later (every node restarted with its clock moved on) the
/// owner and the late participant both show that seat red (and the review red) while the seats
/// that answered in time stay green. 城厢区 answers at last; approving over the disagreement
/// needs an override reason, and the decision reaches every participant. All four views —
/// owner and participants — show the same timeline.
#[test]
fn a_joint_review_across_levels_with_a_late_participant() {
    let mut fed = Federation::start(&[
        (CITY, None),
        (XIANYOU, Some(CITY)),
        (CHENGXIANG, Some(CITY)),
    ]);
    fed.wait_settled();
    let all = [XIANYOU, CITY, CHENGXIANG];
    let county = fed.node(XIANYOU);
    let lead = county.clerk(ZHUJIAN);
    let case = county.submit_all(&lead, YANSHOU);
    let no = s(&case, "case_no").to_string();
    assert_eq!(s(&case, "kind"), "joint", "{case}");
    assert_eq!(s(&case, "deadline"), "2025-10-16", "7 working days");
    county.act_ok(&lead, &no, &act("review"));
    let seats = json!([
        {"node": CITY, "department": ZIRAN},
        {"node": XIANYOU, "department": RENFANG},
        {"node": CHENGXIANG, "department": CHENGGUAN},
    ]);
    let open = json!({"action": "open_joint_review", "participants": seats, "feedback_days": 2});
    let case = county.act_ok(&lead, &no, &open);
    assert_eq!(s(&case, "state"), "joint_review");
    assert_eq!(s(&case, "feedback_due"), "2025-10-10", "2 working days");
    assert_eq!(s(&case, "feedback_warning"), "green");

    // Every participant node receives the case, its history included.
    let view = assert_agree(&fed, &all, &no);
    assert_eq!(actions(&view), ["submit", "review", "open_joint_review"]);

    // Each seat answers from its own node, with a clerk of its department.
    let city = fed.node(CITY);
    let city_clerk = city.clerk(ZIRAN);
    let agree = json!({"action": "opinion", "agree": true, "comment": "符合规划条件核实要求"});
    city.act_ok(&city_clerk, &no, &agree);
    let renfang = county.clerk(RENFANG);
    let dissent = json!({"action": "opinion", "agree": false, "comment": "人防工程竣工资料不全"});
    county.act_ok(&renfang, &no, &dissent);
    // A department without a seat is refused at a participant node.
    let chengxiang = fed.node(CHENGXIANG);
    let outsider = chengxiang.clerk(LINYE);
    assert_error(
        &chengxiang.act(&outsider, &no, &agree),
        403,
        "not_authorised",
    );
    // Nobody decides while a seat is still waiting.
    let decide = json!({"action": "decide", "approve": true, "reason": "联合验收合格"});
    assert_error(&county.act(&lead, &no, &decide), 422, "invalid_action");
    let view = assert_agree(&fed, &all, &no);
    let feedback = |v: &Value| -> Vec<String> {
        v["participants"]
            .as_array()
            .expect("participants")
            .iter()
            .map(|p| s(p, "feedback").to_string())
            .collect()
    };
    assert_eq!(feedback(&view), ["green", "green", "green"], "{view}");

    // Three weeks on: every node restarted with its clock moved forward.
    fed.stop_all();
    for name in [CITY, XIANYOU, CHENGXIANG] {
        fed.start_at(name, LATER);
    }
    fed.wait_settled();
    for node in [XIANYOU, CHENGXIANG] {
        let late = fed.case_on(node, &no).expect("the case");
        assert_eq!(
            feedback(&late),
            ["green", "green", "red"],
            "{node}: the seats that answered on time are green, the silent one red: {}",
            late["participants"]
        );
        assert_eq!(s(&late, "feedback_warning"), "red", "{node}");
        assert_eq!(
            s(&late, "warning"),
            "red",
            "{node}: past its promised deadline"
        );
    }
    assert_agree(&fed, &all, &no);

    // 城厢区 answers late; that stays on the record.
    let chengxiang = fed.node(CHENGXIANG);
    let chengguan = chengxiang.clerk(CHENGGUAN);
    let late_yes = json!({"action": "opinion", "agree": true, "comment": "无违法建设，同意"});
    chengxiang.act_ok(&chengguan, &no, &late_yes);
    assert!(
        wait_until(SETTLE, || fed
            .case_on(XIANYOU, &no)
            .is_some_and(|c| actions(&c).len() == 6)),
        "the late opinion never reached the owner:\n{}",
        fed.links_report()
    );
    // A disagreement is overridden only on the record.
    let county = fed.node(XIANYOU);
    let message = assert_error(&county.act(&lead, &no, &decide), 422, "invalid_action");
    assert!(message.contains("override_reason"), "{message}");
    let overridden = json!({"action": "decide", "approve": true, "reason": "联合验收合格",
                            "override_reason": "人防资料已现场核验，经联席会议研究同意"});
    let case = county.act_ok(&lead, &no, &overridden);
    assert_eq!(s(&case, "state"), "approved");
    assert_eq!(s(&case, "concluded_on"), "2025-10-20");

    let view = assert_agree(&fed, &all, &no);
    assert_eq!(
        actions(&view),
        [
            "submit",
            "review",
            "open_joint_review",
            "opinion",
            "opinion",
            "opinion",
            "decide"
        ],
        "{}",
        view["events"]
    );
    assert_eq!(
        origins(&view),
        [XIANYOU, XIANYOU, XIANYOU, CITY, XIANYOU, CHENGXIANG, XIANYOU]
    );
    assert_eq!(feedback(&view), ["green", "green", "red"]);
    assert_eq!(s(&view, "feedback_warning"), "red");
    let opinions: Vec<(String, Value)> = view["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (s(p, "node").to_string(), p["opinion"]["agree"].clone()))
        .collect();
    assert_eq!(
        opinions,
        [
            (CITY.to_string(), json!(true)),
            (XIANYOU.to_string(), json!(false)),
            (CHENGXIANG.to_string(), json!(true)),
        ]
    );
    for node in all {
        let there = fed.case_on(node, &no).unwrap();
        assert_eq!(
            s(&there["decision"], "override_reason"),
            "人防资料已现场核验，经联席会议研究同意",
            "{node}"
        );
    }
    assert_city_summary(&fed, &view);
    fed.assert_no_panic();
}

/// 退回: 榜头镇 forwards a case to 仙游县, which takes it over and returns it with a reason; the
/// township takes it back and the case is `accepted` at the township again, its own to work on,
/// while the county may no longer act on it. Both show the same timeline; the city's summary
/// follows.
#[test]
fn a_county_returns_a_forwarded_case_to_the_township() {
    let fed = Federation::start(&[
        (CITY, None),
        (XIANYOU, Some(CITY)),
        (BANGTOU, Some(XIANYOU)),
    ]);
    fed.wait_settled();
    let both = [BANGTOU, XIANYOU];
    let (no, town_clerk) = forwarded_by_township(&fed);

    let (_, county_clerk) = take_over_at_county(&fed, &no);
    let back = json!({"action": "return", "reason": "施工合同签章不全，退回乡镇窗口核实"});
    let case = back_down_to_township(&fed, &no, &county_clerk, &back, &town_clerk);
    assert_eq!(
        (s(&case, "state"), s(&case, "owner")),
        ("accepted", BANGTOU)
    );
    let view = assert_agree(&fed, &both, &no);
    // Once the county knows, it may no longer act on the case.
    let county = fed.node(XIANYOU);
    assert_error(
        &county.act(&county_clerk, &no, &act("review")),
        409,
        "not_owner",
    );
    assert_eq!(
        actions(&view),
        ["submit", "forward", "take_over", "return", "take_over"]
    );
    assert_eq!(
        origins(&view),
        [BANGTOU, BANGTOU, XIANYOU, XIANYOU, BANGTOU]
    );
    assert_eq!(s(&view, "state"), "accepted");
    assert_eq!(s(&view, "owner"), BANGTOU);
    assert_eq!(s(&view, "accepting_node"), BANGTOU);
    assert_eq!(view["concluded_on"], Value::Null);
    assert_city_summary(&fed, &view);
    fed.assert_no_panic();
}

/// Which of the racing events is made first (in real time).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum First {
    Withdraw,
    Decide,
}

/// A withdrawal at 榜头镇's window races a decision at 仙游县, the owner, with the township's
/// uplink cut so that neither node sees the other's event until it heals; both are accepted
/// where they are made. The nodes' clocks are arranged so that the event made `first` also
/// comes first in fold order (hlc, origin, seq). After the link heals: both nodes show the
/// same timeline, the first event holds and the other is kept, marked rejected with a reason,
/// the state is the winner's, and the city's summary shows that state.
fn race(first: First) {
    let mut fed = Federation::start(&[(CITY, None), (XIANYOU, Some(CITY))]);
    let county_quic = fed.node(XIANYOU).quic_port().expect("county QUIC port");
    let relay = UdpRelay::start(format!("127.0.0.1:{county_quic}").parse().expect("address"));
    fed.add_via(BANGTOU, XIANYOU, relay.addr);
    if first == First::Decide {
        // Started after the county with the same --clock, the township's clock is behind the
        // county's (by the fraction of a second between the two starts); restarted, it is a
        // minute ahead — so the decision, made first, also has the smaller hlc.
        fed.stop(BANGTOU);
        fed.start_again(BANGTOU);
    }
    fed.wait_settled();
    let both = [BANGTOU, XIANYOU];
    let (no, town_clerk) = forwarded_by_township(&fed);
    let (_, county_clerk) = take_over_at_county(&fed, &no);
    let (town, county) = (fed.node(BANGTOU), fed.node(XIANYOU));
    county.act_ok(&county_clerk, &no, &act("review"));
    assert_agree(&fed, &both, &no);

    relay.cut();
    let withdraw = || {
        let case = town.act_ok(&town_clerk, &no, &act("withdraw"));
        assert_eq!(s(&case, "state"), "withdrawn", "at the township: {case}");
    };
    let decide = || {
        let case = county.act_ok(&county_clerk, &no, &approve("符合法定条件"));
        assert_eq!(s(&case, "state"), "approved", "at the county: {case}");
    };
    let (winner, loser, state) = match first {
        First::Withdraw => {
            withdraw();
            decide();
            ("withdraw", "decide", "withdrawn")
        }
        First::Decide => {
            decide();
            withdraw();
            ("decide", "withdraw", "approved")
        }
    };
    relay.heal();

    let view = assert_agree(&fed, &both, &no);
    assert_eq!(
        actions(&view),
        ["submit", "forward", "take_over", "review", winner, loser],
        "{}",
        view["events"]
    );
    let list = view["events"].as_array().unwrap();
    let rejected: Vec<bool> = list.iter().map(|e| e.get("rejected").is_some()).collect();
    assert_eq!(
        rejected,
        [false, false, false, false, false, true],
        "exactly the {loser}, later in fold order, is rejected: {}",
        view["events"]
    );
    assert!(
        !s(&list[5], "rejected").trim().is_empty(),
        "a rejection says why: {}",
        list[5]
    );
    assert!(s(&list[4], "at") <= s(&list[5], "at"), "{}", view["events"]);
    assert_eq!(s(&view, "state"), state);
    assert_eq!(s(&view, "owner"), XIANYOU);
    match first {
        First::Withdraw => {
            assert_eq!(view["concluded_on"], Value::Null);
            assert_eq!(view["decision"], Value::Null);
        }
        First::Decide => {
            assert_eq!(s(&view, "concluded_on"), TODAY);
            assert_eq!(view["decision"]["approve"], true);
        }
    }
    let summary = assert_city_summary(&fed, &view);
    assert_eq!(s(&summary, "state"), state);
    fed.assert_no_panic();
}

/// [`race`]: the withdrawal at the window, made first, holds; the county's decision is
/// rejected on both nodes, and the city's summary — which had the case approved while the link
/// was cut — comes to show it withdrawn.
#[test]
fn a_withdrawal_at_the_window_made_first_wins_over_a_decision_upstream() {
    race(First::Withdraw);
}

/// [`race`]: the county's decision, made first, holds; the withdrawal recorded at the window is
/// rejected on both nodes, and the township's view, withdrawn while the link was cut, comes to
/// show the case approved.
#[test]
fn a_decision_upstream_made_first_wins_over_a_withdrawal_at_the_window() {
    race(First::Decide);
}
