//! The node's wall clock. Normally the system clock; for drills and tests it can start at a
//! chosen instant (`liandong run --clock`) and run forward from there, so deadlines around a given
//! holiday can be exercised on a real node. The deterministic simulation
//! (`tests/simulation.rs`) drives a [`Clock::manual`] one: it moves only when told, so a run
//! repeats exactly from its seed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use federation_proto::Date;

#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: i64,
    /// When set, the clock reads this instead of the system clock (see [`Clock::manual`]).
    manual: Option<Arc<AtomicU64>>,
}

impl Clock {
    pub fn system() -> Clock {
        Clock::default()
    }

    /// A clock that reads `start_ms` now and advances in real time.
    pub fn starting_at(start_ms: u64) -> Clock {
        Clock {
            offset_ms: start_ms as i64 - system_ms() as i64,
            manual: None,
        }
    }

    /// A clock that reads `start_ms` until [`Clock::set_ms`] moves it (on any clone).
    pub fn manual(start_ms: u64) -> Clock {
        Clock {
            offset_ms: 0,
            manual: Some(Arc::new(AtomicU64::new(start_ms))),
        }
    }

    /// Sets a manual clock (forward or back, as a clock jump would); a system clock ignores it.
    pub fn set_ms(&self, ms: u64) {
        if let Some(manual) = &self.manual {
            manual.store(ms, Ordering::SeqCst);
        }
    }

    pub fn now_ms(&self) -> u64 {
        match &self.manual {
            Some(manual) => manual.load(Ordering::SeqCst),
            None => (system_ms() as i64 + self.offset_ms).max(0) as u64,
        }
    }

    /// Today in China Standard Time.
    pub fn today(&self) -> Date {
        Date::from_unix_ms(self.now_ms())
    }
}

fn system_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Parses `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM` (China Standard Time) into Unix milliseconds.
pub fn parse_instant(s: &str) -> Result<u64, String> {
    let (date, time) = s.split_once('T').unwrap_or((s, "09:00"));
    let date: Date = date.parse().map_err(|e| format!("{e}"))?;
    let (h, m) = time
        .split_once(':')
        .and_then(|(h, m)| Some((h.parse::<u64>().ok()?, m.parse::<u64>().ok()?)))
        .filter(|(h, m)| *h < 24 && *m < 60)
        .ok_or_else(|| format!("{time:?} is not a time of the form HH:MM"))?;
    Ok(date.start_unix_ms() + (h * 60 + m) * 60_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_where_told() {
        let start = parse_instant("2025-09-30T10:00").unwrap();
        let clock = Clock::starting_at(start);
        assert_eq!(clock.today().to_string(), "2025-09-30");
        assert!(clock.now_ms() >= start);
        assert_eq!(parse_instant("2025-09-30").unwrap(), start - 3_600_000);
        assert!(parse_instant("2025-09-30T25:00").is_err());
        assert!(parse_instant("yesterday").is_err());
    }
}
