//! The link protocol: the frames two linked nodes exchange over one QUIC connection.
//!
//! # One connection, three streams
//!
//! A link is one QUIC connection, dialled by the child (DESIGN §2) with mutual TLS. The TLS
//! ALPN is [`ALPN`], which carries the protocol's **major** version: a peer speaking another
//! major version fails the handshake cleanly ("no application protocol") instead of misreading
//! our frames. Inside the connection:
//!
//! - the **control stream** is one bidirectional stream that the dialling child opens first. It
//!   carries only small frames ([`StreamKind::Control`]: hello, refuse, ack, ping/pong, pull),
//!   each at most [`MAX_CONTROL_FRAME_BYTES`]. QUIC streams are flow-controlled and delivered
//!   independently, so an ack or a ping on this stream never waits behind megabytes of catch-up
//!   data: acks keep flowing while a township drains a day of backlog, and a ping measures the
//!   link, not the queue.
//! - two **bulk streams**, one unidirectional stream opened by each side toward the other once
//!   it has read the peer's [`Hello`]. They carry only [`Frame::Batch`], each at most
//!   [`MAX_FRAME_BYTES`]. Each side opens exactly one, so the first unidirectional stream
//!   accepted is the peer's bulk stream.
//!
//! # The conversation
//!
//! 1. Both sides send a [`Hello`] first on the control stream (the child as it opens the stream,
//!    the parent in answer, once it has read the child's), stating its protocol version, its
//!    fold version ([`FOLD_VERSION`]: how it derives cases from events), its code, its optional
//!    features and, per direction, what it [`Holds`]. Each reads the peer's version first
//!    ([`FrameReader::next_opening`]) and checks the peer's hello with [`Hello::check`] against
//!    the code in the peer's certificate; on failure it sends [`Frame::Refuse`] with a
//!    [`Refusal`] (so the other end logs a reason rather than a bare reset) and closes. The
//!    parent answers a hello of another protocol version with the refusal alone. The features
//!    in effect are those both announce ([`Hello::common_features`]). See [`hello`] for the
//!    versions and when to bump them.
//! 2. Each side resumes its outbox toward the peer **after** the peer's `holds.received_upto`.
//!    Every (re)connection starts with fresh hellos: nothing is assumed from the previous
//!    connection, so a crash on either side between "written" and "acked" costs only a resend.
//! 3. The receiver of a [`Batch`] calls [`Batch::check_sequence`]: a replayed prefix is skipped
//!    (duplicates are harmless), a gap is refused (it means lost data). It decodes, verifies and
//!    stores each fresh item, flushes, then sends [`Frame::Ack`] with the highest link sequence
//!    it now holds durably; the sender drops what was acknowledged.
//! 4. Pings and pulls may be sent at any time by either side.
//!
//! # Why each item is encoded on its own
//!
//! A [`Batch`] does not hold `Vec<Event>` but [`Item`]s: a [`PayloadKind`] and the separate
//! [`codec`] encoding of one event, summary or [`Record`]. The frame decodes as long as its
//! *framing* is sound; each item is then decoded and verified one by one ([`Item::decode`]). An
//! event from a newer build, a corrupt summary or a bad signature is rejected alone, with its
//! reason, and the rest of the batch is applied (DESIGN §3: one bad event never poisons a batch).
//! A rejected item still consumes its link sequence and is acknowledged (after logging it),
//! otherwise the link would resend it forever. The bytes of an event item are exactly what the
//! store keeps (`codec::encode(&event)`), so relaying needs no re-encoding.
//!
//! # Framing, and why the length is checked first
//!
//! On a stream each frame is a 4-byte big-endian body length followed by the body, the
//! [`codec`] encoding of the [`Frame`] (format version byte + bincode). [`FrameReader`] checks the
//! declared length against its limit **as soon as the four length bytes arrive, before buffering
//! the body**: a peer that declares a 4 GiB frame is refused after four bytes and cannot make us
//! allocate anything. The codec then decodes the body with the same limit, which also caps what
//! bincode may allocate for a forged length *inside* the body.
//!
//! # Compatibility
//!
//! bincode is positional. [`Frame`], [`RefuseCode`], [`PayloadKind`] and [`Record`] only ever gain
//! variants **at the end**, and structs never change shape under one [`PROTOCOL_VERSION`]. An
//! optional addition goes behind a bit of [`Hello::features`] that both sides announce (a peer
//! never sends a new variant unless the other side announced it understands it); an incompatible
//! change bumps the ALPN. [`Hello::version`] stays the first field of the hello, and
//! [`Frame::Refuse`] and [`Refusal`] never change, so that a peer of another protocol version
//! is always refused cleanly. A change to how nodes derive cases from events, with the same
//! frames, bumps [`FOLD_VERSION`] instead.

use serde::{Deserialize, Serialize};

use crate::code::NodeCode;
use crate::codec::{self, CodecError};
use crate::event::Event;
use crate::summary::CaseSummary;

pub mod hello;
pub use hello::{
    Hello, Holds, Opening, Refusal, RefuseCode, FEATURES, FOLD_VERSION, PROTOCOL_VERSION,
};

/// TLS application protocol: the protocol **major** version. A peer of another major version
/// fails the TLS handshake cleanly.
pub const ALPN: &[u8] = b"liandong/1";

/// Largest frame body on a bulk stream (a batch of many events).
pub const MAX_FRAME_BYTES: usize = 8 << 20;

/// Largest frame body on the control stream: control frames are small, so a confused or hostile
/// peer gets far less buffer there.
pub const MAX_CONTROL_FRAME_BYTES: usize = 64 * 1024;

/// Largest encoded [`Record`] (a catalog or calendar file); any single item fits in a batch.
pub const MAX_RECORD_BYTES: usize = 4 << 20;

/// Longest [`Refusal::message`] that [`Refusal::new`] keeps, in bytes.
pub const MAX_REFUSAL_MESSAGE: usize = 1024;

/// Bytes of the big-endian length in front of every frame body.
pub const LENGTH_PREFIX_BYTES: usize = 4;

/// Upper bound on the body bytes of a [`Frame::Batch`] besides its items: format version,
/// variant tag, `first` and the item count (varints of at most 9 bytes each).
pub const BATCH_OVERHEAD_BOUND: usize = 1 + 1 + 9 + 9;

/// Capacity a [`FrameReader`] keeps when it runs empty: after one large batch, an idle link
/// gives the memory back.
const RETAINED_CAPACITY: usize = 64 * 1024;

// Any single item, at its largest, fits in a batch of one.
const _: () = assert!(BATCH_OVERHEAD_BOUND + MAX_RECORD_BYTES + 10 <= MAX_FRAME_BYTES);
// Frame lengths fit the 4-byte prefix, and the codec's hard cap never cuts below a frame limit.
const _: () = assert!(MAX_FRAME_BYTES <= u32::MAX as usize);
const _: () = assert!(MAX_FRAME_BYTES <= codec::MAX_DECODE_BYTES);

