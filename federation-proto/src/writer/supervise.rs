//! The write thread's side of supervision (电子监察): summaries that follow the calendar, 督办
//! notices on cases this node knows only by their summary, and the automatic 督办 of a child's
//! case that stays red.
//!
//! Warnings change with the date as well as with events: a case nobody touches still turns
//! yellow, then red. So the node re-evaluates the cases it holds from time to time (a sweep),
//! and a summary that changed is kept and — for a case it owns — sent up like any other.

use crate::{Actor, CaseNo, CaseSummary, Date, EventBody, Hlc, Warning};
use tracing::{info, info_span};

use super::{sweep_index, Change, EngineError, Writer};
use crate::case::{Case, Refusal};
use crate::relay::event_bytes;
use crate::store::StoreError;

/// The actor of an automatic 督办.
const AUTO_SUPERVISOR: &str = "自动督办";

/// What a slice of cases came to: the stale cases, how many were evaluated, the last one read
/// and whether none is left.
type Judged = (Vec<Case>, u64, Option<CaseNo>, bool);

/// Cases (then summaries) one slice of a sweep reads at most: the write thread runs a long
/// sweep a slice at a time, between other work, so a node holding hundreds of thousands of
/// cases is never stopped for seconds by one.
pub const SWEEP_SLICE: usize = 2048;

/// Where a sweep goes on: its cases after a case number, or its summaries after one (the
/// automatic 督办s, once every case is evaluated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SweepFrom {
    Cases(Option<CaseNo>),
    Summaries(Option<CaseNo>),
}

/// What one slice of a sweep did, and where the next one starts (`None`: the sweep is done).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepSlice {
    pub evaluated: u64,
    pub changed: u64,
    pub next: Option<SweepFrom>,
}

impl Writer {
    /// Refreshes every summary whose clocks moved since it was written, then raises the
    /// automatic 督办s that are due. Returns how many summaries changed. `full` looks at
    /// concluded cases too: after a calendar change, their deadlines and their on-time
    /// judgement may move as well. In one step: the slices of [`Writer::sweep_slice`] back to
    /// back.
    pub(super) fn sweep(&mut self, full: bool) -> Result<u64, EngineError> {
        let (mut evaluated, mut changed) = (0, 0);
        let mut from = SweepFrom::Cases(None);
        loop {
            let slice = self.sweep_slice(full, from, usize::MAX)?;
            evaluated += slice.evaluated;
            changed += slice.changed;
            match slice.next {
                Some(next) => from = next,
                None => break,
            }
        }
        if full {
            self.log_full_sweep(evaluated, changed);
        }
        Ok(changed)
    }

    /// Says what a full sweep found (the calendar in force decides every deadline); for a
    /// shell that ran one a slice at a time ([`Input::SweepSlice`]).
    ///
    /// [`Input::SweepSlice`]: super::Input::SweepSlice
    pub fn log_full_sweep(&self, evaluated: u64, changed: u64) {
        let calendar = self.reference.calendar();
        info!(
            node = %self.code,
            evaluated,
            changed,
            official_until = calendar.last_official_year(),
            "clocks re-evaluated against the calendar in force: {changed} of {evaluated} cases changed"
        );
    }

    /// One slice of a sweep from `from`: up to `limit` cases re-evaluated (their stale
    /// summaries refreshed), or up to `limit` summaries looked at for an automatic 督办.
    ///
    /// Read through the group's overlay: a case this group changed is judged as it now
    /// stands. The cases the group added (not yet written) are judged with the last slice of
    /// cases. A case written by an earlier group after its place in the order was passed is
    /// not judged again — its summary was made when it was written, with the same calendar
    /// and date; a calendar loaded meanwhile sweeps everything again in one step
    /// ([`Writer::load_calendar`]).
    pub(super) fn sweep_slice(
        &mut self,
        full: bool,
        from: SweepFrom,
        limit: usize,
    ) -> Result<SweepSlice, EngineError> {
        match from {
            SweepFrom::Cases(after) => self.sweep_cases(full, after, limit),
            SweepFrom::Summaries(after) => {
                let next = self.auto_supervise(after, limit)?;
                Ok(SweepSlice {
                    evaluated: 0,
                    changed: 0,
                    next: next.map(|n| SweepFrom::Summaries(Some(n))),
                })
            }
        }
    }

