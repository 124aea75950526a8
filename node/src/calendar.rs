//! The working-day calendar (工作日历): which dates count when a limit is "N working days".
//!
//! Every time limit of a service center — the promised limit (承诺时限), the legal limit
//! (法定时限), a joint review's feedback limit — is counted in working days. A working day is not
//! simply Monday to Friday: each autumn the State Council General Office publishes the next
//! year's public holidays (国务院办公厅关于…年部分节假日安排的通知), which take some weekdays off and
//! turn some weekend days into working days (调休上班). So the calendar keeps, per year:
//!
//! - `holidays`: every day off of each holiday period (weekend days inside a period may be listed
//!   too; they change nothing but keep the file readable next to the notice);
//! - `workdays`: the adjusted working weekend days.
//!
//! A date is a working day iff it is Monday to Friday and not a holiday, or it is listed in
//! `workdays`. A date in a year the calendar has no data for is an error naming that year, never
//! a silent fallback to Monday–Friday: a deadline computed from a guess would be wrong in law.
//!
//! The binary ships the national calendar for 2024–2026 (`data/calendar-cn.toml`); a city may
//! load and broadcast its own file, which replaces the years it defines ([`Calendar::overlay`]).
//!
//! # File format
//!
//! ```toml
//! # one table per year
//! [2025]
//! holidays = ["2025-01-01", "2025-01-28", ...]
//! workdays = ["2025-01-26", "2025-02-08", ...]
//! ```
//!
//! Each table is named by its year; every date is `YYYY-MM-DD` and belongs to that year; a date
//! in `workdays` must be a Saturday or Sunday, and no date may be both a holiday and a workday.
//! Either list may be omitted (empty).
//!
//! # Counting
//!
//! "N working days after D" is the Nth working day **strictly after** D: D itself never counts,
//! whether or not it is a working day. Accepted on a Sunday with N = 1, a case is due on the
//! Monday if that Monday is a working day.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use federation_proto::Date;
use serde::Deserialize;

/// The national calendar compiled into the binary.
const NATIONAL: &str = include_str!("../data/calendar-cn.toml");

/// 366 flags fit in six 64-bit words.
const WORDS: usize = 6;

#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    #[error(
        "the working-day calendar has no data for {year}: load a calendar file with a [{year}] \
         table (the State Council publishes each year's holidays in the autumn before)"
    )]
    NoData { year: i32 },
    #[error("cannot read calendar file {}: {error}", .path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("calendar file {}: {error}", .path.display())]
    InFile {
        path: PathBuf,
        error: Box<CalendarError>,
    },
    #[error("calendar is not valid: {0}")]
    Toml(#[from] toml::de::Error),
    #[error(
        "calendar table [{key}] is not a year: name each table by its four-digit year, e.g. [2025]"
    )]
    NotAYear { key: String },
    #[error("[{year}] {list}: {value:?} is not a date of the form YYYY-MM-DD")]
    BadDate {
        year: i32,
        list: &'static str,
        value: String,
    },
    #[error("[{year}] {list}: {date} belongs to {}, not to {year}", .date.year())]
    OtherYear {
        year: i32,
        list: &'static str,
        date: Date,
    },
    #[error("[{year}] {list}: {date} is listed twice")]
    Duplicate {
        year: i32,
        list: &'static str,
        date: Date,
    },
    #[error(
        "[{year}] workdays: {date} is a {weekday}; only a Saturday or Sunday can be an adjusted \
         working day (调休上班), Monday to Friday are working days already"
    )]
    NotWeekend {
        year: i32,
        date: Date,
        weekday: &'static str,
    },
    #[error("[{year}]: {date} is listed both in holidays and in workdays")]
    HolidayAndWorkday { year: i32, date: Date },
}

/// Working days per year. Cheap to clone; lookups never allocate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calendar {
    years: BTreeMap<i32, Year>,
}

