//! Supervision (电子监察) through real `liandong` processes: the city's statistics over its
//! whole region, recomputed here independently from every case's timeline; a township cut off
//! and reported so, then brought up to date by a pull; 督办 from the city down to a township's
//! case and the answer back up.
//!
//! Codes are real ones of 莆田市 (`../shared/data/divisions_putian.csv`).

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};
use support::federation::{wait_until, Federation, UdpRelay, SETTLE};
use support::{s, Node};

/// 莆田市.
const CITY: &str = "350300";
/// 仙游县 and its 鲤城街道, 枫亭镇.
const XIANYOU: &str = "350322";
const XY_TOWNS: [&str; 2] = ["350322001", "350322100"];
/// 城厢区 and its 龙桥街道, 凤凰山街道.
const CHENGXIANG: &str = "350302";
const CX_TOWNS: [&str; 2] = ["350302001", "350302002"];

/// 新生儿出生“一件事”联办 (卫生健康办公室): decided at the township, promised 3 working days.
const NEWBORN: &str = "000152901000";
/// 生育登记 (卫生健康办公室): a 即办 item of the township, approved at intake.
const BIRTH: &str = "000152043000";
/// 食品经营许可 (市场监督管理局): decided by the county, promised 5 working days.
const FOOD: &str = "000187005000";
/// 建筑工程施工许可证核发 (住房和城乡建设局): a county item, accepted at townships too.
const BUILDING: &str = "000172005000";

/// Three weeks after the federation's start (2025-09-30): the open cases are long overdue.
const LATER: &str = "2025-10-20T09:00";

/// One window clerk per department a node needs, by department.
struct Window<'a> {
    node: &'a Node,
    clerks: BTreeMap<&'static str, String>,
    materials: BTreeMap<&'static str, Vec<String>>,
}

impl<'a> Window<'a> {
    fn open(node: &'a Node, items: &[(&'static str, &'static str)]) -> Window<'a> {
        let mut w = Window {
            node,
            clerks: BTreeMap::new(),
            materials: BTreeMap::new(),
        };
        for (item, department) in items {
            w.clerks
                .entry(department)
                .or_insert_with(|| node.clerk(department));
            w.materials.insert(item, node.materials(item, false));
        }
        w
    }

    fn token(&self, department: &str) -> &str {
        &self.clerks[department]
    }

    fn submit(&self, item: &'static str, department: &str) -> String {
        let (status, case) = self
            .node
            .submit(self.token(department), item, &self.materials[item]);
        assert_eq!(status, 201, "submitting {item}: {case}");
        s(&case, "case_no").to_string()
    }

    fn act(&self, department: &str, case_no: &str, action: Value) -> Value {
        self.node.act_ok(self.token(department), case_no, &action)
    }
}

fn decide(approve: bool) -> Value {
    json!({"action": "decide", "approve": approve, "reason": "依法审查"})
}

/// Sets a stopped node's clocks to be re-evaluated every second (`[warnings]` in node.toml,
/// which holds the defaults: automatic 督办 after 3 working days in red).
fn sweep_every_second(node: &Node) {
    let path = node.dir().join("node.toml");
    let text = std::fs::read_to_string(&path).expect("node.toml");
    assert!(text.contains("sweep_seconds = 60"), "{text}");
    let text = text.replace("sweep_seconds = 60", "sweep_seconds = 1");
    std::fs::write(&path, text).expect("writing node.toml");
}

/// Working days strictly after `from` up to and including `to`, by the 2025 national calendar
/// written out by hand: National Day 10-01 to 10-08 off, Sat 10-11 and Sun 09-28 worked.
fn workdays_2025(from: &str, to: &str) -> u64 {
    let day = |d: &str| -> u32 {
        let (m, dd) = (
            d[5..7].parse::<u32>().unwrap(),
            d[8..10].parse::<u32>().unwrap(),
        );
        assert!(
            (9..=11).contains(&m),
            "{d} is outside the hand-written calendar"
        );
        [0, 30, 61][(m - 9) as usize] + dd
    };
    // Day numbers from 2025-09-00; 2025-09-01 was a Monday.
    let working = |n: u32| -> bool {
        let weekday = (n - 1) % 7; // 0 = Monday
        let holiday = (31..=38).contains(&n); // 10-01 .. 10-08
        let adjusted = n == 28 || n == 41; // Sun 09-28, Sat 10-11
        adjusted || (!holiday && weekday < 5)
    };
    ((day(from) + 1)..=day(to)).filter(|n| working(*n)).count() as u64
}

/// Every case of the federation once, as its owner shows it: its timeline folded from all its
/// events.
fn cases_at_owners(fed: &Federation, nodes: &[&str]) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for name in nodes {
        for case in fed.node(name).cases("limit=100000") {
            if s(&case, "owner") == *name {
                out.insert(s(&case, "case_no").to_string(), case);
            }
        }
    }
    out
}

