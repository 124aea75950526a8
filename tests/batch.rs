//! `POST /api/v1/cases:batch` and `liandong case import` on a real node: a batch is checked
//! whole before anything is written, written in its own order, answered once durable, and
//! completed — never duplicated — by a retry under its Idempotency-Key, also after a SIGKILL
//! in the middle of it.

mod support;

use std::collections::BTreeSet;

use serde_json::{json, Value};
use support::*;

/// Tuesday 2025-09-30.
const CLOCK: &str = "2025-09-30T10:00";
/// 建筑工程施工许可证核发 (住房和城乡建设局): 承诺, 容缺.
const SHIGONG: &str = "000172005000";
/// 个体工商户设立登记 (市场监督管理局): 即办.
const GETI: &str = "000187002000";
const BATCH: &str = "/api/v1/cases:batch";

/// Application `n` for `item`: a person of its own, with `materials`.
fn application(n: u32, item: &str, materials: &[String]) -> Value {
    json!({
        "item": item,
        "applicant": {"kind": "person", "name": format!("迁移申请人{n}"), "id": resident_id(n)},
        "materials": materials,
    })
}

fn batch(cases: &[Value]) -> Value {
    json!({ "cases": cases })
}

fn case_nos(answer: &Value) -> Vec<String> {
    answer["cases"]
        .as_array()
        .unwrap_or_else(|| panic!("no case list: {answer}"))
        .iter()
        .map(|c| s(c, "case_no").to_string())
        .collect()
}

/// `POST` of exactly these bytes with an `Idempotency-Key`.
fn post_keyed(node: &Node, token: &str, key: &str, body: &str) -> Result<(u16, Value), String> {
    node.try_request_with(
        "POST",
        BATCH,
        &[
            ("Authorization", &format!("Bearer {token}")),
            ("Idempotency-Key", key),
        ],
        Some((body.as_bytes(), "application/json")),
    )
}

#[test]
fn a_batch_of_200_is_written_in_its_order_and_every_case_is_listed() {
    let node = Node::start("350322", Some(CLOCK));
    let clerk = node.clerk(ZHUJIAN);
    let all = node.materials(SHIGONG, false);
    let some = vec!["施工合同".to_string()];
    // Every third one misses core materials: 补正, as a single submission would be.
    let cases: Vec<Value> = (0..200)
        .map(|n| application(n, SHIGONG, if n % 3 == 0 { &some } else { &all }))
        .collect();
    let flushes = node.counter("liandong_flushes_total");
    let (status, answer) = node.post(BATCH, &clerk, &batch(&cases));
    assert_eq!(status, 201, "{answer}");
    let flushed = node.counter("liandong_flushes_total") - flushes;
    assert!(
        flushed < 50,
        "{flushed} flushes for one batch of 200: no group commit"
    );

    let views = answer["cases"].as_array().expect("cases");
    let numbers = case_nos(&answer);
    let expected: Vec<String> = (1..=200)
        .map(|n| format!("350322-20250930-{n:06}"))
        .collect();
    assert_eq!(numbers, expected, "case numbers follow the batch's order");
    for (n, view) in views.iter().enumerate() {
        let state = if n % 3 == 0 {
            "awaiting_supplement"
        } else {
            "accepted"
        };
        assert_eq!(s(view, "state"), state, "{view}");
        assert_eq!(s(view, "item"), SHIGONG);
        assert_eq!(s(view, "department"), ZHUJIAN);
        assert!(
            view.get("applicant").is_none(),
            "no identity echoed: {view}"
        );
    }
    assert_eq!(s(&views[1], "deadline"), "2025-10-11");
    assert_eq!(views[0]["missing"].as_array().map(Vec::len), Some(4));

    // Every case is listed, each with the applicant of its place in the batch.
    let listed = node.cases("");
    assert_eq!(listed.len(), 200);
    for case in &listed {
        let no = s(case, "case_no");
        let n = numbers
            .iter()
            .position(|x| x == no)
            .expect("listed case answered");
        assert_eq!(case["applicant"]["id"], cases[n]["applicant"]["id"], "{no}");
    }
    assert_eq!(node.events_stored(), 200);
    node.assert_no_panic();
}

