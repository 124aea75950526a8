//! Bearer-token authentication: every `/api/v1` request names its operator.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};

use super::error::ApiError;
use super::AppState;
use crate::operator::{token_hash, Operator, Role};

/// The operator making the request.
pub struct Caller(pub Operator);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let unauthorised = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", m);
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| unauthorised("missing Authorization: Bearer <token>"))?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| unauthorised("Authorization must be: Bearer <token>"))?;
        let operator = state
            .store
            .operator(&token_hash(token))?
            .ok_or_else(|| unauthorised("unknown token"))?;
        Ok(Caller(operator))
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
