//! [`SledStore`], the node's store: every concern of [`Store`] in one sled database.
//!
//! Layout (one sled database, a handful of trees — many trees bloat sled):
//! - `events`: `EventId::key()` → event. The source of truth; never edited.
//! - `case_events`: `CaseNo::key() ++ hlc ++ EventId::key()` → `()`: a case's events in fold order.
//! - `cases`: `CaseNo::key()` → materialised [`Case`] (derived: rebuilt from `events`).
//! - `meta`: `node` → [`NodeMeta`] (sequence, clock, daily case counter); node settings and
//!   idempotency records under their own keys ([`Directory::setting`]).
//! - `operators`: SHA-256 of a bearer token → [`Account`] (see [`super::operators`]).
//! - `outbox`: `peer ++ link sequence` → encoded `frame::Item` waiting for the peer's ack.
//! - `links`: `o|i ++ peer` → last link sequence queued for / held from the peer.
//! - `summaries`: `CaseNo::key()` → the latest [`CaseSummary`] (cases owned here or below).
//! - `certs`: division code → DER certificate (the federation directory).
//! - `revoked`: division code → [`Revoked`] (revocations received from above or loaded here).
//!
//! The [`EventLog`] invariants (every event in its case's log, each case's log exactly its
//! events, the node's own sequence gapless) are checked at start-up by
//! [`SledStore::check_and_repair`], which rebuilds the derived trees from `events` when they
//! disagree and refuses a store that came back with less than its witness says it had made
//! durable ([`super::witness`]).
//!
//! Every value starts with the codec's version byte. A commit writes all trees in one sled
//! transaction; it is durable only after [`Store::flush`].

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use federation_proto::codec::{self, CodecError};
use federation_proto::{CaseNo, CaseSummary, Event, EventId, Hlc, NodeCode};
use serde::Serialize;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use super::{
    counters, operators, witness, CaseViews, Commit, Counters, Counts, Directory, EventLog,
    LinkCounters, NodeMeta, OperatorChange, Operators, Outbox, SledResult, Store, StoreError,
    TokenHash, MAX_CASE_BYTES,
};
use crate::case::Case;
use crate::operator::Account;
use crate::relay::Revoked;

mod check;

/// Records read by the start-up check so far ([`SledStore::check_and_repair`]), for the
/// progress lines of [`crate::startup`]. One counter per process: a node opens one store.
pub static CHECK_PROGRESS: AtomicU64 = AtomicU64::new(0);

/// The sled implementation.
pub struct SledStore {
    db: sled::Db,
    events: sled::Tree,
    case_events: sled::Tree,
    cases: sled::Tree,
    meta: sled::Tree,
    operators: sled::Tree,
    outbox: sled::Tree,
    links: sled::Tree,
    summaries: sled::Tree,
    certs: sled::Tree,
    revoked: sled::Tree,
    flushes: AtomicU64,
    /// Cases by state: counted by [`SledStore::check_and_repair`], then kept by each commit.
    counters: counters::CaseCounters,
    /// The `fdatasync` that makes each flush durable against power loss.
    disk: crate::disk_sync::DiskSync,
    /// How far the store had got, written after every flush ([`witness`]), and what it said
    /// at open.
    witness: witness::Witness,
    witnessed: witness::Found,
    /// Test hook: make flushes fail, as a full or failing disk would.
    #[cfg(test)]
    pub(crate) fail_flushes: std::sync::atomic::AtomicBool,
}

/// What the start-up check found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    pub events: usize,
    pub cases: usize,
    /// True when derived trees were rebuilt from the events.
    pub rebuilt: bool,
    pub problems: Vec<String>,
}

const META_KEY: &[u8] = b"node";

