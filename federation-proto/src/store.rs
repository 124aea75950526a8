//! Durable storage of events, cases and node metadata, behind narrow traits so that the engine
//! above it does not depend on sled, and so that a caller that needs one concern names only it.
//!
//! One trait per concern, each saying what it holds and what holds true of it:
//! - [`EventLog`]: the events (the source of truth), each case's events in fold order and the
//!   node's own counters ([`NodeMeta`]);
//! - [`CaseViews`]: what the API lists — the cases as folded here and the status summaries;
//! - [`Outbox`]: the items queued for each peer and the link sequences sent and received;
//! - [`Directory`]: the federation's certificates and revocations, and the node settings;
//! - [`Operators`]: the operators' accounts, by their tokens' hashes;
//! - [`Counters`]: counts kept without reading (events, cases by state, flushes, syncs).
//!
//! [`Store`] is all of them together with the write path that cuts across them: one
//! [`Commit`] writes every concern in one atomic step, durable after [`Store::flush`], which
//! the engine calls once per group commit. The writes outside a commit are few and each names
//! its durability: [`Outbox::outbox_ack`], [`Outbox::outbox_rebase`] and
//! [`Operators::change_operators`].
//!
//! Two implementations: the node's `SledStore` (one sled database; its layout and start-up
//! check are in `node/src/store/`), and [`memory::MemStore`], the same records in memory with a
//! disk's durability, for the core's tests and the simulation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::case::Case;
use crate::codec::CodecError;
use crate::operator::Account;
use crate::relay::Revoked;
use crate::{CaseNo, CaseSummary, Date, Event, EventId, Hlc, NodeCode};

pub mod counters;
pub mod memory;
pub use counters::Counts;

/// SHA-256 of a bearer token: the key of its account.
pub type TokenHash = [u8; 32];

/// One atomic change to the operators: records removed (a rotated token's hash) and records
/// written (new, changed or moved to a new hash).
#[derive(Debug, Default, Clone)]
pub struct OperatorChange {
    pub remove: Vec<TokenHash>,
    pub put: Vec<(TokenHash, Account)>,
}

/// Largest stored case record; a case's log grows with its events.
pub const MAX_CASE_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The storage engine underneath failed (sled's error in the node, kept whole so that the
    /// shell can say what the disk did).
    #[error("storage engine: {0}")]
    Engine(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("stored value cannot be decoded: {0}")]
    Codec(#[from] CodecError),
    #[error("store is inconsistent: {0}")]
    Corrupt(String),
    /// The store holds less than its witness says it had made durable (the node's `store::witness`).
    #[error("the store in {dir} holds less than it had made durable: {missing}")]
    Behind { dir: String, missing: String },
}

/// Per-node counters that must survive restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NodeMeta {
    /// Sequence number of the last event this node authored (gapless from 1).
    pub last_seq: u64,
    /// The largest clock value issued or observed.
    pub hlc: Hlc,
    /// The day of the last case number issued and its daily sequence.
    pub case_day: Option<Date>,
    pub case_seq: u32,
}

/// What the engine writes in one atomic step: everything the requests of one group commit
/// changed. The log, the cases, the counters, the items queued for peers and the link sequences
/// received land together or not at all, so a crash can neither lose a queued copy nor hold an
/// event whose receipt was not recorded.
///
/// Why one step per group rather than per request: each sled transaction and each insert
/// rewrites page fragments, so a transaction per received item cost about 30 KB of disk writes
/// per item; a group writes each case and summary once, however many items touched it.
#[derive(Default, Clone)]
pub struct Commit {
    /// New events for the log.
    pub events: Vec<Event>,
    /// Cases as they stand after those events (a case whose submission has not arrived yet
    /// has none).
    pub cases: Vec<Case>,
    pub meta: NodeMeta,
    /// Items queued for peers.
    pub queue: Vec<Queued>,
    /// The link sequence now held from each peer.
    pub received: Vec<(NodeCode, u64)>,
    /// Status summaries to keep.
    pub summaries: Vec<CaseSummary>,
    /// Certificates for the federation directory.
    pub certificates: Vec<(NodeCode, Vec<u8>)>,
    pub revocations: Vec<Revoked>,
    /// Node settings (keys of the `meta` tree) and their new values.
    pub settings: Vec<(&'static [u8], Vec<u8>)>,
    /// Idempotency records (`meta` tree, [`crate::idempotency`]), written with the events
    /// they name.
    pub once: Vec<(Vec<u8>, Vec<u8>)>,
}

/// One item waiting in a peer's outbox under its link sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub peer: NodeCode,
    pub seq: u64,
    /// `codec::encode` of a `frame::Item`.
    pub item: Vec<u8>,
}

