//! The `Idempotency-Key` request header ([`crate::idempotency`]): optional on the POSTs that
//! write a case (`POST /api/v1/cases`, `POST /api/v1/cases/{case_no}/actions`).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderName, StatusCode};

use super::error::ApiError;
use crate::idempotency::{check_key, Once};

pub const HEADER: HeaderName = HeaderName::from_static("idempotency-key");

/// The header's key, if the request sent one (checked).
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(&HEADER) else {
            return Ok(IdempotencyKey(None));
        };
        let malformed =
            |e: String| ApiError::new(StatusCode::BAD_REQUEST, "bad_idempotency_key", e);
        let key = value
            .to_str()
            .map_err(|_| malformed(crate::idempotency::KeyError::Malformed.to_string()))?;
        check_key(key).map_err(|e| malformed(e.to_string()))?;
        Ok(IdempotencyKey(Some(key.to_string())))
    }
}

impl IdempotencyKey {
    /// The write's [`Once`] for `operator` and the request (`route`, `body`), if a key came.
    pub fn once(&self, operator: &str, route: &str, body: &[u8]) -> Option<Once> {
        self.0
            .as_deref()
            .map(|key| Once::new(operator, key, route, body))
    }
}
