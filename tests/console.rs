//! The staff web console (`/console`) through a real `liandong` process: the embedded files
//! and their headers, and the API endpoints the console needs — who is signed in
//! (`GET /api/v1/session`), the window's live check of an applicant
//! (`POST /api/v1/applicants:check`), and the reason of a 不予受理 for its 决定书.

mod support;

use serde_json::json;
use support::{assert_error, person, resident_id, s, Node, ZHUJIAN};

/// 建筑工程施工许可证核发 (住房和城乡建设局): a county item.
const BUILDING: &str = "000172005000";

/// One GET with the response's headers (the harness's helpers keep only status and body).
fn get_raw(node: &Node, path: &str) -> (u16, Vec<(String, String)>, String) {
    let url = format!("http://127.0.0.1:{}{path}", node.ports()["api"]);
    let response = match ureq::get(&url).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("GET {path}: {e}"),
    };
    let status = response.status();
    let headers = response
        .headers_names()
        .into_iter()
        .map(|name| {
            let value = response.header(&name).unwrap_or_default().to_string();
            (name, value)
        })
        .collect();
    let body = response.into_string().expect("a text body");
    (status, headers, body)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} header in {headers:?}"))
}

#[test]
fn the_console_is_served_embedded_without_a_token_and_locked_to_the_node() {
    let node = Node::start("350322", None);
    for (path, media_type, needle) in [
        ("/console", "text/html", "app.js"),
        ("/console/", "text/html", "app.js"),
        ("/console/app.js", "text/javascript", "/api/v1/session"),
        ("/console/app.css", "text/css", "@page"),
    ] {
        let (status, headers, body) = get_raw(&node, path);
        assert_eq!(status, 200, "{path}: {body}");
        assert!(
            header(&headers, "content-type").starts_with(media_type),
            "{path}"
        );
        assert!(body.contains(needle), "{path} lacks {needle}");
        let csp = header(&headers, "content-security-policy");
        assert!(
            csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
            "{csp}"
        );
        assert!(
            csp.contains("connect-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
        assert_eq!(header(&headers, "cache-control"), "no-cache");
    }
    let (status, _, body) = get_raw(&node, "/console/secrets.txt");
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("no such console file"), "{body}");
    // The data behind the console still needs a token.
    assert_error(&node.get("/api/v1/cases", ""), 401, "unauthorized");
    node.assert_no_panic();
}

#[test]
fn the_session_names_the_operator_and_the_node() {
    let node = Node::start("350322", Some("2025-10-09T09:00"));
    let clerk = node.add_operator("王窗口", "clerk", Some(ZHUJIAN));
    let (status, me) = node.get("/api/v1/session", &clerk);
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        me["operator"],
        json!({"name": "王窗口", "role": "clerk", "department": ZHUJIAN})
    );
    assert_eq!(s(&me["node"], "code"), "350322");
    assert_eq!(s(&me["node"], "level"), "county");
    assert_eq!(
        s(&me, "today"),
        "2025-10-09",
        "the node's clock, not the wall's"
    );
    let (status, me) = node.get("/api/v1/session", &node.admin_token());
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["operator"]["role"], "admin");
    assert_eq!(me["operator"]["department"], json!(null));
    assert_error(&node.get("/api/v1/session", ""), 401, "unauthorized");
    assert_error(
        &node.get("/api/v1/session", "not-a-token"),
        401,
        "unauthorized",
    );
}

#[test]
fn the_window_checks_an_applicant_as_a_submission_would_and_keeps_nothing() {
    let node = Node::start("350322", Some("2025-10-09T09:00"));
    let clerk = node.clerk(ZHUJIAN);
    let check = |body: serde_json::Value| node.post("/api/v1/applicants:check", &clerk, &body);
    let good = json!({"kind": "person", "name": "张三", "id": resident_id(7)});
    let (status, answer) = check(good.clone());
    assert_eq!((status, answer), (200, json!({"ok": true})));

    // One digit off: the check character no longer matches — the submission's own message.
    let mut id = resident_id(7);
    let last = id.pop().expect("18 characters");
    id.push(if last == '1' { '2' } else { '1' });
    let wrong = json!({"kind": "person", "name": "张三", "id": id});
    let message = assert_error(&check(wrong.clone()), 422, "invalid_applicant");
    let submitted = node.post(
        "/api/v1/cases",
        &clerk,
        &json!({"item": BUILDING, "applicant": wrong, "materials": []}),
    );
    assert_eq!(assert_error(&submitted, 422, "invalid_applicant"), message);

    // A resident ID given as an organisation's code, a born-tomorrow ID, bad bodies.
    assert_error(
        &check(json!({"kind": "org", "name": "某公司", "id": resident_id(7)})),
        422,
        "invalid_applicant",
    );
    assert_error(
        &check(json!({"kind": "person", "name": "张三", "id": "35032220251010001X"})),
        422,
        "invalid_applicant",
    );
    assert_error(
        &check(json!({"kind": "person", "id": resident_id(7)})),
        400,
        "bad_request",
    );
    assert_error(&check(json!(["no"])), 400, "bad_request");
    assert_error(
        &node.post("/api/v1/applicants:check", "", &good),
        401,
        "unauthorized",
    );

    // Checking wrote nothing: no event, and no audit entry naming the identity.
    assert_eq!(node.events_stored(), 0);
    let (status, audit) = node.get("/api/v1/audit", &node.admin_token());
    assert_eq!(status, 200, "{audit}");
    assert_eq!(audit["entries"], json!([]));
}

