//! Deadlines and warnings (DESIGN.md §6) on a real node whose clock is moved forward by
//! restarting it with a later `--clock`. Every expected date is counted by hand in a comment:
//! "N working days after D" is the Nth working day strictly after D.

mod support;

use serde_json::{json, Value};
use support::*;

/// 建筑工程施工许可证核发: 承诺 3 / 法定 15, 住房和城乡建设局.
const SHIGONG: &str = "000172005000";
/// 城镇污水排入排水管网许可证核发: 承诺 5 / 法定 15, 住房和城乡建设局.
const PAISHUI: &str = "000172011000";
/// 国有建设用地使用权及房屋所有权转移登记: 承诺 3 / 法定 30, 自然资源和规划局.
const BUDONGCHAN: &str = "000171021000";
/// 临时占用城市道路审批: 承诺 3 / 法定 20, 城市管理局.
const ZHANDAO: &str = "000179005000";
/// 建设项目环境影响评价文件审批（报告表）: 承诺 10 / 法定 30, 生态环境局.
const HUANPING: &str = "000183001002";
/// 建设工程竣工联合验收: 联办, 承诺 7 / 法定 15, 住房和城乡建设局.
const YANSHOU: &str = "000172023000";

/// Asserts the promised and legal deadlines and the warning of a case view.
#[track_caller]
fn assert_clocks(case: &Value, deadline: &str, legal: &str, warning: &str) {
    let got = (
        s(case, "deadline"),
        s(case, "legal_deadline"),
        s(case, "warning"),
    );
    assert_eq!(
        got,
        (deadline, legal, warning),
        "case {}: {case}",
        s(case, "case_no")
    );
}

fn no(case: &Value) -> String {
    s(case, "case_no").to_string()
}

fn listed(node: &Node, query: &str) -> Vec<String> {
    let mut nos: Vec<String> = node.cases(query).iter().map(no).collect();
    nos.sort();
    nos
}

fn sorted(mut nos: Vec<String>) -> Vec<String> {
    nos.sort();
    nos
}

#[test]
fn national_day_2025() {
    // Holiday 10-01..10-08; Sun 09-28 and Sat 10-11 are working days (调休).
    let mut node = Node::start("350322", Some("2025-09-27T10:00"));
    let zhujian = node.clerk(ZHUJIAN);

    // Accepted on Sat 09-27, itself no working day (and never counted anyway).
    let early = node.submit_all(&zhujian, SHIGONG);
    assert_eq!(s(&early, "accepted_on"), "2025-09-27");
    // 3: 09-28 (Sun 调休), 09-29, 09-30.
    // 15: 09-28, 09-29, 09-30 (3), 10-09, 10-10, 10-11 (6), 10-13..17 (11), 10-20..23 (15).
    // Remaining today: 09-28, 09-29, 09-30 = 3 > max(1, 20 % of 3) = 1: green.
    assert_clocks(&early, "2025-09-30", "2025-10-23", "green");
    assert_eq!(early["remaining_days"], 3);

    // A joint review opened that Saturday with 1 day of feedback: due on Sun 09-28 (调休).
    let joint = node.submit_all(&zhujian, YANSHOU);
    let participants = json!([{"node": "350322", "department": "气象局"}]);
    let joint = node.act_ok(
        &zhujian,
        &no(&joint),
        &json!({"action": "open_joint_review", "participants": participants, "feedback_days": 1}),
    );
    assert_eq!(s(&joint, "feedback_due"), "2025-09-28");

    node.restart(Some("2025-09-30T10:00"));
    // Accepted Tue 09-30. 3: 10-09, 10-10, 10-11 (Sat 调休).
    // 15: 10-09, 10-10, 10-11 (3), 10-13..17 (8), 10-20..24 (13), 10-27 (14), 10-28 (15).
    let shigong = node.submit_all(&zhujian, SHIGONG);
    assert_eq!(s(&shigong, "accepted_on"), "2025-09-30");
    assert_clocks(&shigong, "2025-10-11", "2025-10-28", "green");
    assert_eq!(shigong["remaining_days"], 3);
    // 30: ... 10-28 (15), 10-29..31 (18), 11-03..07 (23), 11-10..14 (28), 11-17 (29), 11-18 (30).
    let budongchan = node.submit_all(&node.clerk(ZIRAN), BUDONGCHAN);
    assert_clocks(&budongchan, "2025-10-11", "2025-11-18", "green");
    // The Saturday case is due today: 0 days left, yellow.
    let early = node.case(&no(&early));
    assert_clocks(&early, "2025-09-30", "2025-10-23", "yellow");
    assert_eq!(early["remaining_days"], 0);
    assert_eq!(listed(&node, "warning=yellow"), [no(&early)]);

    node.restart(Some("2025-10-10T10:00"));
    // Past its deadline, unconcluded: red. The 09-30 cases have one day left, Sat 10-11: yellow.
    assert_clocks(&node.case(&no(&early)), "2025-09-30", "2025-10-23", "red");
    let shigong = node.case(&no(&shigong));
    assert_clocks(&shigong, "2025-10-11", "2025-10-28", "yellow");
    assert_eq!(shigong["remaining_days"], 1);
    assert_eq!(listed(&node, "warning=red"), [no(&early)]);
    assert_eq!(
        listed(&node, "warning=yellow"),
        sorted(vec![no(&shigong), no(&budongchan)])
    );
    node.assert_no_panic();
}

