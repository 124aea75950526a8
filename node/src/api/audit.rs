//! `GET /api/v1/audit`: the audit log of identity reads ([`crate::audit`]), for supervisors and
//! admins — the people who answer for how identities are used. Clerks get 403: the log names
//! who read whose case, itself something a window need not know.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Caller;
use super::cases::{blocking, parse_limit, MAX_SCAN};
use super::error::ApiError;
use super::AppState;
use crate::audit::Filter;
use crate::operator::Role;

/// `?case_no=&operator=&limit=&after=`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    case_no: Option<String>,
    operator: Option<String>,
    limit: Option<String>,
    after: Option<String>,
}

/// One page of audit entries in the order of the reads, `{"entries":[...],"next":<seq>|null}`,
/// paged like `GET /api/v1/cases`: `limit` (default 100, at most 500), `after` the previous
/// page's `next` (an entry's `seq`); at most [`MAX_SCAN`] entries examined per request.
pub async fn list(
    State(node): State<AppState>,
    caller: Caller,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    if !matches!(caller.0.role, Role::Admin | Role::Supervisor) {
        return Err(ApiError::forbidden(format!(
            "{} may not read the audit log: it is for supervisors and admins",
            caller.0.name
        )));
    }
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = parse_limit(q.limit.as_deref())?;
    let after = q
        .after
        .as_deref()
        .map(|a| {
            a.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!(
                    "after must be an entry's seq (a whole number), not {a:?}"
                ))
            })
        })
        .transpose()?;
    let case_no = q
        .case_no
        .as_deref()
        .map(|c| {
            c.parse()
                .map_err(|e: federation_proto::case_no::CaseNoError| {
                    ApiError::bad_request(format!("case_no: {e}"))
                })
        })
        .transpose()?;
    let filter = Filter {
        case_no,
        operator: q.operator,
    };
    let page = blocking(move || node.audit.page(&filter, after, limit, MAX_SCAN))
        .await?
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "audit_unreadable",
                e.to_string(),
            )
        })?;
    Ok(Json(json!({ "entries": page.entries, "next": page.next })))
}
