//! Case numbers (办件编号, `<code>-<yyyymmdd>-<6-digit daily sequence>`, [`CaseNo`]) and what
//! a restore does to them.
//!
//! A node numbers its cases alone: the date is the day of its hybrid clock, which never goes
//! back, and the daily sequence follows the last one it issued that day
//! ([`NodeMeta::case_day`], [`NodeMeta::case_seq`]). A restored node (`liandong restore`) knows
//! only the numbers its parent's copy holds: it adopts them from its own submissions as they
//! come back (`writer/peers.rs`). A submission it had acknowledged — the applicant holds a
//! 受理通知单 with its number — but that had not reached the parent when the disk went is gone
//! with the disk, and nothing in the federation remembers its number: counting on from the
//! parent's copy, the next case of that day got it again (two applicants, one case number;
//! `LIANDONG_SIM_SEED=8` did it). So a restored node skips past every number it could have
//! issued.
//!
//! **The rule.** When the restore is complete ([`super::Input::Restored`]), let R be the day of
//! the writer's hybrid clock — the later of the node's clock and every event the restore
//! brought back — and s the seconds of R gone by then:
//! - day R resumes at [`RESTORE_FLOOR`] + s (900 001 + s), or after the highest number of R
//!   the parent's copy holds if that is higher;
//! - the day after R starts at [`RESTORE_FLOOR`] instead of 1;
//! - later days start at 1 as always: a number carries its date, and no case the lost store
//!   issued bears a later one (below).
//!
//! This is recorded in the restore's change set (the counters, and the last day of the floor
//! as the setting [`FLOOR_KEY`], so that stores written before it still open: the counters'
//! encoding is positional) and flushed before `liandong restore` says it is done.
//!
//! Why it holds:
//! - *The first restore of a day.* The lost numbers of R follow the held ones up from 1: below
//!   900 001 while a node issues fewer than 900 000 cases a day (a center issues hundreds).
//! - *A lost case dated after R.* Its date is that of the lost store's hybrid clock when it
//!   was issued. The restore runs after the loss, so on a clock that is right (or one that ran
//!   ahead and is still the node's) that date is at most R; it is R + 1 when the lost store's
//!   clock ran ahead of the restoring one by less than a day (a new machine, a clock set
//!   back, a loss near midnight): skipped too. The limit: a lost case dated 24 hours or more
//!   after the restoring clock's reading at the restore — a lost store whose clock ran a day
//!   or more ahead of the one that restores it — may have its number given again on its day,
//!   by the first cases of that day. `liandong restore` prints R: it should be today.
//! - *The disk lost again the same day.* The parent's copy may hold none of the cases numbered
//!   since the first restore, so the second restore cannot learn them from it. It does not
//!   need to: those numbers started at 900 001 + s₁ and grew by one per case, so they are
//!   below 900 001 + s₂ as long as the node issued no more cases than seconds passed between
//!   the two restores (a case at a window takes minutes) and its clock did not go back
//!   between them. The same holds for a restore on the day after a restore, whose numbers
//!   started at 900 001 (s = 0). The limit: a node issuing more than one case a second on
//!   average between two restores of one day, or restored the second time with its clock set
//!   back, may give a number again.
//! - *How far it reaches.* After a restore at 23:59:59 the day still has 13 600 numbers
//!   (986 400 to 999 999); a day that runs out refuses new cases until the next
//!   ([`next_case_no`]) rather than give a number twice.
//!
//! The event sequence ([`NodeMeta::last_seq`]) resumes after the highest own event the
//! parent's copy holds (`writer/peers.rs`), so the sequence numbers of the lost events are
//! given again. For a township that is harmless: its one link is to its county, so any event of
//! it that reached any node went through the county; the county passes an item on only once it
//! has made it durable (its outbox senders send only what a flush made durable, see
//! `writer.rs`), so it holds every such event; and its copy gives back every event of the
//! township it holds ([`Writer::restore_dump`](super::Writer), `events_by_origin`). So an event
//! numbered above the highest the county gives back never left the township, and no node holds
//! another event under a reused `(origin, seq)` — which a receiver would refuse as two nodes
//! signing as one (`writer/peers.rs`, the equivocation alert). A county's events reach its
//! townships without going through its city: that is one reason a county is not restored whole
//! (docs/ARCHITECTURE.md, "Not yet done").

use tracing::{info, warn};

use super::{Change, EngineError, Writer};
use crate::codec;
use crate::store::{NodeMeta, StoreError};
use crate::{CaseNo, Date, Hlc, NodeCode};

/// Where a restored node's daily sequence resumes, plus the seconds of the day gone at the
/// restore: far above what a center issues in a day, far enough below [`CaseNo::MAX_SEQ`] to
/// leave room for the rest of the day.
pub const RESTORE_FLOOR: u32 = 900_001;

/// The node setting that holds the last day whose numbering starts at [`RESTORE_FLOOR`] (the
/// day after the latest restore's), [`codec`]-encoded [`Date`].
pub const FLOOR_KEY: &[u8] = b"numbering:floor_through";

