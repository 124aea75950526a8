//! The API's typed contract (`node/src/contract/`) and its OpenAPI document, held against the
//! handlers:
//!
//! - every route of the router's table has an operation in the document, and every operation
//!   is routed ([`every_route_has_an_operation_and_every_operation_a_route`]);
//! - the live answers of a real node (a county under its city) — every main endpoint, its
//!   errors too — read into the contract's types, which refuse unknown fields in test builds
//!   (the feature `strict-contract`), write back to the very same JSON, and validate against
//!   the schema the node serves at `/api/v1/openapi.json` for that operation and status
//!   ([`live_answers_fit_the_contract_and_the_document`]);
//! - `docs/openapi.json` is what the node serves ([`the_committed_document_is_the_served_one`];
//!   `LIANDONG_WRITE_OPENAPI=1 cargo test -p liandong --test contract` rewrites it).

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;

use liandong::contract::{
    ActionAnswer, ActionRequest, Application, AuditPage, BatchAnswer, BatchRequest, CalendarLoad,
    CalendarLoaded, CalendarView, CaseView, CatalogView, CheckAnswer, ErrorBody, IssuedOperator,
    LinksView, NewOperator, NodeView, OperatorList, OperatorView, PullRequest, RevocationList,
    RevocationsLoad, RevocationsLoaded, Rotation, SessionView, ShortView, StandIn, StatsView,
    StatusView, SummaryPage,
};
use liandong::operator::Role;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use support::federation::Federation;
use support::schema::{resolve, validate};
use support::{person, s, Node, SHICHANG, ZHUJIAN};

const CITY: &str = "350300";
const COUNTY: &str = "350322";
/// 个体工商户设立登记: 即办, 市场监督管理局.
const GETI: &str = "000187002000";
/// 建筑工程施工许可证核发: 承诺, 住房和城乡建设局.
const SHIGONG: &str = "000172005000";
/// An item with 网上签批 (sign_off), 市场监督管理局.
const PHARMACY: &str = "000187011000";

/// The operations that are not JSON answers of the contract.
const NOT_JSON: [&str; 2] = ["GET /metrics", "GET /api/v1/openapi.json"];

fn committed() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json")
}

/// The document as this build makes it (the same text the node serves).
fn document() -> Value {
    let text = liandong::api::openapi::document().expect("the OpenAPI document");
    serde_json::from_str(text).expect("the document is JSON")
}

/// Every `(METHOD, path)` operation of a document.
fn operations(doc: &Value) -> BTreeSet<String> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "put", "post", "delete", "patch"] {
            if item.get(method).is_some() {
                ops.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    ops
}

/// The differences between the router's table and a document's operations, as lines.
fn mismatches(routes: &BTreeSet<String>, ops: &BTreeSet<String>) -> Vec<String> {
    let mut out: Vec<String> = routes
        .difference(ops)
        .map(|r| format!("routed but not in the document: {r}"))
        .collect();
    out.extend(
        ops.difference(routes)
            .map(|o| format!("in the document but not routed: {o}")),
    );
    out
}

#[test]
fn every_route_has_an_operation_and_every_operation_a_route() {
    let routes: BTreeSet<String> = liandong::api::route_table()
        .into_iter()
        .map(|(method, path)| format!("{method} {path}"))
        .collect();
    let doc = document();
    let problems = mismatches(&routes, &operations(&doc));
    assert!(
        problems.is_empty(),
        "the router and the OpenAPI document disagree (add #[utoipa::path] to the handler and \
         list it in node/src/api/openapi.rs, or route it in node/src/api/mod.rs):\n{}",
        problems.join("\n")
    );
    // The check itself can fail: a route missing from either side is reported.
    let mut fewer = routes.clone();
    fewer.remove("GET /api/v1/node");
    assert_eq!(
        mismatches(&fewer, &operations(&doc)),
        ["in the document but not routed: GET /api/v1/node"]
    );
    // Every operation names its answers, and a secured one the refusals of a token.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|k| k.starts_with('2')),
                "{method} {path}: no success answer"
            );
            if op.get("security").is_some() {
                for code in ["401", "429"] {
                    assert!(responses.contains_key(code), "{method} {path}: no {code}");
                }
            }
        }
    }
    let schemes = &doc["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(
        (&schemes["type"], &schemes["scheme"]),
        (&json!("http"), &json!("bearer"))
    );
}

