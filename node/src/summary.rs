//! The status summary (状态摘要) of a case: what a node tells its ancestors about the cases it
//! owns, and keeps itself about every case it holds, so that supervision (电子监察) at any level
//! reads one kind of record. Built from the folded case and its clocks as of one day; never
//! carries the applicant's identity.

use federation_proto::{CaseSummary, Hlc, JointStatus, NoticeStatus, Warning};

use crate::case::Case;
use crate::deadline::Clocks;

/// The summary of `case` with its `clocks`, written at `as_of`.
pub fn summarise(case: &Case, clocks: &Clocks, as_of: Hlc) -> CaseSummary {
    CaseSummary {
        case_no: case.case_no,
        item: case.item.clone(),
        department: case.department.clone(),
        accepting_node: case.accepting_node,
        owner: case.owner,
        state: case.state,
        accepted_on: case.accepted_on,
        deadline: clocks.promised,
        legal_deadline: clocks.legal,
        concluded_on: case.concluded_on,
        warning: clocks.warning,
        legal_warning: clocks.legal_warning,
        working_days: clocks.working_days,
        owed: (case.owed.len() + case.requested.len()) as u16,
        joint: joint_status(case, clocks),
        satisfaction: case.rating.as_ref().map(|r| r.satisfaction),
        rectification: clocks.rectification,
        rectified_on: case.rectified_on,
        notices: case
            .notices
            .iter()
            .map(|n| NoticeStatus {
                from: n.from,
                on: n.on,
                note: n.note.clone(),
                answer: n.answer.clone(),
                answered_on: n.answered_on,
            })
            .collect(),
        provisional: clocks.provisional,
        as_of,
    }
}

fn joint_status(case: &Case, clocks: &Clocks) -> Option<JointStatus> {
    let due = clocks.feedback_due?;
    let seats = &case.joint.as_ref()?.seats;
    let waiting = if case.joint_review_open() {
        seats.iter().filter(|s| s.opinion.is_none()).count()
    } else {
        0
    };
    let late = clocks
        .feedback
        .iter()
        .filter(|w| **w == Warning::Red)
        .count();
    Some(JointStatus {
        due,
        waiting: waiting as u16,
        late: late as u16,
    })
}