#[test]
fn spring_festival_2026() {
    // Holiday 02-15..02-23; Sat 02-14 and Sat 02-28 are working days (调休).
    let mut node = Node::start("350322", Some("2026-02-13T10:00"));
    let zhujian = node.clerk(ZHUJIAN);

    // Accepted Fri 02-13. 3: 02-14 (Sat 调休), 02-24, 02-25.
    // 15: 02-14, 02-24..27 (5), 02-28 (Sat 调休, 6), 03-02..06 (11), 03-09..12 (15).
    let first = node.submit_all(&zhujian, SHIGONG);
    assert_eq!(s(&first, "accepted_on"), "2026-02-13");
    assert_clocks(&first, "2026-02-25", "2026-03-12", "green");

    node.restart(Some("2026-02-23T10:00"));
    // Accepted Mon 02-23, a holiday. 5: 02-24, 02-25, 02-26, 02-27, 02-28 (Sat 调休).
    // 15: 02-24..28 (5), 03-02..06 (10), 03-09..13 (15).
    let paishui = node.submit_all(&zhujian, PAISHUI);
    assert_eq!(s(&paishui, "accepted_on"), "2026-02-23");
    assert_clocks(&paishui, "2026-02-28", "2026-03-13", "green");
    // The first case: 02-24, 02-25 left = 2 > 1: still green.
    let first_now = node.case(&no(&first));
    assert_clocks(&first_now, "2026-02-25", "2026-03-12", "green");
    assert_eq!(first_now["remaining_days"], 2);

    node.restart(Some("2026-02-25T10:00"));
    // Accepted Wed 02-25. 3: 02-26, 02-27, 02-28 (Sat 调休).
    // 20: 02-26..28 (3), 03-02..06 (8), 03-09..13 (13), 03-16..20 (18), 03-23, 03-24 (20).
    let zhandao = node.submit_all(&node.clerk(CHENGGUAN), ZHANDAO);
    assert_clocks(&zhandao, "2026-02-28", "2026-03-24", "green");
    // The first case is due today.
    assert_clocks(
        &node.case(&no(&first)),
        "2026-02-25",
        "2026-03-12",
        "yellow",
    );
    node.assert_no_panic();
}

