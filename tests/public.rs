//! The public listener for applicants (`/public/v1/`) through a real `liandong` process: the
//! progress lookup by case number and ID tail — the same answer for a wrong key as for no
//! case, no staff name or identity in it — the applicant's rating once the case is concluded,
//! and the per-address bounds, under which the staff API keeps answering.

mod support;

use serde_json::{json, Value};
use support::{assert_error, person, s, Node, ZHUJIAN};

/// 建筑工程施工许可证核发 (住房和城乡建设局), a county item.
const BUILDING: &str = "000172005000";

/// A county node with the public listener, `[public]` bounds from `extra_toml`.
fn node_with_public(extra_toml: &str) -> (tempfile::TempDir, Node) {
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let mut node = Node::init(
        tmp.path().join("node"),
        "350322",
        &["--public", "127.0.0.1:0"],
    );
    let toml = node.dir().join("node.toml");
    let text = std::fs::read_to_string(&toml).expect("node.toml");
    assert!(text.contains("public = \"127.0.0.1:0\""), "{text}");
    std::fs::write(&toml, format!("{text}\n{extra_toml}")).expect("writing node.toml");
    node.start_again(Some("2025-10-09T09:00"));
    (tmp, node)
}

/// A request to the public listener: `(status, body, Retry-After)`.
fn public(
    node: &Node,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value, Option<String>) {
    let port = node.ports()["public"]
        .as_u64()
        .expect("a public port in ports.json");
    let url = format!("http://127.0.0.1:{port}{path}");
    let request = ureq::request(method, &url);
    let answer = match body {
        Some(b) => request.send_json(b.clone()),
        None => request.call(),
    };
    let response = match answer {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {path}: {e}"),
    };
    let status = response.status();
    let retry = response.header("retry-after").map(String::from);
    let text = response.into_string().expect("a body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
        retry,
    )
}

fn tail(case: &Value) -> String {
    let id = s(&case["applicant"], "id");
    id[id.len() - 6..].to_string()
}

#[test]
fn an_applicant_follows_their_case_and_rates_it_and_nobody_else_learns_anything() {
    let (_tmp, node) = node_with_public("");
    let clerk = node.add_operator("郑窗口", "clerk", Some(ZHUJIAN));
    let (status, case) = node.post(
        "/api/v1/cases",
        &clerk,
        &json!({"item": BUILDING, "applicant": person(), "materials": node.materials(BUILDING, false)}),
    );
    assert_eq!(status, 201, "{case}");
    let no = s(&case, "case_no").to_string();
    let key = tail(&case);

    let (status, progress, _) = public(
        &node,
        "GET",
        &format!("/public/v1/cases/{no}?key={key}"),
        None,
    );
    assert_eq!(status, 200, "{progress}");
    assert_eq!(s(&progress, "state"), "accepted");
    assert_eq!(s(&progress, "awaiting"), "review");
    assert_eq!(s(&progress, "deadline"), s(&case, "deadline"));
    assert_eq!(progress["steps"][0]["action"], "submit");
    let text = progress.to_string();
    for secret in [
        s(&case["applicant"], "name"),
        s(&case["applicant"], "id"),
        "郑窗口",
    ] {
        assert!(!text.contains(secret), "the lookup shows {secret}: {text}");
    }
    // A lower-case x and spaces around the key are the same key.
    let (status, _, _) = public(
        &node,
        "GET",
        &format!("/public/v1/cases/{no}?key=%20{}", key.to_lowercase()),
        None,
    );
    assert_eq!(status, 200);

    // Every miss is the same answer: wrong key, no such case, malformed number, no key.
    let mut wrong = key.clone();
    let last = wrong.pop().expect("6 characters");
    wrong.push(if last == '1' { '2' } else { '1' });
    let misses = [
        format!("/public/v1/cases/{no}?key={wrong}"),
        format!("/public/v1/cases/350322-20251009-000099?key={key}"),
        format!("/public/v1/cases/not-a-case?key={key}"),
        format!("/public/v1/cases/{no}"),
    ];
    let answers: Vec<(u16, Value)> = misses
        .iter()
        .map(|path| {
            let (status, body, _) = public(&node, "GET", path, None);
            (status, body)
        })
        .collect();
    assert_eq!(answers[0].0, 404, "{:?}", answers[0]);
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    // Staff paths are not served here.
    let (status, _, _) = public(&node, "GET", "/api/v1/cases", None);
    assert_eq!(status, 404);

    // Rating: not before the case is concluded; then once.
    let rating = json!({"key": key, "satisfaction": 1, "comment": "办事快"});
    let path = format!("/public/v1/cases/{no}/rating");
    let (status, body, _) = public(&node, "POST", &path, Some(&rating));
    assert_eq!(
        (status, &body["error"]),
        (409, &json!("wrong_state")),
        "{body}"
    );
    // A reviewer's proposal is internal: the applicant sees the decision, not the 拟办.
    node.act_ok(
        &clerk,
        &no,
        &json!({"action": "propose", "approve": true, "reason": "拟准予"}),
    );
    let lookup = format!("/public/v1/cases/{no}?key={key}");
    let (_, progress, _) = public(&node, "GET", &lookup, None);
    let steps: Vec<&str> = progress["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|st| st["action"].as_str().expect("an action"))
        .collect();
    assert_eq!(steps, ["submit"], "{progress}");
    node.act_ok(
        &clerk,
        &no,
        &json!({"action": "decide", "approve": true, "reason": "符合条件"}),
    );
    let (status, body, _) = public(
        &node,
        "POST",
        &path,
        Some(&json!({"key": key, "satisfaction": 9})),
    );
    assert_eq!(
        (status, &body["error"]),
        (422, &json!("invalid_action")),
        "{body}"
    );
    let (status, body, _) = public(&node, "POST", &path, Some(&json!({"key": key})));
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("bad_request")),
        "{body}"
    );
    let (status, body, _) = public(
        &node,
        "POST",
        &path,
        Some(&json!({"key": wrong, "satisfaction": 1})),
    );
    assert_eq!((status, &body), (404, &answers[0].1));
    let (status, rated, _) = public(&node, "POST", &path, Some(&rating));
    assert_eq!(status, 200, "{rated}");
    assert_eq!(rated["rated"], json!(true));
    assert_eq!(s(&rated, "awaiting"), "pickup");
    let (status, body, _) = public(&node, "POST", &path, Some(&rating));
    assert_eq!(
        (status, &body["error"]),
        (422, &json!("invalid_action")),
        "a second rating: {body}"
    );
    // The rating is the case's, as staff see it.
    let staff = node.case(&no);
    assert_eq!(staff["rating"]["satisfaction"], json!(1), "{staff}");
    node.assert_no_panic();
}

