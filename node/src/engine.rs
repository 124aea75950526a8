//! The write path: one thread that turns requests into signed events, applies what peers send,
//! and answers only after a shared flush (group commit).
//!
//! Why one writer: it owns the node's sequence number, hybrid clock, daily case counter and link
//! counters, so events get gapless sequence numbers and increasing clocks without locks, and a
//! check against a case's current state cannot race with another write to the same case.
//!
//! Group commit: the task takes every request waiting in its queue (up to [`MAX_BATCH`]), applies
//! each in its own transaction (visible at once), then flushes once and answers them all. While a
//! flush runs, new requests queue up and form the next batch, so the flush rate adapts to load.
//! A batch received from a peer is acknowledged only after that flush, and outbox senders are
//! woken only after it, so nothing not yet durable ever leaves the node.
//!
//! If a flush fails, nothing since the previous flush can be promised durable: every waiting
//! client gets an error and the engine refuses further writes until the node is restarted (the
//! start-up check then repairs derived data from what did reach the disk).

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use federation_proto::frame::{Batch, Item, Payload, Record, Refusal as LinkRefusal};
use federation_proto::{
    sign, Actor, CaseNo, CaseSummary, Date, Event, EventBody, EventId, Hlc, Intake, NodeCode, Sig,
    Warning,
};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{error, info, info_span, warn};

use crate::case::{Case, Refusal};
use crate::clock::Clock;
use crate::deadline::{self, WarningPolicy};
use crate::pki::Revoked;
use crate::reference::{Kind, Reference};
use crate::relay::{authored_targets, event_bytes, Directory, DirectoryError, Router};
use crate::store::{Commit, NodeMeta, Queued, Store, StoreError};

/// Most requests applied before one flush.
pub const MAX_BATCH: usize = 1024;

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
        reply: oneshot::Sender<Result<Case, EngineError>>,
    },
    Receive {
        from: NodeCode,
        batch: Batch,
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
    outbox: watch::Receiver<u64>,
}

impl Engine {
    /// Starts the write task from the store's checked state.
    pub fn start(setup: Setup) -> Result<Engine, StoreError> {
        let meta = setup.store.meta()?;
        let mut directory = Directory::new(setup.ca_der);
        for (code, der) in setup.store.certificates()? {
            directory.restore(code, der);
        }
        for entry in setup.store.revocations()? {
            directory.revoke(entry.code);
        }
        let counters = setup.store.link_counters()?;
        let (tx, rx) = mpsc::channel(MAX_BATCH * 4);
        let (outbox_tx, outbox) = watch::channel(0);
        let writer = Writer {
            router: Router::new(setup.code, setup.parent, counters, directory),
            store: setup.store,
            code: setup.code,
            key: setup.key,
            clock: setup.clock,
            reference: setup.reference,
            policy: setup.policy,
            meta,
            failed: None,
            queued: false,
            outbox_tx,
        };
        // The write path is synchronous work on sled (transactions, fsync): it gets a thread
        // of its own, so that it never holds up the async tasks that keep links alive.
        std::thread::Builder::new()
            .name(format!("writer-{}", setup.code))
            .spawn(move || writer.run(rx))
            .map_err(|e| StoreError::Corrupt(format!("cannot start the write thread: {e}")))?;
        Ok(Engine { tx, outbox })
    }

