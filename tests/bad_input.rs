//! Every bad request gets a 4xx with `{"error", "message"}` and changes nothing: no case, no
//! event, no burned case number or sequence number, no panic.

mod support;

use serde_json::{json, Value};
use support::*;

const CLOCK: &str = "2025-09-30T10:00";
/// 建筑工程施工许可证核发 (住房和城乡建设局).
const SHIGONG: &str = "000172005000";

/// Asserts an error answer: `status`, the machine code `code` and a non-empty message.
#[track_caller]
fn expect(what: &str, answer: (u16, Value), status: u16, code: &str) {
    let (got, body) = &answer;
    assert!(
        *got == status && body["error"] == code,
        "{what}: expected {status} {code}, got {got} {body}"
    );
    assert!(
        !s(body, "message").trim().is_empty(),
        "{what}: an error without a message: {body}"
    );
}

/// Everything a bad request must leave unchanged.
fn snapshot(node: &Node) -> (Value, String, Value) {
    let admin = node.admin_token();
    let (status, cases) = node.get("/api/v1/cases", &admin);
    assert_eq!(status, 200);
    let (status, operators) = node.get("/api/v1/operators", &admin);
    assert_eq!(status, 200);
    (cases, node.events_stored_line(), operators)
}

fn max_seq(cases: &Value) -> u64 {
    cases["cases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| events(c).into_iter().map(|(_, seq, _)| seq))
        .max()
        .unwrap_or(0)
}

/// 10 000 nested arrays: far deeper than any parser should follow.
fn deeply_nested() -> Vec<u8> {
    let mut v = "[".repeat(10_000).into_bytes();
    v.extend("]".repeat(10_000).into_bytes());
    v
}

#[test]
fn bad_requests_are_refused_and_change_nothing() {
    let node = Node::start("350322", Some(CLOCK));
    let admin = node.admin_token();
    let zhujian = node.clerk(ZHUJIAN);
    let shengtai = node.clerk(SHENGTAI);
    let supervisor = node.add_operator("监察室", "supervisor", None);
    let existing = node.submit_all(&zhujian, SHIGONG);
    let case_no = s(&existing, "case_no").to_string();
    assert_eq!(case_no, "350322-20250930-000001");
    let actions_path = format!("/api/v1/cases/{case_no}/actions");

    let before = snapshot(&node);
    let materials = node.materials(SHIGONG, false);
    let application =
        |applicant: Value| json!({"item": SHIGONG, "applicant": applicant, "materials": materials});
    let submit = |body: &Value, token: &str| node.post("/api/v1/cases", token, body);
    let raw = |path: &str, bytes: &[u8]| node.post_raw(path, &zhujian, bytes, "application/json");
    let act = |token: &str, body: Value| node.act(token, &case_no, &body);

    // ---- bodies that are not JSON, or not the right JSON
    for (what, bytes) in [
        (
            "malformed JSON",
            &br#"{"item": "000172005000", "applicant": "#[..],
        ),
        ("trailing garbage", br#"{"item": "x"} }"#),
        ("empty body", b""),
        ("non-UTF-8 bytes", b"\xff\xfe\xfd"),
        ("non-UTF-8 in a string", b"{\"item\": \"\xff\xfe\"}"),
    ] {
        expect(what, raw("/api/v1/cases", bytes), 400, "bad_request");
        expect(what, raw(&actions_path, bytes), 400, "bad_request");
    }
    expect(
        "10 000 nested arrays",
        raw("/api/v1/cases", &deeply_nested()),
        400,
        "bad_request",
    );
    expect(
        "10 000 nested arrays",
        raw(&actions_path, &deeply_nested()),
        400,
        "bad_request",
    );
    let nested_objects = format!("{}1{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000));
    expect(
        "10 000 nested objects",
        raw(&actions_path, nested_objects.as_bytes()),
        400,
        "bad_request",
    );
    for (what, body) in [
        ("an array", json!([1, 2, 3])),
        (
            "item is a number",
            json!({"item": 5, "applicant": person(), "materials": []}),
        ),
        ("no applicant", json!({"item": SHIGONG, "materials": []})),
        (
            "an unknown field",
            json!({"item": SHIGONG, "applicant": person(), "colour": "red"}),
        ),
        (
            "applicant kind robot",
            json!({"item": SHIGONG, "applicant": {"kind": "robot", "name": "R2", "id": "1"}}),
        ),
        (
            "materials not a list",
            json!({"item": SHIGONG, "applicant": person(), "materials": "全部"}),
        ),
    ] {
        expect(what, submit(&body, &zhujian), 400, "bad_request");
    }

    // ---- applicants whose IDs fail their check characters
    let good = resident_id(7);
    let last = good.chars().last().unwrap();
    let wrong = if last == '0' { '1' } else { '0' };
    let bad_id = format!("{}{wrong}", &good[..17]);
    let answer = submit(
        &application(json!({"kind": "person", "name": "张三", "id": bad_id})),
        &zhujian,
    );
    assert!(s(&answer.1, "message").contains("check"), "{}", answer.1);
    expect(
        "wrong resident-ID check digit",
        answer,
        422,
        "invalid_applicant",
    );
    let x_id = (0..1000)
        .map(resident_id)
        .find(|id| id.ends_with('X'))
        .expect("one in eleven IDs ends in X");
    expect(
        "lowercase x",
        submit(
            &application(json!({"kind": "person", "name": "张三", "id": x_id.to_lowercase()})),
            &zhujian,
        ),
        422,
        "invalid_applicant",
    );
    let good = credit_code(7);
    let wrong = if good.ends_with('1') { '2' } else { '1' };
    let bad_code = format!("{}{wrong}", &good[..17]);
    expect(
        "wrong credit-code check",
        submit(
            &application(json!({"kind": "org", "name": "某公司", "id": bad_code})),
            &zhujian,
        ),
        422,
        "invalid_applicant",
    );
    expect(
        "a credit code for a person",
        submit(
            &application(json!({"kind": "person", "name": "张三", "id": credit_code(8)})),
            &zhujian,
        ),
        422,
        "invalid_applicant",
    );
    expect(
        "an empty name",
        submit(
            &application(json!({"kind": "person", "name": "  ", "id": resident_id(9)})),
            &zhujian,
        ),
        422,
        "invalid_applicant",
    );

    // ---- applications the catalog refuses
    expect(
        "unknown item",
        submit(
            &json!({"item": "000000000001", "applicant": person(), "materials": []}),
            &zhujian,
        ),
        422,
        "unknown_item",
    );
    expect(
        "the wrong department",
        submit(
            &json!({"item": SHIGONG, "applicant": person(), "materials": materials, "department": SHENGTAI}),
            &admin,
        ),
        422,
        "wrong_department",
    );
    let too_many: Vec<String> = (0..101).map(|i| format!("材料{i}")).collect();
    expect(
        "101 materials",
        submit(
            &json!({"item": SHIGONG, "applicant": person(), "materials": too_many}),
            &zhujian,
        ),
        422,
        "bad_materials",
    );
    expect(
        "an empty material name",
        submit(
            &json!({"item": SHIGONG, "applicant": person(), "materials": [""]}),
            &zhujian,
        ),
        422,
        "bad_materials",
    );

    // ---- actions
    expect(
        "unknown action",
        act(&zhujian, json!({"action": "approve_quickly"})),
        400,
        "unknown_action",
    );
    expect(
        "no action",
        act(&zhujian, json!({"approve": true})),
        400,
        "bad_request",
    );
    expect(
        "action not a string",
        act(&zhujian, json!({"action": 7})),
        400,
        "bad_request",
    );
    expect(
        "decide without reason",
        act(&zhujian, json!({"action": "decide", "approve": true})),
        400,
        "bad_request",
    );
    expect(
        "satisfaction 300",
        act(&zhujian, json!({"action": "rate", "satisfaction": 300})),
        400,
        "bad_request",
    );
    expect(
        "negative fee",
        act(
            &zhujian,
            json!({"action": "pay", "amount_fen": -1, "receipt": "R"}),
        ),
        400,
        "bad_request",
    );
    expect(
        "forward to a bad code",
        act(&zhujian, json!({"action": "forward", "to": "12"})),
        400,
        "bad_request",
    );
    expect(
        "certify an accepted case",
        act(
            &zhujian,
            json!({"action": "certify", "certificate_no": "C-1"}),
        ),
        409,
        "wrong_state",
    );
    expect(
        "resume a running case",
        act(&zhujian, json!({"action": "resume"})),
        409,
        "wrong_state",
    );
    expect(
        "deliver an undecided case",
        act(&zhujian, json!({"action": "deliver"})),
        409,
        "wrong_state",
    );
    expect(
        "rate an undecided case",
        act(&zhujian, json!({"action": "rate", "satisfaction": 1})),
        409,
        "wrong_state",
    );
    expect(
        "opinion outside a joint review",
        act(&shengtai, json!({"action": "opinion", "agree": true})),
        409,
        "wrong_state",
    );
    expect(
        "refuse without reason",
        act(&zhujian, json!({"action": "refuse", "reason": ""})),
        422,
        "invalid_action",
    );
    expect(
        "supplement with nothing owed",
        act(
            &zhujian,
            json!({"action": "supplement", "materials": ["施工合同"]}),
        ),
        422,
        "invalid_action",
    );
    expect(
        "forward to itself",
        act(&zhujian, json!({"action": "forward", "to": "350322"})),
        422,
        "invalid_action",
    );
    expect(
        "joint review without participants",
        act(
            &zhujian,
            json!({"action": "open_joint_review", "participants": [], "feedback_days": 5}),
        ),
        422,
        "invalid_action",
    );
    let twice = json!([{"node": "350322", "department": "气象局"}, {"node": "350322", "department": "气象局"}]);
    expect(
        "a participant listed twice",
        act(
            &zhujian,
            json!({"action": "open_joint_review", "participants": twice, "feedback_days": 5}),
        ),
        422,
        "invalid_action",
    );
    expect(
        "extend by 0 days",
        act(
            &zhujian,
            json!({"action": "extend", "days": 0, "reason": "核查"}),
        ),
        422,
        "invalid_action",
    );
    expect(
        "a clerk of another department",
        act(
            &shengtai,
            json!({"action": "decide", "approve": false, "reason": "不同意"}),
        ),
        403,
        "forbidden",
    );
    expect(
        "a clerk submitting for another department",
        submit(&application(person()), &shengtai),
        403,
        "forbidden",
    );
    expect(
        "supervise from the own node",
        act(&supervisor, json!({"action": "supervise", "note": "加快"})),
        403,
        "not_authorised",
    );

    // ---- bodies over 64 KiB
    let big = format!(r#"{{"item": "{}"}}"#, "a".repeat(70 * 1024));
    expect(
        "70 KiB application",
        raw("/api/v1/cases", big.as_bytes()),
        413,
        "too_large",
    );
    expect(
        "70 KiB action",
        raw(&actions_path, big.as_bytes()),
        413,
        "too_large",
    );

    // ---- tokens
    let valid = application(person());
    for (what, token) in [
        ("no token", ""),
        ("unknown token", "0123456789abcdef0123456789abcdef"),
    ] {
        expect(what, submit(&valid, token), 401, "unauthorized");
        expect(what, node.get("/api/v1/cases", token), 401, "unauthorized");
        expect(
            what,
            node.get(&format!("/api/v1/cases/{case_no}"), token),
            401,
            "unauthorized",
        );
        expect(
            what,
            node.act(token, &case_no, &json!({"action": "review"})),
            401,
            "unauthorized",
        );
    }
    let basic = node
        .try_request_with(
            "GET",
            "/api/v1/cases",
            &[("Authorization", "Basic YWRtaW46YWRtaW4=")],
            None,
        )
        .unwrap();
    expect("Basic authentication", basic, 401, "unauthorized");

    // ---- paths and queries
    for bad in [
        "not-a-case",
        "350322-20251340-000001",
        "350322-20250930-1",
        "12-20250930-000001",
    ] {
        expect(
            bad,
            node.get(&format!("/api/v1/cases/{bad}"), &admin),
            400,
            "bad_request",
        );
        expect(
            bad,
            node.act(&zhujian, bad, &json!({"action": "review"})),
            400,
            "bad_request",
        );
    }
    let unknown = "350322-20250930-000099";
    expect(
        "unknown case",
        node.get(&format!("/api/v1/cases/{unknown}"), &admin),
        404,
        "not_found",
    );
    expect(
        "unknown case",
        node.act(&zhujian, unknown, &json!({"action": "review"})),
        404,
        "not_found",
    );
    for query in [
        "state=flying",
        "warning=purple",
        "colour=red",
        "limit=-1",
        "limit=many",
        "state=%FF",
    ] {
        expect(
            query,
            node.get(&format!("/api/v1/cases?{query}"), &admin),
            400,
            "bad_request",
        );
    }
    expect(
        "unknown endpoint",
        node.get("/api/v1/flights", &admin),
        404,
        "not_found",
    );

    // ---- operators
    let clerk_op = json!({"name": "小王", "role": "clerk", "department": ZHUJIAN});
    expect(
        "a clerk adding an operator",
        node.post("/api/v1/operators", &zhujian, &clerk_op),
        403,
        "forbidden",
    );
    expect(
        "a clerk without department",
        node.post(
            "/api/v1/operators",
            &admin,
            &json!({"name": "小王", "role": "clerk"}),
        ),
        422,
        "invalid_operator",
    );
    expect(
        "an unknown role",
        node.post(
            "/api/v1/operators",
            &admin,
            &json!({"name": "小王", "role": "emperor"}),
        ),
        400,
        "bad_request",
    );

    // Nothing changed, and the node is well.
    let after = snapshot(&node);
    assert_eq!(after.0, before.0, "the cases changed");
    assert_eq!(after.1, before.1, "the event count changed");
    assert_eq!(after.2, before.2, "the operators changed");
    node.assert_no_panic();

    // No case number and no sequence number was burned.
    let next = node.submit_all(&zhujian, SHIGONG);
    assert_eq!(s(&next, "case_no"), "350322-20250930-000002");
    let first = events(&next)[0].clone();
    assert_eq!(
        first,
        (
            "350322".to_string(),
            max_seq(&before.0) + 1,
            "submit".to_string()
        )
    );
    assert_eq!(node.case(&case_no), before.0["cases"][0]);
}

/// Regression (node/src/api/mod.rs, `router`): a method the route does not have gets axum's bare
/// `405` with an empty body, not `{"error", "message"}` as API.md requires of every error
/// (`method_not_allowed_fallback` is not set).
#[test]
fn a_wrong_method_is_answered_in_the_error_format() {
    let node = Node::start("350322", Some(CLOCK));
    let admin = node.admin_token();
    for (method, path) in [
        ("DELETE", "/api/v1/cases"),
        ("PUT", "/api/v1/cases/350322-20250930-000001"),
        ("GET", "/api/v1/cases/350322-20250930-000001/actions"),
    ] {
        let (status, body) = node.request(method, path, &admin, None);
        assert_eq!(status, 405, "{method} {path}: {body}");
        assert!(
            body["error"].is_string() && body["message"].is_string(),
            "{method} {path} answered 405 without {{\"error\",\"message\"}}: {body}"
        );
    }
    node.assert_no_panic();
}

/// Regression (node/src/api/cases.rs, `show` and `act`): a case number that is not UTF-8 once
/// percent-decoded (`/api/v1/cases/%FF`) is refused by axum's `Path<String>` extractor with a
/// `text/plain` body ("Invalid URL: Invalid UTF-8 in `case_no`") instead of our JSON error.
#[test]
fn a_case_number_that_is_not_utf8_is_answered_in_the_error_format() {
    let node = Node::start("350322", Some(CLOCK));
    let admin = node.admin_token();
    let (status, body) = node.get("/api/v1/cases/%FF", &admin);
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"] == "bad_request" && body["message"].is_string(),
        "GET /api/v1/cases/%FF answered {body}"
    );
    let (status, body) = node.act(&admin, "%FF%FE", &json!({"action": "review"}));
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"] == "bad_request" && body["message"].is_string(),
        "POST /api/v1/cases/%FF%FE/actions answered {body}"
    );
    node.assert_no_panic();
}

/// Regression (node/src/api/cases.rs, `list`): `?limit=0` lists one case, because the limit is
/// checked only after a case was pushed.
#[test]
fn limit_zero_lists_no_case() {
    let node = Node::start("350322", Some(CLOCK));
    let zhujian = node.clerk(ZHUJIAN);
    node.submit_all(&zhujian, SHIGONG);
    node.submit_all(&zhujian, SHIGONG);
    assert_eq!(node.cases("limit=1").len(), 1);
    assert_eq!(node.cases("limit=5").len(), 2);
    let listed = node.cases("limit=0");
    assert!(
        listed.is_empty(),
        "?limit=0 listed {} case(s)",
        listed.len()
    );
}
