//! One link connection, from authorisation to close: the tokio shell around the link
//! protocol's state machine ([`federation_proto::link::Link`]), which decides everything the
//! protocol says — hellos, where to resume, the window, acks, pings, timeouts, what closes the
//! link. This file only moves bytes and calls the engine:
//!
//! 1. **Who is it?** The peer's code comes from its certificate. A dialled peer must be the
//!    configured parent; an accepted one a direct child that is not revoked.
//! 2. **Streams.** The child opens the control stream; each side opens its own unidirectional
//!    bulk stream once the link is up. One task reads each incoming stream and one writes each
//!    outgoing one, so control traffic never waits behind bulk data; the driver
//!    ([`Session::drive`]) owns the state machine and feeds it what the tasks and the engine
//!    report.
//! 3. **Durability.** What the hello announces as held is flushed first; a received batch is
//!    checked off the write thread, handed to the engine without waiting for the one before
//!    (up to [`federation_proto::link::PIPELINE`]), and acknowledged in order, each once the
//!    engine made it durable; the outbox is sent only up to what the engine published as
//!    durable ([`crate::engine::Engine::outbox_changes`]).
//!
//! A bad signature, a sequence gap or a malformed frame closes the connection; the child dials
//! again and the fresh hello settles where to resume.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use federation_proto::frame::{
    encode_batch_frame_into, encode_frame_into, Batch, Frame, FrameError, FrameReader, Opening,
    Refusal, RefuseCode, StreamKind, MAX_FRAME_BYTES,
};
use federation_proto::link::{self, BulkPermit, Event, Link, LinkError, Side};
use federation_proto::route::direct_child_of;
use federation_proto::{Holds, NodeCode};
use quinn::{Connection, RecvStream, SendStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tracing::{error, info, warn, Instrument};

use super::{tls, Role, Shared};
use crate::engine::{Durable, EngineError, Receipt};
use crate::pki::Revocations;
use crate::verify::Checked;

/// Bytes per batch frame we aim to stay under.
const BATCH_BYTES: usize = MAX_FRAME_BYTES / 2;
/// Control frames waiting for the control stream's writer.
const CONTROL_QUEUE: usize = 64;

/// The receipt of a batch handed to the engine, once it is durable.
type PendingReceipt =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Receipt, EngineError>> + Send>>;

/// What a reading task saw on its stream.
enum Incoming<T> {
    Frame(T),
    /// A clean end of the stream.
    End,
}

pub(crate) struct Session {
    conn: Connection,
    peer: NodeCode,
    role: Role,
    shared: Arc<Shared>,
    /// When the hellos were exchanged and the link came up.
    up_since: std::sync::OnceLock<Instant>,
}

impl Session {
    /// Runs the link until it closes; every failure is logged with its reason (a refusal
    /// repeated by the same peer once a minute). Returns when the link came up, if it did: the
    /// dial loop backs off further from a parent that refuses us than from one that dropped.
    pub async fn run(conn: Connection, role: Role, shared: Arc<Shared>) -> Option<Instant> {
        let (peer, der) = match tls::peer_code(&conn) {
            Ok(p) => p,
            Err(e) => {
                warn!(remote = %conn.remote_address(), error = %format!("{e:#}"), "link refused: no usable certificate");
                conn.close(1u32.into(), b"no usable certificate");
                return None;
            }
        };
        let span = tracing::info_span!("link", node = %shared.code, %peer, role = ?role);
        let session = Session {
            conn,
            peer,
            role,
            shared,
            up_since: std::sync::OnceLock::new(),
        };
        async move {
            if let Err(reason) = session.authorise() {
                let said = session
                    .shared
                    .refusals
                    .lock()
                    .ok()
                    .and_then(|mut r| r.check(&peer, Instant::now()));
                if let Some(held_back) = said {
                    warn!(%reason, held_back, "link refused");
                }
                session.conn.close(2u32.into(), reason.message.as_bytes());
                return None;
            }
            let result = session.serve(der).await;
            let mine = session.conn.stable_id();
            // Closed by `close_revoked`: say why, not how the streams noticed.
            let revoked =
                role == Role::Child && session.shared.engine.revocations().borrow().contains(&peer);
            session.shared.update(peer, role, |s| {
                if s.current.as_ref().is_none_or(|c| c.stable_id() == mine) {
                    s.connected = false;
                    s.current = None;
                    s.control = None;
                    s.last_error = match &result {
                        _ if revoked => Some("certificate revoked".into()),
                        Ok(()) => None,
                        Err(e) => Some(format!("{e:#}")),
                    };
                }
            });
            match result {
                Ok(()) => info!("link closed"),
                Err(e) => warn!(error = %format!("{e:#}"), "link closed"),
            }
            session.up_since.get().copied()
        }
        .instrument(span)
        .await
    }

    /// The link policy: the configured parent, or a direct child that is not revoked.
    fn authorise(&self) -> Result<(), Refusal> {
        let me = self.shared.code;
        match self.role {
            Role::Parent if Some(self.peer) != self.shared.parent => Err(Refusal::new(
                RefuseCode::NotParent,
                format!(
                    "{} is not the configured parent {:?}",
                    self.peer, self.shared.parent
                ),
            )),
            Role::Parent => Ok(()),
            Role::Child if !direct_child_of(me, self.peer) => Err(Refusal::new(
                RefuseCode::NotChild,
                format!("{} is not a direct child of {me}", self.peer),
            )),
            Role::Child => self.check_revoked(),
        }
    }

    fn check_revoked(&self) -> Result<(), Refusal> {
        let revoked = |why: &str| {
            Refusal::new(
                RefuseCode::Revoked,
                format!("the certificate of {} is revoked ({why})", self.peer),
            )
        };
        match self.shared.store.is_revoked(self.peer) {
            Ok(true) => return Err(revoked("revocation recorded")),
            Ok(false) => {}
            Err(e) => return Err(revoked(&format!("cannot read revocations: {e}"))),
        }
        let path = &self.shared.revocations;
        if !path.exists() {
            return Ok(());
        }
        match Revocations::load(path) {
            Ok(r) if r.is_revoked(self.peer) => Err(revoked("listed in revoked.toml")),
            Ok(_) => Ok(()),
            Err(e) => Err(Refusal::new(
                RefuseCode::Revoked,
                format!("cannot read the revocation list, refusing links: {e}"),
            )),
        }
    }

    /// Opens the control stream, starts its reader and writer, and drives the link.
    async fn serve(&self, der: Vec<u8>) -> Result<()> {
        let (control_tx, control_rx) = match self.role {
            Role::Parent => self.conn.open_bi().await?,
            Role::Child => self.conn.accept_bi().await?,
        };
        // What we announce as held must be durable: the peer drops it from its outbox.
        let store = self.shared.store.clone();
        tokio::task::spawn_blocking(move || store.flush()).await??;
        let counters = self.shared.store.link_counters()?;
        let ours = counters.get(&self.peer).copied().unwrap_or_default();
        let side = match self.role {
            Role::Parent => Side::Child,
            Role::Child => Side::Parent,
        };
        let config = link::Config {
            me: self.shared.code,
            peer: self.peer,
            side,
            holds: Holds {
                received_upto: ours.received,
                queued_upto: ours.queued,
            },
            restore: side == Side::Child && self.shared.restore.is_some(),
        };
        let mut tasks = JoinSet::new();
        let (control_out, frames) = mpsc::channel(CONTROL_QUEUE);
        tasks.spawn(write_control(control_tx, frames).in_current_span());
        // One reader for the control stream's whole life: what arrived with the peer's hello
        // (a restoring child sends `Restore` right behind it) must not be dropped with a reader
        // of the hello's own — that lost restores now and then (tests/attacks.rs).
        let (control_in_tx, control_in) = mpsc::channel(CONTROL_QUEUE);
        tasks.spawn(read_control(control_rx, control_in_tx).in_current_span());
        let io = Io {
            origin: Instant::now(),
            tasks,
            control_out,
            control_in,
            bulk_in: None,
            bulk_out: None,
            submit: None,
            outcomes: None,
            der: Some(der),
        };
        let mut link = Link::new(config, 0);
        self.drive(&mut link, io).await
    }

    /// The driver: feeds the state machine what arrives, carries out what it asks, until it
    /// closes.
    async fn drive(&self, link: &mut Link, mut io: Io) -> Result<()> {
        let mut changes = self.shared.engine.outbox_changes();
        let (outgoing_tx, mut outgoing) = mpsc::channel::<Frame>(CONTROL_QUEUE);
        loop {
            while let Some(event) = link.poll_event() {
                self.on_event(event, link, &mut io, &outgoing_tx).await?;
            }
            while let Some(frame) = link.poll_transmit() {
                io.control_out
                    .send(ControlOut::Frame(frame))
                    .await
                    .context("control out: the writer stopped")?;
            }
            if let Some(why) = link.closed() {
                return self.closed(why.clone(), &io).await;
            }
            link.handle_outbox(durable_for(&changes.borrow_and_update(), self.peer));
            let permit = link.poll_bulk().filter(|_| io.bulk_out.is_some());
            let wants_batch = link.wants_batch() && io.bulk_in.is_some();
            let deadline = link
                .poll_timeout()
                .map(|ms| io.origin + Duration::from_millis(ms));
            tokio::select! {
                incoming = io.control_in.recv() => {
                    let now = io.now();
                    match incoming.context("control in: the reader stopped")?? {
                        Incoming::Frame(Opening::Frame(frame)) => {
                            link.handle_frame(now, StreamKind::Control, frame)
                        }
                        Incoming::Frame(opening) => link.handle_opening(now, opening),
                        Incoming::End => link.handle_end(StreamKind::Control),
                    }
                    self.shared.update(self.peer, self.role, |s| {
                        s.last_seen = Some(Instant::now())
                    });
                }
                incoming = recv_some(&mut io.bulk_in), if wants_batch => {
                    match incoming.context("receiving: the reader stopped")?? {
                        Incoming::Frame(frame) => link.handle_frame(io.now(), StreamKind::Bulk, frame),
                        Incoming::End => link.handle_end(StreamKind::Bulk),
                    }
                }
                outcome = recv_some(&mut io.outcomes) => {
                    let outcome = outcome.context("receiving: the engine stopped")?;
                    if let (Ok(Ok(upto)), Some(progress)) = (&outcome, &self.shared.restore) {
                        if self.shared.parent == Some(self.peer) {
                            progress.send_modify(|p| p.received = p.received.max(*upto));
                        }
                    }
                    link.handle_receipt(outcome?);
                }
                sending = reserve_some(&io.bulk_out), if permit.is_some() => {
                    let Some(permit_to_send) = permit else { continue };
                    let sending = sending.context("sending: the writer stopped")?;
                    match self.next_batch(permit_to_send)? {
                        Some((first, last, bytes)) => {
                            sending.send(bytes);
                            link.bulk_sent(first, last);
                        }
                        None => link.bulk_empty(),
                    }
                }
                changed = changes.changed() => changed.context("the engine stopped")?,
                frame = outgoing.recv() => {
                    if let Some(frame) = frame {
                        link.send(frame);
                    }
                }
                _ = sleep_until(deadline), if deadline.is_some() => link.handle_timeout(io.now()),
                Some(done) = io.tasks.join_next() => match done {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Err(e),
                    Err(e) => bail!("a link task failed: {e}"),
                },
            }
        }
    }

    /// Carries out one thing the state machine asks.
    async fn on_event(
        &self,
        event: Event,
        link: &mut Link,
        io: &mut Io,
        outgoing: &mpsc::Sender<Frame>,
    ) -> Result<()> {
        match event {
            Event::Up(up) => {
                let theirs = up.theirs.holds;
                if let Some(floor) = up.rebase {
                    // Our store was restored (or lost its outbox): the peer already holds more
                    // from us than we ever queued in this life, so what we queue now must
                    // number after it.
                    self.shared.engine.rebase(self.peer, floor).await?;
                }
                let der = io.der.take().unwrap_or_default();
                self.shared
                    .engine
                    .learn(self.peer, der, up.welcome)
                    .await
                    .context("taking the peer's certificate")?;
                self.shared
                    .engine
                    .ack(self.peer, theirs.received_upto)
                    .await?;
                self.registered(outgoing, theirs.received_upto, up.features)?;
                let _ = self.up_since.set(Instant::now());
                info!(
                    they_hold = theirs.received_upto,
                    they_queued = theirs.queued_upto,
                    features = up.features,
                    "link up"
                );
                self.start_bulk(io).await?;
            }
            Event::Acked(upto) => {
                self.shared.engine.ack(self.peer, upto).await?;
                self.shared.acked.notify_waiters();
                self.shared
                    .update(self.peer, self.role, |s| s.last_ack = upto);
            }
            Event::Batch(batch) => {
                let Some(batches) = io.submit.clone() else {
                    bail!("a batch before the bulk stream started");
                };
                batches
                    .send(batch)
                    .await
                    .context("receiving: the checker stopped")?;
            }
            Event::RestoreRequested => {
                let upto = self.shared.engine.restore_dump(self.peer).await?;
                link.restore_queued(upto);
            }
            Event::RestoreQueued(upto) => {
                if let Some(progress) = &self.shared.restore {
                    progress.send_modify(|p| p.queued = Some(upto));
                }
            }
            Event::Pull {
                request,
                deadline_ms,
            } => {
                let (shared, outgoing, parent) = (self.shared.clone(), outgoing.clone(), self.peer);
                tokio::spawn(
                    async move {
                        let done = shared.answer_pull(parent, request, deadline_ms).await;
                        let _ = outgoing.send(done).await;
                    }
                    .in_current_span(),
                );
            }
            Event::PullDone { request, nodes } => self.shared.pull_done(self.peer, request, nodes),
            Event::Ignored(frame) => info!(frame, "control frame not handled by this version"),
        }
        Ok(())
    }

    /// Puts the live connection in the registry (closing one it replaces), with the channel
    /// pulls send on.
    fn registered(
        &self,
        outgoing: &mpsc::Sender<Frame>,
        last_ack: u64,
        features: u64,
    ) -> Result<()> {
        let mine = self.conn.stable_id();
        self.shared.update(self.peer, self.role, |s| {
            if let Some(old) = s.current.replace(self.conn.clone()) {
                if old.stable_id() != mine {
                    old.close(4u32.into(), b"replaced by a new connection");
                }
            }
            s.connected = true;
            s.connections += 1;
            s.last_ack = last_ack;
            s.last_error = None;
            s.features = features;
            s.control = Some(outgoing.clone());
            s.last_seen = Some(Instant::now());
        });
        // A revocation taken between `authorise` and here found no live connection to close
        // (`close_revoked` looks in the registry): look again now that this one is in it.
        if self.role == Role::Child
            && self
                .shared
                .engine
                .revocations()
                .borrow()
                .contains(&self.peer)
        {
            self.conn.close(5u32.into(), b"certificate revoked");
            bail!("{} was revoked while the link came up", self.peer);
        }
        Ok(())
    }

    /// Opens our bulk stream and starts the tasks of both: a QUIC stream reaches the peer only
    /// with its first bytes, so the peer's is accepted inside its reader, and neither side
    /// waits for the other to send first.
    async fn start_bulk(&self, io: &mut Io) -> Result<()> {
        let stream = self.conn.open_uni().await?;
        let (bulk_out, bytes) = mpsc::channel(1);
        io.tasks.spawn(write_bulk(stream, bytes).in_current_span());
        io.bulk_out = Some(bulk_out);
        let (bulk_in_tx, bulk_in) = mpsc::channel(1);
        io.tasks
            .spawn(read_bulk(self.conn.clone(), bulk_in_tx).in_current_span());
        io.bulk_in = Some(bulk_in);
        let (batches_tx, batches) = mpsc::channel(link::PIPELINE);
        let (receipts_tx, receipts) = mpsc::channel(link::PIPELINE);
        let (outcomes_tx, outcomes) = mpsc::channel(link::PIPELINE);
        let shared = self.shared.clone();
        io.tasks
            .spawn(submit(shared, self.peer, batches, receipts_tx).in_current_span());
        io.tasks
            .spawn(settle(receipts, outcomes_tx).in_current_span());
        io.outcomes = Some(outcomes);
        io.submit = Some(batches_tx);
        Ok(())
    }

    /// The outbox items the permit allows, as one encoded batch frame: consecutive, durable,
    /// bounded in items and bytes. `None` if the outbox holds nothing there.
    fn next_batch(&self, permit: BulkPermit) -> Result<Option<(u64, u64, Vec<u8>)>> {
        let queued = self
            .shared
            .store
            .outbox(self.peer, permit.after, permit.max_items)?;
        let Some(first) = queued
            .first()
            .map(|(seq, _)| *seq)
            .filter(|s| *s <= permit.upto)
        else {
            return Ok(None);
        };
        let mut items = Vec::with_capacity(queued.len());
        let mut bytes = 0;
        for (i, (seq, raw)) in queued.into_iter().enumerate() {
            let full = bytes + raw.len() > BATCH_BYTES && !items.is_empty();
            if seq != first + i as u64 || seq > permit.upto || full {
                break;
            }
            bytes += raw.len();
            items.push(raw);
        }
        let last = first + items.len() as u64 - 1;
        let mut buf = Vec::with_capacity(bytes + 64);
        encode_batch_frame_into(first, &items, &mut buf)?;
        Ok(Some((first, last, buf)))
    }

    /// The link closed: say why. A refusal of ours reaches the peer before the connection goes.
    async fn closed(&self, why: LinkError, io: &Io) -> Result<()> {
        if why.is_clean() {
            return Ok(());
        }
        if let Some(refusal) = why.refusal() {
            if refusal.code == RefuseCode::BadSignature {
                error!(alert = "bad_signature", reason = %refusal.message, "ALERT: event with a bad signature; closing the link");
            }
            // Closing the connection at once discards the refusal still in the send buffer:
            // the peer saw a bare close and could not log why (tests/attacks.rs,
            // `a_child_presenting_its_siblings_code_is_refused`). So the control stream is
            // finished behind the refusal and the close waits until the peer has acknowledged
            // every byte of it — or REFUSAL_GRACE, for a peer that no longer reads. The close
            // names the reason too.
            let (flushed_tx, flushed) = oneshot::channel();
            if io
                .control_out
                .send(ControlOut::Finish(flushed_tx))
                .await
                .is_ok()
            {
                let _ = tokio::time::timeout(REFUSAL_GRACE, flushed).await;
            }
            self.conn
                .close(3u32.into(), refusal.code.as_str().as_bytes());
        }
        Err(why.into())
    }
}

/// The longest a refusal waits for the peer to acknowledge it before the connection closes.
const REFUSAL_GRACE: Duration = Duration::from_secs(1);

/// What the driver hands the control stream's writer.
enum ControlOut {
    Frame(Frame),
    /// The link is closing: finish the stream behind what was written, and say when the peer
    /// has acknowledged all of it.
    Finish(oneshot::Sender<()>),
}

/// The driver's ends of the link's tasks.
struct Io {
    /// The link's time origin: the state machine counts milliseconds from it.
    origin: Instant,
    tasks: JoinSet<Result<()>>,
    control_out: mpsc::Sender<ControlOut>,
    control_in: mpsc::Receiver<Result<Incoming<Opening>>>,
    bulk_in: Option<mpsc::Receiver<Result<Incoming<Frame>>>>,
    bulk_out: Option<mpsc::Sender<Vec<u8>>>,
    /// Received batches, to be checked and handed to the engine in order.
    submit: Option<mpsc::Sender<Batch>>,
    /// Each received batch's outcome, in order: the ack to send, or the refusal.
    outcomes: Option<mpsc::Receiver<Result<Result<u64, Refusal>>>>,
    /// The peer's certificate, for the engine's directory once the link is up.
    der: Option<Vec<u8>>,
}

impl Io {
    fn now(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }
}

fn durable_for(durable: &Durable, peer: NodeCode) -> u64 {
    durable.get(&peer).copied().unwrap_or(0)
}

/// Receives from a channel that may not exist yet (pending forever then).
async fn recv_some<T>(rx: &mut Option<mpsc::Receiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn reserve_some<T>(
    tx: &Option<mpsc::Sender<T>>,
) -> Result<mpsc::Permit<'_, T>, mpsc::error::SendError<()>> {
    match tx {
        Some(tx) => tx.reserve().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Checks each received batch (decoded, signatures verified) off the write thread and hands it
/// to the engine without waiting for the one before to be flushed: the writer finds the next
/// batch waiting when a flush ends.
async fn submit(
    shared: Arc<Shared>,
    peer: NodeCode,
    mut batches: mpsc::Receiver<Batch>,
    receipts: mpsc::Sender<PendingReceipt>,
) -> Result<()> {
    while let Some(batch) = batches.recv().await {
        let keys = shared.engine.keys().clone();
        let checked = tokio::task::spawn_blocking(move || Checked::new(batch, &keys)).await?;
        let receipt = shared.engine.submit(peer, checked).await?;
        if receipts.send(Box::pin(receipt)).await.is_err() {
            break;
        }
    }
    Ok(())
}

/// Waits for each batch's receipt in order and reports it: the ack to send, or the refusal
/// that closes the link (a bad signature, a sequence the engine refuses).
async fn settle(
    mut receipts: mpsc::Receiver<PendingReceipt>,
    outcomes: mpsc::Sender<Result<Result<u64, Refusal>>>,
) -> Result<()> {
    while let Some(receipt) = receipts.recv().await {
        let outcome = match receipt.await {
            Ok(receipt) => Ok(Ok(receipt.ack_upto)),
            Err(EngineError::BadSignature(m)) => Ok(Err(Refusal::new(RefuseCode::BadSignature, m))),
            Err(EngineError::Link(r)) => Ok(Err(r)),
            Err(e) => Err(e.into()),
        };
        if outcomes.send(outcome).await.is_err() {
            break;
        }
    }
    Ok(())
}

async fn write_control(
    mut stream: SendStream,
    mut frames: mpsc::Receiver<ControlOut>,
) -> Result<()> {
    let mut buf = Vec::new();
    while let Some(out) = frames.recv().await {
        match out {
            ControlOut::Frame(frame) => {
                buf.clear();
                encode_frame_into(&frame, &mut buf)?;
                stream.write_all(&buf).await.context("control out")?;
            }
            ControlOut::Finish(flushed) => {
                // `stopped` completes once the peer has acknowledged every byte of a finished
                // stream (or stopped reading it): either way nothing more is to be waited for.
                if stream.finish().is_ok() {
                    let _ = stream.stopped().await;
                }
                let _ = flushed.send(());
                return Ok(());
            }
        }
    }
    Ok(())
}

async fn write_bulk(mut stream: SendStream, mut batches: mpsc::Receiver<Vec<u8>>) -> Result<()> {
    while let Some(bytes) = batches.recv().await {
        stream.write_all(&bytes).await.context("sending")?;
    }
    Ok(())
}

/// Reads the control stream: the opening (a hello read version first,
/// [`FrameReader::next_opening`]), then frames, until it ends or fails.
async fn read_control(
    mut stream: RecvStream,
    frames: mpsc::Sender<Result<Incoming<Opening>>>,
) -> Result<()> {
    let mut reader = FrameReader::for_stream(StreamKind::Control);
    let mut opened = false;
    loop {
        let next = if opened {
            next_with(&mut stream, &mut reader, |r| {
                r.next_frame().map(|f| f.map(Opening::Frame))
            })
            .await
        } else {
            next_with(&mut stream, &mut reader, FrameReader::next_opening).await
        };
        opened = true;
        let (item, end) = match next {
            Ok(Some(o)) => (Ok(Incoming::Frame(o)), false),
            Ok(None) => (Ok(Incoming::End), true),
            Err(e) => (Err(e.context("control in")), true),
        };
        if frames.send(item).await.is_err() || end {
            return Ok(());
        }
    }
}

/// Accepts the peer's bulk stream and reads its frames, until it ends or fails.
async fn read_bulk(conn: Connection, frames: mpsc::Sender<Result<Incoming<Frame>>>) -> Result<()> {
    let mut stream = conn.accept_uni().await.context("receiving")?;
    let mut reader = FrameReader::for_stream(StreamKind::Bulk);
    loop {
        let (item, end) = match next_with(&mut stream, &mut reader, FrameReader::next_frame).await {
            Ok(Some(f)) => (Ok(Incoming::Frame(f)), false),
            Ok(None) => (Ok(Incoming::End), true),
            Err(e) => (Err(e.context("receiving")), true),
        };
        if frames.send(item).await.is_err() || end {
            return Ok(());
        }
    }
}

/// The next whole frame from `stream`, as `read` takes it from the reader; `None` at a clean
/// end of stream.
async fn next_with<T>(
    stream: &mut RecvStream,
    reader: &mut FrameReader,
    read: impl Fn(&mut FrameReader) -> Result<Option<T>, FrameError>,
) -> Result<Option<T>> {
    loop {
        if let Some(frame) = read(reader)? {
            return Ok(Some(frame));
        }
        match stream.read_chunk(64 * 1024, true).await? {
            Some(chunk) => reader.push(&chunk.bytes),
            None => {
                reader.end_of_stream()?;
                return Ok(None);
            }
        }
    }
}
