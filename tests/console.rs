//! The staff web console (`/console`) through a real `liandong` process: the embedded files
//! and their headers, and the API endpoints the console needs — who is signed in
//! (`GET /api/v1/session`), the window's live check of an applicant
//! (`POST /api/v1/applicants:check`), and the reason of a 不予受理 for its 决定书.

mod support;

use std::path::{Path, PathBuf};

use serde_json::json;
use support::browser::{Browser, Key};
use support::federation::{wait_until, Federation, SETTLE};
use support::{assert_error, credit_code, person, resident_id, s, Node, SHICHANG, ZHUJIAN};

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
    // 电子监察's filters, applied by the node as it scans its summaries.
    let listed = |query: &str| -> Vec<String> {
        let (status, page) = node.get(&format!("/api/v1/summaries?{query}"), &node.admin_token());
        assert_eq!(status, 200, "{query}: {page}");
        page["summaries"]
            .as_array()
            .expect("summaries")
            .iter()
            .map(|s| s["case_no"].as_str().expect("a case number").to_string())
            .collect()
    };
    let no = |case: &serde_json::Value| s(case, "case_no").to_string();
    assert_eq!(listed("open=true"), vec![no(&open)]);
    assert_eq!(listed("open=false"), vec![no(&done), no(&short)]);
    assert_eq!(listed("open=true&warning=green"), vec![no(&open)]);
    assert_eq!(listed("warning=red"), Vec::<String>::new());
    for bad in ["warning=purple", "open=maybe"] {
        assert_error(
            &node.get(&format!("/api/v1/summaries?{bad}"), &node.admin_token()),
            400,
            "bad_request",
        );
    }

    // The month's figures behind the city board's chart: the 补正 case was never accepted.
    let (status, stats) = node.get("/api/v1/stats", &node.admin_token());
    assert_eq!(status, 200, "{stats}");
    assert_eq!(
        stats["by_month"],
        json!({"2025-10": {"accepted": 2, "concluded": 1, "on_time": 1}})
    );
    let (status, _, page) = get_raw(&node, "/console/hall");
    assert_eq!(status, 200);
    assert!(page.contains("app.js"));
}

// ------------------------------------------------------------------------- in a real browser

/// Where the browser tests put their screenshots: `docs/screenshots/` (the README shows them)
/// when `LIANDONG_SCREENSHOTS=1`, else a temporary folder — they are taken and checked either
/// way.
struct Shots {
    dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

impl Shots {
    fn new() -> Shots {
        if std::env::var_os("LIANDONG_SCREENSHOTS").is_some_and(|v| v == "1") {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
            std::fs::create_dir_all(&dir).expect("creating docs/screenshots");
            Shots { dir, _tmp: None }
        } else {
            let tmp = tempfile::tempdir().expect("a temporary folder");
            Shots {
                dir: tmp.path().to_path_buf(),
                _tmp: Some(tmp),
            }
        }
    }

    fn take(&self, browser: &Browser, name: &str) {
        let path = self.dir.join(format!("{name}.png"));
        browser.screenshot(&path);
        let png = std::fs::read(&path).expect("the screenshot was written");
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000,
            "{name}"
        );
    }
}

/// The browser's console errors, without the failed loads the page answers itself (a 4xx
/// from the API is shown to the operator as a message, which the tests check).
fn script_errors(browser: &Browser) -> Vec<String> {
    browser
        .console_errors()
        .into_iter()
        .filter(|e| !e.contains("Failed to load resource"))
        .collect()
}

fn sign_in(browser: &Browser, node: &Node, token: &str, who: &str) {
    browser.goto(&node.api_url("/console#/signin"));
    browser.fill("#token", token);
    browser.click("#signin");
    browser.wait_text("#whoami", who);
}

/// 药品零售企业经营许可 (市场监督管理局): a county item whose decision needs 网上签批.
const PHARMACY: &str = "000187011000";
/// 食品经营许可 (市场监督管理局): a county item, promised in 5 working days.
const FOOD: &str = "000187005000";
const CITY: &str = "350300";
const XIANYOU: &str = "350322";
const TOWN: &str = "350322100";

