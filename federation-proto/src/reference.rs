//! Reference data (基础数据) a node works with — the item catalog and the working-day calendar
//! — and how an ancestor's copy reaches it.
//!
//! A node that has its own data uses it and broadcasts it down its subtree; a node without
//! adopts what its parent broadcasts (kept in the store, so it survives restarts) and passes that
//! on. The built-in sample catalog and national calendar are the fallback. Readers take a cheap
//! snapshot (`Arc`); a change swaps it atomically.
//!
//! Own data is the node's files (`files.catalog`, `files.calendar`) and, for the calendar, the
//! State Council notices an operator loaded into the running node (`liandong calendar load`,
//! kept in the store under [`LOADED_CALENDAR_KEY`]); a loaded year replaces the file's.

use std::path::Path;
use std::sync::{Arc, RwLock};

use crate::calendar::{Calendar, CalendarError};
use crate::catalog::{Catalog, CatalogError};

/// Store key of the calendar years loaded into the running node (`liandong calendar load`).
pub const LOADED_CALENDAR_KEY: &[u8] = b"loaded:calendar";

/// Which of the two kinds of reference data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Catalog,
    Calendar,
}

impl Kind {
    /// Store key of the copy received from the parent.
    pub fn received_key(self) -> &'static [u8] {
        match self {
            Kind::Catalog => b"record:catalog",
            Kind::Calendar => b"record:calendar",
        }
    }

    /// Store key of the copy this node last broadcast.
    pub fn sent_key(self) -> &'static [u8] {
        match self {
            Kind::Catalog => b"sent:catalog",
            Kind::Calendar => b"sent:calendar",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("broadcast catalog: {0}")]
    Catalog(#[from] CatalogError),
    #[error("broadcast calendar: {0}")]
    Calendar(#[from] CalendarError),
}

/// The catalog and calendar in force, and this node's own data.
pub struct Reference {
    catalog: RwLock<Arc<Catalog>>,
    calendar: RwLock<Arc<Calendar>>,
    own_catalog: Option<String>,
    own_calendar: RwLock<OwnCalendar>,
}

/// This node's own calendar: its file, the years loaded since, and the two laid together (the
/// text it broadcasts).
#[derive(Default, Clone)]
struct OwnCalendar {
    file: Option<String>,
    loaded: Option<String>,
    merged: Option<String>,
}

impl OwnCalendar {
    fn new(file: Option<String>, loaded: Option<String>) -> Result<OwnCalendar, CalendarError> {
        let merged = match (&file, &loaded) {
            (Some(f), Some(l)) => Some(merge(f, l)?),
            (Some(one), None) | (None, Some(one)) => Some(one.clone()),
            (None, None) => None,
        };
        Ok(OwnCalendar {
            file,
            loaded,
            merged,
        })
    }
}

/// `over` laid over `base`, both calendar files, as one file.
fn merge(base: &str, over: &str) -> Result<String, CalendarError> {
    let mut calendar = Calendar::from_toml(base)?;
    calendar.overlay(Calendar::from_toml(over)?);
    Ok(calendar.to_toml())
}

impl Reference {
    /// `own_*` are the texts of this node's own files, if it has them; `loaded_calendar` the
    /// years loaded into the running node earlier; `received_*` the copies adopted from the
    /// parent earlier.
    pub fn new(
        own_catalog: Option<String>,
        own_calendar: Option<String>,
        loaded_calendar: Option<String>,
        received_catalog: Option<String>,
        received_calendar: Option<String>,
    ) -> Result<Reference, ReferenceError> {
        let catalog = match own_catalog.as_deref().or(received_catalog.as_deref()) {
            Some(text) => Catalog::from_toml(text)?,
            None => Catalog::builtin()?,
        };
        let own = OwnCalendar::new(own_calendar, loaded_calendar)?;
        let calendar = calendar_from(own.merged.as_deref().or(received_calendar.as_deref()))?;
        Ok(Reference {
            catalog: RwLock::new(Arc::new(catalog)),
            calendar: RwLock::new(Arc::new(calendar)),
            own_catalog,
            own_calendar: RwLock::new(own),
        })
    }

    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog
            .read()
            .map_or_else(|p| p.into_inner().clone(), |c| c.clone())
    }

    pub fn calendar(&self) -> Arc<Calendar> {
        self.calendar
            .read()
            .map_or_else(|p| p.into_inner().clone(), |c| c.clone())
    }

    /// This node's own data of `kind`, which it broadcasts down.
    pub fn own(&self, kind: Kind) -> Option<String> {
        match kind {
            Kind::Catalog => self.own_catalog.clone(),
            Kind::Calendar => self.own_calendar().merged,
        }
    }

    fn own_calendar(&self) -> OwnCalendar {
        self.own_calendar
            .read()
            .map_or_else(|p| p.into_inner().clone(), |c| c.clone())
    }

    /// Adopts a copy broadcast by the parent, unless this node has its own. `Ok(true)` when
    /// adopted (and so to be kept and passed down); an invalid copy is an error and changes
    /// nothing.
    pub fn adopt(&self, kind: Kind, text: &str) -> Result<bool, ReferenceError> {
        if self.own(kind).is_some() {
            return Ok(false);
        }
        match kind {
            Kind::Catalog => {
                let catalog = Arc::new(Catalog::from_toml(text)?);
                if let Ok(mut c) = self.catalog.write() {
                    *c = catalog;
                }
            }
            Kind::Calendar => self.set_calendar(calendar_from(Some(text))?),
        }
        Ok(true)
    }

    /// Loads official years (a State Council notice, in the calendar file format) into this
    /// node's own calendar: they replace the same years of its file and of earlier loads, and
    /// from now on this node broadcasts its own calendar instead of adopting its parent's.
    /// Returns the loaded years as a whole, to keep; an invalid text changes nothing.
    pub fn load_calendar(&self, text: &str) -> Result<String, CalendarError> {
        if Calendar::from_toml(text)?.official_years().next().is_none() {
            return Err(CalendarError::Empty);
        }
        let current = self.own_calendar();
        let loaded = match &current.loaded {
            Some(earlier) => merge(earlier, text)?,
            None => text.to_string(),
        };
        let own = OwnCalendar::new(current.file, Some(loaded.clone()))?;
        let calendar = calendar_from(own.merged.as_deref())?;
        if let Ok(mut o) = self.own_calendar.write() {
            *o = own;
        }
        self.set_calendar(calendar);
        Ok(loaded)
    }

    fn set_calendar(&self, calendar: Calendar) {
        if let Ok(mut c) = self.calendar.write() {
            *c = Arc::new(calendar);
        }
    }
}

