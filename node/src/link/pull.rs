//! Status pull (电子监察): a node asks its subtree to deliver everything now and report how
//! fresh each node's data is.
//!
//! A pull travels down the tree: each node passes it to its connected children, waits for
//! their reports (or the deadline), waits until its own outbox to the asker is drained — so
//! that what it reports fresh is really held above — and answers with itself and its
//! subtree. A child whose link is down is reported unreachable at once, with the age of the
//! last data heard from it, and so are the nodes below it that were known before. Each hop
//! keeps what it learnt, which is what `GET /api/v1/status` shows between pulls.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use federation_proto::frame::{Frame, Freshness};
use federation_proto::NodeCode;
use tokio::sync::oneshot;
use tracing::{info, warn};

use super::{Role, Shared};

/// Of its remaining time, the share a node gives its children (the rest is for draining its
/// own outbox and answering).
const CHILD_SHARE: f64 = 0.8;

/// What a node knows of a descendant's freshness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub reachable: bool,
    /// When its data was last known complete here.
    pub fresh_at: Option<Instant>,
}

impl Seen {
    fn report(self, code: NodeCode, now: Instant) -> Freshness {
        Freshness {
            code,
            reachable: self.reachable,
            age_ms: self
                .fresh_at
                .map(|t| now.saturating_duration_since(t).as_millis() as u64),
        }
    }
}

impl Shared {
    /// Pulls the subtree below this node; returns a report per descendant.
    pub(super) async fn pull_subtree(&self, request: u64, deadline: Instant) -> Vec<Freshness> {
        let mut waits = Vec::new();
        let mut reports = Vec::new();
        let now = Instant::now();
        let child_deadline = now + (deadline.saturating_duration_since(now)).mul_f64(CHILD_SHARE);
        for (child, control) in self.children() {
            let Some(control) = control else {
                reports.extend(self.stale_below(child, now));
                continue;
            };
            let (tx, rx) = oneshot::channel();
            self.pending_pull(request, child, Some(tx));
            let deadline_ms = child_deadline.saturating_duration_since(now).as_millis() as u64;
            if control
                .send(Frame::Pull {
                    request,
                    deadline_ms,
                })
                .await
                .is_err()
            {
                self.pending_pull(request, child, None);
                reports.extend(self.stale_below(child, now));
                continue;
            }
            waits.push((child, rx));
        }
        for (child, rx) in waits {
            match tokio::time::timeout_at(child_deadline.into(), rx).await {
                Ok(Ok(nodes)) => reports.extend(nodes),
                _ => {
                    warn!(%child, request, "child did not report in time");
                    self.pending_pull(request, child, None);
                    reports.extend(self.stale_below(child, Instant::now()));
                }
            }
        }
        self.remember(&reports);
        reports
    }

    /// Answers a pull from the parent: the subtree's reports, once this node's outbox to the
    /// parent is drained or the deadline has come.
    pub(super) async fn answer_pull(
        &self,
        parent: NodeCode,
        request: u64,
        deadline_ms: u64,
    ) -> Frame {
        let deadline = Instant::now() + Duration::from_millis(deadline_ms);
        let mut nodes = vec![Freshness {
            code: self.code,
            reachable: true,
            age_ms: Some(0),
        }];
        nodes.extend(self.pull_subtree(request, deadline).await);
        // Woken by each ack applied, not polled: registered before the depth is read, so an ack
        // between the read and the wait is not missed.
        loop {
            let acked = self.acked.notified();
            tokio::pin!(acked);
            acked.as_mut().enable();
            if self.store.outbox_depth(parent) == 0
                || tokio::time::timeout_at(deadline.into(), acked)
                    .await
                    .is_err()
            {
                break;
            }
        }
        if self.store.outbox_depth(parent) > 0 {
            nodes[0].age_ms = None;
            warn!(
                request,
                "outbox to the parent not drained by the pull's deadline"
            );
        }
        info!(request, nodes = nodes.len(), "pull answered");
        Frame::PullDone { request, nodes }
    }

    /// Hands a child's report to the pull waiting for it.
    pub(super) fn pull_done(&self, child: NodeCode, request: u64, nodes: Vec<Freshness>) {
        let waiting = self
            .pulls
            .lock()
            .ok()
            .and_then(|mut p| p.remove(&(request, child)));
        match waiting {
            // Only the child's own subtree may be reported by it.
            Some(tx) => {
                let own: Vec<Freshness> =
                    nodes.into_iter().filter(|f| child.covers(f.code)).collect();
                let _ = tx.send(own);
            }
            None => info!(%child, request, "late or unasked pull report ignored"),
        }
    }

    /// What is known of every descendant.
    pub fn known(&self) -> BTreeMap<NodeCode, Seen> {
        self.known.lock().map(|k| k.clone()).unwrap_or_default()
    }

    fn pending_pull(
        &self,
        request: u64,
        child: NodeCode,
        tx: Option<oneshot::Sender<Vec<Freshness>>>,
    ) {
        if let Ok(mut pulls) = self.pulls.lock() {
            match tx {
                Some(tx) => pulls.insert((request, child), tx),
                None => pulls.remove(&(request, child)),
            };
        }
    }

    /// The direct children seen since start, with the control channel of a live link.
    fn children(&self) -> Vec<(NodeCode, Option<tokio::sync::mpsc::Sender<Frame>>)> {
        self.registry
            .lock()
            .map(|r| {
                r.values()
                    .filter(|s| s.role == Role::Child)
                    .map(|s| (s.peer, s.control.clone().filter(|_| s.connected)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `child` and every node known below it, unreachable, with the age of what was last heard.
    fn stale_below(&self, child: NodeCode, now: Instant) -> Vec<Freshness> {
        let mut known = self.known();
        let last_link = self
            .registry
            .lock()
            .ok()
            .and_then(|r| r.get(&child).and_then(|s| s.last_seen));
        let own = known.entry(child).or_insert(Seen {
            reachable: false,
            fresh_at: None,
        });
        own.fresh_at = own.fresh_at.max(last_link);
        known
            .into_iter()
            .filter(|(code, _)| child.covers(*code))
            .map(|(code, seen)| {
                Seen {
                    reachable: false,
                    ..seen
                }
                .report(code, now)
            })
            .collect()
    }

    fn remember(&self, reports: &[Freshness]) {
        let now = Instant::now();
        if let Ok(mut known) = self.known.lock() {
            for f in reports {
                let fresh_at = f
                    .age_ms
                    .and_then(|age| now.checked_sub(Duration::from_millis(age)));
                known.insert(
                    f.code,
                    Seen {
                        reachable: f.reachable,
                        fresh_at,
                    },
                );
            }
        }
    }
}
