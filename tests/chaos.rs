//! Fault tests of the federation (DESIGN.md §3–§5): real `liandong` processes of 莆田市 under a
//! load of case actions while nodes are SIGKILLed, links cut, a node kept down for a long
//! while, everything restarted at once and clocks moved — then the invariants of replication
//! are checked through the HTTP API. The harness is `support/chaos.rs`; `scripts/chaos.sh`
//! runs the long version.
//!
//! Divisions are real ones, from `../shared/data/divisions_putian.csv`.

mod support;

#[path = "support/chaos.rs"]
mod chaos;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chaos::*;
use serde_json::{json, Value};
use support::federation::{wait_until, Federation, RaiseOnPanic, SETTLE};
use support::{events, s};

/// The chaos run. A federation of 莆田市 — the city, 仙游县 (its uplink through a relay) with
/// 枫亭镇 (through a relay) and 榜头镇, 城厢区 with 龙桥街道 (through a relay) — takes a load of
/// case actions from several client threads at every level: 生育登记 decided at a township's
/// window (some first awaiting a material), 施工许可 accepted at a township and forwarded to
/// its county, 竣工联合验收 with a 市县联动联审 seat at the city, 林木采伐 上报件 from a county or
/// straight from a township to the city, withdrawals at the window racing the owners. Only 2xx
/// answers count as acknowledged; the clients retry while a node is down and take a 4xx as
/// "not done".
///
/// Meanwhile a seeded RNG (`LIANDONG_CHAOS_SEED`, printed) injects faults: SIGKILL and restart
/// of a node of any level, a cut of a relayed link then its healing, a node kept down a long
/// while (a backlog for it builds up), a SIGKILL of every node then a restart of all, and a
/// restart with the clock jumped forward.
///
/// Then everything is healed and restarted, the links settle, and at every node: every
/// acknowledged event is there exactly once, at its origin and at every node involved in its
/// case; no case lists an event twice; every involved node shows the same timeline (rejected
/// marks included), state and owner; the city's summary of each case has the owner's state and
/// owner; each node's own events are numbered 1..n without a gap; nobody panicked.
///
/// `LIANDONG_CHAOS_SECONDS` (default 20) and `LIANDONG_CHAOS_CLIENTS` (default 4) size the run.
#[test]
fn chaos_loses_doubles_and_splits_nothing() {
    let params = Params::from_env();
    eprintln!(
        "chaos: seed {} (LIANDONG_CHAOS_SEED={} repeats the choices), {:?} of load, {} clients",
        params.seed, params.seed, params.load, params.clients
    );
    let began = Instant::now();
    let mut rng = Rng::new(params.seed);
    let mut chaos = Chaos::start(rng.fork());
    chaos.wait_settled(SETTLE);
    let load = Load::new(&chaos.fed);

    let load_began = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..params.clients {
            let (load, rng) = (&load, rng.fork());
            scope.spawn(move || {
                // A panicking client stops the faults and the other clients at once.
                let _flag = RaiseOnPanic(&load.stop);
                load.client(rng, params.clients);
            });
        }
        // If the fault thread panics (a node that does not come back), the clients stop.
        let _stop = RaiseOnPanic(&load.stop);
        chaos.run_faults(params.load, &load.stop);
        load.stop.store(true, Ordering::SeqCst);
    });
    let loaded = load_began.elapsed();

    chaos.heal_all();
    let patience = Duration::from_secs(60) + params.load / 2;
    let settled_in = chaos.wait_settled(patience);
    let acks = load.acks();
    let mut verdict = verify(&chaos.fed, &acks);
    // Settled links deliver everything; a last look a moment later is only for a summary
    // refreshed by a clock sweep.
    if !verdict.clean() {
        wait_until(SETTLE, || {
            verdict = verify(&chaos.fed, &acks);
            verdict.clean()
        });
    }
    let report = Report {
        params,
        faults: chaos.faults,
        loaded,
        settled_in,
        total: began.elapsed(),
        acks: &acks,
        verdict: &verdict,
        answers: load.answers_report(),
    };
    println!("{}", report.table());
    chaos.fed.assert_no_panic();
    assert!(
        verdict.clean(),
        "the chaos run (seed {}) broke invariants:\n{}\nfaults:\n{}\nlinks:\n{}",
        params.seed,
        verdict.findings(),
        chaos.log.join("\n"),
        chaos.fed.links_report()
    );
    assert!(
        acks.len() >= 20,
        "only {} actions were acknowledged: the load did not run",
        acks.len()
    );
}

