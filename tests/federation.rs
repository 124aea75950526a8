//! The federation through real `liandong` processes on loopback (DESIGN.md §2, §4, §8): a
//! federation CA, nodes of 莆田市 linked child → parent over QUIC with mutual TLS, and case
//! events replicated hop by hop to exactly the nodes involved in the case. Nodes are killed,
//! restarted, lose their disk and are impersonated; the tests read only the HTTP API, the
//! nodes' logs and the bytes of stopped nodes' stores.
//!
//! Townships and districts are real ones, from `../shared/data/divisions_putian.csv`.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::federation::{wait_until, Federation, RaiseOnPanic, UdpRelay, SETTLE};
use support::*;

/// 莆田市.
const CITY: &str = "350300";
/// 城厢区.
const CHENGXIANG: &str = "350302";
/// 城厢区 龙桥街道, 凤凰山街道.
const LONGQIAO: &str = "350302001";
const FENGHUANGSHAN: &str = "350302002";
/// 仙游县.
const XIANYOU: &str = "350322";
/// 仙游县 枫亭镇, 榜头镇.
const FENGTING: &str = "350322100";
const BANGTOU: &str = "350322101";

/// 建筑工程施工许可证核发 (住房和城乡建设局): a 承诺 item decided by the county.
const SHIGONG: &str = "000172005000";
/// 生育登记 (卫生健康办公室): a 即办 item decided at the township's window.
const SHENGYU: &str = "000152043000";

/// The city, both districts and two townships of each.
const TWO_DISTRICTS: &[(&str, Option<&str>)] = &[
    (CITY, None),
    (CHENGXIANG, Some(CITY)),
    (XIANYOU, Some(CITY)),
    (LONGQIAO, Some(CHENGXIANG)),
    (FENGHUANGSHAN, Some(CHENGXIANG)),
    (FENGTING, Some(XIANYOU)),
    (BANGTOU, Some(XIANYOU)),
];

/// City, 仙游县 and 枫亭镇.
const ONE_LINE: &[(&str, Option<&str>)] = &[
    (CITY, None),
    (XIANYOU, Some(CITY)),
    (FENGTING, Some(XIANYOU)),
];

fn forward() -> Value {
    json!({"action": "forward"})
}

/// The `events` of a case view (origin, seq, action, actor, time, rejection).
fn event_list(case: &Value) -> Value {
    case["events"].clone()
}

/// Waits until `name` shows the case with exactly the events of `case` (a view from another
/// node); fails the test with every link after [`SETTLE`].
#[track_caller]
fn wait_for_events(fed: &Federation, name: &str, case: &Value) {
    let no = s(case, "case_no");
    assert!(
        wait_until(SETTLE, || fed
            .case_on(name, no)
            .is_some_and(|c| event_list(&c) == event_list(case))),
        "{name} never showed {no} with the events {}: it shows {:?}\n{}",
        event_list(case),
        fed.case_on(name, no).map(|c| event_list(&c)),
        fed.links_report()
    );
}

/// `GET /api/v1/cases` on a node, without the default limit: case number → view.
fn all_cases(node: &Node) -> BTreeMap<String, Value> {
    node.cases("limit=1000000")
        .into_iter()
        .map(|c| (s(&c, "case_no").to_string(), c))
        .collect()
}

/// Log lines of `name` that contain every one of `words` (case-insensitive).
fn log_lines_with(fed: &Federation, name: &str, words: &[&str]) -> Vec<String> {
    fed.log_lines(name, |l| {
        let l = l.to_lowercase();
        words.iter().all(|w| l.contains(&w.to_lowercase()))
    })
}

// ---------------------------------------------------------------------------------------------