    fn sweep_cases(
        &mut self,
        full: bool,
        after: Option<CaseNo>,
        limit: usize,
    ) -> Result<SweepSlice, EngineError> {
        // A sweep that is not full reads the index once one is built; a sweep reading
        // everything from the start builds one (`writer/sweep_index.rs`).
        let indexed =
            !full && self.sweep_index.live.is_some() && self.sweep_index.building.is_none();
        if after.is_none() && !indexed {
            self.sweep_index.building = Some(Default::default());
        }
        let (stale, evaluated, last, exhausted) = if indexed {
            self.judge_indexed(after, limit)?
        } else {
            self.judge_all(full, after, limit)?
        };
        let changed = stale.len() as u64;
        for case in stale {
            let mut meta = self.meta;
            meta.hlc = Hlc::tick(meta.hlc, self.now_ms);
            let mut change = Change::default();
            self.summarise(&case, meta.hlc, &mut change)?;
            self.commit(meta, change);
        }
        let next = if exhausted {
            // The summaries just refreshed (staged) are what decides the 督办s.
            SweepFrom::Summaries(None)
        } else {
            SweepFrom::Cases(last)
        };
        Ok(SweepSlice {
            evaluated,
            changed,
            next: Some(next),
        })
    }

    /// Up to `limit` of the indexed cases after `after`, judged: the stale ones, how many
    /// were evaluated, the last one read and whether none is left.
    fn judge_indexed(&self, after: Option<CaseNo>, limit: usize) -> Result<Judged, EngineError> {
        let Some(index) = &self.sweep_index.live else {
            return Ok((Vec::new(), 0, None, true));
        };
        let numbers = sweep_index::after(&index.cases, after, limit);
        let (mut stale, mut evaluated) = (Vec::new(), 0);
        for no in &numbers {
            if let Some(case) = self.case(no)? {
                stale.extend(self.judge(false, case, &mut evaluated)?);
            }
        }
        Ok((
            stale,
            evaluated,
            numbers.last().copied(),
            numbers.len() < limit,
        ))
    }

    /// Up to `limit` of every case held after `after` (through the group's overlay; those the
    /// group added with the last slice), judged and noted in the index being built.
    fn judge_all(
        &mut self,
        full: bool,
        after: Option<CaseNo>,
        limit: usize,
    ) -> Result<Judged, EngineError> {
        let (seen, last, exhausted) = slice_overlaid(
            self.store.cases_from(after.as_ref()),
            |c: &Case| self.staged.case(&c.case_no).cloned(),
            || {
                self.staged
                    .cases()
                    .filter(|c| !matches!(self.store.case(&c.case_no), Ok(Some(_))))
                    .cloned()
                    .collect()
            },
            |c| c.case_no,
            limit,
        )?;
        let (mut stale, mut evaluated) = (Vec::new(), 0);
        for case in seen {
            self.sweep_index.note_building_case(self.code, &case);
            stale.extend(self.judge(full, case, &mut evaluated)?);
        }
        Ok((stale, evaluated, last, exhausted))
    }

    /// The case back when its summary here is stale, having counted it as evaluated; `None`
    /// when this node is not involved, its clocks cannot move (and not `full`), or its summary
    /// is current.
    fn judge(
        &self,
        full: bool,
        case: Case,
        evaluated: &mut u64,
    ) -> Result<Option<Case>, EngineError> {
        if !case.involved().contains(&self.code) {
            return Ok(None);
        }
        let held = self.summary(&case.case_no)?;
        if held.is_some() && !full && !clocks_can_move(&case) {
            return Ok(None);
        }
        *evaluated += 1;
        let fresh = self.summary_of(&case, self.meta.hlc);
        Ok(held
            .is_none_or(|h| !same_apart_from_time(&h, &fresh))
            .then_some(case))
    }