impl SledStore {
    /// Opens (or creates) the database in `dir` with a page cache of `cache_bytes`.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<SledStore, StoreError> {
        owner_only(dir).map_err(|e| {
            StoreError::Corrupt(format!(
                "cannot restrict {} to its owner (0700/0600): {e}",
                dir.display()
            ))
        })?;
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .mode(sled::Mode::HighThroughput)
            // The write task flushes after every group commit, before it answers; sled's own
            // background flush every 500 ms would only add I/O competing with it.
            .flush_every_ms(None)
            .open()
            .db()?;
        let disk = crate::disk_sync::DiskSync::open(dir).map_err(|e| {
            StoreError::Corrupt(format!("cannot sync the store in {}: {e}", dir.display()))
        })?;
        let (witness, witnessed) = witness::Witness::open(dir).map_err(|e| {
            StoreError::Corrupt(format!("cannot open the witness in {}: {e}", dir.display()))
        })?;
        Ok(SledStore {
            disk,
            witness,
            witnessed,
            events: db.open_tree("events").db()?,
            case_events: db.open_tree("case_events").db()?,
            cases: db.open_tree("cases").db()?,
            meta: db.open_tree("meta").db()?,
            operators: db.open_tree("operators").db()?,
            outbox: db.open_tree("outbox").db()?,
            links: db.open_tree("links").db()?,
            summaries: db.open_tree("summaries").db()?,
            certs: db.open_tree("certs").db()?,
            revoked: db.open_tree("revoked").db()?,
            flushes: AtomicU64::new(0),
            counters: Default::default(),
            #[cfg(test)]
            fail_flushes: Default::default(),
            db,
        })
    }

    /// A tree of this database kept by another module (e.g. [`crate::audit`]), flushed with
    /// the rest by [`Store::flush`].
    pub fn tree(&self, name: &str) -> Result<sled::Tree, StoreError> {
        self.db.open_tree(name).db()
    }
}

/// Creates `dir` if needed and makes it and everything in it readable by the owner only: the
/// store holds applicants' identities (DESIGN.md §5). Also repairs a folder an older build or
/// another tool left open to others.
fn owner_only(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let mut pending = vec![dir.to_path_buf()];
        while let Some(path) = pending.pop() {
            let meta = std::fs::symlink_metadata(&path)?;
            if meta.file_type().is_symlink() {
                continue;
            }
            let mode = if meta.is_dir() { 0o700 } else { 0o600 };
            if meta.permissions().mode() & 0o777 != mode {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
            }
            if meta.is_dir() {
                for entry in std::fs::read_dir(&path)? {
                    pending.push(entry?.path());
                }
            }
        }
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)?;
    Ok(())
}

/// A gap in our own log cannot be repaired from here: the parent's copy is the way back
/// (DESIGN.md §4).
fn own_gap(before: u64) -> StoreError {
    StoreError::Corrupt(format!("own event sequence has a gap before {before}"))
}

fn outbox_key(peer: NodeCode, seq: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&peer.as_u64().to_be_bytes());
    k[8..].copy_from_slice(&seq.to_be_bytes());
    k
}

fn seq_of(outbox_key: &[u8]) -> u64 {
    outbox_key
        .get(8..16)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map_or(0, u64::from_be_bytes)
}

/// `links` key: `o` (last queued) or `i` (received) and the peer.
fn link_key(kind: u8, peer: NodeCode) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = kind;
    k[1..].copy_from_slice(&peer.as_u64().to_be_bytes());
    k
}

/// `case_events` key: the case, then fold order.
fn index_key(event: &Event) -> [u8; 44] {
    let mut k = [0u8; 44];
    k[..16].copy_from_slice(&event.case_no.key());
    k[16..24].copy_from_slice(&event.hlc.wall_ms.to_be_bytes());
    k[24..28].copy_from_slice(&event.hlc.counter.to_be_bytes());
    k[28..].copy_from_slice(&event.id.key());
    k
}

/// Each value encoded, under its key.
fn encode_all<T: Serialize, K: AsRef<[u8]>>(
    values: &[T],
    key: impl Fn(&T) -> K,
) -> Result<Vec<(K, Vec<u8>)>, CodecError> {
    values
        .iter()
        .map(|v| Ok((key(v), codec::encode(v)?)))
        .collect()
}

