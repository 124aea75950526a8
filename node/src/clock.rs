//! The node's wall clock. Normally the system clock; for drills and tests it can start at a
//! chosen instant (`liandong run --clock`) and run forward from there, so deadlines around a given
//! holiday can be exercised on a real node.

use std::time::{SystemTime, UNIX_EPOCH};

use federation_proto::Date;

#[derive(Debug, Clone, Copy, Default)]
pub struct Clock {
    offset_ms: i64,
}

impl Clock {
    pub fn system() -> Clock {
        Clock::default()
    }

    /// A clock that reads `start_ms` now and advances in real time.
    pub fn starting_at(start_ms: u64) -> Clock {
        Clock {
            offset_ms: start_ms as i64 - system_ms() as i64,
        }
    }

    pub fn now_ms(&self) -> u64 {
        (system_ms() as i64 + self.offset_ms).max(0) as u64
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
