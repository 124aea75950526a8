//! The write path: one thread that turns requests into signed events, applies what peers send,
//! and answers only after a shared flush (group commit).
//!
//! Why one writer: it owns the node's sequence number, hybrid clock, daily case counter and link
//! counters, so events get gapless sequence numbers and increasing clocks without locks, and a
//! check against a case's current state cannot race with another write to the same case.
//!
//! Group commit: the task takes every request waiting in its queue (up to [`MAX_BATCH`]), applies
//! each to an in-memory overlay ([`staged`]), writes the whole group in one store transaction,
//! then flushes once and answers them all. While a flush runs, new requests queue up and form
//! the next group, so the flush rate adapts to load.
//! A batch received from a peer is acknowledged only after that flush, and outbox senders send
//! only up to the link sequences published after it ([`Engine::outbox_changes`]), so nothing not
//! yet durable ever leaves the node.
//!
//! If a flush fails, nothing since the previous flush can be promised durable: every waiting
//! client gets an error and the engine refuses further writes until the node is restarted (the
//! start-up check then repairs derived data from what did reach the disk).

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use federation_proto::codec;
use federation_proto::frame::{Batch, Item, Refusal as LinkRefusal};
use federation_proto::{
    sign, Actor, CaseNo, CaseSummary, Date, Event, EventBody, EventId, Hlc, Intake, NodeCode, Sig,
};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{error, info_span, warn};

use crate::case::{Case, Refusal};
use crate::clock::Clock;
use crate::deadline::{self, WarningPolicy};
use crate::idempotency::{Once, Record as IdempotencyRecord};
use crate::pki::Revoked;
use crate::reference::Reference;
use crate::relay::{event_bytes, Directory, Router};
use crate::store::{NodeMeta, Queued, Store, StoreError};
use crate::summary;
use crate::verify::{Checked, KeyRing};
use staged::Staged;

/// Per peer, the last link sequence queued for it that is durable.
pub type Durable = std::collections::BTreeMap<NodeCode, u64>;

/// The codes revoked so far (from this node's `revoked.toml`, an admin's load, or a parent).
pub type RevokedCodes = std::collections::BTreeSet<NodeCode>;

/// Most requests applied before one flush.
pub const MAX_BATCH: usize = 1024;
/// Most events and queued items held in one group: a bound on the overlay's memory (a request
/// from a peer may carry a thousand items).
const MAX_STAGED: usize = 16 * 1024;

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

