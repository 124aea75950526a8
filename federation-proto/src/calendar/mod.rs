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
//! `workdays`.
//!
//! # Official and provisional years
//!
//! A year is **official** when its notice is known: built in (`data/calendar-cn.toml`, 2024–2026),
//! from the node's own calendar file (`files.calendar`, or `liandong calendar load`), or broadcast
//! by an ancestor. Every other year is **provisional**: derived from the law by [`statutory`] —
//! weekends, the statutory holidays and their make-up days (补假), without the 调休 a notice will
//! add. The calendar always answers, so a case never lacks its clocks; what was computed with a
//! provisional year says so ([`Calendar::provisional_between`]) and is re-evaluated when the
//! official year arrives. An official year replaces the provisional one as a whole
//! ([`Calendar::overlay`]).
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

pub mod statutory;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::OnceLock;

use crate::Date;
use serde::Deserialize;

/// The national calendar compiled into the binary.
const NATIONAL: &str = include_str!("../../data/calendar-cn.toml");

/// 366 flags fit in six 64-bit words.
const WORDS: usize = 6;

/// Years a [`Date`] can name without overflow; beyond them a day counts as Monday to Friday.
const REPRESENTABLE: std::ops::RangeInclusive<i32> = 1..=9999;

#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
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
    #[error("the calendar file defines no year: give at least one table such as [2027]")]
    Empty,
}

/// Where a year's data comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A State Council notice (or a city's file that restates one).
    Official,
    /// Derived from the law by [`statutory`], until the notice arrives.
    Provisional,
}

/// Working days per year: the official years given, every other year provisional. Cheap to
/// clone; lookups never allocate within 2000–2100.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    official: BTreeMap<i32, Year>,
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
    /// For a provisional year, what each holiday is (e.g. `清明节补假`), in `holidays` order.
    labels: Vec<String>,
}

/// One day off as the calendar holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayOff {
    pub date: Date,
    /// What the day is, for a provisional year (an official file lists dates only).
    pub label: Option<String>,
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

/// The provisional years of the festival table, built once per process.
fn provisional_years() -> &'static BTreeMap<i32, Year> {
    static YEARS: OnceLock<BTreeMap<i32, Year>> = OnceLock::new();
    YEARS.get_or_init(|| {
        (statutory::FIRST_YEAR..=statutory::LAST_YEAR)
            .filter_map(|y| Some((y, Year::provisional(y)?)))
            .collect()
    })
}

impl Default for Calendar {
    /// No official year: every year provisional.
    fn default() -> Calendar {
        Calendar {
            official: BTreeMap::new(),
        }
    }
}

impl Calendar {
    /// The national calendar built into the binary: the notices of 2024–2026, every other
    /// year provisional.
    pub fn builtin() -> Calendar {
        static NATIONAL_YEARS: OnceLock<Calendar> = OnceLock::new();
        NATIONAL_YEARS
            .get_or_init(|| {
                // The built-in file is checked by the tests; a broken one would leave the
                // years provisional rather than stop the node.
                Calendar::from_toml(NATIONAL).unwrap_or_default()
            })
            .clone()
    }

    /// Parses and validates a calendar file's text (format in the module doc). Every year it
    /// defines is official.
    pub fn from_toml(text: &str) -> Result<Calendar, CalendarError> {
        let tables: BTreeMap<String, YearFile> = toml::from_str(text)?;
        let mut official = BTreeMap::new();
        for (key, file) in tables {
            let year = parse_year_key(&key)?;
            official.insert(year, Year::build(year, file)?);
        }
        Ok(Calendar { official })
    }

    /// Lays `other` over `self`: each official year `other` defines replaces this calendar's
    /// data for that year as a whole (a notice restates a year, it does not patch single
    /// dates); the other years are kept.
    pub fn overlay(&mut self, other: Calendar) {
        self.official.extend(other.official);
    }

