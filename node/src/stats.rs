//! Statistics for supervision (电子监察): figures over the status summaries of a region — the
//! cases whose owner or accepting node lies in a node's subtree. Pure: the API, the CLI and the
//! metrics all read these figures, and tests can recompute them from the events.
//!
//! Definitions:
//! - **overdue**: open (the clock runs) and red on the promised clock;
//! - **按期办结率** (`on_time_rate`): concluded within the promised deadline / concluded;
//! - **average working days** to conclusion: acceptance to conclusion, paused days not counted,
//!   over the concluded cases;
//! - **joint reviews waiting / late**: open cases whose joint review still waits for an opinion /
//!   has a late participant;
//! - **provisional**: cases whose clocks were counted with the provisional calendar (a year
//!   without its State Council notice); they are counted like the others, on the dates that
//!   calendar gives, and re-judged when the notice arrives.

use std::collections::BTreeMap;

use federation_proto::{CaseSummary, NodeCode, Warning};
use serde::{Deserialize, Serialize};

/// The figures of one set of cases (in `GET /api/v1/status` and `GET /api/v1/stats`, part of
/// the API's contract, [`crate::contract`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct Figures {
    pub cases: u64,
    /// Cases by state.
    pub by_state: BTreeMap<String, u64>,
    /// Open and red on the promised clock.
    pub overdue: u64,
    /// Open and yellow: about to be late.
    pub due_soon: u64,
    /// Open past the legal deadline (法定时限).
    pub legal_overdue: u64,
    pub concluded: u64,
    /// Concluded within the promised deadline.
    pub on_time: u64,
    /// 按期办结率: `on_time / concluded`; null before any is concluded.
    pub on_time_rate: Option<f64>,
    /// Average working days to conclusion; null before any is concluded.
    pub average_working_days: Option<f64>,
    /// Open joint reviews waiting for an opinion.
    pub joint_waiting: u64,
    /// Open joint reviews with a late participant.
    pub joint_late: u64,
    /// Open cases with 容缺 or 补件 materials outstanding.
    pub materials_owed: u64,
    /// Cases whose clocks were counted over a year without its State Council notice
    /// (provisional calendar): their deadlines and judgements may still move.
    pub provisional: u64,
    /// Ratings by satisfaction, "1" (非常满意) to "5" (非常不满意).
    pub satisfaction: BTreeMap<String, u64>,
    /// Rectifications (整改) a 差评 opened and not done.
    pub rectifications_open: u64,
    /// Of those, the ones past due.
    pub rectifications_late: u64,
    /// 督办 notices not answered yet.
    pub notices_open: u64,
    pub notices_answered: u64,
    #[serde(skip)]
    working_days_sum: u64,
    #[serde(skip)]
    working_days_count: u64,
}

impl Figures {
    /// Counts one case in.
    pub fn add(&mut self, s: &CaseSummary) {
        self.cases += 1;
        match self.by_state.get_mut(s.state.as_str()) {
            Some(n) => *n += 1,
            None => {
                self.by_state.insert(s.state.as_str().to_string(), 1);
            }
        }
        let open = s.state.is_open();
        self.overdue += u64::from(open && s.warning == Warning::Red);
        self.due_soon += u64::from(open && s.warning == Warning::Yellow);
        self.legal_overdue += u64::from(open && s.legal_warning == Warning::Red);
        if s.state.is_concluded() {
            self.concluded += 1;
            self.on_time += u64::from(Figures::on_time(s));
        }
        if let (true, Some(days)) = (s.state.is_concluded(), s.working_days) {
            self.working_days_sum += u64::from(days);
            self.working_days_count += 1;
        }
        if let (true, Some(joint)) = (open, s.joint) {
            self.joint_waiting += u64::from(joint.waiting > 0);
            self.joint_late += u64::from(joint.late > 0);
        }
        self.materials_owed += u64::from(open && s.owed > 0);
        self.provisional += u64::from(s.provisional);
        if let Some(score) = s.satisfaction {
            *self.satisfaction.entry(score.to_string()).or_default() += 1;
        }
        if let (Some((_, warning)), None) = (s.rectification, s.rectified_on) {
            self.rectifications_open += 1;
            self.rectifications_late += u64::from(warning == Warning::Red);
        }
        for n in &s.notices {
            self.notices_open += u64::from(n.answer.is_none());
            self.notices_answered += u64::from(n.answer.is_some());
        }
    }

    /// A concluded case was concluded within its promised deadline: its promised clock was
    /// not red when it stopped.
    fn on_time(s: &CaseSummary) -> bool {
        s.warning != Warning::Red
    }

    /// Derives the rates once every case is counted.
    fn finish(&mut self) {
        self.on_time_rate =
            (self.concluded > 0).then(|| self.on_time as f64 / self.concluded as f64);
        self.average_working_days = (self.working_days_count > 0)
            .then(|| self.working_days_sum as f64 / self.working_days_count as f64);
    }
}

/// Supervision figures of a region: in total, by item, by department, by owning node, and
/// by month of acceptance.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    pub totals: Figures,
    pub by_item: BTreeMap<String, Figures>,
    pub by_department: BTreeMap<String, Figures>,
    pub by_node: BTreeMap<NodeCode, Figures>,
    /// By the month a case was accepted (`"YYYY-MM"`; cases never accepted are not counted).
    pub by_month: BTreeMap<String, Month>,
}

/// The cases accepted in one month: how many, and how many of them concluded (on time).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct Month {
    pub accepted: u64,
    pub concluded: u64,
    pub on_time: u64,
}

impl Report {
    /// The figures of the cases of `region`'s subtree among `summaries`: those whose owner or
    /// accepting node it covers.
    pub fn of<'a>(
        region: NodeCode,
        summaries: impl IntoIterator<Item = &'a CaseSummary>,
    ) -> Report {
        let mut report = Report::default();
        for s in summaries {
            report.add(region, s);
        }
        report.finish();
        report
    }

    /// [`Report::of`] over summaries read one at a time (from the store): the memory it takes
    /// is the report's, not that of every summary held — a city's `GET /api/v1/stats` used to
    /// read its 250 000 summaries into one vector first.
    pub fn fold<E>(
        region: NodeCode,
        summaries: impl IntoIterator<Item = Result<CaseSummary, E>>,
    ) -> Result<Report, E> {
        let mut report = Report::default();
        for s in summaries {
            report.add(region, &s?);
        }
        report.finish();
        Ok(report)
    }

    /// Counts `s` in, if it is of `region`'s subtree.
    fn add(&mut self, region: NodeCode, s: &CaseSummary) {
        if !(region.covers(s.owner) || region.covers(s.accepting_node)) {
            return;
        }
        self.totals.add(s);
        self.by_item.entry(s.item.clone()).or_default().add(s);
        self.by_department
            .entry(s.department.clone())
            .or_default()
            .add(s);
        self.by_node.entry(s.owner).or_default().add(s);
        if let Some(day) = s.accepted_on {
            let (year, month, _) = day.ymd();
            let m = self
                .by_month
                .entry(format!("{year:04}-{month:02}"))
                .or_default();
            m.accepted += 1;
            if s.state.is_concluded() {
                m.concluded += 1;
                m.on_time += u64::from(Figures::on_time(s));
            }
        }
    }

    /// Derives every rate once every case is counted.
    fn finish(&mut self) {
        self.totals.finish();
        for figures in self
            .by_item
            .values_mut()
            .chain(self.by_department.values_mut())
            .chain(self.by_node.values_mut())
        {
            figures.finish();
        }
    }
}
