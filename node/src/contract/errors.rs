//! The error body every refusal carries: a 4xx or 5xx status with `{"error", "message"}`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `{"error": "<machine code>", "message": "<human sentence>"}`; a refused batch adds the
/// refused cases (`errors`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct ErrorBody {
    /// The machine code, e.g. `not_found`, `unauthorized`, `invalid_applicant`.
    pub error: String,
    /// What went wrong, for a person.
    pub message: String,
    /// Only in a refused batch (`POST /api/v1/cases:batch`, 422 `invalid_cases` or 403
    /// `forbidden`): every refused case, by its place in the batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<CaseError>>,
}

/// A case of a batch that was refused, with the code and message a single submission of it
/// would get.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct CaseError {
    /// Its place in the batch's `cases`, from 0.
    pub index: usize,
    pub error: String,
    pub message: String,
}
