//! An in-memory [`Store`] with the durability of a disk: what a [`Store::flush`] made durable
//! survives a [`MemStore::crash`]; everything written since is lost, as a power cut would lose
//! it. The deterministic simulation (`tests/simulation.rs`) runs real write paths over it; the
//! engine's unit tests can too.
//!
//! It keeps the same records as the node's `SledStore` — the log, the case index in fold order,
//! cases, summaries, outboxes, link counters, the directory, revocations, settings and
//! idempotency records, operators — typed instead of encoded (outbox items stay bytes, as they
//! are sent), with the same ordering and the same "an event is stored once" rule.
//!
//! [`MemStore::lie_about_flushes`] makes flushes report success without making anything durable:
//! a node that answers before its data is durable. The simulation's own test shows that it finds
//! the loss this causes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::{CaseNo, CaseSummary, Event, EventId, NodeCode, State};

use super::counters::Counts;
use super::{
    CaseViews, Commit, Counters, Directory, EventLog, LinkCounters, NodeMeta, Operators, Outbox,
    Store, StoreError,
};
use super::{OperatorChange, TokenHash};
use crate::case::Case;
use crate::operator::Account;
use crate::relay::Revoked;

/// Everything a node stores, as one value.
#[derive(Clone, Default)]
struct Records {
    meta: NodeMeta,
    /// By (origin, seq): the order of [`EventId::key`].
    events: BTreeMap<(u64, u64), Event>,
    /// By [`CaseNo::key`].
    cases: BTreeMap<[u8; 16], Case>,
    summaries: BTreeMap<[u8; 16], CaseSummary>,
    /// By (peer, link sequence).
    outbox: BTreeMap<(u64, u64), Vec<u8>>,
    links: BTreeMap<NodeCode, LinkCounters>,
    certificates: BTreeMap<u64, (NodeCode, Vec<u8>)>,
    revoked: BTreeMap<u64, Revoked>,
    /// Settings and idempotency records (sled's `meta` tree).
    settings: BTreeMap<Vec<u8>, Vec<u8>>,
    operators: BTreeMap<TokenHash, Account>,
}

/// One change to the records, as written: kept in a journal until the next flush applies it
/// to the durable records too (a flush costs what changed, not the whole store).
enum Op {
    Commit(Box<Commit>),
    Ack(NodeCode, u64),
    Rebase(NodeCode, u64),
    Operators(OperatorChange),
}

/// The in-memory store: the records as they stand, the changes since the last flush, and the
/// records as the last flush left them.
#[derive(Default)]
pub struct MemStore {
    live: Mutex<Records>,
    journal: Mutex<Vec<Op>>,
    durable: Mutex<Records>,
    flushes: AtomicU64,
    syncs: AtomicU64,
    lying: AtomicBool,
    failing: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves whole records behind (every change is made on a
    // clone or in one step), so a poisoned lock is still consistent.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn id_key(id: &EventId) -> (u64, u64) {
    (id.origin.as_u64(), id.seq)
}

impl MemStore {
    pub fn new() -> MemStore {
        MemStore::default()
    }

    /// A power cut: everything written since the last flush is gone.
    pub fn crash(&self) {
        let durable = lock(&self.durable).clone();
        let mut live = lock(&self.live);
        lock(&self.journal).clear();
        *live = durable;
    }

    /// Applies `op` to the live records and journals it for the next flush.
    fn write(&self, op: Op) -> Result<(), StoreError> {
        let mut live = lock(&self.live);
        apply(&mut live, &op)?;
        lock(&self.journal).push(op);
        Ok(())
    }

    /// From now on, flushes report success and make nothing durable (see the module doc).
    pub fn lie_about_flushes(&self) {
        self.lying.store(true, Ordering::SeqCst);
    }

