//! Personal data only where it belongs (DESIGN.md §8), on real nodes:
//!
//! - a county holds its townships' events as their backup copy, but its API serves none of a
//!   township-only case — not to its admin either — while `liandong restore` still rebuilds the
//!   township from that copy, and the county's summaries (电子监察) carry no identity;
//! - a clerk sees the applicant's identity only of their own department's cases (and of the
//!   joint reviews their department sits in); other cases come masked;
//! - every answer that carries an identity unmasked is recorded in the audit log first: who,
//!   when, which case, which endpoint; supervisors and admins can query it (API and
//!   `liandong audit`), clerks cannot, and it survives a restart.

mod support;

use serde_json::{json, Value};
use support::federation::{wait_until, Federation, SETTLE};
use support::*;

const XIANYOU: &str = "350322";
const FENGTING: &str = "350322100";

/// 生育登记 (卫生健康办公室): 即办, decided at the township's window.
const SHENGYU: &str = "000152043000";
const WEIJIAN: &str = "卫生健康办公室";
/// 建筑工程施工许可证核发 (住房和城乡建设局): decided by the county.
const SHIGONG: &str = "000172005000";
/// 个体工商户设立登记 (市场监督管理局): 即办.
const GETI: &str = "000187002000";
/// 建设工程竣工联合验收 (住房和城乡建设局 leads; 自然资源和规划局, 人民防空办公室, 气象局).
const YANSHOU: &str = "000172023000";

const CLOCK: &str = "2025-09-30T10:00";

/// The answer of `GET /api/v1/cases/{no}` on `node` with `token`.
fn show(node: &Node, token: &str, no: &str) -> (u16, Value) {
    node.get(&format!("/api/v1/cases/{no}"), token)
}

/// Every case `GET /api/v1/cases` lists to `token`, by case number.
fn listed(node: &Node, token: &str) -> std::collections::BTreeMap<String, Value> {
    all_pages("cases", |cursor| {
        let (status, list) = node.get(&format!("/api/v1/cases?limit=500{cursor}"), token);
        assert_eq!(status, 200, "{list}");
        list
    })
    .into_iter()
    .map(|c| (s(&c, "case_no").to_string(), c))
    .collect()
}

/// The audit entries the node answers to `token` for `query` (all pages).
fn audit(node: &Node, token: &str, query: &str) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut after = String::new();
    loop {
        let (status, page) = node.get(&format!("/api/v1/audit?{query}{after}"), token);
        assert_eq!(status, 200, "GET /api/v1/audit?{query}{after}: {page}");
        entries.extend(page["entries"].as_array().expect("entries").iter().cloned());
        match page["next"].as_u64() {
            Some(n) => after = format!("&after={n}"),
            None => return entries,
        }
    }
}

/// The masked form the API promises: the first character of the name, then `*`s; the first
/// and last four characters of the number, `*`s between.
fn masked(applicant: &Value) -> Value {
    let name = s(applicant, "name");
    let id = s(applicant, "id");
    let first: String = name.chars().take(1).collect();
    let stars = |n: usize| "*".repeat(n);
    json!({
        "kind": applicant["kind"],
        "name": format!("{first}{}", stars(name.chars().count() - 1)),
        "id": format!("{}{}{}", &id[..4], stars(id.len() - 8), &id[id.len() - 4..]),
    })
}

// ---------------------------------------------------------------------------------------------

