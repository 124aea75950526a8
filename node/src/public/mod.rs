//! The public listener for applicants (`/public/v1/`, off unless `[node] public` is set): no
//! tokens, nothing that lists or finds cases or people. Everything here starts from what only
//! the applicant holds — the case number and the last 6 characters of their ID or credit code —
//! and a wrong pair gets exactly the answer an unknown case gets.
//!
//! - `GET /public/v1/cases/{case_no}?key=XXXXXX`: progress (办件进度查询, [`progress`]);
//! - `POST /public/v1/cases/{case_no}/rating` `{"key","satisfaction","comment"?}`: the
//!   applicant's rating of a concluded case, once, at the center where they applied.
//!
//! Bounds, per client address: a request budget per minute ([`budget`]), and a limit on failed
//! lookups (a wrong number or key) per window, after which every request from the address is a
//! 429 until the window ends — ten guesses in ten minutes by default, against a million keys.
//! Connections, header, body and idle time are bounded by the same transport as the staff API,
//! with the listener's own connection cap, so a flood here does not hold staff requests.

pub mod budget;
pub mod progress;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use federation_proto::{Actor, CaseNo, EventBody};
use serde::Deserialize;
use tracing::info;

use crate::api::error::ApiError;
use crate::api::privacy::served_here;
use crate::api::throttle::{retry_after_secs, Throttle};
use crate::api::AppState;
use crate::case::Case;
use crate::config::{AuthSection, PublicSection};
use crate::engine::Write;
use budget::Budget;
use progress::Progress;

/// The largest body a public request may have.
pub const MAX_BODY: usize = 4 * 1024;
/// The longest comment on a rating, in characters.
pub const MAX_COMMENT_CHARS: usize = 500;
/// How many characters of the applicant's ID or credit code make the key.
pub const KEY_CHARS: usize = 6;

/// What the public handlers reach: the node, and the per-address bounds.
pub struct PublicContext {
    pub node: AppState,
    failures: Throttle,
    budget: Budget,
}

impl PublicContext {
    pub fn new(node: AppState, bounds: PublicSection) -> PublicContext {
        PublicContext {
            node,
            failures: Throttle::new(AuthSection {
                max_failures: bounds.max_failures,
                failure_window_secs: bounds.failure_window_secs,
            }),
            budget: Budget::new(bounds.requests_per_minute),
        }
    }
}

type Ctx = Arc<PublicContext>;

pub fn router(ctx: Ctx) -> Router {
    Router::new()
        .route("/public/v1/cases/{case_no}", get(lookup))
        .route("/public/v1/cases/{case_no}/rating", post(rate))
        .fallback(no_route)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(ctx.clone(), guard))
        .with_state(ctx)
}

/// Every request: refused while its address is blocked for failed lookups or has spent its
/// minute's budget.
async fn guard(
    State(ctx): State<Ctx>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Some(addr) = client(request.extensions()) {
        let now = Instant::now();
        let refused = ctx
            .failures
            .check(addr, now)
            .and_then(|()| ctx.budget.spend(addr, now));
        if let Err(wait) = refused {
            return too_many(wait).into_response();
        }
    }
    next.run(request).await
}

fn client(extensions: &axum::http::Extensions) -> Option<std::net::IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// The client's address, when the transport told it (a router served in-process has none).
pub struct Client(Option<std::net::IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Client, Self::Rejection> {
        Ok(Client(client(&parts.extensions)))
    }
}

fn too_many(wait: std::time::Duration) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
        "too many requests from this address; try again later",
    );
    e.retry_after = Some(retry_after_secs(wait));
    e
}