/// A township of 仙游县 accepts a county item and forwards it; the county takes it over,
/// reviews and decides. The case's events reach the township and the county, and nowhere else:
/// not the city (the township → county forward is one hop), not the sibling township, not the
/// other district or its townships — neither through the API nor as a byte of the applicant's
/// ID in their stores (DESIGN.md §8: identity never leaves the nodes involved).
#[test]
fn events_reach_exactly_the_involved_nodes() {
    let mut fed = Federation::start(TWO_DISTRICTS);
    fed.wait_settled();
    let town = fed.node(FENGTING);
    let clerk = town.clerk(ZHUJIAN);
    let applicant = person();
    let id = s(&applicant, "id").to_string();
    let body = json!({"item": SHIGONG, "applicant": applicant, "materials": town.materials(SHIGONG, false)});
    let (status, case) = town.post("/api/v1/cases", &clerk, &body);
    assert_eq!(status, 201, "{case}");
    let no = s(&case, "case_no").to_string();
    assert_eq!(s(&case, "state"), "accepted");
    assert_eq!(s(&case, "owner"), FENGTING);
    let case = town.act_ok(&clerk, &no, &forward());
    assert_eq!(s(&case, "state"), "in_transit");
    assert_eq!(
        s(&case, "forwarded_to"),
        XIANYOU,
        "forward defaults to the deciding level"
    );

    // The county receives it and takes it over; then it is the county's to decide.
    wait_for_events(&fed, XIANYOU, &case);
    let county = fed.node(XIANYOU);
    let admin = county.admin_token();
    let case = county.act_ok(&admin, &no, &json!({"action": "take_over"}));
    assert_eq!(s(&case, "owner"), XIANYOU);
    county.act_ok(&admin, &no, &json!({"action": "review"}));
    let decided = county.act_ok(
        &admin,
        &no,
        &json!({"action": "decide", "approve": true, "reason": "符合法定条件"}),
    );
    assert_eq!(s(&decided, "state"), "approved");
    assert_eq!(
        actions(&decided),
        ["submit", "forward", "take_over", "review", "decide"],
        "the county's view shows the full history"
    );
    let origins: Vec<String> = events(&decided).into_iter().map(|(o, _, _)| o).collect();
    assert_eq!(
        origins,
        [FENGTING, FENGTING, XIANYOU, XIANYOU, XIANYOU],
        "{decided}"
    );
    assert!(
        decided["applicant"].to_string().contains(&id),
        "the county is involved and sees the applicant: {decided}"
    );

    // The township's view converges to the county's.
    wait_for_events(&fed, FENGTING, &decided);
    let at_town = fed.case_on(FENGTING, &no).unwrap();
    assert_eq!(s(&at_town, "state"), "approved");
    assert_eq!(s(&at_town, "owner"), XIANYOU);

    // Once nothing is in flight anywhere, the uninvolved nodes have nothing of the case.
    fed.wait_settled();
    let uninvolved = [CITY, CHENGXIANG, LONGQIAO, FENGHUANGSHAN, BANGTOU];
    for code in uninvolved {
        assert_eq!(
            fed.case_on(code, &no),
            None,
            "{code} is not involved in {no} but shows it"
        );
    }
    fed.assert_no_panic();
    fed.stop_all();
    for code in uninvolved {
        assert!(
            !fed.store_contains_bytes(code, id.as_bytes()),
            "the applicant's ID {id} is in the store of {code}, which is not involved"
        );
    }
    for code in [FENGTING, XIANYOU] {
        assert!(
            fed.store_contains_bytes(code, id.as_bytes()),
            "{code} is involved but its store lacks the applicant's ID (is the scan blind?)"
        );
    }
}

/// `GET /api/v1/links`: a county shows its parent and both its children connected; the
/// outboxes drain to 0 after the township writes; a stopped county shows as disconnected on
/// its child and reconnects when it is back (on its pinned port).
#[test]
fn links_show_connected_peers() {
    let mut fed = Federation::start(&[
        (CITY, None),
        (XIANYOU, Some(CITY)),
        (FENGTING, Some(XIANYOU)),
        (BANGTOU, Some(XIANYOU)),
    ]);
    let expected = [
        (XIANYOU, CITY, "parent"),
        (XIANYOU, FENGTING, "child"),
        (XIANYOU, BANGTOU, "child"),
        (CITY, XIANYOU, "child"),
        (FENGTING, XIANYOU, "parent"),
        (BANGTOU, XIANYOU, "parent"),
    ];
    assert!(
        wait_until(SETTLE, || expected
            .iter()
            .all(|(node, peer, _)| fed.connected(node, peer))),
        "not every link came up:\n{}",
        fed.links_report()
    );
    for (node, peer, role) in expected {
        let link = fed.link(node, peer).unwrap();
        assert_eq!(link["role"], role, "{node} → {peer}: {link}");
        assert!(link["outbox"].is_u64(), "{link}");
        assert!(link["last_ack"].is_u64(), "{link}");
    }
    assert_eq!(
        fed.links(FENGTING).len(),
        1,
        "a township without children has one link"
    );

    // Activity: three cases forwarded to the county; every outbox drains.
    let town = fed.node(FENGTING);
    let admin = town.admin_token();
    let mut nos = Vec::new();
    for _ in 0..3 {
        let case = town.submit_all(&admin, SHIGONG);
        let no = s(&case, "case_no").to_string();
        town.act_ok(&admin, &no, &forward());
        nos.push(no);
    }
    fed.wait_settled();
    let up = fed.link(FENGTING, XIANYOU).unwrap();
    assert_eq!(up["outbox"], 0, "{up}");
    assert!(
        up["last_ack"].as_u64().unwrap() >= 1,
        "the county acknowledged what the township sent: {up}"
    );
    for no in &nos {
        assert!(fed.case_on(XIANYOU, no).is_some(), "{no} not at the county");
    }

    // The county goes away and comes back.
    fed.stop(XIANYOU);
    assert!(
        wait_until(SETTLE, || !fed.connected(FENGTING, XIANYOU)),
        "the township still shows its stopped parent connected: {:?}",
        fed.link(FENGTING, XIANYOU)
    );
    fed.start_again(XIANYOU);
    assert!(
        wait_until(SETTLE, || fed.connected(FENGTING, XIANYOU)
            && fed.connected(XIANYOU, FENGTING)
            && fed.connected(XIANYOU, CITY)),
        "links did not come back after the county restarted:\n{}",
        fed.links_report()
    );
    fed.wait_settled();
    fed.assert_no_panic();
}