/// One year: the lists as given (for display and re-export) and a bitmap of working-day flags
/// indexed by day of the year, which is what the hot paths read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Year {
    first: Date,
    len: u32,
    working: [u64; WORDS],
    holidays: Vec<Date>,
    workdays: Vec<Date>,
}

/// One `[year]` table as written in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YearFile {
    #[serde(default)]
    holidays: Vec<DateValue>,
    #[serde(default)]
    workdays: Vec<DateValue>,
}

/// A date as written: the documented `"2025-01-01"`, or the bare TOML date `2025-01-01` an
/// operator may well type instead. Anything else becomes a clear error naming the value.
#[derive(Deserialize)]
#[serde(untagged)]
enum DateValue {
    Text(String),
    Toml(toml::value::Datetime),
    Other(toml::Value),
}

impl DateValue {
    fn text(&self) -> String {
        match self {
            DateValue::Text(s) => s.clone(),
            DateValue::Toml(dt) => dt.to_string(),
            DateValue::Other(v) => v.to_string(),
        }
    }
}

impl Calendar {
    /// The national calendar built into the binary (2024–2026).
    pub fn builtin() -> Result<Calendar, CalendarError> {
        Calendar::from_toml(NATIONAL)
    }

    /// Parses and validates a calendar file's text (format in the module doc).
    pub fn from_toml(text: &str) -> Result<Calendar, CalendarError> {
        let tables: BTreeMap<String, YearFile> = toml::from_str(text)?;
        let mut years = BTreeMap::new();
        for (key, file) in tables {
            let year = parse_year_key(&key)?;
            years.insert(year, Year::build(year, file)?);
        }
        Ok(Calendar { years })
    }

    /// Reads a calendar file; errors name the file.
    pub fn load(path: &Path) -> Result<Calendar, CalendarError> {
        let text = std::fs::read_to_string(path).map_err(|error| CalendarError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        Calendar::from_toml(&text).map_err(|error| CalendarError::InFile {
            path: path.to_path_buf(),
            error: Box::new(error),
        })
    }

    /// Lays `other` over `self`: each year `other` defines replaces this calendar's data for that
    /// year as a whole (a city's file restates a year, it does not patch single dates); the other
    /// years are kept.
    pub fn overlay(&mut self, other: Calendar) {
        self.years.extend(other.years);
    }

    /// The years this calendar has data for, in order.
    pub fn years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.keys().copied()
    }

    /// The holidays listed for `year`, sorted; `None` when the year has no data.
    pub fn holidays(&self, year: i32) -> Option<&[Date]> {
        self.years.get(&year).map(|y| y.holidays.as_slice())
    }

    /// The adjusted working weekend days (调休上班) listed for `year`, sorted.
    pub fn adjusted_workdays(&self, year: i32) -> Option<&[Date]> {
        self.years.get(&year).map(|y| y.workdays.as_slice())
    }

    pub fn is_workday(&self, d: Date) -> Result<bool, CalendarError> {
        let year = self.year(d.year())?;
        Ok(year.is_working(year.ordinal(d)))
    }

    /// The `n`th working day strictly after `d` (`d` itself never counts); `d` when `n` is 0.
    pub fn add_workdays(&self, d: Date, n: u32) -> Result<Date, CalendarError> {
        let mut left = n;
        let mut last_seen = d;
        while left > 0 {
            let next = last_seen.succ();
            let year = self.year(next.year())?;
            match year.nth_working_from(year.ordinal(next), left) {
                Ok(ordinal) => return Ok(year.date(ordinal)),
                Err(found) => {
                    left -= found;
                    last_seen = year.last();
                }
            }
        }
        Ok(d)
    }

    /// The number of working days `w` with `from < w <= to`; 0 when `to <= from`. Counts the
    /// working days a case spent paused, or those left before its deadline.
    pub fn workdays_between(&self, from: Date, to: Date) -> Result<u32, CalendarError> {
        if to <= from {
            return Ok(0);
        }
        let mut total = 0;
        let mut day = from.succ();
        loop {
            let year = self.year(day.year())?;
            let last = year.last();
            let end = if to < last {
                year.ordinal(to) + 1
            } else {
                year.len
            };
            total += year.count(year.ordinal(day), end);
            if to <= last {
                return Ok(total);
            }
            day = last.succ();
        }
    }

