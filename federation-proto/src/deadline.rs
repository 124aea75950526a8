//! Deadlines and warnings (时限与预警), computed from a folded [`Case`], the working-day
//! calendar and "today".
//!
//! Kept out of the fold on purpose: the fold must give the same case on every node, while
//! deadlines depend on the local calendar and the current date.
//!
//! Rules (DESIGN.md §6):
//! - each clock ends on the Nth working day strictly after the acceptance day;
//! - working days spent paused (特别程序) are added to both clocks; an extension (延期) only to
//!   the legal one;
//! - yellow when the remaining working days ≤ max(1, threshold % of the limit); red when the
//!   deadline has passed and the clock still runs; a clock that has stopped (a case concluded, an
//!   opinion given, a first review reported up) is judged by the day it stopped, never by today;
//! - every accepted case has both deadlines and a warning, whatever the year: a year without
//!   its State Council notice is counted with the provisional calendar, and the clocks say so
//!   ([`Clocks::provisional`]) until the notice arrives.
//!   The same rule serves all three clocks a case can have: the promised one, the first review
//!   of a 上报件 (初审, 行政许可法 art. 43) and each participant's feedback in a joint review
//!   (限时反馈).

use crate::{Date, ItemKind, Warning};
use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;
use crate::case::Case;

/// Working days a 差评 rectification (整改) is due in.
pub const RECTIFICATION_DAYS: u16 = 15;

/// Warning thresholds, configurable per node (`[warnings]` in node.toml).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WarningPolicy {
    /// Yellow when the remaining working days are at most this share of the limit (percent).
    pub yellow_percent: u32,
    /// A case owned by a child that is still red this many working days after its promised
    /// deadline gets an automatic 督办 from this node.
    pub auto_supervise_days: u32,
    /// How often the node re-evaluates the clocks of its cases and refreshes their summaries
    /// (warnings change with the date, not only with events).
    pub sweep_seconds: u64,
}

impl Default for WarningPolicy {
    fn default() -> Self {
        WarningPolicy {
            yellow_percent: 20,
            auto_supervise_days: 3,
            sweep_seconds: 60,
        }
    }
}

impl WarningPolicy {
    fn yellow_days(&self, limit: u16) -> u32 {
        (u32::from(limit) * self.yellow_percent / 100).max(1)
    }
}

/// A case's clocks as of one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clocks {
    /// 承诺时限 deadline: drives warnings. `None` only before acceptance (补正): the clock has
    /// not started.
    pub promised: Option<Date>,
    /// 法定时限 deadline: drives legality; `None` only before acceptance.
    pub legal: Option<Date>,
    pub paused_days: u32,
    /// Working days left until the promised deadline (0 once it is today or past).
    pub remaining_days: Option<u32>,
    /// The promised clock's warning; green while the clock has not started.
    pub warning: Warning,
    /// The legal clock's warning: red once the legal deadline has passed unconcluded, or was
    /// missed.
    pub legal_warning: Warning,
    /// Some clock was counted over a year without its State Council notice (暂定日历): it may
    /// move when the notice arrives.
    pub provisional: bool,
    /// Working days from acceptance to conclusion, paused days not counted (办理用时).
    pub working_days: Option<u32>,
    /// A 上报件's first review below (初审): due date and warning.
    pub first_review: Option<(Date, Warning)>,
    /// Feedback deadline of the joint review (限时反馈).
    pub feedback_due: Option<Date>,
    /// Per seat of the joint review, in seat order: late (red), close (yellow) or fine.
    pub feedback: Vec<Warning>,
    /// The rectification (整改) a 差评 opened: due date and warning (green once done in time).
    pub rectification: Option<(Date, Warning)>,
}

impl Default for Clocks {
    /// The clocks of a case not yet accepted: none started.
    fn default() -> Clocks {
        Clocks {
            promised: None,
            legal: None,
            paused_days: 0,
            remaining_days: None,
            warning: Warning::Green,
            legal_warning: Warning::Green,
            provisional: false,
            working_days: None,
            first_review: None,
            feedback_due: None,
            feedback: Vec::new(),
            rectification: None,
        }
    }
}

