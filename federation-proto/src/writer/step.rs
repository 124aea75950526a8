//! The writer's step: one request ([`Input`]) applied to the group's overlay, giving its
//! answer ([`Output`]) or its refusal. A step sends nothing, answers no one and makes nothing
//! durable: the shell around it (`node/src/engine.rs`) holds the answers until the group is
//! written and flushed, so the same steps can be driven by a test without the thread.
//!
//! What a step may touch: the overlay (`writer/staged.rs`), the counters it adopts with each
//! change, and the store for reading, through the overlay — scans too (a sweep, a restore's
//! dump, a welcome). A step is a function from (input, read view) to the group's change set,
//! with one exception: renumbering an outbox ([`Input::Rebase`]) is done by the store in
//! place, so that step writes the group out first (still without a flush) — it happens only
//! when a peer's store was rebuilt.

use super::{Change, EngineError, Receipt, Resumed, Write, Writer};
use crate::case::Case;
use crate::idempotency::Once;
use crate::relay::Revoked;
use crate::verify::Checked;
use crate::{Actor, CaseNo, NodeCode};

/// What the writer is asked: every request of the node's `Engine` handle, without its reply.
// Requests live only while queued; boxing them would add an allocation per request.
#[allow(clippy::large_enum_variant)]
pub enum Input {
    Write {
        actor: Actor,
        write: Write,
        once: Option<Once>,
    },
    Receive {
        from: NodeCode,
        checked: Checked,
    },
    Learn {
        code: NodeCode,
        der: Vec<u8>,
        welcome: bool,
    },
    /// The peer holds more from us than our outbox ever queued: renumber it.
    Rebase {
        peer: NodeCode,
        floor: u64,
    },
    /// Record a revocation (from this node's `revoked.toml`) and pass it down.
    Revoke {
        entry: Revoked,
    },
    /// Drop what a peer acknowledged from its outbox. (All writes go through the writer's
    /// thread: sled batches from other threads racing its transactions have been seen to hang.)
    Ack {
        peer: NodeCode,
        upto: u64,
    },
    /// Broadcast this node's own catalog and calendar files down, where they changed.
    Publish,
    /// Queue for a child everything its restore needs.
    RestoreDump {
        child: NodeCode,
    },
    /// This node's restore from its parent's copy begins (`liandong restore`, before it dials
    /// the parent): marked in the store until [`Input::Restored`], so that an interrupted
    /// restore is known as such (`writer/numbering.rs`, `RESTORING_KEY`).
    RestoreBegun,
    /// This node's restore from its parent's copy is complete (`liandong restore`, once the
    /// copy is durable here): its case numbering skips past every number the lost store could
    /// have issued (`writer/numbering.rs`); answers where it resumes.
    Restored,
    /// Re-evaluate the clocks of the cases held here (see `writer/supervise.rs`); `full` also
    /// those whose clocks have stopped (the calendar may have changed under them).
    Sweep {
        full: bool,
    },
    /// One slice of a sweep ([`Input::Sweep`]) from `from`: at most `limit` cases or
    /// summaries (the write thread uses [`super::SWEEP_SLICE`]); answers what it did and where
    /// the next slice starts. The write thread runs a sweep this way between other work.
    SweepSlice {
        full: bool,
        from: super::SweepFrom,
        limit: usize,
    },
    /// Load official calendar years into this node's own calendar, broadcast it down and
    /// re-evaluate every case; answers how many summaries changed.
    LoadCalendar {
        text: String,
    },
    /// A 督办 notice on a case, held here or known by its summary.
    Notice {
        actor: Actor,
        case_no: CaseNo,
        note: String,
    },
}

impl Input {
    /// Whether the answer waits for the group's flush. Only an ack does not: losing one is
    /// harmless (the items are sent again).
    pub fn waits_for_flush(&self) -> bool {
        !matches!(self, Input::Ack { .. })
    }
}

