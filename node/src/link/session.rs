//! One link connection, from authorisation to close.
//!
//! 1. **Who is it?** The peer's code comes from its certificate. A dialled peer must be the
//!    configured parent; an accepted one a direct child that is not revoked.
//! 2. **Hello** on the control stream (opened by the child; the parent answers once it has read
//!    the child's): each side states its protocol and fold versions, its features and, per
//!    direction, what it holds — nothing is assumed from an earlier connection. A peer of
//!    another protocol or fold version is refused, naming both versions (the parent answers a
//!    hello of another protocol version with the refusal alone: see
//!    [`federation_proto::frame::hello`]). The features both announce are recorded with the
//!    link. Each side drops from its outbox what the other already holds and resumes after it.
//! 3. **Bulk**: each side streams its outbox to the other on its own unidirectional stream, in
//!    batches, with a bounded window of unacknowledged items.
//! 4. **Acks** go back on the control stream, and only after the engine has made the batch
//!    durable. Control traffic never waits behind bulk data.
//!
//! A bad signature, a sequence gap or a malformed frame closes the connection; the child dials
//! again and the fresh hello settles where to resume.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use federation_proto::frame::{
    encode_batch_frame_into, encode_frame_into, Frame, FrameError, FrameReader, Hello, Holds,
    Opening, Refusal, RefuseCode, StreamKind, FEATURES, MAX_FRAME_BYTES,
};
use federation_proto::route::direct_child_of;
use federation_proto::NodeCode;
use quinn::{Connection, RecvStream, SendStream};
use tokio::sync::{mpsc, watch};
use tracing::{error, info, warn, Instrument};

use super::{tls, Role, Shared};
use crate::engine::{EngineError, Receipt};
use crate::pki::Revocations;
use crate::verify::Checked;

/// Unacknowledged items a sender may have in flight.
const WINDOW: u64 = 16_384;
/// Items per batch at most (a batch is also bounded in bytes).
const BATCH_ITEMS: usize = 1024;
/// Bytes per batch frame we aim to stay under.
const BATCH_BYTES: usize = MAX_FRAME_BYTES / 2;
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Batches handed to the engine and not yet acknowledged, per link.
const PIPELINE: usize = 4;

