//! Node-wide handlers: identity, catalog, links, summaries, and the fallbacks.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode, Uri};
use axum::Json;
use federation_proto::CaseSummary;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Caller;
use super::body::JsonBody;
use super::cases;
use super::error::ApiError;
use super::AppState;

pub async fn node(State(node): State<AppState>, _caller: Caller) -> Json<Value> {
    Json(json!({
        "code": node.code,
        "name": node.name,
        "level": node.code.level().as_str(),
        "parent": node.parent,
        "children": [],
    }))
}

/// `GET /api/v1/session`: who the token belongs to and at which node, with the node's today —
/// what the console shows after sign-in, and which screens it offers (the API still decides
/// every request on its own).
pub async fn session(
    State(node): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let stand_in = node.store.operator(&caller.1)?.and_then(|a| a.stand_in);
    let standing_in_for = super::stand_in::standing_in_for(&node, &caller.0)?;
    let op = caller.0;
    Ok(Json(json!({
        "operator": {"name": op.name, "role": op.role, "department": op.department},
        // AB角: who acts for this operator while away, and for whom they act now.
        "stand_in": stand_in,
        "standing_in_for": standing_in_for,
        "node": {
            "code": node.code,
            "name": node.name,
            "level": node.code.level().as_str(),
            "parent": node.parent,
        },
        "today": node.today(),
    })))
}

/// `POST /api/v1/applicants:check` `{"kind","name","id"}`: the window's live check of an
/// applicant as it is typed — the same rules, and the same message, as a submission gets
/// (resident ID per GB 11643 with its birth date, 统一社会信用代码 per GB 32100). 200
/// `{"ok":true}`, or 422 `invalid_applicant` saying what is wrong. Nothing is stored or logged:
/// the identity is not kept anywhere by being checked.
pub async fn check_applicant(
    State(node): State<AppState>,
    _caller: Caller,
    JsonBody(applicant): JsonBody<federation_proto::Applicant>,
) -> Result<Json<Value>, ApiError> {
    federation_proto::applicant::validate_on(&applicant, node.today())
        .map_err(|e| ApiError::from(crate::intake::IntakeError::Applicant(e)))?;
    Ok(Json(json!({"ok": true})))
}

pub async fn catalog(State(node): State<AppState>, _caller: Caller) -> Json<Value> {
    Json(json!({ "items": node.reference.catalog().items() }))
}

/// The node's links: peer, role, whether connected, outbox depth, last ack.
pub async fn links(State(node): State<AppState>, _caller: Caller) -> Json<Value> {
    let links: Vec<Value> = node
        .links
        .as_ref()
        .map(|l| l.snapshot())
        .unwrap_or_default()
        .into_iter()
        .map(|(s, outbox)| {
            json!({
                "peer": s.peer,
                "role": s.role,
                "connected": s.connected,
                "outbox": outbox,
                "last_ack": s.last_ack,
                "connections": s.connections,
                "last_error": s.last_error,
                "features": s.features,
            })
        })
        .collect();
    Json(json!({ "links": links }))
}

/// `?limit=&after=` of `GET /api/v1/summaries`: the paging of the case list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummariesQuery {
    limit: Option<String>,
    after: Option<String>,
}

/// The latest status summaries held from the subtree (电子监察): never applicant identity.
/// One page in case-number order, `{"summaries":[...],"next":"<case_no>"|null}`, paged like
/// `GET /api/v1/cases`: `limit` (default [`cases::DEFAULT_PAGE`]) clamped to
/// [`cases::MAX_PAGE`], `after` the previous page's `next`; read one summary at a time.
pub async fn summaries(
    State(node): State<AppState>,
    _caller: Caller,
    query: Result<Query<SummariesQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = cases::parse_limit(q.limit.as_deref())?;
    let after = cases::parse_after(q.after.as_deref())?;
    let page = cases::blocking(move || {
        cases::page(
            node.store.summaries_from(after.as_ref()),
            |s: &CaseSummary| s.case_no,
            Some,
            limit,
            cases::MAX_SCAN,
        )
    })
    .await??;
    Ok(Json(json!({ "summaries": page.items, "next": page.next })))
}

/// The summary of one case held here (`GET /api/v1/summaries/{case_no}`).
pub async fn summary(
    State(node): State<AppState>,
    _caller: Caller,
    case_no: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let case_no = super::cases::parse_case_no(case_no)?;
    let summary = node
        .store
        .summary(&case_no)?
        .ok_or_else(|| ApiError::not_found(format!("no summary of case {case_no} here")))?;
    Ok(Json(json!(summary)))
}

pub async fn wrong_method(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} does not take {method}", uri.path()),
    )
}

pub async fn no_route(uri: Uri) -> ApiError {
    ApiError::not_found(format!("no such endpoint: {}", uri.path()))
}