    /// The calendar in the file format of the module doc, e.g. to broadcast it down the tree.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        for (year, data) in &self.years {
            let _ = writeln!(out, "[{year}]");
            let _ = writeln!(out, "holidays = [{}]", quoted(&data.holidays));
            let _ = writeln!(out, "workdays = [{}]\n", quoted(&data.workdays));
        }
        out
    }

    fn year(&self, year: i32) -> Result<&Year, CalendarError> {
        self.years.get(&year).ok_or(CalendarError::NoData { year })
    }
}

impl Year {
    fn build(year: i32, file: YearFile) -> Result<Year, CalendarError> {
        let holidays = parse_dates(year, "holidays", &file.holidays)?;
        let workdays = parse_dates(year, "workdays", &file.workdays)?;
        check_workdays(year, &holidays, &workdays)?;
        let (first, next_first) = match (Date::from_ymd(year, 1, 1), Date::from_ymd(year + 1, 1, 1))
        {
            (Some(a), Some(b)) => (a, b),
            _ => {
                return Err(CalendarError::NotAYear {
                    key: year.to_string(),
                })
            }
        };
        let mut data = Year {
            first,
            len: (next_first.days() - first.days()) as u32,
            working: [0; WORDS],
            holidays: Vec::new(),
            workdays: Vec::new(),
        };
        for ordinal in 0..data.len {
            let d = data.date(ordinal);
            // Monday to Friday, minus holidays, plus adjusted working days.
            if workdays.contains(&d) || (!d.is_weekend() && !holidays.contains(&d)) {
                data.working[(ordinal / 64) as usize] |= 1 << (ordinal % 64);
            }
        }
        data.holidays = holidays.into_iter().collect();
        data.workdays = workdays.into_iter().collect();
        Ok(data)
    }

    fn is_working(&self, ordinal: u32) -> bool {
        self.working[(ordinal / 64) as usize] & (1 << (ordinal % 64)) != 0
    }

    /// Day of the year from 0. Callers only pass dates of this year.
    fn ordinal(&self, d: Date) -> u32 {
        (d.days() - self.first.days()) as u32
    }

    fn date(&self, ordinal: u32) -> Date {
        self.first.add_days(ordinal as i32)
    }

    fn last(&self) -> Date {
        self.date(self.len - 1)
    }

    /// Scans from `start` (inclusive) to the end of the year for the `n`th working day: `Ok` with
    /// its ordinal, or `Err` with how many working days were found before the year ran out.
    fn nth_working_from(&self, start: u32, n: u32) -> Result<u32, u32> {
        let mut found = 0;
        for ordinal in start..self.len {
            if self.is_working(ordinal) {
                found += 1;
                if found == n {
                    return Ok(ordinal);
                }
            }
        }
        Err(found)
    }

    /// Working days with ordinals in `start..end`, a word at a time.
    fn count(&self, start: u32, end: u32) -> u32 {
        let mut total = 0;
        let mut at = start;
        while at < end {
            let (word, offset) = ((at / 64) as usize, at % 64);
            let take = (64 - offset).min(end - at);
            let mask = if take == 64 {
                u64::MAX
            } else {
                ((1u64 << take) - 1) << offset
            };
            total += (self.working[word] & mask).count_ones();
            at += take;
        }
        total
    }
}

fn parse_year_key(key: &str) -> Result<i32, CalendarError> {
    let not_a_year = || CalendarError::NotAYear {
        key: key.to_string(),
    };
    if key.len() != 4 || !key.bytes().all(|b| b.is_ascii_digit()) || key.starts_with('0') {
        return Err(not_a_year());
    }
    key.parse().map_err(|_| not_a_year())
}

