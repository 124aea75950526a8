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
    let page = |limit: u32| {
        let (status, body) = node.get(&format!("/api/v1/cases?limit={limit}"), &zhujian);
        assert_eq!(status, 200, "{body}");
        body["cases"].as_array().expect("cases").clone()
    };
    assert_eq!(page(1).len(), 1);
    assert_eq!(page(5).len(), 2);
    let listed = page(0);
    assert!(
        listed.is_empty(),
        "?limit=0 listed {} case(s)",
        listed.len()
    );
}

/// Texts an attacker would try: SQL, shell, HTML/script, path traversal, NUL and terminal
/// escapes, header injection, template and format strings, a right-to-left override.
const HOSTILE: [&str; 11] = [
    "'; DROP TABLE cases; --",
    "\" OR \"1\"=\"1",
    "$(rm -rf /) `reboot` ; cat /etc/passwd | nc 127.0.0.1 9",
    "<script>alert('x')</script><img src=x onerror=alert(1)>",
    "../../../../etc/passwd",
    "..\\..\\windows\\system32\\config",
    "%00%2e%2e%2f\u{0}nul",
    "a\u{7}\u{1b}[31mred\u{1b}[0m",
    "x\r\nSet-Cookie: admin=1\r\n\r\nHTTP/1.1 200 OK",
    "{{7*7}} ${7*7} %s%s%n {0}",
    "\u{202e}fdp.exe",
];

/// Asserts that `answer` either refuses with a 4xx in the error format, or is a 2xx; returns
/// whether it was accepted.
#[track_caller]
fn refused_or_accepted(what: &str, answer: &(u16, Value)) -> bool {
    let (status, body) = answer;
    match status {
        200..=299 => true,
        400..=499 => {
            assert!(
                body["error"].is_string() && !s(body, "message").is_empty(),
                "{what}: {status} without {{\"error\", \"message\"}}: {body}"
            );
            false
        }
        _ => panic!("{what}: answered {status} {body}"),
    }
}

/// Hostile texts as an applicant's name, as materials, as the reasons of a suspension, a
/// refusal and a decision, as a certificate number and as an operator's name: each is refused
/// with a clear 4xx or stored verbatim as inert text and read back exactly as sent (materials
/// are trimmed, as any material name). The same texts as case numbers in the path and as list
/// filters get a 4xx or an empty answer. The node answers throughout and never panics.
#[test]
fn hostile_texts_are_refused_or_stored_verbatim() {
    let node = Node::start("350322", Some(CLOCK));
    let admin = node.admin_token();
    let materials = node.materials(SHIGONG, false);
    let mut stored = 0;
    for (i, text) in HOSTILE.iter().enumerate() {
        // The applicant's name.
        let applicant = json!({"kind": "person", "name": text, "id": resident_id(100 + i as u32)});
        let answer = node.post(
            "/api/v1/cases",
            &admin,
            &json!({"item": SHIGONG, "applicant": applicant, "materials": materials}),
        );
        if refused_or_accepted("an applicant's name", &answer) {
            let no = s(&answer.1, "case_no");
            assert_eq!(node.case(no)["applicant"]["name"], *text);
            stored += 1;
        }

        // A material, then reasons and a certificate number on the case.
        let mut given = materials.clone();
        given.push(text.to_string());
        let answer = node.post(
            "/api/v1/cases",
            &admin,
            &json!({"item": SHIGONG, "applicant": person(), "materials": given}),
        );
        if !refused_or_accepted("a material", &answer) {
            continue;
        }
        let no = s(&answer.1, "case_no").to_string();
        let case = node.case(&no);
        assert!(
            case["materials"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m == text.trim()),
            "material {text:?} not stored verbatim: {}",
            case["materials"]
        );
        stored += 1;
        let steps = [
            json!({"action": "review"}),
            json!({"action": "suspend", "procedure": "site_survey", "reason": text}),
            json!({"action": "resume"}),
            json!({"action": "decide", "approve": true, "reason": text}),
            json!({"action": "pay", "amount_fen": case["fee_fen"], "receipt": text}),
            json!({"action": "certify", "certificate_no": text}),
        ];
        for step in steps {
            if step["action"] == "pay" && case["fee_fen"] == 0 {
                continue;
            }
            let answer = node.act(&admin, &no, &step);
            refused_or_accepted(&format!("{step}"), &answer);
        }
        let case = node.case(&no);
        if case["decision"].is_object() {
            assert_eq!(case["decision"]["reason"], *text, "{case}");
        }
        if case["certificate_no"].is_string() {
            assert_eq!(case["certificate_no"], *text, "{case}");
        }

        // A refusal at intake, on another case. (The case view shows no refusal reason:
        // refused or accepted is all there is to see.)
        let other = node.submit_all(&admin, SHIGONG);
        let refuse = json!({"action": "refuse", "reason": text});
        refused_or_accepted(
            "a refusal's reason",
            &node.act(&admin, s(&other, "case_no"), &refuse),
        );

        // An operator's name.
        let answer = node.post(
            "/api/v1/operators",
            &admin,
            &json!({"name": text, "role": "supervisor"}),
        );
        if refused_or_accepted("an operator's name", &answer) {
            let (status, list) = node.get("/api/v1/operators", &admin);
            assert_eq!(status, 200);
            assert!(list
                .to_string()
                .contains(&Value::String(text.to_string()).to_string()));
        }
    }
    assert!(
        stored > 0,
        "every hostile text was refused: is the test blind?"
    );

    // As case numbers in the path, and as list filters.
    let mut paths: Vec<String> = HOSTILE
        .iter()
        .map(|t| t.bytes().map(|b| format!("%{b:02X}")).collect::<String>())
        .collect();
    paths.extend(
        [
            "..%2F..%2Fetc%2Fpasswd",
            "%2e%2e",
            "%00",
            "350322-20250930-000001%00",
            "350322-20250930-000001%0A",
            "350322-20250930-000001;rm",
            "..;",
        ]
        .map(String::from),
    );
    paths.push("A".repeat(10_000));
    for path in &paths {
        for answer in [
            node.get(&format!("/api/v1/cases/{path}"), &admin),
            node.act(&admin, path, &json!({"action": "review"})),
        ] {
            let (status, body) = &answer;
            assert!(
                matches!(status, 400 | 404) && body["error"].is_string(),
                "case number {path:?}: {status} {body}"
            );
        }
        let (status, list) = node.get(&format!("/api/v1/cases?item={path}&owner={path}"), &admin);
        assert!(
            (status == 200 && list["cases"] == json!([])) || status == 400,
            "filter {path:?}: {status} {list}"
        );
    }
    // Literal dot segments are resolved before the request is sent: whatever path they make,
    // the answer is a JSON error.
    let (status, body) = node.get("/api/v1/cases/../../etc/passwd", &admin);
    assert!(
        matches!(status, 400 | 404) && body["error"].is_string(),
        "{status} {body}"
    );

    let (status, _) = node.get("/api/v1/node", &admin);
    assert_eq!(status, 200);
    node.assert_no_panic();
}

