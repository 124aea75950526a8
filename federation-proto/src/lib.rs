//! `federation-proto`: what liandong nodes say to each other, with no I/O.
//!
//! Module map:
//! - [`code`]: division codes (区划代码), levels, prefixes and the ancestor test routing uses.
//! - [`date`]: civil dates in China Standard Time.
//! - [`hlc`]: the hybrid logical clock that orders events.
//! - [`case_no`]: case numbers (办件编号).
//! - [`event`]: events and their bodies — every action on a case.
//! - [`summary`]: case states, warnings and the status summary sent to ancestors.
//! - [`applicant`]: check digits of resident IDs (GB 11643) and 统一社会信用代码 (GB 32100).
//! - [`codec`]: versioned, size-limited binary encoding.
//! - [`sign`]: ed25519 signatures over the canonical encoding.
//! - [`frame`]: the link protocol — streams, frames, length-prefixed framing, handshake checks.
//! - [`route`]: longest-prefix next hops over the tree, and which items go where (DESIGN.md §4).

pub mod applicant;
#[cfg(test)]
mod arbitrary;
pub mod case_no;
pub mod code;
pub mod codec;
pub mod date;
pub mod event;
pub mod frame;
pub mod hlc;
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