/// The node setting that marks a restore under way: written and flushed before the node
/// asks its parent for its copy ([`super::Input::RestoreBegun`]), emptied in the change set
/// that completes it ([`super::Input::Restored`]). A store that still holds it was left by an
/// interrupted `liandong restore`: its copy may be partial and its numbering floor is not set,
/// so `liandong run` refuses it and `liandong restore` resumes it.
pub const RESTORING_KEY: &[u8] = b"restore:under_way";

/// Whether a store's [`RESTORING_KEY`] setting says a restore is under way.
pub fn restore_under_way(setting: Option<Vec<u8>>) -> bool {
    setting.is_some_and(|v| !v.is_empty())
}

/// Where a restored node's case numbering resumes ([`super::Input::Restored`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resumed {
    /// The restore's day: the day of the writer's hybrid clock when it completed.
    pub day: Date,
    /// The daily sequence the next case of `day` takes.
    pub next_seq: u32,
    /// The last day whose numbering starts at [`RESTORE_FLOOR`] (the day after `day`).
    pub floor_through: Date,
}

/// The last day of the floor the latest restore recorded, from its setting ([`FLOOR_KEY`]).
pub(super) fn floor_through(setting: Option<Vec<u8>>) -> Result<Option<Date>, StoreError> {
    setting
        .map(|bytes| codec::decode::<Date>(&bytes, 64).map_err(StoreError::Codec))
        .transpose()
}

impl Writer {
    /// A restore begins: marked in the store ([`RESTORING_KEY`]) before anything of the copy
    /// arrives, so that an interruption leaves a store that says so.
    pub(super) fn restore_begun(&mut self) {
        self.commit(
            self.meta,
            Change {
                setting: Some((RESTORING_KEY, b"1".to_vec())),
                ..Change::default()
            },
        );
        info!(node = %self.code, "restore under way");
    }

    /// The restore is complete: the node's numbering skips past every case number its lost
    /// store could have issued (the module's doc says how and why). The counters and the
    /// floor go into the group's change set; the caller answers once it is flushed.
    pub(super) fn restored(&mut self) -> Result<Resumed, EngineError> {
        let mut meta = self.meta;
        // Kept: a node restarted with its clock behind the restore's must not number a day
        // before R, whose numbers the floor does not cover.
        meta.hlc = Hlc::tick(meta.hlc, self.now_ms);
        let day = Date::from_unix_ms(meta.hlc.wall_ms);
        let gone = (meta.hlc.wall_ms.saturating_sub(day.start_unix_ms()) / 1000).min(86_399);
        let floor = RESTORE_FLOOR + gone as u32;
        // The parent's copy may hold numbers of R above the floor: those of an earlier
        // restore of the same day that did reach it.
        let held = if meta.case_day == Some(day) {
            meta.case_seq
        } else {
            0
        };
        let next_seq = held.saturating_add(1).max(floor);
        meta.case_day = Some(day);
        // A day used up to its last number stays used up: `next_case_no` refuses more.
        meta.case_seq = (next_seq - 1).min(CaseNo::MAX_SEQ);
        let through = self.floor_through.map_or(day.succ(), |t| t.max(day.succ()));
        let change = Change {
            setting: Some((FLOOR_KEY, codec::encode(&through)?)),
            ..Change::default()
        };
        self.floor_through = Some(through);
        self.commit(meta, change);
        // In the same group: the restore is no longer under way once this is durable.
        self.commit(
            self.meta,
            Change {
                setting: Some((RESTORING_KEY, Vec::new())),
                ..Change::default()
            },
        );
        if next_seq > CaseNo::MAX_SEQ {
            warn!(node = %self.code, %day, "restored with every case number of the day used");
        }
        info!(node = %self.code, %day, next_seq, %through, "restore complete: case numbers skip what the lost store may have issued");
        Ok(Resumed {
            day,
            next_seq,
            floor_through: through,
        })
    }
}

/// The next case number of `day`: `<code>-<yyyymmdd>-<6-digit daily sequence>`. A day not
/// numbered yet starts at 1, or at [`RESTORE_FLOOR`] up to `floor_through` (the day after a
/// restore, see the module's doc).
pub(super) fn next_case_no(
    meta: &mut NodeMeta,
    code: NodeCode,
    day: Date,
    floor_through: Option<Date>,
) -> Result<CaseNo, EngineError> {
    let seq = if meta.case_day == Some(day) {
        meta.case_seq + 1
    } else if floor_through.is_some_and(|through| day <= through) {
        RESTORE_FLOOR
    } else {
        1
    };
    if seq > CaseNo::MAX_SEQ {
        warn!(%day, "daily case numbers exhausted");
        return Err(EngineError::Unavailable(format!(
            "all {} case numbers of {day} are used",
            CaseNo::MAX_SEQ
        )));
    }
    meta.case_day = Some(day);
    meta.case_seq = seq;
    Ok(CaseNo {
        node: code,
        date: day,
        seq,
    })
}