/// The clock part of a `case_events` key ([`index_key`]).
fn index_hlc(key: &[u8]) -> Option<Hlc> {
    if key.len() != 44 {
        return None;
    }
    Some(Hlc {
        wall_ms: u64::from_be_bytes(key.get(16..24)?.try_into().ok()?),
        counter: u32::from_be_bytes(key.get(24..28)?.try_into().ok()?),
    })
}

fn abort(e: CodecError) -> ConflictableTransactionError<CodecError> {
    ConflictableTransactionError::Abort(e)
}

impl Store for SledStore {
    fn commit(&self, c: &Commit) -> Result<(), StoreError> {
        // Encoded before the transaction: its closure may run more than once.
        let events = encode_all(&c.events, |e| e.id.key())?;
        let cases = encode_all(&c.cases, |case| case.case_no.key())?;
        let summaries = encode_all(&c.summaries, |s| s.case_no.key())?;
        let revocations = encode_all(&c.revocations, |r| r.code.as_u64().to_be_bytes())?;
        let meta = codec::encode(&c.meta)?;
        // The last sequence queued per peer: one counter write per peer, not per item.
        let mut queued: BTreeMap<NodeCode, u64> = BTreeMap::new();
        for q in &c.queue {
            let last = queued.entry(q.peer).or_default();
            *last = (*last).max(q.seq);
        }
        let trees = (
            &self.events,
            &self.case_events,
            &self.cases,
            &self.meta,
            &self.outbox,
            &self.links,
            &self.summaries,
            &self.certs,
            &self.revoked,
        );
        trees
            .transaction(
                |(
                    events_tree,
                    index,
                    cases_tree,
                    meta_tree,
                    outbox,
                    links,
                    summaries_tree,
                    certs,
                    revoked,
                )| {
                    for (e, (key, bytes)) in c.events.iter().zip(&events) {
                        if events_tree.insert(key, bytes.as_slice())?.is_some() {
                            return Err(abort(CodecError::Encode(format!(
                                "event {}:{} already stored",
                                e.id.origin, e.id.seq
                            ))));
                        }
                        index.insert(&index_key(e)[..], &[])?;
                    }
                    for (key, bytes) in &cases {
                        cases_tree.insert(key, bytes.as_slice())?;
                    }
                    meta_tree.insert(META_KEY, meta.as_slice())?;
                    for (key, value) in &c.settings {
                        meta_tree.insert(*key, value.as_slice())?;
                    }
                    for (key, value) in &c.once {
                        meta_tree.insert(key.as_slice(), value.as_slice())?;
                    }
                    for q in &c.queue {
                        outbox.insert(&outbox_key(q.peer, q.seq)[..], q.item.as_slice())?;
                    }
                    for (peer, last) in &queued {
                        links.insert(&link_key(b'o', *peer)[..], &last.to_be_bytes())?;
                    }
                    for (peer, upto) in &c.received {
                        links.insert(&link_key(b'i', *peer)[..], &upto.to_be_bytes())?;
                    }
                    for (key, bytes) in &summaries {
                        summaries_tree.insert(key, bytes.as_slice())?;
                    }
                    for (code, der) in &c.certificates {
                        certs.insert(&code.as_u64().to_be_bytes(), der.as_slice())?;
                    }
                    for (key, bytes) in &revocations {
                        revoked.insert(key, bytes.as_slice())?;
                    }
                    Ok(())
                },
            )
            .map_err(|e| match e {
                TransactionError::Abort(e) => StoreError::Corrupt(e.to_string()),
                TransactionError::Storage(e) => super::engine_error(e),
            })?;
        self.counters.committed(c.events.len(), &c.cases);
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.flushes.fetch_add(1, Ordering::Relaxed);
        #[cfg(test)]
        if self.fail_flushes.load(Ordering::Relaxed) {
            return Err(StoreError::Corrupt("disk failure (test)".into()));
        }
        // The mark is read before the flush, so it names only what this flush makes durable
        // (another thread may write meanwhile: the writer, while a link's hello flushes), and
        // recorded after the sync: the witness must never claim what the disk lacks. Failing
        // to record it loses nothing; it only weakens the next start's check (said once).
        let mark = self.mark();
        self.db.flush().db()?;
        self.disk
            .sync()
            .map_err(|e| StoreError::Corrupt(format!("fdatasync failed: {e}")))?;
        let recorded = mark.and_then(|m| {
            self.witness
                .record(m)
                .map_err(|e| StoreError::Corrupt(e.to_string()))
        });
        if let Err(e) = recorded {
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                tracing::warn!(error = %e, path = %self.witness.path().display(), "cannot update the store's witness");
            });
        }
        Ok(())
    }
}

