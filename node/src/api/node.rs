//! Node-wide handlers: identity, catalog, links, summaries, and the fallbacks.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode, Uri};
use federation_proto::CaseSummary;
use serde::Deserialize;

use super::auth::Caller;
use super::body::JsonBody;
use super::cases;
use super::error::ApiError;
use super::AppState;
use crate::contract::{
    CatalogView, CheckAnswer, LinkView, LinksView, NodeBrief, NodeView, SessionView, Sorted,
    SummaryPage,
};

#[utoipa::path(
    get,
    path = "/api/v1/node",
    operation_id = "getNode",
    tag = "node",
    responses(
        (status = 200, description = "This node.", body = crate::contract::NodeView),
    ),
    security(("bearerAuth" = [])),
)]
pub async fn node(State(node): State<AppState>, _caller: Caller) -> Sorted<NodeView> {
    Sorted(NodeView {
        code: node.code,
        name: node.name.clone(),
        level: node.code.level(),
        parent: node.parent,
        children: Vec::new(),
    })
}

/// `GET /api/v1/session`: who the token belongs to and at which node, with the node's today —
/// what the console shows after sign-in, and which screens it offers (the API still decides
/// every request on its own).
#[utoipa::path(
    get,
    path = "/api/v1/session",
    operation_id = "getSession",
    tag = "node",
    responses(
        (status = 200, description = "Who the token belongs to, at which node.", body = crate::contract::SessionView),
    ),
    security(("bearerAuth" = [])),
)]
pub async fn session(
    State(node): State<AppState>,
    caller: Caller,
) -> Result<Sorted<SessionView>, ApiError> {
    let stand_in = node.store.operator(&caller.1)?.and_then(|a| a.stand_in);
    let standing_in_for = super::stand_in::standing_in_for(&node, &caller.0)?;
    Ok(Sorted(SessionView {
        operator: caller.0,
        // AB角: who acts for this operator while away, and for whom they act now.
        stand_in,
        standing_in_for,
        node: NodeBrief {
            code: node.code,
            name: node.name.clone(),
            level: node.code.level(),
            parent: node.parent,
        },
        today: node.today(),
    }))
}

/// `POST /api/v1/applicants:check` `{"kind","name","id"}`: the window's live check of an
/// applicant as it is typed — the same rules, and the same message, as a submission gets
/// (resident ID per GB 11643 with its birth date, 统一社会信用代码 per GB 32100). 200
/// `{"ok":true}`, or 422 `invalid_applicant` saying what is wrong. Nothing is stored or logged:
/// the identity is not kept anywhere by being checked.
#[utoipa::path(
    post,
    path = "/api/v1/applicants:check",
    operation_id = "checkApplicant",
    tag = "cases",
    request_body = crate::contract::cases::ApplicantInput,
    responses(
        (status = 200, description = "The identity is valid.", body = crate::contract::CheckAnswer),
        (status = 400, description = "bad_request: a malformed path, query or body.", body = crate::contract::ErrorBody),
        (status = 422, description = "invalid_applicant: the message a submission would get.", body = crate::contract::ErrorBody),
    ),
    security(("bearerAuth" = [])),
)]
pub async fn check_applicant(
    State(node): State<AppState>,
    _caller: Caller,
    JsonBody(applicant): JsonBody<federation_proto::Applicant>,
) -> Result<Sorted<CheckAnswer>, ApiError> {
    federation_proto::applicant::validate_on(&applicant, node.today())
        .map_err(|e| ApiError::from(crate::intake::IntakeError::Applicant(e)))?;
    Ok(Sorted(CheckAnswer { ok: true }))
}

#[utoipa::path(
    get,
    path = "/api/v1/catalog",
    operation_id = "getCatalog",
    tag = "node",
    responses(
        (status = 200, description = "The catalog in force.", body = crate::contract::CatalogView),
    ),
    security(("bearerAuth" = [])),
)]
pub async fn catalog(State(node): State<AppState>, _caller: Caller) -> Sorted<CatalogView> {
    Sorted(CatalogView {
        items: node.reference.catalog().items().to_vec(),
    })
}

/// The node's links: peer, role, whether connected, outbox depth, last ack.
#[utoipa::path(
    get,
    path = "/api/v1/links",
    operation_id = "getLinks",
    tag = "node",
    responses(
        (status = 200, description = "The federation links.", body = crate::contract::LinksView),
    ),
    security(("bearerAuth" = [])),
)]
pub async fn links(State(node): State<AppState>, _caller: Caller) -> Sorted<LinksView> {
    let links = node
        .links
        .as_ref()
        .map(|l| l.snapshot())
        .unwrap_or_default()
        .into_iter()
        .map(|(s, outbox)| LinkView {
            peer: s.peer,
            role: s.role,
            connected: s.connected,
            outbox: outbox as u64,
            last_ack: s.last_ack,
            connections: s.connections,
            last_error: s.last_error,
            features: s.features,
        })
        .collect();
    Sorted(LinksView { links })
}

