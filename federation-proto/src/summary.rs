//! Case states and the status summary (状态摘要) that travels up to every ancestor. A summary
//! never carries the applicant's identity.
//!
//! A node keeps a summary of every case it holds and tells its ancestors about the cases it
//! owns, so that supervision (电子监察) at any level reads one kind of record: [`summarise`]
//! builds it from the folded case and its clocks as of one day.

use serde::{Deserialize, Serialize};

use crate::case::Case;
use crate::case_no::CaseNo;
use crate::code::NodeCode;
use crate::date::Date;
use crate::deadline::Clocks;
use crate::hlc::Hlc;

/// The states of a case, named as in the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    AwaitingSupplement,
    Accepted,
    InReview,
    JointReview,
    Suspended,
    InTransit,
    Approved,
    Denied,
    Certified,
    Delivered,
    NotAccepted,
    Withdrawn,
}

impl State {
    pub const ALL: [State; 12] = [
        State::AwaitingSupplement,
        State::Accepted,
        State::InReview,
        State::JointReview,
        State::Suspended,
        State::InTransit,
        State::Approved,
        State::Denied,
        State::Certified,
        State::Delivered,
        State::NotAccepted,
        State::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::AwaitingSupplement => "awaiting_supplement",
            State::Accepted => "accepted",
            State::InReview => "in_review",
            State::JointReview => "joint_review",
            State::Suspended => "suspended",
            State::InTransit => "in_transit",
            State::Approved => "approved",
            State::Denied => "denied",
            State::Certified => "certified",
            State::Delivered => "delivered",
            State::NotAccepted => "not_accepted",
            State::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// 办结: a decision has been made (the result may still await certification or delivery).
    pub fn is_concluded(self) -> bool {
        matches!(
            self,
            State::Approved | State::Denied | State::Certified | State::Delivered
        )
    }

    /// The clock is running: accepted and not yet concluded or ended.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            State::Accepted
                | State::InReview
                | State::JointReview
                | State::Suspended
                | State::InTransit
        )
    }
}

/// Deadline warning level (预警).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Warning {
    Green,
    Yellow,
    Red,
}

impl Warning {
    pub fn as_str(self) -> &'static str {
        match self {
            Warning::Green => "green",
            Warning::Yellow => "yellow",
            Warning::Red => "red",
        }
    }

    pub fn parse(s: &str) -> Option<Warning> {
        [Warning::Green, Warning::Yellow, Warning::Red]
            .into_iter()
            .find(|w| w.as_str() == s)
    }
}

/// The latest status of one case as its owner sees it, kept by every ancestor: what the
/// supervisors above (电子监察) need — states, clocks, warnings, joint-review feedback, ratings,
/// 督办 — and never the applicant's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseSummary {
    pub case_no: CaseNo,
    pub item: String,
    pub department: String,
    pub accepting_node: NodeCode,
    pub owner: NodeCode,
    pub state: State,
    pub accepted_on: Option<Date>,
    /// The promised deadline (承诺时限).
    pub deadline: Option<Date>,
    /// The legal deadline (法定时限).
    pub legal_deadline: Option<Date>,
    pub concluded_on: Option<Date>,
    /// The promised clock's warning.
    pub warning: Warning,
    /// The legal clock's warning.
    pub legal_warning: Warning,
    /// Working days from acceptance to conclusion, paused days not counted.
    pub working_days: Option<u32>,
    /// 容缺 and 补件 materials still outstanding.
    pub owed: u16,
    pub joint: Option<JointStatus>,
    /// The applicant's rating (1 非常满意 … 5 非常不满意).
    pub satisfaction: Option<u8>,
    /// The rectification (整改) a 差评 opened: due date and warning.
    pub rectification: Option<(Date, Warning)>,
    pub rectified_on: Option<Date>,
    pub notices: Vec<NoticeStatus>,
    /// The clocks were counted over a year without its State Council notice (the provisional
    /// calendar, 暂定日历): deadlines and warnings may move when the notice arrives.
    pub provisional: bool,
    /// How many events the fold behind this summary holds (rejected ones included). Events
    /// only accumulate, so a summary of more events is of a later fold; see
    /// [`CaseSummary::supersedes`].
    pub events: u32,
    /// The writer's clock when it wrote this summary; among summaries of as many events, a
    /// receiver keeps the one with the largest.
    pub as_of: Hlc,
}

impl CaseSummary {
    /// Whether a receiver holding `held` keeps this summary instead: one of a fold of more
    /// events, or of as many events written later.
    ///
    /// Why not the writer's clock alone: a node's clock may run ahead (set wrong, or jumped),
    /// and the summaries it writes without an event — a sweep's refreshed warnings — carry
    /// that clock up to its ancestors but to nobody else. A county that swept a case it had
    /// forwarded, with its clock days ahead, kept beating the township that took the case
    /// over: the city showed the case in transit at the county for good (found by
    /// tests/simulation.rs). The owner that holds every event of a case always has the
    /// largest count, whatever the clocks say.
    pub fn supersedes(&self, held: &CaseSummary) -> bool {
        (self.events, self.as_of) > (held.events, held.as_of)
    }
}

/// Where a joint review (联审) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct JointStatus {
    /// The feedback deadline (限时反馈).
    pub due: Date,
    /// Participants that have not answered.
    pub waiting: u16,
    /// Participants late: not answered past the deadline, or answered after it.
    pub late: u16,
}

/// A 督办 notice on the case and the owner's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeStatus {
    pub from: NodeCode,
    pub on: Date,
    pub note: String,
    pub answer: Option<String>,
    pub answered_on: Option<Date>,
}

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
        events: u32::try_from(case.log.len()).unwrap_or(u32::MAX),
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;

    use super::*;
    use crate::arbitrary::any_summary;

    proptest! {
        /// A fold of more events wins whatever the clocks say; among folds of as many events
        /// the later writer wins; a summary never supersedes itself.
        #[test]
        fn more_events_win_then_the_later_clock(a in any_summary(), b in any_summary()) {
            prop_assert!(!a.supersedes(&a));
            if a.events != b.events {
                prop_assert_eq!(a.supersedes(&b), a.events > b.events);
            } else {
                prop_assert_eq!(a.supersedes(&b), a.as_of > b.as_of);
            }
            prop_assert!(!(a.supersedes(&b) && b.supersedes(&a)));
        }
    }

    /// The county's sweep of a case it forwarded, its clock a day ahead, against the summary
    /// of the township that took the case over: the township's (one more event) is kept.
    #[test]
    fn a_later_fold_beats_a_clock_that_ran_ahead() {
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let county = any_summary().new_tree(&mut runner).unwrap().current();
        let county = CaseSummary {
            events: 2,
            as_of: Hlc {
                wall_ms: 1_759_280_400_000,
                counter: 0,
            },
            ..county
        };
        let township = CaseSummary {
            events: 3,
            as_of: Hlc {
                wall_ms: 1_759_194_060_000,
                counter: 0,
            },
            ..county.clone()
        };
        assert!(township.supersedes(&county));
        assert!(!county.supersedes(&township));
    }
}
