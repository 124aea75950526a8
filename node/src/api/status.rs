//! Supervision handlers (电子监察): the consolidated status and statistics of this node's
//! subtree, the pull that brings them up to date, and the same figures for Prometheus.
//!
//! Everything is computed from the status summaries held here (the node's own cases and what
//! its descendants sent up); how fresh each descendant's part is comes from the links and the
//! last pull.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use federation_proto::NodeCode;

use super::auth::Caller;
use super::body::JsonOrEmpty;
use super::error::ApiError;
use super::view::timestamp;
use super::{AppState, NodeContext};
use crate::contract::{CalendarView, NodeStatus, PullRequest, Sorted, StatsView, StatusView};
use crate::link::Seen;
use crate::stats::{Figures, Report};

/// How long a pull waits for the subtree by default.
const PULL_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest pull a client may ask for.
const MAX_PULL_TIMEOUT: Duration = Duration::from_secs(120);

/// `GET /api/v1/status`: totals and per-node figures with what is known of their freshness.
#[utoipa::path(
    get,
    path = "/api/v1/status",
    operation_id = "getStatus",
    tag = "supervision",
    responses(
        (status = 200, description = "The consolidated status of the subtree.", body = crate::contract::StatusView),
    ),
    security(("bearerAuth" = [])),
)]
pub async fn status(
    State(node): State<AppState>,
    _caller: Caller,
) -> Result<Sorted<StatusView>, ApiError> {
    let report = report(&node)?;
    Ok(Sorted(status_view(&node, &report, &known(&node), None)?))
}

/// `POST /api/v1/status/pull`: asks every descendant to deliver everything and report, then
/// answers the status once all have reported or at the timeout, naming those that did not.
#[utoipa::path(
    post,
    path = "/api/v1/status/pull",
    operation_id = "pullStatus",
    tag = "supervision",
    request_body(content = Option<crate::contract::PullRequest>, description = "Optional: an empty body takes the defaults."),
    responses(
        (status = 200, description = "The status once the subtree reported, or at the timeout (`not_reported`).", body = crate::contract::StatusView),
        (status = 400, description = "bad_request: a malformed path, query or body.", body = crate::contract::ErrorBody),
    ),
    security(("bearerAuth" = [])),
)]
pub async fn pull(
    State(node): State<AppState>,
    _caller: Caller,
    JsonOrEmpty(asked): JsonOrEmpty<PullRequest>,
) -> Result<Sorted<StatusView>, ApiError> {
    let timeout = asked
        .timeout_ms
        .map_or(PULL_TIMEOUT, Duration::from_millis)
        .min(MAX_PULL_TIMEOUT);
    let reports = match &node.links {
        Some(links) => links.pull(timeout).await,
        None => Vec::new(),
    };
    let report = report(&node)?;
    let answered: Vec<NodeCode> = reports
        .iter()
        .filter(|f| f.reachable)
        .map(|f| f.code)
        .collect();
    let missing: Vec<NodeCode> = descendants(&node, &report, &known(&node))?
        .into_iter()
        .filter(|c| *c != node.code && !answered.contains(c))
        .collect();
    let view = status_view(&node, &report, &known(&node), Some(missing))?;
    Ok(Sorted(view))
}

/// `GET /api/v1/stats`: the figures by item, department and node as well.
#[utoipa::path(
    get,
    path = "/api/v1/stats",
    operation_id = "getStats",
    tag = "supervision",
    responses(
        (status = 200, description = "The figures of the subtree.", body = crate::contract::StatsView),
    ),
    security(("bearerAuth" = [])),
)]
pub async fn stats(
    State(node): State<AppState>,
    _caller: Caller,
) -> Result<Sorted<StatsView>, ApiError> {
    let report = report(&node)?;
    Ok(Sorted(StatsView {
        node: node.code,
        as_of: timestamp(node.clock.now_ms()),
        calendar: calendar_view(&node),
        totals: report.totals.clone(),
        by_item: report.by_item.clone(),
        by_department: report.by_department.clone(),
        by_node: report.by_node.clone(),
        by_month: report.by_month.clone(),
    }))
}

/// The region's figures: folded from the summaries one at a time, and only when something
/// was committed or the day changed since the last fold ([`super::metrics::RegionCache`]),
/// one fold at a time.
fn report(node: &NodeContext) -> Result<Arc<Report>, ApiError> {
    let generation = node.store.flush_count();
    node.region_cache.get(generation, node.today(), || {
        Ok(Report::fold(node.code, node.store.summaries())?)
    })
}

fn known(node: &NodeContext) -> BTreeMap<NodeCode, Seen> {
    node.links.as_ref().map(|l| l.known()).unwrap_or_default()
}

/// This node and every descendant it knows of: from the federation directory (every node's
/// certificate travels the tree), the links, the pulls and the summaries.
fn descendants(
    node: &NodeContext,
    report: &Report,
    known: &BTreeMap<NodeCode, Seen>,
) -> Result<Vec<NodeCode>, ApiError> {
    let mut codes: Vec<NodeCode> = known.keys().copied().collect();
    codes.extend(report.by_node.keys().copied());
    codes.extend(node.store.certificates()?.into_iter().map(|(code, _)| code));
    codes.push(node.code);
    codes.retain(|c| node.code.covers(*c));
    codes.sort();
    codes.dedup();
    Ok(codes)
}