/// The states in which a case still runs (and can be overdue).
const OPEN: [&str; 5] = [
    "accepted",
    "in_review",
    "joint_review",
    "suspended",
    "in_transit",
];

/// The figures `liandong stats` must show, computed here from the case views.
fn expected_figures(cases: &BTreeMap<String, Value>) -> Value {
    let mut by_state: BTreeMap<String, u64> = BTreeMap::new();
    let (mut overdue, mut concluded, mut on_time, mut days, mut notices_open) = (0, 0, 0, 0, 0);
    let open = OPEN;
    let done = ["approved", "denied", "certified", "delivered"];
    for case in cases.values() {
        let state = s(case, "state");
        *by_state.entry(state.to_string()).or_default() += 1;
        let red = case["warning"] == "red";
        if open.contains(&state) && red {
            overdue += 1;
        }
        if done.contains(&state) {
            concluded += 1;
            on_time += u64::from(!red);
            days += workdays_2025(s(case, "accepted_on"), s(case, "concluded_on"));
        }
        notices_open += case["notices"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["answer"].is_null())
            .count() as u64;
    }
    json!({
        "cases": cases.len(),
        "by_state": by_state,
        "overdue": overdue,
        "concluded": concluded,
        "on_time": on_time,
        "on_time_rate": on_time as f64 / concluded as f64,
        "average_working_days": days as f64 / concluded as f64,
        "notices_open": notices_open,
    })
}

fn city_figures(city: &Node) -> Value {
    let (status, stats) = city.get("/api/v1/stats", &city.admin_token());
    assert_eq!(status, 200, "{stats}");
    let t = &stats["totals"];
    json!({
        "cases": t["cases"], "by_state": t["by_state"], "overdue": t["overdue"],
        "concluded": t["concluded"], "on_time": t["on_time"], "on_time_rate": t["on_time_rate"],
        "average_working_days": t["average_working_days"], "notices_open": t["notices_open"],
    })
}

fn pull(node: &Node, timeout_ms: u64) -> Value {
    let (status, answer) = node.post(
        "/api/v1/status/pull",
        &node.admin_token(),
        &json!({ "timeout_ms": timeout_ms }),
    );
    assert_eq!(status, 200, "{answer}");
    answer
}

/// The entry of `code` in a status view's `nodes`.
fn node_entry<'v>(status: &'v Value, code: &str) -> &'v Value {
    status["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["code"] == code)
        .unwrap_or_else(|| panic!("{code} is not in the status: {status}"))
}

// ---------------------------------------------------------------------------------------------