/// A step's answer, by the kind of request.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Output {
    /// A write's case as it now stands.
    Case(Case),
    /// What a peer's batch came to.
    Receipt(Receipt),
    Unit,
    /// A count or a sequence number (see the request).
    Seq(u64),
    /// Where a restored node's case numbering resumes.
    Resumed(Resumed),
    /// What a slice of a sweep did.
    Slice(super::SweepSlice),
}

impl Output {
    fn mismatch(self, wanted: &str) -> EngineError {
        EngineError::Unavailable(format!(
            "the write task answered {self:?} where {wanted} was due"
        ))
    }

    pub fn case(self) -> Result<Case, EngineError> {
        match self {
            Output::Case(case) => Ok(case),
            other => Err(other.mismatch("a case")),
        }
    }

    pub fn receipt(self) -> Result<Receipt, EngineError> {
        match self {
            Output::Receipt(receipt) => Ok(receipt),
            other => Err(other.mismatch("a receipt")),
        }
    }

    pub fn unit(self) -> Result<(), EngineError> {
        match self {
            Output::Unit => Ok(()),
            other => Err(other.mismatch("nothing")),
        }
    }

    pub fn seq(self) -> Result<u64, EngineError> {
        match self {
            Output::Seq(n) => Ok(n),
            other => Err(other.mismatch("a number")),
        }
    }

    pub fn slice(self) -> Result<super::SweepSlice, EngineError> {
        match self {
            Output::Slice(slice) => Ok(slice),
            other => Err(other.mismatch("a slice of a sweep")),
        }
    }

    pub fn resumed(self) -> Result<Resumed, EngineError> {
        match self {
            Output::Resumed(resumed) => Ok(resumed),
            other => Err(other.mismatch("where the numbering resumes")),
        }
    }
}

impl Writer {
    /// Applies one request to the group. On an error, what the request staged before it
    /// failed stays staged (a batch refused after some of its items): it is written with the
    /// group all the same.
    ///
    /// After a failed write or flush ([`Writer::failed`]) every step is refused: nothing since
    /// the previous flush can be promised durable, so nothing may build on it.
    pub fn step(&mut self, now_ms: u64, input: Input) -> Result<Output, EngineError> {
        if let Some(reason) = &self.failed {
            return Err(EngineError::Unavailable(format!(
                "storage failed earlier ({reason}); restart the node"
            )));
        }
        self.now_ms = now_ms;
        match input {
            Input::Write { actor, write, once } => {
                self.apply_once(actor, write, once).map(Output::Case)
            }
            Input::Receive { from, checked } => self.receive(from, checked).map(Output::Receipt),
            Input::Learn { code, der, welcome } => {
                self.learn(code, der, welcome).map(|()| Output::Unit)
            }
            Input::Rebase { peer, floor } => self.rebase(peer, floor).map(Output::Seq),
            Input::Revoke { entry } => {
                let mut change = Change::default();
                self.take_revocation(entry, None, &mut change)?;
                self.commit(self.meta, change);
                Ok(Output::Unit)
            }
            Input::Ack { peer, upto } => {
                self.store.outbox_ack(peer, upto)?;
                Ok(Output::Unit)
            }
            Input::Publish => self.publish().map(|()| Output::Unit),
            Input::RestoreDump { child } => self.restore_dump(child).map(Output::Seq),
            Input::RestoreBegun => {
                self.restore_begun();
                Ok(Output::Unit)
            }
            Input::Restored => self.restored().map(Output::Resumed),
            Input::LoadCalendar { text } => self.load_calendar(&text).map(Output::Seq),
            Input::Sweep { full } => self.sweep(full).map(Output::Seq),
            Input::SweepSlice { full, from, limit } => self
                .sweep_slice(full, from, limit.max(1))
                .map(Output::Slice),
            Input::Notice {
                actor,
                case_no,
                note,
            } => self.notice(actor, case_no, note).map(Output::Seq),
        }
    }
}
