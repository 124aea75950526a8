//! Case handlers: submit, list, show, act.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use federation_proto::{Actor, CaseNo, EventBody, Intake, State as CaseState, Warning};
use serde::Deserialize;
use serde_json::Value;
use tracing::info;

use super::action;
use super::auth::Caller;
use super::body::JsonBodyBytes;
use super::error::ApiError;
use super::once::IdempotencyKey;
use super::privacy::{disclose, mask_view, sees_identity, served_here};
use super::stand_in::{self, Needs};
use super::view::pending_sign_off;
use super::AppState;
use crate::audit::Endpoint;
use crate::case::Case;
use crate::contract::{
    ActionAnswer, Application, CasePage, CaseView, NoticeId, NoticeSent, Proposal, Sorted,
};
use crate::engine::Write;
use crate::intake;
use crate::operator::{Operator, Role};

/// The `{case_no}` of the path; axum's own rejection (e.g. not UTF-8) becomes our error format.
pub(super) fn parse_case_no(path: Result<Path<String>, PathRejection>) -> Result<CaseNo, ApiError> {
    let Path(s) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    s.parse()
        .map_err(|e: federation_proto::case_no::CaseNoError| ApiError::bad_request(e.to_string()))
}

#[utoipa::path(
    post,
    path = "/api/v1/cases",
    operation_id = "submitCase",
    tag = "cases",
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "1–200 visible ASCII characters: a retry with the same key and request writes nothing again."),
    ),
    request_body = crate::contract::Application,
    responses(
        (status = 201, description = "The case view of the new case.", body = crate::contract::CaseView),
        (status = 400, description = "bad_request: a malformed path, query or body.", body = crate::contract::ErrorBody),
        (status = 403, description = "forbidden: the caller's role may not.", body = crate::contract::ErrorBody),
        (status = 422, description = "unknown_item, wrong_department, invalid_applicant, bad_materials, idempotency_key_reused.", body = crate::contract::ErrorBody),
    ),
    security(("bearerAuth" = [])),
)]
pub async fn submit(
    State(node): State<AppState>,
    caller: Caller,
    key: IdempotencyKey,
    JsonBodyBytes(app, raw): JsonBodyBytes<Application>,
) -> Result<(StatusCode, Sorted<CaseView>), ApiError> {
    let (intake, actor) = admit(&node, &caller.0, &app)?;
    let once = key.once(&caller.0.name, "POST /api/v1/cases", &raw);
    let case = node
        .engine
        .write_once(actor, Write::Submit(intake), once)
        .await?;
    info!(node = %node.code, case = %case.case_no, item = %case.item, state = case.state.as_str(), "case submitted");
    // The identity in this answer is the one the caller just entered: echoed, not disclosed,
    // so not audited (the submission's event names its actor for good).
    let (view, _) = disclose(&case, &node.clocks(&case), &caller.0, node.code);
    Ok((StatusCode::CREATED, Sorted(view)))
}

/// An application as this node takes it from `op` (受理): checked against the catalog
/// ([`intake::prepare`]), by `op`'s right to accept for the item's department (a clerk or
/// chief for their own — or for an absent colleague's, as their stand-in (AB角) — an admin for
/// any, a supervisor for none), and as the event it will become (not too long to record).
/// Every check a submission gets before it is written, for a single submission and for each
/// case of a batch alike. Returns the intake and who records it.
pub(super) fn admit(
    node: &AppState,
    op: &Operator,
    app: &Application,
) -> Result<(Intake, Actor), ApiError> {
    let intake = intake::prepare(&node.reference.catalog(), app, node.today())?;
    let needs = Needs {
        department: &intake.department,
        sign_off: false,
    };
    let Some((actor, _)) = stand_in::acting(node, op, needs)? else {
        return Err(stand_in::refused(op, "accept applications", needs));
    };
    federation_proto::writer::check_submission_size(node.code, node.today(), &actor, &intake)?;
    Ok((intake, actor))
}

/// The case as this node serves it: `None` when it is not stored here, or only as a child's
/// backup copy ([`served_here`]) — the two are told apart by nobody outside.
fn served_case(node: &AppState, case_no: &CaseNo) -> Result<Option<Case>, ApiError> {
    Ok(node
        .store
        .case(case_no)?
        .filter(|c| served_here(c, node.code)))
}