    /// From now on, flushes fail as a disk that refuses its writes does (EIO): nothing more
    /// becomes durable, and the flush says so.
    pub fn fail_flushes(&self) {
        self.failing.store(true, Ordering::SeqCst);
    }
}

impl Store for MemStore {
    fn commit(&self, c: &Commit) -> Result<(), StoreError> {
        self.write(Op::Commit(Box::new(c.clone())))
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.flushes.fetch_add(1, Ordering::Relaxed);
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::Engine(Box::new(std::io::Error::other(
                "the disk refused the write (simulated EIO)",
            ))));
        }
        let _live = lock(&self.live);
        let ops = std::mem::take(&mut *lock(&self.journal));
        if !self.lying.load(Ordering::SeqCst) {
            let mut durable = lock(&self.durable);
            for op in &ops {
                apply(&mut durable, op)?;
            }
            self.syncs.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

impl EventLog for MemStore {
    fn meta(&self) -> Result<NodeMeta, StoreError> {
        Ok(lock(&self.live).meta)
    }

    fn event(&self, id: &EventId) -> Result<Option<Event>, StoreError> {
        Ok(lock(&self.live).events.get(&id_key(id)).cloned())
    }

    fn has_event(&self, id: &EventId) -> Result<bool, StoreError> {
        Ok(lock(&self.live).events.contains_key(&id_key(id)))
    }

    fn event_count(&self) -> usize {
        lock(&self.live).events.len()
    }

    fn events_of(&self, no: &CaseNo) -> Result<Vec<Event>, StoreError> {
        let live = lock(&self.live);
        let mut events: Vec<Event> = live
            .events
            .values()
            .filter(|e| e.case_no == *no)
            .cloned()
            .collect();
        events.sort_by_key(Event::fold_key);
        Ok(events)
    }

    fn events_by_origin(&self, origin: NodeCode) -> Result<Vec<Event>, StoreError> {
        let o = origin.as_u64();
        Ok(lock(&self.live)
            .events
            .range((o, 0)..=(o, u64::MAX))
            .map(|(_, e)| e.clone())
            .collect())
    }
}

impl CaseViews for MemStore {
    fn case(&self, no: &CaseNo) -> Result<Option<Case>, StoreError> {
        Ok(lock(&self.live).cases.get(&no.key()).cloned())
    }

    fn cases(&self) -> Box<dyn Iterator<Item = Result<Case, StoreError>> + '_> {
        self.cases_from(None)
    }

    fn cases_from(
        &self,
        after: Option<&CaseNo>,
    ) -> Box<dyn Iterator<Item = Result<Case, StoreError>> + '_> {
        let cases = values_after(&lock(&self.live).cases, after);
        Box::new(cases.into_iter().map(Ok))
    }

    fn summary(&self, no: &CaseNo) -> Result<Option<CaseSummary>, StoreError> {
        Ok(lock(&self.live).summaries.get(&no.key()).cloned())
    }

    fn summaries(&self) -> Box<dyn Iterator<Item = Result<CaseSummary, StoreError>> + '_> {
        self.summaries_from(None)
    }

    fn summaries_from(
        &self,
        after: Option<&CaseNo>,
    ) -> Box<dyn Iterator<Item = Result<CaseSummary, StoreError>> + '_> {
        let summaries = values_after(&lock(&self.live).summaries, after);
        Box::new(summaries.into_iter().map(Ok))
    }
}

impl Outbox for MemStore {
    fn outbox(
        &self,
        peer: NodeCode,
        after: u64,
        max: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let p = peer.as_u64();
        Ok(lock(&self.live)
            .outbox
            .range((p, after.saturating_add(1))..=(p, u64::MAX))
            .take(max)
            .map(|((_, seq), item)| (*seq, item.clone()))
            .collect())
    }

    fn outbox_ack(&self, peer: NodeCode, upto: u64) -> Result<(), StoreError> {
        self.write(Op::Ack(peer, upto))
    }

    fn outbox_depth(&self, peer: NodeCode) -> usize {
        let p = peer.as_u64();
        lock(&self.live)
            .outbox
            .range((p, 0)..=(p, u64::MAX))
            .count()
    }

