//! The write path's shell: the core's [`Writer`] (`federation_proto::writer`: sequence, clock,
//! signing, applying peers' batches, the group's change set) on a thread of its own, behind a
//! channel, with the node's clock. [`Engine`] is the handle the API, the links and the CLI's
//! server hold; each request goes down the channel as a [`Work`] and its answer comes back
//! once durable.
//!
//! The thread runs the group commit the core describes: it takes every request waiting in the
//! queue (up to [`MAX_BATCH`], while the group has room), gives each to [`Writer::step`] with
//! the clock's `now`, then [`Writer::commit_group`] writes and flushes the group once, and only
//! then are the waiting answers sent and the newly durable outbox sequences published to the
//! link senders ([`Engine::outbox_changes`]).

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use federation_proto::frame::Batch;
use federation_proto::relay::Certificates;
use federation_proto::{Actor, CaseNo, NodeCode};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::warn;

use crate::case::Case;
use crate::clock::Clock;
use crate::deadline::WarningPolicy;
use crate::idempotency::Once;
use crate::pki::Revoked;
use crate::reference::Reference;
use crate::store::{Store, StoreError};
use crate::verify::{Checked, KeyRing};
pub use federation_proto::writer::{
    Durable, EngineError, Input, Output, Receipt, Resumed, RevokedCodes, SweepFrom, Write, Writer,
    MAX_BATCH, SWEEP_SLICE,
};

/// A request on its way to the write thread, with where its answer goes.
struct Work {
    input: Input,
    reply: Reply,
}

/// Where a request's answer goes.
type Reply = oneshot::Sender<Result<Output, EngineError>>;

fn stopped() -> EngineError {
    EngineError::Unavailable("the write task has stopped".into())
}

/// An answer that waits for the group's flush.
struct Done {
    reply: Reply,
    output: Output,
}