#[test]
fn a_refused_case_shows_the_reason_for_its_decision() {
    let node = Node::start("350322", Some("2025-10-09T09:00"));
    let clerk = node.clerk(ZHUJIAN);
    let (status, case) = node.post(
        "/api/v1/cases",
        &clerk,
        &json!({"item": BUILDING, "applicant": person(), "materials": []}),
    );
    assert_eq!(status, 201, "{case}");
    assert_eq!(s(&case, "state"), "awaiting_supplement");
    let no = s(&case, "case_no").to_string();
    let (_, shown) = node.get(&format!("/api/v1/cases/{no}"), &clerk);
    assert!(shown.get("refusal").is_none(), "not refused yet: {shown}");
    node.act_ok(
        &clerk,
        &no,
        &json!({"action": "refuse", "reason": "不属于本机关职权范围"}),
    );
    let (status, shown) = node.get(&format!("/api/v1/cases/{no}"), &clerk);
    assert_eq!(status, 200, "{shown}");
    assert_eq!(s(&shown, "state"), "not_accepted");
    assert_eq!(s(&shown, "refusal"), "不属于本机关职权范围");
}

/// 生育登记 (卫生健康办公室): a township's 即办 item, decided at intake.
const BIRTH: &str = "000152043000";
/// 新生儿出生“一件事”联办 (卫生健康办公室): decided at the township in 3 working days.
const NEWBORN: &str = "000152901000";

#[test]
fn the_hall_screen_shows_todays_cases_without_a_token_and_without_anyone_in_them() {
    let node = Node::start("350322100", Some("2025-10-09T09:00"));
    let clerk = node.clerk("卫生健康办公室");
    let open = node.submit_all(&clerk, NEWBORN);
    let done = node.submit_all(&clerk, BIRTH);
    assert_eq!(s(&done, "state"), "approved", "{done}");
    let short = node.submit(&clerk, NEWBORN, &[]).1;
    assert_eq!(s(&short, "state"), "awaiting_supplement", "{short}");

    let (status, hall) = node.get("/api/v1/hall", "");
    assert_eq!(status, 200, "{hall}");
    assert_eq!(s(&hall, "today"), "2025-10-09");
    assert_eq!(s(&hall["node"], "code"), "350322100");
    let ticket = |case: &serde_json::Value| {
        let no = s(case, "case_no");
        format!("****-1009-{}", &no[no.len() - 6..])
    };
    let lines = |list: &str| -> Vec<(String, String)> {
        hall[list]
            .as_array()
            .expect("a list")
            .iter()
            .map(|l| (s(l, "ticket").to_string(), s(l, "state").to_string()))
            .collect()
    };
    // Newest first; the 补正 case is still the applicant's business today.
    assert_eq!(
        lines("queue"),
        vec![
            (ticket(&short), "awaiting_supplement".to_string()),
            (ticket(&open), "accepted".to_string()),
        ]
    );
    assert_eq!(
        lines("concluded"),
        vec![(ticket(&done), "approved".to_string())]
    );
    let text = hall.to_string();
    for case in [&open, &done, &short] {
        let (_, full) = node.get(&format!("/api/v1/cases/{}", s(case, "case_no")), &clerk);
        for secret in [
            s(&full["applicant"], "name"),
            s(&full["applicant"], "id"),
            s(case, "case_no"),
        ] {
            assert!(!text.contains(secret), "the hall shows {secret}: {text}");
        }
    }
    let (status, _, page) = get_raw(&node, "/console/hall");
    assert_eq!(status, 200);
    assert!(page.contains("app.js"));
}