/// A township authors a stream of events — 4 clients submitting cases and forwarding each to
/// the county; N events in all (`LIANDONG_FED_EVENTS`, default 10 000) — while
/// (a) the county is SIGKILLed and restarted once a quarter of them are acknowledged, and
/// (b) the township itself is SIGKILLed and restarted at five eighths (its clients retry until
/// it is back on the same port).
/// Cases whose forward was lost in the township's crash are forwarded afterwards. Then every
/// event is at the county exactly once: `liandong_events_stored` is equal on both nodes, every
/// township case has identical `events` on the county, and no (origin, seq) appears twice.
#[test]
fn restart_and_link_cut_deliver_every_event_exactly_once() {
    const CLIENTS: usize = 4;
    let n: usize = std::env::var("LIANDONG_FED_EVENTS")
        .ok()
        .map(|v| v.parse().expect("LIANDONG_FED_EVENTS is a number"))
        .unwrap_or(10_000);
    let began = Instant::now();
    let mut fed = Federation::start(ONE_LINE);
    fed.wait_settled();
    let town = fed.node(FENGTING);
    let api = town.endpoint(&town.admin_token());
    let materials = town.materials(SHIGONG, false);
    let acked = AtomicUsize::new(0);
    let client_failed = AtomicBool::new(false);
    let main_failed = AtomicBool::new(false);
    // Generous for 10 000 events on 2 cores; the default run takes a few seconds.
    let patience = Duration::from_secs(120);

    std::thread::scope(|scope| {
        for _ in 0..CLIENTS {
            let (api, materials, acked) = (api.clone(), &materials, &acked);
            let (failed, stop) = (&client_failed, &main_failed);
            scope.spawn(move || {
                // A panicking client ends the test's waits at once; the scope re-raises it.
                let _flag = RaiseOnPanic(failed);
                while acked.load(Ordering::SeqCst) < n && !stop.load(Ordering::SeqCst) {
                    let body =
                        json!({"item": SHIGONG, "applicant": person(), "materials": materials});
                    let no = match api.post("/api/v1/cases", &body) {
                        Ok((201, case)) => s(&case, "case_no").to_string(),
                        Ok((status, answer)) => panic!("submit: {status} {answer}"),
                        Err(_) => {
                            // The township is down: retry once it is back.
                            std::thread::sleep(Duration::from_millis(20));
                            continue;
                        }
                    };
                    acked.fetch_add(1, Ordering::SeqCst);
                    match api.post(&format!("/api/v1/cases/{no}/actions"), &forward()) {
                        Ok((200, _)) => {
                            acked.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok((status, answer)) => panic!("forward {no}: {status} {answer}"),
                        // Lost in the crash (stored or not): forwarded at the end if needed.
                        Err(_) => {}
                    }
                }
            });
        }
        // If this thread panics (a stall, a node that does not restart), the clients stop.
        let _stop = RaiseOnPanic(&main_failed);
        // Waits for `k` acknowledged events; false if a client failed.
        let reached = |k: usize| {
            let (acked, failed) = (&acked, &client_failed);
            let done = || acked.load(Ordering::SeqCst) >= k || failed.load(Ordering::SeqCst);
            assert!(
                wait_until(patience, done),
                "the clients stalled at {} of {k} events",
                acked.load(Ordering::SeqCst)
            );
            !failed.load(Ordering::SeqCst)
        };
        // (a) The receiving county crashes mid-stream.
        if !reached(n / 4) {
            return;
        }
        fed.kill9(XIANYOU);
        fed.start_again(XIANYOU);
        // (b) The authoring township crashes mid-stream, with requests in flight.
        if !reached(n * 5 / 8) {
            return;
        }
        fed.node(FENGTING).sigkill();
        fed.kill9(FENGTING);
        fed.start_again(FENGTING);
    });
    let authored_in = began.elapsed();

    // Forward what the crash left behind; then every case is the county's to receive.
    let town = fed.node(FENGTING);
    let admin = town.admin_token();
    for case in town.cases("state=accepted&limit=1000000") {
        town.act_ok(&admin, s(&case, "case_no"), &forward());
    }
    let town_cases = all_cases(town);
    let stored = town.events_stored();
    assert!(stored as usize >= n, "{stored} events for {n} acknowledged");

    // The township's own numbering has no gap and no repeat.
    let mut seqs: Vec<u64> = town_cases
        .values()
        .flat_map(|c| events(c).into_iter().map(|(_, seq, _)| seq))
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=stored).collect::<Vec<_>>());

    let county = fed.node(XIANYOU);
    assert!(
        wait_until(patience, || county.events_stored() == stored),
        "the county holds {} events, the township {stored}:\n{}",
        county.events_stored(),
        fed.links_report()
    );
    fed.wait_settled();
    assert_eq!(county.events_stored(), stored);
    let county_cases = all_cases(county);
    let mut seen = BTreeSet::new();
    for (no, case) in &town_cases {
        let there = county_cases
            .get(no)
            .unwrap_or_else(|| panic!("{no} is not at the county"));
        assert_eq!(
            event_list(there),
            event_list(case),
            "{no} differs at the county"
        );
        for (origin, seq, _) in events(there) {
            assert!(
                seen.insert((origin.clone(), seq)),
                "event ({origin}, {seq}) is at the county twice"
            );
        }
    }
    assert_eq!(seen.len() as u64, stored);
    assert_eq!(county_cases.len(), town_cases.len());
    fed.assert_no_panic();
    eprintln!(
        "{stored} events authored in {authored_in:?}, all at the county after {:?}",
        began.elapsed()
    );
}