#[test]
fn a_batch_with_invalid_cases_is_refused_whole_naming_each() {
    let node = Node::start("350322", Some(CLOCK));
    let clerk = node.clerk(ZHUJIAN);
    let all = node.materials(SHIGONG, false);
    let mut cases: Vec<Value> = (0..10).map(|n| application(n, SHIGONG, &all)).collect();
    // A resident ID with a wrong check digit, and an item not in the catalog.
    let id = resident_id(3);
    let last = if id.ends_with('1') { '2' } else { '1' };
    cases[3]["applicant"]["id"] = json!(format!("{}{last}", &id[..17]));
    cases[7]["item"] = json!("000000000000");
    let answer = node.post(BATCH, &clerk, &batch(&cases));
    let message = assert_error(&answer, 422, "invalid_cases");
    assert!(
        message.contains("2 of the 10") && message.contains("nothing was written"),
        "{message}"
    );
    let errors = answer.1["errors"].as_array().expect("errors");
    let listed: Vec<(u64, &str)> = errors
        .iter()
        .map(|e| (e["index"].as_u64().expect("index"), s(e, "error")))
        .collect();
    assert_eq!(listed, [(3, "invalid_applicant"), (7, "unknown_item")]);
    assert!(
        s(&errors[0], "message").contains("check digit"),
        "{}",
        errors[0]
    );
    assert_eq!(node.events_stored(), 0, "nothing was written");

    // Each case gets the errors of a body of its own: a control character names its field,
    // an unknown field and a case larger than a single submission's body are refused.
    let mut cases: Vec<Value> = (0..4).map(|n| application(n, SHIGONG, &all)).collect();
    cases[0]["applicant"]["name"] = json!("张\u{202e}三");
    cases[1]["colour"] = json!("red");
    cases[2]["materials"] = json!(vec!["材".repeat(150); 200]);
    let answer = node.post(BATCH, &clerk, &batch(&cases));
    assert_error(&answer, 422, "invalid_cases");
    let errors = answer.1["errors"].as_array().expect("errors");
    let codes: Vec<&str> = errors.iter().map(|e| s(e, "error")).collect();
    assert_eq!(codes, ["control_character", "bad_request", "too_large"]);
    assert!(
        s(&errors[0], "message").contains("applicant.name"),
        "{}",
        errors[0]
    );

    // A body that is not a batch is refused as a request.
    for bad in [
        json!({"cases": {}}),
        json!([]),
        json!({"cases": [], "more": 1}),
    ] {
        assert_error(&node.post(BATCH, &clerk, &bad), 400, "bad_request");
    }
    assert_error(&node.post(BATCH, &clerk, &batch(&[])), 422, "empty_batch");
    assert_eq!(node.events_stored(), 0);
    assert!(node.cases("").is_empty());
    node.assert_no_panic();
}

#[test]
fn a_batch_over_the_caps_is_refused() {
    let node = Node::start("350322", Some(CLOCK));
    let admin = node.admin_token();
    let one = application(1, GETI, &node.materials(GETI, false));
    let message = assert_error(
        &node.post(BATCH, &admin, &batch(&vec![one.clone(); 1001])),
        413,
        "too_many_cases",
    );
    assert!(
        message.contains("at most 1000") && message.contains("1001"),
        "{message}"
    );
    // The batch's own body cap (4 MiB), past the API's 64 KiB for other requests.
    // The node answers before reading the body, and closes: the client may see the answer or
    // a broken pipe (as in tests/bad_input.rs).
    let padded = format!("{{\"cases\":[{}]}}", " ".repeat(5 << 20));
    match node.try_request(
        "POST",
        BATCH,
        &admin,
        Some((padded.as_bytes(), "application/json")),
    ) {
        Ok(answer) => {
            let message = assert_error(&answer, 413, "too_large");
            assert!(message.contains(&(4 << 20).to_string()), "{message}");
        }
        Err(e) => eprintln!("5 MiB batch: the node closed the connection: {e}"),
    }
    // A batch of a thousand is taken, though larger than a single submission's body.
    let cases = vec![one; 1000];
    let body = batch(&cases).to_string();
    assert!(body.len() > 64 * 1024);
    let (status, answer) = node.post(BATCH, &admin, &batch(&cases));
    assert_eq!(status, 201, "{answer}");
    assert_eq!(case_nos(&answer).len(), 1000);
    assert_eq!(node.events_stored(), 1000);
    node.assert_no_panic();
}