/// Per-peer link counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkCounters {
    /// Link sequence of the last item queued for the peer.
    pub queued: u64,
    /// Highest link sequence held durably from the peer.
    pub received: u64,
}

/// The event log: every event this node holds, and the node's own counters.
///
/// Holds the events by [`EventId`] (authored here or received), each case's events in fold
/// order ([`Event::fold_key`]), and [`NodeMeta`]. Written only by [`Store::commit`].
///
/// Invariants:
/// - the log is the source of truth: an event, once stored, is never edited or removed, and an
///   event is stored once — a commit holding an event already stored is refused whole;
/// - every event is in its case's log, and a case's log ([`EventLog::events_of`]) has exactly
///   that case's events;
/// - this node's own sequence numbers are gapless from 1 to [`NodeMeta::last_seq`].
pub trait EventLog {
    /// The node's counters as the last commit left them (the default before any).
    fn meta(&self) -> Result<NodeMeta, StoreError>;
    /// The event held under `id`, if any.
    fn event(&self, id: &EventId) -> Result<Option<Event>, StoreError>;
    fn has_event(&self, id: &EventId) -> Result<bool, StoreError>;
    fn event_count(&self) -> usize;
    /// A case's events in fold order.
    fn events_of(&self, no: &CaseNo) -> Result<Vec<Event>, StoreError>;
    /// Events authored by `origin`, in sequence order.
    fn events_by_origin(&self, origin: NodeCode) -> Result<Vec<Event>, StoreError>;
}

/// The views the API lists: cases as folded here, and status summaries.
///
/// Holds, by [`CaseNo`], the materialised [`Case`] of every case whose submission this node
/// holds, and the latest [`CaseSummary`] of each case owned here or below (a child's summary
/// arrives as an item; which one is the latest the engine decides before it commits). Written
/// only by [`Store::commit`].
///
/// Invariants:
/// - a case is the fold of its events in the [`EventLog`], written in the same commit as they
///   are, so it is derived data: the node's `SledStore` rebuilds it from the log when they disagree;
/// - lists and pages run in case-number ([`CaseNo::key`]) order.
pub trait CaseViews {
    fn case(&self, no: &CaseNo) -> Result<Option<Case>, StoreError>;
    /// Every case, in case-number order.
    fn cases(&self) -> Box<dyn Iterator<Item = Result<Case, StoreError>> + '_>;
    /// The cases after `after` (from the first when `None`), in case-number
    /// ([`CaseNo::key`]) order; read lazily, one case at a time, for paged lists.
    fn cases_from(
        &self,
        after: Option<&CaseNo>,
    ) -> Box<dyn Iterator<Item = Result<Case, StoreError>> + '_>;
    fn summary(&self, no: &CaseNo) -> Result<Option<CaseSummary>, StoreError>;
    /// Every summary, in case-number order.
    fn summaries(&self) -> Box<dyn Iterator<Item = Result<CaseSummary, StoreError>> + '_>;
    /// The summaries after `after` (from the first when `None`), in case-number order; read
    /// lazily, for paged lists.
    fn summaries_from(
        &self,
        after: Option<&CaseNo>,
    ) -> Box<dyn Iterator<Item = Result<CaseSummary, StoreError>> + '_>;
}

