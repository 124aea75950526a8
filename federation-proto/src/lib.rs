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

pub mod applicant;
#[cfg(test)]
mod arbitrary;
pub mod calendar;
pub mod case;
pub mod case_no;
pub mod code;
pub mod codec;
pub mod date;
pub mod deadline;
pub mod event;
pub mod frame;
pub mod hlc;
pub mod link;
pub mod route;
pub mod sign;
pub mod summary;

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