/// A clock set back. 枫亭镇's clock jumps forward to 2025-10-09 (after the National Day
/// holidays) and it accepts a case there; then it is SIGKILLed and restarted with its clock
/// back at 2025-09-30 — what the harness's own `start_at` refuses, done here on purpose.
/// Its persisted hybrid clock does not go back: the next events sort after the earlier ones
/// (their time stays at the latest instant reached, counter rising), its sequence goes on
/// without a gap, the next case number continues 2025-10-09's numbering instead of reusing
/// 2025-09-30's, and 仙游县 shows the same timelines.
#[test]
fn a_clock_set_back_keeps_the_events_in_order() {
    let mut fed = Federation::start(&[
        (CITY, None),
        (XIANYOU, Some(CITY)),
        (FENGTING, Some(XIANYOU)),
    ]);
    fed.wait_settled();
    // 09-30: one case, so that day's numbering is in use.
    let town = fed.node(FENGTING);
    let admin = town.admin_token();
    let early = town.submit_all(&admin, SHIGONG);
    assert_eq!(s(&early, "case_no"), format!("{FENGTING}-20250930-000001"));

    // Forward to 10-09 10:00: a case accepted there, forwarded up.
    fed.kill9(FENGTING);
    fed.start_at(FENGTING, "2025-10-09T10:00");
    let town = fed.node(FENGTING);
    let later = town.submit_all(&admin, SHIGONG);
    let later_no = s(&later, "case_no").to_string();
    assert_eq!(later_no, format!("{FENGTING}-20251009-000001"));
    let later = town.act_ok(&admin, &later_no, &json!({"action": "forward"}));
    let before: Vec<Value> = later["events"].as_array().unwrap().clone();
    let last_at = s(before.last().unwrap(), "at").to_string();
    assert!(last_at.starts_with("2025-10-09T10:"), "{last_at}");

    // Back to 09-30 09:30: the hybrid clock persisted on disk stays where it was.
    fed.kill9(FENGTING);
    fed.node_mut(FENGTING).start_again(Some("2025-09-30T09:30"));
    let town = fed.node(FENGTING);
    let clock_now = node_clock(&fed, FENGTING);
    assert!(
        clock_now.starts_with("2025-09-30T09:3"),
        "{clock_now}: the wall clock was set back"
    );
    let third = town.submit_all(&admin, SHIGONG);
    let third_no = s(&third, "case_no").to_string();
    let withdrawn = town.act_ok(&admin, &later_no, &json!({"action": "withdraw"}));

    // Sequence numbers: 1..5 in authoring order, no gap, none reused.
    let own: Vec<(u64, String)> = [&early, &withdrawn, &third]
        .iter()
        .flat_map(|c| events(c))
        .filter(|(o, _, _)| o == FENGTING)
        .map(|(_, seq, a)| (seq, a))
        .collect();
    let mut seqs: Vec<u64> = own.iter().map(|(q, _)| *q).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, [1, 2, 3, 4, 5], "{own:?}");
    // The events after the clock went back sort after those before it, and their time did
    // not go back.
    let timeline = withdrawn["events"].as_array().unwrap();
    let actions: Vec<&str> = timeline.iter().map(|e| s(e, "action")).collect();
    assert_eq!(actions, ["submit", "forward", "withdraw"], "{withdrawn}");
    let ats: Vec<&str> = timeline.iter().map(|e| s(e, "at")).collect();
    assert!(
        ats.windows(2).all(|w| w[0] <= w[1]),
        "event times went back: {ats:?}"
    );
    assert!(ats[2] >= last_at.as_str(), "{ats:?} vs {last_at}");
    assert_eq!(s(&withdrawn, "state"), "withdrawn");
    // The third case is numbered on the hybrid clock's day, after 10-09's first.
    assert_eq!(third_no, format!("{FENGTING}-20251009-000002"));
    let third_at = s(&third["events"][0], "at");
    assert!(third_at >= last_at.as_str(), "{third_at} vs {last_at}");

    // The county shows the same timeline of the forwarded case.
    let county_agrees = wait_until(SETTLE, || {
        fed.case_on(XIANYOU, &later_no)
            .is_some_and(|c| projection(&c) == projection(&withdrawn))
    });
    assert!(
        county_agrees,
        "仙游县 shows {:?}, 枫亭镇 {}",
        fed.case_on(XIANYOU, &later_no).map(|c| projection(&c)),
        projection(&withdrawn)
    );
    fed.wait_settled();
    fed.assert_no_panic();
}