/// 枫亭镇 decides a 生育登记 at its window: the county holds the case's events (its child's
/// backup) and the township's summary. The county's API answers the case like an unknown one
/// — 404 with the same error, absent from the list — for its admin, a supervisor and a clerk
/// of the department; an action on it is a 404 too, and a 督办 is answered with the summary
/// only. Its summaries carry neither the applicant's name nor ID. A case the township forwards
/// to the county (so the county is involved) is served there, identity included. Then the
/// township loses its disk and is restored from the county's copy: the copy was there all
/// along, identity and all.
#[test]
fn a_parents_backup_copy_is_not_served() {
    let mut fed = Federation::start(&[(XIANYOU, None), (FENGTING, Some(XIANYOU))]);
    fed.wait_settled();
    let town = fed.node(FENGTING);
    let town_clerk = town.clerk(WEIJIAN);
    let applicant = person();
    let body =
        json!({"item": SHENGYU, "applicant": applicant, "materials": ["夫妻双方居民身份证"]});
    let (status, local) = town.post("/api/v1/cases", &town_clerk, &body);
    assert_eq!(status, 201, "{local}");
    let no = s(&local, "case_no").to_string();
    let at_town = town.case(&no);
    assert_eq!(at_town["applicant"], applicant, "the township is involved");

    // A case the county is involved in: forwarded to it.
    let town_admin = town.admin_token();
    let forwarded = town.submit_all(&town_admin, SHIGONG);
    let forwarded_no = s(&forwarded, "case_no").to_string();
    let forwarded = town.act_ok(&town_admin, &forwarded_no, &json!({"action": "forward"}));

    let county = fed.node(XIANYOU);
    let admin = county.admin_token();
    assert!(
        wait_until(SETTLE, || show(county, &admin, &forwarded_no).0 == 200
            && county.get(&format!("/api/v1/summaries/{no}"), &admin).0 == 200),
        "the county never got the forwarded case and the township's summary:\n{}",
        fed.links_report()
    );
    fed.wait_settled();
    let involved = county.case(&forwarded_no);
    assert_eq!(involved["applicant"], forwarded["applicant"]);
    assert_eq!(involved["applicant_masked"], false);

    // Not served, to anyone: the same 404 as a case that does not exist.
    let supervisor = county.add_operator("县监察", "supervisor", None);
    let county_clerk = county.clerk(WEIJIAN);
    let unknown = format!("{FENGTING}-20250930-000999");
    for token in [&admin, &supervisor, &county_clerk] {
        let (status, answer) = show(county, token, &no);
        assert_eq!(status, 404, "the county served its backup copy: {answer}");
        let (_, none) = show(county, token, &unknown);
        assert_eq!(answer["error"], none["error"]);
        assert_eq!(
            s(&answer, "message"),
            s(&none, "message").replace(&unknown, &no),
            "a backup copy must look like an unknown case"
        );
        let list = listed(county, token);
        assert!(!list.contains_key(&no), "listed: {:?}", list.get(&no));
        assert!(
            list.contains_key(&forwarded_no),
            "the involved case is listed"
        );
    }
    let withdraw = county.act(&admin, &no, &json!({"action": "withdraw"}));
    assert_error(&withdraw, 404, "not_found");
    let (status, supervised) = county.act(
        &supervisor,
        &no,
        &json!({"action": "supervise", "note": "请说明进度"}),
    );
    assert_eq!(status, 200, "{supervised}");

    // Nothing the county answers carries the township's applicant.
    let (name, id) = (s(&applicant, "name"), s(&applicant, "id"));
    let (status, summaries) = county.get("/api/v1/summaries?limit=500", &admin);
    assert_eq!(status, 200, "{summaries}");
    let (_, summary) = county.get(&format!("/api/v1/summaries/{no}"), &admin);
    assert_eq!(summary["case_no"], no.as_str());
    for (what, answer) in [
        ("summaries", &summaries),
        ("summary", &summary),
        ("督办", &supervised),
    ] {
        let text = answer.to_string();
        assert!(
            !text.contains(id) && !text.contains(name),
            "the county's {what} carries the applicant: {text}"
        );
    }
    assert!(
        audit(county, &admin, &format!("case_no={no}")).is_empty(),
        "nothing of the backup copy was read"
    );

    // The copy is there: the township is restored from it, identity included.
    fed.stop(FENGTING);
    let dir = fed.node(FENGTING).dir();
    std::fs::remove_dir_all(dir.join("data")).expect("deleting the township's data folder");
    let out = fed.restore(FENGTING);
    assert!(out.status.success(), "liandong restore failed: {out:?}");
    fed.start_again(FENGTING);
    let restored = fed.node(FENGTING).case(&no);
    assert_eq!(restored["applicant"], applicant);
    assert_eq!(restored["state"], at_town["state"]);
    fed.assert_no_panic();
}