    /// Loads official calendar years into this node's own calendar ([`Reference::load_calendar`]),
    /// keeps them, broadcasts the calendar down and re-evaluates every case. Returns how many
    /// summaries changed.
    ///
    /// [`Reference::load_calendar`]: crate::reference::Reference::load_calendar
    pub(super) fn load_calendar(&mut self, text: &str) -> Result<u64, EngineError> {
        let loaded = self
            .reference
            .load_calendar(text)
            .map_err(|e| Refusal::Invalid(format!("calendar: {e}")))?;
        let change = Change {
            setting: Some((crate::reference::LOADED_CALENDAR_KEY, loaded.into_bytes())),
            ..Change::default()
        };
        self.commit(self.meta, change);
        info!(node = %self.code, "official calendar years loaded");
        self.publish()?;
        self.sweep(true)
    }

    /// A 督办 notice on `case_no` from this node. A case held here is acted on like any other;
    /// one known only by its summary (owned somewhere below) gets the event addressed to its
    /// owner, whose answer comes back up in the summary. Returns the notice's sequence number.
    pub(super) fn notice(
        &mut self,
        actor: Actor,
        case_no: CaseNo,
        note: String,
    ) -> Result<u64, EngineError> {
        let body = EventBody::Supervise { note };
        if self.case(&case_no)?.is_some() {
            self.apply(actor, super::Write::Act { case_no, body })?;
            return Ok(self.meta.last_seq);
        }
        let summary = self
            .summary(&case_no)?
            .ok_or(EngineError::NotFound(case_no))?;
        if !self.code.is_ancestor_of(summary.owner) {
            return Err(Refusal::Authority(format!(
                "督办 must come from an ancestor of the owner {}; {} is not one",
                summary.owner, self.code
            ))
            .into());
        }
        let mut meta = self.meta;
        let mut event = self.next_event(&mut meta, Some(case_no), actor, body)?;
        let _span =
            info_span!("notice", node = %self.code, case = %case_no, owner = %summary.owner)
                .entered();
        crate::sign::sign(&mut event, &self.key);
        super::check_event_size(&event)?;
        let mut change = Change::default();
        self.router
            .route_authored(&event_bytes(&event)?, &[summary.owner], &mut change.queue)?;
        change.event = Some((event, None));
        self.commit(meta, change);
        info!("督办 sent to the owner");
        Ok(self.meta.last_seq)
    }

    /// 督办 from this node for every case a direct child owns that is still red
    /// `auto_supervise_days` working days after its promised deadline, once per case: up to
    /// `limit` summaries after `after`; the last one looked at, when more may follow.
    fn auto_supervise(
        &mut self,
        after: Option<CaseNo>,
        limit: usize,
    ) -> Result<Option<CaseNo>, EngineError> {
        let building = self.sweep_index.building.is_some();
        let (candidates, last, exhausted) = match &self.sweep_index.live {
            Some(index) if !building => {
                let numbers = sweep_index::after(&index.red_children, after, limit);
                let mut summaries = Vec::with_capacity(numbers.len());
                for no in &numbers {
                    summaries.extend(self.summary(no)?);
                }
                let exhausted = numbers.len() < limit;
                (summaries, numbers.last().copied(), exhausted)
            }
            _ => self.every_summary(after, limit)?,
        };
        let mut due = Vec::new();
        for summary in candidates {
            self.sweep_index.note_building_summary(self.code, &summary);
            if self.supervision_due(&summary)? {
                due.push(summary);
            }
        }
        for summary in due {
            let note = format!(
                "自动督办：{} 已超过承诺期限 {}，逾期超过 {} 个工作日，请尽快办结并回复",
                summary.case_no,
                summary.deadline.map(|d| d.to_string()).unwrap_or_default(),
                self.policy.auto_supervise_days
            );
            let actor = Actor {
                name: AUTO_SUPERVISOR.into(),
                department: None,
            };
            self.notice(actor, summary.case_no, note)?;
        }
        if exhausted {
            // The sweep read everything: what it built is the index from now on.
            self.sweep_index.built();
            return Ok(None);
        }
        Ok(last)
    }

