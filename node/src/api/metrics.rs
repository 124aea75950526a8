//! `GET /metrics` (Prometheus text), behind a token: any live operator's bearer token. A
//! scraper gets its own operator (a supervisor, say `prometheus`) whose token it reads from a
//! file (`authorization: {credentials_file: …}` in the scrape config; see README).
//!
//! Why it is cheap: the node's own figures — events held, cases by state — come from counters
//! kept by every commit ([`crate::store::Counts`]), not from reading cases. The region's
//! figures (overdue, 按期办结率, …) depend on the date, so they are computed from the
//! summaries, but only when a commit happened or the day changed since the last scrape
//! ([`RegionCache`]): an idle node answers a scrape without reading anything. `GET
//! /api/v1/stats` and `/api/v1/status` share the cache.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use federation_proto::Date;

use super::auth::Caller;
use super::error::ApiError;
use super::{AppState, NodeContext};
use crate::link;
use crate::stats::Report;

/// The last region report, with the store generation (flushes so far) and the day it was made
/// for. The generation is read before the summaries, so a commit during the computation only
/// causes one more computation at the next scrape, never a stale answer.
///
/// One computation at a time: requests that find the report stale wait for the one under way
/// and take its report if it is of their generation, so that a burst of requests on a large
/// node folds its summaries once, not once per request in parallel.
#[derive(Default)]
pub struct RegionCache {
    last: Mutex<Option<(u64, Date, Arc<Report>)>>,
    computing: Mutex<()>,
}

impl RegionCache {
    /// The cached report if nothing changed since, else `compute()`'s (kept for next time).
    pub fn get(
        &self,
        generation: u64,
        today: Date,
        compute: impl FnOnce() -> Result<Report, ApiError>,
    ) -> Result<Arc<Report>, ApiError> {
        if let Some(report) = self.current(generation, today) {
            return Ok(report);
        }
        let _computing = self.computing.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(report) = self.current(generation, today) {
            return Ok(report);
        }
        let report = Arc::new(compute()?);
        *self.lock() = Some((generation, today, report.clone()));
        Ok(report)
    }

    /// The cached report, if it is of `generation` and `today`.
    fn current(&self, generation: u64, today: Date) -> Option<Arc<Report>> {
        match &*self.lock() {
            Some((g, d, report)) if *g == generation && *d == today => Some(report.clone()),
            _ => None,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(u64, Date, Arc<Report>)>> {
        self.last.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "getMetrics",
    tag = "node",
    responses(
        (status = 200, description = "Prometheus text.", body = String, content_type = "text/plain"),
    ),
    security(("bearerAuth" = [])),
)]
pub async fn metrics(State(node): State<AppState>, _caller: Caller) -> Result<String, ApiError> {
    let counts = node.store.counts();
    let code = node.code;
    let mut out = String::new();
    out.push_str("# HELP liandong_events_stored Events held in this node's log.\n");
    out.push_str("# TYPE liandong_events_stored gauge\n");
    out.push_str(&format!(
        "liandong_events_stored{{node=\"{code}\"}} {}\n",
        counts.events
    ));
    out.push_str("# HELP liandong_cases Cases held, by state.\n# TYPE liandong_cases gauge\n");
    for (state, n) in counts.by_state {
        out.push_str(&format!(
            "liandong_cases{{node=\"{code}\",state=\"{}\"}} {n}\n",
            state.as_str()
        ));
    }
    let counters: [(&str, &str, u64); 4] = [
        (
            "liandong_flushes_total",
            "Group commits (one fsync each).",
            node.store.flush_count(),
        ),
        (
            "liandong_fdatasyncs_total",
            "fdatasyncs of the store after a flush: what makes an answer durable against power loss.",
            node.store.sync_count(),
        ),
        (
            "liandong_auth_failures_total",
            "Requests refused for a missing, unknown, disabled or expired token.",
            node.throttle.failure_count(),
        ),
        (
            "liandong_auth_blocks_total",
            "Times a client address was refused for too many failed authentications.",
            node.throttle.block_count(),
        ),
    ];
    for (name, help, value) in counters {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} counter\n{name}{{node=\"{code}\"}} {value}\n"
        ));
    }
    link_metrics(&node, &mut out);
    node.http.render(&node.code.to_string(), &mut out);
    super::status::metrics(&node, &mut out)?;
    Ok(out)
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// The report is computed again only for a new generation or day, and requests that come
    /// together for a new generation share one computation.
    #[test]
    fn the_region_report_is_folded_once_per_generation() {
        let cache = Arc::new(RegionCache::default());
        let folds = Arc::new(AtomicUsize::new(0));
        let day: Date = "2025-09-30".parse().unwrap();
        let get = |cache: &RegionCache, generation, today| {
            cache
                .get(generation, today, || {
                    folds.fetch_add(1, Ordering::SeqCst);
                    // Long enough for the other requests to arrive while it runs.
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    Ok(Report::default())
                })
                .unwrap()
        };
        get(&cache, 1, day);
        get(&cache, 1, day);
        assert_eq!(folds.load(Ordering::SeqCst), 1, "same generation, same day");
        get(&cache, 1, day.add_days(1));
        assert_eq!(folds.load(Ordering::SeqCst), 2, "a new day");
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| get(&cache, 2, day.add_days(1)));
            }
        });
        assert_eq!(folds.load(Ordering::SeqCst), 3, "eight requests, one fold");
    }
}
