//! The write-behind of one group commit: what its requests changed, held in memory until the
//! group is written in one store transaction just before its flush.
//!
//! Why: the store's cost is per transaction and per insert, not per byte (see
//! [`crate::store::Commit`]). Held here, a case touched by ten items of a group is written once,
//! and so is its summary. Nothing here is acknowledged to anyone before the flush that follows
//! the write, so holding it in memory promises nothing that a crash could break.
//!
//! Invariant: the writer reads through the overlay ([`Staged::case`], [`Staged::event`], …)
//! before the store, so each request sees every request before it in the group — scans too
//! (every case for a sweep, a child's events for its restore, its outbox for its welcome: see
//! the `*_overlaid` readers in `writer.rs`); readers on other threads see a group only once it
//! is written, which is also when it becomes durable. One step still writes the overlay out
//! first: renumbering an outbox, which the store does in place.

use std::collections::{BTreeMap, HashMap};

use crate::{CaseNo, CaseSummary, Event, EventId, NodeCode};

use super::Change;
use crate::case::Case;
use crate::store::{Commit, NodeMeta};

#[derive(Default)]
pub(super) struct Staged {
    commit: Commit,
    /// Position in `commit.events` of each staged event.
    events: HashMap<EventId, usize>,
    /// Positions in `commit.events` of each case's staged events, in arrival order.
    by_case: HashMap<CaseNo, Vec<usize>>,
    cases: HashMap<CaseNo, Case>,
    summaries: HashMap<CaseNo, CaseSummary>,
    received: BTreeMap<NodeCode, u64>,
}

impl Staged {
    /// Takes in one request's change; later values of a case, summary or link counter replace
    /// earlier ones.
    pub(super) fn add(&mut self, change: Change) {
        if let Some((event, case)) = change.event {
            let at = self.commit.events.len();
            self.events.insert(event.id, at);
            self.by_case.entry(event.case_no).or_default().push(at);
            if let Some(case) = case {
                self.cases.insert(case.case_no, case);
            }
            self.commit.events.push(event);
        }
        if let Some(summary) = change.summary {
            self.summaries.insert(summary.case_no, summary);
        }
        if let Some((peer, upto)) = change.received {
            self.received.insert(peer, upto);
        }
        self.commit.queue.extend(change.queue);
        self.commit.certificates.extend(change.certificate);
        self.commit.revocations.extend(change.revocation);
        self.commit.settings.extend(change.setting);
        self.commit.once.extend(change.once);
    }

    /// Items held: events and queued copies, the bulk of a group.
    pub(super) fn len(&self) -> usize {
        self.commit.events.len() + self.commit.queue.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.commit.events.is_empty()
            && self.commit.queue.is_empty()
            && self.summaries.is_empty()
            && self.received.is_empty()
            && self.commit.certificates.is_empty()
            && self.commit.revocations.is_empty()
            && self.commit.settings.is_empty()
            && self.commit.once.is_empty()
    }

    pub(super) fn case(&self, no: &CaseNo) -> Option<&Case> {
        self.cases.get(no)
    }

    pub(super) fn event(&self, id: &EventId) -> Option<&Event> {
        self.events.get(id).map(|at| &self.commit.events[*at])
    }

    /// The case's staged events, in arrival order.
    pub(super) fn events_of<'a>(&'a self, no: &CaseNo) -> impl Iterator<Item = &'a Event> + 'a {
        self.by_case
            .get(no)
            .into_iter()
            .flatten()
            .map(|at| &self.commit.events[*at])
    }

    pub(super) fn summary(&self, no: &CaseNo) -> Option<&CaseSummary> {
        self.summaries.get(no)
    }

    /// Every staged case, in no particular order.
    pub(super) fn cases(&self) -> impl Iterator<Item = &Case> + '_ {
        self.cases.values()
    }

    /// Every staged summary, in no particular order.
    pub(super) fn summaries(&self) -> impl Iterator<Item = &CaseSummary> + '_ {
        self.summaries.values()
    }

    /// The staged events authored by `origin`, in arrival order.
    pub(super) fn events_by_origin(&self, origin: NodeCode) -> impl Iterator<Item = &Event> + '_ {
        self.commit
            .events
            .iter()
            .filter(move |e| e.id.origin == origin)
    }

    /// The items staged for `peer`'s outbox, in link-sequence order (each follows the
    /// written ones: the router hands sequences out in order).
    pub(super) fn queued_for(&self, peer: NodeCode) -> impl Iterator<Item = &[u8]> + '_ {
        self.commit
            .queue
            .iter()
            .filter(move |q| q.peer == peer)
            .map(|q| q.item.as_slice())
    }

    /// The latest staged value of a node setting or idempotency record.
    pub(super) fn setting(&self, key: &[u8]) -> Option<&[u8]> {
        let setting = self.commit.settings.iter().rev().find(|(k, _)| *k == key);
        let once = || self.commit.once.iter().rev().find(|(k, _)| k == key);
        setting
            .map(|(_, v)| v.as_slice())
            .or_else(|| once().map(|(_, v)| v.as_slice()))
    }

    /// Everything held, as one commit with the node counters `meta`; the overlay is left empty.
    pub(super) fn take(&mut self, meta: NodeMeta) -> Commit {
        let staged = std::mem::take(self);
        Commit {
            meta,
            cases: staged.cases.into_values().collect(),
            summaries: staged.summaries.into_values().collect(),
            received: staged.received.into_iter().collect(),
            ..staged.commit
        }
    }
}