/// Bodies far over the 64 KiB limit: 16 MiB with a `Content-Length`, and 4 MiB sent chunked
/// (no length announced). The node answers 413 after at most 64 KiB, or closes the connection
/// while the client is still sending (which the client sees as a broken pipe); either way it
/// does not read, let alone buffer, the rest, and it keeps answering.
#[test]
fn huge_bodies_are_refused_without_reading_them() {
    let node = Node::start("350322", Some(CLOCK));
    let admin = node.admin_token();
    let big = vec![b' '; 16 << 20];
    match node.try_request(
        "POST",
        "/api/v1/cases",
        &admin,
        Some((&big[..], "application/json")),
    ) {
        Ok(answer) => expect("16 MiB with a length", answer, 413, "too_large"),
        Err(e) => eprintln!("16 MiB with a length: the node closed the connection: {e}"),
    }
    let port = node.ports()["api"].as_u64().expect("api port");
    let chunked = ureq::post(&format!("http://127.0.0.1:{port}/api/v1/cases"))
        .set("Authorization", &format!("Bearer {admin}"))
        .set("Content-Type", "application/json")
        .send(std::io::Cursor::new(vec![b'['; 4 << 20]));
    match chunked {
        Err(ureq::Error::Status(status, r)) => {
            let text = r.into_string().unwrap_or_default();
            let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
            expect("4 MiB chunked", (status, body), 413, "too_large");
        }
        Ok(r) => panic!("4 MiB chunked accepted: {}", r.status()),
        Err(e) => eprintln!("4 MiB chunked: the node closed the connection: {e}"),
    }
    for _ in 0..3 {
        let (status, _) = node.get("/api/v1/node", &admin);
        assert_eq!(status, 200);
    }
    node.assert_no_panic();
}