#[test]
fn guessing_keys_blocks_the_address_and_the_staff_api_keeps_answering() {
    let (_tmp, node) = node_with_public("[public]\nmax_failures = 3\nrequests_per_minute = 1000\n");
    let clerk = node.clerk(ZHUJIAN);
    let case = node.submit_all(&clerk, BUILDING);
    let no = s(&case, "case_no").to_string();
    let key = tail(&case);
    for guess in ["000001", "000002", "000003"] {
        let (status, _, _) = public(
            &node,
            "GET",
            &format!("/public/v1/cases/{no}?key={guess}"),
            None,
        );
        assert_eq!(status, 404);
    }
    let (status, body, retry) = public(
        &node,
        "GET",
        &format!("/public/v1/cases/{no}?key=000004"),
        None,
    );
    assert_eq!(
        (status, &body["error"]),
        (429, &json!("too_many_requests")),
        "{body}"
    );
    assert!(retry.is_some_and(|r| r.parse::<u64>().is_ok_and(|secs| secs > 0)));
    // Now even the right key is refused: a block tells a guesser nothing.
    let (status, _, _) = public(
        &node,
        "GET",
        &format!("/public/v1/cases/{no}?key={key}"),
        None,
    );
    assert_eq!(status, 429);
    let (status, _) = node.get(&format!("/api/v1/cases/{no}"), &clerk);
    assert_eq!(status, 200, "the staff API is not the public listener");
}

#[test]
fn each_address_has_a_budget_per_minute() {
    let (_tmp, node) = node_with_public("[public]\nrequests_per_minute = 5\n");
    let clerk = node.clerk(ZHUJIAN);
    let case = node.submit_all(&clerk, BUILDING);
    let path = format!(
        "/public/v1/cases/{}?key={}",
        s(&case, "case_no"),
        tail(&case)
    );
    for _ in 0..5 {
        assert_eq!(public(&node, "GET", &path, None).0, 200);
    }
    let (status, body, retry) = public(&node, "GET", &path, None);
    assert_eq!(
        (status, &body["error"]),
        (429, &json!("too_many_requests")),
        "{body}"
    );
    assert!(retry.is_some());
    assert_error(&node.get("/api/v1/node", ""), 401, "unauthorized");
}

#[test]
fn without_the_option_there_is_no_public_listener() {
    let node = Node::start("350322", None);
    assert!(node.ports().get("public").is_none(), "{}", node.ports());
    let text = std::fs::read_to_string(node.dir().join("node.toml")).expect("node.toml");
    assert!(!text.contains("public"), "{text}");
}