/// One message on a link stream. Variants are only ever added at the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Frame {
    /// The first frame from each side on every connection.
    Hello(Hello),
    /// Why the sender is about to close the connection.
    Refuse(Refusal),
    /// Items in link-sequence order (bulk stream only).
    Batch(Batch),
    /// The receiver holds durably every link sequence up to and including `upto`.
    Ack {
        upto: u64,
    },
    Ping {
        nonce: u64,
    },
    /// Answer to the [`Frame::Ping`] with the same nonce.
    Pong {
        nonce: u64,
    },
    /// Sync the subtree now and report freshness. `request` identifies the pull in its
    /// [`Frame::PullDone`]; `deadline_ms` is how long the requester will wait, in milliseconds
    /// counted from receipt (relative, because node clocks disagree; each hop passes on less).
    Pull {
        request: u64,
        deadline_ms: u64,
    },
    /// Report of pull `request`: how fresh the data of each node of the reporter's subtree is
    /// at the receiver, the reporter first. The reporter sends it once its own outbox to the
    /// requester is drained (or at the deadline).
    PullDone {
        request: u64,
        nodes: Vec<Freshness>,
    },
    /// From a child whose store was lost: queue for me every event I authored and every event
    /// of the cases I am involved in (the parent's copy is my off-site backup).
    Restore,
    /// The parent has queued the restore: once the child holds link sequence `upto` from the
    /// parent, it has everything back.
    RestoreQueued {
        upto: u64,
    },
}

/// Which stream a frame travels on; each has its own size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamKind {
    /// The bidirectional control stream opened by the child.
    Control,
    /// Each side's unidirectional stream of batches.
    Bulk,
}

impl StreamKind {
    /// Largest frame body accepted on this stream.
    pub fn limit(self) -> usize {
        match self {
            StreamKind::Control => MAX_CONTROL_FRAME_BYTES,
            StreamKind::Bulk => MAX_FRAME_BYTES,
        }
    }
}

impl Frame {
    /// The stream this frame belongs on. A receiver refuses ([`RefuseCode::Malformed`]) a frame
    /// that arrives on the other one.
    pub fn stream(&self) -> StreamKind {
        match self {
            Frame::Batch(_) => StreamKind::Bulk,
            _ => StreamKind::Control,
        }
    }

    /// Short lowercase name, for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Frame::Hello(_) => "hello",
            Frame::Refuse(_) => "refuse",
            Frame::Batch(_) => "batch",
            Frame::Ack { .. } => "ack",
            Frame::Ping { .. } => "ping",
            Frame::Pong { .. } => "pong",
            Frame::Pull { .. } => "pull",
            Frame::PullDone { .. } => "pull_done",
            Frame::Restore => "restore",
            Frame::RestoreQueued { .. } => "restore_queued",
        }
    }
}

/// How fresh one node's data is, in a [`Frame::PullDone`]. Ages, not instants: node clocks
/// disagree, so each hop turns them into its own time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Freshness {
    pub code: NodeCode,
    /// Whether the node answered this pull (through its parent).
    pub reachable: bool,
    /// How old the node's data held up the tree is, in milliseconds: 0 when it answered just
    /// now; for an unreachable node, the time since it was last heard; `None` if never.
    pub age_ms: Option<u64>,
}

/// Consecutive items of one link direction: `items[i]` has link sequence `first + i`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    /// Link sequence of `items[0]` (from 1).
    pub first: u64,
    pub items: Vec<Item>,
}

/// One replicated value in a batch, encoded on its own (see the module doc). Not a catalog item
/// (事项): those are [`crate::event::Intake::item`] codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub kind: PayloadKind,
    /// For events: the nodes this item must still reach. The author decides (it knows who is
    /// involved in the case); each hop forwards toward the targets not yet reached, so a relay
    /// needs no view of the case. Empty for summaries (they go up) and records (broadcast).
    pub to: Vec<NodeCode>,
    /// `codec::encode` of the value named by `kind`.
    #[serde(with = "byte_buf")]
    pub bytes: Vec<u8>,
}

/// What an [`Item`] holds (not to be confused with [`crate::ItemKind`], the kind of a catalog
/// item). Variants are only ever added at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PayloadKind {
    /// A signed [`Event`].
    Event,
    /// A [`CaseSummary`] going up to the ancestors.
    Summary,
    /// A [`Record`] broadcast down the tree.
    Record,
}

impl PayloadKind {
    pub const ALL: [PayloadKind; 3] = [
        PayloadKind::Event,
        PayloadKind::Summary,
        PayloadKind::Record,
    ];

    /// Largest encoding of one value of this kind.
    pub fn limit(self) -> usize {
        match self {
            PayloadKind::Event | PayloadKind::Summary => codec::MAX_EVENT_BYTES,
            PayloadKind::Record => MAX_RECORD_BYTES,
        }
    }
}

/// The decoded value of an [`Item`].
// Most payloads are events and each lives only until it is stored: boxing the event would add
// an allocation per item to save stack space nobody is short of.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Event(Event),
    Summary(CaseSummary),
    Record(Record),
}

/// What an ancestor broadcasts down to its subtree. Variants are only ever added at the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Record {
    /// The item catalog, as its TOML text.
    Catalog(String),
    /// A working-day calendar file, as its text.
    Calendar(String),
    /// A node certificate (federation directory entry), DER-encoded.
    Certificate {
        code: NodeCode,
        #[serde(with = "byte_buf")]
        der: Vec<u8>,
    },
    /// Node `code` is revoked: its links are refused and its certificates (these serial
    /// numbers, as the CA recorded them) no longer verify anything. `revoked_at` is RFC 3339.
    Revocation {
        code: NodeCode,
        serials: Vec<String>,
        revoked_at: String,
    },
}

impl Item {
    /// An item carrying `event`; refused if its encoding is over [`codec::MAX_EVENT_BYTES`],
    /// which every receiver would refuse.
    pub fn event(event: &Event) -> Result<Item, CodecError> {
        Item::encode(PayloadKind::Event, event)
    }

    pub fn summary(summary: &CaseSummary) -> Result<Item, CodecError> {
        Item::encode(PayloadKind::Summary, summary)
    }

    pub fn record(record: &Record) -> Result<Item, CodecError> {
        Item::encode(PayloadKind::Record, record)
    }

    fn encode<T: Serialize>(kind: PayloadKind, value: &T) -> Result<Item, CodecError> {
        let bytes = codec::encode(value)?;
        if bytes.len() > kind.limit() {
            return Err(CodecError::TooLarge {
                len: bytes.len(),
                limit: kind.limit(),
            });
        }
        Ok(Item {
            kind,
            to: Vec::new(),
            bytes,
        })
    }

    /// The same item addressed to `to`.
    pub fn addressed(self, to: Vec<NodeCode>) -> Item {
        Item { to, ..self }
    }

    /// Decodes the value, within the limit of its kind. An error concerns this item only.
    /// (An event's signature is the caller's to verify, against the origin's certificate.)
    pub fn decode(&self) -> Result<Payload, CodecError> {
        let limit = self.kind.limit();
        Ok(match self.kind {
            PayloadKind::Event => Payload::Event(codec::decode(&self.bytes, limit)?),
            PayloadKind::Summary => Payload::Summary(codec::decode(&self.bytes, limit)?),
            PayloadKind::Record => Payload::Record(codec::decode(&self.bytes, limit)?),
        })
    }