/// Parses one list of dates, each of which must belong to `year` and appear once.
fn parse_dates(
    year: i32,
    list: &'static str,
    values: &[DateValue],
) -> Result<BTreeSet<Date>, CalendarError> {
    let mut dates = BTreeSet::new();
    for value in values {
        let text = value.text();
        let date: Date = text.parse().map_err(|_| CalendarError::BadDate {
            year,
            list,
            value: text.clone(),
        })?;
        if date.year() != year {
            return Err(CalendarError::OtherYear { year, list, date });
        }
        if !dates.insert(date) {
            return Err(CalendarError::Duplicate { year, list, date });
        }
    }
    Ok(dates)
}

fn check_workdays(
    year: i32,
    holidays: &BTreeSet<Date>,
    workdays: &BTreeSet<Date>,
) -> Result<(), CalendarError> {
    for &date in workdays {
        if !date.is_weekend() {
            let weekday = weekday_name(date);
            return Err(CalendarError::NotWeekend {
                year,
                date,
                weekday,
            });
        }
        if holidays.contains(&date) {
            return Err(CalendarError::HolidayAndWorkday { year, date });
        }
    }
    Ok(())
}

fn weekday_name(d: Date) -> &'static str {
    match d.weekday() {
        1 => "Monday",
        2 => "Tuesday",
        3 => "Wednesday",
        4 => "Thursday",
        5 => "Friday",
        6 => "Saturday",
        _ => "Sunday",
    }
}

