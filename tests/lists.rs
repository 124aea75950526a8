//! The list endpoints (`GET /api/v1/cases`, `GET /api/v1/summaries`) and `liandong case list`
//! are paginated: a default and a hard server-side cap on the page, a cursor (`after` = the
//! previous page's `next`) to continue, filters applied while paging, and a 400 for a bad
//! `limit` or `after` that changes nothing.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::federation::wait_until;
use support::*;

const CLOCK: &str = "2025-09-30T10:00";
/// 建设工程施工许可 (住房和城乡建设局).
const SHIGONG: &str = "000172005000";
/// 个体工商户登记 (市场监督管理局).
const GETI: &str = "000187002000";
/// The server's cap on a page (node/src/api/cases.rs `MAX_PAGE`).
const MAX_PAGE: usize = 500;
/// The page size without `limit` (node/src/api/cases.rs `DEFAULT_PAGE`).
const DEFAULT_PAGE: usize = 100;

/// `GET path` as admin; asserts 200 and returns the answer.
fn get_ok(node: &Node, path: &str) -> Value {
    let (status, body) = node.get(path, &node.admin_token());
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// The `key` list of an answer and its `next` (`None` for `null`; anything else fails).
fn page(answer: &Value, key: &str) -> (Vec<Value>, Option<String>) {
    let items = answer[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} array: {answer}"))
        .clone();
    let next = match &answer["next"] {
        Value::Null => None,
        Value::String(n) => Some(n.clone()),
        other => panic!("next is neither a case number nor null: {other}"),
    };
    (items, next)
}

/// Follows `next` from the first page of `path` (which has a `?`) until `null`: every page's
/// items, in order, and how many pages it took. Fails past `max_pages`.
fn all_pages(node: &Node, path: &str, key: &str, max_pages: usize) -> (Vec<Value>, usize) {
    let (mut items, mut pages, mut after) = (Vec::new(), 0, None::<String>);
    loop {
        let url = match &after {
            Some(a) => format!("{path}&after={a}"),
            None => path.to_string(),
        };
        let (got, next) = page(&get_ok(node, &url), key);
        pages += 1;
        assert!(pages <= max_pages, "{path}: more than {max_pages} pages");
        items.extend(got);
        match next {
            Some(n) => {
                assert_ne!(after.as_deref(), Some(n.as_str()), "the cursor stood still");
                after = Some(n);
            }
            None => return (items, pages),
        }
    }
}

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    text.bytes().map(|b| format!("%{b:02X}")).collect()
}

fn case_nos(items: &[Value]) -> Vec<String> {
    items.iter().map(|c| s(c, "case_no").to_string()).collect()
}

/// Submits `n` cases alternating 施工许可 (住建) and 个体登记 (市场监管); their numbers in order.
fn submit_mixed(node: &Node, n: usize) -> Vec<String> {
    let zhujian = node.clerk(ZHUJIAN);
    let shichang = node.clerk(SHICHANG);
    let shigong = node.materials(SHIGONG, false);
    let geti = node.materials(GETI, false);
    (0..n)
        .map(|i| {
            let (token, item, materials) = if i % 2 == 0 {
                (&zhujian, SHIGONG, &shigong)
            } else {
                (&shichang, GETI, &geti)
            };
            let (status, case) = node.submit(token, item, materials);
            assert_eq!(status, 201, "submitting {item}: {case}");
            s(&case, "case_no").to_string()
        })
        .collect()
}

#[test]
fn paging_through_cases_lists_each_once_in_order() {
    let node = Node::start("350322", Some(CLOCK));
    let submitted = submit_mixed(&node, 30);
    let mut sorted = submitted.clone();
    sorted.sort();
    assert_eq!(submitted, sorted, "case numbers are issued in key order");

    let (listed, pages) = all_pages(&node, "/api/v1/cases?limit=7", "cases", 10);
    assert_eq!(case_nos(&listed), submitted);
    assert_eq!(pages, 5, "30 cases by 7: 4 full pages and one of 2");
    // Each page names its last case as `next`; the last page says null.
    let first = get_ok(&node, "/api/v1/cases?limit=7");
    let (items, next) = page(&first, "cases");
    assert_eq!(next.as_deref(), Some(submitted[6].as_str()));
    assert_eq!(case_nos(&items), submitted[..7]);
    // The listed views are the case views.
    assert_eq!(items[0], node.case(&submitted[0]));

    // Exactly a page left: no cursor, since nothing more is stored.
    let tail = get_ok(
        &node,
        &format!("/api/v1/cases?limit=5&after={}", submitted[24]),
    );
    let (items, next) = page(&tail, "cases");
    assert_eq!((case_nos(&items), next), (submitted[25..].to_vec(), None));
    // After the last case, or after a number past every case: empty, done.
    for after in [submitted[29].as_str(), "350322-20991231-999999"] {
        let answer = get_ok(&node, &format!("/api/v1/cases?after={after}"));
        assert_eq!(page(&answer, "cases"), (vec![], None), "after {after}");
    }
    // A cursor need not be a stored case: before every case lists them all.
    let answer = get_ok(&node, "/api/v1/cases?after=110000-20000101-000001");
    assert_eq!(case_nos(&page(&answer, "cases").0), submitted);
    // Without a limit: one page of them all (fewer than the default), next null.
    let answer = get_ok(&node, "/api/v1/cases");
    assert_eq!(page(&answer, "cases").1, None);
    assert_eq!(page(&answer, "cases").0.len(), 30);
    node.assert_no_panic();
}