    /// Up to `limit` of every summary held after `after`, through the group's overlay (those
    /// the group added with the last slice); the last one read and whether none is left.
    fn every_summary(
        &self,
        after: Option<CaseNo>,
        limit: usize,
    ) -> Result<(Vec<CaseSummary>, Option<CaseNo>, bool), EngineError> {
        Ok(slice_overlaid(
            self.store.summaries_from(after.as_ref()),
            |s: &CaseSummary| self.staged.summary(&s.case_no).cloned(),
            || {
                self.staged
                    .summaries()
                    .filter(|s| !matches!(self.store.summary(&s.case_no), Ok(Some(_))))
                    .cloned()
                    .collect()
            },
            |s| s.case_no,
            limit,
        )?)
    }

    /// Whether the case of `summary`, owned by a direct child, is due an automatic 督办 from
    /// here: red and open, past its promised deadline by the policy's working days, and not
    /// noticed from here before.
    fn supervision_due(&self, summary: &CaseSummary) -> Result<bool, EngineError> {
        if !crate::route::direct_child_of(self.code, summary.owner)
            || summary.notices.iter().any(|n| n.from == self.code)
        {
            return Ok(false);
        }
        let Some(deadline) = summary.deadline.filter(|_| red_and_open(summary)) else {
            return Ok(false);
        };
        let calendar = self.reference.calendar();
        let today = Date::from_unix_ms(self.now_ms);
        let limit = calendar.add_workdays(deadline, self.policy.auto_supervise_days);
        Ok(today > limit && !self.noticed_here(&summary.case_no)?)
    }

    /// Whether this node already authored a 督办 on the case (its summary may not show it yet).
    fn noticed_here(&self, case_no: &CaseNo) -> Result<bool, EngineError> {
        Ok(self
            .events_of(case_no)?
            .iter()
            .any(|e| e.id.origin == self.code && matches!(e.body, EventBody::Supervise { .. })))
    }
}

/// Whether a case's clocks can still change with the date: it runs, or a rectification is open.
/// Up to `limit` records from `written` (the store's, in case-number order from a cursor),
/// each replaced by its `staged` version if the group changed it, and — once none is left
/// there — those the group `added`: the records, the last one read from the store, and
/// whether none is left. One slice of a sweep, through the group's overlay.
fn slice_overlaid<'a, T>(
    written: Box<dyn Iterator<Item = Result<T, StoreError>> + 'a>,
    staged: impl Fn(&T) -> Option<T>,
    added: impl FnOnce() -> Vec<T>,
    no: impl Fn(&T) -> CaseNo,
    limit: usize,
) -> Result<(Vec<T>, Option<CaseNo>, bool), StoreError> {
    let mut seen = Vec::new();
    let mut exhausted = true;
    for record in written {
        let record = record?;
        seen.push(staged(&record).unwrap_or(record));
        if seen.len() >= limit {
            exhausted = false;
            break;
        }
    }
    let last = seen.last().map(&no);
    if exhausted {
        seen.extend(added());
    }
    Ok((seen, last, exhausted))
}

pub(super) fn clocks_can_move(case: &Case) -> bool {
    case.state.is_open()
        || (case.rating.as_ref().is_some_and(|r| r.is_bad()) && case.rectified_on.is_none())
}

pub(super) fn red_and_open(summary: &CaseSummary) -> bool {
    summary.warning == Warning::Red && summary.state.is_open()
}

fn same_apart_from_time(held: &CaseSummary, fresh: &CaseSummary) -> bool {
    CaseSummary {
        as_of: fresh.as_of,
        ..held.clone()
    } == *fresh
}