/// The case view as `op` may see it; when it carries the identity unmasked, the read is
/// audited (durably) first — or, if that fails, the identity is masked after all.
async fn view_for(
    node: &AppState,
    op: &Operator,
    case: &Case,
    endpoint: Endpoint,
) -> Result<CaseView, ApiError> {
    // A stand-in (AB角) sees what the colleague they act for would; the audit names who read.
    let rights = if sees_identity(op, case, node.code) {
        op.clone()
    } else {
        let needs = Needs {
            department: &case.department,
            sign_off: false,
        };
        stand_in::acting(node, op, needs)?.map_or_else(|| op.clone(), |(_, rights)| rights)
    };
    let (mut view, full) = disclose(case, &node.clocks(case), &rights, node.code);
    if full {
        let (node, op, case_no) = (node.clone(), op.clone(), case.case_no);
        if !blocking(move || audited(&node, &op, &[case_no], endpoint)).await? {
            mask_view(&mut view);
        }
    }
    Ok(view)
}

/// Records the reads in the audit log (blocking: a flush). `false` when they could not be
/// made durable: the caller must then mask the identities it was about to send.
fn audited(node: &AppState, op: &Operator, cases: &[CaseNo], endpoint: Endpoint) -> bool {
    match node.audit.record(op, cases, endpoint, node.clock.now_ms()) {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(node = %node.code, operator = %op.name, cases = cases.len(), error = %e,
                "identity read not audited: the answer is sent with identities masked");
            false
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/cases/{case_no}",
    operation_id = "getCase",
    tag = "cases",
    params(
        ("case_no" = String, Path, description = "A case number, NODE-YYYYMMDD-NNNNNN."),
    ),
    responses(
        (status = 200, description = "The case view (with `refusal` and `proposal` when they apply).", body = crate::contract::CaseView),
        (status = 400, description = "bad_request: a malformed path, query or body.", body = crate::contract::ErrorBody),
        (status = 404, description = "not_found: no such case here (or held only as a child's backup copy).", body = crate::contract::ErrorBody),
    ),
    security(("bearerAuth" = [])),
)]
pub async fn show(
    State(node): State<AppState>,
    caller: Caller,
    case_no: Result<Path<String>, PathRejection>,
) -> Result<Sorted<CaseView>, ApiError> {
    let case_no = parse_case_no(case_no)?;
    let case = served_case(&node, &case_no)?
        .ok_or_else(|| ApiError::not_found(format!("case {case_no} does not exist")))?;
    let mut view = view_for(&node, &caller.0, &case, Endpoint::Show).await?;
    let papers = papers(&node, &case)?;
    view.refusal = papers.refusal;
    view.proposal = papers.proposal;
    Ok(Sorted(view))
}

/// What the case's record says beyond the case itself, for the one case shown (not for lists):
/// the written reason of a 不予受理 (for its 决定书), and the decision proposed and awaiting its
/// sign-off (网上签批). The case keeps only their effect; the texts are in the events.
#[derive(Default)]
struct Papers {
    refusal: Option<String>,
    /// The latest proposal since the last decision.
    proposal: Option<Proposal>,
}

fn papers(node: &AppState, case: &Case) -> Result<Papers, ApiError> {
    let refused = case.state == CaseState::NotAccepted;
    let awaiting = pending_sign_off(case);
    if !refused && !awaiting {
        return Ok(Papers::default());
    }
    // Only the events that took effect: a refused one (not the owner's, say) stays in the log.
    let applied = |e: &federation_proto::Event| {
        case.log
            .iter()
            .any(|entry| entry.id == e.id && entry.rejected.is_none())
    };
    let mut papers = Papers::default();
    for e in node
        .store
        .events_of(&case.case_no)?
        .iter()
        .filter(|e| applied(e))
    {
        match &e.body {
            EventBody::Refuse { reason } if refused && papers.refusal.is_none() => {
                papers.refusal = Some(reason.clone())
            }
            EventBody::Propose { approve, reason } if awaiting => {
                papers.proposal = Some(Proposal {
                    approve: *approve,
                    reason: reason.clone(),
                    by: e.actor.name.clone(),
                    at: super::view::timestamp(e.hlc.wall_ms),
                })
            }
            EventBody::Decide { .. } => papers.proposal = None,
            _ => {}
        }
    }
    Ok(papers)
}