#[test]
fn filters_apply_while_paging() {
    let node = Node::start("350322", Some(CLOCK));
    let submitted = submit_mixed(&node, 30);
    let geti: Vec<String> = submitted.iter().skip(1).step_by(2).cloned().collect();
    let shigong: Vec<String> = submitted.iter().step_by(2).cloned().collect();

    let (listed, pages) = all_pages(
        &node,
        &format!("/api/v1/cases?item={GETI}&limit=4"),
        "cases",
        10,
    );
    assert_eq!(case_nos(&listed), geti);
    assert!(listed.iter().all(|c| c["item"] == GETI));
    assert_eq!(pages, 4, "15 by 4");

    let state = s(&node.case(&shigong[0]), "state").to_string();
    let path = format!(
        "/api/v1/cases?department={}&state={state}&limit=6",
        encode(ZHUJIAN)
    );
    let (listed, _) = all_pages(&node, &path, "cases", 10);
    assert_eq!(case_nos(&listed), shigong);

    // Filters and cursor together: only matching cases after the cursor.
    let answer = get_ok(
        &node,
        &format!(
            "/api/v1/cases?item={GETI}&limit=100&after={}",
            submitted[20]
        ),
    );
    assert_eq!(case_nos(&page(&answer, "cases").0), geti[10..]);

    // Nothing matches: an empty page, and (within the scan budget) nothing to continue.
    let answer = get_ok(&node, "/api/v1/cases?warning=red&limit=3");
    assert_eq!(page(&answer, "cases"), (vec![], None));
    let answer = get_ok(&node, "/api/v1/cases?owner=350300");
    assert_eq!(page(&answer, "cases"), (vec![], None));
    node.assert_no_panic();
}

/// 510 cases: a `limit` over the cap gets a page of at most [`MAX_PAGE`] with a cursor, no
/// `limit` gets [`DEFAULT_PAGE`], and `liandong case list` follows the cursor to the end (or
/// prints one page with `--limit`).
#[test]
fn a_limit_over_the_cap_is_clamped_and_the_cli_follows_next() {
    let node = Node::start("350322", Some(CLOCK));
    let began = Instant::now();
    let submitted = submit_mixed(&node, MAX_PAGE + 10);
    eprintln!(
        "{} cases submitted in {:?}",
        submitted.len(),
        began.elapsed()
    );

    for limit in ["501", "100000000", "99999999999999999999999"] {
        let answer = get_ok(&node, &format!("/api/v1/cases?limit={limit}"));
        let (items, next) = page(&answer, "cases");
        assert_eq!(items.len(), MAX_PAGE, "limit={limit}");
        assert_eq!(case_nos(&items), submitted[..MAX_PAGE]);
        assert_eq!(next.as_deref(), Some(submitted[MAX_PAGE - 1].as_str()));
    }
    let (items, next) = page(&get_ok(&node, "/api/v1/cases"), "cases");
    assert_eq!(items.len(), DEFAULT_PAGE);
    assert_eq!(next.as_deref(), Some(submitted[DEFAULT_PAGE - 1].as_str()));
    let (listed, pages) = all_pages(&node, "/api/v1/cases?limit=100000000", "cases", 3);
    assert_eq!((case_nos(&listed), pages), (submitted.clone(), 2));

    let config = node.dir().join("node.toml");
    let config = config.to_str().unwrap();
    let cli = |extra: &[&str]| -> String {
        let mut args = vec!["case", "list", "--config", config];
        args.extend_from_slice(extra);
        let out = liandong(&args);
        assert!(out.status.success(), "liandong {args:?}: {out:?}");
        String::from_utf8(out.stdout).expect("UTF-8 output")
    };
    // Every page, as one JSON answer.
    let all: Value = serde_json::from_str(&cli(&["--json"])).expect("JSON");
    assert_eq!(page(&all, "cases"), (listed, None));
    // As text: every case once, and the count.
    let text = cli(&[]);
    let lines: BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.starts_with("350322-"))
        .collect();
    assert_eq!(lines.len(), submitted.len());
    assert!(
        text.contains(&format!("{} case(s)", submitted.len())),
        "{text}"
    );
    // One page, filtered, then the next from its cursor.
    let one: Value =
        serde_json::from_str(&cli(&["--limit", "7", "--item", GETI, "--json"])).expect("JSON");
    let (items, next) = page(&one, "cases");
    let geti: Vec<String> = submitted.iter().skip(1).step_by(2).cloned().collect();
    assert_eq!(case_nos(&items), geti[..7]);
    assert_eq!(next.as_deref(), Some(geti[6].as_str()));
    let text = cli(&["--limit", "7", "--item", GETI, "--after", &geti[6]]);
    assert!(
        text.contains(&geti[7]) && !text.contains(&geti[6]),
        "{text}"
    );
    assert!(
        text.contains(&format!("more: continue with --after {}", geti[13])),
        "{text}"
    );
    node.assert_no_panic();
}