impl Clocks {
    /// The worst of the joint review's seats: a late participant turns the review red.
    pub fn feedback_warning(&self) -> Option<Warning> {
        self.feedback.iter().copied().max()
    }
}

/// Where a clock stands: still running, stopped on a day (judged by that day) or ended without
/// a result (the case was withdrawn or refused: nothing to judge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    Running,
    StoppedOn(Date),
    Ended,
}

/// Evaluates the clocks of `case` on `today`. Always answers: a year without its notice is
/// counted with the provisional calendar, and `provisional` says so.
pub fn evaluate(case: &Case, calendar: &Calendar, today: Date, policy: &WarningPolicy) -> Clocks {
    let judge = Judge {
        calendar,
        today,
        policy,
    };
    let mut clocks = Clocks {
        rectification: judge.rectification(case),
        ..Clocks::default()
    };
    judge.feedback(case, &mut clocks);
    // Every clock runs from a start to its due date (and a pause to its end): the spans
    // whose years decide whether the clocks are provisional.
    let mut spans: Vec<(Date, Date)> = Vec::new();
    if let (Some(rating), Some((due, _))) = (&case.rating, clocks.rectification) {
        spans.push((rating.on, due));
    }
    if let (Some(joint), Some(due)) = (&case.joint, clocks.feedback_due) {
        spans.push((joint.opened_on, due));
    }
    if let Some(accepted) = case.accepted_on {
        clocks.paused_days = paused_days(case, calendar, today, None);
        let promised =
            calendar.add_workdays(accepted, u32::from(case.promised_days) + clocks.paused_days);
        let legal = calendar.add_workdays(
            accepted,
            u32::from(case.legal_days) + clocks.paused_days + u32::from(case.extension_days),
        );
        clocks.promised = Some(promised);
        clocks.legal = Some(legal);
        let run = match case.concluded_on {
            Some(on) => Run::StoppedOn(on),
            None if case.state.is_open() => Run::Running,
            None => Run::Ended,
        };
        let (warning, remaining) = judge.clock(case.promised_days, promised, run);
        clocks.warning = warning;
        clocks.remaining_days = remaining;
        clocks.legal_warning = judge.clock(case.legal_days, legal, run).0;
        spans.push((accepted, promised.max(legal)));
        if let Some(concluded) = case.concluded_on {
            let elapsed = calendar.workdays_between(accepted, concluded);
            clocks.working_days = Some(elapsed.saturating_sub(clocks.paused_days));
            spans.push((accepted, concluded));
        }
        if case.kind == ItemKind::ReportUp && case.first_review_days > 0 {
            let (due, warning) = judge.first_review(case, accepted);
            clocks.first_review = Some((due, warning));
            spans.push((accepted, due));
        }
    }
    clocks.provisional = spans
        .iter()
        .any(|&(from, to)| calendar.provisional_between(from, to));
    clocks
}

/// Judges clocks as of one day.
struct Judge<'a> {
    calendar: &'a Calendar,
    today: Date,
    policy: &'a WarningPolicy,
}

