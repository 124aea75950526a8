//! Durable storage of events, cases and node metadata, behind the small [`Store`] trait so the
//! engine above it does not depend on sled.
//!
//! Two implementations: [`SledStore`], the node's (one sled database; its layout, invariants
//! and start-up check are in its module), and [`memory::MemStore`], the same records in memory
//! with a disk's durability, for the simulation and for tests.
//!
//! A commit is atomic; it is durable only after [`Store::flush`], which the engine calls once
//! per batch.

use std::collections::BTreeMap;

use federation_proto::codec::CodecError;
use federation_proto::{CaseNo, CaseSummary, Date, Event, EventId, Hlc, NodeCode};
use serde::{Deserialize, Serialize};

use crate::case::Case;
use crate::operator::Account;
use crate::pki::Revoked;

mod counters;
mod operators;
pub use counters::Counts;
pub use operators::{OperatorChange, TokenHash};

pub mod memory;
mod sled_store;
pub mod witness;
pub use sled_store::{CheckReport, SledStore, CHECK_PROGRESS};

/// Largest stored case record; a case's log grows with its events.
pub const MAX_CASE_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage engine: {0}")]
    Engine(#[from] sled::Error),
    #[error("stored value cannot be decoded: {0}")]
    Codec(#[from] CodecError),
    #[error("store is inconsistent: {0}")]
    Corrupt(String),
    /// The store holds less than its witness says it had made durable ([`witness`]).
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

/// The storage a node needs. Implementations make each [`Store::commit`] atomic and visible at
/// once, and durable after [`Store::flush`].
pub trait Store: Send + Sync + 'static {
    fn commit(&self, commit: &Commit) -> Result<(), StoreError>;
    fn flush(&self) -> Result<(), StoreError>;
    /// Flushes since start (one per group commit).
    fn flush_count(&self) -> u64;
    /// Completed `fdatasync`s of the store's files since start (one per successful flush).
    fn sync_count(&self) -> u64;
    fn meta(&self) -> Result<NodeMeta, StoreError>;
    fn case(&self, no: &CaseNo) -> Result<Option<Case>, StoreError>;
    /// Every case, in case-number order.
    fn cases(&self) -> Box<dyn Iterator<Item = Result<Case, StoreError>> + '_>;
    /// The cases after `after` (from the first when `None`), in case-number
    /// ([`CaseNo::key`]) order; read lazily, one case at a time, for paged lists.
    fn cases_from(
        &self,
        after: Option<&CaseNo>,
    ) -> Box<dyn Iterator<Item = Result<Case, StoreError>> + '_>;
    /// A case's events in fold order.
    fn events_of(&self, no: &CaseNo) -> Result<Vec<Event>, StoreError>;
    fn event_count(&self) -> usize;
    fn has_event(&self, id: &EventId) -> Result<bool, StoreError>;
    /// The event held under `id`, if any.
    fn event(&self, id: &EventId) -> Result<Option<Event>, StoreError>;
    /// Events authored by `origin`, in sequence order.
    fn events_by_origin(&self, origin: NodeCode) -> Result<Vec<Event>, StoreError>;
    /// Up to `max` queued items for `peer` with link sequence above `after`.
    fn outbox(
        &self,
        peer: NodeCode,
        after: u64,
        max: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError>;
    /// Drops the items the peer acknowledged.
    fn outbox_ack(&self, peer: NodeCode, upto: u64) -> Result<(), StoreError>;
    fn outbox_depth(&self, peer: NodeCode) -> usize;
    /// Renumbers the peer's outbox to follow `floor` (the peer already holds that many items
    /// from an earlier life of this store); returns the new last link sequence.
    fn outbox_rebase(&self, peer: NodeCode, floor: u64) -> Result<u64, StoreError>;
    fn link_counters(&self) -> Result<BTreeMap<NodeCode, LinkCounters>, StoreError>;
    fn certificates(&self) -> Result<Vec<(NodeCode, Vec<u8>)>, StoreError>;
    fn summary(&self, no: &CaseNo) -> Result<Option<CaseSummary>, StoreError>;
    fn summaries(&self) -> Box<dyn Iterator<Item = Result<CaseSummary, StoreError>> + '_>;
    /// The summaries after `after` (from the first when `None`), in case-number order; read
    /// lazily, for paged lists.
    fn summaries_from(
        &self,
        after: Option<&CaseNo>,
    ) -> Box<dyn Iterator<Item = Result<CaseSummary, StoreError>> + '_>;
    fn is_revoked(&self, code: NodeCode) -> Result<bool, StoreError>;
    /// A node setting written with [`Commit::setting`].
    fn setting(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    fn revocations(&self) -> Result<Vec<Revoked>, StoreError>;
    /// The account of a token, by the token's SHA-256.
    fn operator(&self, token_hash: &TokenHash) -> Result<Option<Account>, StoreError>;
    /// Every account with its token's hash (the hash never leaves the node).
    fn operators(&self) -> Result<Vec<(TokenHash, Account)>, StoreError>;
    /// Applies one change to the operators atomically and durably (flushed before it returns).
    fn change_operators(&self, change: &OperatorChange) -> Result<(), StoreError>;
    /// Events held and cases by state, from counters kept by the commits: nothing is read
    /// (see [`counters`]).
    fn counts(&self) -> Counts;
}