/// Five impostors, none of which gets a link, while the honest links keep working:
/// - 榜头镇 (350322101) certified by another CA (a second `ca init`), dialling its real county:
///   the TLS handshake fails (unknown issuer);
/// - a node whose certificate names another code than its config (350322102's certificate in
///   350322001's folder): it refuses to start;
/// - a township whose code was revoked (`ca revoke`, revoked.toml handed to the nodes): its
///   county refuses it and logs that it is revoked;
/// - 龙桥街道 (350302001, a township of 城厢区) configured with the city as its parent: the city
///   refuses a code that is not directly below it, and logs so. (`liandong init` refuses
///   outright to configure 仙游县 as 350302001's parent: a configured parent must be an
///   ancestor.)
/// - 凤凰山街道 (350302002) pointed at 仙游县's address as if it were 城厢区: the server's
///   certificate does not name the configured parent, so the handshake fails.
#[test]
fn impostors_are_refused() {
    let mut fed = Federation::start(ONE_LINE);
    fed.wait_settled();
    let to_county = fed.parent_arg(XIANYOU);

    // Another CA.
    let other = fed.other_ca("pki-other");
    fed.init("other-ca", BANGTOU, Some(&to_county));
    fed.issue("other-ca", &other, BANGTOU);
    fed.start_again("other-ca");

    // A certificate for another code: the node does not start.
    fed.init("wrong-cert", "350322001", Some(&to_county));
    let pki = fed.pki().to_path_buf();
    fed.issue("wrong-cert", &pki, "350322102");
    let refused = fed
        .try_start("wrong-cert")
        .expect_err("a node started with a certificate for another code");
    assert!(
        refused.contains("350322102") && refused.contains("350322001"),
        "the refusal names both codes: {refused}"
    );

    // Revoked.
    fed.init("revoked", "350322103", Some(&to_county));
    fed.issue("revoked", &pki, "350322103");
    fed.revoke("350322103");
    fed.start_again("revoked");

    // Not a direct child: a township of 城厢区 dialling the city.
    let out = liandong(&[
        "init",
        "--code",
        LONGQIAO,
        "--name",
        "龙桥街道",
        "--dir",
        fed.root().join("never").to_str().unwrap(),
        "--parent",
        &to_county,
    ]);
    assert!(
        !out.status.success(),
        "init accepted a parent that is not an ancestor"
    );
    let to_city = fed.parent_arg(CITY);
    fed.init("skips-county", LONGQIAO, Some(&to_city));
    fed.issue("skips-county", &pki, LONGQIAO);
    fed.start_again("skips-county");

    // Misdirected: 凤凰山街道 dials 仙游县's address believing it is 城厢区.
    let county_port = fed.node(XIANYOU).quic_port().unwrap();
    fed.init(
        "misdirected",
        FENGHUANGSHAN,
        Some(&format!("{CHENGXIANG}@127.0.0.1:{county_port}")),
    );
    fed.issue("misdirected", &pki, FENGHUANGSHAN);
    fed.start_again("misdirected");

    // Each refusal is logged by the side that refused, with its reason.
    let revoked_logged = || !log_lines_with(&fed, XIANYOU, &["350322103", "revoked"]).is_empty();
    assert!(
        wait_until(SETTLE, revoked_logged),
        "the county never logged refusing revoked 350322103:\n{}",
        fed.node(XIANYOU).logs()
    );
    let not_child_logged = || !log_lines_with(&fed, CITY, &[LONGQIAO, "child"]).is_empty();
    assert!(
        wait_until(SETTLE, not_child_logged),
        "the city never logged refusing {LONGQIAO} as not a (direct) child:\n{}",
        fed.node(CITY).logs()
    );
    // A chain to another CA, or a server that is not the configured parent, fails the TLS
    // handshake: the impostor's link says why.
    for (name, parent, why) in [
        ("other-ca", XIANYOU, "UnknownIssuer"),
        ("misdirected", CHENGXIANG, "n350302.liandong"),
    ] {
        let error = || {
            fed.link(name, parent)
                .and_then(|l| l["last_error"].as_str().map(str::to_string))
        };
        assert!(
            wait_until(SETTLE, || error().is_some()),
            "{name} never reported a failed link to {parent}: {:?}\n{}",
            fed.links(name),
            fed.node(name).logs()
        );
        let error = error().unwrap();
        assert!(error.contains(why), "{name}: {error}");
    }

    // Nobody is linked with an impostor.
    for (node, impostor) in [
        (XIANYOU, BANGTOU),
        (XIANYOU, "350322103"),
        (CITY, LONGQIAO),
        (XIANYOU, FENGHUANGSHAN),
    ] {
        assert!(
            !fed.connected(node, impostor),
            "{node} is linked with the impostor {impostor}:\n{}",
            fed.links_report()
        );
    }
    for name in ["other-ca", "revoked", "skips-county", "misdirected"] {
        let links = fed.links(name);
        assert!(
            links.iter().all(|l| l["connected"] == false),
            "{name} has a link: {links:?}"
        );
    }

    // The honest links still work.
    assert!(fed.connected(FENGTING, XIANYOU) && fed.connected(XIANYOU, CITY));
    let town = fed.node(FENGTING);
    let admin = town.admin_token();
    let case = town.submit_all(&admin, SHIGONG);
    let no = s(&case, "case_no").to_string();
    let case = town.act_ok(&admin, &no, &forward());
    wait_for_events(&fed, XIANYOU, &case);
    fed.assert_no_panic();
}

