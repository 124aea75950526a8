//! The calendar as it travels the tree: the city loads a State Council notice (`liandong
//! calendar load`, the writer's `LoadCalendar`), which it keeps as its own and broadcasts down;
//! each node below adopts it, passes it on and re-evaluates every case it holds against it,
//! and each owner's re-evaluated summaries go up again. The simulation's notices amend 2025 —
//! the year its cases run in — with one more holiday after the National Day week, so deadlines
//! move.
//!
//! What each node starts with is what `liandong run` starts with (`server::load_reference`,
//! minus files: no simulated node has its own): the years loaded into it and the copy its
//! parent broadcast, from its store.

use std::sync::Arc;

use federation_proto::reference::{Kind, Reference, LOADED_CALENDAR_KEY};
use federation_proto::writer::Input;
use liandong::store::memory::MemStore;
use liandong::store::Directory;

use super::{tracing, World};

/// Extra holidays a notice may add, weekdays after the National Day week of 2025.
const EXTRA_HOLIDAYS: [&str; 4] = ["2025-10-09", "2025-10-10", "2025-10-13", "2025-10-14"];

/// A State Council notice for 2025: the official days, with `extra` as one more holiday.
fn notice(extra: &str) -> String {
    format!(
        r#"[2025]
holidays = [
  "2025-01-01",
  "2025-01-28", "2025-01-29", "2025-01-30", "2025-01-31",
  "2025-02-01", "2025-02-02", "2025-02-03", "2025-02-04",
  "2025-04-04", "2025-04-05", "2025-04-06",
  "2025-05-01", "2025-05-02", "2025-05-03", "2025-05-04", "2025-05-05",
  "2025-05-31", "2025-06-01", "2025-06-02",
  "2025-10-01", "2025-10-02", "2025-10-03", "2025-10-04",
  "2025-10-05", "2025-10-06", "2025-10-07", "2025-10-08",
  "{extra}",
]
workdays = ["2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11"]
"#
    )
}

/// The reference data a node starts with, from its store (as `server::load_reference` reads
/// it, without own files).
pub fn reference_from(store: &MemStore) -> Result<Arc<Reference>, String> {
    let setting = |key: &[u8]| -> Result<Option<String>, String> {
        Ok(store
            .setting(key)
            .map_err(|e| e.to_string())?
            .and_then(|b| String::from_utf8(b).ok()))
    };
    let reference = Reference::new(
        None,
        None,
        setting(LOADED_CALENDAR_KEY)?,
        setting(Kind::Catalog.received_key())?,
        setting(Kind::Calendar.received_key())?,
    )
    .map_err(|e| e.to_string())?;
    Ok(Arc::new(reference))
}

impl World {
    /// The city, if it serves, loads a notice amending 2025 and broadcasts it down.
    pub(super) fn load_calendar_any(&mut self) {
        let root = 0;
        if !self.up().contains(&root) {
            return;
        }
        let extra = EXTRA_HOLIDAYS[self.rng.below(EXTRA_HOLIDAYS.len())];
        let code = self.nodes[root].code;
        trace!("{code} loads a 2025 notice with {extra} a holiday");
        match self.ask(
            root,
            Input::LoadCalendar {
                text: notice(extra),
            },
        ) {
            Ok(_) => self.tally.calendars += 1,
            Err(e) => self
                .findings
                .push(format!("{code}: loading a calendar failed: {e}")),
        }
    }
}
