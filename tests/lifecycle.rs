//! Every kind of item from intake to delivery, through the HTTP API of a real node: 即办, 承诺
//! (补正, 容缺, 好差评), fees, 联办, 上报, the side exits (不予受理, withdrawal, 特别程序, 督办), and who
//! may do what.

mod support;

use serde_json::{json, Value};
use support::*;

/// Tuesday 2025-09-30, the last working day before the National Day holiday.
const CLOCK: &str = "2025-09-30T10:00";
const TODAY: &str = "2025-09-30";

/// 个体工商户设立登记: 即办, 容缺 (经营场所使用证明 is non-core).
const GETI: &str = "000187002000";
/// 企业设立登记: 即办, all materials core.
const QIYE: &str = "000187001000";
/// 建筑工程施工许可证核发: 承诺 3 / 法定 15 working days, 容缺.
const SHIGONG: &str = "000172005000";
/// 国有建设用地使用权及房屋所有权转移登记: fee 8000 fen, not 容缺.
const BUDONGCHAN: &str = "000171021000";
/// 建设工程竣工联合验收: 联办 with 自然资源和规划局, 人民防空办公室, 气象局.
const YANSHOU: &str = "000172023000";
/// 林木采伐许可证核发: 上报, decided by the city.
const CAIFA: &str = "000176006000";

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|m| m.to_string()).collect()
}

fn list(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("{v} is not a list"))
        .iter()
        .map(|m| m.as_str().expect("a string").to_string())
        .collect()
}

fn case_nos(cases: &[Value]) -> Vec<String> {
    let mut nos: Vec<String> = cases.iter().map(|c| s(c, "case_no").to_string()).collect();
    nos.sort();
    nos
}

#[test]
fn immediate_items_are_decided_and_delivered_at_the_window() {
    let node = Node::start("350322", Some(CLOCK));
    let clerk = node.clerk(SHICHANG);

    let case = node.submit_all(&clerk, GETI);
    let no = s(&case, "case_no").to_string();
    assert_eq!(no, "350322-20250930-000001");
    assert_eq!(s(&case, "kind"), "immediate");
    assert_eq!(s(&case, "state"), "approved");
    assert_eq!(s(&case, "accepting_node"), "350322");
    assert_eq!(s(&case, "owner"), "350322");
    assert_eq!(s(&case, "accepted_on"), TODAY);
    assert_eq!(case["concluded_on"], case["accepted_on"]);
    assert_eq!(case["decision"]["approve"], true);
    assert_eq!(s(&case, "warning"), "green");
    assert!(list(&case["missing"]).is_empty() && list(&case["owed"]).is_empty());

    let case = node.act_ok(&clerk, &no, &json!({"action": "deliver"}));
    assert_eq!(s(&case, "state"), "delivered");
    assert_eq!(s(&case, "concluded_on"), TODAY);
    assert_eq!(
        events(&case),
        [
            ("350322".to_string(), 1, "submit".to_string()),
            ("350322".to_string(), 2, "deliver".to_string())
        ]
    );
    assert_eq!(node.case(&no), case, "GET shows what the action answered");

    // An organisation, naming the department explicitly.
    let body = json!({"item": QIYE, "applicant": org(), "materials": node.materials(QIYE, false),
                      "department": SHICHANG});
    let (status, case) = node.post("/api/v1/cases", &clerk, &body);
    assert_eq!(status, 201, "{case}");
    assert_eq!(s(&case, "case_no"), "350322-20250930-000002");
    assert_eq!(s(&case, "state"), "approved");
    assert_eq!(case["applicant"]["kind"], "org");
    let case = node.act_ok(&clerk, s(&case, "case_no"), &json!({"action": "deliver"}));
    assert_eq!(s(&case, "state"), "delivered");

    // 容缺 on an immediate item: accepted, but not decided while the material is owed.
    let (status, case) = node.submit(&clerk, GETI, &node.materials(GETI, true));
    assert_eq!(status, 201, "{case}");
    assert_eq!(s(&case, "state"), "accepted");
    assert_eq!(list(&case["owed"]), ["经营场所使用证明"]);
    let no = s(&case, "case_no").to_string();
    let decide = json!({"action": "decide", "approve": true, "reason": "符合条件"});
    assert_error(&node.act(&clerk, &no, &decide), 422, "invalid_action");
    node.act_ok(
        &clerk,
        &no,
        &json!({"action": "supplement", "materials": ["经营场所使用证明"]}),
    );
    let case = node.act_ok(&clerk, &no, &decide);
    assert_eq!(s(&case, "state"), "approved");
    node.assert_no_panic();
}

