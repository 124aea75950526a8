//! The roles of a center beyond window clerks, through a real `liandong` process: the 首席代表
//! (role `chief`), who alone (with admins) decides an item that needs 网上签批 — a reviewer
//! records the decision they propose (`propose`, 拟办意见) for them — and AB角, a clerk's
//! stand-in who acts with their rights while they are away, recorded as such in the history.

mod support;

use serde_json::{json, Value};
use support::{assert_error, liandong, s, Node, SHICHANG, ZHUJIAN};

/// 药品零售企业经营许可 (市场监督管理局): a county item whose decision needs 网上签批.
const PHARMACY: &str = "000187011000";
/// 食品经营许可 (市场监督管理局): a county item without it.
const FOOD: &str = "000187005000";

fn actors(case: &Value) -> Vec<(String, String)> {
    case["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| (s(e, "action").to_string(), s(e, "actor").to_string()))
        .collect()
}

fn show(node: &Node, token: &str, case_no: &str) -> Value {
    let (status, case) = node.get(&format!("/api/v1/cases/{case_no}"), token);
    assert_eq!(status, 200, "{case}");
    case
}

#[test]
fn an_item_with_sign_off_is_decided_by_its_chief_on_a_reviewers_proposal() {
    let node = Node::start("350322", Some("2025-10-09T09:00"));
    let clerk = node.add_operator("王审查", "clerk", Some(SHICHANG));
    let chief = node.add_operator("陈首代", "chief", Some(SHICHANG));
    let other_chief = node.add_operator("林首代", "chief", Some(ZHUJIAN));
    let (status, me) = node.get("/api/v1/session", &chief);
    assert_eq!((status, &me["operator"]["role"]), (200, &json!("chief")));
    // A chief works for a department like a clerk.
    let (status, answer) = node.post(
        "/api/v1/operators",
        &node.admin_token(),
        &json!({"name": "无部门首代", "role": "chief"}),
    );
    assert_error(&(status, answer), 422, "invalid_operator");

    let case = node.submit_all(&clerk, PHARMACY);
    let no = s(&case, "case_no").to_string();
    assert_eq!(case["pending_sign_off"], json!(false));
    node.act_ok(&clerk, &no, &json!({"action": "review"}));
    let decide = json!({"action": "decide", "approve": true, "reason": "符合条件"});
    let refused = assert_error(&node.act(&clerk, &no, &decide), 403, "sign_off_required");
    assert!(
        refused.contains("propose") && refused.contains(SHICHANG),
        "{refused}"
    );
    assert_error(&node.act(&other_chief, &no, &decide), 403, "forbidden");
    assert_eq!(
        s(&show(&node, &clerk, &no), "state"),
        "in_review",
        "nothing changed"
    );

    // The reviewer's proposal changes nothing but the record; the clock runs on.
    let bad = json!({"action": "propose", "approve": true, "reason": " "});
    assert_error(&node.act(&clerk, &no, &bad), 422, "invalid_action");
    let proposed = node.act_ok(
        &clerk,
        &no,
        &json!({"action": "propose", "approve": true, "reason": "材料齐全，现场核查合格"}),
    );
    assert_eq!(s(&proposed, "state"), "in_review");
    assert_eq!(proposed["pending_sign_off"], json!(true));
    let shown = show(&node, &chief, &no);
    assert_eq!(shown["proposal"]["approve"], json!(true));
    assert_eq!(s(&shown["proposal"], "reason"), "材料齐全，现场核查合格");
    assert_eq!(s(&shown["proposal"], "by"), "王审查");
    let (_, listed) = node.get("/api/v1/cases?state=in_review", &chief);
    assert_eq!(
        listed["cases"][0]["pending_sign_off"],
        json!(true),
        "{listed}"
    );

    // The chief's decision is the sign-off.
    let decided = node.act_ok(&chief, &no, &decide);
    assert_eq!(s(&decided, "state"), "approved");
    assert_eq!(decided["pending_sign_off"], json!(false));
    let shown = show(&node, &chief, &no);
    assert!(shown.get("proposal").is_none(), "signed off: {shown}");
    let history = actors(&shown);
    assert!(
        history.contains(&("propose".into(), "王审查".into())),
        "{history:?}"
    );
    assert!(
        history.contains(&("decide".into(), "陈首代".into())),
        "{history:?}"
    );

    // An admin may sign off too; a clerk still decides an item without sign-off alone.
    let second = node.submit_all(&clerk, PHARMACY);
    let second = s(&second, "case_no").to_string();
    let approved = node.act_ok(&node.admin_token(), &second, &decide);
    assert_eq!(s(&approved, "state"), "approved");
    let food = node.submit_all(&clerk, FOOD);
    let food = s(&food, "case_no").to_string();
    assert_eq!(s(&node.act_ok(&clerk, &food, &decide), "state"), "approved");
}

#[test]
fn a_stand_in_acts_with_an_absent_colleagues_rights_and_the_history_says_so() {
    let node = Node::start("350322", Some("2025-10-09T09:00"));
    let admin = node.admin_token();
    let a = node.add_operator("张A", "chief", Some(SHICHANG));
    let b = node.add_operator("李B", "clerk", Some(ZHUJIAN));
    let sup = node.add_operator("周监察", "supervisor", None);
    let case = node.submit_all(&a, PHARMACY);
    let no = s(&case, "case_no").to_string();
    let review = json!({"action": "review"});
    assert_error(&node.act(&b, &no, &review), 403, "forbidden");
    let (_, masked) = node.get(&format!("/api/v1/cases/{no}"), &b);
    assert_eq!(masked["applicant_masked"], json!(true));

    // Who may name whom.
    let stand_in = |token: &str, name: &str, by: Value| {
        node.post(
            &format!("/api/v1/operators/{name}/stand-in"),
            token,
            &json!({ "stand_in": by }),
        )
    };
    assert_error(&stand_in(&b, "张A", json!("李B")), 403, "forbidden");
    assert_error(&stand_in(&a, "张A", json!("张A")), 422, "invalid_stand_in");
    assert_error(
        &stand_in(&a, "张A", json!("周监察")),
        422,
        "invalid_stand_in",
    );
    assert_error(&stand_in(&a, "张A", json!("无此人")), 404, "not_found");
    assert_error(
        &stand_in(&admin, "周监察", json!("李B")),
        422,
        "invalid_stand_in",
    );
    assert_error(&stand_in(&a, "张A", json!(7)), 400, "bad_request");
    let (status, named) = stand_in(&a, "张A", json!("李B"));
    assert_eq!(status, 200, "{named}");
    assert_eq!(s(&named, "stand_in"), "李B");
    let (_, me) = node.get("/api/v1/session", &b);
    assert_eq!(
        me["standing_in_for"],
        json!([{"name": "张A", "role": "chief", "department": SHICHANG}])
    );
    let (_, me) = node.get("/api/v1/session", &a);
    assert_eq!(me["stand_in"], json!("李B"));

    // B now works A's cases — with A's rights, sign-off included — and sees what A sees.
    let (_, shown) = node.get(&format!("/api/v1/cases/{no}"), &b);
    assert_eq!(shown["applicant_masked"], json!(false), "{shown}");
    node.act_ok(&b, &no, &review);
    let decided = node.act_ok(
        &b,
        &no,
        &json!({"action": "decide", "approve": true, "reason": "符合条件"}),
    );
    assert_eq!(s(&decided, "state"), "approved");
    let history = actors(&decided);
    assert!(
        history.contains(&("review".into(), "李B（代张A）".into())),
        "{history:?}"
    );
    assert!(
        history.contains(&("decide".into(), "李B（代张A）".into())),
        "{history:?}"
    );
    // …and accepts for A's department at the window.
    let (status, accepted) = node.submit(&b, FOOD, &node.materials(FOOD, false));
    assert_eq!(status, 201, "{accepted}");
    assert_eq!(actors(&accepted)[0].1, "李B（代张A）");
    // A supervisor is never a stand-in's way in: 督办 stays theirs.
    assert_error(
        &node.act(&b, &no, &json!({"action": "supervise", "note": "x"})),
        403,
        "forbidden",
    );
    let _ = sup;

    // A disabled A ends it; so does A coming back.
    let second = node.submit_all(&a, FOOD);
    let second = s(&second, "case_no").to_string();
    let (status, _) = node.post("/api/v1/operators/张A/disable", &admin, &json!({}));
    assert_eq!(status, 200);
    assert_error(&node.act(&b, &second, &review), 403, "forbidden");
    let (status, _) = node.post("/api/v1/operators/张A/enable", &admin, &json!({}));
    assert_eq!(status, 200);
    node.act_ok(&b, &second, &review);
    let out = liandong(&[
        "operator",
        "stand-in",
        "张A",
        "--nobody",
        "--config",
        node.dir().join("node.toml").to_str().expect("utf-8 path"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, listed) = node.get("/api/v1/operators", &admin);
    let a_view = listed["operators"]
        .as_array()
        .expect("operators")
        .iter()
        .find(|o| o["name"] == "张A")
        .cloned()
        .expect("张A listed");
    assert_eq!(a_view["stand_in"], json!(null));
    assert_error(
        &node.act(
            &b,
            &second,
            &json!({"action": "extend", "days": 2, "reason": "补充核查"}),
        ),
        403,
        "forbidden",
    );
}