/// `?limit=&after=` of `GET /api/v1/summaries`: the paging of the case list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummariesQuery {
    limit: Option<String>,
    after: Option<String>,
    /// Only summaries of this promised-clock warning (`green`, `yellow`, `red`).
    warning: Option<String>,
    /// `true`: only cases whose clock runs (accepted, not concluded or ended); `false`: only
    /// the others.
    open: Option<String>,
}

/// The latest status summaries held from the subtree (电子监察): never applicant identity.
/// One page in case-number order, `{"summaries":[...],"next":"<case_no>"|null}`, paged like
/// `GET /api/v1/cases`: `limit` (default [`cases::DEFAULT_PAGE`]) clamped to
/// [`cases::MAX_PAGE`], `after` the previous page's `next`; read one summary at a time. The
/// filters `warning` and `open` apply while scanning, within the scan bound of a list — what
/// 电子监察 asks of a city's hundreds of thousands of summaries.
#[utoipa::path(
    get,
    path = "/api/v1/summaries",
    operation_id = "listSummaries",
    tag = "supervision",
    params(
        ("limit" = Option<String>, Query, description = "Page size: 100 by default, at most 500; 0 lists nothing."),
        ("after" = Option<String>, Query, description = "Continue after this case number (a page's `next`)."),
        ("warning" = Option<String>, Query, description = "Only summaries of this promised-clock warning: green, yellow or red."),
        ("open" = Option<String>, Query, description = "true: only cases whose clock runs; false: only the others."),
    ),
    responses(
        (status = 200, description = "One page of the summaries held here.", body = crate::contract::SummaryPage),
        (status = 400, description = "bad_request: a malformed path, query or body.", body = crate::contract::ErrorBody),
    ),
    security(("bearerAuth" = [])),
)]
pub async fn summaries(
    State(node): State<AppState>,
    _caller: Caller,
    query: Result<Query<SummariesQuery>, QueryRejection>,
) -> Result<Sorted<SummaryPage>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = cases::parse_limit(q.limit.as_deref())?;
    let after = cases::parse_after(q.after.as_deref())?;
    let warning = q
        .warning
        .as_deref()
        .map(|w| {
            federation_proto::Warning::parse(w)
                .ok_or_else(|| ApiError::bad_request(format!("unknown warning {w:?}")))
        })
        .transpose()?;
    let open = match q.open.as_deref() {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "open is true or false, not {other:?}"
            )))
        }
    };
    let keep = move |s: CaseSummary| {
        (warning.is_none_or(|w| s.warning == w) && open.is_none_or(|o| s.state.is_open() == o))
            .then_some(s)
    };
    let page = cases::blocking(move || {
        cases::page(
            node.store.summaries_from(after.as_ref()),
            |s: &CaseSummary| s.case_no,
            keep,
            limit,
            cases::MAX_SCAN,
        )
    })
    .await??;
    Ok(Sorted(SummaryPage {
        summaries: page.items,
        next: page.next,
    }))
}

/// The summary of one case held here (`GET /api/v1/summaries/{case_no}`).
#[utoipa::path(
    get,
    path = "/api/v1/summaries/{case_no}",
    operation_id = "getSummary",
    tag = "supervision",
    params(
        ("case_no" = String, Path, description = "A case number, NODE-YYYYMMDD-NNNNNN."),
    ),
    responses(
        (status = 200, description = "The summary of the case held here.", body = crate::contract::foreign::CaseSummarySchema),
        (status = 400, description = "bad_request: a malformed path, query or body.", body = crate::contract::ErrorBody),
        (status = 404, description = "not_found: no summary of the case here.", body = crate::contract::ErrorBody),
    ),
    security(("bearerAuth" = [])),
)]
pub async fn summary(
    State(node): State<AppState>,
    _caller: Caller,
    case_no: Result<Path<String>, PathRejection>,
) -> Result<Sorted<CaseSummary>, ApiError> {
    let case_no = super::cases::parse_case_no(case_no)?;
    let summary = node
        .store
        .summary(&case_no)?
        .ok_or_else(|| ApiError::not_found(format!("no summary of case {case_no} here")))?;
    Ok(Sorted(summary))
}

pub async fn wrong_method(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} does not take {method}", uri.path()),
    )
}

pub async fn no_route(uri: Uri) -> ApiError {
    ApiError::not_found(format!("no such endpoint: {}", uri.path()))
}
