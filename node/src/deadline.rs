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
//! - yellow when the remaining working days ≤ max(1, threshold % of the promised limit); red when
//!   the promised deadline has passed unconcluded; a concluded case is judged by its conclusion
//!   date, never by today.

use federation_proto::{Date, State, Warning};
use serde::{Deserialize, Serialize};

use crate::calendar::{Calendar, CalendarError};
use crate::case::Case;

/// Working days a 差评 rectification (整改) is due in.
pub const RECTIFICATION_DAYS: u32 = 15;

/// Warning thresholds, configurable per node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarningPolicy {
    /// Yellow when the remaining working days are at most this share of the limit (percent).
    pub yellow_percent: u32,
}

impl Default for WarningPolicy {
    fn default() -> Self {
        WarningPolicy { yellow_percent: 20 }
    }
}

impl WarningPolicy {
    fn yellow_days(&self, limit: u16) -> u32 {
        (u32::from(limit) * self.yellow_percent / 100).max(1)
    }
}

/// A case's clocks as of one day.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Clocks {
    /// 承诺时限 deadline: drives warnings.
    pub promised: Option<Date>,
    /// 法定时限 deadline: drives legality.
    pub legal: Option<Date>,
    pub paused_days: u32,
    /// Working days left until the promised deadline (0 once it is today or past).
    pub remaining_days: Option<u32>,
    pub warning: Option<Warning>,
    /// Feedback deadline of the open joint review (限时反馈).
    pub feedback_due: Option<Date>,
    /// Rectification deadline after a 差评.
    pub rectification_due: Option<Date>,
}

/// Evaluates the clocks of `case` on `today`.
pub fn evaluate(
    case: &Case,
    calendar: &Calendar,
    today: Date,
    policy: &WarningPolicy,
) -> Result<Clocks, CalendarError> {
    let mut clocks = Clocks {
        rectification_due: rectification_due(case, calendar)?,
        feedback_due: feedback_due(case, calendar)?,
        ..Clocks::default()
    };
    let Some(accepted) = case.accepted_on else {
        clocks.warning = Some(Warning::Green);
        return Ok(clocks);
    };
    clocks.paused_days = paused_days(case, calendar, today)?;
    let promised =
        calendar.add_workdays(accepted, u32::from(case.promised_days) + clocks.paused_days)?;
    let legal = calendar.add_workdays(
        accepted,
        u32::from(case.legal_days) + clocks.paused_days + u32::from(case.extension_days),
    )?;
    clocks.promised = Some(promised);
    clocks.legal = Some(legal);
    let (warning, remaining) = judge(case, calendar, today, promised, policy)?;
    clocks.warning = Some(warning);
    clocks.remaining_days = remaining;
    Ok(clocks)
}

fn judge(
    case: &Case,
    calendar: &Calendar,
    today: Date,
    promised: Date,
    policy: &WarningPolicy,
) -> Result<(Warning, Option<u32>), CalendarError> {
    if let Some(concluded) = case.concluded_on {
        let late = concluded > promised;
        return Ok((if late { Warning::Red } else { Warning::Green }, None));
    }
    if !case.state.is_open() {
        // Refused, withdrawn: nothing is running any more.
        return Ok((Warning::Green, None));
    }
    if today > promised {
        return Ok((Warning::Red, Some(0)));
    }
    let remaining = calendar.workdays_between(today, promised)?;
    let warning = if remaining <= policy.yellow_days(case.promised_days) {
        Warning::Yellow
    } else {
        Warning::Green
    };
    Ok((warning, Some(remaining)))
}

/// Working days the clock stood still; an open pause counts up to today.
fn paused_days(case: &Case, calendar: &Calendar, today: Date) -> Result<u32, CalendarError> {
    case.pauses.iter().try_fold(0, |sum, p| {
        let to = p.to.unwrap_or(today);
        Ok(sum + calendar.workdays_between(p.from, to)?)
    })
}

fn feedback_due(case: &Case, calendar: &Calendar) -> Result<Option<Date>, CalendarError> {
    match &case.joint {
        Some(j) if case.state == State::JointReview => calendar
            .add_workdays(j.opened_on, u32::from(j.feedback_days))
            .map(Some),
        _ => Ok(None),
    }
}

fn rectification_due(case: &Case, calendar: &Calendar) -> Result<Option<Date>, CalendarError> {
    match &case.rating {
        Some(r) if r.is_bad() => calendar.add_workdays(r.on, RECTIFICATION_DAYS).map(Some),
        _ => Ok(None),
    }
}