    /// Upper bound on the bytes this item adds to a batch's frame body: its kind tag, the
    /// targets (a varint count and at most 9 bytes each), the length varint and the bytes. A
    /// sender fills a batch while `BATCH_OVERHEAD_BOUND + Σ encoded_len_bound() <= MAX_FRAME_BYTES`.
    pub fn encoded_len_bound(&self) -> usize {
        1 + varint_len(self.to.len())
            + 9 * self.to.len()
            + varint_len(self.bytes.len())
            + self.bytes.len()
    }
}

/// Bytes of bincode's varint encoding of `n`: one byte below 251, else a marker byte and a
/// 2-, 4- or 8-byte integer.
fn varint_len(n: usize) -> usize {
    match n as u64 {
        0..=250 => 1,
        251..=0xFFFF => 3,
        0x1_0000..=0xFFFF_FFFF => 5,
        _ => 9,
    }
}

/// What a receiver does with a [`Batch`], from [`Batch::check_sequence`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPlan {
    /// Leading items already held (link sequence below the one expected): skip them.
    pub skip: usize,
    /// The link sequence expected after this batch is stored: never lower than before.
    pub next_expected: u64,
}

impl BatchPlan {
    /// What to acknowledge once the fresh items are durable.
    pub fn ack_upto(&self) -> u64 {
        self.next_expected.saturating_sub(1)
    }
}

impl Batch {
    /// Checks the batch against the next link sequence the receiver expects (its
    /// `received_upto + 1`). A prefix already held is a harmless replay (after a reconnect the
    /// sender resumes from the last *acknowledged* sequence) and is skipped; a batch starting
    /// beyond `expected_next` means items were lost and is refused. An empty batch, a batch from
    /// sequence 0 and one whose sequences would overflow are malformed.
    pub fn check_sequence(&self, expected_next: u64) -> Result<BatchPlan, Refusal> {
        let malformed = |what: String| Err(Refusal::new(RefuseCode::Malformed, what));
        if self.items.is_empty() {
            return malformed(format!("empty batch at link sequence {}", self.first));
        }
        if self.first == 0 {
            return malformed("batch starts at link sequence 0; sequences start at 1".into());
        }
        let count = self.items.len() as u64;
        let Some(end) = self.first.checked_add(count) else {
            return malformed(format!(
                "batch of {count} items from link sequence {} overflows the sequence space",
                self.first
            ));
        };
        if self.first > expected_next {
            return Err(Refusal::new(
                RefuseCode::Gap,
                format!(
                    "batch starts at link sequence {} but {} is the next expected: \
                     {} items would be lost",
                    self.first,
                    expected_next,
                    self.first - expected_next
                ),
            ));
        }
        // `first <= expected_next`: everything before `expected_next` is already held.
        let skip = (expected_next - self.first).min(count) as usize;
        Ok(BatchPlan {
            skip,
            next_expected: end.max(expected_next),
        })
    }

    /// The items to store under `plan` (from [`Batch::check_sequence`] on this batch), each
    /// with its link sequence.
    pub fn fresh<'a>(&'a self, plan: &BatchPlan) -> impl Iterator<Item = (u64, &'a Item)> + 'a {
        let first = self.first;
        self.items
            .iter()
            .enumerate()
            .skip(plan.skip)
            .map(move |(i, item)| (first + i as u64, item))
    }

    /// Upper bound on the frame body of this batch (what [`MAX_FRAME_BYTES`] limits).
    pub fn encoded_len_bound(&self) -> usize {
        BATCH_OVERHEAD_BOUND
            + self
                .items
                .iter()
                .map(Item::encoded_len_bound)
                .sum::<usize>()
    }
}

/// Why a frame could not be written or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A frame body over the stream's limit. On reading, the stream cannot be resynchronised:
    /// the reader stays failed.
    #[error("frame of {len} bytes is over the limit of {limit} bytes")]
    TooLarge { len: usize, limit: usize },
    /// A frame body that does not decode (the reader skips it and can go on).
    #[error("malformed frame: {0}")]
    Codec(#[from] CodecError),
    /// The stream ended inside a frame.
    #[error("stream ended inside a frame ({buffered} bytes of it received)")]
    Truncated { buffered: usize },
}

/// Appends the length prefix and the encoding of `frame` to `out` (reuse one buffer for many
/// frames). A body over the limit of the frame's stream ([`Frame::stream`]) is refused, so a
/// sender can never write what its peer must refuse. On error `out` is left as it was.
pub fn encode_frame_into(frame: &Frame, out: &mut Vec<u8>) -> Result<(), FrameError> {
    let start = out.len();
    out.extend_from_slice(&[0; LENGTH_PREFIX_BYTES]);
    if let Err(e) = codec::encode_into(frame, out) {
        out.truncate(start);
        return Err(e.into());
    }
    let len = out.len() - start - LENGTH_PREFIX_BYTES;
    let limit = frame.stream().limit();
    let Some(prefix) = u32::try_from(len).ok().filter(|_| len <= limit) else {
        out.truncate(start);
        return Err(FrameError::TooLarge { len, limit });
    };
    out[start..start + LENGTH_PREFIX_BYTES].copy_from_slice(&prefix.to_be_bytes());
    Ok(())
}

/// Appends the length prefix and encoding of `Frame::Batch(Batch { first, items })`, each item
/// given as its own `codec::encode` (as outboxes store them): the same bytes as
/// [`encode_frame_into`], without decoding the items to encode them again.
///
/// Why it can: bincode is positional, so a batch's encoding is its header — the frame variant,
/// `first` and the item count — followed by each item's encoding; an item's `codec::encode` is
/// that encoding behind the version byte. On error `out` is left as it was.
pub fn encode_batch_frame_into<T: AsRef<[u8]>>(
    first: u64,
    items: &[T],
    out: &mut Vec<u8>,
) -> Result<(), FrameError> {
    let start = out.len();
    let written = (|| {
        // The header of an empty batch ends with its item count, 0 (one byte): put the real
        // count in its place.
        let empty = Frame::Batch(Batch {
            first,
            items: Vec::new(),
        });
        encode_frame_into(&empty, out)?;
        out.pop();
        codec::encode_varint_into(items.len() as u64, out)?;
        for item in items {
            match item.as_ref().split_first() {
                Some((&codec::FORMAT_VERSION, body)) => out.extend_from_slice(body),
                _ => {
                    return Err(
                        CodecError::Decode("an item not in this format version".into()).into(),
                    )
                }
            }
        }
        let len = out.len() - start - LENGTH_PREFIX_BYTES;
        let limit = StreamKind::Bulk.limit();
        let prefix = u32::try_from(len)
            .ok()
            .filter(|_| len <= limit)
            .ok_or(FrameError::TooLarge { len, limit })?;
        out[start..start + LENGTH_PREFIX_BYTES].copy_from_slice(&prefix.to_be_bytes());
        Ok(())
    })();
    if written.is_err() {
        out.truncate(start);
    }
    written
}