#[test]
fn a_clerk_of_another_department_is_refused() {
    let node = Node::start("350322", Some(CLOCK));
    let shigong = node.materials(SHIGONG, false);
    let geti = node.materials(GETI, false);
    let shichang = node.clerk(SHICHANG);
    // Two 住建 cases among 市场监管's own: refused whole, naming the two.
    let cases = vec![
        application(1, GETI, &geti),
        application(2, SHIGONG, &shigong),
        application(3, GETI, &geti),
        application(4, SHIGONG, &shigong),
    ];
    let answer = node.post(BATCH, &shichang, &batch(&cases));
    assert_error(&answer, 403, "forbidden");
    let errors = answer.1["errors"].as_array().expect("errors");
    let indexes: Vec<u64> = errors.iter().filter_map(|e| e["index"].as_u64()).collect();
    assert_eq!(indexes, [1, 3]);
    assert!(
        errors.iter().all(|e| e["error"] == "forbidden"),
        "{errors:?}"
    );
    // A supervisor accepts nothing; no token is no operator.
    let supervisor = node.add_operator("督查室", "supervisor", None);
    assert_error(
        &node.post(BATCH, &supervisor, &batch(&cases[..1])),
        403,
        "forbidden",
    );
    assert_error(
        &node.post(BATCH, "", &batch(&cases[..1])),
        401,
        "unauthorized",
    );
    assert_eq!(node.events_stored(), 0);
    // Their own department's cases are theirs to accept.
    let own = [cases[0].clone(), cases[2].clone()];
    let (status, answer) = node.post(BATCH, &shichang, &batch(&own));
    assert_eq!(status, 201, "{answer}");
    node.assert_no_panic();
}

#[test]
fn a_retried_batch_writes_nothing_new_and_answers_the_same_numbers() {
    let mut node = Node::start("350322", None);
    let admin = node.admin_token();
    let all = node.materials(SHIGONG, false);
    let cases: Vec<Value> = (0..50).map(|n| application(n, SHIGONG, &all)).collect();
    let body = batch(&cases).to_string();
    let (status, first) = post_keyed(&node, &admin, "legacy-0001", &body).unwrap();
    assert_eq!(status, 201, "{first}");
    let (status, again) = post_keyed(&node, &admin, "legacy-0001", &body).unwrap();
    assert_eq!(status, 201, "{again}");
    assert_eq!(case_nos(&again), case_nos(&first));
    assert_eq!(node.events_stored(), 50);
    // Across a crash too.
    node.kill9();
    node.start_again(None);
    let (status, after) = post_keyed(&node, &admin, "legacy-0001", &body).unwrap();
    assert_eq!((status, case_nos(&after)), (201, case_nos(&first)));
    assert_eq!(node.events_stored(), 50);
    // The same key with another batch: refused before anything is written.
    let other = batch(&cases[1..]).to_string();
    let answer = post_keyed(&node, &admin, "legacy-0001", &other).unwrap();
    let message = assert_error(&answer, 422, "idempotency_key_reused");
    assert!(message.contains(&case_nos(&first)[0]), "{message}");
    assert_eq!(node.events_stored(), 50);
    assert_eq!(node.cases("").len(), 50);
    node.assert_no_panic();
}

/// A SIGKILL in the middle of a batch leaves the cases written before it; the batch sent again
/// under its key answers those with their numbers and writes only the rest: every case once.
/// The kill comes as soon as the node counts the batch's first cases stored (the count moves
/// when a group is written, just before its flush, so the kill may also come before anything
/// of the batch is durable); until a kill lands with part of the batch durable, it is tried
/// again with another batch — each attempt checks the retry all the same.
#[test]
fn a_batch_cut_short_by_a_crash_is_completed_by_its_retry_without_duplicates() {
    let mut node = Node::start("350322", None);
    let admin = node.admin_token();
    let all = node.materials(SHIGONG, false);
    let mut cut_short = false;
    for attempt in 0..5u32 {
        let before = node.events_stored();
        let cases: Vec<Value> = (0..1000)
            .map(|n| application(attempt * 1000 + n, SHIGONG, &all))
            .collect();
        let body = batch(&cases).to_string();
        let key = format!("legacy-crash-{attempt}");
        std::thread::scope(|scope| {
            let sent = scope.spawn(|| post_keyed(&node, &admin, &key, &body));
            while node.events_stored() == before && !sent.is_finished() {}
            node.sigkill();
            // The answer is lost, or came just before the kill.
            let answer = sent.join();
            eprintln!("attempt {attempt}: the batch's answer: {answer:?}");
        });
        node.kill9();
        node.start_again(None);
        let written = node.events_stored() - before;
        let (status, answer) = post_keyed(&node, &admin, &key, &body).unwrap();
        assert_eq!(status, 201, "{answer}");
        let numbers = case_nos(&answer);
        assert_eq!(numbers.len(), 1000);
        assert_eq!(
            numbers.iter().collect::<BTreeSet<_>>().len(),
            1000,
            "distinct numbers"
        );
        assert_eq!(node.events_stored() - before, 1000, "every case once");
        // The answer's numbers are the stored cases of this batch, each with its applicant.
        for (n, no) in numbers.iter().enumerate().step_by(97) {
            assert_eq!(
                node.case(no)["applicant"]["id"],
                cases[n]["applicant"]["id"]
            );
        }
        eprintln!("attempt {attempt}: {written} of 1000 cases were durable at the kill");
        if (1..1000).contains(&written) {
            cut_short = true;
            break;
        }
    }
    assert!(
        cut_short,
        "in 5 attempts the kill never came in the middle of a batch"
    );
    node.assert_no_panic();
}