    /// The official years, in order.
    pub fn official_years(&self) -> impl Iterator<Item = i32> + '_ {
        self.official.keys().copied()
    }

    /// Where `year`'s data comes from.
    pub fn source(&self, year: i32) -> Source {
        if self.official.contains_key(&year) {
            Source::Official
        } else {
            Source::Provisional
        }
    }

    pub fn is_official(&self, year: i32) -> bool {
        self.source(year) == Source::Official
    }

    /// The last year with official data, if any.
    pub fn last_official_year(&self) -> Option<i32> {
        self.official.keys().next_back().copied()
    }

    /// Whether any year from `from`'s to `to`'s is provisional: a clock computed over those
    /// dates may still move when the notice arrives.
    pub fn provisional_between(&self, from: Date, to: Date) -> bool {
        let (a, b) = (from.year().min(to.year()), from.year().max(to.year()));
        let span = i64::from(b) - i64::from(a) + 1;
        (self.official.range(a..=b).count() as i64) < span
    }

    /// The years around `today` that lack their official calendar and should have it by now:
    /// the current year at any time, and from 1 November the next one (the State Council
    /// publishes it in the autumn). Empty when all is well.
    pub fn missing_years(&self, today: Date) -> Vec<i32> {
        let (year, month, _) = today.ymd();
        let mut missing = Vec::new();
        if !self.is_official(year) {
            missing.push(year);
        }
        if month >= 11 && !self.is_official(year + 1) {
            missing.push(year + 1);
        }
        missing
    }

    /// What a node says (a WARN at start and once a day, a line in `liandong status`) while
    /// [`Calendar::missing_years`] is not empty.
    pub fn boundary_alarm(&self, today: Date) -> Option<String> {
        let missing = self.missing_years(today);
        let years = missing
            .iter()
            .map(i32::to_string)
            .collect::<Vec<_>>()
            .join(" and ");
        (!missing.is_empty()).then(|| {
            format!(
                "no official working-day calendar for {years}: deadlines that reach into it are \
                 counted with the provisional calendar derived from the law (no 调休) and marked \
                 provisional; load the State Council notice at the city with \
                 `liandong calendar load FILE` (README: Deadlines past the notices)"
            )
        })
    }

    /// The days off of `year` in date order, each with its label in a provisional year.
    pub fn days_off(&self, year: i32) -> Vec<DayOff> {
        let Some(data) = self.year(year) else {
            return Vec::new();
        };
        data.holidays
            .iter()
            .enumerate()
            .map(|(i, &date)| DayOff {
                date,
                label: data.labels.get(i).cloned(),
            })
            .collect()
    }

    /// The holidays of `year`, sorted.
    pub fn holidays(&self, year: i32) -> Vec<Date> {
        self.year(year)
            .map(|y| y.holidays.clone())
            .unwrap_or_default()
    }

    /// The adjusted working weekend days (调休上班) of `year`, sorted; none in a provisional
    /// year (the law does not know them).
    pub fn adjusted_workdays(&self, year: i32) -> Vec<Date> {
        self.year(year)
            .map(|y| y.workdays.clone())
            .unwrap_or_default()
    }

    pub fn is_workday(&self, d: Date) -> bool {
        match self.year(d.year()) {
            Some(year) => year.is_working(year.ordinal(d)),
            None => !d.is_weekend(),
        }
    }

    /// The `n`th working day strictly after `d` (`d` itself never counts); `d` when `n` is 0.
    pub fn add_workdays(&self, d: Date, n: u32) -> Date {
        let mut left = n;
        let mut last_seen = d;
        while left > 0 {
            let next = last_seen.succ();
            let Some(year) = self.year(next.year()) else {
                // Beyond any real calendar: Monday to Friday, a day at a time.
                left -= u32::from(!next.is_weekend());
                last_seen = next;
                continue;
            };
            match year.nth_working_from(year.ordinal(next), left) {
                Ok(ordinal) => return year.date(ordinal),
                Err(found) => {
                    left -= found;
                    last_seen = year.last();
                }
            }
        }
        last_seen
    }

    /// The number of working days `w` with `from < w <= to`; 0 when `to <= from`. Counts the
    /// working days a case spent paused, or those left before its deadline.
    pub fn workdays_between(&self, from: Date, to: Date) -> u32 {
        if to <= from {
            return 0;
        }
        let mut total = 0;
        let mut day = from.succ();
        loop {
            let Some(year) = self.year(day.year()) else {
                total += u32::from(!day.is_weekend());
                if day >= to {
                    return total;
                }
                day = day.succ();
                continue;
            };
            let last = year.last();
            let end = if to < last {
                year.ordinal(to) + 1
            } else {
                year.len
            };
            total += year.count(year.ordinal(day), end);
            if to <= last {
                return total;
            }
            day = last.succ();
        }
    }

    /// The official years in the file format of the module doc, e.g. to broadcast them.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        for (year, data) in &self.official {
            let _ = writeln!(out, "[{year}]");
            let _ = writeln!(out, "holidays = [{}]", quoted(&data.holidays));
            let _ = writeln!(out, "workdays = [{}]\n", quoted(&data.workdays));
        }
        out
    }

    /// The data of `year`: official, else provisional; `None` only for a year no [`Date`]
    /// arithmetic can hold.
    fn year(&self, year: i32) -> Option<Cow<'_, Year>> {
        if let Some(data) = self.official.get(&year) {
            return Some(Cow::Borrowed(data));
        }
        if let Some(data) = provisional_years().get(&year) {
            return Some(Cow::Borrowed(data));
        }
        if !REPRESENTABLE.contains(&year) {
            return None;
        }
        Year::provisional(year).map(Cow::Owned)
    }
}

