//! Events held and cases by state, kept in memory and updated by every commit, so that `/metrics` answers from
//! counters instead of decoding every case per scrape.
//!
//! Why in memory, and rebuilt at start: the counts are derived data, and derived data written
//! beside the cases would need its own crash check. Counted once when the store is checked at
//! start ([`super::SledStore::check_and_repair`], after any repair) and then moved by each
//! commit, the counts agree with the cases tree after any crash by construction. The price is
//! one state per case in memory (about 40 bytes a case: some 40 MB for a million cases) and
//! one pass over the cases at start — the start-up already re-evaluates every case.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use federation_proto::{CaseNo, State};

use crate::case::Case;

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

#[derive(Default)]
pub(super) struct CaseCounters {
    inner: Mutex<Inner>,
}

impl CaseCounters {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts again from `states`, the state of every stored case, and the number of events.
    pub(super) fn recount(&self, states: impl Iterator<Item = (CaseNo, State)>, events: u64) {
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
    pub(super) fn committed(&self, events: usize, cases: &[Case]) {
        let mut inner = self.lock();
        inner.events += events as u64;
        for case in cases {
            if let Some(old) = inner.states.insert(case.case_no, case.state) {
                decrement(&mut inner.counts, old);
            }
            *inner.counts.entry(case.state).or_default() += 1;
        }
    }

    pub(super) fn counts(&self) -> Counts {
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use federation_proto::{NodeCode, State};

    use crate::store::sled_store::tests::{populate, reopen};
    use crate::store::{CaseViews, Counters, SledStore};

    fn own() -> NodeCode {
        "350322".parse().unwrap()
    }

    /// Cases by state the slow way: reading every case.
    fn read_all(store: &SledStore) -> BTreeMap<State, u64> {
        let mut counts: BTreeMap<State, u64> = State::ALL.iter().map(|s| (*s, 0)).collect();
        for case in store.cases() {
            *counts.entry(case.unwrap().state).or_default() += 1;
        }
        counts
    }

    #[test]
    fn counts_follow_commits_without_reading_cases_and_are_rebuilt_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let store = reopen(dir.path());
        populate(&store);
        let counts = store.counts();
        assert_eq!(counts.events, 3);
        assert_eq!(counts.by_state, read_all(&store));
        assert_eq!(counts.by_state.values().sum::<u64>(), 2);
        // A scrape reads no case: with the cases tree emptied underneath, the counts stand.
        store.tree("cases").unwrap().clear().unwrap();
        assert_eq!(store.cases().count(), 0);
        assert_eq!(store.counts(), counts);
        drop(store);
        // At start (the check repairs the cases from the events) the counts are made again.
        // `reopen`: sled's flusher thread may hold the folder's lock a moment after the drop.
        let store = reopen(dir.path());
        store.check_and_repair(own()).unwrap();
        assert_eq!(store.counts(), counts);
        assert_eq!(store.counts().by_state, read_all(&store));
    }
}
