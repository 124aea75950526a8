//! `GET /api/v1/audit`: the audit log of identity reads ([`crate::audit`]), for supervisors and
//! admins — the people who answer for how identities are used. Clerks get 403: the log names
//! who read whose case, itself something a window need not know.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::auth::Caller;
use super::cases::{blocking, parse_limit, MAX_SCAN};
use super::error::ApiError;
use super::AppState;
use crate::audit::Filter;
use crate::contract::{AuditPage, Sorted};
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
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    operation_id = "listAudit",
    tag = "supervision",
    params(
        ("case_no" = Option<String>, Query, description = "Only reads of this case."),
        ("operator" = Option<String>, Query, description = "Only reads by this operator."),
        ("limit" = Option<String>, Query, description = "Page size: 100 by default, at most 500; 0 lists nothing."),
        ("after" = Option<String>, Query, description = "Continue after this entry's `seq`."),
    ),
    responses(
        (status = 200, description = "One page of identity reads, oldest first.", body = crate::contract::AuditPage),
        (status = 400, description = "bad_request: a malformed path, query or body.", body = crate::contract::ErrorBody),
        (status = 403, description = "forbidden: clerks may not read the audit log.", body = crate::contract::ErrorBody),
    ),
    security(("bearerAuth" = [])),
)]
pub async fn list(
    State(node): State<AppState>,
    caller: Caller,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Sorted<AuditPage>, ApiError> {
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
    Ok(Sorted(AuditPage {
        entries: page.entries,
        next: page.next,
    }))
}