/// 240 cases with known outcomes across 1 city, 2 counties and 4 townships: approved at intake,
/// decided on time, decided three weeks late, left open until overdue, withdrawn, refused,
/// forwarded from a township and decided at its county, rated 差评. Three weeks later every
/// node restarts; the red cases get their automatic 督办 from the owner's parent. The city's
/// statistics then equal, exactly, the figures computed here from every case's timeline at its
/// owner: counts by state, overdue, concluded, on time, 按期办结率, average working days and
/// open 督办.
#[test]
fn city_statistics_equal_the_figures_recomputed_from_every_timeline() {
    let mut tree = vec![
        (CITY, None),
        (XIANYOU, Some(CITY)),
        (CHENGXIANG, Some(CITY)),
    ];
    tree.extend(XY_TOWNS.iter().map(|t| (*t, Some(XIANYOU))));
    tree.extend(CX_TOWNS.iter().map(|t| (*t, Some(CHENGXIANG))));
    let mut fed = Federation::start(&tree);
    let towns: Vec<&str> = XY_TOWNS.iter().chain(&CX_TOWNS).copied().collect();
    let mut late = Vec::new(); // (node, department, case) to decide after the jump

    for town in &towns {
        let county = &town[..6];
        let w = Window::open(
            fed.node(town),
            &[
                (NEWBORN, "卫生健康办公室"),
                (BIRTH, "卫生健康办公室"),
                (BUILDING, "住房和城乡建设局"),
            ],
        );
        let up = Window::open(fed.node(county), &[(BUILDING, "住房和城乡建设局")]);
        for i in 0..40 {
            match i % 6 {
                0 => {
                    let no = w.submit(BIRTH, "卫生健康办公室");
                    w.act("卫生健康办公室", &no, json!({"action": "deliver"}));
                }
                1 => {
                    let no = w.submit(NEWBORN, "卫生健康办公室");
                    w.act("卫生健康办公室", &no, json!({"action": "review"}));
                    w.act("卫生健康办公室", &no, decide(true));
                }
                2 => {
                    w.submit(NEWBORN, "卫生健康办公室");
                }
                3 => {
                    let no = w.submit(NEWBORN, "卫生健康办公室");
                    w.act("卫生健康办公室", &no, json!({"action": "review"}));
                    late.push((town.to_string(), "卫生健康办公室", no));
                }
                4 => {
                    let no = w.submit(BUILDING, "住房和城乡建设局");
                    w.act("住房和城乡建设局", &no, json!({"action": "forward"}));
                    // The county acts once the forward has arrived.
                    let admin = up.node.admin_token();
                    let path = format!("/api/v1/cases/{no}");
                    assert!(wait_until(SETTLE, || up
                        .node
                        .try_request("GET", &path, &admin, None)
                        .is_ok_and(|(_, case)| case["state"] == "in_transit")));
                    up.act("住房和城乡建设局", &no, json!({"action": "take_over"}));
                    up.act("住房和城乡建设局", &no, decide(false));
                }
                _ => {
                    let no = w.submit(NEWBORN, "卫生健康办公室");
                    w.act("卫生健康办公室", &no, json!({"action": "withdraw"}));
                }
            }
        }
    }
    for county in [XIANYOU, CHENGXIANG] {
        let w = Window::open(fed.node(county), &[(FOOD, "市场监督管理局")]);
        let food = "市场监督管理局";
        for i in 0..40 {
            let no = w.submit(FOOD, food);
            match i % 5 {
                0 => {
                    w.act(food, &no, decide(true));
                }
                1 => {}
                2 => late.push((county.to_string(), food, no)),
                3 => {
                    w.act(
                        food,
                        &no,
                        json!({"action": "refuse", "reason": "不符合受理条件"}),
                    );
                }
                _ => {
                    w.act(food, &no, decide(true));
                    w.act(food, &no, json!({"action": "deliver"}));
                    w.act(
                        food,
                        &no,
                        json!({"action": "rate", "satisfaction": 5, "comment": "太慢"}),
                    );
                }
            }
        }
    }
    fed.wait_settled();

    // Three weeks later, every node back with its clocks re-evaluated every second.
    let names: Vec<String> = fed.names();
    for name in names.iter().rev() {
        fed.stop(name);
        sweep_every_second(fed.node(name));
    }
    for name in &names {
        fed.start_at(name, LATER);
    }
    for (node, department, no) in &late {
        let token = fed.node(node).clerk(department);
        fed.node(node).act_ok(&token, no, &decide(true));
    }
    fed.wait_settled();

    let all: Vec<&str> = names.iter().map(String::as_str).collect();
    let city = fed.node(CITY);
    // Every open overdue case has its automatic 督办 from its owner's parent, and the city's
    // figures have caught up with every timeline. (A 督办 may also land on a case decided late:
    // the parent's sweep and the decision race, and the notice stays open until answered, so
    // open notices are not simply the overdue cases.)
    let unnoticed = |cases: &BTreeMap<String, Value>| -> Vec<String> {
        cases
            .values()
            .filter(|c| {
                let open = OPEN.contains(&s(c, "state"));
                open && c["warning"] == "red"
                    && c["notices"].as_array().is_none_or(|n| n.is_empty())
            })
            .map(|c| s(c, "case_no").to_string())
            .collect()
    };
    let settled = wait_until(Duration::from_secs(60), || {
        pull(city, 5000);
        let cases = cases_at_owners(&fed, &all);
        let expected = expected_figures(&cases);
        unnoticed(&cases).is_empty() && city_figures(city) == expected
    });
    let cases = cases_at_owners(&fed, &all);
    let expected = expected_figures(&cases);
    assert!(
        settled,
        "the city's figures {} differ from the timelines' {}, or overdue cases lack a 督办: {:?}\n{}",
        city_figures(city),
        expected,
        unnoticed(&cases),
        fed.warnings_report()
    );
    assert!(
        expected["notices_open"].as_u64() >= expected["overdue"].as_u64(),
        "{expected}"
    );
    assert_eq!(cases.len(), 240);
    // The figures are not trivial: every kind of outcome is there.
    assert_eq!(expected["overdue"], 4 * 7 + 2 * 8, "{expected}");
    assert!(expected["on_time"].as_u64() < expected["concluded"].as_u64());
    assert!(expected["average_working_days"].as_f64().unwrap() > 0.0);
    let notice = cases
        .values()
        .flat_map(|c| c["notices"].as_array().unwrap().clone())
        .next()
        .expect("a 督办");
    assert!(s(&notice, "note").starts_with("自动督办"), "{notice}");
    // Prometheus shows the same figures.
    let metrics = city.metrics();
    for line in [
        format!("liandong_region_cases{{node=\"{CITY}\"}} 240"),
        format!(
            "liandong_region_overdue{{node=\"{CITY}\"}} {}",
            expected["overdue"]
        ),
        format!(
            "liandong_region_notices_open{{node=\"{CITY}\"}} {}",
            expected["notices_open"]
        ),
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no {line:?} in\n{metrics}"
        );
    }
    fed.assert_no_panic();
}