fn quoted(dates: &[Date]) -> String {
    let items: Vec<String> = dates.iter().map(|d| format!("\"{d}\"")).collect();
    items.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn national() -> Calendar {
        Calendar::builtin().unwrap()
    }

    fn plus(s: &str, n: u32) -> String {
        national().add_workdays(d(s), n).unwrap().to_string()
    }

    #[test]
    fn builtin_parses_and_covers_2024_to_2026() {
        let cal = national();
        assert_eq!(cal.years().collect::<Vec<_>>(), vec![2024, 2025, 2026]);
        assert_eq!(cal.holidays(2025).unwrap().len(), 28);
        assert_eq!(
            cal.adjusted_workdays(2026).unwrap(),
            &[
                d("2026-01-04"),
                d("2026-02-14"),
                d("2026-02-28"),
                d("2026-05-09"),
                d("2026-09-20"),
                d("2026-10-10")
            ]
        );
    }

    #[test]
    fn yearly_working_day_totals() {
        // Weekdays, minus holidays on weekdays, plus adjusted weekend working days:
        // 2024: 262 - 19 + 8; 2025: 261 - 18 + 5; 2026: 261 - 19 + 6.
        let cal = national();
        let total = |y: i32| {
            let eve = Date::from_ymd(y - 1, 12, 31).unwrap();
            let last = Date::from_ymd(y, 12, 31).unwrap();
            cal.workdays_between(eve, last).unwrap()
        };
        assert_eq!(total(2024), 251);
        assert_eq!(total(2025), 248);
        assert_eq!(total(2026), 248);
    }

    #[test]
    fn around_national_day_2025() {
        assert_eq!(plus("2025-09-30", 1), "2025-10-09");
        assert_eq!(plus("2025-09-26", 1), "2025-09-28"); // Sunday, 调休上班
        assert_eq!(plus("2025-10-10", 1), "2025-10-11"); // Saturday, 调休上班
        assert_eq!(plus("2025-10-01", 1), "2025-10-09"); // accepted on a holiday
        assert_eq!(plus("2025-09-28", 3), "2025-10-09");
        let cal = national();
        assert!(cal.is_workday(d("2025-09-28")).unwrap());
        assert!(!cal.is_workday(d("2025-10-08")).unwrap());
        // 09-28, 09-29, 09-30, 10-09, 10-10, 10-11.
        let n = cal.workdays_between(d("2025-09-26"), d("2025-10-11"));
        assert_eq!(n.unwrap(), 6);
    }

    #[test]
    fn around_spring_festival_2026() {
        assert_eq!(plus("2026-02-13", 1), "2026-02-14"); // Saturday, 调休上班
        assert_eq!(plus("2026-02-14", 1), "2026-02-24");
        assert_eq!(plus("2026-02-27", 1), "2026-02-28"); // Saturday, 调休上班
        assert_eq!(plus("2026-02-13", 5), "2026-02-27");
    }

    #[test]
    fn sunday_plus_one_is_monday_and_zero_is_identity() {
        assert_eq!(plus("2025-03-09", 1), "2025-03-10");
        assert_eq!(plus("2025-03-08", 1), "2025-03-10"); // Saturday too
        assert_eq!(plus("2025-03-09", 0), "2025-03-09"); // n = 0 returns d even on a Sunday
        assert_eq!(plus("2025-03-10", 5), "2025-03-17");
    }

    #[test]
    fn crosses_year_boundaries() {
        assert_eq!(plus("2024-12-31", 1), "2025-01-02");
        assert_eq!(plus("2025-12-31", 1), "2026-01-04"); // Sunday, 调休上班
                                                         // 12-31, 01-04 and 01-05.
        let n = national().workdays_between(d("2025-12-30"), d("2026-01-05"));
        assert_eq!(n.unwrap(), 3);
    }

    #[test]
    fn years_without_data_are_errors_naming_the_year() {
        let cal = national();
        let err = cal.is_workday(d("2023-06-01")).unwrap_err();
        assert!(matches!(err, CalendarError::NoData { year: 2023 }));
        assert!(err.to_string().contains("2023"), "{err}");
        let err = cal.add_workdays(d("2026-12-28"), 10).unwrap_err();
        assert!(matches!(err, CalendarError::NoData { year: 2027 }));
        assert!(err.to_string().contains("2027"), "{err}");
        let err = cal
            .workdays_between(d("2026-12-01"), d("2027-01-10"))
            .unwrap_err();
        assert!(matches!(err, CalendarError::NoData { year: 2027 }));
        // The day before the range is never looked at.
        assert_eq!(
            cal.workdays_between(d("2023-12-31"), d("2024-01-03"))
                .unwrap(),
            2
        );
        assert!(Calendar::default().add_workdays(d("2025-01-01"), 0).is_ok());
    }

    #[test]
    fn workdays_between_edges() {
        let cal = national();
        assert_eq!(
            cal.workdays_between(d("2025-03-10"), d("2025-03-10"))
                .unwrap(),
            0
        );
        assert_eq!(
            cal.workdays_between(d("2025-03-11"), d("2025-03-10"))
                .unwrap(),
            0
        );
        assert_eq!(
            cal.workdays_between(d("2025-03-10"), d("2025-03-17"))
                .unwrap(),
            5
        );
    }

    #[test]
    fn a_city_file_replaces_the_years_it_defines() {
        let mut cal = national();
        // A made-up local rule: 2025-03-10 (Monday) off, 2025-03-15 (Saturday) worked.
        let city = Calendar::from_toml(
            "[2025]\nholidays = [\"2025-03-10\"]\nworkdays = [2025-03-15]\n\n[2027]\n",
        )
        .unwrap();
        cal.overlay(city);
        assert_eq!(
            cal.years().collect::<Vec<_>>(),
            vec![2024, 2025, 2026, 2027]
        );
        assert!(!cal.is_workday(d("2025-03-10")).unwrap());
        assert!(cal.is_workday(d("2025-03-15")).unwrap());
        // The whole year was replaced: National Day 2025 is no longer in it.
        assert!(cal.is_workday(d("2025-10-02")).unwrap());
        // 2024 and 2026 kept.
        assert!(!cal.is_workday(d("2026-02-16")).unwrap());
        // 2027 defined with no lists: plain Monday–Friday, by the file's say-so.
        assert!(cal.is_workday(d("2027-01-01")).unwrap());
    }

    #[test]
    fn round_trips_through_to_toml() {
        let cal = national();
        assert_eq!(Calendar::from_toml(&cal.to_toml()).unwrap(), cal);
    }

    #[test]
    fn loads_from_a_file_and_names_it_in_errors() {
        let dir = std::env::temp_dir().join(format!("calendar-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.toml");
        std::fs::write(&good, "[2025]\nholidays = [\"2025-01-01\"]\n").unwrap();
        assert_eq!(Calendar::load(&good).unwrap().years().count(), 1);
        let bad = dir.join("bad.toml");
        std::fs::write(&bad, "[2025]\nholidays = [\"2025-13-01\"]\n").unwrap();
        let err = Calendar::load(&bad).unwrap_err().to_string();
        assert!(
            err.contains("bad.toml") && err.contains("2025-13-01"),
            "{err}"
        );
        let missing = Calendar::load(&dir.join("missing.toml")).unwrap_err();
        assert!(matches!(missing, CalendarError::Read { .. }));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn bad(text: &str) -> CalendarError {
        Calendar::from_toml(text).unwrap_err()
    }

    #[test]
    fn rejects_bad_files() {
        assert!(matches!(bad("[2025\n"), CalendarError::Toml(_)));
        assert!(matches!(
            bad("[2025]\nholiday = []\n"),
            CalendarError::Toml(_)
        ));
        let e = bad("[twenty]\n");
        assert!(matches!(e, CalendarError::NotAYear { .. }) && e.to_string().contains("twenty"));
        assert!(matches!(bad("[25]\n"), CalendarError::NotAYear { .. }));
        let e = bad("[2025]\nholidays = [\"2025-02-30\"]\n");
        assert!(matches!(e, CalendarError::BadDate { .. }) && e.to_string().contains("2025-02-30"));
        assert!(matches!(
            bad("[2025]\nholidays = [20250101]\n"),
            CalendarError::BadDate { .. }
        ));
        let e = bad("[2025]\nholidays = [2025-01-01T08:00:00]\n");
        assert!(matches!(e, CalendarError::BadDate { .. }) && e.to_string().contains("08:00"));
        let e = bad("[2025]\nworkdays = [\"2024-12-28\"]\n");
        assert!(
            matches!(e, CalendarError::OtherYear { year: 2025, .. })
                && e.to_string().contains("2024-12-28")
        );
        let e = bad("[2025]\nholidays = [\"2025-01-01\", \"2025-01-01\"]\n");
        assert!(
            matches!(e, CalendarError::Duplicate { .. }) && e.to_string().contains("2025-01-01")
        );
        let e = bad("[2025]\nworkdays = [\"2025-01-27\"]\n");
        assert!(
            matches!(
                e,
                CalendarError::NotWeekend {
                    weekday: "Monday",
                    ..
                }
            ) && e.to_string().contains("2025-01-27")
        );
        let e = bad("[2025]\nholidays = [\"2025-01-26\"]\nworkdays = [\"2025-01-26\"]\n");
        assert!(
            matches!(e, CalendarError::HolidayAndWorkday { .. })
                && e.to_string().contains("2025-01-26")
        );
    }

    proptest! {
        #[test]
        fn add_and_count_agree(offset in 0i32..912, n in 1u32..100) {
            // 2024-01-01 + 0..912 days stays within 2024-01-01..=2026-06-30, and 100 working
            // days later is still inside 2026.
            let cal = national();
            let start = d("2024-01-01").add_days(offset);
            let end = cal.add_workdays(start, n).unwrap();
            prop_assert!(end > start);
            prop_assert!(cal.is_workday(end).unwrap());
            prop_assert_eq!(cal.workdays_between(start, end).unwrap(), n);
            prop_assert_eq!(cal.workdays_between(start, end.add_days(-1)).unwrap(), n - 1);
        }
    }
}