impl EventLog for SledStore {
    fn meta(&self) -> Result<NodeMeta, StoreError> {
        match self.meta.get(META_KEY).db()? {
            Some(v) => Ok(codec::decode(&v, 1024)?),
            None => Ok(NodeMeta::default()),
        }
    }

    fn event(&self, id: &EventId) -> Result<Option<Event>, StoreError> {
        match self.events.get(id.key()).db()? {
            Some(value) => Ok(Some(codec::decode(&value, codec::MAX_EVENT_BYTES)?)),
            None => Ok(None),
        }
    }

    fn has_event(&self, id: &EventId) -> Result<bool, StoreError> {
        self.events.contains_key(id.key()).db()
    }

    fn event_count(&self) -> usize {
        self.events.len()
    }

    fn events_of(&self, no: &CaseNo) -> Result<Vec<Event>, StoreError> {
        let mut out = Vec::new();
        for key in self.case_events.scan_prefix(no.key()).keys() {
            let key = key.db()?;
            let id = key.get(28..44).ok_or_else(|| {
                StoreError::Corrupt(format!("short case index key for case {no}"))
            })?;
            let value = self.events.get(id).db()?.ok_or_else(|| {
                StoreError::Corrupt(format!("case {no} indexes an event that is not stored"))
            })?;
            out.push(codec::decode(&value, codec::MAX_EVENT_BYTES)?);
        }
        Ok(out)
    }

    fn events_by_origin(&self, origin: NodeCode) -> Result<Vec<Event>, StoreError> {
        self.events
            .scan_prefix(origin.as_u64().to_be_bytes())
            .values()
            .map(|v| Ok(codec::decode(&v.db()?, codec::MAX_EVENT_BYTES)?))
            .collect()
    }
}

impl CaseViews for SledStore {
    fn case(&self, no: &CaseNo) -> Result<Option<Case>, StoreError> {
        match self.cases.get(no.key()).db()? {
            Some(v) => Ok(Some(codec::decode(&v, MAX_CASE_BYTES)?)),
            None => Ok(None),
        }
    }

    fn cases(&self) -> Box<dyn Iterator<Item = Result<Case, StoreError>> + '_> {
        Box::new(self.cases.iter().values().map(|v| {
            let v = v.db()?;
            Ok(codec::decode(&v, MAX_CASE_BYTES)?)
        }))
    }

    fn cases_from(
        &self,
        after: Option<&CaseNo>,
    ) -> Box<dyn Iterator<Item = Result<Case, StoreError>> + '_> {
        Box::new(values_after(&self.cases, after).map(|v| {
            let v = v.db()?;
            Ok(codec::decode(&v, MAX_CASE_BYTES)?)
        }))
    }

    fn summary(&self, no: &CaseNo) -> Result<Option<CaseSummary>, StoreError> {
        match self.summaries.get(no.key()).db()? {
            Some(v) => Ok(Some(codec::decode(&v, codec::MAX_EVENT_BYTES)?)),
            None => Ok(None),
        }
    }

    fn summaries(&self) -> Box<dyn Iterator<Item = Result<CaseSummary, StoreError>> + '_> {
        Box::new(
            self.summaries
                .iter()
                .values()
                .map(|v| Ok(codec::decode(&v.db()?, codec::MAX_EVENT_BYTES)?)),
        )
    }

    fn summaries_from(
        &self,
        after: Option<&CaseNo>,
    ) -> Box<dyn Iterator<Item = Result<CaseSummary, StoreError>> + '_> {
        Box::new(
            values_after(&self.summaries, after)
                .map(|v| Ok(codec::decode(&v.db()?, codec::MAX_EVENT_BYTES)?)),
        )
    }
}