/// The one answer for an unknown case, a wrong key, and a case this node does not serve.
fn no_match() -> ApiError {
    ApiError::not_found("no case matches this case number and key")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupQuery {
    key: String,
}

async fn lookup(
    State(ctx): State<Ctx>,
    Client(addr): Client,
    case_no: Result<Path<String>, PathRejection>,
    query: Result<Query<LookupQuery>, QueryRejection>,
) -> Result<Json<Progress>, ApiError> {
    let key = query.map(|Query(q)| q.key).ok();
    let case = find(&ctx, addr, case_no.ok().map(|Path(p)| p), key.as_deref())?;
    Ok(Json(Progress::of(&case, &ctx.node.clocks(&case))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rating {
    key: String,
    /// 1 非常满意 … 5 非常不满意 (GB/T 39046 A.8).
    satisfaction: u8,
    #[serde(default)]
    comment: String,
}

async fn rate(
    State(ctx): State<Ctx>,
    Client(addr): Client,
    case_no: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<Json<Progress>, ApiError> {
    let rating: Rating = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body must be {{\"key\", \"satisfaction\": 1-5, \"comment\"?}}: {e}"
        ))
    })?;
    if rating.comment.chars().count() > MAX_COMMENT_CHARS
        || rating
            .comment
            .chars()
            .any(crate::api::body::forbidden_in_text)
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_comment",
            format!("a comment is at most {MAX_COMMENT_CHARS} characters of text"),
        ));
    }
    let case = find(&ctx, addr, case_no.ok().map(|Path(p)| p), Some(&rating.key))?;
    let actor = Actor {
        name: "申请人（网上评价）".into(),
        department: None,
    };
    let body = EventBody::Rate {
        satisfaction: rating.satisfaction,
        comment: rating.comment,
    };
    let case = ctx
        .node
        .engine
        .write(
            actor,
            Write::Act {
                case_no: case.case_no,
                body,
            },
        )
        .await?;
    info!(node = %ctx.node.code, case = %case.case_no, "rated by the applicant online");
    Ok(Json(Progress::of(&case, &ctx.node.clocks(&case))))
}

/// The case that `case_no` and `key` name, if this node serves it; otherwise [`no_match`],
/// counted as a failed lookup of `addr`.
fn find(
    ctx: &PublicContext,
    addr: Option<std::net::IpAddr>,
    case_no: Option<String>,
    key: Option<&str>,
) -> Result<Case, ApiError> {
    let found = case_no
        .and_then(|text| text.parse::<CaseNo>().ok())
        .map(|no| ctx.node.store.case(&no))
        .transpose()?
        .flatten()
        .filter(|case| served_here(case, ctx.node.code))
        .filter(|case| key.is_some_and(|k| key_matches(&case.applicant.id, k)));
    match found {
        Some(case) => Ok(case),
        None => match addr.and_then(|a| ctx.failures.failed(a, Instant::now())) {
            Some(wait) => Err(too_many(wait)),
            None => Err(no_match()),
        },
    }
}

/// Whether `key` is the last [`KEY_CHARS`] characters of `id` (an `x` and an `X` alike),
/// compared without an early exit.
fn key_matches(id: &str, key: &str) -> bool {
    let id: Vec<char> = id.chars().collect();
    let key: Vec<char> = key.trim().chars().collect();
    if id.len() < KEY_CHARS || key.len() != KEY_CHARS {
        return false;
    }
    id[id.len() - KEY_CHARS..]
        .iter()
        .zip(&key)
        .fold(0u32, |diff, (a, b)| {
            diff | (a.to_ascii_uppercase() as u32 ^ b.to_ascii_uppercase() as u32)
        })
        == 0
}

async fn no_route(uri: Uri) -> ApiError {
    ApiError::not_found(format!("no such endpoint: {}", uri.path()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_the_ids_last_six_characters() {
        let id = "35032219900307002X";
        assert!(key_matches(id, "07002X"));
        assert!(key_matches(id, "07002x"));
        assert!(key_matches(id, " 07002X "));
        for wrong in ["07002", "307002X", "07003X", "", "七七七七七七"] {
            assert!(!key_matches(id, wrong), "{wrong}");
        }
        assert!(!key_matches("12345", "12345"));
    }
}