/// The outboxes: what waits for each peer, and how far each link has got.
///
/// Holds, per peer, the encoded items queued for it under their link sequences ([`Queued`]),
/// and the [`LinkCounters`]: the last link sequence queued for the peer and the highest held
/// from it.
///
/// Invariants:
/// - items are queued and received sequences recorded by [`Store::commit`], in the same step
///   as the events they carry or brought: a crash can neither lose a queued copy nor keep an
///   event whose receipt was not recorded;
/// - a peer's link sequences only grow, and its `queued` counter is at least every sequence in
///   its outbox;
/// - an item stays until the peer acknowledges it ([`Outbox::outbox_ack`]); an ack is not
///   flushed by itself — losing it only sends the items again.
pub trait Outbox {
    /// Up to `max` queued items for `peer` with link sequence above `after`.
    fn outbox(
        &self,
        peer: NodeCode,
        after: u64,
        max: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError>;
    /// Drops the items the peer acknowledged (durable with the next flush).
    fn outbox_ack(&self, peer: NodeCode, upto: u64) -> Result<(), StoreError>;
    fn outbox_depth(&self, peer: NodeCode) -> usize;
    /// Renumbers the peer's outbox to follow `floor` (the peer already holds that many items
    /// from an earlier life of this store), items and counter in one step, durable with the
    /// next flush; returns the new last link sequence.
    fn outbox_rebase(&self, peer: NodeCode, floor: u64) -> Result<u64, StoreError>;
    fn link_counters(&self) -> Result<BTreeMap<NodeCode, LinkCounters>, StoreError>;
}

/// What the federation has told this node and it keeps: the directory and the node settings.
///
/// Holds the certificates by division code (DER, checked when learnt; [`crate::relay::Directory`]
/// is the copy in memory, loaded from here at start), the [`Revoked`] entries by division
/// code, and the node settings by key: the catalog and calendar received from the parent or
/// passed down ([`crate::reference`]), and the idempotency records, written with the events
/// they name under their own prefix ([`crate::idempotency`]). Written only by
/// [`Store::commit`].
///
/// Invariants: a revocation is never removed; a certificate or setting written again replaces
/// the one held.
pub trait Directory {
    fn certificates(&self) -> Result<Vec<(NodeCode, Vec<u8>)>, StoreError>;
    fn is_revoked(&self, code: NodeCode) -> Result<bool, StoreError>;
    fn revocations(&self) -> Result<Vec<Revoked>, StoreError>;
    /// A node setting written with [`Commit::settings`] (or [`Commit::once`]).
    fn setting(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
}

/// The operators: each account under the SHA-256 of its bearer token.
///
/// Tokens themselves are never stored, and a hash never leaves the node. Written only by
/// [`Operators::change_operators`], not by commits: operator changes do not go through the
/// engine (the node's `accounts` module serialises them and keeps the rules that span records).
///
/// Invariant: a change applies whole — a rotation moves an account to its new hash in one
/// step, so there is no instant where both tokens, or neither, work.
pub trait Operators {
    /// The account of a token, by the token's SHA-256.
    fn operator(&self, token_hash: &TokenHash) -> Result<Option<Account>, StoreError>;
    /// Every account with its token's hash (the hash never leaves the node).
    fn operators(&self) -> Result<Vec<(TokenHash, Account)>, StoreError>;
    /// Applies one change to the operators atomically and durably (flushed before it returns).
    fn change_operators(&self, change: &OperatorChange) -> Result<(), StoreError>;
}

/// Counts cheap enough for every `/metrics` scrape: nothing is decoded to answer them.
///
/// Invariant: the counts agree with the log and the cases as committed. The node's `SledStore` counts
/// them once in its start-up check and then moves them with each commit (see [`counters`]);
/// the flush and sync counts start at 0 with the process.
pub trait Counters {
    /// Events held and cases by state, from counters kept by the commits: nothing is read.
    fn counts(&self) -> Counts;
    /// Flushes since start (one per group commit).
    fn flush_count(&self) -> u64;
    /// Completed `fdatasync`s of the store's files since start (one per successful flush).
    fn sync_count(&self) -> u64;
}

/// The storage a node needs: every concern, and the write path across them.
///
/// Implementations make each [`Store::commit`] atomic — all of it or, when it fails (an event
/// already stored), none of it — and visible at once to every reader, and durable after
/// [`Store::flush`]: what a flush covered survives a crash, what came after it may not.
pub trait Store:
    EventLog + CaseViews + Outbox + Directory + Operators + Counters + Send + Sync + 'static
{
    fn commit(&self, commit: &Commit) -> Result<(), StoreError>;
    /// Makes every write before it durable (sled's flush, then `fdatasync`).
    fn flush(&self) -> Result<(), StoreError>;
}