impl Outbox for SledStore {
    fn outbox(
        &self,
        peer: NodeCode,
        after: u64,
        max: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let start = outbox_key(peer, after.saturating_add(1));
        let end = outbox_key(peer, u64::MAX);
        self.outbox
            .range(start..=end)
            .take(max)
            .map(|kv| {
                let (k, v) = kv.db()?;
                Ok((seq_of(&k), v.to_vec()))
            })
            .collect()
    }

    fn outbox_ack(&self, peer: NodeCode, upto: u64) -> Result<(), StoreError> {
        let range = outbox_key(peer, 0)..=outbox_key(peer, upto);
        let mut batch = sled::Batch::default();
        for key in self.outbox.range(range).keys() {
            batch.remove(key.db()?);
        }
        self.outbox.apply_batch(batch).db()
    }

    fn outbox_depth(&self, peer: NodeCode) -> usize {
        self.outbox.scan_prefix(peer.as_u64().to_be_bytes()).count()
    }

    fn outbox_rebase(&self, peer: NodeCode, floor: u64) -> Result<u64, StoreError> {
        let items: Vec<(sled::IVec, sled::IVec)> = self
            .outbox
            .scan_prefix(peer.as_u64().to_be_bytes())
            .collect::<Result<_, _>>()
            .db()?;
        let last = floor + items.len() as u64;
        (&self.outbox, &self.links)
            .transaction(|(outbox, links)| {
                for (key, _) in &items {
                    outbox.remove(key)?;
                }
                for (i, (_, item)) in items.iter().enumerate() {
                    outbox.insert(&outbox_key(peer, floor + 1 + i as u64)[..], item.clone())?;
                }
                links.insert(&link_key(b'o', peer)[..], &last.to_be_bytes())?;
                Ok::<(), ConflictableTransactionError<CodecError>>(())
            })
            .map_err(|e| match e {
                TransactionError::Abort(e) => StoreError::Corrupt(e.to_string()),
                TransactionError::Storage(e) => super::engine_error(e),
            })?;
        Ok(last)
    }

    fn link_counters(&self) -> Result<BTreeMap<NodeCode, LinkCounters>, StoreError> {
        let mut out: BTreeMap<NodeCode, LinkCounters> = BTreeMap::new();
        for kv in self.links.iter() {
            let (k, v) = kv.db()?;
            let (Some(&kind), Some(code), Ok(value)) = (
                k.first(),
                k.get(1..9).and_then(|c| <[u8; 8]>::try_from(c).ok()),
                <[u8; 8]>::try_from(v.as_ref()),
            ) else {
                return Err(StoreError::Corrupt("malformed link counter".into()));
            };
            let code = NodeCode::from_u64(u64::from_be_bytes(code))
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let entry = out.entry(code).or_default();
            match kind {
                b'o' => entry.queued = u64::from_be_bytes(value),
                _ => entry.received = u64::from_be_bytes(value),
            }
        }
        Ok(out)
    }
}

impl Directory for SledStore {
    fn certificates(&self) -> Result<Vec<(NodeCode, Vec<u8>)>, StoreError> {
        self.certs
            .iter()
            .map(|kv| {
                let (k, v) = kv.db()?;
                let code = <[u8; 8]>::try_from(k.as_ref())
                    .map_err(|_| StoreError::Corrupt("malformed directory key".into()))?;
                let code = NodeCode::from_u64(u64::from_be_bytes(code))
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                Ok((code, v.to_vec()))
            })
            .collect()
    }