/// A certificate that names another code than the node's own config keeps the node from
/// starting (checked at start, before any link; no parent needed).
#[test]
fn a_certificate_for_another_code_keeps_the_node_from_starting() {
    let mut fed = Federation::with_ca();
    let pki = fed.pki().to_path_buf();
    fed.init("wrong-cert", "350322001", None);
    fed.issue("wrong-cert", &pki, "350322102");
    let refused = fed
        .try_start("wrong-cert")
        .expect_err("a node started with a certificate for another code");
    assert!(
        refused.contains("350322102") && refused.contains("350322001"),
        "the refusal names both codes: {refused}"
    );
    // Its own certificate fixes it (the key is kept, so it is certified anew).
    fed.issue("wrong-cert", &pki, "350322001");
    fed.start_again("wrong-cert");
    fed.assert_no_panic();
}

/// A township's disk is lost: after its cases reached its county, and after one more that it
/// acknowledged while its county was down, it is stopped, its data folder deleted (node.toml,
/// keys and certificates kept) and `liandong restore` rebuilds the store from the county.
/// Every case the county held comes back as it was, the next event continues the township's
/// sequence after them, and the next case number is not the lost case's — whose applicant
/// holds it — but resumes far above (`writer/numbering.rs` in the core).
#[test]
fn a_township_is_restored_from_its_county() {
    let mut fed = Federation::start(ONE_LINE);
    fed.wait_settled();
    let town = fed.node(FENGTING);
    let admin = town.admin_token();

    // Cases of every shape: decided at the window; waiting for materials then supplemented;
    // withdrawn; forwarded and then worked on by the county (events of another origin).
    town.submit_all(&admin, SHENGYU);
    let core = town.materials(SHIGONG, true);
    let (status, partial) = town.submit(&admin, SHIGONG, &core[..2]);
    assert_eq!(status, 201, "{partial}");
    let partial_no = s(&partial, "case_no").to_string();
    town.act_ok(
        &admin,
        &partial_no,
        &json!({"action": "supplement", "materials": core[2..]}),
    );
    let withdrawn = town.submit_all(&admin, SHIGONG);
    town.act_ok(
        &admin,
        s(&withdrawn, "case_no"),
        &json!({"action": "withdraw"}),
    );
    let forwarded = town.submit_all(&admin, SHIGONG);
    let forwarded_no = s(&forwarded, "case_no").to_string();
    let forwarded = town.act_ok(&admin, &forwarded_no, &forward());
    wait_for_events(&fed, XIANYOU, &forwarded);
    let county = fed.node(XIANYOU);
    let county_admin = county.admin_token();
    county.act_ok(
        &county_admin,
        &forwarded_no,
        &json!({"action": "take_over"}),
    );
    let reviewed = county.act_ok(&county_admin, &forwarded_no, &json!({"action": "review"}));
    wait_for_events(&fed, FENGTING, &reviewed);
    fed.wait_settled();

    let town = fed.node(FENGTING);
    let before = all_cases(town);
    let stored = town.events_stored();
    let own_max = before
        .values()
        .flat_map(events)
        .filter(|(origin, _, _)| origin == FENGTING)
        .map(|(_, seq, _)| seq)
        .max()
        .unwrap();
    assert_eq!(before.len(), 4);

    // The county goes down and the township accepts one more case: acknowledged (the
    // applicant holds its number), durable at the township, and never at the county.
    fed.stop(XIANYOU);
    let lost = fed.node(FENGTING).submit_all(&admin, SHIGONG);
    let lost_no = s(&lost, "case_no").to_string();
    assert_eq!(
        lost_no,
        format!("{FENGTING}-20250930-{:06}", before.len() + 1)
    );

    // The disk is lost before the county is back.
    fed.stop(FENGTING);
    let dir = fed.node(FENGTING).dir();
    std::fs::remove_dir_all(dir.join("data")).expect("deleting the data folder");
    for kept in ["node.toml", "node.key", "node.crt", "ca.crt", "admin.token"] {
        assert!(dir.join(kept).exists(), "{kept} was kept");
    }
    // A first restore while the county is still down gives up; the store it leaves says a
    // restore is under way, and `run` refuses it rather than number cases over a partial
    // copy without the floor.
    let out = fed.restore_within(FENGTING, 2);
    assert!(
        !out.status.success(),
        "a restore without its parent: {out:?}"
    );
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(said.contains("did not complete within"), "{said}");
    let refused = fed
        .try_start(FENGTING)
        .expect_err("run must refuse an interrupted restore");
    assert!(refused.contains("interrupted restore"), "{refused}");
    assert!(refused.contains("liandong restore"), "{refused}");

    fed.start_again(XIANYOU);
    let began = Instant::now();
    let out = fed.restore(FENGTING);
    assert!(out.status.success(), "liandong restore failed: {out:?}");
    let restored_in = began.elapsed();
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    let resume: u32 = said
        .split_once("case numbers of 2025-09-30 resume at ")
        .and_then(|(_, rest)| rest.get(..6))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the restore does not say where numbering resumes: {said}"));
    // 900 001 plus the seconds of the day gone at the restore: after 09:00 by its clock.
    assert!(resume > 900_000 + 9 * 3600, "{said}");
    fed.start_again(FENGTING);

    let town = fed.node(FENGTING);
    let after = all_cases(town);
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>()
    );
    for (no, case) in &before {
        assert_eq!(&after[no], case, "{no} is not restored as it was");
    }
    assert_eq!(town.events_stored(), stored);

    // Writing carries on after the highest event the county held. The lost submission had
    // that sequence number too: harmless, as it never left the township (no node holds it).
    let next = town.submit_all(&admin, SHIGONG);
    assert_eq!(
        events(&next)[0],
        (FENGTING.to_string(), own_max + 1, "submit".to_string()),
        "the first event after a restore continues the sequence"
    );
    // The case number does not: the lost case's number stays its applicant's.
    let next_no = s(&next, "case_no").to_string();
    assert!(
        !before.contains_key(&next_no) && next_no != lost_no,
        "case number {next_no} reused"
    );
    assert_eq!(next_no, format!("{FENGTING}-20250930-{resume:06}"));
    // And it replicates as before.
    assert!(wait_until(SETTLE, || fed
        .link(FENGTING, XIANYOU)
        .is_some_and(|l| l["connected"] == true && l["outbox"] == 0)));
    fed.assert_no_panic();
    eprintln!("restored in {restored_in:?}");
}

