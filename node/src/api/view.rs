//! The case view (API.md): a case as window software and dashboards see it, with its clocks
//! evaluated as of today — built into the contract's [`CaseView`] and [`ShortView`].

use federation_proto::Date;

use crate::case::{Case, LogEntry};
use crate::contract::{ApplicantView, CaseView, EventView, ParticipantView, ShortView};
use crate::deadline::Clocks;

/// Renders a case and its clocks, with the applicant's identity masked unless `identity` (see
/// [`super::privacy::disclose`], which decides).
pub fn case_view(case: &Case, c: &Clocks, identity: bool) -> CaseView {
    let applicant = if identity {
        ApplicantView::full(&case.applicant)
    } else {
        ApplicantView::masked(&case.applicant)
    };
    CaseView {
        case_no: case.case_no,
        item: case.item.clone(),
        item_name: case.item_name.clone(),
        kind: case.kind,
        department: case.department.clone(),
        state: case.state,
        accepting_node: case.accepting_node,
        owner: case.owner,
        applicant,
        applicant_masked: !identity,
        participants: participants(case, c),
        submitted_on: case.submitted_on,
        accepted_on: case.accepted_on,
        deadline: c.promised,
        legal_deadline: c.legal,
        concluded_on: case.concluded_on,
        warning: c.warning,
        legal_warning: c.legal_warning,
        // Counted over a year without its State Council notice: may move when it arrives.
        provisional: c.provisional,
        working_days: c.working_days,
        remaining_days: c.remaining_days,
        paused_days: c.paused_days,
        extension_days: case.extension_days,
        feedback_due: c.feedback_due,
        feedback_warning: c.feedback_warning(),
        reported_on: case.reported_on,
        first_review_due: c.first_review.map(|(due, _)| due),
        first_review_warning: c.first_review.map(|(_, w)| w),
        materials: case.materials.clone(),
        missing: case.missing.clone(),
        owed: case.owed.clone(),
        requested: case.requested.clone(),
        fee_fen: case.fee_fen,
        payment: case.payment.clone(),
        certificate_no: case.certificate_no.clone(),
        decision: case.decision.clone(),
        // 网上签批: a proposed decision (拟办) waits for its sign-off.
        pending_sign_off: pending_sign_off(case),
        rating: case.rating.clone(),
        rectification_due: c.rectification.map(|(due, _)| due),
        rectification_warning: c.rectification.map(|(_, w)| w),
        rectified_on: case.rectified_on,
        notices: case.notices.clone(),
        forwarded_to: case.forwarded_to,
        events: case.log.iter().map(event_view).collect(),
        refusal: None,
        proposal: None,
    }
}

/// A decision was proposed (拟办) and not yet taken: the latest `propose` in the history that
/// took effect comes after the latest `decide`.
pub fn pending_sign_off(case: &Case) -> bool {
    if !case.state.is_open() {
        return false;
    }
    let last = |action: &str| {
        case.log
            .iter()
            .rposition(|e| e.action == action && e.rejected.is_none())
    };
    match (last("propose"), last("decide")) {
        (Some(p), Some(d)) => p > d,
        (Some(_), None) => true,
        _ => false,
    }
}

/// The short view of a case in a batch's answer (`POST /api/v1/cases:batch`): enough to file
/// the case number against the application and see what intake made of it (补正 owed or not,
/// its deadlines), without the applicant — a thousand identities echoed back would only add
/// to what an answer can leak.
pub fn short_view(case: &Case, c: &Clocks) -> ShortView {
    ShortView {
        case_no: case.case_no,
        item: case.item.clone(),
        department: case.department.clone(),
        state: case.state,
        accepted_on: case.accepted_on,
        deadline: c.promised,
        legal_deadline: c.legal,
        missing: case.missing.clone(),
        owed: case.owed.clone(),
    }
}

fn participants(case: &Case, clocks: &Clocks) -> Vec<ParticipantView> {
    case.joint
        .iter()
        .flat_map(|j| &j.seats)
        .enumerate()
        .map(|(i, s)| ParticipantView {
            node: s.participant.node.to_string(),
            department: s.participant.department.clone(),
            opinion: s.opinion.clone(),
            feedback: clocks.feedback.get(i).copied(),
        })
        .collect()
}

fn event_view(e: &LogEntry) -> EventView {
    EventView {
        origin: e.id.origin,
        seq: e.id.seq,
        action: e.action.clone(),
        actor: e.actor.clone(),
        at: timestamp(e.hlc.wall_ms),
        rejected: e.rejected.clone(),
    }
}

/// RFC 3339 in China Standard Time, e.g. `2025-09-30T10:00:00.000+08:00`.
pub fn timestamp(ms: u64) -> String {
    let date = Date::from_unix_ms(ms);
    let in_day = ms - date.start_unix_ms();
    let (h, m, s, milli) = (
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000,
    );
    format!("{date}T{h:02}:{m:02}:{s:02}.{milli:03}+08:00")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_in_beijing_time() {
        let d: Date = "2025-10-01".parse().unwrap();
        assert_eq!(
            timestamp(d.start_unix_ms() + 3_723_004),
            "2025-10-01T01:02:03.004+08:00"
        );
    }
}