/// The walk through a center, in Chromium, over a city, a county and a township: a
/// window clerk accepts a case with a material missing and prints the 一次性告知书, records the
/// supplement and proposes the decision; the 首席代表 signs it off; weeks later another case is
/// red at the city's supervisor, who sends a 督办 that reaches the county; the city board shows
/// the county overdue.
#[test]
fn a_center_runs_its_cases_from_the_browser() {
    let mut fed = Federation::start(&[(CITY, None), (XIANYOU, Some(CITY)), (TOWN, Some(XIANYOU))]);
    let county = fed.node(XIANYOU);
    let clerk = county.add_operator("王窗口", "clerk", Some(SHICHANG));
    let chief = county.add_operator("陈首代", "chief", Some(SHICHANG));
    let supervisor = fed.node(CITY).add_operator("周监察", "supervisor", None);
    let shots = Shots::new();
    let browser = Browser::start();

    // 窗口受理: the item by name, the applicant checked as it is typed, one material short.
    sign_in(&browser, county, &clerk, "王窗口");
    browser.wait_text("#window-title", "窗口受理");
    browser.type_into("#item-search", "药品零售");
    browser.click(&format!("#item-choices button[data-code='{PHARMACY}']"));
    browser.wait_text("#item-chosen", "药品零售企业经营许可");
    browser.select("#applicant-kind", "org");
    browser.fill("#applicant-name", "仙游康民大药房有限公司");
    let code = credit_code(4242);
    let mut wrong = code.clone();
    let last = wrong.pop().expect("18 characters");
    wrong.push(if last == '1' { '2' } else { '1' });
    browser.type_into("#applicant-id", &wrong);
    browser.wait_text("#applicant-id-check", "✗");
    browser.fill("#applicant-id", &code);
    browser.wait_text("#applicant-id-check", "✓");
    let materials = county.materials(PHARMACY, false);
    let boxes = browser.find_all("#materials input[type=checkbox]");
    assert_eq!(boxes.len(), materials.len());
    for b in &boxes[..boxes.len() - 1] {
        b.click();
    }
    let short = materials.last().expect("materials").clone();
    browser.click("#submit");
    browser.wait_text("#result-state", "待补正");
    browser.wait_text("#result-missing", &short);
    let case_no = browser.text("#result-case-no");
    shots.take(&browser, "window");

    // 一次性告知书, on A4.
    browser.click("#print-inform");
    browser.wait_text("#inform-list", &short);
    browser.wait_text("#doc-inform", &case_no);
    shots.take(&browser, "inform");
    let pdf = shots.dir.join("inform.pdf");
    browser.print_pdf(&pdf);
    assert!(std::fs::read(&pdf).expect("the PDF").starts_with(b"%PDF-"));

    // 补正: the missing material comes; the case is accepted and its notice printed.
    let case_page = county.api_url(&format!("/console#/case/{case_no}"));
    browser.goto(&case_page);
    browser.wait_text("#case-no", &case_no);
    browser.select("#action", "supplement");
    browser.click("#f-materials input[type=checkbox]");
    browser.click("#act");
    browser.wait_text("#notice", "已办理");
    browser.wait_text("#case-facts", "已受理");
    browser.click("a[href^='#/print/notice/']");
    browser.wait_text("#doc-notice", "承诺办结期限");
    shots.take(&browser, "notice");

    // The clerk may only propose the decision of an item with 网上签批…
    browser.goto(&case_page);
    browser.wait_text("#case-no", &case_no);
    let options: Vec<String> = browser
        .find_all("#action option")
        .iter()
        .map(|o| o.attr("value").unwrap_or_default())
        .collect();
    assert!(options.contains(&"propose".to_string()), "{options:?}");
    assert!(!options.contains(&"decide".to_string()), "{options:?}");
    browser.select("#action", "propose");
    browser.select("#f-approve", "true");
    browser.fill("#f-reason", "材料齐全，现场核查合格");
    browser.click("#act");
    browser.wait_text("#proposal", "拟准予");

    // …which the 首席代表 signs off.
    browser.click("#signout");
    sign_in(&browser, county, &chief, "陈首代");
    browser.goto(&case_page);
    browser.wait_text("#proposal", "材料齐全，现场核查合格");
    browser.select("#action", "decide");
    assert_eq!(
        browser.value("#f-reason"),
        "材料齐全，现场核查合格",
        "prefilled"
    );
    browser.click("#act");
    browser.wait_text("#case-facts", "准予许可");
    browser.wait_text("#history", "陈首代");
    browser.wait_text("#history", "王窗口");

    // Another case stays open, and the hall's screen shows it — without the applicant.
    let open = county.submit_all(&clerk, FOOD);
    let open_no = s(&open, "case_no").to_string();
    browser.goto(&county.api_url("/console/hall"));
    browser.wait_text("#hall-queue", &open_no[open_no.len() - 6..]);
    let hall = browser.text("main");
    assert!(
        !hall.contains(s(&open["applicant"], "name")) && !hall.contains(&open_no),
        "{hall}"
    );
    shots.take(&browser, "hall");

    // Three weeks on, the open case is red at the city's supervisor, who sends a 督办.
    for name in [TOWN, XIANYOU, CITY] {
        fed.stop(name);
    }
    for name in [CITY, XIANYOU, TOWN] {
        fed.start_at(name, "2025-10-21T09:00");
    }
    let city = fed.node(CITY);
    let summary = format!("/api/v1/summaries/{open_no}");
    assert!(
        wait_until(SETTLE, || {
            let (status, s) = city.get(&summary, &city.admin_token());
            status == 200 && s["warning"] == "red"
        }),
        "the city never saw {open_no} red"
    );
    sign_in(&browser, city, &supervisor, "周监察");
    let row = format!("#flagged tr[data-case='{open_no}']");
    browser.wait_text(&row, "红牌超期");
    shots.take(&browser, "supervise");
    browser.click(&format!("{row} button.supervise"));
    browser.fill("#supervise-note", "请于两个工作日内办结并说明超期原因");
    browser.click("#supervise-send");
    browser.wait_text("#notice", "已向");
    let county = fed.node(XIANYOU);
    assert!(
        wait_until(SETTLE, || {
            let case = county.case(&open_no);
            case["notices"].as_array().is_some_and(|n| !n.is_empty())
        }),
        "the 督办 never reached the county"
    );

    // The city board: the county's figures, its overdue case among them.
    browser.goto(&city.api_url("/console#/board"));
    browser.wait_text("#board-nodes tr[data-node='350322']", "在线");
    let cells = browser.eval(
        "return Array.from(document.querySelectorAll(\"#board-nodes tr[data-node='350322'] td\"))\
           .map(td => td.textContent)",
    );
    // 节点, 连接, 数据时间, 办件, 超期, 按期办结率: the open case is the county's one overdue.
    assert_eq!(cells[4], json!("1"), "{cells}");
    assert_eq!(
        cells[5],
        json!("100.0%"),
        "the signed-off case was on time: {cells}"
    );
    browser.find("#month-chart");
    browser.find("#rate-chart");
    browser.find("#board-tree");
    shots.take(&browser, "board");
    assert_eq!(script_errors(&browser), Vec::<String>::new());
}