#[test]
fn a_suspension_moves_both_deadlines_by_the_working_days_paused() {
    // November 2025 has no holidays.
    let mut node = Node::start("350322", Some("2025-11-03T10:00"));
    let zhujian = node.clerk(ZHUJIAN);

    // Accepted Mon 11-03. 3: 11-04, 11-05, 11-06. 15: 11-04..07 (4), 11-10..14 (9),
    // 11-17..21 (14), 11-24 (15).
    let case = node.submit_all(&zhujian, SHIGONG);
    let case_no = no(&case);
    assert_clocks(&case, "2025-11-06", "2025-11-24", "green");
    let suspend = json!({"action": "suspend", "procedure": "expert_review", "reason": "专家评审"});
    let case = node.act_ok(&zhujian, &case_no, &suspend);
    assert_eq!(s(&case, "state"), "suspended");
    assert_eq!(case["paused_days"], 0);
    assert_clocks(&case, "2025-11-06", "2025-11-24", "green");

    node.restart(Some("2025-11-08T10:00"));
    // Still suspended on Sat 11-08: the open pause counts 11-04..07 = 4 working days so far.
    // 3 + 4 = 7: 11-04..07 (4), 11-10, 11-11, 11-12. 15 + 4 = 19: 11-24 (15) ... 11-28 (19).
    let case = node.case(&case_no);
    assert_eq!(s(&case, "state"), "suspended");
    assert_eq!(case["paused_days"], 4);
    assert_clocks(&case, "2025-11-12", "2025-11-28", "green");

    node.restart(Some("2025-11-10T10:00"));
    // Resumed Mon 11-10: paused = 11-04..07 and 11-10 = 5 working days (strictly after the
    // suspend day, up to and including the resume day).
    // 3 + 5 = 8: 11-04..07 (4), 11-10..13 (8). 15 + 5 = 20: 11-28 (19), 12-01 (20).
    let case = node.act_ok(&zhujian, &case_no, &json!({"action": "resume"}));
    assert_eq!(s(&case, "state"), "accepted");
    assert_eq!(case["paused_days"], 5);
    assert_clocks(&case, "2025-11-13", "2025-12-01", "green");

    // 延期 (行政许可法 art. 42) adds to the legal clock only, once.
    // 15 + 5 + 5 = 25: 12-01 (20), 12-02..05 (24), 12-08 (25).
    let extend = json!({"action": "extend", "days": 5, "reason": "需要现场核查"});
    let case = node.act_ok(&zhujian, &case_no, &extend);
    assert_eq!(case["extension_days"], 5);
    assert_clocks(&case, "2025-11-13", "2025-12-08", "green");
    assert_error(
        &node.act(&zhujian, &case_no, &extend),
        422,
        "invalid_action",
    );

    node.restart(Some("2025-11-14T10:00"));
    // The pause is closed: the deadlines stay put, and Fri 11-14 is past 11-13.
    let case = node.case(&case_no);
    assert_eq!(case["paused_days"], 5);
    assert_clocks(&case, "2025-11-13", "2025-12-08", "red");
    assert_eq!(actions(&case), ["submit", "suspend", "resume", "extend"]);
    node.assert_no_panic();
}