/// The length prefix and encoding of `frame`.
pub fn encode_frame(frame: &Frame) -> Result<Vec<u8>, FrameError> {
    let mut out = Vec::new();
    encode_frame_into(frame, &mut out)?;
    Ok(out)
}

/// Reassembles frames from the chunks a stream delivers, however they are cut.
///
/// Feed every chunk read with [`FrameReader::push`], then call [`FrameReader::next_frame`] until
/// it returns `Ok(None)`. Memory stays bounded: every declared length is checked against the
/// limit when its four bytes arrive, before any of the body is buffered, so the buffer holds at
/// most the frames not yet taken plus one partial frame of at most `limit` bytes. Each byte is
/// copied into the buffer once and moved at most once more (consumed bytes are dropped in bulk
/// when they are at least half the buffer), so reading is linear whatever the chunking.
#[derive(Debug)]
pub struct FrameReader {
    buf: Vec<u8>,
    /// Offset of the first byte not yet returned as a frame.
    start: usize,
    /// End of the whole frames: `buf[start..complete]` are complete frames whose lengths passed
    /// the limit; `buf[complete..]` is the beginning of the next one.
    complete: usize,
    limit: usize,
    /// The over-limit length that failed the stream, if any.
    failed: Option<usize>,
}

impl FrameReader {
    /// A reader refusing frame bodies over `limit` bytes (at most [`codec::MAX_DECODE_BYTES`]).
    pub fn new(limit: usize) -> FrameReader {
        FrameReader {
            buf: Vec::new(),
            start: 0,
            complete: 0,
            limit: limit.min(codec::MAX_DECODE_BYTES),
            failed: None,
        }
    }

    /// A reader with the limit of `kind`'s stream.
    pub fn for_stream(kind: StreamKind) -> FrameReader {
        FrameReader::new(kind.limit())
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes received but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Adds bytes read from the stream. Once a declared length was over the limit, the reader
    /// has failed and discards everything pushed after it.
    pub fn push(&mut self, mut bytes: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        self.compact();
        while !bytes.is_empty() {
            // Complete the length prefix of the frame at `complete`.
            let have = self.buf.len() - self.complete;
            if have < LENGTH_PREFIX_BYTES {
                let take = (LENGTH_PREFIX_BYTES - have).min(bytes.len());
                self.buf.extend_from_slice(&bytes[..take]);
                bytes = &bytes[take..];
                if have + take < LENGTH_PREFIX_BYTES {
                    return;
                }
            }
            // Check it before buffering any of the body.
            let len = self.declared_len(self.complete);
            if len > self.limit {
                // Keep the whole frames before it; drop the four bytes of the bad prefix.
                self.failed = Some(len);
                self.buf.truncate(self.complete);
                return;
            }
            let total = LENGTH_PREFIX_BYTES + len;
            let have = self.buf.len() - self.complete;
            let take = (total - have).min(bytes.len());
            self.buf.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if have + take == total {
                self.complete += total;
            }
        }
    }

    /// The next complete frame, `Ok(None)` until one has fully arrived. A body that does not
    /// decode is consumed and reported as [`FrameError::Codec`] (the next call goes on with the
    /// following frame). After the frames that arrived whole before it, an over-limit length
    /// fails the reader for good: [`FrameError::TooLarge`] on every call.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        self.next_body_with(|body, limit| Ok(codec::decode(body, limit)?))
    }

    /// The next complete frame body, consumed and handed to `decode` with the limit: the
    /// common part of [`FrameReader::next_frame`] and [`FrameReader::next_opening`].
    fn next_body_with<T>(
        &mut self,
        decode: impl FnOnce(&[u8], usize) -> Result<T, FrameError>,
    ) -> Result<Option<T>, FrameError> {
        if self.start == self.complete {
            return match self.failed {
                Some(len) => Err(FrameError::TooLarge {
                    len,
                    limit: self.limit,
                }),
                None => Ok(None),
            };
        }
        let len = self.declared_len(self.start);
        let body = self.start + LENGTH_PREFIX_BYTES..self.start + LENGTH_PREFIX_BYTES + len;
        let decoded = decode(&self.buf[body.clone()], self.limit);
        self.start = body.end;
        if self.start == self.buf.len() {
            self.compact();
        }
        decoded.map(Some)
    }

    /// Call when the stream has ended: an error if it ended inside a frame.
    pub fn end_of_stream(&self) -> Result<(), FrameError> {
        if let Some(len) = self.failed {
            return Err(FrameError::TooLarge {
                len,
                limit: self.limit,
            });
        }
        match self.buf.len() - self.complete {
            0 => Ok(()),
            buffered => Err(FrameError::Truncated { buffered }),
        }
    }

    /// The big-endian length whose four bytes are at `at` (present by the caller's invariant).
    fn declared_len(&self, at: usize) -> usize {
        let mut prefix = [0u8; LENGTH_PREFIX_BYTES];
        prefix.copy_from_slice(&self.buf[at..at + LENGTH_PREFIX_BYTES]);
        u32::from_be_bytes(prefix) as usize
    }

    /// Drops consumed bytes when that is cheap: all of them, or when they are at least as many
    /// as the bytes kept (so each byte moves at most once). An emptied buffer larger than
    /// [`RETAINED_CAPACITY`] is shrunk.
    fn compact(&mut self) {
        if self.start == 0 {
            return;
        }
        if self.start == self.buf.len() {
            self.buf.clear();
            self.buf.shrink_to(RETAINED_CAPACITY);
        } else if self.start >= self.buf.len() - self.start {
            self.buf.drain(..self.start);
        } else {
            return;
        }
        self.complete -= self.start;
        self.start = 0;
    }
}

