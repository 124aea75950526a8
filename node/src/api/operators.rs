//! Operator handlers: add, list, disable, enable, rotate ([`crate::accounts`] holds the rules).
//! A token appears in an answer exactly once — when it is created — and a token hash never.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use tracing::info;

use super::auth::Caller;
use super::body::{JsonBody, JsonOrEmpty};
use super::error::ApiError;
use super::view::timestamp;
use super::{AppState, NodeContext};
use crate::accounts::{self, AccountError, Issued, Now, Whose};
use crate::contract::{
    IssuedOperator, ListedOperator, NewOperator, OperatorList, OperatorView, Rotation, Sorted,
    StandIn,
};
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
fn view(account: &Account) -> OperatorView {
    let op = &account.operator;
    OperatorView {
        name: op.name.clone(),
        role: op.role,
        department: op.department.clone(),
        disabled: account.disabled,
        expires: account.expires,
        created: account.created_ms.map(timestamp),
        stand_in: account.stand_in.clone(),
    }
}

fn issued_view(issued: &Issued) -> IssuedOperator {
    IssuedOperator::new(view(&issued.account), issued.token.clone())
}

fn name_of(name: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(name) = name.map_err(|e| ApiError::bad_request(e.body_text()))?;
    Ok(name)
}

/// `POST /api/v1/operators` (admin): a new operator and its token, shown once.
#[utoipa::path(
    post,
    path = "/api/v1/operators",
    operation_id = "addOperator",
    tag = "operators",
    request_body = crate::contract::NewOperator,
    responses(
        (status = 201, description = "The new operator and its token (shown once).", body = crate::contract::IssuedOperator),
        (status = 400, description = "bad_request: a malformed path, query or body.", body = crate::contract::ErrorBody),
        (status = 403, description = "forbidden: the caller's role may not.", body = crate::contract::ErrorBody),
        (status = 409, description = "operator_exists.", body = crate::contract::ErrorBody),
        (status = 422, description = "invalid_operator, invalid_expiry.", body = crate::contract::ErrorBody),
    ),
    security(("bearerAuth" = [])),
)]
pub async fn add(
    State(node): State<AppState>,
    caller: Caller,
    JsonBody(req): JsonBody<NewOperator>,
) -> Result<(StatusCode, Sorted<IssuedOperator>), ApiError> {
    caller.require_admin()?;
    let op = Operator::new(&req.name, req.role, req.department).map_err(AccountError::from)?;
    let issued = accounts::add(node.store.as_ref(), op, req.expires, now(&node))?;
    let op = &issued.account.operator;
    info!(node = %node.code, operator = %op.name, role = ?op.role, expires = ?issued.account.expires, by = %caller.0.name, "operator added");
    Ok((StatusCode::CREATED, Sorted(issued_view(&issued))))
}

/// `GET /api/v1/operators` (admin): every operator with its standing, by name.
#[utoipa::path(
    get,
    path = "/api/v1/operators",
    operation_id = "listOperators",
    tag = "operators",
    responses(
        (status = 200, description = "Every operator, by name.", body = crate::contract::OperatorList),
        (status = 403, description = "forbidden: the caller's role may not.", body = crate::contract::ErrorBody),
    ),
    security(("bearerAuth" = [])),
)]
pub async fn list(
    State(node): State<AppState>,
    caller: Caller,
) -> Result<Sorted<OperatorList>, ApiError> {
    caller.require_admin()?;
    let mut accounts: Vec<Account> = node
        .store
        .operators()?
        .into_iter()
        .map(|(_, a)| a)
        .collect();
    accounts.sort_by(|a, b| a.operator.name.cmp(&b.operator.name));
    let today = node.today();
    let operators = accounts
        .iter()
        .map(|a| {
            let live = a.standing(today) == crate::operator::Standing::Live;
            ListedOperator::new(view(a), live)
        })
        .collect();
    Ok(Sorted(OperatorList { operators }))
}

/// `POST /api/v1/operators/{name}/disable` (admin): the token is refused from the next request.
#[utoipa::path(
    post,
    path = "/api/v1/operators/{name}/disable",
    operation_id = "disableOperator",
    tag = "operators",
    params(
        ("name" = String, Path, description = "The operator's name."),
    ),
    responses(
        (status = 200, description = "The operator.", body = crate::contract::OperatorView),
        (status = 400, description = "bad_request: a malformed path, query or body.", body = crate::contract::ErrorBody),
        (status = 403, description = "forbidden: the caller's role may not.", body = crate::contract::ErrorBody),
        (status = 404, description = "not_found.", body = crate::contract::ErrorBody),
        (status = 409, description = "last_admin, ambiguous_name.", body = crate::contract::ErrorBody),
    ),
    security(("bearerAuth" = [])),
)]
pub async fn disable(
    State(node): State<AppState>,
    caller: Caller,
    name: Result<Path<String>, PathRejection>,
    JsonOrEmpty(NoOptions {}): JsonOrEmpty<NoOptions>,
) -> Result<Sorted<OperatorView>, ApiError> {
    set_disabled(node, caller, name, true)
}