#[test]
fn promised_item_from_supplement_to_rating() {
    let node = Node::start("350322", Some(CLOCK));
    let clerk = node.clerk(ZHUJIAN);

    // Two of five core materials and none of the two non-core ones.
    let given = names(&["建筑工程施工许可证申请表", "施工合同"]);
    let (status, case) = node.submit(&clerk, SHIGONG, &given);
    assert_eq!(status, 201, "{case}");
    let no = s(&case, "case_no").to_string();
    assert_eq!(s(&case, "state"), "awaiting_supplement");
    // 一次性告知: every missing core material at once, in catalog order.
    assert_eq!(
        list(&case["missing"]),
        [
            "建设工程规划许可证",
            "施工图审查合格书",
            "建设资金已经落实承诺书"
        ]
    );
    assert_eq!(list(&case["owed"]), ["工程质量安全监督手续", "授权委托书"]);
    assert_eq!(case["accepted_on"], Value::Null);
    assert_eq!(case["deadline"], Value::Null, "the clock has not started");

    // Part of the 补正: still waiting, for exactly the rest.
    let case = node.act_ok(
        &clerk,
        &no,
        &json!({"action": "supplement", "materials": ["施工图审查合格书"]}),
    );
    assert_eq!(s(&case, "state"), "awaiting_supplement");
    assert_eq!(
        list(&case["missing"]),
        ["建设工程规划许可证", "建设资金已经落实承诺书"]
    );

    let case = node.act_ok(
        &clerk,
        &no,
        &json!({"action": "supplement", "materials": ["建设工程规划许可证", "建设资金已经落实承诺书"]}),
    );
    assert_eq!(s(&case, "state"), "accepted");
    assert!(list(&case["missing"]).is_empty());
    assert_eq!(s(&case, "accepted_on"), TODAY);
    // 3 working days after Tue 09-30 across the holiday (10-01..08 off): 10-09, 10-10, 10-11 (Sat, 调休).
    assert_eq!(s(&case, "deadline"), "2025-10-11");
    assert_eq!(s(&case, "legal_deadline"), "2025-10-28");

    let case = node.act_ok(&clerk, &no, &json!({"action": "review"}));
    assert_eq!(s(&case, "state"), "in_review");

    // 容缺 materials must be in before an approval; a refused action changes nothing.
    let before = node.case(&no);
    let decide = json!({"action": "decide", "approve": true, "reason": "符合法定条件"});
    let message = assert_error(&node.act(&clerk, &no, &decide), 422, "invalid_action");
    assert!(message.contains("工程质量安全监督手续"), "{message}");
    assert_eq!(node.case(&no), before);

    let case = node.act_ok(
        &clerk,
        &no,
        &json!({"action": "supplement", "materials": ["工程质量安全监督手续", "授权委托书"]}),
    );
    assert_eq!(s(&case, "state"), "in_review");
    assert!(list(&case["owed"]).is_empty());

    let case = node.act_ok(&clerk, &no, &decide);
    assert_eq!(s(&case, "state"), "approved");
    assert_eq!(s(&case, "concluded_on"), TODAY);
    assert_eq!(case["decision"]["approve"], true);
    assert_eq!(s(&case, "warning"), "green");

    let case = node.act_ok(
        &clerk,
        &no,
        &json!({"action": "certify", "certificate_no": "350322202509300101"}),
    );
    assert_eq!(s(&case, "state"), "certified");
    assert_eq!(s(&case, "certificate_no"), "350322202509300101");

    let case = node.act_ok(&clerk, &no, &json!({"action": "deliver"}));
    assert_eq!(s(&case, "state"), "delivered");

    // 5 非常不满意 is a 差评: rectification due 15 working days after the rating day:
    // 10-09, 10-10, 10-11 (3), 10-13..17 (8), 10-20..24 (13), 10-27 (14), 10-28 (15).
    let case = node.act_ok(
        &clerk,
        &no,
        &json!({"action": "rate", "satisfaction": 5, "comment": "跑了两趟"}),
    );
    assert_eq!(case["rating"]["satisfaction"], 5);
    assert_eq!(s(&case["rating"], "comment"), "跑了两趟");
    assert_eq!(s(&case["rating"], "on"), TODAY);
    assert_eq!(s(&case, "rectification_due"), "2025-10-28");
    assert_eq!(s(&case, "state"), "delivered");
    // Rated once only.
    let again = json!({"action": "rate", "satisfaction": 1, "comment": ""});
    assert_error(&node.act(&clerk, &no, &again), 422, "invalid_action");

    // The history: one origin, gapless seqs from 1, the actions in order, none rejected.
    let expected = [
        "submit",
        "supplement",
        "supplement",
        "review",
        "supplement",
        "decide",
        "certify",
        "deliver",
        "rate",
    ];
    let evs = events(&case);
    assert_eq!(actions(&case), expected);
    for (i, (origin, seq, _)) in evs.iter().enumerate() {
        assert_eq!(origin, "350322");
        assert_eq!(*seq, i as u64 + 1, "seqs are gapless from 1: {evs:?}");
    }
    for e in case["events"].as_array().unwrap() {
        assert!(e.get("rejected").is_none(), "{e}");
        assert!(s(e, "at").starts_with("2025-09-30T10:"), "{e}");
    }
    assert_eq!(node.case(&no), case);
    node.assert_no_panic();
}