/// The most entries one page of a list (`GET /api/v1/cases`, `GET /api/v1/summaries`) holds: a
/// larger `limit` is clamped to it. With case views of a few KB, a page stays within a few MB
/// however large the store, so a request's memory does not grow with the store.
pub const MAX_PAGE: usize = 500;

/// The page size when the request names no `limit`.
pub const DEFAULT_PAGE: usize = 100;

/// The most stored records one list request examines. A selective filter (e.g. `warning=red`
/// over a year of cases) may match few of them: the scan stops after this many and answers the
/// page found so far, perhaps empty, with `next` = the last case number examined, so the client
/// continues from there. Each request's work is bounded, not only its answer.
pub const MAX_SCAN: usize = 20 * MAX_PAGE;

/// The `limit` of a list: [`DEFAULT_PAGE`] when absent, at most [`MAX_PAGE`]; 0, a negative
/// number or anything but digits is a 400.
pub(super) fn parse_limit(limit: Option<&str>) -> Result<usize, ApiError> {
    let Some(text) = limit else {
        return Ok(DEFAULT_PAGE);
    };
    let bad = || {
        ApiError::bad_request(format!(
            "limit must be a whole number (0 lists nothing; at most {MAX_PAGE} are listed), not {text:?}"
        ))
    };
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    // All digits: too large for u64 is simply "more than the cap".
    let n = text.parse::<u64>().unwrap_or(u64::MAX);
    Ok(usize::try_from(n).unwrap_or(usize::MAX).min(MAX_PAGE))
}

/// The `after` cursor of a list: a case number (the `next` of the previous page).
pub(super) fn parse_after(after: Option<&str>) -> Result<Option<CaseNo>, ApiError> {
    after
        .map(|a| {
            a.parse()
                .map_err(|e: federation_proto::case_no::CaseNoError| {
                    ApiError::bad_request(format!("after: {e}"))
                })
        })
        .transpose()
}

/// One page of a list and the cursor to the rest.
#[derive(Debug)]
pub(super) struct Page<T> {
    pub items: Vec<T>,
    /// The case number to continue `after`: `Some` when stored records remain past the page.
    pub next: Option<CaseNo>,
}

/// Reads `scan` (stored records in case-number order) until `limit` of them passed `keep` or
/// `max_scan` were examined, whichever comes first. `next` is the last record examined when at
/// least one more is stored (found by reading it; it is not examined), `None` at the end.
/// Holds at most `limit` kept items; each record examined is dropped before the next is read.
pub(super) fn page<S, T, E>(
    scan: impl Iterator<Item = Result<S, E>>,
    case_no: impl Fn(&S) -> CaseNo,
    mut keep: impl FnMut(S) -> Option<T>,
    limit: usize,
    max_scan: usize,
) -> Result<Page<T>, E> {
    let mut items = Vec::new();
    let mut last = None;
    for (examined, record) in scan.enumerate() {
        if items.len() >= limit || examined >= max_scan {
            return Ok(Page { items, next: last });
        }
        let record = record?;
        last = Some(case_no(&record));
        if let Some(item) = keep(record) {
            items.push(item);
        }
    }
    Ok(Page { items, next: None })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    state: Option<String>,
    owner: Option<String>,
    warning: Option<String>,
    item: Option<String>,
    department: Option<String>,
    limit: Option<String>,
    after: Option<String>,
}