    fn outbox_rebase(&self, peer: NodeCode, floor: u64) -> Result<u64, StoreError> {
        self.write(Op::Rebase(peer, floor))?;
        Ok(lock(&self.live)
            .links
            .get(&peer)
            .map_or(floor, |c| c.queued))
    }

    fn link_counters(&self) -> Result<BTreeMap<NodeCode, LinkCounters>, StoreError> {
        Ok(lock(&self.live).links.clone())
    }
}

impl Directory for MemStore {
    fn certificates(&self) -> Result<Vec<(NodeCode, Vec<u8>)>, StoreError> {
        Ok(lock(&self.live).certificates.values().cloned().collect())
    }

    fn is_revoked(&self, code: NodeCode) -> Result<bool, StoreError> {
        Ok(lock(&self.live).revoked.contains_key(&code.as_u64()))
    }

    fn revocations(&self) -> Result<Vec<Revoked>, StoreError> {
        Ok(lock(&self.live).revoked.values().cloned().collect())
    }

    fn setting(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(lock(&self.live).settings.get(key).cloned())
    }
}

impl Operators for MemStore {
    fn operator(&self, token_hash: &TokenHash) -> Result<Option<Account>, StoreError> {
        Ok(lock(&self.live).operators.get(token_hash).cloned())
    }

    fn operators(&self) -> Result<Vec<(TokenHash, Account)>, StoreError> {
        Ok(lock(&self.live)
            .operators
            .iter()
            .map(|(h, a)| (*h, a.clone()))
            .collect())
    }

    fn change_operators(&self, change: &OperatorChange) -> Result<(), StoreError> {
        self.write(Op::Operators(change.clone()))?;
        self.flush()
    }
}

impl Counters for MemStore {
    fn counts(&self) -> Counts {
        let live = lock(&self.live);
        let mut by_state: BTreeMap<State, u64> = State::ALL.into_iter().map(|s| (s, 0)).collect();
        for case in live.cases.values() {
            *by_state.entry(case.state).or_default() += 1;
        }
        Counts {
            events: live.events.len() as u64,
            by_state,
        }
    }

    fn flush_count(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }

    fn sync_count(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }
}

/// The values keyed by [`CaseNo::key`] after `after` (all when `None`), in key order: copied
/// out, so that no lock is held while a caller reads them one by one.
fn values_after<T: Clone>(map: &BTreeMap<[u8; 16], T>, after: Option<&CaseNo>) -> Vec<T> {
    let start = match after {
        Some(no) => std::ops::Bound::Excluded(no.key()),
        None => std::ops::Bound::Unbounded,
    };
    map.range((start, std::ops::Bound::Unbounded))
        .map(|(_, v)| v.clone())
        .collect()
}

/// One change applied to `r`, all or nothing (an event already stored refuses the commit, as
/// sled's transaction does).
fn apply(r: &mut Records, op: &Op) -> Result<(), StoreError> {
    match op {
        Op::Commit(c) => commit(r, c),
        Op::Ack(peer, upto) => {
            let p = peer.as_u64();
            r.outbox.retain(|(q, seq), _| *q != p || *seq > *upto);
            Ok(())
        }
        Op::Rebase(peer, floor) => {
            let p = peer.as_u64();
            let items: Vec<Vec<u8>> = r
                .outbox
                .range((p, 0)..=(p, u64::MAX))
                .map(|(_, item)| item.clone())
                .collect();
            r.outbox.retain(|(q, _), _| *q != p);
            let last = floor + items.len() as u64;
            for (i, item) in items.into_iter().enumerate() {
                r.outbox.insert((p, floor + 1 + i as u64), item);
            }
            r.links.entry(*peer).or_default().queued = last;
            Ok(())
        }
        Op::Operators(change) => {
            for hash in &change.remove {
                r.operators.remove(hash);
            }
            for (hash, account) in &change.put {
                r.operators.insert(*hash, account.clone());
            }
            Ok(())
        }
    }
}