#[test]
fn a_fee_is_paid_in_full_before_the_certificate() {
    let node = Node::start("350322", Some(CLOCK));
    let clerk = node.clerk(ZIRAN);
    assert_eq!(node.item(BUDONGCHAN)["fee_fen"], 8000);

    let case = node.submit_all(&clerk, BUDONGCHAN);
    let no = s(&case, "case_no").to_string();
    assert_eq!(s(&case, "state"), "accepted");
    assert_eq!(case["fee_fen"], 8000);
    let case = node.act_ok(
        &clerk,
        &no,
        &json!({"action": "decide", "approve": true, "reason": "材料齐全"}),
    );
    assert_eq!(s(&case, "state"), "approved");

    let certify = json!({"action": "certify", "certificate_no": "闽(2025)仙游县不动产权第0001号"});
    assert_error(&node.act(&clerk, &no, &certify), 422, "invalid_action");
    assert_error(
        &node.act(&clerk, &no, &json!({"action": "deliver"})),
        422,
        "invalid_action",
    );
    let message = assert_error(
        &node.act(
            &clerk,
            &no,
            &json!({"action": "pay", "amount_fen": 800, "receipt": "R-1"}),
        ),
        422,
        "invalid_action",
    );
    assert!(message.contains("8000"), "{message}");
    assert_eq!(node.case(&no)["payment"], Value::Null);

    let pay = json!({"action": "pay", "amount_fen": 8000, "receipt": "R-2"});
    let case = node.act_ok(&clerk, &no, &pay);
    assert_eq!(
        case["payment"],
        json!({"amount_fen": 8000, "receipt": "R-2"})
    );
    assert_eq!(s(&case, "state"), "approved");
    assert_error(&node.act(&clerk, &no, &pay), 422, "invalid_action");

    let case = node.act_ok(&clerk, &no, &certify);
    assert_eq!(s(&case, "state"), "certified");
    let case = node.act_ok(&clerk, &no, &json!({"action": "deliver"}));
    assert_eq!(s(&case, "state"), "delivered");
    // 1 非常满意 is no 差评: nothing to rectify.
    let case = node.act_ok(
        &clerk,
        &no,
        &json!({"action": "rate", "satisfaction": 1, "comment": "一次办好"}),
    );
    assert_eq!(case["rating"]["satisfaction"], 1);
    assert_eq!(case["rectification_due"], Value::Null);
    assert_eq!(
        actions(&case),
        ["submit", "decide", "pay", "certify", "deliver", "rate"]
    );

    // An item without a fee cannot be paid for, even once approved.
    let other = node.submit_all(&node.clerk(ZHUJIAN), SHIGONG);
    node.act_ok(
        &node.admin_token(),
        s(&other, "case_no"),
        &json!({"action": "decide", "approve": true, "reason": "材料齐全"}),
    );
    assert_error(
        &node.act(&node.admin_token(), s(&other, "case_no"), &pay),
        422,
        "invalid_action",
    );
    node.assert_no_panic();
}

