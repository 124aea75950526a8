//! The writer (写入): the one place a node's state changes — it turns requests into signed
//! events, applies what peers send, and groups both into change sets that the shell writes and
//! makes durable once per group (group commit). It does no I/O of its own: it reads the store
//! through the [`Store`] trait, time comes in as `now` with each step, and its answers, its
//! change sets and what became sendable go back to the caller. The node's shell
//! (`node/src/engine.rs`) runs it on a thread behind a channel; tests and the simulation drive
//! the same steps directly over a [`crate::store::memory::MemStore`].
//!
//! Why one writer: it owns the node's sequence number, hybrid clock, daily case counter and link
//! counters, so events get gapless sequence numbers and increasing clocks without locks, and a
//! check against a case's current state cannot race with another write to the same case.
//!
//! A group: the shell hands the writer every request waiting in its queue (up to
//! [`MAX_BATCH`], or until [`MAX_STAGED`] items are staged), one [`Writer::step`] each; each
//! step applies to an in-memory overlay (`writer/staged.rs`). Then [`Writer::commit_group`] writes the
//! whole group in one store transaction and flushes once; only then does the shell answer the
//! group's requests. While a flush runs, new requests queue up and form the next group, so the
//! flush rate adapts to load. A batch received from a peer is acknowledged only after that
//! flush, and outbox senders send only up to the link sequences the commit reports as durable,
//! so nothing not yet durable ever leaves the node.
//!
//! If a flush fails, nothing since the previous flush can be promised durable: every waiting
//! client gets an error and the writer refuses further writes until the node is restarted (the
//! start-up check then repairs derived data from what did reach the disk).

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use tracing::{error, info_span};

use crate::case::{Case, Refusal};
use crate::codec;
use crate::deadline::{self, WarningPolicy};
use crate::frame::{Item, Refusal as LinkRefusal};
use crate::idempotency::{Once, Record as IdempotencyRecord};
use crate::reference::Reference;
use crate::relay::{event_bytes, Certificates, Directory, Revoked, Router};
use crate::store::{Commit, NodeMeta, Queued, Store, StoreError};
use crate::summary;
use crate::verify::KeyRing;
use crate::{
    sign, Actor, CaseNo, CaseSummary, Date, Event, EventBody, EventId, Hlc, Intake, NodeCode, Sig,
};
pub use numbering::{restore_under_way, Resumed, FLOOR_KEY, RESTORE_FLOOR, RESTORING_KEY};
use staged::Staged;
pub use step::{Input, Output};
pub use supervise::{SweepFrom, SweepSlice, SWEEP_SLICE};
use sweep_index::SweepIndex;

/// Per peer, the last link sequence queued for it that is durable.
pub type Durable = std::collections::BTreeMap<NodeCode, u64>;

/// The codes revoked so far (from this node's `revoked.toml`, an admin's load, or a parent).
pub type RevokedCodes = std::collections::BTreeSet<NodeCode>;

/// Most requests applied before one flush.
pub const MAX_BATCH: usize = 1024;
/// Most events and queued items held in one group: a bound on the overlay's memory (a request
/// from a peer may carry a thousand items).
pub const MAX_STAGED: usize = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("case {0} does not exist")]
    NotFound(CaseNo),
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("storage failed: {0}")]
    Store(#[from] StoreError),
    #[error("the node cannot write: {0}")]
    Unavailable(String),
    /// The peer's batch does not fit the link sequence: the link must be re-established.
    #[error("link: {0}")]
    Link(LinkRefusal),
    /// An event whose signature does not verify: the link that brought it must be closed.
    #[error("bad signature: {0}")]
    BadSignature(String),
    /// One item that cannot be applied; it is skipped, the rest of the batch is not.
    #[error("rejected item: {0}")]
    Invalid(String),
    /// An idempotency key sent again with a different request.
    #[error("the Idempotency-Key was used before with a different request (for case {0})")]
    KeyReused(CaseNo),
}