    fn is_revoked(&self, code: NodeCode) -> Result<bool, StoreError> {
        self.revoked.contains_key(code.as_u64().to_be_bytes()).db()
    }

    fn revocations(&self) -> Result<Vec<Revoked>, StoreError> {
        self.revoked
            .iter()
            .values()
            .map(|v| Ok(codec::decode(&v.db()?, 64 * 1024)?))
            .collect()
    }

    fn setting(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.meta.get(key).db()?.map(|v| v.to_vec()))
    }
}

impl Operators for SledStore {
    fn operator(&self, token_hash: &TokenHash) -> Result<Option<Account>, StoreError> {
        operators::get(&self.operators, token_hash)
    }

    fn operators(&self) -> Result<Vec<(TokenHash, Account)>, StoreError> {
        operators::all(&self.operators)
    }

    fn change_operators(&self, change: &OperatorChange) -> Result<(), StoreError> {
        operators::apply(&self.operators, change)?;
        self.flush()
    }
}

impl Counters for SledStore {
    fn counts(&self) -> Counts {
        self.counters.counts()
    }

    fn flush_count(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }

    fn sync_count(&self) -> u64 {
        self.disk.count()
    }
}

/// The values of a tree keyed by [`CaseNo::key`] after `after` (all of them when `None`), in
/// key order.
fn values_after(
    tree: &sled::Tree,
    after: Option<&CaseNo>,
) -> impl Iterator<Item = Result<sled::IVec, sled::Error>> {
    let start = match after {
        Some(no) => std::ops::Bound::Excluded(no.key()),
        None => std::ops::Bound::Unbounded,
    };
    tree.range::<[u8; 16], _>((start, std::ops::Bound::Unbounded))
        .values()
}

/// Shared with the tests of [`super::counters`].
#[cfg(test)]
pub(super) mod tests {
    use federation_proto::{Actor, Date, EventBody, EventId, Sig};

    use super::*;

    fn own() -> NodeCode {
        "350322".parse().unwrap()
    }

    fn event(seq: u64, case_seq: u32, body: EventBody) -> Event {
        Event {
            id: EventId { origin: own(), seq },
            hlc: Hlc {
                wall_ms: 1_760_000_000_000 + seq,
                counter: 0,
            },
            case_no: CaseNo {
                node: own(),
                date: Date::from_unix_ms(1_760_000_000_000),
                seq: case_seq,
            },
            actor: Actor {
                name: "t".into(),
                department: None,
            },
            body,
            sig: Sig::EMPTY,
        }
    }

    fn submit() -> EventBody {
        EventBody::Submit(crate::fixtures::intake())
    }

    /// Writes two cases of two and one events the way the engine does.
    pub(in crate::store) fn populate(store: &SledStore) -> Vec<Case> {
        let script = [
            event(1, 1, submit()),
            event(2, 2, submit()),
            event(3, 1, EventBody::Review),
        ];
        let mut cases: BTreeMap<CaseNo, Case> = BTreeMap::new();
        for (i, e) in script.iter().enumerate() {
            let case = match cases.remove(&e.case_no) {
                Some(mut c) => {
                    c.apply(e);
                    c
                }
                None => Case::open(e).unwrap(),
            };
            let meta = NodeMeta {
                last_seq: i as u64 + 1,
                hlc: e.hlc,
                ..NodeMeta::default()
            };
            store
                .commit(&Commit {
                    events: vec![e.clone()],
                    cases: vec![case.clone()],
                    meta,
                    ..Commit::default()
                })
                .unwrap();
            cases.insert(e.case_no, case);
        }
        store.flush().unwrap();
        cases.into_values().collect()
    }