/// The status view of API.md: totals, and per node — this one and every descendant — its
/// figures and freshness. After a pull, a node that did not report is unreachable.
fn status_view(
    node: &NodeContext,
    report: &Report,
    known: &BTreeMap<NodeCode, Seen>,
    not_reported: Option<Vec<NodeCode>>,
) -> Result<StatusView, ApiError> {
    let now_ms = node.clock.now_ms();
    let now = Instant::now();
    let codes = descendants(node, report, known)?;
    let empty = Figures::default();
    let nodes = codes
        .iter()
        .map(|code| {
            let figures = report.by_node.get(code).unwrap_or(&empty);
            let (reachable, fresh) = if *code == node.code {
                (Some(true), Some(now_ms))
            } else {
                match known.get(code) {
                    Some(seen) => (
                        Some(seen.reachable),
                        seen.fresh_at.map(|t| {
                            now_ms
                                .saturating_sub(now.saturating_duration_since(t).as_millis() as u64)
                        }),
                    ),
                    // Never heard since this node started.
                    None => (not_reported.as_ref().map(|_| false), None),
                }
            };
            NodeStatus {
                code: *code,
                reachable,
                fresh_as_of: fresh.map(timestamp),
                age_seconds: fresh.map(|f| now_ms.saturating_sub(f) / 1000),
                cases: figures.cases,
                overdue: figures.overdue,
                on_time_rate: figures.on_time_rate,
            }
        })
        .collect();
    Ok(StatusView {
        node: node.code,
        as_of: timestamp(now_ms),
        calendar: calendar_view(node),
        totals: report.totals.clone(),
        nodes,
        not_reported,
    })
}

/// Where the calendar in force stands: its official years and, from 1 November, whether next
/// year's notice is still missing (the alarm every node raises).
pub fn calendar_view(node: &NodeContext) -> CalendarView {
    let calendar = node.reference.calendar();
    let today = node.today();
    CalendarView {
        official_years: calendar.official_years().collect(),
        last_official_year: calendar.last_official_year(),
        missing_years: calendar.missing_years(today),
        alarm: calendar.boundary_alarm(today),
    }
}

/// The region's figures and each descendant's data age, for Prometheus. The report is
/// recomputed only after a commit or on a new day ([`super::metrics::RegionCache`]).
pub fn metrics(node: &NodeContext, out: &mut String) -> Result<(), ApiError> {
    let report = report(node)?;
    let t = &report.totals;
    let code = node.code;
    let calendar = node.reference.calendar();
    let gauges: [(&str, &str, f64); 12] = [
        (
            "liandong_calendar_last_official_year",
            "The last year with an official (State Council) calendar here; 0 if none.",
            f64::from(calendar.last_official_year().unwrap_or(0)),
        ),
        (
            "liandong_calendar_missing_years",
            "Years that should have their official calendar by now and do not (this year; from \
             1 November also the next).",
            calendar.missing_years(node.today()).len() as f64,
        ),
        (
            "liandong_region_provisional",
            "Cases of the subtree whose clocks are provisional (a year without its notice).",
            t.provisional as f64,
        ),
        (
            "liandong_region_cases",
            "Cases of the subtree (summaries held).",
            t.cases as f64,
        ),
        (
            "liandong_region_overdue",
            "Open cases past their promised deadline.",
            t.overdue as f64,
        ),
        (
            "liandong_region_due_soon",
            "Open cases in yellow.",
            t.due_soon as f64,
        ),
        (
            "liandong_region_legal_overdue",
            "Open cases past their legal deadline.",
            t.legal_overdue as f64,
        ),
        (
            "liandong_region_concluded",
            "Concluded cases.",
            t.concluded as f64,
        ),
        (
            "liandong_region_on_time_rate",
            "按期办结率: concluded on time / concluded.",
            t.on_time_rate.unwrap_or(0.0),
        ),
        (
            "liandong_region_joint_reviews_late",
            "Open joint reviews with a late participant.",
            t.joint_late as f64,
        ),
        (
            "liandong_region_notices_open",
            "督办 notices not answered yet.",
            t.notices_open as f64,
        ),
        (
            "liandong_region_average_working_days",
            "Average working days to conclusion.",
            t.average_working_days.unwrap_or(0.0),
        ),
    ];
    for (name, help, value) in gauges {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name}{{node=\"{code}\"}} {value}\n"
        ));
    }
    let name = "liandong_region_cases_by_state";
    out.push_str(&format!(
        "# HELP {name} Cases of the subtree by state.\n# TYPE {name} gauge\n"
    ));
    for (state, n) in &t.by_state {
        out.push_str(&format!(
            "{name}{{node=\"{code}\",state=\"{state}\"}} {n}\n"
        ));
    }
    let name = "liandong_descendant_data_age_seconds";
    out.push_str(&format!(
        "# HELP {name} How old each descendant's data held here is.\n# TYPE {name} gauge\n"
    ));
    let now = Instant::now();
    for (descendant, seen) in known(node) {
        if let Some(t) = seen.fresh_at {
            let age = now.saturating_duration_since(t).as_secs();
            out.push_str(&format!(
                "{name}{{node=\"{code}\",descendant=\"{descendant}\"}} {age}\n"
            ));
        }
    }
    Ok(())
}