/// The national calendar with `text` (a calendar file) overlaid.
fn calendar_from(text: Option<&str>) -> Result<Calendar, CalendarError> {
    let mut calendar = Calendar::builtin();
    if let Some(t) = text {
        calendar.overlay(Calendar::from_toml(t)?);
    }
    Ok(calendar)
}

/// Reads a calendar file (a 国务院办公厅 notice in the node's TOML form); errors name the file.
/// The parsing is the core's ([`Calendar::from_toml`]); only the reading is here.
pub fn load_calendar(path: &Path) -> Result<Calendar, CalendarError> {
    let text = std::fs::read_to_string(path).map_err(|error| CalendarError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    Calendar::from_toml(&text).map_err(|error| CalendarError::InFile {
        path: path.to_path_buf(),
        error: Box::new(error),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CITY_CALENDAR: &str = "[2027]\nholidays = [\"2027-01-01\"]\n";

    fn day(s: &str) -> crate::Date {
        s.parse().unwrap()
    }

    #[test]
    fn a_node_without_its_own_file_adopts_the_parents() {
        let r = Reference::new(None, None, None, None, None).unwrap();
        // Provisional 2027: 春节 from 除夕 (02-05).
        assert!(!r.calendar().is_official(2027));
        assert!(!r.calendar().is_workday(day("2027-02-05")));
        assert!(r.adopt(Kind::Calendar, CITY_CALENDAR).unwrap());
        assert!(r.calendar().is_official(2027));
        assert!(!r.calendar().is_workday(day("2027-01-01")));
        // The notice replaced the provisional year as a whole.
        assert!(r.calendar().is_workday(day("2027-02-05")));
        // The national years are still there.
        assert!(r.calendar().is_workday(day("2025-10-09")));
    }

    #[test]
    fn its_own_file_wins_and_bad_copies_change_nothing() {
        let r = Reference::new(None, Some(CITY_CALENDAR.into()), None, None, None).unwrap();
        assert!(!r.adopt(Kind::Calendar, "[2028]\n").unwrap());
        let plain = Reference::new(None, None, None, None, None).unwrap();
        let items = plain.catalog().items().len();
        assert!(plain.adopt(Kind::Catalog, "not = [toml").is_err());
        assert_eq!(plain.catalog().items().len(), items);
    }

    #[test]
    fn loaded_years_lie_over_the_file_and_make_the_calendar_own() {
        let file = "[2026]\nholidays = [\"2026-03-02\"]\n";
        let r = Reference::new(None, Some(file.into()), None, None, None).unwrap();
        let loaded = r.load_calendar(CITY_CALENDAR).unwrap();
        let own = r.own(Kind::Calendar).unwrap();
        assert!(own.contains("[2026]") && own.contains("[2027]"), "{own}");
        assert!(!r.calendar().is_workday(day("2026-03-02")));
        assert!(r.calendar().is_official(2027));
        // A second load keeps the first one's years; a restart from the store gives the same.
        let loaded = {
            r.load_calendar("[2028]\n").unwrap();
            let again = r.own_calendar().loaded.unwrap();
            assert!(
                again.contains("[2027]") && again.contains("[2028]"),
                "{again}"
            );
            assert!(!loaded.contains("[2028]"));
            again
        };
        let restarted = Reference::new(None, Some(file.into()), Some(loaded), None, None).unwrap();
        assert_eq!(restarted.own(Kind::Calendar), r.own(Kind::Calendar));
        // Own data now: the parent's broadcast is not adopted.
        let child = Reference::new(None, None, None, None, None).unwrap();
        child.load_calendar(CITY_CALENDAR).unwrap();
        assert!(!child.adopt(Kind::Calendar, "[2029]\n").unwrap());
        // Bad or empty texts change nothing.
        assert!(matches!(
            r.load_calendar("[2027"),
            Err(CalendarError::Toml(_))
        ));
        assert!(matches!(
            r.load_calendar("# nothing"),
            Err(CalendarError::Empty)
        ));
        assert!(r.calendar().is_official(2028));
    }

    #[test]
    fn loads_from_a_file_and_names_it_in_errors() {
        let dir = std::env::temp_dir().join(format!("calendar-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.toml");
        std::fs::write(&good, "[2025]\nholidays = [\"2025-01-01\"]\n").unwrap();
        assert_eq!(load_calendar(&good).unwrap().official_years().count(), 1);
        let bad = dir.join("bad.toml");
        std::fs::write(&bad, "[2025]\nholidays = [\"2025-13-01\"]\n").unwrap();
        let err = load_calendar(&bad).unwrap_err().to_string();
        assert!(
            err.contains("bad.toml") && err.contains("2025-13-01"),
            "{err}"
        );
        let missing = load_calendar(&dir.join("missing.toml")).unwrap_err();
        assert!(matches!(missing, CalendarError::Read { .. }));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