/// `GET /api/v1/cases?state=&owner=&warning=&item=&department=&limit=&after=`: one page of the
/// cases held here that pass the filters, in case-number order, as
/// `{"cases":[case view...],"next":"<case_no>"|null}`.
///
/// `limit` (default [`DEFAULT_PAGE`]) is clamped to [`MAX_PAGE`]; `after` continues after a
/// case number, normally the previous page's `next`. The filters apply while the store is
/// scanned, and the scan stops after [`MAX_SCAN`] stored cases even when the page is not full:
/// a page may then be short or empty while `next` is set. A client lists everything by
/// following `next` until it is `null`. The store is read one case at a time, on a blocking
/// thread, so neither memory nor a runtime thread is tied up by the size of the store.
#[utoipa::path(
    get,
    path = "/api/v1/cases",
    operation_id = "listCases",
    tag = "cases",
    params(
        ("state" = Option<String>, Query, description = "Only cases in this state."),
        ("owner" = Option<String>, Query, description = "Only cases owned by this node."),
        ("warning" = Option<String>, Query, description = "Only cases with this promised-clock warning."),
        ("item" = Option<String>, Query, description = "Only cases of this item."),
        ("department" = Option<String>, Query, description = "Only cases of this department."),
        ("limit" = Option<String>, Query, description = "Page size: 100 by default, at most 500; 0 lists nothing."),
        ("after" = Option<String>, Query, description = "Continue after this case number (a page's `next`)."),
    ),
    responses(
        (status = 200, description = "One page of case views, in case-number order.", body = crate::contract::CasePage),
        (status = 400, description = "bad_request: a malformed path, query or body.", body = crate::contract::ErrorBody),
    ),
    security(("bearerAuth" = [])),
)]
pub async fn list(
    State(node): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Sorted<CasePage>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let state = filter("state", q.state.as_deref(), CaseState::parse)?;
    let warning = filter("warning", q.warning.as_deref(), Warning::parse)?;
    let limit = parse_limit(q.limit.as_deref())?;
    let after = parse_after(q.after.as_deref())?;
    let op = caller.0;
    let page = blocking(move || {
        let mut disclosed = Vec::new();
        let keep = |case: Case| {
            if !served_here(&case, node.code) {
                return None;
            }
            let keep = state.is_none_or(|s| case.state == s)
                && q.owner
                    .as_deref()
                    .is_none_or(|o| case.owner.to_string() == o)
                && q.item.as_deref().is_none_or(|i| case.item == i)
                && q.department.as_deref().is_none_or(|d| case.department == d);
            if !keep {
                return None;
            }
            let clocks = node.clocks(&case);
            if warning.is_some_and(|w| clocks.warning != w) {
                return None;
            }
            let (view, full) = disclose(&case, &clocks, &op, node.code);
            if full {
                disclosed.push(case.case_no);
            }
            Some(view)
        };
        let page = page(
            node.store.cases_from(after.as_ref()),
            |c: &Case| c.case_no,
            keep,
            limit,
            MAX_SCAN,
        )?;
        let mut page = page;
        if !audited(&node, &op, &disclosed, Endpoint::List) {
            page.items.iter_mut().for_each(mask_view);
        }
        Ok::<_, ApiError>(page)
    })
    .await??;
    Ok(Sorted(CasePage {
        cases: page.items,
        next: page.next,
    }))
}

/// Runs a store scan on tokio's blocking pool, off the runtime's worker threads.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("list task failed: {e}"),
        )
    })
}

/// A query filter parsed with `parse`; an unknown value is a 400 naming it.
fn filter<T>(
    name: &str,
    value: Option<&str>,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, ApiError> {
    value
        .map(|v| parse(v).ok_or_else(|| ApiError::bad_request(format!("unknown {name} {v:?}"))))
        .transpose()
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{case_no}/actions",
    operation_id = "actOnCase",
    tag = "cases",
    params(
        ("case_no" = String, Path, description = "A case number, NODE-YYYYMMDD-NNNNNN."),
        ("Idempotency-Key" = Option<String>, Header, description = "1–200 visible ASCII characters: a retry with the same key and request writes nothing again."),
    ),
    request_body = crate::contract::ActionRequest,
    responses(
        (status = 200, description = "The case view once the action is durable (a 督办 from above: the notice sent).", body = crate::contract::ActionAnswer),
        (status = 400, description = "bad_request, unknown_action.", body = crate::contract::ErrorBody),
        (status = 403, description = "forbidden, not_authorised, sign_off_required.", body = crate::contract::ErrorBody),
        (status = 404, description = "not_found: no such case here (or held only as a child's backup copy).", body = crate::contract::ErrorBody),
        (status = 409, description = "wrong_state, not_owner.", body = crate::contract::ErrorBody),
        (status = 422, description = "invalid_action, idempotency_key_reused.", body = crate::contract::ErrorBody),
    ),
    security(("bearerAuth" = [])),
)]
pub async fn act(
    State(node): State<AppState>,
    caller: Caller,
    case_no: Result<Path<String>, PathRejection>,
    key: IdempotencyKey,
    JsonBodyBytes(body, raw): JsonBodyBytes<Value>,
) -> Result<Sorted<ActionAnswer>, ApiError> {
    let case_no = parse_case_no(case_no)?;
    let Some(case) = served_case(&node, &case_no)? else {
        return notice_from_above(node, &caller.0, case_no, body).await;
    };
    let body = action::parse(body, case.default_forward(node.code))?;
    let actor = authorise(&node, &caller.0, &case, &body)?;
    let once = key.once(
        &caller.0.name,
        &format!("POST /api/v1/cases/{case_no}/actions"),
        &raw,
    );
    let case = node
        .engine
        .write_once(
            actor,
            Write::Act {
                case_no,
                body: body.clone(),
            },
            once,
        )
        .await?;
    info!(node = %node.code, case = %case_no, action = body.action(), state = case.state.as_str(), "case action");
    let view = view_for(&node, &caller.0, &case, Endpoint::Act).await?;
    Ok(Sorted(ActionAnswer::Case(Box::new(view))))
}