#[test]
fn the_committed_document_is_the_served_one() {
    let node = Node::start(COUNTY, None);
    let (status, served) = node.get("/api/v1/openapi.json", "");
    assert_eq!(status, 200, "the document needs no token: {served}");
    let text = liandong::api::openapi::document().expect("the OpenAPI document");
    assert_eq!(
        served,
        serde_json::from_str::<Value>(text).unwrap(),
        "the node serves the document of this build"
    );
    let path = committed();
    if std::env::var_os("LIANDONG_WRITE_OPENAPI").is_some_and(|v| v == "1") {
        std::fs::write(&path, text).expect("writing docs/openapi.json");
        eprintln!("wrote {}", path.display());
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == text,
        "docs/openapi.json is not the document the node serves: the contract or the routes \
         changed. Regenerate it with\n    LIANDONG_WRITE_OPENAPI=1 cargo test -p liandong --test \
         contract\nand commit it."
    );
}

/// The live answers checked, by operation, and the document they are checked against.
struct Checker {
    doc: Value,
    seen: BTreeSet<String>,
}

impl Checker {
    /// The answer `(status, body)` of `METHOD path` (the route's path, `{case_no}` and all):
    /// read into `T` (strict in tests), written back to the same JSON, and valid against the
    /// document's schema for that operation and status.
    fn check<T: DeserializeOwned + Serialize>(&mut self, op: &str, answer: &(u16, Value)) -> T {
        let (status, body) = answer;
        let typed = self.typed::<T>(op, *status, body);
        let (method, path) = op.split_once(' ').expect("METHOD path");
        let schema = self.doc["paths"][path][method.to_lowercase()]["responses"]
            [status.to_string()]["content"]["application/json"]["schema"]
            .clone();
        assert!(
            !schema.is_null(),
            "{op}: the document has no JSON answer for status {status}"
        );
        let errors = validate(&self.doc, &schema, body, "$");
        assert!(
            errors.is_empty(),
            "{op} {status}: the answer does not fit the document:\n{}\n{body:#}",
            errors.join("\n")
        );
        self.seen.insert(op.to_string());
        typed
    }

    /// Like [`Checker::check`] against a component of the document (for answers of no
    /// operation, such as the fallback's 404).
    fn check_component<T: DeserializeOwned + Serialize>(
        &self,
        component: &str,
        answer: &(u16, Value),
    ) -> T {
        let (status, body) = answer;
        let typed = self.typed::<T>(component, *status, body);
        let schema = resolve(&self.doc, &format!("#/components/schemas/{component}"))
            .unwrap_or_else(|| panic!("no component {component}"));
        let errors = validate(&self.doc, schema, body, "$");
        assert!(
            errors.is_empty(),
            "{component}: {}\n{body:#}",
            errors.join("\n")
        );
        typed
    }

    fn typed<T: DeserializeOwned + Serialize>(&self, what: &str, status: u16, body: &Value) -> T {
        let typed: T = serde_json::from_value(body.clone()).unwrap_or_else(|e| {
            panic!(
                "{what} {status}: the answer does not fit {}: {e}\n{body:#}",
                std::any::type_name::<T>()
            )
        });
        let again = serde_json::to_value(&typed).expect("serializable");
        assert_eq!(
            &again, body,
            "{what}: the contract's type does not write the answer back as it came"
        );
        typed
    }
}

fn body<T: Serialize>(request: &T) -> Value {
    serde_json::to_value(request).expect("a request body")
}