/// The race the chaos run found, pinned down. 枫亭镇 (its uplink through a relay) accepts a
/// 竣工联合验收 and forwards it to 仙游县, which takes it over. The uplink is cut; the applicant
/// withdraws at the township's window, and meanwhile the county — which has not heard of it —
/// opens a 市县联动联审 with a seat at the city, so the city gets the case's history from the
/// county. When the link heals the withdrawal (earlier in fold order) reaches the county, which
/// rejects its own joint review on refold.
///
/// - The township addressed the withdrawal only to the nodes it knew were involved (itself and
///   the county): the county must pass it on to the city, which the review had involved — else
///   the city keeps an open review waiting for its opinion (and, involved, serves the case so)
///   while the others show the case withdrawn. Township and county end with the same timeline;
///   the city, dropped from the case, holds it only as the county's backup copy and does not
///   serve it (DESIGN.md §8).
/// - Had the city already given its opinion in the review, that opinion — acknowledged to its
///   reviewer — is rejected on refold with the review, but the city authored it: it keeps
///   serving the case, with the same timeline as the others (the chaos run's seed 344864129
///   found it hidden, the reviewer's own acknowledged opinion gone from the city's API).
/// - The city's clock runs three hours ahead (restarted with `--clock` 12:00, and it accepted a
///   case of its own since), so the summaries it wrote of the case while it held a seat are
///   dated later than anything the township writes. Dropped from the case, the city must still
///   end with the owner's summary — withdrawn — not its own last one (joint review).
#[test]
fn a_withdrawal_racing_a_joint_review_reaches_the_city_and_its_summary() {
    withdrawal_racing_a_joint_review(false);
}

/// The same race with the city's opinion given before the withdrawal arrives: see
/// [`a_withdrawal_racing_a_joint_review_reaches_the_city_and_its_summary`].
#[test]
fn a_city_that_gave_its_opinion_keeps_serving_the_withdrawn_case() {
    withdrawal_racing_a_joint_review(true);
}

