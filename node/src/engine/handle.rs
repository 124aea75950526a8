//! The handle to the write task ([`Engine`]): the requests it takes ([`Work`]: an [`Input`]
//! and where its answer goes), the answers that wait for the flush ([`Done`]), and how the task
//! is started ([`Setup`]). Each request
//! goes down one channel to the writer's thread; its answer comes back once durable.

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use federation_proto::frame::Batch;
use federation_proto::{Actor, CaseNo, NodeCode};
use tokio::sync::{mpsc, oneshot, watch};

use super::staged::Staged;
use super::step::{Input, Output};
use super::{Durable, EngineError, Receipt, RevokedCodes, Write, Writer, MAX_BATCH};
use crate::case::Case;
use crate::clock::Clock;
use crate::deadline::WarningPolicy;
use crate::idempotency::Once;
use crate::pki::Revoked;
use crate::reference::Reference;
use crate::relay::{Directory, Router};
use crate::store::{Store, StoreError};
use crate::verify::{Checked, KeyRing};

/// A request on its way to the write task, with where its answer goes.
pub(super) struct Work {
    pub(super) input: Input,
    pub(super) reply: Reply,
}

/// Where a request's answer goes.
pub(super) type Reply = oneshot::Sender<Result<Output, EngineError>>;

fn stopped() -> EngineError {
    EngineError::Unavailable("the write task has stopped".into())
}

/// An answer that waits for the group's flush.
pub(super) struct Done {
    pub(super) reply: Reply,
    pub(super) output: Output,
}

impl Done {
    pub(super) fn send(self, flushed: &Result<(), String>) {
        let answer = match flushed {
            Ok(()) => Ok(self.output),
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
        let (writer, outbox, revoked, keys) = Writer::new(setup)?;
        let (tx, rx) = mpsc::channel(MAX_BATCH * 4);
        // The write path is synchronous work on sled (transactions, fsync): it gets a thread
        // of its own, so that it never holds up the async tasks that keep links alive.
        std::thread::Builder::new()
            .name(format!("writer-{code}"))
            .spawn(move || writer.run(rx))
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

impl Writer {
    /// The writer, from the store's checked state, with what its handle reads: the durable
    /// outboxes, the revoked codes and the directory's keys.
    pub(super) fn new(
        setup: Setup,
    ) -> Result<
        (
            Writer,
            watch::Receiver<Durable>,
            watch::Receiver<RevokedCodes>,
            KeyRing,
        ),
        StoreError,
    > {
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
        Ok((writer, outbox, revoked, keys))
    }
}