/// `POST /api/v1/operators/{name}/enable` (admin).
#[utoipa::path(
    post,
    path = "/api/v1/operators/{name}/enable",
    operation_id = "enableOperator",
    tag = "operators",
    params(
        ("name" = String, Path, description = "The operator's name."),
    ),
    responses(
        (status = 200, description = "The operator.", body = crate::contract::OperatorView),
        (status = 400, description = "bad_request: a malformed path, query or body.", body = crate::contract::ErrorBody),
        (status = 403, description = "forbidden: the caller's role may not.", body = crate::contract::ErrorBody),
        (status = 404, description = "not_found.", body = crate::contract::ErrorBody),
        (status = 409, description = "ambiguous_name.", body = crate::contract::ErrorBody),
    ),
    security(("bearerAuth" = [])),
)]
pub async fn enable(
    State(node): State<AppState>,
    caller: Caller,
    name: Result<Path<String>, PathRejection>,
    JsonOrEmpty(NoOptions {}): JsonOrEmpty<NoOptions>,
) -> Result<Sorted<OperatorView>, ApiError> {
    set_disabled(node, caller, name, false)
}

/// The body of a request that takes no options: empty or `{}`. It is read all the same: a
/// body left unread makes the server close the connection after its answer without saying so
/// (no `Connection: close` on a 200), and a client that reuses it meets "unexpected EOF" on its
/// next request (tests/operators.rs met it about once in a dozen runs under load).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoOptions {}

fn set_disabled(
    node: AppState,
    caller: Caller,
    name: Result<Path<String>, PathRejection>,
    disabled: bool,
) -> Result<Sorted<OperatorView>, ApiError> {
    caller.require_admin()?;
    let name = name_of(name)?;
    let account = accounts::set_disabled(node.store.as_ref(), &name, disabled, now(&node))?;
    info!(node = %node.code, operator = %account.operator.name, disabled, by = %caller.0.name, "operator changed");
    Ok(Sorted(view(&account)))
}

/// `POST /api/v1/operators/{name}/rotate`: an admin rotates anyone's token, an operator their
/// own. The new token is in the answer (once); the old one is refused from now on.
#[utoipa::path(
    post,
    path = "/api/v1/operators/{name}/rotate",
    operation_id = "rotateToken",
    tag = "operators",
    params(
        ("name" = String, Path, description = "The operator's name."),
    ),
    request_body(content = Option<crate::contract::Rotation>, description = "Optional: an empty body takes the defaults."),
    responses(
        (status = 200, description = "The operator and its new token (the old one is dead).", body = crate::contract::IssuedOperator),
        (status = 400, description = "bad_request: a malformed path, query or body.", body = crate::contract::ErrorBody),
        (status = 403, description = "forbidden: the caller's role may not.", body = crate::contract::ErrorBody),
        (status = 404, description = "not_found.", body = crate::contract::ErrorBody),
        (status = 409, description = "operator_disabled.", body = crate::contract::ErrorBody),
        (status = 422, description = "invalid_expiry.", body = crate::contract::ErrorBody),
    ),
    security(("bearerAuth" = [])),
)]
pub async fn rotate(
    State(node): State<AppState>,
    caller: Caller,
    name: Result<Path<String>, PathRejection>,
    JsonOrEmpty(req): JsonOrEmpty<Rotation>,
) -> Result<Sorted<IssuedOperator>, ApiError> {
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
    Ok(Sorted(issued_view(&issued)))
}

/// `POST /api/v1/operators/{name}/stand-in` (AB角): an admin for anyone, a clerk or chief for
/// themselves, names the colleague who acts for them while they are away — or nobody (`null`).
#[utoipa::path(
    post,
    path = "/api/v1/operators/{name}/stand-in",
    operation_id = "setStandIn",
    tag = "operators",
    params(
        ("name" = String, Path, description = "The operator's name."),
    ),
    request_body = crate::contract::StandIn,
    responses(
        (status = 200, description = "The operator.", body = crate::contract::OperatorView),
        (status = 400, description = "bad_request: a malformed path, query or body.", body = crate::contract::ErrorBody),
        (status = 403, description = "forbidden: the caller's role may not.", body = crate::contract::ErrorBody),
        (status = 404, description = "not_found.", body = crate::contract::ErrorBody),
        (status = 422, description = "invalid_stand_in.", body = crate::contract::ErrorBody),
    ),
    security(("bearerAuth" = [])),
)]
pub async fn stand_in(
    State(node): State<AppState>,
    caller: Caller,
    name: Result<Path<String>, PathRejection>,
    JsonBody(req): JsonBody<StandIn>,
) -> Result<Sorted<OperatorView>, ApiError> {
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
    Ok(Sorted(view(&account)))
}
