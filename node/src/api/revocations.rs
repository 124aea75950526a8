//! Revocations at a running node: `GET /api/v1/revocations` lists the codes revoked here, and
//! `PUT /api/v1/revocations` (admin) takes the CA's `revoked.toml` at once — without a restart.
//!
//! Why an API and not only the file: a revoked node must be cut off *now*. Each new revocation
//! is recorded durably, passed down the subtree, closes the revoked child's live link the
//! moment it is taken (`link::close_revoked`), and from then on every event and summary whose
//! origin is revoked is refused — here and, as the revocation travels down, below.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tracing::info;

use super::auth::Caller;
use super::body::JsonBody;
use super::error::ApiError;
use super::AppState;
use crate::pki::Revocations;

/// `GET /api/v1/revocations`: every revocation recorded at this node.
pub async fn list(State(node): State<AppState>, _caller: Caller) -> Result<Json<Value>, ApiError> {
    let revoked = node.store.revocations()?;
    Ok(Json(json!({ "revoked": revoked })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Load {
    /// The text of the CA's `revoked.toml`.
    revocations: String,
}

/// `PUT /api/v1/revocations` `{"revocations": "<revoked.toml text>"}` → the codes newly
/// revoked and those known already, once durable. An entry naming this node itself is
/// skipped: a node does not cut itself off (its parent does).
pub async fn load(
    State(node): State<AppState>,
    caller: Caller,
    JsonBody(req): JsonBody<Load>,
) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(json!({
        "revoked": added,
        "already_revoked": already,
        "skipped_own_code": skipped,
    })))
}