#[test]
fn yellow_then_red_and_concluded_cases_are_judged_by_their_conclusion_day() {
    let mut node = Node::start("350322", Some("2025-11-03T10:00"));
    let zhujian = node.clerk(ZHUJIAN);
    let chengguan = node.clerk(CHENGGUAN);
    let shengtai = node.clerk(SHENGTAI);
    let decide = json!({"action": "decide", "approve": true, "reason": "符合条件"});

    // All accepted Mon 11-03 (November 2025 has no holidays).
    // HUANPING, 10: 11-04..07 (4), 11-10..14 (9), 11-17 (10). Yellow at ≤ max(1, 2) = 2 left.
    let w10 = no(&node.submit_all(&shengtai, HUANPING));
    // SHIGONG, 3: 11-04, 11-05, 11-06. Yellow at ≤ max(1, 0) = 1 left.
    let w3 = no(&node.submit_all(&zhujian, SHIGONG));
    // ZHANDAO, 3: 11-06 too; it will be concluded late.
    let late = no(&node.submit_all(&chengguan, ZHANDAO));
    // PAISHUI, 5: 11-04..07 (4), 11-10; it will be concluded on its last day.
    let on_time = no(&node.submit_all(&zhujian, PAISHUI));
    assert_clocks(&node.case(&w10), "2025-11-17", "2025-12-15", "green");
    assert_clocks(&node.case(&w3), "2025-11-06", "2025-11-24", "green");
    assert_eq!(node.case(&late)["deadline"], "2025-11-06");
    assert_eq!(node.case(&on_time)["deadline"], "2025-11-10");
    assert_eq!(node.cases("warning=green").len(), 4);

    node.restart(Some("2025-11-04T10:00"));
    // w3: 11-05, 11-06 left = 2 > 1: green.
    let case = node.case(&w3);
    assert_eq!(
        (s(&case, "warning"), &case["remaining_days"]),
        ("green", &json!(2))
    );

    node.restart(Some("2025-11-05T10:00"));
    // w3 and late: 11-06 left = 1: yellow. w10: 8 left, on_time: 3 left: green.
    let case = node.case(&w3);
    assert_eq!(
        (s(&case, "warning"), &case["remaining_days"]),
        ("yellow", &json!(1))
    );
    assert_eq!(
        listed(&node, "warning=yellow"),
        sorted(vec![w3.clone(), late.clone()])
    );
    assert_eq!(
        listed(&node, "warning=green"),
        sorted(vec![w10.clone(), on_time.clone()])
    );

    node.restart(Some("2025-11-07T10:00"));
    // Fri 11-07 is past 11-06: red.
    assert_eq!(
        listed(&node, "warning=red"),
        sorted(vec![w3.clone(), late.clone()])
    );
    // Concluded a day late: red, and it stays red.
    let case = node.act_ok(&chengguan, &late, &decide);
    assert_eq!(s(&case, "concluded_on"), "2025-11-07");
    assert_eq!(s(&case, "warning"), "red");

    node.restart(Some("2025-11-10T10:00"));
    // on_time is due today (0 left, yellow); concluded today it is on time: green.
    let case = node.case(&on_time);
    assert_eq!(
        (s(&case, "warning"), &case["remaining_days"]),
        ("yellow", &json!(0))
    );
    let case = node.act_ok(&zhujian, &on_time, &decide);
    assert_eq!(s(&case, "concluded_on"), "2025-11-10");
    assert_eq!(s(&case, "warning"), "green");

    node.restart(Some("2025-11-12T10:00"));
    // w10: 11-13, 11-14, 11-17 left = 3 > 2: green.
    let case = node.case(&w10);
    assert_eq!(
        (s(&case, "warning"), &case["remaining_days"]),
        ("green", &json!(3))
    );

    node.restart(Some("2025-11-13T10:00"));
    // w10: 11-14, 11-17 left = 2: yellow.
    let case = node.case(&w10);
    assert_eq!(
        (s(&case, "warning"), &case["remaining_days"]),
        ("yellow", &json!(2))
    );
    assert_eq!(listed(&node, "warning=yellow"), [w10.as_str()]);

    node.restart(Some("2025-11-18T10:00"));
    // w10 is past 11-17. The late case stays red after delivery, judged by its conclusion day;
    // the on-time one stays green.
    let delivered = node.act_ok(&chengguan, &late, &json!({"action": "deliver"}));
    assert_eq!(s(&delivered, "warning"), "red");
    assert_eq!(
        listed(&node, "warning=red"),
        sorted(vec![w3.clone(), late.clone(), w10.clone()])
    );
    assert_eq!(listed(&node, "warning=green"), [on_time.as_str()]);
    assert!(node.cases("warning=yellow").is_empty());

    // 按期办结率 over the concluded cases: one of two on time; two open cases overdue.
    let (status, st) = node.get("/api/v1/status", &node.admin_token());
    assert_eq!(status, 200, "{st}");
    assert_eq!(st["totals"]["cases"], 4);
    assert_eq!(st["totals"]["overdue"], 2);
    assert_eq!(st["totals"]["on_time_rate"], 0.5);
    node.assert_no_panic();
}