#[test]
fn joint_review_waits_for_every_opinion_and_a_dissent_needs_an_override() {
    let node = Node::start("350322", Some(CLOCK));
    let lead = node.clerk(ZHUJIAN);
    let departments: Vec<String> = node.item(YANSHOU)["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .map(|p| s(p, "department").to_string())
        .collect();
    assert_eq!(
        departments,
        ["自然资源和规划局", "人民防空办公室", "气象局"]
    );

    let case = node.submit_all(&lead, YANSHOU);
    let no = s(&case, "case_no").to_string();
    assert_eq!(s(&case, "kind"), "joint");
    assert_eq!(s(&case, "state"), "accepted");

    let participants: Vec<Value> = departments
        .iter()
        .map(|d| json!({"node": "350322", "department": d}))
        .collect();
    let open =
        json!({"action": "open_joint_review", "participants": participants, "feedback_days": 5});
    let case = node.act_ok(&lead, &no, &open);
    assert_eq!(s(&case, "state"), "joint_review");
    // 限时反馈: 5 working days after 09-30: 10-09, 10-10, 10-11, 10-13, 10-14.
    assert_eq!(s(&case, "feedback_due"), "2025-10-14");
    let seats = case["participants"].as_array().expect("participants");
    assert_eq!(seats.len(), 3);
    for (seat, department) in seats.iter().zip(&departments) {
        assert_eq!(s(seat, "node"), "350322");
        assert_eq!(s(seat, "department"), department);
        assert!(seat.get("opinion").is_none(), "{seat}");
    }

    let approve = json!({"action": "decide", "approve": true, "reason": "验收合格"});
    let message = assert_error(&node.act(&lead, &no, &approve), 422, "invalid_action");
    assert!(message.contains("气象局"), "{message}");

    // A department that does not sit in the review has no say.
    let outsider = node.clerk(SHICHANG);
    let opinion = json!({"action": "opinion", "agree": true, "comment": "同意"});
    let before = node.case(&no);
    assert_error(&node.act(&outsider, &no, &opinion), 403, "not_authorised");
    assert_eq!(node.case(&no), before);

    let clerks: Vec<String> = departments.iter().map(|d| node.clerk(d)).collect();
    node.act_ok(&clerks[0], &no, &opinion);
    node.act_ok(&clerks[1], &no, &opinion);
    // Not yet: 气象局 has not answered.
    assert_error(&node.act(&lead, &no, &approve), 422, "invalid_action");
    let dissent = json!({"action": "opinion", "agree": false, "comment": "防雷装置检测报告过期"});
    let case = node.act_ok(&clerks[2], &no, &dissent);
    assert_eq!(s(&case, "state"), "joint_review");
    // One opinion per seat.
    assert_error(&node.act(&clerks[2], &no, &opinion), 422, "invalid_action");

    let message = assert_error(&node.act(&lead, &no, &approve), 422, "invalid_action");
    assert!(message.contains("override_reason"), "{message}");
    let blank =
        json!({"action": "decide", "approve": true, "reason": "验收合格", "override_reason": "  "});
    assert_error(&node.act(&lead, &no, &blank), 422, "invalid_action");

    let overridden = json!({"action": "decide", "approve": true, "reason": "验收合格",
                            "override_reason": "检测报告已补正，经联席会议研究同意"});
    let case = node.act_ok(&lead, &no, &overridden);
    assert_eq!(s(&case, "state"), "approved");
    assert_eq!(
        s(&case["decision"], "override_reason"),
        "检测报告已补正，经联席会议研究同意"
    );
    let seats = case["participants"].as_array().expect("participants");
    let opinions: Vec<(bool, &str)> = seats
        .iter()
        .map(|p| {
            (
                p["opinion"]["agree"].as_bool().expect("an opinion"),
                s(&p["opinion"], "comment"),
            )
        })
        .collect();
    assert_eq!(
        opinions,
        [
            (true, "同意"),
            (true, "同意"),
            (false, "防雷装置检测报告过期")
        ]
    );
    assert_eq!(s(&seats[2]["opinion"], "on"), TODAY);

    let case = node.act_ok(&lead, &no, &json!({"action": "deliver"}));
    assert_eq!(s(&case, "state"), "delivered");
    assert_eq!(
        actions(&case),
        [
            "submit",
            "open_joint_review",
            "opinion",
            "opinion",
            "opinion",
            "decide",
            "deliver"
        ]
    );
    node.assert_no_panic();
}

#[test]
fn report_up_item_is_decided_at_the_city_and_forwarded_by_the_county() {
    // At the deciding level: accepted, reviewed, decided, certified and delivered in place.
    let city = Node::start("350300", Some(CLOCK));
    let clerk = city.clerk(LINYE);
    let case = city.submit_all(&clerk, CAIFA);
    let no = s(&case, "case_no").to_string();
    assert!(no.starts_with("350300-20250930-"), "{no}");
    assert_eq!(s(&case, "kind"), "report_up");
    assert_eq!(s(&case, "state"), "accepted");
    for (action, state) in [
        (json!({"action": "review"}), "in_review"),
        (
            json!({"action": "decide", "approve": true, "reason": "符合采伐限额"}),
            "approved",
        ),
        (
            json!({"action": "certify", "certificate_no": "闽林采〔2025〕001号"}),
            "certified",
        ),
        (json!({"action": "deliver"}), "delivered"),
    ] {
        let case = city.act_ok(&clerk, &no, &action);
        assert_eq!(s(&case, "state"), state, "after {action}");
        assert_eq!(s(&case, "owner"), "350300");
    }

    // At the county: 初审, then up to the city by default.
    let county = Node::start("350322", Some(CLOCK));
    let clerk = county.clerk(LINYE);
    let case = county.submit_all(&clerk, CAIFA);
    let no = s(&case, "case_no").to_string();
    county.act_ok(&clerk, &no, &json!({"action": "review"}));
    let case = county.act_ok(&clerk, &no, &json!({"action": "forward"}));
    assert_eq!(s(&case, "state"), "in_transit");
    assert_eq!(s(&case, "forwarded_to"), "350300");
    assert_eq!(
        s(&case, "owner"),
        "350322",
        "ownership moves only when taken over"
    );
    assert_eq!(actions(&case), ["submit", "review", "forward"]);
    // Nothing more happens here while it is in transit.
    let decide = json!({"action": "decide", "approve": true, "reason": "同意"});
    assert_error(&county.act(&clerk, &no, &decide), 409, "wrong_state");
    city.assert_no_panic();
    county.assert_no_panic();
}

/// Regression (federation-proto/src/case.rs, `check_transition` / `check_decide`): a county node may decide a
/// 上报件 whose deciding level is the city (越权审批). A 上报件 is only pre-reviewed (初审) below the
/// deciding level; `decide` there must be refused (4xx) and the case left in review.
#[test]
fn a_county_cannot_decide_an_item_decided_by_the_city() {
    let county = Node::start("350322", Some(CLOCK));
    let clerk = county.clerk(LINYE);
    let case = county.submit_all(&clerk, CAIFA);
    let no = s(&case, "case_no").to_string();
    county.act_ok(&clerk, &no, &json!({"action": "review"}));
    let decide = json!({"action": "decide", "approve": true, "reason": "同意采伐"});
    let (status, answer) = county.act(&clerk, &no, &decide);
    assert!(
        (400..500).contains(&status),
        "county 350322 decided a city-level 上报件 ({status}): {answer}"
    );
    assert_eq!(s(&county.case(&no), "state"), "in_review");
}

#[test]
fn refusal_withdrawal_suspension_and_supervision() {
    let node = Node::start("350322", Some(CLOCK));
    let clerk = node.clerk(ZHUJIAN);
    let supervisor = node.add_operator("监察科", "supervisor", None);

    // 不予受理 while awaiting 补正; a reason is required.
    let (status, case) = node.submit(&clerk, SHIGONG, &names(&["施工合同"]));
    assert_eq!(status, 201);
    let no = s(&case, "case_no").to_string();
    assert_error(
        &node.act(&clerk, &no, &json!({"action": "refuse", "reason": " "})),
        422,
        "invalid_action",
    );
    let case = node.act_ok(
        &clerk,
        &no,
        &json!({"action": "refuse", "reason": "不属于本机关职权范围"}),
    );
    assert_eq!(s(&case, "state"), "not_accepted");
    assert_eq!(s(&case, "warning"), "green");
    // Terminal.
    let supplement = json!({"action": "supplement", "materials": ["建设工程规划许可证"]});
    assert_error(&node.act(&clerk, &no, &supplement), 409, "wrong_state");

    // 特别程序: suspended and resumed to where it was; then withdrawn by the applicant.
    let case = node.submit_all(&clerk, SHIGONG);
    let no = s(&case, "case_no").to_string();
    node.act_ok(&clerk, &no, &json!({"action": "review"}));
    let suspend =
        json!({"action": "suspend", "procedure": "expert_review", "reason": "组织专家论证"});
    let case = node.act_ok(&clerk, &no, &suspend);
    assert_eq!(s(&case, "state"), "suspended");
    let decide = json!({"action": "decide", "approve": true, "reason": "同意"});
    assert_error(&node.act(&clerk, &no, &decide), 409, "wrong_state");
    let bad_procedure = json!({"action": "suspend", "procedure": "lunch", "reason": "午休"});
    assert_error(&node.act(&clerk, &no, &bad_procedure), 400, "bad_request");
    let case = node.act_ok(&clerk, &no, &json!({"action": "resume"}));
    assert_eq!(s(&case, "state"), "in_review");
    assert_error(
        &node.act(&clerk, &no, &json!({"action": "resume"})),
        409,
        "wrong_state",
    );
    let case = node.act_ok(&clerk, &no, &json!({"action": "withdraw"}));
    assert_eq!(s(&case, "state"), "withdrawn");
    assert_eq!(case["concluded_on"], Value::Null);
    assert_error(&node.act(&clerk, &no, &decide), 409, "wrong_state");
    assert_eq!(
        actions(&case),
        ["submit", "review", "suspend", "resume", "withdraw"]
    );

    // 督办 comes from an ancestor of the owner; the node's own supervisor is not one.
    let case = node.submit_all(&clerk, SHIGONG);
    let no = s(&case, "case_no").to_string();
    let before = node.case(&no);
    let supervise = json!({"action": "supervise", "note": "请加快办理"});
    let (status, answer) = node.act(&supervisor, &no, &supervise);
    assert!(
        status == 403 || status == 409,
        "supervise on the own node: {status} {answer}"
    );
    assert!(!s(&answer, "error").is_empty() && !s(&answer, "message").is_empty());
    // A clerk may not supervise at all, and a supervisor does nothing else.
    assert_error(&node.act(&clerk, &no, &supervise), 403, "forbidden");
    assert_error(
        &node.act(&supervisor, &no, &json!({"action": "review"})),
        403,
        "forbidden",
    );
    assert_eq!(node.case(&no), before);
    node.assert_no_panic();
}

#[test]
fn clerks_act_for_their_own_department_and_lists_filter() {
    let node = Node::start("350322", Some(CLOCK));
    let zhujian = node.clerk(ZHUJIAN);
    let shengtai = node.clerk(SHENGTAI);
    let supervisor = node.add_operator("督查室", "supervisor", None);

    let case = node.submit_all(&zhujian, SHIGONG);
    let no = s(&case, "case_no").to_string();
    node.act_ok(&zhujian, &no, &json!({"action": "review"}));

    // Another department's clerk: refused, nothing changes.
    let before = node.case(&no);
    let events_before = node.events_stored();
    for action in [
        json!({"action": "decide", "approve": false, "reason": "不同意"}),
        json!({"action": "withdraw"}),
        json!({"action": "supplement", "materials": ["授权委托书"]}),
    ] {
        assert_error(&node.act(&shengtai, &no, &action), 403, "forbidden");
    }
    assert_eq!(node.case(&no), before);
    assert_eq!(node.events_stored(), events_before);

    // Nor may they accept the other department's items; a supervisor accepts nothing.
    assert_error(
        &node.submit(&shengtai, SHIGONG, &node.materials(SHIGONG, false)),
        403,
        "forbidden",
    );
    assert_error(
        &node.submit(&supervisor, SHIGONG, &node.materials(SHIGONG, false)),
        403,
        "forbidden",
    );
    assert_eq!(node.events_stored(), events_before);
    // Everyone may read.
    assert_eq!(node.get(&format!("/api/v1/cases/{no}"), &supervisor).0, 200);
    assert_eq!(node.get(&format!("/api/v1/cases/{no}"), &shengtai).0, 200);

    // A few more cases to filter: one delivered 即办, one awaiting 补正, one of 生态环境局.
    let shichang = node.clerk(SHICHANG);
    let geti = node.submit_all(&shichang, GETI);
    let geti_no = s(&geti, "case_no").to_string();
    node.act_ok(&shichang, &geti_no, &json!({"action": "deliver"}));
    let (_, waiting) = node.submit(&zhujian, SHIGONG, &names(&["施工合同"]));
    let waiting_no = s(&waiting, "case_no").to_string();
    let huanping = node.submit_all(&shengtai, "000183001002");
    let huanping_no = s(&huanping, "case_no").to_string();

    let all = node.cases("");
    assert_eq!(all.len(), 4);
    assert_eq!(case_nos(&node.cases("state=delivered")), [geti_no.as_str()]);
    assert_eq!(case_nos(&node.cases("state=in_review")), [no.as_str()]);
    assert_eq!(
        case_nos(&node.cases("state=awaiting_supplement")),
        [waiting_no.as_str()]
    );
    let mut shigong = vec![no.clone(), waiting_no.clone()];
    shigong.sort();
    assert_eq!(case_nos(&node.cases(&format!("item={SHIGONG}"))), shigong);
    assert_eq!(
        case_nos(&node.cases(&format!("item={SHIGONG}&state=in_review"))),
        [no.as_str()]
    );
    assert_eq!(
        case_nos(&node.cases("item=000183001002")),
        [huanping_no.as_str()]
    );
    assert!(node.cases("item=000000000000").is_empty());
    // Everything was accepted today with days to spare: all green.
    assert_eq!(node.cases("warning=green").len(), 4);
    assert!(node.cases("warning=yellow").is_empty());
    assert!(node.cases("warning=red").is_empty());
    assert_eq!(node.cases("owner=350322").len(), 4);
    assert!(node.cases("owner=350300").is_empty());
    // The listed views are the case views.
    let listed = node.cases("state=delivered");
    assert_eq!(listed[0], node.case(&geti_no));
    node.assert_no_panic();
}
