//! What a sweep that is not full looks at, kept in memory: the cases involved here whose
//! clocks can still move, and the summaries of direct children's cases that are red and open
//! (the candidates for an automatic 督办).
//!
//! Why: a sweep every `sweep_seconds` used to read every case and every summary held — a
//! county holds its townships' copies, a city every summary of its region — to find the few
//! whose clocks move. The index is built by a sweep that reads everything (the start-up sweep
//! is one: it is full) and then kept by [`Writer::commit`](super::Writer), through which every
//! case and summary a step changes passes; a later sweep reads only what it holds.
//!
//! Invariant: once built, `cases` holds exactly the cases this node holds that are involved
//! here and whose clocks can move, and `red_children` exactly the summaries held that a
//! direct child owns, red and open — as the group's overlay stands. A full sweep still reads
//! everything: a calendar change can move a concluded case's deadlines too.

use std::collections::BTreeSet;
use std::ops::Bound::{Excluded, Unbounded};

use crate::case::Case;
use crate::route::direct_child_of;
use crate::{CaseNo, CaseSummary, NodeCode};

use super::supervise::{clocks_can_move, red_and_open};

/// One index (see the module's doc).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Index {
    pub cases: BTreeSet<CaseNo>,
    pub red_children: BTreeSet<CaseNo>,
}

impl Index {
    fn note_case(&mut self, here: NodeCode, case: &Case) {
        if case.involved().contains(&here) && clocks_can_move(case) {
            self.cases.insert(case.case_no);
        } else {
            self.cases.remove(&case.case_no);
        }
    }

    fn note_summary(&mut self, here: NodeCode, summary: &CaseSummary) {
        if direct_child_of(here, summary.owner) && red_and_open(summary) {
            self.red_children.insert(summary.case_no);
        } else {
            self.red_children.remove(&summary.case_no);
        }
    }
}

/// The index in use, once built, and the one a sweep reading everything is building.
#[derive(Debug, Default)]
pub(super) struct SweepIndex {
    pub live: Option<Index>,
    pub building: Option<Index>,
}

impl SweepIndex {
    /// A case as it now stands (staged, or read by a sweep).
    pub fn note_case(&mut self, here: NodeCode, case: &Case) {
        for index in [&mut self.live, &mut self.building].into_iter().flatten() {
            index.note_case(here, case);
        }
    }

    /// A summary as it now stands (staged, or read by a sweep).
    pub fn note_summary(&mut self, here: NodeCode, summary: &CaseSummary) {
        for index in [&mut self.live, &mut self.building].into_iter().flatten() {
            index.note_summary(here, summary);
        }
    }

    /// A case read by a sweep that reads everything, for the index it builds.
    pub fn note_building_case(&mut self, here: NodeCode, case: &Case) {
        if let Some(index) = &mut self.building {
            index.note_case(here, case);
        }
    }

    /// A summary read by a sweep that reads everything, for the index it builds.
    pub fn note_building_summary(&mut self, here: NodeCode, summary: &CaseSummary) {
        if let Some(index) = &mut self.building {
            index.note_summary(here, summary);
        }
    }

    /// A sweep reading everything is done: what it built is the index from now on.
    pub fn built(&mut self) {
        if let Some(index) = self.building.take() {
            self.live = Some(index);
        }
    }
}

/// Up to `limit` numbers of `set` after `after` (from the first when `None`): one slice of an
/// indexed sweep.
pub(super) fn after(set: &BTreeSet<CaseNo>, after: Option<CaseNo>, limit: usize) -> Vec<CaseNo> {
    match after {
        Some(a) => set
            .range((Excluded(a), Unbounded))
            .take(limit)
            .copied()
            .collect(),
        None => set.iter().take(limit).copied().collect(),
    }
}