/// Regression (node/src/engine.rs, `apply`): a request within the 64 KiB body limit whose texts
/// make an event over `codec::MAX_EVENT_BYTES` (64 KiB) — here a 65 490-byte reason — was
/// acknowledged and stored, and then the node refused to start again ("stored value cannot be
/// decoded: input of 65592 bytes is over the limit"), and every peer would have rejected the
/// event. It is refused (422) before anything is written; a long text that fits is stored
/// verbatim; and the node restarts.
#[test]
fn texts_too_long_for_an_event_are_refused_and_the_node_restarts() {
    let mut node = Node::start("350322", Some(CLOCK));
    let zhujian = node.clerk(ZHUJIAN);
    let case = node.submit_all(&zhujian, SHIGONG);
    let no = s(&case, "case_no").to_string();
    let before = node.case(&no);
    let too_long = json!({"action": "refuse", "reason": "办".repeat(21_830)});
    assert!(too_long.to_string().len() < 64 * 1024);
    let answer = node.act(&zhujian, &no, &too_long);
    let message = assert_error(&answer, 422, "invalid_action");
    assert!(message.contains("too long"), "{message}");
    assert_eq!(
        node.case(&no),
        before,
        "the refused action changed the case"
    );

    let long = "审".repeat(20_000);
    let suspended = node.act_ok(
        &zhujian,
        &no,
        &json!({"action": "suspend", "procedure": "hearing", "reason": long}),
    );
    assert_eq!(s(&suspended, "state"), "suspended");
    node.restart(Some("2025-09-30T10:30"));
    let after = node.case(&no);
    assert_eq!(after["events"], suspended["events"]);
    assert_eq!(after["state"], "suspended");
    node.assert_no_panic();
}

/// Regression (node/src/engine.rs, `apply`): every action is small enough, but the case record
/// grows with them — here suspensions whose 60 KB reasons the case keeps — past what the store
/// reads back (4 MiB). The write that would make the record too large is refused (422) before
/// anything is written; the case, the case list and a restart keep working.
#[test]
fn a_case_that_would_grow_too_large_is_refused_and_the_node_restarts() {
    let mut node = Node::start("350322", Some(CLOCK));
    let zhujian = node.clerk(ZHUJIAN);
    let case = node.submit_all(&zhujian, SHIGONG);
    let no = s(&case, "case_no").to_string();
    let reason = "停".repeat(20_000);
    let suspend = json!({"action": "suspend", "procedure": "hearing", "reason": reason});
    let resume = json!({"action": "resume"});
    let mut refused = None;
    for _ in 0..100 {
        match node.act(&zhujian, &no, &suspend) {
            (200, _) => {}
            answer => {
                refused = Some(answer);
                break;
            }
        }
        let (status, body) = node.act(&zhujian, &no, &resume);
        assert_eq!(status, 200, "{body}");
    }
    let refused = refused.expect("100 suspensions of 60 KB each were all recorded");
    let message = assert_error(&refused, 422, "invalid_action");
    assert!(message.contains("too large"), "{message}");
    let before = node.case(&no);
    assert_eq!(node.cases("").len(), 1);
    node.restart(Some("2025-09-30T10:30"));
    assert_eq!(node.case(&no), before);
    node.assert_no_panic();
}

/// NUL, escape sequences and text-direction overrides are refused with a 422 that names the
/// field, wherever they appear (applicant, materials, an action's reason, an operator's name),
/// and nothing is stored; line breaks and tabs are text.
#[test]
fn control_characters_are_refused_naming_the_field() {
    let node = Node::start("350322", Some(CLOCK));
    let admin = node.admin_token();
    let materials = node.materials(SHIGONG, false);
    let before = node.events_stored();
    for text in ["张\u{0}三", "a\u{1b}[31m", "\u{202e}fdp.exe", "x\u{2066}y"] {
        let applicant = json!({"kind": "person", "name": text, "id": resident_id(900)});
        let answer = node.post(
            "/api/v1/cases",
            &admin,
            &json!({"item": SHIGONG, "applicant": applicant, "materials": materials}),
        );
        let message = assert_error(&answer, 422, "control_character");
        assert!(message.contains("applicant.name"), "{message}");
        let mut given = materials.clone();
        given.push(text.to_string());
        let answer = node.post(
            "/api/v1/cases",
            &admin,
            &json!({"item": SHIGONG, "applicant": person(), "materials": given}),
        );
        let message = assert_error(&answer, 422, "control_character");
        assert!(
            message.contains(&format!("materials[{}]", materials.len())),
            "{message}"
        );
        let answer = node.post(
            "/api/v1/operators",
            &admin,
            &json!({"name": text, "role": "clerk", "department": ZHUJIAN}),
        );
        assert_error(&answer, 422, "control_character");
    }
    assert_eq!(node.events_stored(), before, "nothing was stored");
    let case = node.submit_all(&admin, SHIGONG);
    let answer = node.act(
        &admin,
        s(&case, "case_no"),
        &json!({"action": "refuse", "reason": "材料\u{0}不全"}),
    );
    assert_error(&answer, 422, "control_character");
    let multi_line = "材料不全：\n1. 申请表\n\t2. 身份证明";
    let refused = node.act_ok(
        &admin,
        s(&case, "case_no"),
        &json!({"action": "refuse", "reason": multi_line}),
    );
    assert_eq!(s(&refused, "state"), "not_accepted");
    node.assert_no_panic();
}
