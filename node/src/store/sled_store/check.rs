//! The start-up check of a sled store: its derived data against its event log (rebuilt when
//! they disagree), then the log against its witness ([`crate::store::witness`]).

use std::collections::BTreeMap;

use federation_proto::codec;
use federation_proto::{CaseNo, Event, Hlc, NodeCode};

use super::*;

impl SledStore {
    /// Checks the [`EventLog`] invariants (listed in the module doc of `store::sled_store`) and
    /// rebuilds `cases`, `case_events` and the node counters from `events` when they do not
    /// hold.
    ///
    /// The check reads keys only: the node's own sequence numbers, the case index (which
    /// carries each event's case and clock) and the counts of events and cases. Why: it runs at
    /// every start, and decoding every event held every event in memory at once and took
    /// seconds on a year's log — time a county back from a crash owes its townships' backlogs.
    /// A case record is written in the same transaction as its events, so only a store damaged
    /// underneath sled can break their agreement; when anything does not add up, the full
    /// check decodes everything, compares each case with its events and rebuilds.
    ///
    /// Then the store must hold at least what its witness says it had made durable: a log that
    /// came back shorter (sled drops everything after a damaged record) is refused with
    /// [`StoreError::Behind`] rather than served.
    pub fn check_and_repair(&self, own: NodeCode) -> Result<CheckReport, StoreError> {
        let report = self.check_and_repair_trees(own)?;
        self.recount()?;
        Ok(report)
    }

    /// Counts the cases by state and the events ([`counters`]): one pass over the cases tree.
    fn recount(&self) -> Result<(), StoreError> {
        let states = self
            .cases()
            .map(|c| c.map(|c| (c.case_no, c.state)))
            .collect::<Result<Vec<_>, _>>()?;
        self.counters
            .recount(states.into_iter(), self.events.len() as u64);
        Ok(())
    }

    fn check_and_repair_trees(&self, own: NodeCode) -> Result<CheckReport, StoreError> {
        let quick = self.check_keys(own)?;
        let report = if quick.problems.is_empty() {
            quick
        } else {
            self.check_all_and_repair(own)?
        };
        if let witness::Found::Mark(mark) = self.witnessed {
            mark.check(self.mark()?)
                .map_err(|missing| StoreError::Behind {
                    dir: self
                        .witness
                        .path()
                        .parent()
                        .map_or_else(String::new, |d| d.display().to_string()),
                    missing,
                })?;
        }
        Ok(report)
    }

    /// How far the store has got: its own last sequence, and items received over all links.
    pub(super) fn mark(&self) -> Result<witness::Mark, StoreError> {
        Ok(witness::Mark {
            own_seq: self.meta()?.last_seq,
            received: self.link_counters()?.values().map(|c| c.received).sum(),
        })
    }

    /// The key-only check: a gap in our own sequence is an error, anything else a problem.
    fn check_keys(&self, own: NodeCode) -> Result<CheckReport, StoreError> {
        let mut last_seq = 0;
        for key in self.events.scan_prefix(own.as_u64().to_be_bytes()).keys() {
            CHECK_PROGRESS.fetch_add(1, Ordering::Relaxed);
            let seq = seq_of(&key.db()?);
            if seq != last_seq + 1 {
                return Err(own_gap(seq));
            }
            last_seq = seq;
        }
        let mut report = CheckReport {
            events: self.events.len(),
            ..CheckReport::default()
        };
        let (mut indexed, mut max_hlc, mut case) = (0, Hlc::ZERO, None);
        for key in self.case_events.iter().keys() {
            CHECK_PROGRESS.fetch_add(1, Ordering::Relaxed);
            let key = key.db()?;
            let Some(hlc) = index_hlc(&key) else {
                report.problems.push("malformed case index key".into());
                return Ok(report);
            };
            indexed += 1;
            max_hlc = max_hlc.max(hlc);
            if case.as_deref() != key.get(..16) {
                report.cases += 1;
                case = key.get(..16).map(<[u8]>::to_vec);
            }
        }
        if indexed != report.events {
            report.problems.push(format!(
                "case index holds {indexed} entries for {} events",
                report.events
            ));
        }
        if self.cases.len() != report.cases {
            report.problems.push(format!(
                "{} materialised cases for {} cases in the log",
                self.cases.len(),
                report.cases
            ));
        }
        let meta = self.meta()?;
        if meta.last_seq != last_seq || meta.hlc < max_hlc {
            report.problems.push(format!(
                "node counters behind the log (seq {} < {last_seq})",
                meta.last_seq
            ));
        }
        Ok(report)
    }