impl From<crate::codec::CodecError> for EngineError {
    fn from(e: crate::codec::CodecError) -> EngineError {
        EngineError::Store(StoreError::Codec(e))
    }
}

/// What a client asks the engine to write.
#[derive(Debug)]
pub enum Write {
    Submit(Intake),
    Act { case_no: CaseNo, body: EventBody },
}

/// What a received batch came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The highest link sequence now held durably: the ack to send.
    pub ack_upto: u64,
    /// Items skipped, with the reason (already logged).
    pub rejected: Vec<String>,
}

/// Everything a writer starts from.
pub struct Setup {
    pub store: Arc<dyn Store>,
    pub code: NodeCode,
    pub parent: Option<NodeCode>,
    pub key: SigningKey,
    pub reference: Arc<Reference>,
    pub policy: WarningPolicy,
    /// How the directory checks certificates (X.509 is the shell's).
    pub certificates: Arc<dyn Certificates>,
}

/// The write path's state: the counters it owns, the group being built, and a read view of the
/// store under it. See the module's doc for the group protocol.
pub struct Writer {
    store: Arc<dyn Store>,
    router: Router,
    code: NodeCode,
    key: SigningKey,
    /// The time of the step being applied (Unix ms, from the shell's clock).
    now_ms: u64,
    reference: Arc<Reference>,
    policy: WarningPolicy,
    meta: NodeMeta,
    /// The counters as last written to the store.
    written: NodeMeta,
    failed: Option<String>,
    /// Something was queued for a peer since the last flush.
    queued: bool,
    /// The calendar changed (a parent's broadcast): every case is re-evaluated after the group.
    recheck: bool,
    /// The group's changes, not yet written to the store.
    staged: Staged,
    /// The codes revoked so far, and whether that changed since the shell last asked.
    revoked: RevokedCodes,
    revoked_news: bool,
    /// The last day whose numbering starts at [`RESTORE_FLOOR`], set by a restore
    /// (`writer/numbering.rs`); kept as a node setting beside the counters.
    floor_through: Option<Date>,
    /// What a sweep that is not full reads (`writer/sweep_index.rs`).
    sweep_index: SweepIndex,
}

/// One request's change, owned, before it joins the group ([`Staged`]).
#[derive(Default)]
struct Change {
    event: Option<(Event, Option<Case>)>,
    queue: Vec<Queued>,
    received: Option<(NodeCode, u64)>,
    summary: Option<CaseSummary>,
    certificate: Option<(NodeCode, Vec<u8>)>,
    revocation: Option<Revoked>,
    setting: Option<(&'static [u8], Vec<u8>)>,
    /// The idempotency record of the write, kept with its event.
    once: Option<(Vec<u8>, Vec<u8>)>,
}

impl Writer {
    /// The writer, from the store's state as the start-up check left it.
    pub fn new(setup: Setup) -> Result<Writer, StoreError> {
        let meta = setup.store.meta()?;
        let mut directory = Directory::new(setup.certificates);
        for (code, der) in setup.store.certificates()? {
            directory.restore(code, der);
        }
        let mut revoked = RevokedCodes::new();
        for entry in setup.store.revocations()? {
            directory.revoke(entry.code);
            revoked.insert(entry.code);
        }
        let counters = setup.store.link_counters()?;
        let floor_through = numbering::floor_through(setup.store.setting(FLOOR_KEY)?)?;
        Ok(Writer {
            router: Router::new(setup.code, setup.parent, counters, directory),
            store: setup.store,
            code: setup.code,
            key: setup.key,
            now_ms: 0,
            reference: setup.reference,
            policy: setup.policy,
            meta,
            written: meta,
            failed: None,
            queued: false,
            recheck: false,
            staged: Staged::default(),
            revoked,
            revoked_news: false,
            floor_through,
            sweep_index: SweepIndex::default(),
        })
    }