/// 鲤城街道's uplink is cut: the city's status says it is unreachable, with the age of its data,
/// and still answers for everything else. The township keeps working; once the link heals a
/// pull brings its new case up to the city.
#[test]
fn a_cut_off_township_is_reported_unreachable_until_a_pull_after_the_heal() {
    let mut fed = Federation::start(&[
        (CITY, None),
        (XIANYOU, Some(CITY)),
        (XY_TOWNS[1], Some(XIANYOU)),
    ]);
    let county_quic: std::net::SocketAddr =
        format!("127.0.0.1:{}", fed.node(XIANYOU).quic_port().unwrap())
            .parse()
            .unwrap();
    let relay = UdpRelay::start(county_quic);
    let town = XY_TOWNS[0];
    fed.add_via(town, XIANYOU, relay.addr);
    fed.wait_settled();
    let w = Window::open(fed.node(town), &[(BIRTH, "卫生健康办公室")]);
    w.submit(BIRTH, "卫生健康办公室");
    fed.wait_settled();

    let city = fed.node(CITY);
    let status = pull(city, 3000);
    assert_eq!(node_entry(&status, town)["reachable"], true, "{status}");
    assert_eq!(status["totals"]["cases"], 1);
    assert_eq!(status["not_reported"], json!([]));

    relay.cut();
    let before_cut = w.submit(BIRTH, "卫生健康办公室");
    std::thread::sleep(Duration::from_secs(2));
    let status = pull(city, 2000);
    let entry = node_entry(&status, town);
    assert_eq!(entry["reachable"], false, "{status}");
    assert!(entry["age_seconds"].as_u64().unwrap() >= 2, "{entry}");
    assert_eq!(status["not_reported"], json!([town]), "{status}");
    assert_eq!(
        node_entry(&status, XY_TOWNS[1])["reachable"],
        true,
        "{status}"
    );
    assert_eq!(node_entry(&status, XIANYOU)["reachable"], true, "{status}");
    assert_eq!(
        status["totals"]["cases"], 1,
        "the cut-off case has not arrived: {status}"
    );

    relay.heal();
    let caught_up = wait_until(SETTLE, || {
        let status = pull(city, 2000);
        node_entry(&status, town)["reachable"] == true && status["totals"]["cases"] == 2
    });
    assert!(
        caught_up,
        "{before_cut} never reached the city:\n{}",
        fed.links_report()
    );
    fed.assert_no_panic();
}