#[test]
fn bad_paging_parameters_are_a_400_and_change_nothing() {
    let node = Node::start("350322", Some(CLOCK));
    let submitted = submit_mixed(&node, 3);
    let admin = node.admin_token();
    let clerk = node.clerk(ZHUJIAN);
    let before = (get_ok(&node, "/api/v1/cases"), node.events_stored_line());
    for path in ["/api/v1/cases", "/api/v1/summaries"] {
        for query in [
            "limit=-1",
            "limit=many",
            "limit=1.5",
            "limit=",
            "limit=%2B3",
            "after=",
            "after=yesterday",
            "after=350322-20250930-000000",
            "after=350322-2025-09-30-000001",
            "after=%FF",
            "page=2",
        ] {
            for token in [&admin, &clerk] {
                let answer = node.get(&format!("{path}?{query}"), token);
                assert_error(&answer, 400, "bad_request");
            }
        }
    }
    // A bad filter is refused before anything is read, even with a good cursor.
    let answer = node.get(
        &format!("/api/v1/cases?state=flying&after={}", submitted[0]),
        &admin,
    );
    assert_error(&answer, 400, "bad_request");
    // Without a token: 401, as before.
    assert_error(&node.get("/api/v1/cases?limit=1", ""), 401, "unauthorized");
    assert_error(
        &node.get("/api/v1/summaries?limit=1", ""),
        401,
        "unauthorized",
    );
    // limit=0 lists nothing, as it always did.
    for path in ["/api/v1/cases?limit=0", "/api/v1/summaries?limit=000"] {
        let page = get_ok(&node, path);
        assert_eq!(page["next"], Value::Null, "{page}");
    }
    let after = (get_ok(&node, "/api/v1/cases"), node.events_stored_line());
    assert_eq!(after, before);
    node.assert_no_panic();
}

#[test]
fn summaries_are_paged_like_cases() {
    let node = Node::start("350322", Some(CLOCK));
    let submitted = submit_mixed(&node, 12);
    // The summaries are kept as the cases are written; wait until all are there.
    assert!(
        wait_until(Duration::from_secs(10), || page(
            &get_ok(&node, "/api/v1/summaries"),
            "summaries"
        )
        .0
        .len()
            == 12),
        "{}",
        get_ok(&node, "/api/v1/summaries")
    );
    let (listed, pages) = all_pages(&node, "/api/v1/summaries?limit=5", "summaries", 5);
    assert_eq!(case_nos(&listed), submitted);
    assert_eq!(pages, 3);
    let first = get_ok(&node, "/api/v1/summaries?limit=5");
    assert_eq!(
        page(&first, "summaries").1.as_deref(),
        Some(submitted[4].as_str())
    );
    let answer = get_ok(
        &node,
        &format!("/api/v1/summaries?limit=100000000&after={}", submitted[9]),
    );
    assert_eq!(case_nos(&page(&answer, "summaries").0), submitted[10..]);
    assert_eq!(page(&answer, "summaries").1, None);
    // A clerk may read them, paged the same way.
    let clerk = node.clerk(ZHUJIAN);
    let (status, answer) = node.get("/api/v1/summaries?limit=2", &clerk);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(page(&answer, "summaries").0.len(), 2);
    node.assert_no_panic();
}
