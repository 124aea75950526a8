//! One link connection as a state machine with no I/O (the link protocol of DESIGN.md §5),
//! after `quinn-proto`: the shell feeds it what arrived ([`Link::handle_opening`],
//! [`Link::handle_frame`], [`Link::handle_end`]), what its store made durable
//! ([`Link::handle_receipt`], [`Link::handle_outbox`]) and the time ([`Link::handle_timeout`]);
//! it answers with frames to write ([`Link::poll_transmit`]), the outbox range it may send
//! ([`Link::poll_bulk`]), what the node must do ([`Link::poll_event`]) and when to call it again
//! ([`Link::poll_timeout`]). Time is an explicit `now` in milliseconds from any fixed origin
//! the shell picks; nothing here reads a clock.
//!
//! The protocol, from one side:
//! 1. **Hello.** The child writes its hello first; the parent reads it before answering, so that
//!    it can answer a hello of another protocol version with the refusal alone (such a peer may
//!    not decode our hello, but it reads a refusal) and any other hello with its own, so that on
//!    a fold mismatch both sides check the pair and each says why. A hello states what its
//!    sender holds from the other and has queued for it: nothing is assumed from an earlier
//!    connection.
//! 2. **Up.** Each side resumes sending after what the other holds. A side whose outbox is
//!    behind what the other already holds (its store was restored) must renumber it first
//!    ([`Up::rebase`]); a parent whose child holds nothing from it welcomes it with the
//!    directory ([`Up::welcome`]).
//! 3. **Bulk.** Each side streams consecutive durable outbox items, at most [`WINDOW`] of them
//!    unacknowledged.
//! 4. **Acks** go back on the control stream, in order, each once the batch it covers is
//!    durable at the receiver; at most [`PIPELINE`] received batches wait for that at a time.
//! 5. **Liveness.** Each side pings every [`PING_INTERVAL_MS`]; a peer silent on the control
//!    stream for [`SILENCE_MS`] is gone, whatever the transport believes.
//!
//! Anything that does not fit — a refused hello, a frame out of place, an ack for more than was
//! sent, an outbox that jumps — closes the link ([`Link::closed`]); the child dials again and the
//! fresh hello settles where to resume. Invariants, kept by the handlers below:
//! - nothing is sent or acknowledged before both hellos are exchanged;
//! - `acked <= sent`: an ack never covers an item that was not sent on this connection;
//! - `sent` only grows, by consecutive batches, and only up to what the store made durable;
//! - after [`Link::closed`] returns `Some`, no handler changes anything.

use std::collections::VecDeque;

use crate::frame::{Batch, Freshness, Opening, FEATURES};
use crate::{Frame, Hello, Holds, NodeCode, Refusal, RefuseCode};

#[cfg(test)]
mod tests;

/// Unacknowledged items a sender may have in flight.
pub const WINDOW: u64 = 16_384;
/// Items per batch at most (the shell also bounds a batch in bytes).
pub const BATCH_ITEMS: usize = 1024;
/// Received batches handed to the store and not yet acknowledged.
pub const PIPELINE: usize = 4;
/// How long a side waits for the peer's hello.
pub const HELLO_TIMEOUT_MS: u64 = 10_000;
/// How often a side pings. Often enough that a peer back from a crash answers within a second
/// (the node answers a stale connection with a stateless reset), well inside [`SILENCE_MS`].
pub const PING_INTERVAL_MS: u64 = 1_000;
/// Silence on the control stream after which the link is gone.
pub const SILENCE_MS: u64 = 10_000;

/// Which end of the link this side is: the child dials its parent and writes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Child,
    Parent,
}

/// What a side knows when the connection opens.
#[derive(Debug, Clone)]
pub struct Config {
    pub me: NodeCode,
    /// The peer, as its certificate names it.
    pub peer: NodeCode,
    pub side: Side,
    /// What this side holds from the peer and has queued for it, durably (the shell flushes
    /// before it reads them: the peer drops what we say we hold).
    pub holds: Holds,
    /// This side is a child whose store was lost: once up, it asks the parent for its copy.
    pub restore: bool,
}