    #[test]
    fn a_healthy_store_passes_the_check() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), 1 << 20).unwrap();
        populate(&store);
        let report = store.check_and_repair(own()).unwrap();
        assert_eq!((report.events, report.cases, report.rebuilt), (3, 2, false));
        assert_eq!(store.meta().unwrap().last_seq, 3);
    }

    /// Opens the store again in the same process: sled's background threads may hold the
    /// file lock for a moment after the previous handle is dropped.
    pub(in crate::store) fn reopen(dir: &Path) -> SledStore {
        for _ in 0..100 {
            if let Ok(store) = SledStore::open(dir, 1 << 20) {
                return store;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        SledStore::open(dir, 1 << 20).unwrap()
    }

    #[test]
    fn lost_derived_trees_are_rebuilt_from_events() {
        let dir = tempfile::tempdir().unwrap();
        let expected = {
            let store = SledStore::open(dir.path(), 1 << 20).unwrap();
            let cases = populate(&store);
            store.cases.clear().unwrap();
            store
                .case_events
                .remove(store.case_events.first().unwrap().unwrap().0)
                .unwrap();
            store.meta.clear().unwrap();
            store.flush().unwrap();
            cases
        };
        let store = reopen(dir.path());
        let report = store.check_and_repair(own()).unwrap();
        assert!(report.rebuilt, "{report:?}");
        let cases: Vec<Case> = store.cases().map(Result::unwrap).collect();
        assert_eq!(cases, expected);
        assert_eq!(store.meta().unwrap().last_seq, 3);
        assert_eq!(store.events_of(&expected[0].case_no).unwrap().len(), 2);
        assert!(!store.check_and_repair(own()).unwrap().rebuilt);
    }

    /// The start-up check reads keys only; each derived tree that falls out of step on its own
    /// still shows up there and gets the full rebuild.
    #[test]
    fn the_key_only_check_sees_each_derived_tree_out_of_step() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), 1 << 20).unwrap();
        let cases = populate(&store);
        let damage: [&dyn Fn(&SledStore); 3] = [
            &|s| drop(s.cases.remove(cases[1].case_no.key()).unwrap()),
            &|s| {
                let first = s.case_events.first().unwrap().unwrap().0;
                s.case_events.remove(first).unwrap();
            },
            &|s| {
                let meta = NodeMeta {
                    last_seq: 2,
                    ..s.meta().unwrap()
                };
                s.meta
                    .insert(META_KEY, codec::encode(&meta).unwrap())
                    .unwrap();
            },
        ];
        for (i, damage) in damage.iter().enumerate() {
            damage(&store);
            let report = store.check_and_repair(own()).unwrap();
            assert!(report.rebuilt, "damage {i} went unnoticed: {report:?}");
            let healed: Vec<Case> = store.cases().map(Result::unwrap).collect();
            assert_eq!(healed, cases, "damage {i}");
            assert_eq!(store.meta().unwrap().last_seq, 3, "damage {i}");
            assert!(store.check_and_repair(own()).unwrap().problems.is_empty());
        }
    }

    #[test]
    fn a_duplicate_event_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), 1 << 20).unwrap();
        let cases = populate(&store);
        let again = event(3, 1, EventBody::Withdraw);
        let mut changed = cases[0].clone();
        changed.apply(&again);
        let err = store.commit(&Commit {
            events: vec![again],
            cases: vec![changed],
            ..Commit::default()
        });
        assert!(err.is_err());
        assert_eq!(
            store.case(&cases[0].case_no).unwrap().as_ref(),
            Some(&cases[0])
        );
        assert_eq!(store.meta().unwrap().last_seq, 3);
    }

    #[test]
    fn a_gap_in_our_own_log_is_reported_not_papered_over() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), 1 << 20).unwrap();
        populate(&store);
        store.events.remove(event(2, 2, submit()).id.key()).unwrap();
        let err = store.check_and_repair(own()).unwrap_err();
        assert!(err.to_string().contains("gap"), "{err}");
    }
}
