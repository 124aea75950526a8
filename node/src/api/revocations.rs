//! Revocations at a running node: `GET /api/v1/revocations` lists the codes revoked here, and
//! `PUT /api/v1/revocations` (admin) takes the CA's `revoked.toml` at once — without a restart.
//!
//! Why an API and not only the file: a revoked node must be cut off *now*. Each new revocation
//! is recorded durably, passed down the subtree, closes the revoked child's live link the
//! moment it is taken (`link::close_revoked`), and from then on every event and summary whose
//! origin is revoked is refused — here and, as the revocation travels down, below.

use axum::extract::State;
use axum::http::StatusCode;
use tracing::info;

use super::auth::Caller;
use super::body::JsonBody;
use super::error::ApiError;
use super::AppState;
use crate::contract::{RevocationList, RevocationsLoad, RevocationsLoaded, Sorted};
use crate::pki::Revocations;

/// `GET /api/v1/revocations`: every revocation recorded at this node.
#[utoipa::path(
    get,
    path = "/api/v1/revocations",
    operation_id = "listRevocations",
    tag = "reference",
    responses(
        (status = 200, description = "Every revocation recorded here.", body = crate::contract::RevocationList),
    ),
    security(("bearerAuth" = [])),
)]
pub async fn list(
    State(node): State<AppState>,
    _caller: Caller,
) -> Result<Sorted<RevocationList>, ApiError> {
    let revoked = node.store.revocations()?;
    Ok(Sorted(RevocationList { revoked }))
}

/// `PUT /api/v1/revocations` `{"revocations": "<revoked.toml text>"}` → the codes newly
/// revoked and those known already, once durable. An entry naming this node itself is
/// skipped: a node does not cut itself off (its parent does).
#[utoipa::path(
    put,
    path = "/api/v1/revocations",
    operation_id = "loadRevocations",
    tag = "reference",
    request_body = crate::contract::RevocationsLoad,
    responses(
        (status = 200, description = "The codes newly revoked, once durable.", body = crate::contract::RevocationsLoaded),
        (status = 400, description = "bad_request: a malformed path, query or body.", body = crate::contract::ErrorBody),
        (status = 403, description = "forbidden: the caller's role may not.", body = crate::contract::ErrorBody),
        (status = 422, description = "invalid_revocations.", body = crate::contract::ErrorBody),
    ),
    security(("bearerAuth" = [])),
)]
pub async fn load(
    State(node): State<AppState>,
    caller: Caller,
    JsonBody(req): JsonBody<RevocationsLoad>,
) -> Result<Sorted<RevocationsLoaded>, ApiError> {
    caller.require_admin()?;
    let list = Revocations::parse(&req.revocations).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_revocations",
            format!("not a revoked.toml file: {e}"),
        )
    })?;
    let known: Vec<_> = node
        .store
        .revocations()?
        .into_iter()
        .map(|r| r.code)
        .collect();
    let (mut added, mut already, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
    for entry in list.iter() {
        if entry.code == node.code {
            skipped.push(entry.code);
        } else if known.contains(&entry.code) || added.contains(&entry.code) {
            already.push(entry.code);
        } else {
            node.engine.revoke(entry.clone()).await?;
            added.push(entry.code);
        }
    }
    info!(node = %node.code, ?added, operator = %caller.0.name, "revocations loaded");
    Ok(Sorted(RevocationsLoaded {
        revoked: added,
        already_revoked: already,
        skipped_own_code: skipped,
    }))
}