fn import(node: &Node, args: &[&str]) -> std::process::Output {
    let api = format!("http://127.0.0.1:{}", node.ports()["api"]);
    std::process::Command::new(BIN)
        .args(["case", "import", "--api", &api])
        .args(args)
        .env("LIANDONG_TOKEN", node.admin_token())
        .env("NO_COLOR", "1")
        .output()
        .expect("running liandong case import")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_cli_imports_a_json_lines_file_and_resumes_after_a_bad_line() {
    let node = Node::start("350322", Some(CLOCK));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("legacy.jsonl");
    let path = file.to_str().unwrap();
    let all = node.materials(SHIGONG, false);
    let mut lines: Vec<String> = (0..30)
        .map(|n| application(n, SHIGONG, &all).to_string())
        .collect();
    lines.insert(10, String::new()); // blank lines are skipped
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();

    let out = import(&node, &[path, "--batch-size", "8"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("batch 4/4"), "{stderr}");
    assert!(
        stdout.contains("30 cases imported")
            && stdout.contains("first 350322-20250930-000001")
            && stdout.contains("last 350322-20250930-000030"),
        "{stdout}"
    );
    assert_eq!(node.cases("").len(), 30);
    // Again: nothing written twice, the same numbers.
    let out = import(&node, &[path, "--batch-size", "8"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("last 350322-20250930-000030"));
    assert_eq!(node.events_stored(), 30);

    // A second file with a bad application on line 6 (of 12) and bad JSON nowhere: the first
    // batch (lines 1–4) is imported, the second refused naming line 6, nothing after it sent.
    let file = dir.path().join("more.jsonl");
    let path = file.to_str().unwrap();
    let mut lines: Vec<String> = (100..112)
        .map(|n| application(n, SHIGONG, &all).to_string())
        .collect();
    let good_line_6 = lines[5].clone();
    lines[5] = lines[5].replace(SHIGONG, "000000000000");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let out = import(&node, &[path, "--batch-size", "4"]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("more.jsonl:6: unknown_item"), "{stderr}");
    assert!(stderr.contains("lines 5–8 was refused"), "{stderr}");
    assert_eq!(node.events_stored(), 34, "the first batch only");
    // Fixed and run again: the first batch is answered, the rest written; no duplicates.
    lines[5] = good_line_6;
    std::fs::write(&file, lines.join("\n")).unwrap();
    let out = import(&node, &[path, "--batch-size", "4", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(node.events_stored(), 42);
    let rows: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line per case"))
        .collect();
    assert_eq!(rows.len(), 12);
    assert_eq!(rows[0]["line"], 1);
    assert_eq!(s(&rows[0], "case_no"), "350322-20250930-000031");
    assert_eq!(s(&rows[11], "case_no"), "350322-20250930-000042");

    // Not JSON on a line: refused before anything is sent, naming the line.
    std::fs::write(&file, format!("{}\n{{\"item\": \n", lines[0])).unwrap();
    let out = import(&node, &[path]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("line 2: not JSON"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(node.events_stored(), 42);

    let help = support::liandong(&["case", "import", "--help"]);
    let help = text(&help.stdout);
    assert!(
        help.contains("JSON Lines") && help.contains("--batch-size"),
        "{help}"
    );
    node.assert_no_panic();
}
