//! Civil dates in China Standard Time (UTC+8), the time zone every deadline is counted in.
//!
//! Kept here, with no I/O, because events carry their time as milliseconds and every node must
//! turn them into the same date.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Milliseconds east of UTC for China Standard Time.
const CST_OFFSET_MS: i64 = 8 * 3600 * 1000;
const MS_PER_DAY: i64 = 86_400_000;

/// A calendar date, stored as days since 1970-01-01 so arithmetic and ordering are integer
/// operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(i32);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a date of the form YYYY-MM-DD")]
pub struct DateError(pub String);

impl Date {
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date(days_from_civil(year, month, day)))
    }

    /// The CST date of a Unix timestamp in milliseconds.
    pub fn from_unix_ms(ms: u64) -> Date {
        let local = ms as i64 + CST_OFFSET_MS;
        Date(local.div_euclid(MS_PER_DAY) as i32)
    }

    /// Midnight CST at the start of this date, as Unix milliseconds.
    pub fn start_unix_ms(self) -> u64 {
        (self.0 as i64 * MS_PER_DAY - CST_OFFSET_MS).max(0) as u64
    }

    pub fn ymd(self) -> (i32, u32, u32) {
        civil_from_days(self.0)
    }

    pub fn year(self) -> i32 {
        self.ymd().0
    }

    /// Days since 1970-01-01.
    pub fn days(self) -> i32 {
        self.0
    }

    /// 1 = Monday … 7 = Sunday (ISO 8601).
    pub fn weekday(self) -> u32 {
        // 1970-01-01 was a Thursday (4).
        ((self.0 as i64 + 3).rem_euclid(7) + 1) as u32
    }

    pub fn is_weekend(self) -> bool {
        self.weekday() >= 6
    }

    pub fn succ(self) -> Date {
        Date(self.0 + 1)
    }

    pub fn add_days(self, n: i32) -> Date {
        Date(self.0 + n)
    }

    /// `yyyymmdd`, as used inside case numbers.
    pub fn compact(self) -> String {
        let (y, m, d) = self.ymd();
        format!("{y:04}{m:02}{d:02}")
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl FromStr for Date {
    type Err = DateError;

    fn from_str(s: &str) -> Result<Date, DateError> {
        let err = || DateError(s.to_string());
        let mut parts = s.split('-');
        let (Some(y), Some(m), Some(d), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(err());
        };
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(err());
        }
        let y = y.parse().map_err(|_| err())?;
        let m = m.parse().map_err(|_| err())?;
        let d = d.parse().map_err(|_| err())?;
        Date::from_ymd(y, m, d).ok_or_else(err)
    }
}

impl Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            serializer.serialize_i32(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Date, D::Error> {
        use serde::de::Error;
        if deserializer.is_human_readable() {
            let s = String::deserialize(deserializer)?;
            s.parse().map_err(D::Error::custom)
        } else {
            Ok(Date(i32::deserialize(deserializer)?))
        }
    }
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

// Howard Hinnant's days_from_civil / civil_from_days.
fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i32;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_dates() {
        let d: Date = "2025-10-01".parse().unwrap();
        assert_eq!(d.weekday(), 3);
        assert_eq!(d.to_string(), "2025-10-01");
        assert_eq!(d.compact(), "20251001");
        assert_eq!("2024-02-29".parse::<Date>().unwrap().ymd(), (2024, 2, 29));
        assert!("2025-02-29".parse::<Date>().is_err());
        assert!("2025-1-01".parse::<Date>().is_err());
        // 2025-09-30 16:30 UTC is 2025-10-01 00:30 in Beijing.
        let ms = d.start_unix_ms() + 30 * 60 * 1000;
        assert_eq!(Date::from_unix_ms(ms), d);
    }

    proptest! {
        #[test]
        fn round_trips(days in -100_000i32..100_000) {
            let d = Date(days);
            let (y, m, dd) = d.ymd();
            prop_assert_eq!(Date::from_ymd(y, m, dd), Some(d));
            prop_assert_eq!(d.to_string().parse::<Date>().ok().filter(|_| y >= 1000), (y >= 1000).then_some(d));
        }
    }
}