/// A clerk of 住房和城乡建设局 sees the applicant of the department's own 施工许可 in full and
/// that of 市场监督管理局's 个体工商户 masked (`申*`-style name, `3503**********1234`-style
/// number, `applicant_masked: true`), in the case view and in the list, the rest of the view
/// unchanged; the other clerk the other way round. In a joint review, the departments holding
/// a seat here see the identity; others do not. Admins and supervisors see every identity.
/// Masked answers are not audited; unmasked ones are.
#[test]
fn a_clerk_sees_identities_of_own_department_only() {
    let node = Node::start(XIANYOU, Some(CLOCK));
    let zhujian = node.clerk(ZHUJIAN);
    let shichang = node.add_operator(&format!("{SHICHANG}窗口"), "clerk", Some(SHICHANG));
    let shigong = node.submit_all(&zhujian, SHIGONG);
    let geti = node.submit_all(&shichang, GETI);
    assert_eq!(
        shigong["applicant_masked"], false,
        "the submitter's own case"
    );
    let (shigong_no, geti_no) = (s(&shigong, "case_no"), s(&geti, "case_no"));

    let expect = |token: &str, no: &str, original: &Value, see: bool| {
        let (status, view) = show(&node, token, no);
        assert_eq!(status, 200, "{view}");
        let applicant = if see {
            original["applicant"].clone()
        } else {
            masked(&original["applicant"])
        };
        assert_eq!(view["applicant"], applicant, "{no}: {view}");
        assert_eq!(view["applicant_masked"], !see);
        let listed = listed(&node, token);
        assert_eq!(listed[no]["applicant"], applicant, "listed {no}");
        assert_eq!(listed[no]["applicant_masked"], !see);
        // Only the identity differs from what an admin sees.
        let mut full = node.case(no);
        full["applicant"] = applicant;
        full["applicant_masked"] = json!(!see);
        assert_eq!(view, full);
    };
    expect(&zhujian, shigong_no, &shigong, true);
    expect(&zhujian, geti_no, &geti, false);
    expect(&shichang, geti_no, &geti, true);
    expect(&shichang, shigong_no, &shigong, false);
    let masked_id = masked(&geti["applicant"])["id"].clone();
    assert_eq!(masked_id.as_str().map(str::len), Some(18));
    assert!(masked_id.as_str().is_some_and(|m| m.contains("**********")));

    // A joint review with seats here for 自然资源和规划局, 人民防空办公室 and 气象局.
    let yanshou = node.submit_all(&zhujian, YANSHOU);
    let yanshou_no = s(&yanshou, "case_no");
    let seats = json!([{"node": XIANYOU, "department": ZIRAN},
                       {"node": XIANYOU, "department": "人民防空办公室"},
                       {"node": XIANYOU, "department": "气象局"}]);
    node.act_ok(
        &zhujian,
        yanshou_no,
        &json!({"action": "open_joint_review", "participants": seats, "feedback_days": 5}),
    );
    let ziran = node.clerk(ZIRAN);
    expect(&ziran, yanshou_no, &yanshou, true);
    expect(&shichang, yanshou_no, &yanshou, false);
    // Its opinion's answer shows the case as the participant sees it.
    let opinion = node.act_ok(
        &ziran,
        yanshou_no,
        &json!({"action": "opinion", "agree": true, "comment": "同意"}),
    );
    assert_eq!(opinion["applicant"], yanshou["applicant"]);

    let supervisor = node.add_operator("县监察", "supervisor", None);
    for no in [shigong_no, geti_no, yanshou_no] {
        let (_, view) = show(&node, &supervisor, no);
        assert_eq!(view["applicant_masked"], false, "{view}");
    }

    // The masked reads left no trace; the clerk's own reads did.
    let admin = node.admin_token();
    let by_shichang = audit(&node, &admin, &format!("operator={SHICHANG}窗口"));
    assert!(!by_shichang.is_empty());
    assert!(
        by_shichang.iter().all(|e| e["case_no"] == geti_no),
        "a masked read was audited: {by_shichang:?}"
    );
    node.assert_no_panic();
}