/// A 督办 on a case this node does not serve but supervises: one owned below, known here by its
/// summary (电子监察) — and perhaps held as a child's backup copy, which the answer (the summary)
/// does not show. The notice goes to the owner; its answer comes back in the summary. Any
/// other action on a case not held here is a 404.
async fn notice_from_above(
    node: AppState,
    op: &Operator,
    case_no: CaseNo,
    body: Value,
) -> Result<Sorted<ActionAnswer>, ApiError> {
    let not_held = || ApiError::not_found(format!("case {case_no} does not exist"));
    let summary = node.store.summary(&case_no)?.ok_or_else(not_held)?;
    let EventBody::Supervise { note } = action::parse(body, None)? else {
        return Err(not_held());
    };
    if !matches!(op.role, Role::Admin | Role::Supervisor) {
        return Err(ApiError::forbidden(format!(
            "{} may not supervise: 督办 is for supervisors",
            op.name
        )));
    }
    let seq = node
        .engine
        .notice(stand_in::actor(op), case_no, note)
        .await?;
    info!(node = %node.code, case = %case_no, owner = %summary.owner, seq, "督办 sent");
    Ok(Sorted(ActionAnswer::NoticeSent(Box::new(NoticeSent {
        case_no,
        owner: summary.owner,
        notice: NoticeId {
            origin: node.code,
            seq,
        },
        summary,
    }))))
}