/// serde for `Vec<u8>` as one byte string: bincode reads it in one go (capped by the codec's
/// allocation limit) instead of byte by byte. The wire format is the same as a sequence of `u8`.
mod byte_buf {
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Vec<u8>, A::Error> {
                // Self-describing formats (JSON) give a sequence; never trust its size hint.
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(b) = seq.next_element()? {
                    out.push(b);
                }
                Ok(out)
            }
        }
        deserializer.deserialize_byte_buf(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;
    use proptest::sample::select;

    use super::*;
    use crate::arbitrary::{
        any_batch, any_encoded_item, any_event, any_frame, any_record, any_summary, sample_event,
    };

    fn code(s: &str) -> NodeCode {
        s.parse().unwrap()
    }

    fn encode_all(frames: &[Frame]) -> Vec<u8> {
        let mut out = Vec::new();
        for f in frames {
            encode_frame_into(f, &mut out).unwrap();
        }
        out
    }

    /// Pushes `bytes` in chunks of `sizes` (cycled; `usize::MAX` = all at once), taking every
    /// frame available after each push, as a stream task would.
    fn read_chunked(
        reader: &mut FrameReader,
        bytes: &[u8],
        sizes: &[usize],
    ) -> Result<Vec<Frame>, FrameError> {
        let mut out = Vec::new();
        let mut rest = bytes;
        for &size in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let n = size.clamp(1, rest.len());
            reader.push(&rest[..n]);
            rest = &rest[n..];
            while let Some(f) = reader.next_frame()? {
                out.push(f);
            }
        }
        Ok(out)
    }

    proptest! {
        /// A batch spliced from stored items is byte for byte the batch encoded whole,
        /// however many items (the count's varint grows past 250).
        #[test]
        fn a_spliced_batch_is_the_batch_encoded(batch in any_batch(), copies in 0usize..300) {
            let mut items = batch.items.clone();
            while items.len() < copies {
                items.extend(batch.items.iter().cloned());
                if batch.items.is_empty() { break; }
            }
            let whole = Batch { first: batch.first, items };
            let stored: Vec<Vec<u8>> =
                whole.items.iter().map(|i| codec::encode(i).unwrap()).collect();
            let mut spliced = vec![9];
            encode_batch_frame_into(whole.first, &stored, &mut spliced).unwrap();
            let mut encoded = vec![9];
            encode_frame_into(&Frame::Batch(whole), &mut encoded).unwrap();
            prop_assert_eq!(spliced, encoded);
        }
    }

    #[test]
    fn an_item_of_another_format_version_is_not_spliced() {
        let mut out = vec![1, 2];
        let err = encode_batch_frame_into(1, &[vec![0u8, 1, 2]], &mut out);
        assert!(err.is_err());
        assert_eq!(out, [1, 2]);
    }

    /// A frame of every variant, in declaration order.
    fn one_of_each() -> Vec<Frame> {
        vec![
            Frame::Hello(Hello::new(code("370685"), Holds::default())),
            Frame::Refuse(Refusal::new(RefuseCode::NotChild, "not below 370600")),
            Frame::Batch(Batch {
                first: 1,
                items: vec![Item::event(&sample_event()).unwrap()],
            }),
            Frame::Ack { upto: 1 },
            Frame::Ping { nonce: 7 },
            Frame::Pong { nonce: 7 },
            Frame::Pull {
                request: 3,
                deadline_ms: 5000,
            },
            Frame::PullDone {
                request: 3,
                nodes: vec![Freshness {
                    code: "350322".parse().unwrap(),
                    reachable: true,
                    age_ms: Some(0),
                }],
            },
            Frame::Restore,
            Frame::RestoreQueued { upto: 42 },
        ]
    }

    fn raw(kind: PayloadKind, len: usize) -> Item {
        Item {
            kind,
            to: Vec::new(),
            bytes: vec![0xA5; len],
        }
    }

    // ----- framing: round trips -----

    proptest! {
        #[test]
        fn frames_round_trip_in_any_chunks(
            frames in vec(any_frame(), 1..6),
            sizes in vec(1usize..48, 1..8),
        ) {
            let bytes = encode_all(&frames);
            for sizes in [&sizes[..], &[1], &[usize::MAX]] {
                let mut reader = FrameReader::for_stream(StreamKind::Bulk);
                prop_assert_eq!(read_chunked(&mut reader, &bytes, sizes), Ok(frames.clone()));
                prop_assert_eq!(reader.buffered(), 0);
                prop_assert_eq!(reader.end_of_stream(), Ok(()));
            }
            // Control frames also pass through a control-stream reader.
            let control: Vec<Frame> =
                frames.into_iter().filter(|f| f.stream() == StreamKind::Control).collect();
            let mut reader = FrameReader::for_stream(StreamKind::Control);
            prop_assert_eq!(read_chunked(&mut reader, &encode_all(&control), &sizes), Ok(control));
        }

        /// Every strict prefix of a stream of frames yields exactly the frames it holds whole,
        /// then `Ok(None)`, and reports the partial frame at the end of the stream.
        #[test]
        fn truncated_streams_wait(frames in vec(any_frame(), 1..4), cut in any::<prop::sample::Index>()) {
            let bytes = encode_all(&frames);
            let end = cut.index(bytes.len());
            let mut reader = FrameReader::for_stream(StreamKind::Bulk);
            reader.push(&bytes[..end]);
            let mut got = Vec::new();
            while let Some(f) = reader.next_frame().unwrap() {
                got.push(f);
            }
            prop_assert!(got.len() < frames.len());
            prop_assert_eq!(&got[..], &frames[..got.len()]);
            let whole = encode_all(&got).len();
            match end - whole {
                0 => prop_assert_eq!(reader.end_of_stream(), Ok(())),
                buffered => prop_assert_eq!(reader.end_of_stream(), Err(FrameError::Truncated { buffered })),
            }
            prop_assert_eq!(reader.next_frame(), Ok(None));
            // The rest completes the stream.
            reader.push(&bytes[end..]);
            while let Some(f) = reader.next_frame().unwrap() {
                got.push(f);
            }
            prop_assert_eq!(got, frames);
        }

        /// Byte by byte, a frame appears exactly when its last byte arrives.
        #[test]
        fn one_byte_at_a_time(frame in any_frame()) {
            let bytes = encode_frame(&frame).unwrap();
            let mut reader = FrameReader::for_stream(StreamKind::Bulk);
            for (i, b) in bytes.iter().enumerate() {
                reader.push(std::slice::from_ref(b));
                if i + 1 < bytes.len() {
                    prop_assert_eq!(reader.next_frame(), Ok(None), "at byte {}", i);
                }
            }
            prop_assert_eq!(reader.next_frame(), Ok(Some(frame)));
            prop_assert_eq!(reader.next_frame(), Ok(None));
        }

        /// The byte-string fields survive a self-describing format too (JSON sends a sequence).
        #[test]
        fn frames_round_trip_through_json(frame in any_frame()) {
            let json = serde_json::to_string(&frame).unwrap();
            prop_assert_eq!(serde_json::from_str::<Frame>(&json).unwrap(), frame);
        }

        /// The prefix is the body's length, and the body is one plain codec value.
        #[test]
        fn prefix_is_body_length(frame in any_frame()) {
            let bytes = encode_frame(&frame).unwrap();
            let len = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
            prop_assert_eq!(len, bytes.len() - LENGTH_PREFIX_BYTES);
            prop_assert_eq!(bytes[4], codec::FORMAT_VERSION);
            prop_assert_eq!(codec::decode::<Frame>(&bytes[4..], MAX_FRAME_BYTES), Ok(frame));
        }
    }

    // ----- framing: hostile input -----

    /// Feeds `input` to `reader` in chunks of the `sizes` in turn, reading after every push
    /// until the reader wants more; each decoded frame goes to `on_frame`. Every read makes
    /// progress (a frame, a skipped bad frame, or the end), and the reader never buffers more
    /// than it was given.
    fn read_in_chunks(
        reader: &mut FrameReader,
        input: &[u8],
        sizes: &[usize],
        mut on_frame: impl FnMut(Frame),
    ) -> Result<(), TestCaseError> {
        let mut rest = input;
        for &size in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let n = size.min(rest.len());
            reader.push(&rest[..n]);
            rest = &rest[n..];
            loop {
                match reader.next_frame() {
                    Ok(Some(frame)) => on_frame(frame),
                    Err(FrameError::Codec(_)) => {}
                    Ok(None) | Err(FrameError::TooLarge { .. }) => break,
                    Err(e) => prop_assert!(false, "unexpected {:?}", e),
                }
            }
            prop_assert!(reader.buffered() <= input.len());
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn garbage_never_panics(
            bytes in vec(any::<u8>(), 0..600),
            sizes in vec(1usize..64, 1..6),
            limit in select(vec![0usize, 16, 300, MAX_CONTROL_FRAME_BYTES, MAX_FRAME_BYTES]),
        ) {
            // Raw garbage, and garbage behind a correct length prefix (reaches the decoder).
            let mut framed = (bytes.len() as u32).to_be_bytes().to_vec();
            framed.extend(&bytes);
            for input in [&bytes, &framed] {
                let mut reader = FrameReader::new(limit);
                read_in_chunks(&mut reader, input, &sizes, |_| {})?;
                let _ = reader.end_of_stream();
            }
        }

        /// A flipped byte anywhere in a stream of frames never panics, and the frames before
        /// the damage still arrive.
        #[test]
        fn flipped_byte_never_panics(
            frames in vec(any_frame(), 1..4),
            pos in any::<prop::sample::Index>(),
            mask in 1u8..,
        ) {
            let mut bytes = encode_all(&frames);
            let i = pos.index(bytes.len());
            bytes[i] ^= mask;
            let mut reader = FrameReader::for_stream(StreamKind::Bulk);
            reader.push(&bytes);
            let mut got = Vec::new();
            for _ in 0..frames.len() + 1 {
                match reader.next_frame() {
                    Ok(Some(f)) => got.push(f),
                    Ok(None) | Err(FrameError::TooLarge { .. }) => break,
                    Err(_) => {}
                }
            }
            // Frames that end before the flipped byte are intact.
            let mut end = 0;
            let intact = frames
                .iter()
                .take_while(|f| {
                    end += encode_frame(f).unwrap().len();
                    end <= i
                })
                .count();
            prop_assert!(got.len() >= intact);
            prop_assert_eq!(&got[..intact], &frames[..intact]);
        }

        /// What a hostile peer can do to a valid stream of frames — flip, insert, delete,
        /// truncate, repeat a slice, forge a length prefix — read by both kinds of stream in any
        /// chunks: never a panic, every call a frame, nothing yet, or an error; every batch's
        /// items decode or fail alone. (The same as the cargo-fuzz target fuzz/frame_decoder,
        /// run on every `cargo test`.)
        #[test]
        fn mutated_frames_never_panic(
            frames in vec(any_frame(), 1..4),
            edits in vec((0u8..6, any::<prop::sample::Index>(), any::<u32>(), vec(any::<u8>(), 0..16)), 1..5),
            sizes in vec(1usize..200, 1..6),
        ) {
            let mut bytes = encode_all(&frames);
            for (op, at, n, junk) in edits {
                let i = at.index(bytes.len() + 1);
                match op {
                    0 if i < bytes.len() => bytes[i] ^= (n as u8).max(1),
                    1 => {
                        let tail = bytes.split_off(i);
                        bytes.extend(&junk);
                        bytes.extend(tail);
                    }
                    2 => {
                        let end = (i + n as usize % 64).min(bytes.len());
                        bytes.drain(i..end);
                    }
                    3 => bytes.truncate(i),
                    4 => {
                        let end = (i + n as usize % 64).min(bytes.len());
                        let copy = bytes[i..end].to_vec();
                        bytes.splice(i..i, copy);
                    }
                    _ => {
                        // A forged length prefix at `i`: anything from 0 to 4 GiB.
                        let tail = bytes.split_off(i);
                        bytes.extend(n.to_be_bytes());
                        bytes.extend(tail);
                    }
                }
            }
            for kind in [StreamKind::Control, StreamKind::Bulk] {
                let mut reader = FrameReader::for_stream(kind);
                read_in_chunks(&mut reader, &bytes, &sizes, |frame| {
                    if let Frame::Batch(b) = frame {
                        for item in &b.items {
                            let _ = item.decode();
                            let _ = codec::decode_event(&item.bytes);
                        }
                        let _ = b.check_sequence(1);
                    }
                })?;
                match reader.end_of_stream() {
                    Ok(()) | Err(FrameError::Truncated { .. } | FrameError::TooLarge { .. }) => {}
                    Err(e) => prop_assert!(false, "end of stream: {:?}", e),
                }
            }
        }
    }

    /// A declared length over the limit is refused as soon as its four bytes are in, without
    /// buffering the body that follows (even when it arrives in the same push).
    #[test]
    fn over_limit_is_refused_before_buffering() {
        let junk = vec![0u8; 1 << 20];
        for limit in [MAX_CONTROL_FRAME_BYTES, MAX_FRAME_BYTES] {
            for len in [limit + 1, u32::MAX as usize] {
                let prefix = (len as u32).to_be_bytes();
                // All in one push.
                let mut reader = FrameReader::new(limit);
                let mut input = prefix.to_vec();
                input.extend(&junk);
                reader.push(&input);
                let err = FrameError::TooLarge { len, limit };
                assert_eq!(reader.next_frame(), Err(err.clone()));
                assert!(reader.buf.capacity() <= 64, "{}", reader.buf.capacity());
                // Byte by byte, then more data: still failed, still nothing buffered.
                let mut reader = FrameReader::new(limit);
                for b in prefix {
                    assert_eq!(reader.next_frame(), Ok(None));
                    reader.push(&[b]);
                }
                reader.push(&junk);
                reader.push(&junk);
                assert_eq!(reader.next_frame(), Err(err.clone()));
                assert_eq!(reader.next_frame(), Err(err.clone()));
                assert_eq!(reader.end_of_stream(), Err(err));
                assert!(reader.buf.capacity() <= 64, "{}", reader.buf.capacity());
                assert_eq!(reader.buffered(), 0);
            }
        }
    }

    /// The frames that arrived whole before a bad length are still delivered, then the error.
    #[test]
    fn frames_before_an_over_limit_length_are_delivered() {
        let ping = Frame::Ping { nonce: 1 };
        let mut input = encode_frame(&ping).unwrap();
        input.extend(u32::MAX.to_be_bytes());
        input.extend([0; 100]);
        let mut reader = FrameReader::for_stream(StreamKind::Control);
        reader.push(&input);
        assert_eq!(reader.next_frame(), Ok(Some(ping)));
        assert!(matches!(
            reader.next_frame(),
            Err(FrameError::TooLarge { len, .. }) if len == u32::MAX as usize
        ));
    }

    /// A length within the limit is not allocated up front either: the buffer grows only with
    /// the bytes that actually arrive.
    #[test]
    fn declared_length_is_not_preallocated() {
        let mut reader = FrameReader::for_stream(StreamKind::Bulk);
        reader.push(&(MAX_FRAME_BYTES as u32).to_be_bytes());
        reader.push(&[1, 2, 3]);
        assert_eq!(reader.next_frame(), Ok(None));
        assert!(reader.buf.capacity() <= 64, "{}", reader.buf.capacity());
        assert_eq!(
            reader.end_of_stream(),
            Err(FrameError::Truncated { buffered: 7 })
        );
    }

    /// Exactly at the limit is allowed (the body then fails to decode: it is junk).
    #[test]
    fn length_at_the_limit_is_accepted() {
        let limit = 300;
        let mut reader = FrameReader::new(limit);
        reader.push(&(limit as u32).to_be_bytes());
        reader.push(&vec![0xEE; limit]);
        assert!(matches!(reader.next_frame(), Err(FrameError::Codec(_))));
        assert_eq!(reader.next_frame(), Ok(None));
        assert_eq!(reader.end_of_stream(), Ok(()));
    }

    /// A body that does not decode is skipped alone; an empty body is the codec's `Empty`.
    #[test]
    fn bad_body_is_skipped_alone() {
        let ping = Frame::Ping { nonce: 1 };
        let pong = Frame::Pong { nonce: 2 };
        let mut input = encode_frame(&ping).unwrap();
        input.extend([0, 0, 0, 3, codec::FORMAT_VERSION, 0xFF, 0xFF]);
        input.extend([0, 0, 0, 0]);
        input.extend([0, 0, 0, 2, 9, 0]);
        encode_frame_into(&pong, &mut input).unwrap();
        let mut reader = FrameReader::for_stream(StreamKind::Control);
        reader.push(&input);
        assert_eq!(reader.next_frame(), Ok(Some(ping)));
        assert!(matches!(
            reader.next_frame(),
            Err(FrameError::Codec(CodecError::Decode(_)))
        ));
        assert_eq!(
            reader.next_frame(),
            Err(FrameError::Codec(CodecError::Empty))
        );
        assert_eq!(
            reader.next_frame(),
            Err(FrameError::Codec(CodecError::UnknownVersion(9)))
        );
        assert_eq!(reader.next_frame(), Ok(Some(pong)));
        assert_eq!(reader.next_frame(), Ok(None));
    }

    /// A batch over the control limit is refused by a control-stream reader, and read by a
    /// bulk-stream reader.
    #[test]
    fn control_stream_has_the_smaller_limit() {
        let batch = Frame::Batch(Batch {
            first: 1,
            items: vec![raw(PayloadKind::Record, 100 * 1024)],
        });
        let bytes = encode_frame(&batch).unwrap();
        let mut control = FrameReader::for_stream(StreamKind::Control);
        control.push(&bytes);
        assert!(matches!(
            control.next_frame(),
            Err(FrameError::TooLarge {
                limit: MAX_CONTROL_FRAME_BYTES,
                ..
            })
        ));
        let mut bulk = FrameReader::for_stream(StreamKind::Bulk);
        bulk.push(&bytes);
        assert_eq!(bulk.next_frame(), Ok(Some(batch)));
    }

    /// The writer refuses what the reader on the frame's stream would refuse, leaving the
    /// buffer as it was.
    #[test]
    fn encode_refuses_over_the_stream_limit() {
        let mut out = vec![7, 7];
        let big = Frame::Batch(Batch {
            first: 1,
            items: vec![raw(PayloadKind::Event, MAX_FRAME_BYTES)],
        });
        assert!(matches!(
            encode_frame_into(&big, &mut out),
            Err(FrameError::TooLarge {
                limit: MAX_FRAME_BYTES,
                ..
            })
        ));
        assert_eq!(out, [7, 7]);
        // Built by hand, bypassing `Refusal::new`'s truncation.
        let long = Frame::Refuse(Refusal {
            code: RefuseCode::Malformed,
            message: "x".repeat(MAX_CONTROL_FRAME_BYTES),
        });
        assert!(matches!(
            encode_frame_into(&long, &mut out),
            Err(FrameError::TooLarge {
                limit: MAX_CONTROL_FRAME_BYTES,
                ..
            })
        ));
        assert_eq!(out, [7, 7]);
        encode_frame_into(&Frame::Ack { upto: 5 }, &mut out).unwrap();
        assert_eq!(out, [7, 7, 0, 0, 0, 3, codec::FORMAT_VERSION, 3, 5]);
    }

    /// A batch filled up to the limit with `encoded_len_bound` encodes and reads back, with
    /// large items and with very many small ones; afterwards the idle reader gives the memory
    /// back.
    #[test]
    fn full_batches_round_trip() {
        for item_len in [200 * 1024, 40] {
            let mut batch = Batch {
                first: 1,
                items: Vec::new(),
            };
            let mut size = BATCH_OVERHEAD_BOUND;
            loop {
                let item = raw(PayloadKind::Event, item_len);
                if size + item.encoded_len_bound() > MAX_FRAME_BYTES {
                    break;
                }
                size += item.encoded_len_bound();
                batch.items.push(item);
            }
            assert_eq!(batch.encoded_len_bound(), size);
            let frame = Frame::Batch(batch);
            let bytes = encode_frame(&frame).unwrap();
            assert!(bytes.len() - LENGTH_PREFIX_BYTES <= size);
            assert!(bytes.len() > MAX_FRAME_BYTES * 9 / 10, "{}", bytes.len());
            let mut reader = FrameReader::for_stream(StreamKind::Bulk);
            assert_eq!(
                read_chunked(&mut reader, &bytes, &[64 * 1024]),
                Ok(vec![frame])
            );
            assert!(reader.buf.capacity() <= RETAINED_CAPACITY);
        }
    }

    /// Consumed bytes are dropped in bulk: many frames pushed at once and taken one by one do
    /// not move the buffer at each frame.
    #[test]
    fn consuming_does_not_shift_the_buffer() {
        let frames: Vec<Frame> = (0..1000).map(|nonce| Frame::Ping { nonce }).collect();
        let bytes = encode_all(&frames);
        let mut reader = FrameReader::for_stream(StreamKind::Control);
        reader.push(&bytes);
        let ptr = reader.buf.as_ptr();
        for f in &frames[..999] {
            assert_eq!(reader.next_frame().as_ref(), Ok(&Some(f.clone())));
            assert_eq!(reader.buf.as_ptr(), ptr);
        }
        assert_eq!(reader.start, bytes.len() - encode_all(&frames[999..]).len());
        // A push after most was consumed drops the consumed part first.
        reader.push(&[0]);
        assert_eq!(reader.start, 0);
        assert_eq!(reader.next_frame(), Ok(Some(frames[999].clone())));
        assert_eq!(reader.buffered(), 1);
    }

    // ----- wire stability -----

    /// Variant tags follow declaration order: new variants go at the end.
    #[test]
    fn variant_tags_are_stable() {
        for (tag, frame) in one_of_each().iter().enumerate() {
            let bytes = encode_frame(frame).unwrap();
            assert_eq!(bytes[5] as usize, tag, "{}", frame.name());
        }
        for (tag, code) in RefuseCode::ALL.into_iter().enumerate() {
            let bytes = codec::encode(&code).unwrap();
            assert_eq!(bytes[1] as usize, tag, "{code}");
        }
        for (tag, kind) in PayloadKind::ALL.into_iter().enumerate() {
            assert_eq!(codec::encode(&kind).unwrap()[1] as usize, tag, "{kind:?}");
        }
    }

    #[test]
    fn only_batches_are_bulk() {
        for frame in one_of_each() {
            let expected = match frame {
                Frame::Batch(_) => StreamKind::Bulk,
                _ => StreamKind::Control,
            };
            assert_eq!(frame.stream(), expected, "{}", frame.name());
        }
    }

    // ----- batch sequence -----

    fn batch(first: u64, n: usize) -> Batch {
        Batch {
            first,
            items: (0..n).map(|_| raw(PayloadKind::Event, 1)).collect(),
        }
    }

    fn seqs(b: &Batch, plan: &BatchPlan) -> Vec<u64> {
        b.fresh(plan).map(|(s, _)| s).collect()
    }

    #[test]
    fn check_sequence_cases() {
        // Exactly the next: everything is fresh.
        let b = batch(11, 3);
        let plan = b.check_sequence(11).unwrap();
        assert_eq!(
            plan,
            BatchPlan {
                skip: 0,
                next_expected: 14
            }
        );
        assert_eq!(seqs(&b, &plan), [11, 12, 13]);
        assert_eq!(plan.ack_upto(), 13);

        // A replayed prefix is skipped.
        let plan = b.check_sequence(13).unwrap();
        assert_eq!(plan.skip, 2);
        assert_eq!(seqs(&b, &plan), [13]);
        assert_eq!(plan.next_expected, 14);

        // Entirely held already: nothing to do, and the expectation does not go back.
        let plan = b.check_sequence(20).unwrap();
        assert_eq!(plan.skip, 3);
        assert_eq!(seqs(&b, &plan), [] as [u64; 0]);
        assert_eq!(plan.next_expected, 20);

        // A gap is refused, saying what is missing.
        let refusal = b.check_sequence(9).unwrap_err();
        assert_eq!(refusal.code, RefuseCode::Gap);
        assert_eq!(
            refusal.message,
            "batch starts at link sequence 11 but 9 is the next expected: 2 items would be lost"
        );

        // Malformed: empty, from 0, overflowing.
        for (b, expected) in [
            (batch(5, 0), "empty batch at link sequence 5"),
            (batch(0, 1), "batch starts at link sequence 0; sequences start at 1"),
            (
                batch(u64::MAX, 1),
                "batch of 1 items from link sequence 18446744073709551615 overflows the sequence space",
            ),
        ] {
            let refusal = b.check_sequence(1).unwrap_err();
            assert_eq!(refusal.code, RefuseCode::Malformed);
            assert_eq!(refusal.message, expected);
        }
        // The last representable end is fine.
        let b = batch(u64::MAX - 2, 2);
        let plan = b.check_sequence(u64::MAX - 2).unwrap();
        assert_eq!(plan.next_expected, u64::MAX);
        assert_eq!(seqs(&b, &plan), [u64::MAX - 2, u64::MAX - 1]);
    }

    proptest! {
        /// Whatever the overlap, the receiver stores each sequence at most once, in order, with
        /// no hole: exactly `max(first, expected)..first + n`.
        #[test]
        fn check_sequence_stores_each_sequence_once(first in 1u64..40, n in 1usize..10, expected in 1u64..60) {
            let b = batch(first, n);
            let end = first + n as u64;
            match b.check_sequence(expected) {
                Err(r) => {
                    prop_assert!(first > expected);
                    prop_assert_eq!(r.code, RefuseCode::Gap);
                }
                Ok(plan) => {
                    prop_assert!(first <= expected);
                    let want: Vec<u64> = (expected.max(first)..end).collect();
                    prop_assert_eq!(seqs(&b, &plan), want);
                    prop_assert_eq!(plan.next_expected, end.max(expected));
                }
            }
        }
    }

    // ----- items -----

    proptest! {
        #[test]
        fn items_round_trip(ev in any_event(), s in any_summary(), r in any_record()) {
            prop_assert_eq!(Item::event(&ev).unwrap().decode(), Ok(Payload::Event(ev.clone())));
            prop_assert_eq!(Item::summary(&s).unwrap().decode(), Ok(Payload::Summary(s)));
            prop_assert_eq!(Item::record(&r).unwrap().decode(), Ok(Payload::Record(r)));
            // An event item is what the store keeps: `codec::encode(&event)`.
            prop_assert_eq!(Item::event(&ev).unwrap().bytes, codec::encode(&ev).unwrap());
        }

        #[test]
        fn batch_bound_holds(b in any_batch()) {
            let len = encode_frame(&Frame::Batch(b.clone())).unwrap().len() - LENGTH_PREFIX_BYTES;
            prop_assert!(len <= b.encoded_len_bound(), "{} > {}", len, b.encoded_len_bound());
            // Only the fixed overhead and the targets (up to 9 bytes each) are estimates.
            let targets: usize = b.items.iter().map(|i| i.to.len()).sum();
            prop_assert!(b.encoded_len_bound() - len <= BATCH_OVERHEAD_BOUND - 4 + 9 * targets);
        }

        /// One bad item in a batch: the frame reads fine, that item alone fails to decode.
        #[test]
        fn one_bad_item_fails_alone(
            good in vec(any_encoded_item(), 2..5),
            at in any::<prop::sample::Index>(),
            wrong_kind in any::<bool>(),
        ) {
            let mut items = good.clone();
            let i = at.index(items.len());
            if wrong_kind {
                // A valid encoding labelled with another kind.
                items[i].kind = match items[i].kind {
                    PayloadKind::Event => PayloadKind::Summary,
                    _ => PayloadKind::Event,
                };
            } else {
                let half = items[i].bytes.len() / 2;
                items[i].bytes.truncate(half);
            }
            let frame = Frame::Batch(Batch { first: 1, items });
            let mut reader = FrameReader::for_stream(StreamKind::Bulk);
            reader.push(&encode_frame(&frame).unwrap());
            let Ok(Some(Frame::Batch(b))) = reader.next_frame() else {
                return Err(TestCaseError::fail("batch did not read back"));
            };
            for (j, item) in b.items.iter().enumerate() {
                prop_assert_eq!(item.decode().is_ok(), j != i, "item {}", j);
            }
        }
    }

    /// The item size is exact at every varint boundary of its length.
    #[test]
    fn item_len_is_exact_at_varint_boundaries() {
        for len in [0, 250, 251, 0xFFFF, 0x1_0000] {
            let item = raw(PayloadKind::Summary, len);
            let encoded = codec::encode(&item).unwrap().len() - 1; // minus the version byte
            assert_eq!(item.encoded_len_bound(), encoded, "{len}");
        }
    }

    #[test]
    fn oversized_event_is_refused_by_the_sender() {
        let mut ev = sample_event();
        ev.actor.name = "x".repeat(codec::MAX_EVENT_BYTES);
        assert!(matches!(
            Item::event(&ev),
            Err(CodecError::TooLarge {
                limit: codec::MAX_EVENT_BYTES,
                ..
            })
        ));
        // A record of that size is fine: records have a larger limit.
        let catalog = Record::Catalog("x".repeat(codec::MAX_EVENT_BYTES));
        assert_eq!(
            Item::record(&catalog).unwrap().decode(),
            Ok(Payload::Record(catalog))
        );
    }
}