/// A window clerk who works from the keyboard alone: sign in, find the item, fill the
/// applicant, tick the materials and accept — Tab, typing, Space and Enter only. And every
/// field of the window's form has a label a screen reader reads.
#[test]
fn the_window_works_from_the_keyboard_alone_and_every_field_is_labelled() {
    let node = Node::start(TOWN, Some("2025-10-09T09:00"));
    let clerk = node.add_operator("林窗口", "clerk", Some("卫生健康办公室"));
    let browser = Browser::start();
    browser.goto(&node.api_url("/console"));
    let focused = |id: &str| {
        assert!(
            wait_until(std::time::Duration::from_secs(10), || browser
                .active_element_id()
                == id),
            "focus is on {:?}, not #{id}",
            browser.active_element_id()
        )
    };
    focused("token");
    browser.type_keys(&clerk);
    browser.press_key(Key::Enter);
    browser.wait_text("#whoami", "林窗口");
    focused("item-search");
    browser.type_keys("生育登记");
    browser.press_key(Key::Enter);
    browser.wait_text("#item-chosen", "生育登记");
    focused("applicant-kind");
    browser.press_key(Key::Tab);
    focused("applicant-name");
    browser.type_keys("张三");
    browser.press_key(Key::Tab);
    focused("applicant-id");
    browser.type_keys(&resident_id(3));
    browser.wait_text("#applicant-id-check", "✓");
    for n in 0..2 {
        browser.press_key(Key::Tab);
        focused(&format!("mat-{n}"));
        browser.press_key(Key::Space);
    }
    browser.press_key(Key::Tab);
    focused("submit");
    browser.press_key(Key::Enter);
    browser.wait_text("#result-state", "准予许可");

    let unlabelled = |form: &str| {
        browser.eval(&format!(
            "return Array.from(document.querySelectorAll('{form} input, {form} select, {form} textarea'))\
               .filter(e => !(e.labels && e.labels.length && e.labels[0].textContent.trim())\
                 && !(e.getAttribute('aria-label') || '').trim())\
               .map(e => e.id || e.outerHTML)"
        ))
    };
    assert_eq!(unlabelled("#intake"), json!([]));
    browser.click("#open-case");
    browser.wait_text("#case-title", "办件");
    assert_eq!(unlabelled("#act-form"), json!([]));
    for action in ["rate", "supplement", "refuse"] {
        if browser
            .find_all(&format!("#action option[value='{action}']"))
            .is_empty()
        {
            continue;
        }
        browser.select("#action", action);
        assert_eq!(unlabelled("#act-form"), json!([]), "{action}");
    }
    assert_eq!(script_errors(&browser), Vec::<String>::new());
}