/// The receipt of a batch handed to the engine, once it is durable.
type PendingReceipt =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Receipt, EngineError>> + Send>>;

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

    async fn serve(&self, der: Vec<u8>) -> Result<()> {
        let (mut control_tx, mut control_rx) = match self.role {
            Role::Parent => self.conn.open_bi().await?,
            Role::Child => self.conn.accept_bi().await?,
        };
        // One reader for the control stream's whole life: what arrived with the peer's hello
        // (a restoring child sends `Restore` right behind it) must not be dropped with a reader
        // of the hello's own — that lost restores now and then (tests/attacks.rs).
        let mut control_reader = FrameReader::for_stream(StreamKind::Control);
        let hello = self
            .hello(&mut control_tx, &mut control_rx, &mut control_reader)
            .await?;
        let theirs = hello.holds;
        // The one place where the optional features of a link are settled: those both sides
        // announced. None is defined yet; the registry shows them with the link.
        let features = hello.common_features(FEATURES);
        // A child that holds nothing from us (new, or restored) gets the whole directory;
        // others have it already through the flood.
        let welcome = self.role == Role::Child && theirs.received_upto == 0;
        self.shared
            .engine
            .learn(self.peer, der, welcome)
            .await
            .context("taking the peer's certificate")?;
        self.shared
            .engine
            .ack(self.peer, theirs.received_upto)
            .await?;
        self.shared.update(self.peer, self.role, |s| {
            if let Some(old) = s.current.replace(self.conn.clone()) {
                old.close(4u32.into(), b"replaced by a new connection");
            }
            s.connected = true;
            s.connections += 1;
            s.last_ack = theirs.received_upto;
            s.last_error = None;
            s.features = features;
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
        let _ = self.up_since.set(Instant::now());
        info!(
            they_hold = theirs.received_upto,
            they_queued = theirs.queued_upto,
            features,
            "link up"
        );
        let (acks_tx, acks_rx) = watch::channel(theirs.received_upto);
        let (frames_tx, frames_rx) = mpsc::channel::<Frame>(64);
        let mine = self.conn.stable_id();
        self.shared.update(self.peer, self.role, |s| {
            if s.current.as_ref().is_some_and(|c| c.stable_id() == mine) {
                s.control = Some(frames_tx.clone());
                s.last_seen = Some(std::time::Instant::now());
            }
        });
        if self.role == Role::Parent && self.shared.restore.is_some() {
            frames_tx.send(Frame::Restore).await?;
        }
        // A QUIC stream reaches the peer only with its first bytes: accept the peer's bulk
        // stream inside the receiver, so neither side waits for the other to send first.
        let bulk_out = self.conn.open_uni().await?;
        tokio::select! {
            r = self.send_outbox(bulk_out, theirs.received_upto, acks_rx) => r.context("sending"),
            r = self.receive_bulk(frames_tx.clone()) => r.context("receiving"),
            r = write_control(control_tx, frames_rx) => r.context("control out"),
            r = ping(frames_tx.clone()) => r.context("ping"),
            r = self.read_control(control_rx, control_reader, acks_tx, frames_tx) => r.context("control in"),
        }
    }

    /// Exchanges hellos; returns the peer's, checked.
    ///
    /// The dialling side (our peer is the parent) writes first: its hello opens the stream.
    /// The dialled side reads the child's hello first, so that it can answer a hello of another
    /// protocol version with the refusal alone — such a peer may not decode our hello, but it
    /// reads a refusal — and any other hello with ours, so that on a fold mismatch both sides
    /// check the pair and each logs why.
    async fn hello(
        &self,
        tx: &mut SendStream,
        rx: &mut RecvStream,
        reader: &mut FrameReader,
    ) -> Result<Hello> {
        let store = self.shared.store.clone();
        // What we announce as held must be durable: the peer drops it from its outbox.
        tokio::task::spawn_blocking(move || store.flush()).await??;
        let counters = self.shared.store.link_counters()?;
        let ours = counters.get(&self.peer).copied().unwrap_or_default();
        let hello = Frame::Hello(Hello::new(
            self.shared.code,
            Holds {
                received_upto: ours.received,
                queued_upto: ours.queued,
            },
        ));
        let dialled = self.role == Role::Parent;
        if dialled {
            write_frame(tx, &hello).await?;
        }
        let opening = tokio::time::timeout(HELLO_TIMEOUT, next_opening(rx, reader))
            .await
            .map_err(|_| anyhow!("no hello within {HELLO_TIMEOUT:?}"))??;
        let checked = match opening {
            Some(Opening::Frame(Frame::Hello(theirs))) => theirs.check(self.peer).map(|()| theirs),
            Some(Opening::OtherVersion(version)) => Err(Refusal::other_version(version)),
            Some(Opening::Frame(Frame::Refuse(r))) => bail!("peer refused the link: {r}"),
            Some(Opening::Frame(other)) => bail!("expected a hello, got {}", other.name()),
            None => bail!("expected a hello, the peer closed the control stream"),
        };
        let other_version = matches!(&checked, Err(r) if r.code == RefuseCode::Version);
        if !dialled && !other_version {
            write_frame(tx, &hello).await?;
        }
        let theirs = match checked {
            Ok(theirs) => theirs,
            Err(refusal) => {
                let _ = write_frame(tx, &Frame::Refuse(refusal.clone())).await;
                // Returning drops the connection at once, which discards the refusal still in
                // the send buffer: the peer saw a bare close and could not log why
                // (tests/attacks.rs, `a_child_presenting_its_siblings_code_is_refused`). Give it
                // a moment to leave, as `refuse` does, and name the reason in the close too.
                tokio::time::sleep(Duration::from_millis(50)).await;
                self.conn
                    .close(3u32.into(), refusal.code.as_str().as_bytes());
                bail!("hello refused: {refusal}");
            }
        };
        if theirs.holds.received_upto > ours.queued {
            // Our store was restored (or lost its outbox): the peer already holds more from us
            // than we ever queued in this life, so what we queue now must number after it.
            self.shared
                .engine
                .rebase(self.peer, theirs.holds.received_upto)
                .await?;
        }
        Ok(theirs)
    }

    /// Streams the outbox after `start`, keeping at most [`WINDOW`] items unacknowledged.
    async fn send_outbox(
        &self,
        mut stream: SendStream,
        start: u64,
        mut acks: watch::Receiver<u64>,
    ) -> Result<()> {
        let mut changes = self.shared.engine.outbox_changes();
        let mut sent = start;
        let mut buf = Vec::with_capacity(1 << 20);
        loop {
            if sent >= *acks.borrow() + WINDOW {
                acks.changed().await?;
                continue;
            }
            let durable = changes
                .borrow_and_update()
                .get(&self.peer)
                .copied()
                .unwrap_or(0);
            let Some((first, items)) = self.next_items(sent, durable)? else {
                tokio::select! {
                    r = changes.changed() => r?,
                    r = acks.changed() => r?,
                }
                continue;
            };
            sent = first + items.len() as u64 - 1;
            buf.clear();
            encode_batch_frame_into(first, &items, &mut buf)?;
            stream.write_all(&buf).await?;
        }
    }

    /// The next consecutive outbox items after `sent` and up to `durable`, as stored, with the
    /// link sequence of the first; bounded in items and bytes.
    fn next_items(&self, sent: u64, durable: u64) -> Result<Option<(u64, Vec<Vec<u8>>)>> {
        let queued = self.shared.store.outbox(self.peer, sent, BATCH_ITEMS)?;
        let Some(first) = queued
            .first()
            .map(|(seq, _)| *seq)
            .filter(|s| *s <= durable)
        else {
            return Ok(None);
        };
        // A peer that holds nothing (new, or restored from us) takes our numbering as it is;
        // otherwise the outbox must continue exactly where the peer stands.
        if first != sent + 1 && sent != 0 {
            bail!("outbox for {} jumps from {sent} to {first}", self.peer);
        }
        let mut items = Vec::with_capacity(queued.len());
        let mut bytes = 0;
        for (i, (seq, raw)) in queued.into_iter().enumerate() {
            let full = bytes + raw.len() > BATCH_BYTES && !items.is_empty();
            if seq != first + i as u64 || seq > durable || full {
                break;
            }
            bytes += raw.len();
            items.push(raw);
        }
        Ok(Some((first, items)))
    }

    /// Applies the peer's batches and acknowledges each once it is durable.
    ///
    /// Batches are checked ([`Checked`]: decoded, signatures verified) off the write thread and
    /// handed to it without waiting for the one before to be flushed, up to [`PIPELINE`] at a
    /// time: the writer finds the next batch waiting when a flush ends, while the acks still go
    /// back in order, each after its batch is durable.
    async fn receive_bulk(&self, control: mpsc::Sender<Frame>) -> Result<()> {
        let (receipts_tx, receipts_rx) = mpsc::channel(PIPELINE);
        tokio::try_join!(
            self.read_batches(receipts_tx, &control),
            self.acknowledge(receipts_rx, &control)
        )?;
        Ok(())
    }

    /// Reads, checks and submits the peer's batches, in order.
    async fn read_batches(
        &self,
        receipts: mpsc::Sender<PendingReceipt>,
        control: &mpsc::Sender<Frame>,
    ) -> Result<()> {
        let mut stream = self.conn.accept_uni().await?;
        let mut reader = FrameReader::for_stream(StreamKind::Bulk);
        while let Some(frame) = next_frame(&mut stream, &mut reader).await? {
            let Frame::Batch(batch) = frame else {
                return self
                    .refuse(
                        control,
                        RefuseCode::Malformed,
                        format!("{} on the bulk stream", frame.name()),
                    )
                    .await;
            };
            let keys = self.shared.engine.keys().clone();
            let checked = tokio::task::spawn_blocking(move || Checked::new(batch, &keys)).await?;
            let receipt = self.shared.engine.submit(self.peer, checked).await?;
            if receipts.send(Box::pin(receipt)).await.is_err() {
                // The acknowledging side has stopped; its error ends the link.
                break;
            }
        }
        Ok(())
    }

    /// Sends each batch's ack once the engine made it durable; closes the link on a bad
    /// signature or a sequence the engine refuses.
    async fn acknowledge(
        &self,
        mut receipts: mpsc::Receiver<PendingReceipt>,
        control: &mpsc::Sender<Frame>,
    ) -> Result<()> {
        while let Some(receipt) = receipts.recv().await {
            match receipt.await {
                Ok(receipt) => {
                    control
                        .send(Frame::Ack {
                            upto: receipt.ack_upto,
                        })
                        .await?
                }
                Err(EngineError::BadSignature(m)) => {
                    error!(alert = "bad_signature", reason = %m, "ALERT: event with a bad signature; closing the link");
                    return self.refuse(control, RefuseCode::BadSignature, m).await;
                }
                Err(EngineError::Link(r)) => return self.refuse(control, r.code, r.message).await,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    async fn refuse(
        &self,
        control: &mpsc::Sender<Frame>,
        code: RefuseCode,
        message: String,
    ) -> Result<()> {
        let refusal = Refusal::new(code, message);
        let _ = control.send(Frame::Refuse(refusal.clone())).await;
        // Give the refusal a moment to leave before the connection goes.
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.conn
            .close(3u32.into(), refusal.code.as_str().as_bytes());
        bail!("refused the peer: {refusal}")
    }

    /// Acks (the peer holds our items: drop them), pings and refusals.
    async fn read_control(
        &self,
        mut stream: RecvStream,
        mut reader: FrameReader,
        acks: watch::Sender<u64>,
        control: mpsc::Sender<Frame>,
    ) -> Result<()> {
        loop {
            // The peer pings every second: silence this long means the link is gone, whatever
            // the transport believes.
            let frame =
                tokio::time::timeout(tls::IDLE_TIMEOUT, next_frame(&mut stream, &mut reader))
                    .await
                    .map_err(|_| {
                        anyhow!(
                            "no control traffic from the peer for {:?}",
                            tls::IDLE_TIMEOUT
                        )
                    })?;
            let Some(frame) = frame? else {
                return Ok(());
            };
            // Heard from now: a pull that finds the peer silent reports its data this old.
            self.shared.update(self.peer, self.role, |s| {
                s.last_seen = Some(std::time::Instant::now())
            });
            match frame {
                Frame::Ack { upto } => {
                    self.shared.engine.ack(self.peer, upto).await?;
                    self.shared
                        .update(self.peer, self.role, |s| s.last_ack = upto);
                    acks.send_replace(upto);
                }
                Frame::Ping { nonce } => control.send(Frame::Pong { nonce }).await?,
                Frame::Pong { .. } => {}
                Frame::Restore if self.role == Role::Child => {
                    let upto = self.shared.engine.restore_dump(self.peer).await?;
                    control.send(Frame::RestoreQueued { upto }).await?;
                }
                Frame::RestoreQueued { upto } if self.role == Role::Parent => {
                    if let Some(target) = &self.shared.restore {
                        target.send_replace(Some(upto));
                    }
                }
                Frame::Pull {
                    request,
                    deadline_ms,
                } if self.role == Role::Parent => {
                    let (shared, control, parent) =
                        (self.shared.clone(), control.clone(), self.peer);
                    tokio::spawn(
                        async move {
                            let done = shared.answer_pull(parent, request, deadline_ms).await;
                            let _ = control.send(done).await;
                        }
                        .in_current_span(),
                    );
                }
                Frame::PullDone { request, nodes } if self.role == Role::Child => {
                    self.shared.pull_done(self.peer, request, nodes)
                }
                Frame::Refuse(r) => bail!("peer refused: {r}"),
                other => info!(
                    frame = other.name(),
                    "control frame not handled by this version"
                ),
            }
        }
    }
}

/// How often a link pings its peer on the control stream. Often enough that a peer back from a
/// crash answers within a second with a stateless reset (see [`super::tls::Identity::reset_key`]),
/// well inside the silence timeout.
const PING_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// Pings the peer on the control stream every [`PING_INTERVAL`].
async fn ping(control: mpsc::Sender<Frame>) -> Result<()> {
    let mut nonce = 0u64;
    loop {
        tokio::time::sleep(PING_INTERVAL).await;
        nonce += 1;
        control.send(Frame::Ping { nonce }).await?;
    }
}

async fn write_control(mut stream: SendStream, mut frames: mpsc::Receiver<Frame>) -> Result<()> {
    while let Some(frame) = frames.recv().await {
        write_frame(&mut stream, &frame).await?;
    }
    Ok(())
}

async fn write_frame(stream: &mut SendStream, frame: &Frame) -> Result<()> {
    let mut buf = Vec::new();
    encode_frame_into(frame, &mut buf)?;
    stream.write_all(&buf).await?;
    Ok(())
}

/// The next whole frame from `stream`; `None` at a clean end of stream.
async fn next_frame(stream: &mut RecvStream, reader: &mut FrameReader) -> Result<Option<Frame>> {
    next_with(stream, reader, FrameReader::next_frame).await
}

/// The peer's first frame, a hello read version first ([`FrameReader::next_opening`]).
async fn next_opening(
    stream: &mut RecvStream,
    reader: &mut FrameReader,
) -> Result<Option<Opening>> {
    next_with(stream, reader, FrameReader::next_opening).await
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