    /// The directory's keys, kept in step with it, for the link sessions to check peers'
    /// batches with ([`crate::verify::Checked::new`]).
    pub fn keys(&self) -> KeyRing {
        self.router.directory.ring()
    }

    /// Per peer, the last link sequence queued for it. At start, all of it is on disk, so the
    /// senders may send all of it; later, [`Writer::commit_group`] says when more is durable.
    pub fn durable(&self) -> Durable {
        self.router.queued_all().collect()
    }

    /// The codes revoked so far.
    pub fn revoked(&self) -> &RevokedCodes {
        &self.revoked
    }

    /// The revoked codes when a step revoked one since the last call — at once, before any
    /// flush: closing a revoked peer's link promises nothing.
    pub fn take_revoked_news(&mut self) -> Option<RevokedCodes> {
        std::mem::take(&mut self.revoked_news).then(|| self.revoked.clone())
    }

    /// Why the writer refuses to write, once a write or flush has failed.
    pub fn failed(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    /// Whether the group may take another request ([`MAX_STAGED`] bounds its memory).
    pub fn has_room(&self) -> bool {
        self.staged.len() < MAX_STAGED
    }

    /// Whether the group holds changes not yet written (a request that failed half-way — a
    /// batch refused after some of its items — leaves such changes without an answer waiting).
    pub fn unwritten(&self) -> bool {
        !self.staged.is_empty() || self.meta != self.written
    }

    /// Whether the calendar changed in this group, so every case must be re-evaluated (a full
    /// sweep) after it is committed; asking clears it. After the flush, so that the batch that
    /// brought the calendar is acknowledged without waiting for every case to be re-evaluated.
    pub fn take_recheck(&mut self) -> bool {
        std::mem::take(&mut self.recheck)
    }

    /// Writes the group's change set in one store transaction and makes it durable. On success,
    /// when the group queued anything for a peer, returns the last link sequence now durable
    /// per peer: what the senders may send. On failure the writer refuses every further write
    /// ([`Writer::failed`]): nothing since the previous flush can be promised.
    pub fn commit_group(&mut self) -> Result<Option<Durable>, String> {
        let flushed = self
            .write_staged()
            .and_then(|()| self.store.flush())
            .map_err(|e| e.to_string());
        match flushed {
            Err(e) => {
                error!(node = %self.code, error = %e, "flush failed: refusing further writes until restart");
                self.failed = Some(e.clone());
                Err(e)
            }
            // Published only now: a sender reading the store between the write and the flush
            // would otherwise find items that a crash could still take back.
            Ok(()) => Ok(std::mem::take(&mut self.queued).then(|| self.durable())),
        }
    }

    /// Takes one change into the group and adopts its counters; the change is written with
    /// the group, before its flush.
    fn commit(&mut self, meta: NodeMeta, change: Change) {
        if let Some((_, Some(case))) = &change.event {
            self.sweep_index.note_case(self.code, case);
        }
        if let Some(summary) = &change.summary {
            self.sweep_index.note_summary(self.code, summary);
        }
        self.router.committed(&change.queue, change.received);
        self.queued |= !change.queue.is_empty();
        self.staged.add(change);
        self.meta = meta;
    }

    /// Writes the group's changes to the store in one transaction (not yet durable: the
    /// flush follows). A failure here loses them, so it fails the engine like a failed flush.
    fn write_staged(&mut self) -> Result<(), StoreError> {
        if let Some(reason) = &self.failed {
            return Err(StoreError::Corrupt(format!(
                "storage failed earlier: {reason}"
            )));
        }
        let Some(commit) = self.take_commit() else {
            return Ok(());
        };
        if let Err(e) = self.store.commit(&commit) {
            self.failed = Some(e.to_string());
            return Err(e);
        }
        Ok(())
    }

    /// The group's change set — everything its steps staged, with the counters as they now
    /// stand — taken out of the overlay; `None` when the group changed nothing. The caller
    /// writes it in one store transaction; if that fails, the writer must fail too (as
    /// `Writer::write_staged` does): the change set is gone from the overlay.
    pub fn take_commit(&mut self) -> Option<Commit> {
        if !self.unwritten() {
            return None;
        }
        self.written = self.meta;
        Some(self.staged.take(self.meta))
    }

    /// Every case this node holds, staged or written: the written ones in case-number order
    /// (each replaced by its staged version if the group changed it), then those the group
    /// added. Read lazily: a sweep over a large store holds one case at a time.
    fn cases_overlaid(&self) -> impl Iterator<Item = Result<Case, StoreError>> + '_ {
        let written = self.store.cases().map(move |case| {
            case.map(|c| match self.staged.case(&c.case_no) {
                Some(staged) => staged.clone(),
                None => c,
            })
        });
        let added = self
            .staged
            .cases()
            .filter(move |c| !matches!(self.store.case(&c.case_no), Ok(Some(_))))
            .map(|c| Ok(c.clone()));
        written.chain(added)
    }