/// A network cut — both processes keep running, every datagram between them is dropped for
/// longer than the link's idle timeout — in the middle of a stream of cases authored at a
/// township: after the link heals, the county holds every event exactly once.
#[test]
fn a_network_cut_mid_stream_loses_and_doubles_nothing() {
    let mut fed = Federation::start(&[(CITY, None), (XIANYOU, Some(CITY))]);
    let county_quic = fed.node(XIANYOU).quic_port().expect("county QUIC port");
    let relay = UdpRelay::start(format!("127.0.0.1:{county_quic}").parse().expect("address"));
    fed.add_via(FENGTING, XIANYOU, relay.addr);
    fed.wait_settled();
    let town = fed.node(FENGTING);
    let clerk = town.clerk("卫生健康办公室");
    let submit = |n: usize| {
        for _ in 0..n {
            let (status, _) = town.submit(&clerk, SHENGYU, &["夫妻双方居民身份证".to_string()]);
            assert_eq!(status, 201);
        }
    };
    submit(300);
    relay.cut();
    // The township keeps working with its uplink down.
    submit(300);
    assert!(
        wait_until(Duration::from_secs(20), || !fed
            .connected(FENGTING, XIANYOU)),
        "the township never noticed the cut"
    );
    submit(300);
    relay.heal();
    fed.wait_settled();
    let county = fed.node(XIANYOU);
    assert_eq!(
        county.events_stored(),
        town.events_stored() + own_events(county)
    );
    // The county's copy is its child's backup, which its API does not serve (DESIGN.md §8):
    // what it holds is what a restore of the township gives back.
    let before = town.cases("");
    assert_eq!(before.len(), 900);
    fed.stop(FENGTING);
    let dir = fed.node(FENGTING).dir();
    std::fs::remove_dir_all(dir.join("data")).expect("deleting the data folder");
    let out = fed.restore(FENGTING);
    assert!(out.status.success(), "liandong restore failed: {out:?}");
    fed.start_again(FENGTING);
    let after = fed.node(FENGTING).cases("");
    assert_eq!(after.len(), before.len());
    for (was, is) in before.iter().zip(&after) {
        assert_eq!(is["events"], was["events"], "{}", was["case_no"]);
    }
    fed.assert_no_panic();
}