impl Year {
    fn build(year: i32, file: YearFile) -> Result<Year, CalendarError> {
        let holidays = parse_dates(year, "holidays", &file.holidays)?;
        let workdays = parse_dates(year, "workdays", &file.workdays)?;
        check_workdays(year, &holidays, &workdays)?;
        Year::with(year, holidays, workdays, Vec::new()).ok_or_else(|| CalendarError::NotAYear {
            key: year.to_string(),
        })
    }

    /// The year as the law gives it ([`statutory`]).
    fn provisional(year: i32) -> Option<Year> {
        let days = statutory::holidays(year)?;
        let labels = days.iter().map(statutory::Holiday::label).collect();
        let holidays = days.iter().map(|h| h.date).collect();
        Year::with(year, holidays, BTreeSet::new(), labels)
    }

    fn with(
        year: i32,
        holidays: BTreeSet<Date>,
        workdays: BTreeSet<Date>,
        labels: Vec<String>,
    ) -> Option<Year> {
        if !REPRESENTABLE.contains(&year) {
            return None;
        }
        let first = Date::from_ymd(year, 1, 1)?;
        let next_first = Date::from_ymd(year + 1, 1, 1)?;
        let mut data = Year {
            first,
            len: (next_first.days() - first.days()) as u32,
            working: [0; WORDS],
            holidays: Vec::new(),
            workdays: Vec::new(),
            labels,
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
        Some(data)
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
        Calendar::builtin()
    }

    fn plus(s: &str, n: u32) -> String {
        national().add_workdays(d(s), n).to_string()
    }

    #[test]
    fn builtin_parses_and_covers_2024_to_2026() {
        let cal = national();
        assert_eq!(
            cal.official_years().collect::<Vec<_>>(),
            vec![2024, 2025, 2026]
        );
        assert_eq!(cal.holidays(2025).len(), 28);
        assert_eq!(
            cal.adjusted_workdays(2026),
            [
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
            cal.workdays_between(eve, last)
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
        assert!(cal.is_workday(d("2025-09-28")));
        assert!(!cal.is_workday(d("2025-10-08")));
        // 09-28, 09-29, 09-30, 10-09, 10-10, 10-11.
        let n = cal.workdays_between(d("2025-09-26"), d("2025-10-11"));
        assert_eq!(n, 6);
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
        assert_eq!(n, 3);
    }

    #[test]
    fn years_without_a_notice_are_provisional_and_always_answer() {
        let cal = national();
        assert!(cal.is_official(2026) && !cal.is_official(2027));
        assert_eq!(cal.source(2027), Source::Provisional);
        assert_eq!(cal.last_official_year(), Some(2026));
        // 2026-12-28 (Mon) + 10: 12-29..12-31, then 2027: 01-01 元旦 off, 01-04..01-08,
        // 01-11, 01-12.
        assert_eq!(plus("2026-12-28", 10), "2027-01-12");
        assert!(cal.provisional_between(d("2026-12-28"), d("2027-01-12")));
        assert!(!cal.provisional_between(d("2026-01-05"), d("2026-12-31")));
        // 春节 2027: 除夕 Fri 02-05 to Mon 02-08, Sat and Sun made up on Tue and Wed.
        assert_eq!(plus("2027-02-04", 1), "2027-02-11");
        // A year before the built-in notices is provisional too, by today's law.
        assert!(!cal.is_workday(d("2023-10-02")));
        assert_eq!(cal.workdays_between(d("2023-12-31"), d("2024-01-03")), 2);
        // Far outside the festival table: weekends and the fixed-date holidays still hold.
        assert!(!cal.is_workday(d("2150-10-01")) && cal.is_workday(d("2150-10-08")));
        // Beyond what a date can name in a year: Monday to Friday, day by day.
        // Thu 9999-12-30: Fri 12-31, then (beyond) Sat, Sun, Mon 01-03, Tue 01-04.
        let far = Date::from_ymd(9999, 12, 30).unwrap();
        assert_eq!(far.weekday(), 4);
        assert_eq!(cal.add_workdays(far, 3), far.add_days(5));
        assert_eq!(cal.workdays_between(far, far.add_days(5)), 3);
        assert_eq!(
            Calendar::default().add_workdays(d("2025-01-01"), 0),
            d("2025-01-01")
        );
    }

    #[test]
    fn provisional_days_off_carry_their_names() {
        let cal = national();
        let days = cal.days_off(2027);
        let first = &days[0];
        assert_eq!(
            (first.date, first.label.as_deref()),
            (d("2027-01-01"), Some("元旦"))
        );
        assert!(days
            .iter()
            .any(|x| x.date == d("2027-02-09") && x.label.as_deref() == Some("春节补假")));
        assert!(cal.adjusted_workdays(2027).is_empty());
        // Official years list dates only.
        assert!(cal.days_off(2026).iter().all(|x| x.label.is_none()));
        // An official 2027 replaces the provisional one as a whole.
        let mut with_notice = national();
        with_notice.overlay(
            Calendar::from_toml(
                "[2027]\nholidays = [\"2027-01-01\"]\nworkdays = [\"2027-02-13\"]\n",
            )
            .unwrap(),
        );
        assert!(with_notice.is_official(2027));
        assert!(with_notice.is_workday(d("2027-02-05")));
        assert!(with_notice.is_workday(d("2027-02-13")));
        assert!(!with_notice.provisional_between(d("2026-12-28"), d("2027-12-31")));
        assert!(with_notice.provisional_between(d("2026-12-28"), d("2028-01-03")));
    }

    #[test]
    fn workdays_between_edges() {
        let cal = national();
        assert_eq!(cal.workdays_between(d("2025-03-10"), d("2025-03-10")), 0);
        assert_eq!(cal.workdays_between(d("2025-03-11"), d("2025-03-10")), 0);
        assert_eq!(cal.workdays_between(d("2025-03-10"), d("2025-03-17")), 5);
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
            cal.official_years().collect::<Vec<_>>(),
            vec![2024, 2025, 2026, 2027]
        );
        assert!(!cal.is_workday(d("2025-03-10")));
        assert!(cal.is_workday(d("2025-03-15")));
        // The whole year was replaced: National Day 2025 is no longer in it.
        assert!(cal.is_workday(d("2025-10-02")));
        // 2024 and 2026 kept.
        assert!(!cal.is_workday(d("2026-02-16")));
        // 2027 defined with no lists: plain Monday–Friday, by the file's say-so.
        assert!(cal.is_workday(d("2027-01-01")));
    }

    #[test]
    fn round_trips_through_to_toml() {
        let cal = national();
        assert_eq!(Calendar::from_toml(&cal.to_toml()).unwrap(), cal);
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
            let end = cal.add_workdays(start, n);
            prop_assert!(end > start);
            prop_assert!(cal.is_workday(end));
            prop_assert_eq!(cal.workdays_between(start, end), n);
            prop_assert_eq!(cal.workdays_between(start, end.add_days(-1)), n - 1);
        }
    }
}