    /// Every summary this node keeps, staged or written, as [`Writer::cases_overlaid`].
    fn summaries_overlaid(&self) -> impl Iterator<Item = Result<CaseSummary, StoreError>> + '_ {
        let written = self.store.summaries().map(move |summary| {
            summary.map(|s| match self.staged.summary(&s.case_no) {
                Some(staged) => staged.clone(),
                None => s,
            })
        });
        let added = self
            .staged
            .summaries()
            .filter(move |s| !matches!(self.store.summary(&s.case_no), Ok(Some(_))))
            .map(|s| Ok(s.clone()));
        written.chain(added)
    }

    /// The events `origin` authored that this node holds, staged or written.
    fn events_by_origin_overlaid(&self, origin: NodeCode) -> Result<Vec<Event>, StoreError> {
        let mut events = self.store.events_by_origin(origin)?;
        events.extend(self.staged.events_by_origin(origin).cloned());
        Ok(events)
    }

    /// The case as this node holds it, staged or written.
    fn case(&self, no: &CaseNo) -> Result<Option<Case>, StoreError> {
        match self.staged.case(no) {
            Some(case) => Ok(Some(case.clone())),
            None => self.store.case(no),
        }
    }

    /// The case's events in fold order, staged or written.
    fn events_of(&self, no: &CaseNo) -> Result<Vec<Event>, StoreError> {
        let mut events = self.store.events_of(no)?;
        let written = events.len();
        events.extend(self.staged.events_of(no).cloned());
        if events.len() > written {
            events.sort_by_key(Event::fold_key);
        }
        Ok(events)
    }

    fn event(&self, id: &EventId) -> Result<Option<Event>, StoreError> {
        match self.staged.event(id) {
            Some(event) => Ok(Some(event.clone())),
            None => self.store.event(id),
        }
    }

    fn summary(&self, no: &CaseNo) -> Result<Option<CaseSummary>, StoreError> {
        match self.staged.summary(no) {
            Some(summary) => Ok(Some(summary.clone())),
            None => self.store.summary(no),
        }
    }

    fn setting(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.staged.setting(key) {
            Some(value) => Ok(Some(value.to_vec())),
            None => self.store.setting(key),
        }
    }

    /// Applies a write unless its idempotency key was seen: then the key's case, unchanged.
    fn apply_once(
        &mut self,
        actor: Actor,
        write: Write,
        once: Option<Once>,
    ) -> Result<Case, EngineError> {
        let Some(once) = once else {
            return self.apply(actor, write);
        };
        if let Some(bytes) = self.setting(&once.store_key)? {
            let record = IdempotencyRecord::decode(&bytes)?;
            if record.request != once.request {
                return Err(EngineError::KeyReused(record.case_no));
            }
            return self
                .case(&record.case_no)?
                .ok_or(EngineError::NotFound(record.case_no));
        }
        let case = self.apply(actor, write)?;
        let record = IdempotencyRecord {
            request: once.request,
            case_no: case.case_no,
        };
        self.staged.add(Change {
            once: Some((once.store_key, record.encode()?)),
            ..Change::default()
        });
        Ok(case)
    }