impl Judge<'_> {
    /// The warning of a clock of `limit` working days due on `due`, and while it runs the
    /// working days left.
    fn clock(&self, limit: u16, due: Date, run: Run) -> (Warning, Option<u32>) {
        let today = match run {
            Run::StoppedOn(on) => {
                let late = on > due;
                return (if late { Warning::Red } else { Warning::Green }, None);
            }
            Run::Ended => return (Warning::Green, None),
            Run::Running => self.today,
        };
        if today > due {
            return (Warning::Red, Some(0));
        }
        let remaining = self.calendar.workdays_between(today, due);
        let warning = if remaining <= self.policy.yellow_days(limit) {
            Warning::Yellow
        } else {
            Warning::Green
        };
        (warning, Some(remaining))
    }

    /// The first review of a 上报件 runs at the accepting node from acceptance until it reports
    /// the case up; pauses before the report stop it too.
    fn first_review(&self, case: &Case, accepted: Date) -> (Date, Warning) {
        let paused = paused_days(case, self.calendar, self.today, case.reported_on);
        let limit = case.first_review_days;
        let due = self
            .calendar
            .add_workdays(accepted, u32::from(limit) + paused);
        let run = match case.reported_on {
            Some(on) => Run::StoppedOn(on),
            None if case.state.is_open() => Run::Running,
            None => Run::Ended,
        };
        (due, self.clock(limit, due, run).0)
    }

    /// The rectification a 差评 opens runs from the rating until it is recorded as done.
    fn rectification(&self, case: &Case) -> Option<(Date, Warning)> {
        let rating = case.rating.as_ref().filter(|r| r.is_bad())?;
        let days = RECTIFICATION_DAYS;
        let due = self.calendar.add_workdays(rating.on, u32::from(days));
        let run = case.rectified_on.map_or(Run::Running, Run::StoppedOn);
        Some((due, self.clock(days, due, run).0))
    }

    /// Each participant's feedback clock, from the day the joint review opened.
    fn feedback(&self, case: &Case, clocks: &mut Clocks) {
        let Some(joint) = &case.joint else {
            return;
        };
        let due = self
            .calendar
            .add_workdays(joint.opened_on, u32::from(joint.feedback_days));
        clocks.feedback_due = Some(due);
        let open = case.joint_review_open();
        for seat in &joint.seats {
            let run = match &seat.opinion {
                Some(o) => Run::StoppedOn(o.on),
                None if open => Run::Running,
                None => Run::Ended,
            };
            clocks
                .feedback
                .push(self.clock(joint.feedback_days, due, run).0);
        }
    }
}

/// Working days the clock stood still, counting only pauses begun before `until` (all when
/// `None`); an open pause counts up to today.
fn paused_days(case: &Case, calendar: &Calendar, today: Date, until: Option<Date>) -> u32 {
    case.pauses
        .iter()
        .filter(|p| until.is_none_or(|u| p.from < u))
        .map(|p| calendar.workdays_between(p.from, p.to.unwrap_or(today)))
        .sum()
}

#[cfg(test)]
mod tests {
    use crate::{EventBody, ItemKind, Participant};

    use super::*;
    use crate::case::script::{code, intake, Script};