fn commit(r: &mut Records, c: &Commit) -> Result<(), StoreError> {
    // All or nothing, as sled's transaction: check first, then change.
    for e in &c.events {
        if r.events.contains_key(&id_key(&e.id)) {
            return Err(StoreError::Corrupt(format!(
                "event {}:{} already stored",
                e.id.origin, e.id.seq
            )));
        }
    }
    for e in &c.events {
        r.events.insert(id_key(&e.id), e.clone());
    }
    for case in &c.cases {
        r.cases.insert(case.case_no.key(), case.clone());
    }
    r.meta = c.meta;
    for (key, value) in c.settings.iter().map(|(k, v)| (k.to_vec(), v)) {
        r.settings.insert(key, value.clone());
    }
    for (key, value) in &c.once {
        r.settings.insert(key.clone(), value.clone());
    }
    // The last sequence queued per peer in this group, as the sled store records it.
    let mut queued: BTreeMap<NodeCode, u64> = BTreeMap::new();
    for q in &c.queue {
        r.outbox.insert((q.peer.as_u64(), q.seq), q.item.clone());
        let last = queued.entry(q.peer).or_default();
        *last = (*last).max(q.seq);
    }
    for (peer, last) in queued {
        r.links.entry(peer).or_default().queued = last;
    }
    for (peer, upto) in &c.received {
        r.links.entry(*peer).or_default().received = *upto;
    }
    for s in &c.summaries {
        r.summaries.insert(s.case_no.key(), s.clone());
    }
    for (code, der) in &c.certificates {
        r.certificates.insert(code.as_u64(), (*code, der.clone()));
    }
    for revoked in &c.revocations {
        r.revoked.insert(revoked.code.as_u64(), revoked.clone());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::EventBody;
    use ed25519_dalek::SigningKey;

    use super::*;
    use crate::fixtures::{intake, township_event};

    fn commit_of(seq: u64) -> Commit {
        let key = SigningKey::from_bytes(&[9; 32]);
        let body = if seq == 1 {
            EventBody::Submit(intake())
        } else {
            EventBody::Review
        };
        let event = township_event(&key, seq, body);
        Commit {
            events: vec![event],
            meta: NodeMeta {
                last_seq: seq,
                ..NodeMeta::default()
            },
            ..Commit::default()
        }
    }

    fn seqs(store: &MemStore) -> Vec<u64> {
        let origin = "350322101".parse().unwrap();
        let events = store.events_by_origin(origin).unwrap();
        events.iter().map(|e| e.id.seq).collect()
    }

    #[test]
    fn a_crash_keeps_what_was_flushed_and_loses_the_rest() {
        let store = MemStore::new();
        store.commit(&commit_of(1)).unwrap();
        store.flush().unwrap();
        store.commit(&commit_of(2)).unwrap();
        assert_eq!(seqs(&store), [1, 2]);
        store.crash();
        assert_eq!(seqs(&store), [1]);
        assert_eq!(store.meta().unwrap().last_seq, 1);
        // The journal went with the crash: the next flush does not bring event 2 back.
        store.flush().unwrap();
        store.crash();
        assert_eq!(seqs(&store), [1]);
    }

    #[test]
    fn an_event_is_stored_once() {
        let store = MemStore::new();
        store.commit(&commit_of(1)).unwrap();
        assert!(store.commit(&commit_of(1)).is_err());
        assert_eq!(store.event_count(), 1);
    }

    #[test]
    fn a_lying_flush_makes_nothing_durable() {
        let store = MemStore::new();
        store.lie_about_flushes();
        store.commit(&commit_of(1)).unwrap();
        store.flush().unwrap();
        assert_eq!(store.sync_count(), 0);
        store.crash();
        assert!(seqs(&store).is_empty());
    }
}
