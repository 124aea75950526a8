//! API errors: a status and `{"error": "<machine code>", "message": "<human sentence>"}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::case::Refusal;
use crate::contract::{ErrorBody, Sorted};
use crate::engine::EngineError;
use crate::intake::IntakeError;
use crate::store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds for a `Retry-After` header (429).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// Adds `Retry-After: secs` to the answer.
    pub fn retry_after(mut self, secs: u64) -> ApiError {
        self.retry_after = Some(secs);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.code.to_string(),
            message: self.message,
            errors: None,
        };
        let mut response = (self.status, Sorted(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> ApiError {
        let (status, code) = match &r {
            Refusal::WrongState { .. } => (StatusCode::CONFLICT, "wrong_state"),
            Refusal::NotOwner { .. } => (StatusCode::CONFLICT, "not_owner"),
            Refusal::Authority(_) => (StatusCode::FORBIDDEN, "not_authorised"),
            Refusal::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_action"),
        };
        ApiError::new(status, code, r.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        tracing::error!(error = %e, "storage error");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "storage", e.to_string())
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        match e {
            EngineError::NotFound(no) => ApiError::not_found(format!("case {no} does not exist")),
            EngineError::Refused(r) => r.into(),
            EngineError::Store(e) => e.into(),
            EngineError::Unavailable(m) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", m)
            }
            e @ EngineError::KeyReused(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                e.to_string(),
            ),
            // Only peers' batches end like this; a request never should.
            e @ (EngineError::Link(_) | EngineError::BadSignature(_) | EngineError::Invalid(_)) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
            }
        }
    }
}

impl From<IntakeError> for ApiError {
    fn from(e: IntakeError) -> ApiError {
        let code = match &e {
            IntakeError::UnknownItem(_) => "unknown_item",
            IntakeError::WrongDepartment { .. } => "wrong_department",
            IntakeError::Applicant(_) => "invalid_applicant",
            IntakeError::BadMaterials => "bad_materials",
        };
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, e.to_string())
    }
}