impl Done {
    fn send(self, flushed: &Result<Option<Durable>, String>) {
        let answer = match flushed {
            Ok(_) => Ok(self.output),
            Err(e) => Err(EngineError::Unavailable(format!("flush failed: {e}"))),
        };
        let _ = self.reply.send(answer);
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

impl Setup {
    /// The core writer this setup describes (the store's state as the start-up check left it).
    pub fn writer(&self) -> Result<Writer, StoreError> {
        Writer::new(federation_proto::writer::Setup {
            store: self.store.clone(),
            code: self.code,
            parent: self.parent,
            key: self.key.clone(),
            reference: self.reference.clone(),
            policy: self.policy,
            certificates: Arc::new(crate::pki::FederationCa::new(self.ca_der.clone()))
                as Arc<dyn Certificates>,
        })
    }
}

/// The write thread: the writer, the clock it is given, and where it publishes.
struct Thread {
    writer: Writer,
    clock: Clock,
    outbox_tx: watch::Sender<Durable>,
    revoked_tx: watch::Sender<RevokedCodes>,
    /// The sweep under way, run a slice at a time ([`Thread::sweep_slice`]).
    sweeping: Option<Sweeping>,
}

/// A sweep ([`Engine::sweep`]) the write thread runs a slice at a time, one after each group
/// of other work: the sweep and the requests share the thread until it is done, and no
/// request waits behind more than one slice. A start-up sweep over hundreds of thousands of
/// cases took the thread for seconds in one step — a county back from an outage took its
/// township's backlog only once it was done (perf, `liandong bench` catch-up).
struct Sweeping {
    full: bool,
    from: SweepFrom,
    evaluated: u64,
    changed: u64,
    /// Who asked, answered with the summaries changed once the sweep is done and durable.
    waiting: Vec<Reply>,
}

impl Thread {
    /// Takes whatever is queued (up to [`MAX_BATCH`]), applies it, flushes once, answers; in
    /// between, the slices of a sweep under way.
    fn run(mut self, mut rx: mpsc::Receiver<Work>) {
        let mut pending: Vec<Done> = Vec::with_capacity(MAX_BATCH);
        loop {
            let first = if self.sweeping.is_some() {
                match rx.try_recv() {
                    Ok(work) => Some(work),
                    Err(mpsc::error::TryRecvError::Empty) => None,
                    Err(mpsc::error::TryRecvError::Disconnected) => return,
                }
            } else {
                match rx.blocking_recv() {
                    Some(work) => Some(work),
                    None => return,
                }
            };
            if let Some(first) = first {
                self.group(first, &mut rx, &mut pending);
            }
            self.sweep_slice(&mut pending);
        }
    }

    /// One group: `first` and whatever else is queued, applied, written and flushed once.
    fn group(&mut self, first: Work, rx: &mut mpsc::Receiver<Work>, pending: &mut Vec<Done>) {
        let mut next = Some(first);
        let mut taken = 0;
        while let Some(work) = next.take() {
            if let Some(done) = self.handle(work) {
                pending.push(done);
            }
            taken += 1;
            next = if taken < MAX_BATCH && self.writer.has_room() {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        // A request that failed half-way leaves changes without a reply waiting: they are
        // written and flushed all the same.
        if !pending.is_empty() || self.writer.unwritten() {
            self.commit(pending);
        }
        if self.writer.take_recheck() && self.writer.failed().is_none() {
            let now = self.clock.now_ms();
            if let Err(e) = self.writer.step(now, Input::Sweep { full: true }) {
                warn!(error = %e, "re-evaluating clocks after a calendar change failed");
            }
            // What the sweep queued becomes sendable only with a flush.
            self.commit(pending);
        }
    }

    /// Starts a sweep, or joins the one under way (made full if this one is: from the start).
    fn start_sweep(&mut self, full: bool, reply: Reply) {
        match &mut self.sweeping {
            Some(s) => {
                if full && !s.full {
                    s.full = true;
                    s.from = SweepFrom::Cases(None);
                }
                s.waiting.push(reply);
            }
            None => {
                self.sweeping = Some(Sweeping {
                    full,
                    from: SweepFrom::Cases(None),
                    evaluated: 0,
                    changed: 0,
                    waiting: vec![reply],
                });
            }
        }
    }

    /// Runs the next slice of the sweep under way and commits what it staged; once the sweep
    /// is done, answers who asked after the flush.
    fn sweep_slice(&mut self, pending: &mut Vec<Done>) {
        let Some(mut sweeping) = self.sweeping.take() else {
            return;
        };
        let input = Input::SweepSlice {
            full: sweeping.full,
            from: sweeping.from.clone(),
            limit: SWEEP_SLICE,
        };
        let slice = self
            .writer
            .step(self.clock.now_ms(), input)
            .and_then(Output::slice);
        match slice {
            Ok(slice) => {
                sweeping.evaluated += slice.evaluated;
                sweeping.changed += slice.changed;
                match slice.next {
                    Some(next) => {
                        sweeping.from = next;
                        self.sweeping = Some(sweeping);
                    }
                    None => {
                        if sweeping.full {
                            self.writer
                                .log_full_sweep(sweeping.evaluated, sweeping.changed);
                        }
                        pending.extend(sweeping.waiting.into_iter().map(|reply| Done {
                            reply,
                            output: Output::Seq(sweeping.changed),
                        }));
                    }
                }
            }
            Err(e) => {
                let reason = e.to_string();
                let mut waiting = sweeping.waiting.into_iter();
                if let Some(first) = waiting.next() {
                    let _ = first.send(Err(e));
                }
                for reply in waiting {
                    let _ = reply.send(Err(EngineError::Unavailable(reason.clone())));
                }
            }
        }
        // What the slice refreshed becomes sendable only with a flush.
        if !pending.is_empty() || self.writer.unwritten() {
            self.commit(pending);
        }
    }

    /// Applies one request ([`Writer::step`]); an answer that must wait for the flush is
    /// returned, any other is sent at once. A sweep is not a step: it starts (or joins) the
    /// sweep the thread runs a slice at a time.
    fn handle(&mut self, work: Work) -> Option<Done> {
        let Work { input, reply } = work;
        if let Input::Sweep { full } = input {
            self.start_sweep(full, reply);
            return None;
        }
        let waits = input.waits_for_flush();
        let answer = self.writer.step(self.clock.now_ms(), input);
        if let Some(codes) = self.writer.take_revoked_news() {
            self.revoked_tx.send_replace(codes);
        }
        match answer {
            Ok(output) if waits => Some(Done { reply, output }),
            answer => {
                let _ = reply.send(answer);
                None
            }
        }
    }

    /// Writes and flushes the group, publishes what became sendable, answers the group.
    fn commit(&mut self, pending: &mut Vec<Done>) {
        let flushed = self.writer.commit_group();
        if let Ok(Some(durable)) = &flushed {
            self.outbox_tx
                .send_modify(|sendable| sendable.extend(durable.iter().map(|(p, s)| (*p, *s))));
        }
        for done in pending.drain(..) {
            done.send(&flushed);
        }
    }
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
        let code = setup.code;
        let writer = setup.writer()?;
        let keys = writer.keys();
        let (outbox_tx, outbox) = watch::channel(writer.durable());
        let (revoked_tx, revoked) = watch::channel(writer.revoked().clone());
        let thread = Thread {
            writer,
            clock: setup.clock,
            outbox_tx,
            revoked_tx,
            sweeping: None,
        };
        let (tx, rx) = mpsc::channel(MAX_BATCH * 4);
        // The write path is synchronous work on sled (transactions, fsync): it gets a thread
        // of its own, so that it never holds up the async tasks that keep links alive.
        std::thread::Builder::new()
            .name(format!("writer-{code}"))
            .spawn(move || thread.run(rx))
            .map_err(|e| StoreError::Corrupt(format!("cannot start the write thread: {e}")))?;
        Ok(Engine {
            tx,
            outbox,
            revoked,
            keys,
        })
    }

    /// Sends one request and waits for its answer.
    async fn ask(&self, input: Input) -> Result<Output, EngineError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Work { input, reply })
            .await
            .map_err(|_| stopped())?;
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
        self.ask(Input::Write { actor, write, once }).await?.case()
    }

    /// [`Engine::write_once`] without waiting for the answer: hands the write to the write
    /// task and returns the future of its case, ready once durable. Writes handed in one
    /// after another are applied in that order — a batch of submissions gets its case numbers
    /// in its own order — and those waiting in the queue together share one group commit
    /// (one flush), which is what makes a batch cheap. The caller bounds how many it leaves
    /// waiting.
    pub async fn send_write(
        &self,
        actor: Actor,
        write: Write,
        once: Option<Once>,
    ) -> Result<impl std::future::Future<Output = Result<Case, EngineError>>, EngineError> {
        let (reply, answer) = oneshot::channel();
        let input = Input::Write { actor, write, once };
        self.tx
            .send(Work { input, reply })
            .await
            .map_err(|_| stopped())?;
        Ok(async move { answer.await.map_err(|_| stopped())??.case() })
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
        let input = Input::Receive { from, checked };
        self.tx
            .send(Work { input, reply })
            .await
            .map_err(|_| stopped())?;
        Ok(async move { answer.await.map_err(|_| stopped())??.receipt() })
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
        self.ask(Input::Learn { code, der, welcome }).await?.unit()
    }

    /// Renumbers the outbox for `peer` to follow `floor`; returns its new last sequence.
    pub async fn rebase(&self, peer: NodeCode, floor: u64) -> Result<u64, EngineError> {
        self.ask(Input::Rebase { peer, floor }).await?.seq()
    }

    /// Records a revocation and passes it down the subtree.
    pub async fn revoke(&self, entry: Revoked) -> Result<(), EngineError> {
        self.ask(Input::Revoke { entry }).await?.unit()
    }

    /// Drops from the peer's outbox what it acknowledged.
    pub async fn ack(&self, peer: NodeCode, upto: u64) -> Result<(), EngineError> {
        self.ask(Input::Ack { peer, upto }).await?.unit()
    }

    /// Broadcasts this node's own catalog and calendar down the subtree where they changed.
    pub async fn publish(&self) -> Result<(), EngineError> {
        self.ask(Input::Publish).await?.unit()
    }

    /// Queues a restore for `child`; returns the link sequence that completes it.
    pub async fn restore_dump(&self, child: NodeCode) -> Result<u64, EngineError> {
        self.ask(Input::RestoreDump { child }).await?.seq()
    }

    /// This node's restore begins (`liandong restore`, before it asks its parent): the store
    /// says so, durably, until [`Engine::restored`].
    pub async fn restore_begun(&self) -> Result<(), EngineError> {
        self.ask(Input::RestoreBegun).await?.unit()
    }

    /// This node's restore is complete (`liandong restore`, once the parent's copy is durable
    /// here): its case numbering skips past every number the lost store could have issued
    /// (`federation_proto::writer`'s `numbering.rs`). Answers where it resumes, once durable.
    pub async fn restored(&self) -> Result<Resumed, EngineError> {
        self.ask(Input::Restored).await?.resumed()
    }

    /// Re-evaluates the clocks of the cases held here, refreshing the summaries that changed
    /// and raising automatic 督办s; returns how many summaries changed. `full` re-evaluates
    /// concluded cases too, for a calendar that may have changed since their summaries.
    pub async fn sweep(&self, full: bool) -> Result<u64, EngineError> {
        self.ask(Input::Sweep { full }).await?.seq()
    }

    /// Loads official calendar years (a State Council notice as a calendar file) into this
    /// node's own calendar, broadcasts it down the subtree and re-evaluates every case held
    /// here; returns how many summaries changed, once durable.
    pub async fn load_calendar(&self, text: String) -> Result<u64, EngineError> {
        self.ask(Input::LoadCalendar { text }).await?.seq()
    }

    /// Issues a 督办 notice on a case held here or known by its summary; returns the notice's
    /// sequence number once it is durable.
    pub async fn notice(
        &self,
        actor: Actor,
        case_no: CaseNo,
        note: String,
    ) -> Result<u64, EngineError> {
        self.ask(Input::Notice {
            actor,
            case_no,
            note,
        })
        .await?
        .seq()
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

#[cfg(test)]
mod tests;