/// An admin reads a case: the audit log names them, their role, the case, the endpoint and the
/// node's time (+08:00), and the read was made durable (an fdatasync) before the answer. A
/// list read records each case of the page. A supervisor queries the log by case and by
/// operator, page by page, through the API and `liandong audit`; a clerk gets 403. After a
/// restart every entry is still there.
#[test]
fn identity_reads_are_audited_durably() {
    let mut node = Node::start(XIANYOU, Some(CLOCK));
    let clerk = node.clerk(ZHUJIAN);
    let first = node.submit_all(&clerk, SHIGONG);
    let second = node.submit_all(&clerk, SHIGONG);
    let (no, other) = (s(&first, "case_no"), s(&second, "case_no"));
    let admin = node.add_operator("李管理", "admin", None);
    let supervisor = node.add_operator("县监察", "supervisor", None);

    let syncs = |node: &Node| {
        node.metrics()
            .lines()
            .find(|l| l.starts_with("liandong_fdatasyncs_total"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<u64>().ok())
            .expect("liandong_fdatasyncs_total")
    };
    let before = syncs(&node);
    let (status, view) = show(&node, &admin, no);
    assert_eq!((status, &view["applicant"]), (200, &first["applicant"]));
    assert!(syncs(&node) > before, "the read was answered before a sync");

    let entries = audit(&node, &supervisor, &format!("case_no={no}"));
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = &entries[0];
    assert_eq!(entry["operator"], "李管理");
    assert_eq!(entry["role"], "admin");
    assert_eq!(entry["department"], Value::Null);
    assert_eq!(entry["case_no"], no);
    assert_eq!(entry["endpoint"], "show");
    let at = s(entry, "at");
    assert!(
        at.starts_with("2025-09-30T10:") && at.ends_with("+08:00"),
        "the node's time in China Standard Time: {at}"
    );

    // A list read: one entry per case of the page.
    let listed = listed(&node, &admin);
    assert_eq!(listed.len(), 2);
    let by_admin = audit(&node, &supervisor, "operator=李管理");
    let reads: Vec<(&str, &str)> = by_admin
        .iter()
        .map(|e| (s(e, "case_no"), s(e, "endpoint")))
        .collect();
    assert_eq!(reads, [(no, "show"), (no, "list"), (other, "list")]);
    // Paged like the case list.
    let (status, page) = node.get("/api/v1/audit?operator=李管理&limit=2", &supervisor);
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(2));
    let next = page["next"].as_u64().expect("a cursor");
    let (_, rest) = node.get(
        &format!("/api/v1/audit?operator=李管理&limit=2&after={next}"),
        &supervisor,
    );
    assert_eq!(rest["entries"][0]["case_no"], other);
    assert_eq!(rest["next"], Value::Null);

    // Clerks may not read the log; nonsense is a 400.
    assert_error(&node.get("/api/v1/audit", &clerk), 403, "forbidden");
    assert_error(
        &node.get("/api/v1/audit?after=x", &supervisor),
        400,
        "bad_request",
    );
    assert_error(
        &node.get("/api/v1/audit?case_no=nope", &supervisor),
        400,
        "bad_request",
    );

    // The entries survive a restart.
    let all = audit(&node, &supervisor, "");
    node.restart(Some("2025-09-30T11:00"));
    assert_eq!(audit(&node, &supervisor, ""), all);

    // `liandong audit` prints them as a table.
    let api = format!("http://127.0.0.1:{}", node.ports()["api"]);
    let out = liandong(&["audit", "--api", &api, "--token", &supervisor, "--case", no]);
    assert!(out.status.success(), "liandong audit: {out:?}");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("李管理") && table.contains(no) && table.contains("show"),
        "{table}"
    );
    assert!(!table.contains(other), "filtered by case: {table}");
    let out = liandong(&["audit", "--api", &api, "--token", &clerk]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("403"),
        "{out:?}"
    );
    node.assert_no_panic();
}