/// 不予受理 from the console, its 决定书 with the reason, and the department's queue: the
/// open cases of the clerk's department only, the ended ones left out.
#[test]
fn a_refusal_prints_its_decision_and_the_queue_holds_only_open_cases_of_the_department() {
    let node = Node::start(XIANYOU, Some("2025-10-09T09:00"));
    let clerk = node.add_operator("郑窗口", "clerk", Some(ZHUJIAN));
    let other = node.clerk(SHICHANG);
    let (status, short) = node.post(
        "/api/v1/cases",
        &clerk,
        &json!({"item": BUILDING, "applicant": person(), "materials": []}),
    );
    assert_eq!(status, 201, "{short}");
    let refused_no = s(&short, "case_no").to_string();
    let open = node.submit_all(&clerk, BUILDING);
    let foreign = node.submit_all(&other, FOOD);

    let browser = Browser::start();
    // A wrong token is refused on the sign-in screen, in words.
    browser.goto(&node.api_url("/console"));
    browser.fill("#token", "not-a-token");
    browser.click("#signin");
    browser.wait_text("#error", "未登录或令牌无效");
    sign_in(&browser, &node, &clerk, "郑窗口");
    browser.goto(&node.api_url(&format!("/console#/case/{refused_no}")));
    browser.wait_text("#case-facts", "待补正");
    browser.select("#action", "refuse");
    // An empty reason is refused by the browser's own check before anything is sent.
    browser.click("#act");
    assert_eq!(
        browser.prop("#f-reason", "validity")["valueMissing"],
        json!(true)
    );
    browser.fill("#f-reason", "申请事项不属于本机关职权范围");
    browser.click("#act");
    browser.wait_text("#case-facts", "不予受理");
    browser.click("a[href^='#/print/refusal/']");
    browser.wait_text("#doc-refusal", "申请事项不属于本机关职权范围");
    browser.wait_text("#doc-refusal", "行政复议");

    browser.goto(&node.api_url("/console#/queue"));
    browser.wait_text("#queue", s(&open, "case_no"));
    let queue = browser.text("#queue");
    assert!(
        !queue.contains(&refused_no),
        "an ended case is not in the queue: {queue}"
    );
    assert!(
        !queue.contains(s(&foreign, "case_no")),
        "another department's: {queue}"
    );
    assert_eq!(script_errors(&browser), Vec::<String>::new());
}

/// 建设工程竣工联合验收 (住房和城乡建设局): a joint item of the county.
const YANSHOU: &str = "000172023000";
const ZIRAN: &str = "自然资源和规划局";