/// The link came up: what the node must do before traffic flows, in this order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Up {
    /// The peer's hello, checked.
    pub theirs: Hello,
    /// The optional features both sides announced: the ones in effect.
    pub features: u64,
    /// The peer holds more from us than we ever queued (our store was restored or lost its
    /// outbox): renumber the outbox to follow this before sending.
    pub rebase: Option<u64>,
    /// The peer is a child that holds nothing from us: queue it the whole directory.
    pub welcome: bool,
}

/// What the node must do; [`Link::poll_event`] hands them out in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Up(Up),
    /// The peer holds durably everything up to here: drop it from the outbox.
    Acked(u64),
    /// A batch to check and hand to the store; answer with [`Link::handle_receipt`] once it is
    /// durable (or refused), in the order the batches came.
    Batch(Batch),
    /// The child asks for its copy (`Frame::Restore`): queue it, then
    /// [`Link::restore_queued`].
    RestoreRequested,
    /// The parent queued the restore: we have everything back once we hold `upto` from it.
    RestoreQueued(u64),
    /// The parent asks for a pull; answer with [`Link::send`] of a `Frame::PullDone`.
    Pull {
        request: u64,
        deadline_ms: u64,
    },
    /// A child's report of a pull this side asked for.
    PullDone {
        request: u64,
        nodes: Vec<Freshness>,
    },
    /// A control frame this version does not act on here (logged, not fatal).
    Ignored(&'static str),
}

/// What the shell may send on the bulk stream now: consecutive outbox items after `after`,
/// none above `upto`, at most `max_items`. Report what went with [`Link::bulk_sent`], or
/// [`Link::bulk_empty`] if the outbox had nothing there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkPermit {
    pub after: u64,
    pub upto: u64,
    pub max_items: usize,
}

/// Why a link closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The peer ended the connection cleanly.
    #[error("the peer closed the link")]
    PeerClosed,
    #[error("peer refused the link: {0}")]
    PeerRefused(Refusal),
    /// We refused the peer's hello: the refusal is the last frame [`Link::poll_transmit`]
    /// gives out.
    #[error("hello refused: {0}")]
    HelloRefused(Refusal),
    /// We refused the peer on a live link: the refusal is the last frame
    /// [`Link::poll_transmit`] gives out.
    #[error("refused the peer: {0}")]
    Refused(Refusal),
    #[error("no hello within {0} ms")]
    NoHello(u64),
    #[error("expected a hello, got {0}")]
    NotAHello(&'static str),
    #[error("expected a hello, the peer closed the control stream")]
    HelloMissing,
    #[error("no control traffic from the peer for {0} ms")]
    Silent(u64),
    #[error("outbox for {peer} jumps from {sent} to {first}")]
    OutboxJump {
        peer: NodeCode,
        sent: u64,
        first: u64,
    },
    #[error("a bulk range {first}..={last} outside the permit after {after} up to {upto}")]
    BulkOutsidePermit {
        first: u64,
        last: u64,
        after: u64,
        upto: u64,
    },
}

impl LinkError {
    /// The close was the peer's clean end, not a failure.
    pub fn is_clean(&self) -> bool {
        matches!(self, LinkError::PeerClosed)
    }

    /// Our refusal, if we closed the link refusing the peer.
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            LinkError::HelloRefused(r) | LinkError::Refused(r) => Some(r),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the peer's hello.
    Hello,
    Up,
}

