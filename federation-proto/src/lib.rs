//! `federation-proto`: liandong's pure core — what nodes say to each other, and what they all
//! compute the same way from it — with no I/O: no sockets, no storage, no system clock (time
//! comes in as an argument). The node crate is the shell around it.
//!
//! Module map:
//! - [`code`]: division codes (区划代码), levels, prefixes and the ancestor test routing uses.
//! - [`date`]: civil dates in China Standard Time.
//! - [`hlc`]: the hybrid logical clock that orders events.
//! - [`case_no`]: case numbers (办件编号).
//! - [`event`]: events and their bodies — every action on a case.
//! - [`summary`]: case states, warnings and the status summary sent to ancestors, built from a
//!   folded case by [`summary::summarise`].
//! - [`applicant`]: check digits of resident IDs (GB 11643) and 统一社会信用代码 (GB 32100).
//! - [`case`]: the case model (办件) and its fold — the rules every involved node applies to
//!   the same events in the same order, so that they all derive the same state.
//! - [`deadline`]: the legal and promised clocks of a case, its warning and rectification.
//! - [`calendar`]: working days from the State Council's notices, and a provisional calendar
//!   derived from the law for years without one.
//! - [`codec`]: versioned, size-limited binary encoding.
//! - [`sign`]: ed25519 signatures over the canonical encoding.
//! - [`frame`]: the link protocol — streams, frames, length-prefixed framing, handshake checks.
//! - [`link`]: one link connection as a state machine — hello, resume, window, acks, pings,
//!   timeouts — driven by the shell with frames, durability and an explicit `now`.
//! - [`route`]: longest-prefix next hops over the tree, and which items go where (DESIGN.md §4).
//!
//! The node's state, still without I/O:
//! - [`catalog`], [`reference`](mod@reference): the item catalog (事项目录) and the reference data in force —
//!   the node's own or adopted from an ancestor's broadcast.
//! - [`operator`]: operators (操作员), roles and token hashes.
//! - [`idempotency`]: `Idempotency-Key` records — a retried write gets the first attempt's case.
//! - [`store`]: the storage traits, one per concern, and [`store::memory::MemStore`], the
//!   in-memory implementation with a disk's durability that tests and the simulation crash.
//! - [`relay`]: the outboxes as the writer fills them, by [`route::destinations`], and the
//!   certificate directory (X.509 itself is the shell's, behind [`relay::Certificates`]).
//! - [`verify`]: a peer's batch decoded and its signatures checked ahead of the writer.
//! - [`writer`]: the write path as a step function — each request applied to the group's
//!   overlay, the group's change set written and flushed once, answers only after that.

pub mod applicant;
#[cfg(test)]
mod arbitrary;
pub mod calendar;
pub mod case;
pub mod case_no;
pub mod catalog;
pub mod code;
pub mod codec;
pub mod date;
pub mod deadline;
pub mod event;
/// Test fixtures shared by the unit tests of the core and of the node (feature `fixtures`).
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
pub mod frame;
pub mod hlc;
pub mod idempotency;
pub mod link;
pub mod operator;
pub mod reference;
pub mod relay;
pub mod route;
pub mod sign;
pub mod store;
pub mod summary;
pub mod verify;
pub mod writer;

pub use case_no::CaseNo;
pub use code::{Level, NodeCode};
pub use date::Date;
pub use event::{
    Actor, Applicant, ApplicantKind, Event, EventBody, EventId, Intake, ItemKind, Participant, Sig,
    SpecialProcedure,
};
// Batch contents (`frame::Item`, `frame::Record`, …) stay under `frame::`: at the root, `Item`
// would read as a catalog item (事项).
pub use frame::{Frame, FrameError, FrameReader, Hello, Holds, Refusal, RefuseCode, StreamKind};
pub use hlc::Hlc;
pub use summary::{CaseSummary, JointStatus, NoticeStatus, State, Warning};