/// A joint review from the department's screens: the seat finds the case in its own queue and
/// disagrees through the opinion form; the lead decides over it with the override reason.
#[test]
fn a_joint_review_seat_answers_from_its_queue_and_the_lead_overrides_on_the_record() {
    let node = Node::start(XIANYOU, Some("2025-10-09T09:00"));
    let lead = node.add_operator("郑主办", "clerk", Some(ZHUJIAN));
    let seat = node.add_operator("苏规划", "clerk", Some(ZIRAN));
    let case = node.submit_all(&lead, YANSHOU);
    let no = s(&case, "case_no").to_string();
    node.act_ok(&lead, &no, &json!({"action": "review"}));
    let seats = json!([{"node": XIANYOU, "department": ZIRAN}]);
    node.act_ok(
        &lead,
        &no,
        &json!({"action": "open_joint_review", "participants": seats, "feedback_days": 2}),
    );

    let browser = Browser::start();
    sign_in(&browser, &node, &seat, "苏规划");
    browser.goto(&node.api_url("/console#/queue"));
    browser.wait_text("#queue", &no);
    browser.click(&format!("#queue tr[data-case='{no}'] a"));
    browser.wait_text("#case-no", &no);
    browser.select("#action", "opinion");
    browser.select("#f-agree", "false");
    browser.fill("#f-comment", "规划条件核实不符");
    browser.click("#act");
    browser.wait_text("#history", "苏规划");

    browser.click("#signout");
    sign_in(&browser, &node, &lead, "郑主办");
    browser.goto(&node.api_url(&format!("/console#/case/{no}")));
    browser.wait_text("#case-no", &no);
    browser.select("#action", "decide");
    browser.select("#f-approve", "true");
    browser.fill("#f-reason", "联合验收合格");
    browser.click("#act");
    // Approving over a disagreement needs its reason on the record: the API's message shows.
    browser.wait_text("#error", "override_reason");
    browser.fill("#f-override_reason", "经联席会议研究，规划条件已现场复核");
    browser.click("#act");
    browser.wait_text("#case-facts", "准予许可");
    let decided = node.case(&no);
    assert_eq!(
        s(&decided["decision"], "override_reason"),
        "经联席会议研究，规划条件已现场复核"
    );
    assert_eq!(script_errors(&browser), Vec::<String>::new());
}

/// 跨层级受理 from the screens of two nodes: the township's window forwards a county item up
/// (转报), the county takes it over, decides it and sends the result back, and the township
/// takes it over, certifies, delivers and prints the 办结及送达回执 — each a form.
#[test]
fn a_case_crosses_levels_through_the_forms_of_two_nodes() {
    let fed = Federation::start(&[(CITY, None), (XIANYOU, Some(CITY)), (TOWN, Some(XIANYOU))]);
    let town = fed.node(TOWN);
    let county = fed.node(XIANYOU);
    let town_clerk = town.add_operator("枫亭窗口", "clerk", Some(ZHUJIAN));
    let county_clerk = county.add_operator("仙游住建", "clerk", Some(ZHUJIAN));
    let case = town.submit_all(&town_clerk, BUILDING);
    let no = s(&case, "case_no").to_string();
    let browser = Browser::start();
    let act = |node: &Node, action: &str, fields: &[(&str, &str)], after: &str| {
        browser.goto(&node.api_url(&format!("/console#/case/{no}")));
        browser.wait_text("#case-no", &no);
        browser.select("#action", action);
        for (field, value) in fields {
            browser.fill(&format!("#f-{field}"), value);
        }
        browser.click("#act");
        browser.wait_text("#case-facts", after);
    };

    sign_in(&browser, town, &town_clerk, "枫亭窗口");
    act(town, "forward", &[], "流转中");
    browser.click("#signout");
    sign_in(&browser, county, &county_clerk, "仙游住建");
    assert!(
        wait_until(SETTLE, || county
            .get(&format!("/api/v1/cases/{no}"), &county_clerk)
            .0
            == 200),
        "the forwarded case never reached the county"
    );
    browser.goto(&county.api_url("/console#/queue"));
    browser.wait_text("#queue", &no);
    act(county, "take_over", &[], "已受理");
    act(
        county,
        "decide",
        &[("reason", "符合施工许可条件")],
        "准予许可",
    );
    act(county, "forward", &[], "流转中");
    browser.click("#signout");
    sign_in(&browser, town, &town_clerk, "枫亭窗口");
    assert!(
        wait_until(SETTLE, || town.case(&no)["state"] == "in_transit"
            && town.case(&no)["owner"] == XIANYOU
            && town.case(&no)["forwarded_to"] == TOWN),
        "the decided case never came back to the township"
    );
    act(town, "take_over", &[], "准予许可");
    act(
        town,
        "certify",
        &[("certificate_no", "350322202510090001")],
        "已制证",
    );
    act(town, "deliver", &[], "已送达");
    browser.click("a[href^='#/print/result/']");
    browser.wait_text("#doc-result", "350322202510090001");
    browser.wait_text("#doc-result", "符合施工许可条件");
    let history: Vec<String> = town.case(&no)["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| s(e, "action").to_string())
        .collect();
    assert_eq!(
        history,
        [
            "submit",
            "forward",
            "take_over",
            "decide",
            "forward",
            "take_over",
            "certify",
            "deliver"
        ]
    );
    assert_eq!(script_errors(&browser), Vec::<String>::new());
}
