//! Bearer-token authentication: every `/api/v1` request (and `/metrics`) names its operator.
//!
//! Each request looks its token up in the store, so disabling or rotating an operator takes
//! effect on the very next request; an expired token is refused from the day after its expiry
//! (node clock, China Standard Time). Failures count towards the client address's limit
//! ([`super::throttle`]).

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};

use super::error::ApiError;
use super::throttle::retry_after_secs;
use super::AppState;
use crate::operator::{token_hash, Operator, Role, Standing};
use crate::store::TokenHash;

/// The operator making the request, and the hash of the token they used.
pub struct Caller(pub Operator, pub TokenHash);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        // Without connect info (a router served in-process) there is no address to limit.
        let addr = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let now = Instant::now();
        if let Some(addr) = addr {
            if let Err(wait) = state.throttle.check(addr, now) {
                return Err(too_many(wait));
            }
        }
        match authenticate(parts, state) {
            Ok(caller) => Ok(caller),
            Err(e) if e.status == StatusCode::UNAUTHORIZED => {
                match addr.and_then(|a| state.throttle.failed(a, now)) {
                    Some(wait) => Err(too_many(wait)),
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }
}

fn too_many(wait: std::time::Duration) -> ApiError {
    let secs = retry_after_secs(wait);
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_failures",
        format!("too many failed authentications from this address; try again in {secs} s"),
    )
    .retry_after(secs)
}

fn authenticate(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
    let unauthorised = |m: String| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", m);
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthorised("missing Authorization: Bearer <token>".into()))?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| unauthorised("Authorization must be: Bearer <token>".into()))?;
    let hash = token_hash(token);
    let account = state
        .store
        .operator(&hash)?
        .ok_or_else(|| unauthorised("unknown token".into()))?;
    match account.standing(state.today()) {
        Standing::Live => Ok(Caller(account.operator, hash)),
        Standing::Disabled => Err(unauthorised(format!(
            "operator {} is disabled",
            account.operator.name
        ))),
        Standing::Expired(last) => Err(unauthorised(format!(
            "the token of operator {} expired after {last}",
            account.operator.name
        ))),
    }
}

impl Caller {
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.0.role == Role::Admin {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "{} is not an admin",
                self.0.name
            )))
        }
    }
}