    /// Decodes every event, checks every case against its events and rebuilds what is off.
    fn check_all_and_repair(&self, own: NodeCode) -> Result<CheckReport, StoreError> {
        let mut by_case: BTreeMap<CaseNo, Vec<Event>> = BTreeMap::new();
        let mut report = CheckReport::default();
        let mut own_seqs = Vec::new();
        let mut max_hlc = Hlc::ZERO;
        for item in self.events.iter() {
            CHECK_PROGRESS.fetch_add(1, Ordering::Relaxed);
            let (_, value) = item.db()?;
            let event: Event = codec::decode(&value, codec::MAX_EVENT_BYTES)?;
            if event.id.origin == own {
                own_seqs.push(event.id.seq);
            }
            max_hlc = max_hlc.max(event.hlc);
            by_case.entry(event.case_no).or_default().push(event);
            report.events += 1;
        }
        report.cases = by_case.len();
        own_seqs.sort_unstable();
        if let Some(gap) = own_seqs
            .iter()
            .enumerate()
            .find(|(i, s)| **s != *i as u64 + 1)
        {
            return Err(own_gap(*gap.1));
        }
        self.find_problems(&by_case, &mut report)?;
        let mut meta = self.meta()?;
        let last_seq = own_seqs.last().copied().unwrap_or(0);
        if meta.last_seq != last_seq || meta.hlc < max_hlc {
            report.problems.push(format!(
                "node counters behind the log (seq {} < {last_seq})",
                meta.last_seq
            ));
        }
        if !report.problems.is_empty() {
            meta.last_seq = last_seq;
            meta.hlc = meta.hlc.max(max_hlc);
            self.rebuild(&by_case, &meta)?;
            report.rebuilt = true;
        }
        Ok(report)
    }

    fn find_problems(
        &self,
        by_case: &BTreeMap<CaseNo, Vec<Event>>,
        report: &mut CheckReport,
    ) -> Result<(), StoreError> {
        if self.case_events.len() != report.events {
            report.problems.push(format!(
                "case index holds {} entries for {} events",
                self.case_events.len(),
                report.events
            ));
        }
        if self.cases.len() != by_case.len() {
            report.problems.push(format!(
                "{} materialised cases for {} cases in the log",
                self.cases.len(),
                by_case.len()
            ));
        }
        for (no, events) in by_case {
            match self.case(no) {
                Ok(Some(case)) if case.log.len() == events.len() => {}
                Ok(_) | Err(StoreError::Codec(_)) => {
                    report
                        .problems
                        .push(format!("case {no} does not match its events"));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn rebuild(
        &self,
        by_case: &BTreeMap<CaseNo, Vec<Event>>,
        meta: &NodeMeta,
    ) -> Result<(), StoreError> {
        self.cases.clear().db()?;
        self.case_events.clear().db()?;
        for (no, events) in by_case {
            for e in events {
                self.case_events.insert(&index_key(e)[..], &[]).db()?;
            }
            if let Some(case) = Case::fold(events) {
                self.cases.insert(no.key(), codec::encode(&case)?).db()?;
            }
        }
        self.meta.insert(META_KEY, codec::encode(meta)?).db()?;
        self.flush()
    }
}
