//! Events held and cases by state, kept in memory and updated by every commit, so that `/metrics` answers from
//! counters instead of decoding every case per scrape.
//!
//! Why in memory, and rebuilt at start: the counts are derived data, and derived data written
//! beside the cases would need its own crash check. Counted once when the store is checked at
//! start (the node's `SledStore::check_and_repair`, after any repair) and then moved by each
//! commit, the counts agree with the cases tree after any crash by construction. The price is
//! one state per case in memory (about 40 bytes a case: some 40 MB for a million cases) and
//! one pass over the cases at start — the start-up already re-evaluates every case.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use crate::case::Case;
use crate::{CaseNo, State};

#[derive(Default)]
struct Inner {
    states: HashMap<CaseNo, State>,
    counts: BTreeMap<State, u64>,
    events: u64,
}

/// What `/metrics` reports of the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts {
    /// Events in the log.
    pub events: u64,
    /// Cases held, by state (every state, 0 included).
    pub by_state: BTreeMap<State, u64>,
}

/// The counts behind [`Counts`], moved by each commit (shared by both stores).
#[derive(Default)]
pub struct CaseCounters {
    inner: Mutex<Inner>,
}

impl CaseCounters {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts again from `states`, the state of every stored case, and the number of events.
    pub fn recount(&self, states: impl Iterator<Item = (CaseNo, State)>, events: u64) {
        let mut fresh = Inner {
            events,
            ..Inner::default()
        };
        for (no, state) in states {
            if let Some(old) = fresh.states.insert(no, state) {
                decrement(&mut fresh.counts, old);
            }
            *fresh.counts.entry(state).or_default() += 1;
        }
        *self.lock() = fresh;
    }

    /// A commit's new events (the store refuses one it holds) and its cases as they now stand.
    pub fn committed(&self, events: usize, cases: &[Case]) {
        let mut inner = self.lock();
        inner.events += events as u64;
        for case in cases {
            if let Some(old) = inner.states.insert(case.case_no, case.state) {
                decrement(&mut inner.counts, old);
            }
            *inner.counts.entry(case.state).or_default() += 1;
        }
    }

    pub fn counts(&self) -> Counts {
        let inner = self.lock();
        Counts {
            events: inner.events,
            by_state: State::ALL
                .iter()
                .map(|s| (*s, inner.counts.get(s).copied().unwrap_or(0)))
                .collect(),
        }
    }
}

fn decrement(counts: &mut BTreeMap<State, u64>, state: State) {
    if let Some(n) = counts.get_mut(&state) {
        *n = n.saturating_sub(1);
    }
}