/// One link connection's protocol state. See the module doc.
#[derive(Debug)]
pub struct Link {
    config: Config,
    phase: Phase,
    closed: Option<LinkError>,
    features: u64,
    // Sending: the last link sequence sent on this connection, the last the peer acknowledged,
    // and the last the store made durable (nothing above it may leave).
    sent: u64,
    acked: u64,
    durable: u64,
    /// The outbox had nothing after `sent`: offer no permit until something changes.
    starved: bool,
    // Receiving: batches handed out as events and not yet answered.
    in_pipeline: usize,
    // Timers, in the shell's milliseconds.
    opened_ms: u64,
    heard_ms: u64,
    next_ping_ms: u64,
    ping_nonce: u64,
    transmits: VecDeque<Frame>,
    events: VecDeque<Event>,
}

impl Link {
    /// A connection just opened at `now`. A child's hello is ready to write at once.
    pub fn new(config: Config, now: u64) -> Link {
        let mut link = Link {
            phase: Phase::Hello,
            closed: None,
            features: 0,
            sent: 0,
            acked: 0,
            durable: 0,
            starved: false,
            in_pipeline: 0,
            opened_ms: now,
            heard_ms: now,
            next_ping_ms: now + PING_INTERVAL_MS,
            ping_nonce: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            config,
        };
        if link.config.side == Side::Child {
            link.transmits.push_back(link.hello());
        }
        link
    }

    fn hello(&self) -> Frame {
        Frame::Hello(Hello::new(self.config.me, self.config.holds))
    }

    pub fn peer(&self) -> NodeCode {
        self.config.peer
    }

    pub fn side(&self) -> Side {
        self.config.side
    }

    /// Both hellos are exchanged and the link is not closed.
    pub fn is_up(&self) -> bool {
        self.phase == Phase::Up && self.closed.is_none()
    }

    /// Why the link closed, once it has. The shell drains [`Link::poll_transmit`] (a refusal
    /// may wait there), then closes the connection.
    pub fn closed(&self) -> Option<&LinkError> {
        self.closed.as_ref()
    }

    /// The optional features in effect (0 before the link is up).
    pub fn features(&self) -> u64 {
        self.features
    }

    /// The last link sequence sent and the last the peer acknowledged, on this connection.
    pub fn sent(&self) -> (u64, u64) {
        (self.sent, self.acked)
    }

    /// When the peer was last heard on the control stream.
    pub fn heard_ms(&self) -> u64 {
        self.heard_ms
    }

    fn close(&mut self, why: LinkError) {
        if self.closed.is_none() {
            self.closed = Some(why);
        }
    }

    /// Closes the link refusing the peer: the refusal is written before the close.
    fn refuse(&mut self, refusal: Refusal) {
        if self.closed.is_none() {
            self.transmits.push_back(Frame::Refuse(refusal.clone()));
            self.close(match self.phase {
                Phase::Hello => LinkError::HelloRefused(refusal),
                Phase::Up => LinkError::Refused(refusal),
            });
        }
    }

    /// The peer's first control frame, read version first
    /// ([`crate::FrameReader::next_opening`]).
    pub fn handle_opening(&mut self, now: u64, opening: Opening) {
        if self.closed.is_some() {
            return;
        }
        if self.phase != Phase::Hello {
            // A second hello on a live link: nothing this version acts on.
            let name = match &opening {
                Opening::Frame(f) => f.name(),
                Opening::OtherVersion(_) => "hello",
            };
            self.heard_ms = now;
            self.events.push_back(Event::Ignored(name));
            return;
        }
        self.heard_ms = now;
        let checked = match opening {
            Opening::Frame(Frame::Hello(theirs)) => theirs.check(self.config.peer).map(|()| theirs),
            Opening::OtherVersion(version) => Err(Refusal::other_version(version)),
            Opening::Frame(Frame::Refuse(r)) => return self.close(LinkError::PeerRefused(r)),
            Opening::Frame(other) => return self.close(LinkError::NotAHello(other.name())),
        };
        // The parent answers every hello of this protocol version with its own, even one it
        // refuses: the child then checks the pair too and logs why.
        let other_version = matches!(&checked, Err(r) if r.code == RefuseCode::Version);
        if self.config.side == Side::Parent && !other_version {
            self.transmits.push_back(self.hello());
        }
        let theirs = match checked {
            Ok(theirs) => theirs,
            Err(refusal) => return self.refuse(refusal),
        };
        let held = theirs.holds.received_upto;
        let up = Up {
            features: theirs.common_features(FEATURES),
            rebase: (held > self.config.holds.queued_upto).then_some(held),
            welcome: self.config.side == Side::Parent && held == 0,
            theirs,
        };
        self.phase = Phase::Up;
        self.features = up.features;
        self.sent = held;
        self.acked = held;
        self.next_ping_ms = now + PING_INTERVAL_MS;
        self.events.push_back(Event::Up(up));
        if self.config.side == Side::Child && self.config.restore {
            self.transmits.push_back(Frame::Restore);
        }
    }