#[test]
fn a_year_without_its_notice_gives_provisional_clocks_until_a_calendar_file_adds_it() {
    // Accepted Fri 2026-12-25: the legal limit (15) runs into 2027, which has no notice built
    // in. 3: 12-28, 12-29, 12-30. 15: 12-28..31 (4), 2027: 01-01 元旦 off, 01-04..08 (9),
    // 01-11..15 (14), 01-18 (15) — by the law's 2027 as by the file below.
    let mut node = Node::start("350322", Some("2026-12-25T10:00"));
    let case = node.submit_all(&node.clerk(ZHUJIAN), SHIGONG);
    let case_no = no(&case);
    assert_eq!(s(&case, "state"), "accepted");
    assert_clocks(&case, "2026-12-30", "2027-01-18", "green");
    assert_eq!(case["provisional"], true, "{case}");
    assert!(case.get("clock_error").is_none(), "{case}");
    // The node said at start that 2027 has no official calendar (from 1 November).
    assert!(
        node.logs()
            .contains("no official working-day calendar for 2027"),
        "{}",
        node.logs()
    );

    // A calendar file with 2027 (元旦 Fri 01-01 off).
    std::fs::write(
        node.dir().join("calendar-2027.toml"),
        "[2027]\nholidays = [\"2027-01-01\"]\nworkdays = []\n",
    )
    .unwrap();
    let config = node.dir().join("node.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replace("[files]\n", "[files]\ncalendar = \"calendar-2027.toml\"\n");
    std::fs::write(&config, text).unwrap();
    node.restart(Some("2026-12-25T11:00"));
    let case = node.case(&case_no);
    assert_clocks(&case, "2026-12-30", "2027-01-18", "green");
    assert_eq!(case["provisional"], false, "{case}");
    let (_, calendar) = node.get("/api/v1/calendar", &node.admin_token());
    assert_eq!(calendar["last_official_year"], 2027, "{calendar}");
    assert_eq!(calendar["alarm"], Value::Null, "{calendar}");
    node.assert_no_panic();
}

/// Every built-in item accepted on any day from today to 2050 has both deadlines and a warning.
#[test]
fn every_item_accepted_up_to_2050_has_its_clocks() {
    let mut node = Node::start("350322", Some("2026-12-04T10:00"));
    let items: Vec<Value> = {
        let (_, catalog) = node.get("/api/v1/catalog", &node.admin_token());
        catalog["items"].as_array().expect("items").clone()
    };
    for clock in ["2026-12-04T10:00", "2036-06-30T10:00", "2050-12-30T10:00"] {
        if clock != "2026-12-04T10:00" {
            node.restart(Some(clock));
        }
        for item in &items {
            let code = s(item, "code");
            let token = node.clerk(s(item, "department"));
            let case = node.submit_all(&token, code);
            if s(&case, "state") == "not_accepted" {
                continue;
            }
            for field in ["deadline", "legal_deadline"] {
                assert!(
                    case[field].is_string(),
                    "{clock} {code}: no {field}: {case}"
                );
            }
            assert!(
                ["green", "yellow", "red"].contains(&s(&case, "warning")),
                "{clock} {code}: {case}"
            );
        }
    }
    node.assert_no_panic();
}

/// A notice for 2027 as the State Council might publish it (test data, not the real one):
/// 元旦 01-01..03; 春节 02-05..02-13 with Sun 02-14 and Sat 02-20 worked (调休); 清明 04-05;
/// 劳动节 05-01..05; 端午 06-09; 中秋 09-15; 国庆 10-01..07 with Sat 10-09 worked.
const NOTICE_2027: &str = r#"[2027]
holidays = [
  "2027-01-01", "2027-01-02", "2027-01-03",
  "2027-02-05", "2027-02-06", "2027-02-07", "2027-02-08", "2027-02-09",
  "2027-02-10", "2027-02-11", "2027-02-12", "2027-02-13",
  "2027-04-05",
  "2027-05-01", "2027-05-02", "2027-05-03", "2027-05-04", "2027-05-05",
  "2027-06-09",
  "2027-09-15",
  "2027-10-01", "2027-10-02", "2027-10-03", "2027-10-04", "2027-10-05",
  "2027-10-06", "2027-10-07",
]
workdays = ["2027-02-14", "2027-02-20", "2027-10-09"]
"#;

/// The county's statistics.
fn totals(node: &Node) -> Value {
    let (status, stats) = node.get("/api/v1/stats", &node.admin_token());
    assert_eq!(status, 200, "{stats}");
    stats["totals"].clone()
}

