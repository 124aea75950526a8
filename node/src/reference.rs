//! Reference data (基础数据) a node works with — the item catalog and the working-day calendar
//! — and how an ancestor's copy reaches it.
//!
//! A node that has its own file (`files.catalog`, `files.calendar`) uses it and broadcasts it
//! down its subtree; a node without one adopts what its parent broadcasts (kept in the store, so
//! it survives restarts) and passes that on. The built-in sample catalog and national calendar
//! are the fallback. Readers take a cheap snapshot (`Arc`); a broadcast swaps it atomically.

use std::sync::{Arc, RwLock};

use crate::calendar::{Calendar, CalendarError};
use crate::catalog::{Catalog, CatalogError};

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

/// The catalog and calendar in force, and whether each comes from this node's own file.
pub struct Reference {
    catalog: RwLock<Arc<Catalog>>,
    calendar: RwLock<Arc<Calendar>>,
    own: (Option<String>, Option<String>),
}

impl Reference {
    /// `own_*` are the texts of this node's own files, if it has them; `received_*` the copies
    /// adopted from the parent earlier.
    pub fn new(
        own_catalog: Option<String>,
        own_calendar: Option<String>,
        received_catalog: Option<String>,
        received_calendar: Option<String>,
    ) -> Result<Reference, ReferenceError> {
        let catalog = match own_catalog.as_deref().or(received_catalog.as_deref()) {
            Some(text) => Catalog::from_toml(text)?,
            None => Catalog::builtin()?,
        };
        let calendar = calendar_from(own_calendar.as_deref().or(received_calendar.as_deref()))?;
        Ok(Reference {
            catalog: RwLock::new(Arc::new(catalog)),
            calendar: RwLock::new(Arc::new(calendar)),
            own: (own_catalog, own_calendar),
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

    /// This node's own file text of `kind`, which it broadcasts down.
    pub fn own(&self, kind: Kind) -> Option<&str> {
        match kind {
            Kind::Catalog => self.own.0.as_deref(),
            Kind::Calendar => self.own.1.as_deref(),
        }
    }

    /// Adopts a copy broadcast by the parent, unless this node has its own file. `Ok(true)`
    /// when adopted (and so to be kept and passed down); an invalid copy is an error and
    /// changes nothing.
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
            Kind::Calendar => {
                let calendar = Arc::new(calendar_from(Some(text))?);
                if let Ok(mut c) = self.calendar.write() {
                    *c = calendar;
                }
            }
        }
        Ok(true)
    }
}

/// The national calendar with `text` (a calendar file) overlaid.
fn calendar_from(text: Option<&str>) -> Result<Calendar, CalendarError> {
    let mut calendar = Calendar::builtin()?;
    if let Some(t) = text {
        calendar.overlay(Calendar::from_toml(t)?);
    }
    Ok(calendar)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CITY_CALENDAR: &str = "[2027]\nholidays = [\"2027-01-01\"]\n";

    #[test]
    fn a_node_without_its_own_file_adopts_the_parents() {
        let r = Reference::new(None, None, None, None).unwrap();
        assert!(r
            .calendar()
            .is_workday("2027-01-04".parse().unwrap())
            .is_err());
        assert!(r.adopt(Kind::Calendar, CITY_CALENDAR).unwrap());
        assert!(!r
            .calendar()
            .is_workday("2027-01-01".parse().unwrap())
            .unwrap());
        // The national years are still there.
        assert!(r
            .calendar()
            .is_workday("2025-10-09".parse().unwrap())
            .unwrap());
    }

    #[test]
    fn its_own_file_wins_and_bad_copies_change_nothing() {
        let r = Reference::new(None, Some(CITY_CALENDAR.into()), None, None).unwrap();
        assert!(!r.adopt(Kind::Calendar, "[2028]\n").unwrap());
        let plain = Reference::new(None, None, None, None).unwrap();
        let items = plain.catalog().items().len();
        assert!(plain.adopt(Kind::Catalog, "not = [toml").is_err());
        assert_eq!(plain.catalog().items().len(), items);
    }
}