/// Local permission on top of the fold's authority rules: a clerk acts only for their
/// department (or as a participant of a joint review), a decision on an item with 网上签批
/// only by a 首席代表 or an admin, and a supervisor only supervises. Whoever's own rights do
/// not cover the action may act as the stand-in of an absent colleague's (AB角,
/// [`stand_in`]). Returns who the event records as its actor.
fn authorise(
    node: &AppState,
    op: &Operator,
    case: &Case,
    body: &EventBody,
) -> Result<Actor, ApiError> {
    let what = format!("{} case {}", body.action(), case.case_no);
    match (op.role, body) {
        (Role::Admin, _) | (Role::Supervisor, EventBody::Supervise { .. }) => {
            return Ok(stand_in::actor(op))
        }
        (Role::Supervisor, _) | (Role::Clerk | Role::Chief, EventBody::Supervise { .. }) => {
            return Err(ApiError::forbidden(format!(
                "{} ({}) may not {what}",
                op.name,
                op.department.as_deref().unwrap_or(op.role.as_str())
            )))
        }
        // A seat of a joint review answers for its own department; the fold checks the seat.
        (Role::Clerk | Role::Chief, EventBody::Opinion { .. }) => return Ok(stand_in::actor(op)),
        _ => {}
    }
    let sign_off = matches!(body, EventBody::Decide { .. })
        && node
            .reference
            .catalog()
            .get(&case.item)
            .is_some_and(|item| item.sign_off);
    let needs = Needs {
        department: &case.department,
        sign_off,
    };
    match stand_in::acting(node, op, needs)? {
        Some((actor, _)) => Ok(actor),
        None => Err(stand_in::refused(op, &what, needs)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no(seq: u32) -> CaseNo {
        format!("350322-20250930-{seq:06}").parse().unwrap()
    }

    /// Stored records 1..=n, as a scan would read them.
    fn scan(n: u32) -> impl Iterator<Item = Result<CaseNo, ()>> {
        (1..=n).map(|s| Ok(no(s)))
    }

    #[test]
    fn limit_defaults_clamps_and_refuses_nonsense() {
        assert_eq!(parse_limit(None).unwrap(), DEFAULT_PAGE);
        assert_eq!(parse_limit(Some("7")).unwrap(), 7);
        assert_eq!(parse_limit(Some("500")).unwrap(), MAX_PAGE);
        assert_eq!(parse_limit(Some("501")).unwrap(), MAX_PAGE);
        assert_eq!(parse_limit(Some("100000000")).unwrap(), MAX_PAGE);
        assert_eq!(
            parse_limit(Some("99999999999999999999999999")).unwrap(),
            MAX_PAGE
        );
        assert_eq!(parse_limit(Some("0")).unwrap(), 0);
        for bad in ["-1", "", "many", "1.5", "+3", " 3", "0x10"] {
            let e = parse_limit(Some(bad)).unwrap_err();
            assert_eq!((e.status, e.code), (StatusCode::BAD_REQUEST, "bad_request"));
        }
    }

    #[test]
    fn after_is_a_case_number() {
        assert_eq!(parse_after(None).unwrap(), None);
        assert_eq!(
            parse_after(Some("350322-20250930-000007")).unwrap(),
            Some(no(7))
        );
        for bad in ["", "x", "350322-20250930-000000", "350322-2025-000001"] {
            assert_eq!(parse_after(Some(bad)).unwrap_err().code, "bad_request");
        }
    }

    #[test]
    fn a_page_stops_at_the_limit_and_names_the_next() {
        let p = page(scan(10), |n| *n, Some, 4, MAX_SCAN).unwrap();
        assert_eq!(p.items, (1..=4).map(no).collect::<Vec<_>>());
        assert_eq!(p.next, Some(no(4)));
        // Exactly full at the end: nothing more is stored, so no cursor.
        let p = page(scan(4), |n| *n, Some, 4, MAX_SCAN).unwrap();
        assert_eq!((p.items.len(), p.next), (4, None));
        let p = page(scan(0), |n| *n, Some, 4, MAX_SCAN).unwrap();
        assert_eq!((p.items.len(), p.next), (0, None));
    }

    #[test]
    fn the_clamped_limit_caps_a_page_of_a_big_store() {
        let limit = parse_limit(Some("100000000")).unwrap();
        let p = page(scan(2000), |n| *n, Some, limit, MAX_SCAN).unwrap();
        assert_eq!(p.items.len(), MAX_PAGE);
        assert_eq!(p.next, Some(no(MAX_PAGE as u32)));
    }

    #[test]
    fn a_selective_filter_stops_at_the_scan_budget_with_a_cursor() {
        // Only every 1000th record passes: the budget ends the scan before the page is full.
        let keep = |n: CaseNo| n.seq.is_multiple_of(1000).then_some(n);
        let p = page(scan(50_000), |n| *n, keep, MAX_PAGE, MAX_SCAN).unwrap();
        assert_eq!(p.items.len(), MAX_SCAN / 1000);
        assert_eq!(p.next, Some(no(MAX_SCAN as u32)));
        // Nothing passes: an empty page that still continues.
        let p = page(scan(50_000), |n| *n, |_| None::<CaseNo>, 10, 100).unwrap();
        assert_eq!((p.items.len(), p.next), (0, Some(no(100))));
        // The budget reached exactly at the end of the store: done.
        let p = page(scan(100), |n| *n, |_| None::<CaseNo>, 10, 100).unwrap();
        assert_eq!(p.next, None);
    }

    #[test]
    fn a_record_past_the_page_is_only_peeked() {
        // An unreadable record right after a full page does not fail the page.
        let scan = (1..=3).map(|s| if s == 3 { Err(()) } else { Ok(no(s)) });
        let p = page(scan, |n| *n, Some, 2, MAX_SCAN).unwrap();
        assert_eq!((p.items.len(), p.next), (2, Some(no(2))));
        let scan = (1..=3).map(|s| if s == 2 { Err(()) } else { Ok(no(s)) });
        assert!(page(scan, |n| *n, Some, 2, MAX_SCAN).is_err());
    }
}