    fn day(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn clocks(script: &Script, today: &str) -> Clocks {
        let calendar = Calendar::builtin();
        evaluate(
            &script.fold(),
            &calendar,
            day(today),
            &WarningPolicy::default(),
        )
    }

    /// A 上报件 accepted at 仙游县 on Thu 2025-10-09: 20 working days of first review (Sat
    /// 2025-10-11 is a 调休 working day) end on Wed 2025-11-05.
    fn report_up() -> Script {
        let mut s = Script::new("350322");
        s.by(
            "350322",
            None,
            EventBody::Submit(intake(ItemKind::ReportUp, &[], &[])),
        );
        s
    }

    #[test]
    fn first_review_of_a_report_up_item_is_a_second_clock() {
        let s = report_up();
        assert_eq!(
            clocks(&s, "2025-10-10").first_review,
            Some((day("2025-11-05"), Warning::Green))
        );
        assert_eq!(
            clocks(&s, "2025-11-03").first_review,
            Some((day("2025-11-05"), Warning::Yellow))
        );
        assert_eq!(
            clocks(&s, "2025-11-06").first_review,
            Some((day("2025-11-05"), Warning::Red))
        );

        let mut on_time = report_up();
        on_time
            .at("2025-11-05")
            .by("350322", None, EventBody::Forward { to: code("350300") });
        // Reported in time: green for good, whatever the date.
        assert_eq!(
            clocks(&on_time, "2026-03-02").first_review,
            Some((day("2025-11-05"), Warning::Green))
        );
        let mut late = report_up();
        late.at("2025-11-10")
            .by("350322", None, EventBody::Forward { to: code("350300") });
        assert_eq!(
            clocks(&late, "2025-11-10").first_review.map(|(_, w)| w),
            Some(Warning::Red)
        );
        assert_eq!(clocks(&s, "2025-10-10").feedback, []);
    }

    #[test]
    fn a_participant_that_has_not_answered_by_its_limit_turns_the_joint_review_red() {
        let mut s = Script::new("350322");
        s.by(
            "350322",
            None,
            EventBody::Submit(intake(ItemKind::Joint, &[], &[])),
        );
        let seat = |node: &str, department: &str| Participant {
            node: code(node),
            department: department.into(),
        };
        // Opened Thu 2025-10-09 with 3 days (Sat 10-11 is a 调休 working day): due Mon 10-13.
        s.by(
            "350322",
            None,
            EventBody::OpenJointReview {
                participants: vec![seat("350300", "自然资源局"), seat("350322", "气象局")],
                feedback_days: 3,
            },
        );
        s.at("2025-10-10").by(
            "350300",
            Some("自然资源局"),
            EventBody::Opinion {
                agree: true,
                comment: String::new(),
            },
        );
        let c = clocks(&s, "2025-10-10");
        assert_eq!(c.feedback_due, Some(day("2025-10-13")));
        assert_eq!(c.feedback, [Warning::Green, Warning::Green]);
        let c = clocks(&s, "2025-10-11");
        assert_eq!(c.feedback, [Warning::Green, Warning::Yellow]);
        let c = clocks(&s, "2025-10-14");
        assert_eq!(c.feedback, [Warning::Green, Warning::Red]);
        assert_eq!(c.feedback_warning(), Some(Warning::Red));
        // Answering late stays on the record as late.
        s.at("2025-10-15").by(
            "350322",
            Some("气象局"),
            EventBody::Opinion {
                agree: true,
                comment: String::new(),
            },
        );
        assert_eq!(
            clocks(&s, "2025-10-20").feedback,
            [Warning::Green, Warning::Red]
        );
    }

    /// The legal clock and a 差评's rectification right after the 2025 National Day: accepted
    /// Thu 10-09 with 3 promised and 5 legal days; Sat 10-11 is a working day (调休).
    #[test]
    fn legal_clock_and_rectification_after_national_day() {
        let mut s = Script::new("350322");
        let mut intake = intake(ItemKind::Promised, &[], &[]);
        (intake.promised_days, intake.legal_days) = (3, 5);
        s.by("350322", None, EventBody::Submit(intake));
        // Working days after 10-09: 10-10, 10-11 (Sat), 10-13 | 10-14, 10-15.
        let c = clocks(&s, "2025-10-10");
        assert_eq!(
            (c.promised, c.legal),
            (Some(day("2025-10-13")), Some(day("2025-10-15")))
        );
        assert_eq!(
            (c.warning, c.legal_warning),
            (Warning::Green, Warning::Green)
        );
        let c = clocks(&s, "2025-10-11");
        assert_eq!(
            (c.warning, c.legal_warning),
            (Warning::Yellow, Warning::Green)
        );
        let c = clocks(&s, "2025-10-14");
        assert_eq!(
            (c.warning, c.legal_warning),
            (Warning::Red, Warning::Yellow)
        );
        assert_eq!(clocks(&s, "2025-10-16").legal_warning, Warning::Red);

        s.at("2025-10-14").by(
            "350322",
            None,
            EventBody::Decide {
                approve: true,
                reason: "符合条件".into(),
                override_reason: None,
            },
        );
        s.by(
            "350322",
            None,
            EventBody::Rate {
                satisfaction: 4,
                comment: "超期".into(),
            },
        );
        let c = clocks(&s, "2025-10-20");
        assert_eq!(c.working_days, Some(4), "10-10, 10-11, 10-13, 10-14");
        assert_eq!((c.warning, c.legal_warning), (Warning::Red, Warning::Green));
        // 15 working days after 10-14 for the rectification: 11-04.
        assert_eq!(c.rectification, Some((day("2025-11-04"), Warning::Green)));
        assert_eq!(
            clocks(&s, "2025-11-05").rectification,
            Some((day("2025-11-04"), Warning::Red))
        );
        s.at("2025-10-20").by(
            "350322",
            None,
            EventBody::Rectify {
                note: "已整改".into(),
            },
        );
        assert_eq!(
            clocks(&s, "2025-12-01").rectification,
            Some((day("2025-11-04"), Warning::Green))
        );
    }
}