/// The 2027 boundary in a city–county federation: clocks into 2027 exist and are marked
/// provisional from 2026-12-10; on 2027-01-02 the red lists, overdue counts and a late
/// conclusion follow the provisional calendar; a case decided after 春节 is late by the law's
/// 2027 and on time by the notice — and when the city loads the notice, its broadcast makes
/// the county re-evaluate every case, concluded ones too, and every figure follows, up to the
/// city's.
#[test]
fn the_2027_boundary_then_the_notice_arrives_by_broadcast() {
    use support::federation::{wait_until, Federation, SETTLE};
    const CITY: &str = "350300";
    const COUNTY: &str = "350322";
    let mut fed = Federation::start(&[(CITY, None), (COUNTY, Some(CITY))]);
    fed.stop_all();
    fed.start_at(CITY, "2026-12-10T09:00");
    fed.start_at(COUNTY, "2026-12-10T09:00");
    fed.wait_settled();
    let decide = json!({"action": "decide", "approve": true, "reason": "符合条件"});
    let (a, b, c) = {
        let county = fed.node(COUNTY);
        let zhujian = county.clerk(ZHUJIAN);
        // Accepted Thu 2026-12-10.
        // A, 施工许可 3/15: 12-11, 12-14, 12-15 | 12-16..18, 12-21..25, 12-28..31: all in 2026.
        let a = county.submit_all(&zhujian, SHIGONG);
        assert_clocks(&a, "2026-12-15", "2026-12-31", "green");
        assert_eq!(a["provisional"], false, "{a}");
        county.act_ok(&zhujian, &no(&a), &decide);
        // B, 环评 10/30: 12-11, 12-14..18, 12-21..24 (10) | 12-25, 12-28..31 (15), 2027:
        // 01-01 元旦 off, 01-04..08 (20), 01-11..15 (25), 01-18..22 (30).
        let b = county.submit_all(&county.clerk(SHENGTAI), HUANPING);
        assert_clocks(&b, "2026-12-24", "2027-01-22", "green");
        assert_eq!(b["provisional"], true, "{b}");
        // C, 占道 3/20: 12-15 | 12-16..18, 12-21..25, 12-28..31 (15), 01-04..08 (20).
        let c = county.submit_all(&county.clerk(CHENGGUAN), ZHANDAO);
        assert_clocks(&c, "2026-12-15", "2027-01-08", "green");
        (no(&a), no(&b), no(&c))
    };
    fed.wait_settled();
    // The city holds B's summary with both deadlines, marked provisional; every node warns.
    let summary = |fed: &Federation, name: &str, case_no: &str| {
        let node = fed.node(name);
        node.get(&format!("/api/v1/summaries/{case_no}"), &node.admin_token())
            .1
    };
    let at_city = summary(&fed, CITY, &b);
    assert_eq!(at_city["legal_deadline"], "2027-01-22", "{at_city}");
    assert_eq!(at_city["provisional"], true, "{at_city}");
    assert_eq!(summary(&fed, CITY, &a)["provisional"], false);
    for name in [CITY, COUNTY] {
        let node = fed.node(name);
        let (_, st) = node.get("/api/v1/status", &node.admin_token());
        assert_eq!(
            st["calendar"]["missing_years"],
            json!([2027]),
            "{name}: {st}"
        );
        assert!(node
            .metrics()
            .contains("liandong_calendar_missing_years{node="));
        assert!(
            node.metrics()
                .contains("liandong_calendar_last_official_year{node=\"")
                && node.metrics().contains("} 2026\n")
        );
    }
    assert_eq!(totals(fed.node(COUNTY))["provisional"], 2);

    // 2027-01-02 (Sat): B's and C's promised deadlines have passed: red, overdue; B decided
    // today is concluded late.
    fed.stop_all();
    fed.start_at(CITY, "2027-01-02T09:00");
    fed.start_at(COUNTY, "2027-01-02T09:00");
    {
        let county = fed.node(COUNTY);
        assert_eq!(
            listed(county, "warning=red"),
            sorted(vec![b.clone(), c.clone()])
        );
        let t = totals(county);
        assert_eq!(
            (t["overdue"].clone(), t["concluded"].clone()),
            (json!(2), json!(1))
        );
        let late = county.act_ok(&county.clerk(SHENGTAI), &b, &decide);
        assert_eq!(s(&late, "warning"), "red", "{late}");
        let t = totals(county);
        assert_eq!(
            (t["overdue"].clone(), t["on_time_rate"].clone()),
            (json!(1), json!(0.5))
        );
    }

    // Thu 2027-02-04: D, 施工许可 3/15, across 春节. By the law's 2027: 02-05 (除夕) to 02-08
    // off, Sat 02-06 and Sun 02-07 made up on 02-09 and 02-10; 02-11, 02-12, 02-15 → due
    // 02-15. By the notice: 02-05..13 off, Sun 02-14 worked: 02-14, 02-15, 02-16 → 02-16.
    fed.stop_all();
    fed.start_at(CITY, "2027-02-04T09:00");
    fed.start_at(COUNTY, "2027-02-04T09:00");
    let d = {
        let county = fed.node(COUNTY);
        let d = county.submit_all(&county.clerk(ZHUJIAN), SHIGONG);
        assert_eq!(s(&d, "deadline"), "2027-02-15", "{d}");
        no(&d)
    };
    // Decided on 02-16: late by the provisional calendar.
    fed.stop_all();
    fed.start_at(CITY, "2027-02-16T09:00");
    fed.start_at(COUNTY, "2027-02-16T09:00");
    {
        let county = fed.node(COUNTY);
        let decided = county.act_ok(&county.clerk(ZHUJIAN), &d, &decide);
        assert_eq!(s(&decided, "warning"), "red", "{decided}");
        assert_eq!(decided["provisional"], true);
        let t = totals(county);
        assert_eq!(
            (t["concluded"].clone(), t["on_time"].clone()),
            (json!(3), json!(1))
        );
    }
    fed.wait_settled();
    assert_eq!(summary(&fed, CITY, &d)["warning"], "red");

    // The city loads the notice: one command.
    let notice = fed.root().join("notice-2027.toml");
    std::fs::write(&notice, NOTICE_2027).unwrap();
    let city_config = fed.node(CITY).dir().join("node.toml");
    let out = support::liandong(&[
        "calendar",
        "load",
        notice.to_str().unwrap(),
        "--config",
        city_config.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("loaded 2027"), "{stdout}");

    // The county adopts the broadcast and re-evaluates every case: D on time, nothing
    // provisional — in its case views and in the summaries its statistics count.
    let county = fed.node(COUNTY);
    let followed = |t: &Value| t["on_time"] == 2 && t["provisional"] == 0 && t["concluded"] == 3;
    assert!(
        wait_until(SETTLE, || followed(&totals(county))),
        "{}",
        totals(county)
    );
    let view = county.case(&d);
    assert_eq!(
        (
            s(&view, "deadline"),
            s(&view, "warning"),
            &view["provisional"]
        ),
        ("2027-02-16", "green", &json!(false))
    );
    assert_eq!(county.case(&c)["provisional"], false);
    let changed = fed.log_lines(COUNTY, |l| {
        l.contains("clocks re-evaluated against the calendar in force: 3 of")
    });
    assert!(!changed.is_empty(), "{}", county.logs());
    // The city's figures follow: the county's summaries came up.
    let city = fed.node(CITY);
    assert!(
        wait_until(SETTLE, || followed(&totals(city))),
        "{}\n{}",
        totals(city),
        fed.warnings_report()
    );
    assert_eq!(summary(&fed, CITY, &d)["warning"], "green");
    let (_, st) = city.get("/api/v1/status", &city.admin_token());
    assert_eq!(st["calendar"]["last_official_year"], 2027, "{st}");
    // A restart keeps the loaded notice.
    fed.stop(CITY);
    fed.start_at(CITY, "2027-02-16T10:00");
    let city = fed.node(CITY);
    let (_, cal) = city.get("/api/v1/calendar", &city.admin_token());
    assert_eq!(
        cal["official_years"],
        json!([2024, 2025, 2026, 2027]),
        "{cal}"
    );
    fed.assert_no_panic();
}

/// Runs `liandong calendar ARGS`; `Ok(stdout)` on success, `Err(stderr)` on a non-zero exit.
fn calendar(args: &[&str]) -> Result<String, String> {
    let mut all = vec!["calendar"];
    all.extend_from_slice(args);
    let out = liandong(&all);
    let text = |b: &[u8]| String::from_utf8_lossy(b).trim().to_string();
    if out.status.success() {
        Ok(text(&out.stdout))
    } else {
        Err(text(&out.stderr))
    }
}

#[test]
fn the_calendar_command() {
    // 09-30 + 3 across National Day: 10-09, 10-10, 10-11.
    assert_eq!(
        calendar(&["add-workdays", "2025-09-30", "3"]).unwrap(),
        "2025-10-11"
    );
    // Sat 09-27 + 1: Sun 09-28 (调休).
    assert_eq!(
        calendar(&["add-workdays", "2025-09-27", "1"]).unwrap(),
        "2025-09-28"
    );
    assert_eq!(calendar(&["is-workday", "2026-02-14"]).unwrap(), "yes");
    assert_eq!(calendar(&["is-workday", "2026-02-16"]).unwrap(), "no");
    assert_eq!(calendar(&["is-workday", "2025-10-11"]).unwrap(), "yes");
    // 11-04..07 and 11-10.
    assert_eq!(
        calendar(&["between", "2025-11-03", "2025-11-10"]).unwrap(),
        "5"
    );

    // 2027 has no notice: answered with the law's calendar, marked provisional on stderr.
    for (args, answer) in [
        (&["is-workday", "2027-01-04"][..], "yes"),
        (&["is-workday", "2027-02-09"], "no"), // 春节补假
        (&["add-workdays", "2027-03-01", "1"], "2027-03-02"),
        (&["add-workdays", "2026-12-31", "1"], "2027-01-04"),
    ] {
        let out = liandong(&[&["calendar"][..], args].concat());
        assert!(out.status.success(), "{args:?}: {out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            answer,
            "{args:?}"
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("provisional: 2027"), "{args:?}: {err}");
    }
    let out = liandong(&["calendar", "is-workday", "2026-06-01"]);
    assert!(
        out.stderr.is_empty(),
        "an official year needs no note: {out:?}"
    );
    let shown = calendar(&["show", "2027"]).unwrap();
    assert!(shown.contains("2027: PROVISIONAL"), "{shown}");
    assert!(shown.contains("\"2027-02-05\", # 春节"), "{shown}");
    assert!(shown.contains("\"2027-05-04\", # 劳动节补假"), "{shown}");
    let shown = calendar(&["show", "2026"]).unwrap();
    assert!(shown.contains("2026: official"), "{shown}");
    assert!(shown.contains("workdays = [\"2026-01-04\""), "{shown}");

    // An overlay file adds 2027 (元旦 Fri 01-01 off): Thu 2026-12-31 + 1 = Mon 2027-01-04.
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("calendar-2027.toml");
    std::fs::write(&file, "[2027]\nholidays = [\"2027-01-01\"]\n").unwrap();
    let file = file.to_str().unwrap();
    assert_eq!(
        calendar(&["--file", file, "add-workdays", "2026-12-31", "1"]).unwrap(),
        "2027-01-04"
    );
    assert_eq!(
        calendar(&["--file", file, "is-workday", "2027-01-01"]).unwrap(),
        "no"
    );
    assert_eq!(
        calendar(&["is-workday", "2027-01-04", "--file", file]).unwrap(),
        "yes"
    );
    // The national years are still there under the overlay.
    assert_eq!(
        calendar(&["--file", file, "add-workdays", "2025-09-30", "3"]).unwrap(),
        "2025-10-11"
    );

    // A broken overlay is refused with a reason: Mon 2027-01-04 cannot be an adjusted workday.
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "[2027]\nworkdays = [\"2027-01-04\"]\n").unwrap();
    let err = calendar(&["--file", bad.to_str().unwrap(), "is-workday", "2027-01-05"])
        .expect_err("an invalid calendar file");
    assert!(err.contains("2027-01-04"), "{err}");
}