impl From<federation_proto::codec::CodecError> for EngineError {
    fn from(e: federation_proto::codec::CodecError) -> EngineError {
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

// Requests live only while queued; boxing them would add an allocation per request.
#[allow(clippy::large_enum_variant)]
enum Work {
    Write {
        actor: Actor,
        write: Write,
        once: Option<Once>,
        reply: oneshot::Sender<Result<Case, EngineError>>,
    },
    Receive {
        from: NodeCode,
        checked: Checked,
        reply: oneshot::Sender<Result<Receipt, EngineError>>,
    },
    Learn {
        code: NodeCode,
        der: Vec<u8>,
        welcome: bool,
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
    /// The peer holds more from us than our outbox ever queued: renumber it.
    Rebase {
        peer: NodeCode,
        floor: u64,
        reply: oneshot::Sender<Result<u64, EngineError>>,
    },
    /// Record a revocation (from this node's `revoked.toml`) and pass it down.
    Revoke {
        entry: Revoked,
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
    /// Drop what a peer acknowledged from its outbox. (All writes go through this thread:
    /// sled batches from other threads racing its transactions have been seen to hang.)
    Ack {
        peer: NodeCode,
        upto: u64,
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
    /// Broadcast this node's own catalog and calendar files down, where they changed.
    Publish {
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
    /// Queue for a child everything its restore needs.
    RestoreDump {
        child: NodeCode,
        reply: oneshot::Sender<Result<u64, EngineError>>,
    },
    /// Re-evaluate the clocks of the cases held here (see [`supervise`]); `full` also those
    /// whose clocks have stopped (the calendar may have changed under them).
    Sweep {
        full: bool,
        reply: oneshot::Sender<Result<u64, EngineError>>,
    },
    /// Load official calendar years into this node's own calendar, broadcast it down and
    /// re-evaluate every case; answers how many summaries changed.
    LoadCalendar {
        text: String,
        reply: oneshot::Sender<Result<u64, EngineError>>,
    },
    /// A 督办 notice on a case, held here or known by its summary.
    Notice {
        actor: Actor,
        case_no: CaseNo,
        note: String,
        reply: oneshot::Sender<Result<u64, EngineError>>,
    },
}

fn stopped() -> EngineError {
    EngineError::Unavailable("the write task has stopped".into())
}

/// A reply that waits for the flush.
#[allow(clippy::large_enum_variant)]
enum Done {
    Case(oneshot::Sender<Result<Case, EngineError>>, Case),
    Receipt(oneshot::Sender<Result<Receipt, EngineError>>, Receipt),
    Unit(oneshot::Sender<Result<(), EngineError>>),
    Seq(oneshot::Sender<Result<u64, EngineError>>, u64),
}

impl Done {
    fn send(self, flushed: &Result<(), String>) {
        let err = |e: &String| EngineError::Unavailable(format!("flush failed: {e}"));
        match (self, flushed) {
            (Done::Case(r, c), Ok(())) => drop(r.send(Ok(c))),
            (Done::Case(r, _), Err(e)) => drop(r.send(Err(err(e)))),
            (Done::Receipt(r, c), Ok(())) => drop(r.send(Ok(c))),
            (Done::Receipt(r, _), Err(e)) => drop(r.send(Err(err(e)))),
            (Done::Unit(r), Ok(())) => drop(r.send(Ok(()))),
            (Done::Unit(r), Err(e)) => drop(r.send(Err(err(e)))),
            (Done::Seq(r, n), Ok(())) => drop(r.send(Ok(n))),
            (Done::Seq(r, _), Err(e)) => drop(r.send(Err(err(e)))),
        }
    }
}

/// Everything the write task starts from.
pub struct Setup {
    pub store: Arc<dyn Store>,
    pub code: NodeCode,
    pub parent: Option<NodeCode>,
    pub key: SigningKey,
    pub clock: Clock,
    pub reference: Arc<Reference>,
    pub policy: WarningPolicy,
    /// The federation CA certificate (DER), when the node federates.
    pub ca_der: Option<Vec<u8>>,
}

/// A handle to the write task; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    tx: mpsc::Sender<Work>,
    outbox: watch::Receiver<Durable>,
    revoked: watch::Receiver<RevokedCodes>,
    keys: KeyRing,
}

impl Engine {
    /// Starts the write task from the store's checked state.
    pub fn start(setup: Setup) -> Result<Engine, StoreError> {
        let meta = setup.store.meta()?;
        let mut directory = Directory::new(setup.ca_der);
        for (code, der) in setup.store.certificates()? {
            directory.restore(code, der);
        }
        let mut revoked = RevokedCodes::new();
        for entry in setup.store.revocations()? {
            directory.revoke(entry.code);
            revoked.insert(entry.code);
        }
        let (revoked_tx, revoked) = watch::channel(revoked);
        let keys = directory.ring();
        let counters = setup.store.link_counters()?;
        let (tx, rx) = mpsc::channel(MAX_BATCH * 4);
        // What is on disk at start is durable: the senders may send all of it.
        let durable = counters.iter().map(|(peer, c)| (*peer, c.queued)).collect();
        let (outbox_tx, outbox) = watch::channel(durable);
        let writer = Writer {
            router: Router::new(setup.code, setup.parent, counters, directory),
            store: setup.store,
            code: setup.code,
            key: setup.key,
            clock: setup.clock,
            reference: setup.reference,
            policy: setup.policy,
            meta,
            written: meta,
            failed: None,
            queued: false,
            recheck: false,
            staged: Staged::default(),
            outbox_tx,
            revoked_tx,
        };
        // The write path is synchronous work on sled (transactions, fsync): it gets a thread
        // of its own, so that it never holds up the async tasks that keep links alive.
        std::thread::Builder::new()
            .name(format!("writer-{}", setup.code))
            .spawn(move || writer.run(rx))
            .map_err(|e| StoreError::Corrupt(format!("cannot start the write thread: {e}")))?;
        Ok(Engine {
            tx,
            outbox,
            revoked,
            keys,
        })
    }

    async fn ask<T>(
        &self,
        work: impl FnOnce(oneshot::Sender<Result<T, EngineError>>) -> Work,
    ) -> Result<T, EngineError> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(work(reply)).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Writes and returns the case once the event is durable.
    pub async fn write(&self, actor: Actor, write: Write) -> Result<Case, EngineError> {
        self.write_once(actor, write, None).await
    }

    /// [`Engine::write`], at most once per idempotency key: a key seen before answers the case
    /// its first write produced (as it stands now) and writes nothing, a key seen before with a
    /// different request is refused ([`crate::idempotency`]).
    pub async fn write_once(
        &self,
        actor: Actor,
        write: Write,
        once: Option<Once>,
    ) -> Result<Case, EngineError> {
        self.ask(|reply| Work::Write {
            actor,
            write,
            once,
            reply,
        })
        .await
    }

    /// Checks and applies a batch from a peer; the receipt comes once it is durable.
    pub async fn receive(&self, from: NodeCode, batch: Batch) -> Result<Receipt, EngineError> {
        let checked = Checked::new(batch, &self.keys);
        self.submit(from, checked).await?.await
    }

    /// Hands a checked batch from a peer to the write task without waiting for it to be
    /// applied; the returned future gives the receipt once the batch is durable. Batches handed
    /// in one after another are applied in that order.
    pub async fn submit(
        &self,
        from: NodeCode,
        checked: Checked,
    ) -> Result<impl std::future::Future<Output = Result<Receipt, EngineError>>, EngineError> {
        let (reply, answer) = oneshot::channel();
        let work = Work::Receive {
            from,
            checked,
            reply,
        };
        self.tx.send(work).await.map_err(|_| stopped())?;
        Ok(async move { answer.await.map_err(|_| stopped())? })
    }

    /// The directory's keys, to check peers' batches with ([`Checked::new`]).
    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// Takes a certificate seen in a link handshake into the directory and passes it on;
    /// with `welcome`, also queues the whole directory for that (child) peer.
    pub async fn learn(
        &self,
        code: NodeCode,
        der: Vec<u8>,
        welcome: bool,
    ) -> Result<(), EngineError> {
        self.ask(|reply| Work::Learn {
            code,
            der,
            welcome,
            reply,
        })
        .await
    }

    /// Renumbers the outbox for `peer` to follow `floor`; returns its new last sequence.
    pub async fn rebase(&self, peer: NodeCode, floor: u64) -> Result<u64, EngineError> {
        self.ask(|reply| Work::Rebase { peer, floor, reply }).await
    }

    /// Records a revocation and passes it down the subtree.
    pub async fn revoke(&self, entry: Revoked) -> Result<(), EngineError> {
        self.ask(|reply| Work::Revoke { entry, reply }).await
    }

    /// Drops from the peer's outbox what it acknowledged.
    pub async fn ack(&self, peer: NodeCode, upto: u64) -> Result<(), EngineError> {
        self.ask(|reply| Work::Ack { peer, upto, reply }).await
    }

    /// Broadcasts this node's own catalog and calendar down the subtree where they changed.
    pub async fn publish(&self) -> Result<(), EngineError> {
        self.ask(|reply| Work::Publish { reply }).await
    }

    /// Queues a restore for `child`; returns the link sequence that completes it.
    pub async fn restore_dump(&self, child: NodeCode) -> Result<u64, EngineError> {
        self.ask(|reply| Work::RestoreDump { child, reply }).await
    }

    /// Re-evaluates the clocks of the cases held here, refreshing the summaries that changed
    /// and raising automatic 督办s; returns how many summaries changed. `full` re-evaluates
    /// concluded cases too, for a calendar that may have changed since their summaries.
    pub async fn sweep(&self, full: bool) -> Result<u64, EngineError> {
        self.ask(|reply| Work::Sweep { full, reply }).await
    }

    /// Loads official calendar years (a State Council notice as a calendar file) into this
    /// node's own calendar, broadcasts it down the subtree and re-evaluates every case held
    /// here; returns how many summaries changed, once durable.
    pub async fn load_calendar(&self, text: String) -> Result<u64, EngineError> {
        self.ask(|reply| Work::LoadCalendar { text, reply }).await
    }

    /// Issues a 督办 notice on a case held here or known by its summary; returns the notice's
    /// sequence number once it is durable.
    pub async fn notice(
        &self,
        actor: Actor,
        case_no: CaseNo,
        note: String,
    ) -> Result<u64, EngineError> {
        self.ask(|reply| Work::Notice {
            actor,
            case_no,
            note,
            reply,
        })
        .await
    }

    /// Per peer, the last link sequence queued for it that is durable: what its sender may
    /// send. Changes whenever new items became durable in some outbox.
    pub fn outbox_changes(&self) -> watch::Receiver<Durable> {
        self.outbox.clone()
    }

    /// The codes revoked so far; changes the moment the write task takes a new revocation
    /// (before it is flushed: closing a link promises nothing), so that the links can close
    /// the revoked peer's connection at once.
    pub fn revocations(&self) -> watch::Receiver<RevokedCodes> {
        self.revoked.clone()
    }
}

struct Writer {
    store: Arc<dyn Store>,
    router: Router,
    code: NodeCode,
    key: SigningKey,
    clock: Clock,
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
    outbox_tx: watch::Sender<Durable>,
    revoked_tx: watch::Sender<RevokedCodes>,
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
    /// Takes whatever is queued (up to [`MAX_BATCH`]), applies it, flushes once, answers.
    fn run(mut self, mut rx: mpsc::Receiver<Work>) {
        let mut pending: Vec<Done> = Vec::with_capacity(MAX_BATCH);
        while let Some(first) = rx.blocking_recv() {
            let mut next = Some(first);
            let mut taken = 0;
            while let Some(work) = next.take() {
                if let Some(done) = self.handle(work) {
                    pending.push(done);
                }
                taken += 1;
                next = if taken < MAX_BATCH && self.staged.len() < MAX_STAGED {
                    rx.try_recv().ok()
                } else {
                    None
                };
            }
            // A request that failed half-way (a batch refused after some of its items) leaves
            // changes without a reply waiting: they are written and flushed all the same.
            if !pending.is_empty() || self.unwritten() {
                self.flush(&mut pending);
            }
            // After the flush, so that the batch that brought the calendar is acknowledged
            // without waiting for every case to be re-evaluated.
            if std::mem::take(&mut self.recheck) && self.failed.is_none() {
                if let Err(e) = self.sweep(true) {
                    warn!(error = %e, "re-evaluating clocks after a calendar change failed");
                }
                // The sweep wrote its changes itself: what it queued becomes sendable only
                // with a flush.
                if self.unwritten() || self.queued {
                    self.flush(&mut pending);
                }
            }
        }
    }

    /// Applies one request; a reply that must wait for the flush is returned.
    fn handle(&mut self, work: Work) -> Option<Done> {
        if let Some(reason) = &self.failed {
            let e = || {
                EngineError::Unavailable(format!(
                    "storage failed earlier ({reason}); restart the node"
                ))
            };
            match work {
                Work::Write { reply, .. } => drop(reply.send(Err(e()))),
                Work::Receive { reply, .. } => drop(reply.send(Err(e()))),
                Work::Learn { reply, .. } => drop(reply.send(Err(e()))),
                Work::Rebase { reply, .. }
                | Work::RestoreDump { reply, .. }
                | Work::Sweep { reply, .. }
                | Work::LoadCalendar { reply, .. }
                | Work::Notice { reply, .. } => drop(reply.send(Err(e()))),
                Work::Revoke { reply, .. } | Work::Publish { reply } | Work::Ack { reply, .. } => {
                    drop(reply.send(Err(e())))
                }
            }
            return None;
        }
        match work {
            Work::Write {
                actor,
                write,
                once,
                reply,
            } => match self.apply_once(actor, write, once) {
                Ok(case) => Some(Done::Case(reply, case)),
                Err(e) => {
                    let _ = reply.send(Err(e));
                    None
                }
            },
            Work::Receive {
                from,
                checked,
                reply,
            } => match self.receive(from, checked) {
                Ok(receipt) => Some(Done::Receipt(reply, receipt)),
                Err(e) => {
                    let _ = reply.send(Err(e));
                    None
                }
            },
            Work::Learn {
                code,
                der,
                welcome,
                reply,
            } => match self.learn(code, der, welcome) {
                Ok(()) => Some(Done::Unit(reply)),
                Err(e) => {
                    let _ = reply.send(Err(e));
                    None
                }
            },
            Work::Rebase { peer, floor, reply } => match self.rebase(peer, floor) {
                Ok(last) => Some(Done::Seq(reply, last)),
                Err(e) => {
                    let _ = reply.send(Err(e));
                    None
                }
            },
            Work::Revoke { entry, reply } => {
                let mut change = Change::default();
                match self.take_revocation(entry, None, &mut change) {
                    Ok(()) => {
                        self.commit(self.meta, change);
                        Some(Done::Unit(reply))
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e));
                        None
                    }
                }
            }
            Work::Ack { peer, upto, reply } => {
                // Losing an ack is harmless (the items are sent again), so no flush waits.
                let _ = reply.send(self.store.outbox_ack(peer, upto).map_err(EngineError::from));
                None
            }
            Work::Publish { reply } => match self.publish() {
                Ok(()) => Some(Done::Unit(reply)),
                Err(e) => {
                    let _ = reply.send(Err(e));
                    None
                }
            },
            Work::RestoreDump { child, reply } => match self.restore_dump(child) {
                Ok(upto) => Some(Done::Seq(reply, upto)),
                Err(e) => {
                    let _ = reply.send(Err(e));
                    None
                }
            },
            Work::LoadCalendar { text, reply } => match self.load_calendar(&text) {
                Ok(changed) => Some(Done::Seq(reply, changed)),
                Err(e) => {
                    let _ = reply.send(Err(e));
                    None
                }
            },
            Work::Sweep { full, reply } => match self.sweep(full) {
                Ok(changed) => Some(Done::Seq(reply, changed)),
                Err(e) => {
                    let _ = reply.send(Err(e));
                    None
                }
            },
            Work::Notice {
                actor,
                case_no,
                note,
                reply,
            } => match self.notice(actor, case_no, note) {
                Ok(seq) => Some(Done::Seq(reply, seq)),
                Err(e) => {
                    let _ = reply.send(Err(e));
                    None
                }
            },
        }
    }

    fn flush(&mut self, pending: &mut Vec<Done>) {
        let flushed = self
            .write_staged()
            .and_then(|()| self.store.flush())
            .map_err(|e| e.to_string());
        if let Err(e) = &flushed {
            error!(error = %e, "flush failed: refusing further writes until restart");
            self.failed = Some(e.clone());
        } else if std::mem::take(&mut self.queued) {
            // Published only now: a sender reading the store between the write and the flush
            // would otherwise find items that a crash could still take back.
            self.outbox_tx
                .send_modify(|durable| durable.extend(self.router.queued_all()));
        }
        for done in pending.drain(..) {
            done.send(&flushed);
        }
    }

    /// Takes one change into the group and adopts its counters; the change is written with
    /// the group, before its flush.
    fn commit(&mut self, meta: NodeMeta, change: Change) {
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
        if !self.unwritten() {
            return Ok(());
        }
        let commit = self.staged.take(self.meta);
        if let Err(e) = self.store.commit(&commit) {
            self.failed = Some(e.to_string());
            return Err(e);
        }
        self.written = self.meta;
        Ok(())
    }

    fn unwritten(&self) -> bool {
        !self.staged.is_empty() || self.meta != self.written
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
        let hlc = Hlc::tick(meta.hlc, self.clock.now_ms());
        meta.hlc = hlc;
        meta.last_seq += 1;
        let case_no = match case_no {
            Some(no) => no,
            None => next_case_no(meta, self.code, Date::from_unix_ms(hlc.wall_ms))?,
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
            self.clock.today(),
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

/// The next case number of `day`: `<code>-<yyyymmdd>-<6-digit daily sequence>`.
fn next_case_no(meta: &mut NodeMeta, code: NodeCode, day: Date) -> Result<CaseNo, EngineError> {
    let seq = if meta.case_day == Some(day) {
        meta.case_seq + 1
    } else {
        1
    };
    if seq > CaseNo::MAX_SEQ {
        warn!(%day, "daily case numbers exhausted");
        return Err(EngineError::Unavailable(format!(
            "all {} case numbers of {day} are used",
            CaseNo::MAX_SEQ
        )));
    }
    meta.case_day = Some(day);
    meta.case_seq = seq;
    Ok(CaseNo {
        node: code,
        date: day,
        seq,
    })
}

mod peers;
mod staged;
mod supervise;
#[cfg(test)]
mod tests;
