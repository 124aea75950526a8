//! Case handlers: submit, list, show, act.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use federation_proto::{Actor, CaseNo, EventBody, State as CaseState, Warning};
use serde::Deserialize;
use serde_json::{json, Value};
use tracing::info;

use super::action;
use super::auth::Caller;
use super::body::JsonBody;
use super::error::ApiError;
use super::view::case_view;
use super::AppState;
use crate::case::Case;
use crate::engine::Write;
use crate::intake::{self, Application};
use crate::operator::{Operator, Role};

fn actor(op: &Operator) -> Actor {
    Actor {
        name: op.name.clone(),
        department: op.department.clone(),
    }
}

/// The `{case_no}` of the path; axum's own rejection (e.g. not UTF-8) becomes our error format.
pub(super) fn parse_case_no(path: Result<Path<String>, PathRejection>) -> Result<CaseNo, ApiError> {
    let Path(s) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    s.parse()
        .map_err(|e: federation_proto::case_no::CaseNoError| ApiError::bad_request(e.to_string()))
}

pub async fn submit(
    State(node): State<AppState>,
    caller: Caller,
    JsonBody(app): JsonBody<Application>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let intake = intake::prepare(&node.reference.catalog(), &app, node.today())?;
    if !caller.0.serves(&intake.department) {
        return Err(ApiError::forbidden(format!(
            "{} may not accept applications for {}",
            caller.0.name, intake.department
        )));
    }
    let case = node
        .engine
        .write(actor(&caller.0), Write::Submit(intake))
        .await?;
    info!(node = %node.code, case = %case.case_no, item = %case.item, state = case.state.as_str(), "case submitted");
    Ok((
        StatusCode::CREATED,
        Json(case_view(&case, &node.clocks(&case))),
    ))
}

/// The stored case, or a 404 naming it.
fn load_case(node: &AppState, case_no: &CaseNo) -> Result<Case, ApiError> {
    node.store
        .case(case_no)?
        .ok_or_else(|| ApiError::not_found(format!("case {case_no} does not exist")))
}

pub async fn show(
    State(node): State<AppState>,
    _caller: Caller,
    case_no: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let case_no = parse_case_no(case_no)?;
    let case = load_case(&node, &case_no)?;
    Ok(Json(case_view(&case, &node.clocks(&case))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    state: Option<String>,
    owner: Option<String>,
    warning: Option<String>,
    item: Option<String>,
    department: Option<String>,
    limit: Option<usize>,
}

pub async fn list(
    State(node): State<AppState>,
    _caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let state = filter("state", q.state.as_deref(), CaseState::parse)?;
    let warning = filter("warning", q.warning.as_deref(), Warning::parse)?;
    let limit = q.limit.unwrap_or(1000);
    let mut cases = Vec::new();
    for case in node.store.cases() {
        if cases.len() >= limit {
            break;
        }
        let case = case?;
        let keep = state.is_none_or(|s| case.state == s)
            && q.owner
                .as_deref()
                .is_none_or(|o| case.owner.to_string() == o)
            && q.item.as_deref().is_none_or(|i| case.item == i)
            && q.department.as_deref().is_none_or(|d| case.department == d);
        if !keep {
            continue;
        }
        let clocks = node.clocks(&case);
        if warning.is_some_and(|w| clocks.warning != w) {
            continue;
        }
        cases.push(case_view(&case, &clocks));
    }
    Ok(Json(json!({ "cases": cases })))
}

/// A query filter parsed with `parse`; an unknown value is a 400 naming it.
fn filter<T>(
    name: &str,
    value: Option<&str>,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, ApiError> {
    value
        .map(|v| parse(v).ok_or_else(|| ApiError::bad_request(format!("unknown {name} {v:?}"))))
        .transpose()
}

pub async fn act(
    State(node): State<AppState>,
    caller: Caller,
    case_no: Result<Path<String>, PathRejection>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let case_no = parse_case_no(case_no)?;
    let Some(case) = node.store.case(&case_no)? else {
        return notice_from_above(node, &caller.0, case_no, body).await;
    };
    let body = action::parse(body, case.default_forward(node.code))?;
    authorise(&caller.0, &case, &body)?;
    let case = node
        .engine
        .write(
            actor(&caller.0),
            Write::Act {
                case_no,
                body: body.clone(),
            },
        )
        .await?;
    info!(node = %node.code, case = %case_no, action = body.action(), state = case.state.as_str(), "case action");
    Ok(Json(case_view(&case, &node.clocks(&case))))
}

/// A 督办 on a case this node does not hold but supervises: one owned below, known here by its
/// summary (电子监察). The notice goes to the owner; its answer comes back in the summary. Any
/// other action on a case not held here is a 404.
async fn notice_from_above(
    node: AppState,
    op: &Operator,
    case_no: CaseNo,
    body: Value,
) -> Result<Json<Value>, ApiError> {
    let not_held = || ApiError::not_found(format!("case {case_no} does not exist"));
    let summary = node.store.summary(&case_no)?.ok_or_else(not_held)?;
    let EventBody::Supervise { note } = action::parse(body, None)? else {
        return Err(not_held());
    };
    if !matches!(op.role, Role::Admin | Role::Supervisor) {
        return Err(ApiError::forbidden(format!(
            "{} may not supervise: 督办 is for supervisors",
            op.name
        )));
    }
    let seq = node.engine.notice(actor(op), case_no, note).await?;
    info!(node = %node.code, case = %case_no, owner = %summary.owner, seq, "督办 sent");
    Ok(Json(json!({
        "case_no": case_no,
        "owner": summary.owner,
        "notice": {"origin": node.code, "seq": seq},
        "summary": summary,
    })))
}

/// Local permission on top of the fold's authority rules: a clerk acts only for their
/// department (or as a participant of a joint review); a supervisor only supervises.
fn authorise(op: &Operator, case: &Case, body: &EventBody) -> Result<(), ApiError> {
    let allowed = match (op.role, body) {
        (Role::Admin, _) => true,
        (Role::Supervisor, EventBody::Supervise { .. }) => true,
        (Role::Supervisor, _) => false,
        (Role::Clerk, EventBody::Supervise { .. }) => false,
        (Role::Clerk, EventBody::Opinion { .. }) => true,
        (Role::Clerk, _) => op.serves(&case.department),
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "{} ({}) may not {} case {} of {}",
            op.name,
            op.department.as_deref().unwrap_or(role_name(op.role)),
            body.action(),
            case.case_no,
            case.department
        )))
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::Supervisor => "supervisor",
        Role::Clerk => "clerk",
    }
}
