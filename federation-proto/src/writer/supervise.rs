//! The write thread's side of supervision (电子监察): summaries that follow the calendar, 督办
//! notices on cases this node knows only by their summary, and the automatic 督办 of a child's
//! case that stays red.
//!
//! Warnings change with the date as well as with events: a case nobody touches still turns
//! yellow, then red. So the node re-evaluates the cases it holds from time to time (a sweep),
//! and a summary that changed is kept and — for a case it owns — sent up like any other.

use crate::{Actor, CaseNo, CaseSummary, Date, EventBody, Hlc, Warning};
use tracing::{info, info_span};

use super::{Change, EngineError, Writer};
use crate::case::{Case, Refusal};
use crate::relay::event_bytes;

/// The actor of an automatic 督办.
const AUTO_SUPERVISOR: &str = "自动督办";

impl Writer {
    /// Refreshes every summary whose clocks moved since it was written, then raises the
    /// automatic 督办s that are due. Returns how many summaries changed. `full` looks at
    /// concluded cases too: after a calendar change, their deadlines and their on-time
    /// judgement may move as well.
    pub(super) fn sweep(&mut self, full: bool) -> Result<u64, EngineError> {
        // Scanned through the group's overlay: the cases and summaries this group changed are
        // judged as they now stand.
        let mut stale = Vec::new();
        let mut evaluated = 0u64;
        for case in self.cases_overlaid() {
            let case = case?;
            if !case.involved().contains(&self.code) {
                continue;
            }
            let held = self.summary(&case.case_no)?;
            if held.is_some() && !full && !clocks_can_move(&case) {
                continue;
            }
            evaluated += 1;
            let fresh = self.summary_of(&case, self.meta.hlc);
            if held.is_none_or(|h| !same_apart_from_time(&h, &fresh)) {
                stale.push(case);
            }
        }
        let changed = stale.len() as u64;
        if full {
            let calendar = self.reference.calendar();
            info!(
                node = %self.code,
                evaluated,
                changed,
                official_until = calendar.last_official_year(),
                "clocks re-evaluated against the calendar in force: {changed} of {evaluated} cases changed"
            );
        }
        for case in stale {
            let mut meta = self.meta;
            meta.hlc = Hlc::tick(meta.hlc, self.now_ms);
            let mut change = Change::default();
            self.summarise(&case, meta.hlc, &mut change)?;
            self.commit(meta, change);
        }
        // The summaries just refreshed (staged) are what decides the 督办s.
        self.auto_supervise()?;
        Ok(changed)
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
    /// `auto_supervise_days` working days after its promised deadline, once per case.
    fn auto_supervise(&mut self) -> Result<(), EngineError> {
        let calendar = self.reference.calendar();
        let today = Date::from_unix_ms(self.now_ms);
        let mut due = Vec::new();
        for summary in self.summaries_overlaid() {
            let summary = summary?;
            if !crate::route::direct_child_of(self.code, summary.owner)
                || summary.notices.iter().any(|n| n.from == self.code)
            {
                continue;
            }
            let Some(deadline) = summary.deadline.filter(|_| red_and_open(&summary)) else {
                continue;
            };
            let limit = calendar.add_workdays(deadline, self.policy.auto_supervise_days);
            if today > limit && !self.noticed_here(&summary.case_no)? {
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
        Ok(())
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
fn clocks_can_move(case: &Case) -> bool {
    case.state.is_open()
        || (case.rating.as_ref().is_some_and(|r| r.is_bad()) && case.rectified_on.is_none())
}

fn red_and_open(summary: &CaseSummary) -> bool {
    summary.warning == Warning::Red && summary.state.is_open()
}

fn same_apart_from_time(held: &CaseSummary, fresh: &CaseSummary) -> bool {
    CaseSummary {
        as_of: fresh.as_of,
        ..held.clone()
    } == *fresh
}
