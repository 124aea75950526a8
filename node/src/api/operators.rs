//! Operator handlers: add, list, disable, enable, rotate ([`crate::accounts`] holds the rules).
//! A token appears in an answer exactly once — when it is created — and a token hash never.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use federation_proto::Date;
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};
use tracing::info;

use super::auth::Caller;
use super::body::{JsonBody, JsonOrEmpty};
use super::error::ApiError;
use super::view::timestamp;
use super::{AppState, NodeContext};
use crate::accounts::{self, AccountError, Issued, Now, Whose};
use crate::operator::{Account, Operator, Role};

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> ApiError {
        let (status, code) = match &e {
            AccountError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_operator"),
            AccountError::ExpiryInPast(..) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_expiry"),
            AccountError::Exists(_) => (StatusCode::CONFLICT, "operator_exists"),
            AccountError::Ambiguous(..) => (StatusCode::CONFLICT, "ambiguous_name"),
            AccountError::LastAdmin(_) => (StatusCode::CONFLICT, "last_admin"),
            AccountError::Disabled(_) => (StatusCode::CONFLICT, "operator_disabled"),
            AccountError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            AccountError::BadStandIn(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_stand_in"),
            AccountError::NoRandomness(_) => (StatusCode::INTERNAL_SERVER_ERROR, "no_randomness"),
            AccountError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "storage"),
        };
        ApiError::new(status, code, e.to_string())
    }
}

fn now(node: &NodeContext) -> Now {
    Now {
        today: node.today(),
        ms: node.clock.now_ms(),
    }
}

/// An account as the API shows it: never a token or its hash.
fn view(account: &Account) -> Value {
    let op = &account.operator;
    json!({
        "name": op.name,
        "role": op.role,
        "department": op.department,
        "disabled": account.disabled,
        "expires": account.expires,
        "created": account.created_ms.map(timestamp),
        "stand_in": account.stand_in,
    })
}

fn issued_view(issued: &Issued) -> Value {
    let mut v = view(&issued.account);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("token".into(), json!(issued.token));
    }
    v
}

fn name_of(name: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(name) = name.map_err(|e| ApiError::bad_request(e.body_text()))?;
    Ok(name)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOperator {
    name: String,
    role: Role,
    department: Option<String>,
    /// The last day the token works.
    expires: Option<Date>,
}

/// `POST /api/v1/operators` (admin): a new operator and its token, shown once.
pub async fn add(
    State(node): State<AppState>,
    caller: Caller,
    JsonBody(req): JsonBody<NewOperator>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require_admin()?;
    let op = Operator::new(&req.name, req.role, req.department).map_err(AccountError::from)?;
    let issued = accounts::add(node.store.as_ref(), op, req.expires, now(&node))?;
    let op = &issued.account.operator;
    info!(node = %node.code, operator = %op.name, role = ?op.role, expires = ?issued.account.expires, by = %caller.0.name, "operator added");
    Ok((StatusCode::CREATED, Json(issued_view(&issued))))
}

/// `GET /api/v1/operators` (admin): every operator with its standing, by name.
pub async fn list(State(node): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require_admin()?;
    let mut accounts: Vec<Account> = node
        .store
        .operators()?
        .into_iter()
        .map(|(_, a)| a)
        .collect();
    accounts.sort_by(|a, b| a.operator.name.cmp(&b.operator.name));
    let today = node.today();
    let operators: Vec<Value> = accounts
        .iter()
        .map(|a| {
            let mut v = view(a);
            if let Some(obj) = v.as_object_mut() {
                let live = a.standing(today) == crate::operator::Standing::Live;
                obj.insert("live".into(), json!(live));
            }
            v
        })
        .collect();
    Ok(Json(json!({ "operators": operators })))
}

/// `POST /api/v1/operators/{name}/disable` (admin): the token is refused from the next request.
pub async fn disable(
    State(node): State<AppState>,
    caller: Caller,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    set_disabled(node, caller, name, true)
}

/// `POST /api/v1/operators/{name}/enable` (admin).
pub async fn enable(
    State(node): State<AppState>,
    caller: Caller,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    set_disabled(node, caller, name, false)
}

fn set_disabled(
    node: AppState,
    caller: Caller,
    name: Result<Path<String>, PathRejection>,
    disabled: bool,
) -> Result<Json<Value>, ApiError> {
    caller.require_admin()?;
    let name = name_of(name)?;
    let account = accounts::set_disabled(node.store.as_ref(), &name, disabled, now(&node))?;
    info!(node = %node.code, operator = %account.operator.name, disabled, by = %caller.0.name, "operator changed");
    Ok(Json(view(&account)))
}

/// `{"expires": "YYYY-MM-DD" | null}`: absent keeps the expiry, `null` removes it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    #[serde(default, deserialize_with = "present")]
    expires: Option<Option<Date>>,
}

/// Tells a field given as `null` (`Some(None)`) from one left out (`None`, by `default`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<Date>>, D::Error> {
    Option::<Date>::deserialize(d).map(Some)
}

/// `POST /api/v1/operators/{name}/rotate`: an admin rotates anyone's token, an operator their
/// own. The new token is in the answer (once); the old one is refused from now on.
pub async fn rotate(
    State(node): State<AppState>,
    caller: Caller,
    name: Result<Path<String>, PathRejection>,
    JsonOrEmpty(req): JsonOrEmpty<Rotation>,
) -> Result<Json<Value>, ApiError> {
    let name = name_of(name)?;
    let whose = if name.trim() == caller.0.name {
        Whose::Own(caller.1)
    } else if caller.0.role == Role::Admin {
        Whose::Named(&name)
    } else {
        return Err(ApiError::forbidden(format!(
            "{} may rotate only their own token",
            caller.0.name
        )));
    };
    let issued = accounts::rotate(node.store.as_ref(), whose, req.expires, now(&node))?;
    info!(node = %node.code, operator = %issued.account.operator.name, by = %caller.0.name, "operator token rotated");
    Ok(Json(issued_view(&issued)))
}

/// `{"stand_in": "NAME" | null}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StandIn {
    stand_in: Option<String>,
}

/// `POST /api/v1/operators/{name}/stand-in` (AB角): an admin for anyone, a clerk or chief for
/// themselves, names the colleague who acts for them while they are away — or nobody (`null`).
pub async fn stand_in(
    State(node): State<AppState>,
    caller: Caller,
    name: Result<Path<String>, PathRejection>,
    JsonBody(req): JsonBody<StandIn>,
) -> Result<Json<Value>, ApiError> {
    let name = name_of(name)?;
    if name.trim() != caller.0.name && caller.0.role != Role::Admin {
        return Err(ApiError::forbidden(format!(
            "{} may name a stand-in only for themselves",
            caller.0.name
        )));
    }
    let account = accounts::set_stand_in(
        node.store.as_ref(),
        &name,
        req.stand_in.as_deref(),
        now(&node),
    )?;
    info!(node = %node.code, operator = %account.operator.name, stand_in = ?account.stand_in, by = %caller.0.name, "stand-in (AB角) changed");
    Ok(Json(view(&account)))
}