#[test]
fn live_answers_fit_the_contract_and_the_document() {
    let fed = Federation::start(&[(CITY, None), (COUNTY, Some(CITY))]);
    let node = fed.node(COUNTY);
    let admin = node.admin_token();
    let (status, doc) = node.get("/api/v1/openapi.json", "");
    assert_eq!(status, 200);
    let mut c = Checker {
        doc,
        seen: BTreeSet::new(),
    };

    // The node, the session, the catalog.
    let me: NodeView = c.check("GET /api/v1/node", &node.get("/api/v1/node", &admin));
    assert_eq!(me.code.to_string(), COUNTY);
    let clerk = node.clerk(SHICHANG);
    let other = node.clerk(ZHUJIAN);
    let session: SessionView = c.check("GET /api/v1/session", &node.get("/api/v1/session", &clerk));
    assert_eq!(session.operator.role, Role::Clerk);
    let catalog: CatalogView = c.check("GET /api/v1/catalog", &node.get("/api/v1/catalog", &admin));
    let geti = catalog
        .items
        .iter()
        .find(|i| i.code == GETI)
        .expect("the item in the catalog");
    let materials: Vec<String> = geti.materials.iter().map(|m| m.name.clone()).collect();

    // Applicants and cases.
    let applicant: Value = person();
    let check: CheckAnswer = c.check(
        "POST /api/v1/applicants:check",
        &node.post("/api/v1/applicants:check", &clerk, &applicant),
    );
    assert!(check.ok);
    let bad = json!({"kind": "person", "name": "张三", "id": "350102199001011235"});
    let refused: ErrorBody = c.check(
        "POST /api/v1/applicants:check",
        &node.post("/api/v1/applicants:check", &clerk, &bad),
    );
    assert_eq!(refused.error, "invalid_applicant");
    let application = Application {
        item: GETI.into(),
        applicant: serde_json::from_value(person()).unwrap(),
        materials: materials.clone(),
        department: None,
    };
    let case: CaseView = c.check(
        "POST /api/v1/cases",
        &node.post("/api/v1/cases", &clerk, &body(&application)),
    );
    let no = case.case_no.to_string();
    assert!(!case.applicant_masked);
    // A clerk of another department sees the identity masked; an admin whole (audited).
    let masked: CaseView = c.check(
        "GET /api/v1/cases/{case_no}",
        &node.get(&format!("/api/v1/cases/{no}"), &other),
    );
    assert!(masked.applicant_masked);
    assert_ne!(masked.applicant.name, case.applicant.name);
    let (status, mut whole) = node.get(&format!("/api/v1/cases/{no}"), &admin);
    let _: CaseView = c.check("GET /api/v1/cases/{case_no}", &(status, whole.clone()));
    // Both checks refuse a field the contract does not have: the types (strict in tests) and
    // the document (closed objects).
    whole["applicant"]["phone"] = json!("13800000000");
    let unknown = serde_json::from_value::<CaseView>(whole.clone())
        .expect_err("an unknown field is refused in test builds")
        .to_string();
    assert!(unknown.contains("unknown field `phone`"), "{unknown}");
    let schema = json!({"$ref": "#/components/schemas/CaseView"});
    assert_eq!(
        validate(&c.doc, &schema, &whole, "$"),
        ["$.applicant.phone: a field the schema does not have"]
    );

    // 补正, then 不予受理: the case's own view carries the refusal.
    let (status, pending) = node.submit(&other, SHIGONG, &["施工合同".to_string()]);
    assert_eq!(status, 201, "{pending}");
    let pending_no = s(&pending, "case_no").to_string();
    let refuse = ActionRequest::new("refuse").with("reason", "不属于本机关职权范围");
    let answer: ActionAnswer = c.check(
        "POST /api/v1/cases/{case_no}/actions",
        &node.post(
            &format!("/api/v1/cases/{pending_no}/actions"),
            &other,
            &body(&refuse),
        ),
    );
    assert!(matches!(answer, ActionAnswer::Case(_)));
    let shown: CaseView = c.check(
        "GET /api/v1/cases/{case_no}",
        &node.get(&format!("/api/v1/cases/{pending_no}"), &other),
    );
    assert_eq!(shown.refusal.as_deref(), Some("不属于本机关职权范围"));

    // 网上签批: a clerk's proposal shows in the case's own view.
    let pharmacy = node.submit_all(&clerk, PHARMACY);
    let ph = s(&pharmacy, "case_no").to_string();
    node.act_ok(&clerk, &ph, &json!({"action": "review"}));
    let propose = ActionRequest::new("propose")
        .with("approve", true)
        .with("reason", "材料齐全");
    let _: ActionAnswer = c.check(
        "POST /api/v1/cases/{case_no}/actions",
        &node.post(
            &format!("/api/v1/cases/{ph}/actions"),
            &clerk,
            &body(&propose),
        ),
    );
    let proposed: CaseView = c.check(
        "GET /api/v1/cases/{case_no}",
        &node.get(&format!("/api/v1/cases/{ph}"), &clerk),
    );
    assert!(proposed.pending_sign_off);
    assert_eq!(proposed.proposal.map(|p| p.reason), Some("材料齐全".into()));
    let wrong: ErrorBody = c.check(
        "POST /api/v1/cases/{case_no}/actions",
        &node.post(
            &format!("/api/v1/cases/{no}/actions"),
            &clerk,
            &json!({"action": "fly"}),
        ),
    );
    assert_eq!(wrong.error, "unknown_action");

    // Lists.
    let page: liandong::contract::CasePage = c.check(
        "GET /api/v1/cases",
        &node.get("/api/v1/cases?limit=2", &admin),
    );
    assert_eq!(page.cases.len(), 2);
    assert!(page.next.is_some());
    let _: ErrorBody = c.check(
        "GET /api/v1/cases",
        &node.get("/api/v1/cases?limit=-1", &admin),
    );

    // A batch, and a refused one.
    let batch = BatchRequest {
        cases: vec![application.clone(), application.clone()],
    };
    let answer: BatchAnswer = c.check(
        "POST /api/v1/cases:batch",
        &node.post("/api/v1/cases:batch", &clerk, &body(&batch)),
    );
    let short: &ShortView = &answer.cases[1];
    assert_eq!(short.item, GETI);
    let batched = short.case_no.to_string();
    let mut broken = batch.clone();
    broken.cases[1].item = "nothing".into();
    let refused: ErrorBody = c.check(
        "POST /api/v1/cases:batch",
        &node.post("/api/v1/cases:batch", &clerk, &body(&broken)),
    );
    assert_eq!(refused.errors.map(|e| e[0].index), Some(1));

    // Supervision.
    let summaries: SummaryPage = c.check(
        "GET /api/v1/summaries",
        &node.get("/api/v1/summaries?limit=3", &admin),
    );
    assert_eq!(summaries.summaries.len(), 3);
    let _: federation_proto::CaseSummary = c.check(
        "GET /api/v1/summaries/{case_no}",
        &node.get(&format!("/api/v1/summaries/{no}"), &admin),
    );
    let status: StatusView = c.check("GET /api/v1/status", &node.get("/api/v1/status", &admin));
    assert!(status.totals.cases >= 5);
    let pulled: StatusView = c.check(
        "POST /api/v1/status/pull",
        &node.post(
            "/api/v1/status/pull",
            &admin,
            &body(&PullRequest {
                timeout_ms: Some(2000),
            }),
        ),
    );
    assert!(pulled.not_reported.is_some());
    let stats: StatsView = c.check("GET /api/v1/stats", &node.get("/api/v1/stats", &admin));
    assert!(stats.by_item.contains_key(GETI));
    let links: LinksView = c.check("GET /api/v1/links", &node.get("/api/v1/links", &admin));
    assert_eq!(links.links.len(), 1, "the county's link to its city");
    let audit: AuditPage = c.check("GET /api/v1/audit", &node.get("/api/v1/audit", &admin));
    assert!(!audit.entries.is_empty(), "the admin's read was audited");
    let _: ErrorBody = c.check("GET /api/v1/audit", &node.get("/api/v1/audit", &clerk));

    // Reference data.
    let _: CalendarView = c.check(
        "GET /api/v1/calendar",
        &node.get("/api/v1/calendar", &admin),
    );
    let notice = CalendarLoad {
        calendar: "[2031]\nholidays = [\"2031-01-01\"]\nworkdays = []\n".into(),
    };
    let loaded: CalendarLoaded = c.check(
        "PUT /api/v1/calendar",
        &node.request(
            "PUT",
            "/api/v1/calendar",
            &admin,
            Some((body(&notice).to_string().as_bytes(), "application/json")),
        ),
    );
    assert_eq!(loaded.loaded_years, [2031]);
    let _: RevocationList = c.check(
        "GET /api/v1/revocations",
        &node.get("/api/v1/revocations", &admin),
    );
    let revoked = RevocationsLoad {
        revocations: std::fs::read_to_string(fed.pki().join("revoked.toml")).unwrap_or_default(),
    };
    let _: RevocationsLoaded = c.check(
        "PUT /api/v1/revocations",
        &node.request(
            "PUT",
            "/api/v1/revocations",
            &admin,
            Some((body(&revoked).to_string().as_bytes(), "application/json")),
        ),
    );

    // Operators.
    let new = NewOperator {
        name: "契约窗口".into(),
        role: Role::Clerk,
        department: Some(SHICHANG.into()),
        expires: None,
    };
    let added: IssuedOperator = c.check(
        "POST /api/v1/operators",
        &node.post("/api/v1/operators", &admin, &body(&new)),
    );
    assert!(!added.token.is_empty());
    let exists: ErrorBody = c.check(
        "POST /api/v1/operators",
        &node.post("/api/v1/operators", &admin, &body(&new)),
    );
    assert_eq!(exists.error, "operator_exists");
    let list: OperatorList = c.check(
        "GET /api/v1/operators",
        &node.get("/api/v1/operators", &admin),
    );
    assert!(list
        .operators
        .iter()
        .any(|o| o.name == "契约窗口" && o.live));
    for what in ["disable", "enable"] {
        // No body: these take none, and a body left unread may close the connection under
        // the client's feet.
        let path = format!("/api/v1/operators/契约窗口/{what}");
        let _: OperatorView = c.check(
            &format!("POST /api/v1/operators/{{name}}/{what}"),
            &node.request("POST", &path, &admin, None),
        );
    }
    let rotated: IssuedOperator = c.check(
        "POST /api/v1/operators/{name}/rotate",
        &node.post(
            "/api/v1/operators/契约窗口/rotate",
            &admin,
            &body(&Rotation {
                expires: Some(None),
            }),
        ),
    );
    assert_ne!(rotated.token, added.token);
    let stand_in: OperatorView = c.check(
        "POST /api/v1/operators/{name}/stand-in",
        &node.post(
            "/api/v1/operators/契约窗口/stand-in",
            &admin,
            &body(&StandIn {
                stand_in: Some(session.operator.name.clone()),
            }),
        ),
    );
    assert_eq!(stand_in.stand_in, Some(session.operator.name.clone()));

    // The hall's screen, without a token.
    let hall: liandong::contract::HallView =
        c.check("GET /api/v1/hall", &node.get("/api/v1/hall", ""));
    assert!(!hall.queue.is_empty() || !hall.concluded.is_empty());

    // Refusals: no token, a case not held here, a path not routed.
    let _: ErrorBody = c.check("GET /api/v1/node", &node.get("/api/v1/node", ""));
    let _: ErrorBody = c.check(
        "GET /api/v1/cases/{case_no}",
        &node.get("/api/v1/cases/350322-20200101-000999", &admin),
    );
    let _: ErrorBody = c.check_component("ErrorBody", &node.get("/api/v1/nowhere", &admin));

    // 督办 from above: the city supervises the county's case it knows by its summary.
    fed.wait_settled();
    let city = fed.node(CITY);
    let supervisor = city.add_operator("契约监察", "supervisor", None);
    let supervise = ActionRequest::new("supervise").with("note", "请说明进度");
    let sent: ActionAnswer = c.check(
        "POST /api/v1/cases/{case_no}/actions",
        &city.post(
            &format!("/api/v1/cases/{no}/actions"),
            &supervisor,
            &body(&supervise),
        ),
    );
    assert!(matches!(sent, ActionAnswer::NoticeSent(n) if n.owner.to_string() == COUNTY));

    // The CLI reads the same answers into the same types (strict here too) and prints them;
    // a 督办 from above comes back as the notice sent.
    let county = node.dir().join("node.toml");
    let city = fed.node(CITY).dir().join("node.toml");
    let (county, city) = (county.to_str().unwrap(), city.to_str().unwrap());
    for (args, expected) in [
        (
            vec!["case", "show", &ph, "--config", county],
            format!("{ph}  {PHARMACY}"),
        ),
        (
            vec!["case", "list", "--limit", "3", "--config", county],
            "3 case(s)".into(),
        ),
        (
            vec![
                "case",
                "act",
                &batched,
                "supervise",
                "note=请说明进度",
                "--config",
                city,
            ],
            format!("督办 sent to {COUNTY}, the owner of {batched}"),
        ),
    ] {
        let out = support::liandong(&args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains(&expected),
            "liandong {args:?}:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // Every JSON operation of the document was checked live.
    let unchecked: Vec<String> = operations(&c.doc)
        .into_iter()
        .filter(|op| !c.seen.contains(op) && !NOT_JSON.contains(&op.as_str()))
        .collect();
    assert!(unchecked.is_empty(), "not checked live: {unchecked:?}");
    fed.assert_no_panic();
}