    async fn ask<T>(
        &self,
        work: impl FnOnce(oneshot::Sender<Result<T, EngineError>>) -> Work,
    ) -> Result<T, EngineError> {
        let stopped = || EngineError::Unavailable("the write task has stopped".into());
        let (reply, answer) = oneshot::channel();
        self.tx.send(work(reply)).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Writes and returns the case once the event is durable.
    pub async fn write(&self, actor: Actor, write: Write) -> Result<Case, EngineError> {
        self.ask(|reply| Work::Write {
            actor,
            write,
            reply,
        })
        .await
    }

    /// Applies a batch from a peer; the receipt comes once it is durable.
    pub async fn receive(&self, from: NodeCode, batch: Batch) -> Result<Receipt, EngineError> {
        self.ask(|reply| Work::Receive { from, batch, reply }).await
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

    /// Changes whenever new items became durable in some outbox.
    pub fn outbox_changes(&self) -> watch::Receiver<u64> {
        self.outbox.clone()
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
    failed: Option<String>,
    /// Something was queued for a peer since the last flush.
    queued: bool,
    outbox_tx: watch::Sender<u64>,
}

/// One atomic change, owned, before it is turned into a [`Commit`].
#[derive(Default)]
struct Change {
    event: Option<(Event, Option<Case>)>,
    queue: Vec<Queued>,
    received: Option<(NodeCode, u64)>,
    summary: Option<CaseSummary>,
    certificate: Option<(NodeCode, Vec<u8>)>,
    revocation: Option<Revoked>,
    setting: Option<(&'static [u8], Vec<u8>)>,
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
                next = if taken < MAX_BATCH {
                    rx.try_recv().ok()
                } else {
                    None
                };
            }
            if !pending.is_empty() {
                self.flush(&mut pending);
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
                Work::Rebase { reply, .. } | Work::RestoreDump { reply, .. } => {
                    drop(reply.send(Err(e())))
                }
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
                reply,
            } => match self.apply(actor, write) {
                Ok(case) => Some(Done::Case(reply, case)),
                Err(e) => {
                    let _ = reply.send(Err(e));
                    None
                }
            },
            Work::Receive { from, batch, reply } => match self.receive(from, batch) {
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
                let done = self
                    .take_revocation(entry, None, &mut change)
                    .and_then(|()| self.commit(self.meta, change));
                match done {
                    Ok(()) => Some(Done::Unit(reply)),
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
        }
    }

    fn flush(&mut self, pending: &mut Vec<Done>) {
        let flushed = self.store.flush().map_err(|e| e.to_string());
        if let Err(e) = &flushed {
            error!(error = %e, "flush failed: refusing further writes until restart");
            self.failed = Some(e.clone());
        } else if std::mem::take(&mut self.queued) {
            self.outbox_tx.send_modify(|v| *v += 1);
        }
        for done in pending.drain(..) {
            done.send(&flushed);
        }
    }

    /// Writes one change atomically and, once written, adopts its counters.
    fn commit(&mut self, meta: NodeMeta, change: Change) -> Result<(), EngineError> {
        let event = change.event.as_ref().map(|(e, c)| (e, c.as_ref()));
        self.store.commit(&Commit {
            event,
            meta: &meta,
            queue: &change.queue,
            received: change.received,
            summary: change.summary.as_ref(),
            certificate: change
                .certificate
                .as_ref()
                .map(|(c, der)| (*c, der.as_slice())),
            revocation: change.revocation.as_ref(),
            setting: change.setting.as_ref().map(|(k, v)| (*k, v.as_slice())),
        })?;
        self.router.committed(&change.queue, change.received);
        self.queued |= !change.queue.is_empty();
        self.meta = meta;
        Ok(())
    }

    fn apply(&mut self, actor: Actor, write: Write) -> Result<Case, EngineError> {
        let mut meta = self.meta;
        let hlc = Hlc::tick(meta.hlc, self.clock.now_ms());
        meta.hlc = hlc;
        meta.last_seq += 1;
        let (case_no, body, current) = match write {
            Write::Submit(intake) => {
                let case_no = next_case_no(&mut meta, self.code, Date::from_unix_ms(hlc.wall_ms))?;
                (case_no, EventBody::Submit(intake), None)
            }
            Write::Act { case_no, body } => {
                let case = self
                    .store
                    .case(&case_no)?
                    .ok_or(EngineError::NotFound(case_no))?;
                (case_no, body, Some(case))
            }
        };
        let span = info_span!("write", node = %self.code, case = %case_no, action = body.action());
        let _guard = span.enter();
        let mut event = Event {
            id: EventId {
                origin: self.code,
                seq: meta.last_seq,
            },
            hlc,
            case_no,
            actor,
            body,
            sig: Sig::EMPTY,
        };
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
        let mut change = Change::default();
        self.route_authored(&event, &case, &before, &mut change.queue)?;
        self.summarise(&case, hlc, &mut change.queue)?;
        change.event = Some((event, Some(case.clone())));
        self.commit(meta, change)?;
        Ok(case)
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
            for old in self.store.events_of(&case.case_no)? {
                self.router
                    .route_event(&event_bytes(&old)?, &newcomers, None, queue)?;
            }
        }
        let targets = authored_targets(&involved, self.router.parent);
        self.router
            .route_event(&event_bytes(event)?, &targets, None, queue)?;
        Ok(())
    }

    /// Queues the case's status summary for the ancestors when this node owns it.
    fn summarise(
        &self,
        case: &Case,
        as_of: Hlc,
        queue: &mut Vec<Queued>,
    ) -> Result<(), EngineError> {
        if case.owner != self.code || self.router.parent.is_none() {
            return Ok(());
        }
        let clocks = deadline::evaluate(
            case,
            &self.reference.calendar(),
            self.clock.today(),
            &self.policy,
        )
        .ok();
        let summary = CaseSummary {
            case_no: case.case_no,
            item: case.item.clone(),
            department: case.department.clone(),
            accepting_node: case.accepting_node,
            owner: case.owner,
            state: case.state,
            accepted_on: case.accepted_on,
            deadline: clocks.as_ref().and_then(|c| c.promised),
            concluded_on: case.concluded_on,
            warning: clocks.and_then(|c| c.warning).unwrap_or(Warning::Green),
            as_of,
        };
        self.router.route_up(&Item::summary(&summary)?, queue)?;
        Ok(())
    }

    /// Applies a batch from `from`, item by item; one bad item is skipped on its own.
    fn receive(&mut self, from: NodeCode, batch: Batch) -> Result<Receipt, EngineError> {
        // A link with nothing received yet takes the peer's numbering as it comes (a restored
        // node starts empty while its parent's sequence goes on).
        let expected = match self.router.received(from) {
            0 => batch.first,
            n => n + 1,
        };
        let plan = batch.check_sequence(expected).map_err(EngineError::Link)?;
        let mut rejected = Vec::new();
        for (seq, item) in batch.fresh(&plan) {
            match self.receive_item(from, seq, item) {
                Ok(()) => {}
                Err(EngineError::Invalid(reason)) => {
                    warn!(node = %self.code, peer = %from, seq, %reason, "item rejected");
                    self.commit(
                        self.meta,
                        Change {
                            received: Some((from, seq)),
                            ..Change::default()
                        },
                    )?;
                    rejected.push(reason);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Receipt {
            ack_upto: plan.ack_upto(),
            rejected,
        })
    }

    fn receive_item(&mut self, from: NodeCode, seq: u64, item: &Item) -> Result<(), EngineError> {
        let payload = item
            .decode()
            .map_err(|e| EngineError::Invalid(format!("item {seq} from {from}: {e}")))?;
        let mut change = Change {
            received: Some((from, seq)),
            ..Change::default()
        };
        let mut meta = self.meta;
        match payload {
            Payload::Event(event) => {
                self.receive_event(from, item, event, &mut meta, &mut change)?
            }
            Payload::Summary(summary) => self.receive_summary(item, summary, &mut change)?,
            Payload::Record(Record::Certificate { code, der }) => {
                self.take_certificate(code, der, Some(from), &mut change)?
            }
            Payload::Record(Record::Revocation {
                code,
                serials,
                revoked_at,
            }) => {
                if Some(from) != self.router.parent {
                    return Err(EngineError::Invalid(format!(
                        "revocation of {code} from {from}: revocations come only from above"
                    )));
                }
                let entry = Revoked {
                    code,
                    serials,
                    revoked_at,
                };
                self.take_revocation(entry, Some(from), &mut change)?;
            }
            Payload::Record(Record::Catalog(text)) => {
                self.take_reference(Kind::Catalog, text, from, &mut change)?
            }
            Payload::Record(Record::Calendar(text)) => {
                self.take_reference(Kind::Calendar, text, from, &mut change)?
            }
        }
        self.commit(meta, change)
    }

    fn receive_event(
        &mut self,
        from: NodeCode,
        item: &Item,
        event: Event,
        meta: &mut NodeMeta,
        change: &mut Change,
    ) -> Result<(), EngineError> {
        let origin = event.id.origin;
        let key = self.router.directory.key(origin).ok_or_else(|| {
            EngineError::Invalid(format!(
                "event {origin}:{} has no certificate for its origin in the directory",
                event.id.seq
            ))
        })?;
        sign::verify(&event, key)
            .map_err(|e| EngineError::BadSignature(format!("{e} (relayed by {from})")))?;
        self.router
            .route_event(&item.bytes, &item.to, Some(from), &mut change.queue)?;
        if self.store.has_event(&event.id)? {
            return Ok(());
        }
        meta.hlc = Hlc::observe(meta.hlc, event.hlc);
        if origin == self.code {
            // Our own event coming back: a restore from the parent's copy. Never reuse its
            // sequence number, nor the case number of a submission.
            meta.last_seq = meta.last_seq.max(event.id.seq);
            if let EventBody::Submit(_) = event.body {
                let no = event.case_no;
                if meta.case_day.is_none_or(|d| d < no.date) {
                    (meta.case_day, meta.case_seq) = (Some(no.date), no.seq);
                } else if meta.case_day == Some(no.date) {
                    meta.case_seq = meta.case_seq.max(no.seq);
                }
            }
        }
        let case = self.fold_in(&event)?;
        if let Some(case) = &case {
            self.summarise(case, meta.hlc, &mut change.queue)?;
        }
        change.event = Some((event, case));
        Ok(())
    }

    /// The case with `event` folded in: incrementally when it comes last in fold order, else
    /// from all the case's events (a late arrival).
    fn fold_in(&self, event: &Event) -> Result<Option<Case>, EngineError> {
        if let Some(mut case) = self.store.case(&event.case_no)? {
            let last = case.log.last().map(|l| (l.hlc, l.id.origin, l.id.seq));
            if last.is_none_or(|l| l < event.fold_key()) {
                case.apply(event);
                return Ok(Some(case));
            }
        }
        let mut events = self.store.events_of(&event.case_no)?;
        events.push(event.clone());
        Ok(Case::fold(&events))
    }

    fn receive_summary(
        &mut self,
        item: &Item,
        summary: CaseSummary,
        change: &mut Change,
    ) -> Result<(), EngineError> {
        let newer = self
            .store
            .summary(&summary.case_no)?
            .is_none_or(|held| held.as_of < summary.as_of);
        if newer {
            self.router.route_up(item, &mut change.queue)?;
            change.summary = Some(summary);
        }
        Ok(())
    }

    fn learn(&mut self, code: NodeCode, der: Vec<u8>, welcome: bool) -> Result<(), EngineError> {
        let mut change = Change::default();
        self.take_certificate(code, der, Some(code), &mut change)?;
        if welcome {
            self.welcome(code, &mut change.queue)?;
        }
        self.commit(self.meta, change)
    }

    fn rebase(&mut self, peer: NodeCode, floor: u64) -> Result<u64, EngineError> {
        let last = self.store.outbox_rebase(peer, floor)?;
        warn!(node = %self.code, %peer, floor, last, "outbox renumbered: the peer held more than we had queued");
        self.router.rebased(peer, last);
        self.queued = true;
        Ok(last)
    }

    /// Queues, addressed to `child`, every event it authored and every event of the cases it
    /// is involved in: what a child whose store was lost needs back.
    fn restore_dump(&mut self, child: NodeCode) -> Result<u64, EngineError> {
        let mut change = Change::default();
        let own = self.store.events_by_origin(child)?;
        let mut seen: std::collections::HashSet<EventId> = own.iter().map(|e| e.id).collect();
        for event in &own {
            self.router
                .route_event(&event_bytes(event)?, &[child], None, &mut change.queue)?;
        }
        for case in self.store.cases() {
            let case = case?;
            if !case.involved().contains(&child) {
                continue;
            }
            for event in self.store.events_of(&case.case_no)? {
                if seen.insert(event.id) {
                    self.router.route_event(
                        &event_bytes(&event)?,
                        &[child],
                        None,
                        &mut change.queue,
                    )?;
                }
            }
        }
        info!(node = %self.code, %child, items = change.queue.len(), "restore queued for child");
        self.commit(self.meta, change)?;
        Ok(self.router.queued(child))
    }

    /// Queues for a child that has just connected the whole directory and the catalog and
    /// calendar in force here, when they are not simply the built-in ones.
    fn welcome(&self, child: NodeCode, queue: &mut Vec<Queued>) -> Result<(), EngineError> {
        for kind in [Kind::Catalog, Kind::Calendar] {
            let text = match self.reference.own(kind) {
                Some(own) => Some(own.to_string()),
                None => self
                    .store
                    .setting(kind.received_key())?
                    .and_then(|b| String::from_utf8(b).ok()),
            };
            if let Some(text) = text {
                let item = Item::record(&reference_record(kind, &text))?;
                self.router.enqueue(child, &item, queue)?;
            }
        }
        for (code, der) in self.router.directory.certificates() {
            if code != child {
                let record = Record::Certificate {
                    code,
                    der: der.to_vec(),
                };
                self.router.enqueue(child, &Item::record(&record)?, queue)?;
            }
        }
        Ok(())
    }

    /// A catalog or calendar broadcast by the parent: adopted (unless this node has its own
    /// file), kept, and passed down.
    fn take_reference(
        &mut self,
        kind: Kind,
        text: String,
        from: NodeCode,
        change: &mut Change,
    ) -> Result<(), EngineError> {
        if Some(from) != self.router.parent {
            return Err(EngineError::Invalid(format!(
                "{kind:?} from {from}: reference data comes only from above"
            )));
        }
        let adopted = self
            .reference
            .adopt(kind, &text)
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        if adopted {
            info!(node = %self.code, ?kind, "adopted the parent's broadcast");
            self.router.broadcast_down(
                &reference_record(kind, &text),
                Some(from),
                &mut change.queue,
            )?;
            change.setting = Some((kind.received_key(), text.into_bytes()));
        }
        Ok(())
    }

    /// Broadcasts each own file that differs from what was last broadcast.
    fn publish(&mut self) -> Result<(), EngineError> {
        for kind in [Kind::Catalog, Kind::Calendar] {
            let Some(text) = self.reference.own(kind).map(str::to_string) else {
                continue;
            };
            if self.store.setting(kind.sent_key())?.as_deref() == Some(text.as_bytes()) {
                continue;
            }
            let mut change = Change::default();
            self.router
                .broadcast_down(&reference_record(kind, &text), None, &mut change.queue)?;
            info!(node = %self.code, ?kind, children = change.queue.len(), "broadcasting own file down");
            change.setting = Some((kind.sent_key(), text.into_bytes()));
            self.commit(self.meta, change)?;
        }
        Ok(())
    }

    fn take_revocation(
        &mut self,
        entry: Revoked,
        from: Option<NodeCode>,
        change: &mut Change,
    ) -> Result<(), EngineError> {
        if !self.router.directory.revoke(entry.code) {
            return Ok(());
        }
        warn!(node = %self.code, code = %entry.code, revoked_at = %entry.revoked_at, "node revoked: its links are refused and its events no longer verify");
        let record = Record::Revocation {
            code: entry.code,
            serials: entry.serials.clone(),
            revoked_at: entry.revoked_at.clone(),
        };
        self.router
            .broadcast_down(&record, from, &mut change.queue)?;
        change.revocation = Some(entry);
        Ok(())
    }

    fn take_certificate(
        &mut self,
        code: NodeCode,
        der: Vec<u8>,
        from: Option<NodeCode>,
        change: &mut Change,
    ) -> Result<(), EngineError> {
        let new = self
            .router
            .directory
            .learn(code, &der)
            .map_err(|e: DirectoryError| EngineError::Invalid(e.to_string()))?;
        if new {
            info!(node = %self.code, %code, "certificate added to the directory");
            let record = Record::Certificate {
                code,
                der: der.clone(),
            };
            self.router.flood(&record, from, &mut change.queue)?;
            change.certificate = Some((code, der));
        }
        Ok(())
    }
}

fn reference_record(kind: Kind, text: &str) -> Record {
    match kind {
        Kind::Catalog => Record::Catalog(text.to_string()),
        Kind::Calendar => Record::Calendar(text.to_string()),
    }
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::fixtures::intake;
    use crate::store::SledStore;

    fn actor() -> Actor {
        Actor {
            name: "t".into(),
            department: None,
        }
    }

    fn start(dir: &std::path::Path) -> (Arc<SledStore>, Engine) {
        let store = Arc::new(SledStore::open(dir, 1 << 20).unwrap());
        let engine = Engine::start(Setup {
            store: store.clone(),
            code: "350322".parse().unwrap(),
            parent: None,
            key: SigningKey::from_bytes(&[7; 32]),
            clock: Clock::system(),
            reference: Arc::new(Reference::new(None, None, None, None).unwrap()),
            policy: WarningPolicy::default(),
            ca_der: None,
        })
        .unwrap();
        (store, engine)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_share_flushes() {
        let dir = tempfile::tempdir().unwrap();
        let (probe, engine) = start(dir.path());
        let writes: Vec<_> = (0..200)
            .map(|_| {
                let engine = engine.clone();
                tokio::spawn(async move { engine.write(actor(), Write::Submit(intake())).await })
            })
            .collect();
        let mut numbers = Vec::new();
        for w in writes {
            numbers.push(w.await.unwrap().unwrap().case_no.seq);
        }
        numbers.sort_unstable();
        assert_eq!(numbers, (1..=200).collect::<Vec<u32>>());
        let flushes = probe.flush_count();
        assert!(
            flushes < 200,
            "{flushes} flushes for 200 writes: no group commit"
        );
        assert_eq!(probe.event_count(), 200);
    }

    #[tokio::test]
    async fn a_failed_flush_answers_an_error_and_stops_writes() {
        let dir = tempfile::tempdir().unwrap();
        let (probe, engine) = start(dir.path());
        let case = engine
            .write(actor(), Write::Submit(intake()))
            .await
            .unwrap();
        probe.fail_flushes.store(true, Ordering::SeqCst);
        let act = || Write::Act {
            case_no: case.case_no,
            body: EventBody::Review,
        };
        let err = engine.write(actor(), act()).await.unwrap_err();
        assert!(err.to_string().contains("flush failed"), "{err}");
        probe.fail_flushes.store(false, Ordering::SeqCst);
        let err = engine.write(actor(), act()).await.unwrap_err();
        assert!(err.to_string().contains("restart"), "{err}");
    }

    #[tokio::test]
    async fn a_refused_action_burns_no_sequence_number() {
        let dir = tempfile::tempdir().unwrap();
        let (probe, engine) = start(dir.path());
        let case = engine
            .write(actor(), Write::Submit(intake()))
            .await
            .unwrap();
        let certify = Write::Act {
            case_no: case.case_no,
            body: EventBody::Certify {
                certificate_no: "C".into(),
            },
        };
        assert!(matches!(
            engine.write(actor(), certify).await,
            Err(EngineError::Refused(_))
        ));
        let review = Write::Act {
            case_no: case.case_no,
            body: EventBody::Review,
        };
        let case = engine.write(actor(), review).await.unwrap();
        assert_eq!(
            case.log.iter().map(|l| l.id.seq).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(probe.meta().unwrap().last_seq, 2);
    }

    /// A federation CA and a certificate for `code` with `key`, as DER.
    fn ca_and_cert(dir: &std::path::Path, code: &str, key: &SigningKey) -> (Vec<u8>, Vec<u8>) {
        let ca = crate::pki::new_ca(Some("test")).unwrap();
        let pem = dir.join("ca.crt");
        std::fs::write(&pem, &ca.cert_pem).unwrap();
        let ca_der = crate::pki::read_cert_pem(&pem).unwrap();
        let authority = crate::pki::Authority::new(ca_der.clone(), &ca.key_pem).unwrap();
        let cert = authority
            .issue(code.parse().unwrap(), &key.verifying_key(), 30)
            .unwrap();
        (ca_der, cert.der)
    }

    fn township_event(key: &SigningKey, seq: u64, body: EventBody) -> Event {
        let origin: NodeCode = "350322101".parse().unwrap();
        let mut event = Event {
            id: EventId { origin, seq },
            hlc: Hlc {
                wall_ms: 1_759_194_000_000 + seq,
                counter: 0,
            },
            case_no: CaseNo {
                node: origin,
                date: "2025-09-30".parse().unwrap(),
                seq: 1,
            },
            actor: actor(),
            body,
            sig: Sig::EMPTY,
        };
        sign::sign(&mut event, key);
        event
    }

    fn item(event: &Event, to: &[&str]) -> Item {
        Item::event(event)
            .unwrap()
            .addressed(to.iter().map(|c| c.parse().unwrap()).collect())
    }

    #[tokio::test]
    async fn peers_batches_are_verified_item_by_item() {
        let dir = tempfile::tempdir().unwrap();
        let township = SigningKey::from_bytes(&[9; 32]);
        let (ca_der, cert) = ca_and_cert(dir.path(), "350322101", &township);
        let store = Arc::new(SledStore::open(&dir.path().join("db"), 1 << 20).unwrap());
        let engine = Engine::start(Setup {
            store: store.clone(),
            code: "350322".parse().unwrap(),
            parent: Some("350300".parse().unwrap()),
            key: SigningKey::from_bytes(&[7; 32]),
            clock: Clock::system(),
            reference: Arc::new(Reference::new(None, None, None, None).unwrap()),
            policy: WarningPolicy::default(),
            ca_der: Some(ca_der),
        })
        .unwrap();
        let from: NodeCode = "350322101".parse().unwrap();
        engine.learn(from, cert, false).await.unwrap();

        let submit = township_event(&township, 1, EventBody::Submit(intake()));
        let review = township_event(&township, 2, EventBody::Review);
        let garbage = Item {
            kind: federation_proto::frame::PayloadKind::Event,
            to: vec![],
            bytes: vec![1, 2, 3],
        };
        let impostor = {
            let mut e = township_event(&SigningKey::from_bytes(&[5; 32]), 3, EventBody::Withdraw);
            e.id.origin = "350322102".parse().unwrap();
            e
        };
        let batch = Batch {
            first: 1,
            items: vec![
                item(&submit, &["350322", "350300"]),
                garbage,
                item(&impostor, &["350322"]),
                item(&review, &["350322"]),
            ],
        };
        let receipt = engine.receive(from, batch.clone()).await.unwrap();
        assert_eq!(receipt.ack_upto, 4);
        assert_eq!(receipt.rejected.len(), 2, "{:?}", receipt.rejected);
        assert!(store.has_event(&submit.id).unwrap() && store.has_event(&review.id).unwrap());
        let case = store.case(&submit.case_no).unwrap().unwrap();
        assert_eq!(case.state, federation_proto::State::InReview);
        // The submission was addressed beyond us too: relayed to the parent, once.
        assert_eq!(
            store.outbox_depth("350300".parse().unwrap()),
            2,
            "certificate + event"
        );

        // A replay of the same batch changes nothing.
        let events = store.event_count();
        assert_eq!(engine.receive(from, batch).await.unwrap().ack_upto, 4);
        assert_eq!(store.event_count(), events);

        // A gap is refused: data would be lost.
        let later = Batch {
            first: 9,
            items: vec![item(&review, &["350322"])],
        };
        assert!(matches!(
            engine.receive(from, later).await,
            Err(EngineError::Link(_))
        ));

        // An event altered on the way: the link must close.
        let mut altered = township_event(&township, 3, EventBody::Withdraw);
        altered.body = EventBody::Review;
        let batch = Batch {
            first: 5,
            items: vec![item(&altered, &["350322"])],
        };
        assert!(matches!(
            engine.receive(from, batch).await,
            Err(EngineError::BadSignature(_))
        ));
        assert!(!store.has_event(&altered.id).unwrap());
    }
}