/// Events the county authored itself (none in this test, but say so rather than assume).
fn own_events(node: &Node) -> u64 {
    node.cases("")
        .iter()
        .filter(|c| c["accepting_node"] == node.code)
        .map(|c| c["events"].as_array().map_or(0, |e| e.len() as u64))
        .sum()
}

/// A peer with a valid certificate that misbehaves on the wire: first a frame of garbage on
/// its bulk stream, then an event altered after it was signed (what a lying relay would send).
/// The county closes each link with a log line that says why, stores nothing of it, and its
/// honest links keep working.
#[test]
fn a_peer_sending_garbage_or_an_altered_event_is_cut_off() {
    let mut fed = Federation::start(ONE_LINE);
    fed.wait_settled();
    let county_quic = fed.node(XIANYOU).quic_port().expect("county QUIC port");
    // The rogue: a genuine township certificate, driven by hand instead of by liandong.
    let rogue_dir = fed.certified_not_started("rogue", BANGTOU, XIANYOU);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(rogue::garbage_frame(&rogue_dir, county_quic));
    runtime.block_on(rogue::altered_event(&rogue_dir, county_quic));

    let logs = fed.node(XIANYOU).logs();
    assert!(
        logs.contains("link closed") && logs.contains("malformed frame"),
        "no log line for the garbage frame: {}",
        logs.lines()
            .filter(|l| l.contains("350322101"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        logs.contains("ALERT") && logs.contains("signature does not verify"),
        "no alert for the altered event"
    );
    assert!(!fed
        .node(XIANYOU)
        .cases("")
        .iter()
        .any(|c| c["accepting_node"] == BANGTOU));

    // The honest township's events still flow.
    let town = fed.node(FENGTING);
    let clerk = town.clerk("卫生健康办公室");
    let (status, case) = town.submit(&clerk, SHENGYU, &["夫妻双方居民身份证".to_string()]);
    assert_eq!(status, 201);
    let no = case["case_no"].as_str().expect("case number").to_string();
    // Its summary reaches the county (the case itself is the county's backup copy, not served).
    let county = fed.node(XIANYOU);
    let summary = format!("/api/v1/summaries/{no}");
    assert!(wait_until(SETTLE, || county
        .get(&summary, &county.admin_token())
        .0
        == 200));
    fed.assert_no_panic();
}

/// The misbehaviours of `a_peer_sending_garbage_or_an_altered_event_is_cut_off`, by the
/// hand-driven peer of support/rogue.rs (tests/attacks.rs has many more).
mod rogue {
    use std::path::Path;

    use federation_proto::{CaseNo, EventBody, Hlc};

    use crate::support::rogue::Rogue;

    async fn connect(dir: &Path, county_quic: u16) -> Rogue {
        Rogue::connect(dir, super::XIANYOU, county_quic, super::BANGTOU, 0)
            .await
            .expect("handshake")
    }

    pub async fn garbage_frame(dir: &Path, county_quic: u16) {
        let mut rogue = connect(dir, county_quic).await;
        // A plausible length, then bytes that decode to nothing.
        let mut garbage = 40u32.to_be_bytes().to_vec();
        garbage.extend([0xFF; 40]);
        rogue.send_bulk(&garbage).await;
        // The county closes the connection; wait for it (bounded).
        rogue.closed().await;
    }

    pub async fn altered_event(dir: &Path, county_quic: u16) {
        let mut rogue = connect(dir, county_quic).await;
        let me = rogue.code;
        let case_no = CaseNo {
            node: me,
            date: "2025-09-30".parse().expect("date"),
            seq: 1,
        };
        let hlc = Hlc {
            wall_ms: 1_759_194_000_000,
            counter: 0,
        };
        let mut event = Rogue::event(me, 1, case_no, hlc, EventBody::Withdraw, &rogue.key);
        event.body = EventBody::Review;
        rogue
            .send_batch(1, vec![Rogue::item(&event, &[super::XIANYOU])])
            .await;
        rogue.closed().await;
    }
}

/// A revocation loaded at the running city (`liandong revocations load`, no file handed to
/// anyone, no restart) travels down the tree and closes the revoked township's live link at
/// its county at once; its redials are refused, also after the county restarts, and what it
/// writes from then on reaches nobody.
#[test]
fn a_revocation_at_the_root_closes_the_live_link_at_once() {
    let mut fed = Federation::start(ONE_LINE);
    fed.wait_settled();
    assert!(fed.connected(XIANYOU, FENGTING), "{}", fed.links_report());

    let out = liandong(&[
        "ca",
        "revoke",
        "--dir",
        fed.pki().to_str().unwrap(),
        "--code",
        FENGTING,
    ]);
    assert!(out.status.success(), "ca revoke: {out:?}");
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        said.contains("revocations load"),
        "ca revoke names the command: {said}"
    );
    let city = fed.node(CITY).dir();
    let revoked_toml = fed.pki().join("revoked.toml");
    let load = |config: &std::path::Path| {
        liandong(&[
            "revocations",
            "load",
            revoked_toml.to_str().unwrap(),
            "--config",
            config.join("node.toml").to_str().unwrap(),
        ])
    };
    let out = load(&city);
    assert!(out.status.success(), "revocations load: {out:?}");
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(said.contains(&format!("revoked {FENGTING}")), "{said}");

    // The county took the revocation from the city and closed the link itself.
    let closed = || {
        fed.link(XIANYOU, FENGTING).is_some_and(|l| {
            l["connected"] == false
                && l["last_error"]
                    .as_str()
                    .is_some_and(|e| e.contains("revoked"))
        })
    };
    assert!(
        wait_until(SETTLE, closed),
        "the county kept the revoked township's link:\n{}\n{}",
        fed.links_report(),
        fed.node(XIANYOU).logs()
    );
    let logged = log_lines_with(&fed, XIANYOU, &["link closed", "revoked"]);
    assert!(!logged.is_empty(), "{}", fed.node(XIANYOU).logs());
    let (status, body) = fed
        .node(XIANYOU)
        .get("/api/v1/revocations", &fed.node(XIANYOU).admin_token());
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["revoked"][0]["code"], FENGTING, "{body}");

    // Loading it again changes nothing; a broken file is refused with a clear error.
    let out = load(&city);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("no new revocation"),
        "{out:?}"
    );
    let bad = fed.root().join("bad-revoked.toml");
    std::fs::write(&bad, "revoked = 7\n").unwrap();
    let out = liandong(&[
        "revocations",
        "load",
        bad.to_str().unwrap(),
        "--config",
        city.join("node.toml").to_str().unwrap(),
    ]);
    assert!(
        !out.status.success(),
        "a broken revoked.toml was accepted: {out:?}"
    );

    // The township writes on; nothing of it reaches the county, whose refusals survive a restart.
    let town = fed.node(FENGTING);
    let admin = town.admin_token();
    let case = town.submit_all(&admin, SHIGONG);
    let no = s(&case, "case_no").to_string();
    town.act_ok(&admin, &no, &forward());
    let refusals = |fed: &Federation| {
        log_lines_with(fed, XIANYOU, &[FENGTING, "link refused", "revoked"]).len()
    };
    fed.stop(XIANYOU);
    let before = refusals(&fed);
    fed.start_again(XIANYOU);
    // A township whose redials were refused waits longer and longer between them: restart it
    // too, so that it dials the restarted county at once.
    fed.stop(FENGTING);
    fed.start_again(FENGTING);
    assert!(
        wait_until(SETTLE, || refusals(&fed) > before),
        "the restarted county never refused the revoked township:\n{}",
        fed.node(XIANYOU).logs()
    );
    assert!(!fed.connected(XIANYOU, FENGTING), "{}", fed.links_report());
    assert!(
        fed.case_on(XIANYOU, &no).is_none(),
        "the revoked township's case reached the county"
    );
    assert!(
        fed.link(XIANYOU, FENGTING)
            .is_none_or(|l| l["connections"] == 0),
        "the restarted county let the revoked township link:\n{}",
        fed.links_report()
    );
}
