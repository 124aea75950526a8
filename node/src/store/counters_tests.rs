//! The counters kept on commit ([`federation_proto::store::counters`]) as the sled store keeps
//! them: moved by commits, made again by the start-up check.

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
