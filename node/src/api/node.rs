//! Node-wide handlers: identity, catalog, links, summaries, metrics, and the fallbacks.

use std::collections::BTreeMap;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode, Uri};
use axum::Json;
use federation_proto::{CaseSummary, State as CaseState};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Caller;
use super::cases;
use super::error::ApiError;
use super::{AppState, NodeContext};
use crate::link;

pub async fn node(State(node): State<AppState>, _caller: Caller) -> Json<Value> {
    Json(json!({
        "code": node.code,
        "name": node.name,
        "level": node.code.level().as_str(),
        "parent": node.parent,
        "children": [],
    }))
}

pub async fn catalog(State(node): State<AppState>, _caller: Caller) -> Json<Value> {
    Json(json!({ "items": node.reference.catalog().items() }))
}

/// Prometheus text format.
pub async fn metrics(State(node): State<AppState>) -> Result<String, ApiError> {
    let mut by_state: BTreeMap<CaseState, u64> = CaseState::ALL.iter().map(|s| (*s, 0)).collect();
    for case in node.store.cases() {
        *by_state.entry(case?.state).or_default() += 1;
    }
    let mut out = String::new();
    out.push_str("# HELP liandong_events_stored Events held in this node's log.\n");
    out.push_str("# TYPE liandong_events_stored gauge\n");
    out.push_str(&format!(
        "liandong_events_stored{{node=\"{}\"}} {}\n",
        node.code,
        node.store.event_count()
    ));
    out.push_str("# HELP liandong_cases Cases held, by state.\n# TYPE liandong_cases gauge\n");
    for (state, n) in by_state {
        out.push_str(&format!(
            "liandong_cases{{node=\"{}\",state=\"{}\"}} {n}\n",
            node.code,
            state.as_str()
        ));
    }
    out.push_str(&format!(
        "# HELP liandong_flushes_total Group commits (one fsync each).\n# TYPE liandong_flushes_total counter\nliandong_flushes_total{{node=\"{}\"}} {}\n",
        node.code,
        node.store.flush_count()
    ));
    out.push_str(&format!(
        "# HELP liandong_fdatasyncs_total fdatasyncs of the store after a flush: what makes an answer durable against power loss.\n# TYPE liandong_fdatasyncs_total counter\nliandong_fdatasyncs_total{{node=\"{}\"}} {}\n",
        node.code,
        node.store.sync_count()
    ));
    link_metrics(&node, &mut out);
    super::status::metrics(&node, &mut out)?;
    Ok(out)
}

/// The node's links: peer, role, whether connected, outbox depth, last ack.
pub async fn links(State(node): State<AppState>, _caller: Caller) -> Json<Value> {
    let links: Vec<Value> = node
        .links
        .as_ref()
        .map(|l| l.snapshot())
        .unwrap_or_default()
        .into_iter()
        .map(|(s, outbox)| {
            json!({
                "peer": s.peer,
                "role": s.role,
                "connected": s.connected,
                "outbox": outbox,
                "last_ack": s.last_ack,
                "connections": s.connections,
                "last_error": s.last_error,
            })
        })
        .collect();
    Json(json!({ "links": links }))
}

/// `?limit=&after=` of `GET /api/v1/summaries`: the paging of the case list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummariesQuery {
    limit: Option<String>,
    after: Option<String>,
}

/// The latest status summaries held from the subtree (电子监察): never applicant identity.
/// One page in case-number order, `{"summaries":[...],"next":"<case_no>"|null}`, paged like
/// `GET /api/v1/cases`: `limit` (default [`cases::DEFAULT_PAGE`]) clamped to
/// [`cases::MAX_PAGE`], `after` the previous page's `next`; read one summary at a time.
pub async fn summaries(
    State(node): State<AppState>,
    _caller: Caller,
    query: Result<Query<SummariesQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = cases::parse_limit(q.limit.as_deref())?;
    let after = cases::parse_after(q.after.as_deref())?;
    let page = cases::blocking(move || {
        cases::page(
            node.store.summaries_from(after.as_ref()),
            |s: &CaseSummary| s.case_no,
            Some,
            limit,
            cases::MAX_SCAN,
        )
    })
    .await??;
    Ok(Json(json!({ "summaries": page.items, "next": page.next })))
}

/// The summary of one case held here (`GET /api/v1/summaries/{case_no}`).
pub async fn summary(
    State(node): State<AppState>,
    _caller: Caller,
    case_no: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let case_no = super::cases::parse_case_no(case_no)?;
    let summary = node
        .store
        .summary(&case_no)?
        .ok_or_else(|| ApiError::not_found(format!("no summary of case {case_no} here")))?;
    Ok(Json(json!(summary)))
}

pub async fn wrong_method(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} does not take {method}", uri.path()),
    )
}

/// Per link: connected, outbox depth, last acknowledged sequence, connections since start.
fn link_metrics(node: &NodeContext, out: &mut String) {
    let Some(links) = &node.links else {
        return;
    };
    let metrics: [(&str, &str, &str); 4] = [
        (
            "liandong_link_connected",
            "gauge",
            "1 while the link is up.",
        ),
        (
            "liandong_link_outbox",
            "gauge",
            "Items queued for the peer, not yet acknowledged.",
        ),
        (
            "liandong_link_acked",
            "gauge",
            "Highest link sequence the peer acknowledged.",
        ),
        (
            "liandong_link_connections_total",
            "counter",
            "Connections established (reconnects + 1).",
        ),
    ];
    let snapshot = links.snapshot();
    for (i, (name, kind, help)) in metrics.iter().enumerate() {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for (s, outbox) in &snapshot {
            let value = [
                u64::from(s.connected),
                *outbox as u64,
                s.last_ack,
                s.connections,
            ][i];
            let role = if s.role == link::Role::Parent {
                "parent"
            } else {
                "child"
            };
            out.push_str(&format!(
                "{name}{{node=\"{}\",peer=\"{}\",role=\"{role}\"}} {value}\n",
                node.code, s.peer
            ));
        }
    }
}

pub async fn no_route(uri: Uri) -> ApiError {
    ApiError::not_found(format!("no such endpoint: {}", uri.path()))
}