fn withdrawal_racing_a_joint_review(city_opines: bool) {
    let mut fed = Federation::start(&[(CITY, None)]);
    fed.stop(CITY);
    fed.start_at(CITY, "2025-09-30T12:00");
    let city = fed.node(CITY);
    city.submit_all(&city.admin_token(), CAIFA);
    fed.add(XIANYOU, Some(CITY));
    let county_quic = fed.node(XIANYOU).quic_port().expect("the county listens");
    let relay =
        support::federation::UdpRelay::start(format!("127.0.0.1:{county_quic}").parse().unwrap());
    fed.add_via(FENGTING, XIANYOU, relay.addr);
    fed.wait_settled();
    let town = fed.node(FENGTING);
    let town_admin = town.admin_token();
    let case = town.submit_all(&town_admin, YANSHOU);
    let no = s(&case, "case_no").to_string();
    town.act_ok(&town_admin, &no, &json!({"action": "forward"}));
    let county = fed.node(XIANYOU);
    let county_admin = county.admin_token();
    assert!(
        wait_until(SETTLE, || county
            .act(&county_admin, &no, &json!({"action": "take_over"}))
            .0
            == 200),
        "the county never took the case over: {:?}",
        fed.case_on(XIANYOU, &no)
    );
    fed.wait_settled();

    // The window and the county act at once, each unaware of the other.
    relay.cut();
    let town = fed.node(FENGTING);
    let withdrawn = town.act_ok(&town_admin, &no, &json!({"action": "withdraw"}));
    assert_eq!(s(&withdrawn, "state"), "withdrawn");
    let seats = json!([{"node": CITY, "department": "自然资源和规划局"},
                       {"node": XIANYOU, "department": "人民防空办公室"}]);
    let review = json!({"action": "open_joint_review", "participants": seats, "feedback_days": 3});
    let opened = fed.node(XIANYOU).act_ok(&county_admin, &no, &review);
    assert_eq!(s(&opened, "state"), "joint_review");
    // The city learns of the case from the county, review open, and summarises it so.
    assert!(
        wait_until(SETTLE, || fed
            .case_on(CITY, &no)
            .is_some_and(|c| s(&c, "state") == "joint_review")),
        "the city never saw the joint review: {:?}",
        fed.case_on(CITY, &no)
    );
    if city_opines {
        let city = fed.node(CITY);
        let reviewer = city.clerk("自然资源和规划局");
        let opinion = json!({"action": "opinion", "agree": true, "comment": "同意"});
        city.act_ok(&reviewer, &no, &opinion);
    }
    relay.heal();

    // Township and county agree. The city, dropped from the case, no longer serves it when it
    // never acted on it: it is only the county's backup copy there (DESIGN.md §8). Had the
    // withdrawal not reached it, its fold would still hold its seat in an open review —
    // involved, and served. When it gave its opinion, it serves the case with the same timeline.
    let nodes = [FENGTING, XIANYOU];
    let mut views: Vec<Option<Value>> = Vec::new();
    let mut at_city = None;
    let agreed = wait_until(SETTLE, || {
        views = nodes.iter().map(|n| fed.case_on(n, &no)).collect();
        at_city = fed.case_on(CITY, &no);
        let p: Vec<Option<Value>> = views.iter().map(|v| v.as_ref().map(projection)).collect();
        let city_right = match &at_city {
            None => !city_opines,
            Some(c) => city_opines && Some(projection(c)) == p[0],
        };
        p.iter().all(Option::is_some) && p.windows(2).all(|w| w[0] == w[1]) && city_right
    });
    assert!(
        agreed,
        "{nodes:?} never agreed on {no} (the city opined: {city_opines}):\n{}city: {:?}",
        nodes
            .iter()
            .zip(&views)
            .map(|(n, v)| format!("{n}: {:?}\n", v.as_ref().map(projection)))
            .collect::<String>(),
        at_city.as_ref().map(projection)
    );
    let at_county = views[1].clone().unwrap();
    assert_eq!(s(&at_county, "state"), "withdrawn", "{at_county}");
    let rejected: Vec<&str> = at_county["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["rejected"].is_null())
        .map(|e| s(e, "action"))
        .collect();
    let expected: &[&str] = if city_opines {
        &["open_joint_review", "opinion"]
    } else {
        &["open_joint_review"]
    };
    assert_eq!(rejected, expected, "{at_county}");

    // Everything delivered: the city's summary is the owner's.
    fed.wait_settled();
    let city = fed.node(CITY);
    let (status, body) = city.get("/api/v1/summaries", &city.admin_token());
    assert_eq!(status, 200, "{body}");
    let summary = body["summaries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["case_no"] == no.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("the city holds no summary of {no}: {body}"));
    assert_eq!(
        (s(&summary, "state"), s(&summary, "owner")),
        ("withdrawn", s(&at_county, "owner")),
        "the city's summary of {no}: {summary}"
    );
    fed.assert_no_panic();
}