    fn apply(&mut self, actor: Actor, write: Write) -> Result<Case, EngineError> {
        let mut meta = self.meta;
        let (mut event, current) = match write {
            Write::Submit(intake) => {
                let body = EventBody::Submit(intake);
                (self.next_event(&mut meta, None, actor, body)?, None)
            }
            Write::Act { case_no, body } => {
                let case = self.case(&case_no)?.ok_or(EngineError::NotFound(case_no))?;
                let event = self.next_event(&mut meta, Some(case_no), actor, body)?;
                (event, Some(case))
            }
        };
        let span = info_span!("write", node = %self.code, case = %event.case_no, action = event.body.action());
        let _guard = span.enter();
        let before = current.as_ref().map(Case::involved).unwrap_or_default();
        let case = match current {
            Some(mut case) => {
                case.check(&event)?;
                sign::sign(&mut event, &self.key);
                case.apply(&event);
                case
            }
            None => {
                sign::sign(&mut event, &self.key);
                Case::open(&event)
                    .ok_or_else(|| Refusal::Invalid("the submission does not open a case".into()))?
            }
        };
        check_event_size(&event)?;
        check_case_size(&case, &event)?;
        let mut change = Change::default();
        self.route_authored(&event, &case, &before, &mut change.queue)?;
        self.summarise(&case, event.hlc, &mut change)?;
        change.event = Some((event, Some(case.clone())));
        self.commit(meta, change);
        Ok(case)
    }

    /// The next event authored here, unsigned: a fresh clock and sequence number in `meta`,
    /// and for a submission (no `case_no` yet) the day's next case number.
    fn next_event(
        &self,
        meta: &mut NodeMeta,
        case_no: Option<CaseNo>,
        actor: Actor,
        body: EventBody,
    ) -> Result<Event, EngineError> {
        let hlc = Hlc::tick(meta.hlc, self.now_ms);
        meta.hlc = hlc;
        meta.last_seq += 1;
        let case_no = match case_no {
            Some(no) => no,
            None => {
                let day = Date::from_unix_ms(hlc.wall_ms);
                numbering::next_case_no(meta, self.code, day, self.floor_through)?
            }
        };
        Ok(Event {
            id: EventId {
                origin: self.code,
                seq: meta.last_seq,
            },
            hlc,
            case_no,
            actor,
            body,
            sig: Sig::EMPTY,
        })
    }

    /// Queues an event authored here: to everyone involved and the parent; and, to nodes the
    /// event newly involves, the case's whole history first, so they can fold it.
    fn route_authored(
        &self,
        event: &Event,
        case: &Case,
        before: &[NodeCode],
        queue: &mut Vec<Queued>,
    ) -> Result<(), EngineError> {
        let involved = case.involved();
        let newcomers: Vec<NodeCode> = involved
            .iter()
            .copied()
            .filter(|n| *n != self.code && !before.contains(n))
            .collect();
        if !newcomers.is_empty() && !before.is_empty() {
            for old in self.events_of(&case.case_no)? {
                self.router
                    .route_event(&event_bytes(&old)?, &newcomers, None, queue)?;
            }
        }
        self.router
            .route_authored(&event_bytes(event)?, &involved, queue)?;
        Ok(())
    }