    /// A frame from the peer on `stream`. On the control stream before the link is up, it is
    /// taken as the opening.
    pub fn handle_frame(&mut self, now: u64, stream: crate::StreamKind, frame: Frame) {
        if self.closed.is_some() {
            return;
        }
        match stream {
            crate::StreamKind::Control if self.phase == Phase::Hello => {
                self.handle_opening(now, Opening::Frame(frame))
            }
            crate::StreamKind::Control => self.handle_control(now, frame),
            crate::StreamKind::Bulk => self.handle_bulk(frame),
        }
    }

    fn handle_control(&mut self, now: u64, frame: Frame) {
        self.heard_ms = now;
        let side = self.config.side;
        match frame {
            Frame::Ack { upto } if upto > self.sent => self.refuse(Refusal::new(
                RefuseCode::Malformed,
                format!(
                    "an ack for link sequence {upto}, but only {} was sent",
                    self.sent
                ),
            )),
            Frame::Ack { upto } if upto > self.acked => {
                self.acked = upto;
                // The window moved: a starved sender may have room again.
                self.events.push_back(Event::Acked(upto));
            }
            // An ack for what was acknowledged already: nothing new.
            Frame::Ack { .. } => {}
            Frame::Ping { nonce } => self.transmits.push_back(Frame::Pong { nonce }),
            Frame::Pong { .. } => {}
            Frame::Restore if side == Side::Parent => {
                self.events.push_back(Event::RestoreRequested)
            }
            Frame::RestoreQueued { upto } if side == Side::Child => {
                self.events.push_back(Event::RestoreQueued(upto))
            }
            Frame::Pull {
                request,
                deadline_ms,
            } if side == Side::Child => self.events.push_back(Event::Pull {
                request,
                deadline_ms,
            }),
            Frame::PullDone { request, nodes } if side == Side::Parent => {
                self.events.push_back(Event::PullDone { request, nodes })
            }
            Frame::Refuse(r) => self.close(LinkError::PeerRefused(r)),
            other => self.events.push_back(Event::Ignored(other.name())),
        }
    }

    fn handle_bulk(&mut self, frame: Frame) {
        if self.phase != Phase::Up {
            return self.refuse(Refusal::new(
                RefuseCode::Malformed,
                format!("{} on the bulk stream before the hellos", frame.name()),
            ));
        }
        match frame {
            Frame::Batch(batch) => {
                self.in_pipeline += 1;
                self.events.push_back(Event::Batch(batch));
            }
            other => self.refuse(Refusal::new(
                RefuseCode::Malformed,
                format!("{} on the bulk stream", other.name()),
            )),
        }
    }

    /// The peer ended `stream` cleanly.
    pub fn handle_end(&mut self, stream: crate::StreamKind) {
        match (self.phase, stream) {
            (Phase::Hello, crate::StreamKind::Control) => self.close(LinkError::HelloMissing),
            _ => self.close(LinkError::PeerClosed),
        }
    }

    /// Whether the shell may read another batch: the link is up and fewer than [`PIPELINE`]
    /// batches wait for their receipts. Reading no further holds the peer back by flow
    /// control.
    pub fn wants_batch(&self) -> bool {
        self.is_up() && self.in_pipeline < PIPELINE
    }