/// A supervisor at the city issues a 督办 on a case owned by 枫亭镇, which the city knows only by
/// its summary; the notice reaches the township's case, the township answers, and the answer
/// comes back up to the city in the summary.
#[test]
fn a_notice_from_the_city_reaches_a_township_case_and_its_answer_comes_back() {
    let town = XY_TOWNS[1];
    let fed = Federation::start(&[(CITY, None), (XIANYOU, Some(CITY)), (town, Some(XIANYOU))]);
    let w = Window::open(fed.node(town), &[(NEWBORN, "卫生健康办公室")]);
    let no = w.submit(NEWBORN, "卫生健康办公室");
    fed.wait_settled();

    let city = fed.node(CITY);
    let supervisor = city.add_operator("市监察科", "supervisor", None);
    assert_eq!(city.get(&format!("/api/v1/cases/{no}"), &supervisor).0, 404);
    let clerk = city.clerk("卫生健康办公室");
    let (status, answer) = city.act(
        &clerk,
        &no,
        &json!({"action": "supervise", "note": "请说明进度"}),
    );
    assert_eq!(status, 403, "a clerk may not supervise: {answer}");
    let (status, answer) = city.act(
        &supervisor,
        &no,
        &json!({"action": "supervise", "note": "请说明进度"}),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["owner"], town);

    let town_node = fed.node(town);
    assert!(wait_until(SETTLE, || !town_node.case(&no)["notices"]
        .as_array()
        .unwrap()
        .is_empty()));
    let notice = town_node.case(&no)["notices"][0].clone();
    assert_eq!(notice["from"], CITY);
    assert_eq!(notice["note"], "请说明进度");
    let answer =
        json!({"action": "answer_notice", "notice": notice["id"], "answer": "材料已齐，明日办结"});
    w.act("卫生健康办公室", &no, answer);

    let answered = wait_until(SETTLE, || {
        let (_, list) = city.get("/api/v1/summaries", &city.admin_token());
        list["summaries"].as_array().unwrap().iter().any(|s| {
            s["case_no"] == no.as_str() && s["notices"][0]["answer"] == "材料已齐，明日办结"
        })
    });
    assert!(
        answered,
        "the answer never reached the city:\n{}",
        fed.links_report()
    );
    let (_, stats) = city.get("/api/v1/stats", &city.admin_token());
    assert_eq!(stats["totals"]["notices_answered"], 1, "{stats}");
    assert_eq!(stats["totals"]["notices_open"], 0, "{stats}");
    fed.assert_no_panic();
}