    /// Keeps the case's status summary here when this node is involved in the case (it has
    /// every event, so its fold is current) and, when it owns the case, queues the summary for
    /// the ancestors. A parent's backup copy of a child's case may lack events: it keeps the
    /// summaries the owner sends instead.
    fn summarise(&self, case: &Case, as_of: Hlc, change: &mut Change) -> Result<(), EngineError> {
        if !case.involved().contains(&self.code) {
            return Ok(());
        }
        let summary = self.summary_of(case, as_of);
        if case.owner == self.code && self.router.parent.is_some() {
            self.router
                .route_up(&Item::summary(&summary)?, &mut change.queue)?;
        }
        change.summary = Some(summary);
        Ok(())
    }

    /// The case's summary with its clocks as of today.
    fn summary_of(&self, case: &Case, as_of: Hlc) -> CaseSummary {
        let clocks = deadline::evaluate(
            case,
            &self.reference.calendar(),
            Date::from_unix_ms(self.now_ms),
            &self.policy,
        );
        summary::summarise(case, &clocks, as_of)
    }
}

/// Refuses an event authored here whose encoding is over [`codec::MAX_EVENT_BYTES`], before
/// anything is written: every reader — this node's start-up check, its case views, every peer —
/// decodes events with that limit. A 64 KiB request with one long reason used to make a larger
/// event that the node stored and acknowledged but could never read again: it refused to
/// restart, and its peers rejected the event (tests/bad_input.rs,
/// `texts_too_long_for_an_event_are_refused_and_the_node_restarts`).
fn check_event_size(event: &Event) -> Result<(), EngineError> {
    let len = event_bytes(event)?.len();
    if len > codec::MAX_EVENT_BYTES {
        return Err(Refusal::Invalid(format!(
            "too long to record: this {} would take {len} bytes, at most {} are allowed; \
             shorten its texts",
            event.body.action(),
            codec::MAX_EVENT_BYTES
        ))
        .into());
    }
    Ok(())
}

/// Refuses a submission by `actor` at node `code` on `day` whose event would be over
/// [`codec::MAX_EVENT_BYTES`] whatever sequence number, clock and case number the writer gives
/// it: the same refusal as [`Writer::step`]'s, for a caller that must know before it hands the
/// writer anything (a batch of submissions is refused whole, with nothing written, if one of
/// them would be). The event is measured with the widest sequence, clock and case number
/// (integers are varints), so a submission that passes is never refused for its size later.
pub fn check_submission_size(
    code: NodeCode,
    day: Date,
    actor: &Actor,
    intake: &Intake,
) -> Result<(), EngineError> {
    let widest = Event {
        id: EventId {
            origin: code,
            seq: u64::MAX,
        },
        hlc: Hlc {
            wall_ms: u64::MAX,
            counter: u32::MAX,
        },
        case_no: CaseNo {
            node: code,
            date: day,
            seq: CaseNo::MAX_SEQ,
        },
        actor: actor.clone(),
        body: EventBody::Submit(intake.clone()),
        sig: Sig::EMPTY,
    };
    check_event_size(&widest)
}

/// Refuses an action after which the case record would be over
/// [`crate::store::MAX_CASE_BYTES`], the most the store reads back. Each action may be small
/// enough, but the record keeps what they carry (e.g. every suspension's reason): 70
/// suspensions with 60 KB reasons made a case that could no longer be read — its actions, the
/// case list and the node's restart all failed (tests/bad_input.rs,
/// `a_case_that_would_grow_too_large_is_refused_and_the_node_restarts`).
fn check_case_size(case: &Case, event: &Event) -> Result<(), EngineError> {
    let len = codec::encode(case)?.len();
    if len > crate::store::MAX_CASE_BYTES {
        return Err(Refusal::Invalid(format!(
            "case {} is too large to record this {}: it would take {len} bytes, at most {} \
             are allowed",
            case.case_no,
            event.body.action(),
            crate::store::MAX_CASE_BYTES
        ))
        .into());
    }
    Ok(())
}

mod numbering;
mod peers;
mod staged;
mod step;
mod supervise;
mod sweep_index;
#[cfg(test)]
mod tests;