    /// The oldest batch handed out is settled: durable, the peer's items held up to `upto`
    /// (an ack goes back), or refused (the link closes with the refusal).
    pub fn handle_receipt(&mut self, outcome: Result<u64, Refusal>) {
        if self.closed.is_some() {
            return;
        }
        self.in_pipeline = self.in_pipeline.saturating_sub(1);
        match outcome {
            Ok(upto) => self.transmits.push_back(Frame::Ack { upto }),
            Err(refusal) => self.refuse(refusal),
        }
    }

    /// The store made the outbox toward the peer durable up to `upto`.
    pub fn handle_outbox(&mut self, upto: u64) {
        if upto != self.durable {
            self.durable = upto;
            self.starved = false;
        }
    }

    /// What may go on the bulk stream now, if anything.
    pub fn poll_bulk(&self) -> Option<BulkPermit> {
        let room = self.sent < self.acked + WINDOW;
        (self.is_up() && room && !self.starved && self.sent < self.durable).then_some(BulkPermit {
            after: self.sent,
            upto: self.durable,
            max_items: BATCH_ITEMS,
        })
    }

    /// The shell sent outbox items `first..=last` as one batch.
    ///
    /// A peer that holds nothing from us (new, or restored from us) takes our numbering as it
    /// is; otherwise the items must continue exactly where the peer stands.
    pub fn bulk_sent(&mut self, first: u64, last: u64) {
        if self.closed.is_some() {
            return;
        }
        if first != self.sent + 1 && self.sent != 0 {
            return self.close(LinkError::OutboxJump {
                peer: self.config.peer,
                sent: self.sent,
                first,
            });
        }
        if first <= self.sent || last < first || last > self.durable {
            return self.close(LinkError::BulkOutsidePermit {
                first,
                last,
                after: self.sent,
                upto: self.durable,
            });
        }
        self.sent = last;
    }

    /// The outbox held nothing sendable after the permit's `after`: wait for it to change.
    pub fn bulk_empty(&mut self) {
        self.starved = true;
    }

    /// Queues a control frame the node originates: a pull, a pull's report, a restore's
    /// answer. Dropped unless the link is up.
    pub fn send(&mut self, frame: Frame) {
        if self.is_up() {
            self.transmits.push_back(frame);
        }
    }

    /// The restore the child asked for is queued, up to `upto`.
    pub fn restore_queued(&mut self, upto: u64) {
        self.send(Frame::RestoreQueued { upto });
    }

    /// The next control frame to write.
    pub fn poll_transmit(&mut self) -> Option<Frame> {
        self.transmits.pop_front()
    }

    /// The next thing the node must do.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Link::handle_timeout`] must be called next, if ever.
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.closed.is_some() {
            return None;
        }
        Some(match self.phase {
            Phase::Hello => self.opened_ms + HELLO_TIMEOUT_MS,
            Phase::Up => self.next_ping_ms.min(self.heard_ms + SILENCE_MS),
        })
    }

    /// Time passed: a hello that did not come, a silent peer, a ping due.
    pub fn handle_timeout(&mut self, now: u64) {
        if self.closed.is_some() {
            return;
        }
        match self.phase {
            Phase::Hello if now >= self.opened_ms + HELLO_TIMEOUT_MS => {
                self.close(LinkError::NoHello(HELLO_TIMEOUT_MS))
            }
            Phase::Hello => {}
            Phase::Up if now >= self.heard_ms + SILENCE_MS => {
                self.close(LinkError::Silent(now - self.heard_ms))
            }
            Phase::Up => {
                if now >= self.next_ping_ms {
                    self.ping_nonce += 1;
                    self.transmits.push_back(Frame::Ping {
                        nonce: self.ping_nonce,
                    });
                    // From now, not from when it was due: a shell that was late sends one ping,
                    // not a burst.
                    self.next_ping_ms = now + PING_INTERVAL_MS;
                }
            }
        }
    }
}
