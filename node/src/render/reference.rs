//! The reference data a node works with, as text: catalog items (事项目录) one per line or in
//! full, and the working-day calendar (工作日历) as calendar-file tables with where each year's
//! data comes from.

use std::fmt;

use federation_proto::{Date, ItemKind};

use crate::calendar::Calendar;
use crate::catalog::Item;

/// One item on one line: code, kind, deciding level, limits, department, name.
pub struct ItemLine<'a>(pub &'a Item);

impl fmt::Display for ItemLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let item = self.0;
        writeln!(
            f,
            "{:<14} {:<10} {:<9} legal {:>3} promised {:>3}  {}  {}",
            item.code,
            kind_name(item.kind),
            item.deciding_level.as_str(),
            item.legal_days,
            item.promised_days,
            item.department,
            item.name
        )
    }
}

fn kind_name(kind: ItemKind) -> &'static str {
    match kind {
        ItemKind::Immediate => "即办",
        ItemKind::Promised => "承诺",
        ItemKind::Joint => "联办",
        ItemKind::ReportUp => "上报",
    }
}

/// One item in full: its line, fee and 容缺, materials and joint-review participants.
pub struct ItemDetails<'a>(pub &'a Item);

impl fmt::Display for ItemDetails<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let item = self.0;
        write!(f, "{}", ItemLine(item))?;
        writeln!(
            f,
            "  fee: {} fen   容缺: {}",
            item.fee_fen,
            if item.tolerant { "yes" } else { "no" }
        )?;
        for m in &item.materials {
            writeln!(f, "  - {} {}", m.name, if m.core { "(core)" } else { "" })?;
        }
        for p in &item.participants {
            writeln!(
                f,
                "  participant: {} at {} level",
                p.department,
                p.level.as_str()
            )?;
        }
        Ok(())
    }
}

/// The calendar's official years (State Council notices) as a calendar file, and a closing
/// comment saying that every other year is provisional.
pub struct OfficialYears<'a>(pub &'a Calendar);

impl fmt::Display for OfficialYears<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let calendar = self.0;
        write!(f, "{}", calendar.to_toml())?;
        let last = calendar
            .last_official_year()
            .map_or("none".into(), |y| y.to_string());
        writeln!(
            f,
            "# Official years above (last: {last}); every other year is provisional, derived \
             from 《全国年节及纪念日放假办法》: `liandong calendar show YEAR` lists it."
        )
    }
}

/// One year as a calendar file table, with a header that says where its data comes from.
pub struct CalendarYear<'a> {
    pub calendar: &'a Calendar,
    pub year: i32,
}

impl fmt::Display for CalendarYear<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (calendar, year) = (self.calendar, self.year);
        if calendar.is_official(year) {
            writeln!(f, "# {year}: official (State Council notice)")?;
        } else {
            writeln!(
                f,
                "# {year}: PROVISIONAL — derived from 《全国年节及纪念日放假办法》 (2024): weekends, \
                 the statutory holidays and their make-up days (补假); the notice's 调休 are not \
                 known.\n\
                 # Replace it with the State Council notice: liandong calendar load FILE"
            )?;
        }
        writeln!(f, "[{year}]\nholidays = [")?;
        for day in calendar.days_off(year) {
            match day.label {
                Some(label) => writeln!(f, "  \"{}\", # {label}", day.date)?,
                None => writeln!(f, "  \"{}\",", day.date)?,
            }
        }
        let workdays: Vec<String> = calendar
            .adjusted_workdays(year)
            .iter()
            .map(|d| format!("\"{d}\""))
            .collect();
        writeln!(f, "]\nworkdays = [{}]", workdays.join(", "))
    }
}

/// The note of a count from `from` to `to` that crossed a provisional year.
pub struct ProvisionalNote<'a> {
    pub calendar: &'a Calendar,
    pub from: Date,
    pub to: Date,
}

impl fmt::Display for ProvisionalNote<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (from, to) = (self.from, self.to);
        let years: Vec<String> = (from.year().min(to.year())..=from.year().max(to.year()))
            .filter(|y| !self.calendar.is_official(*y))
            .map(|y| y.to_string())
            .collect();
        write!(
            f,
            "provisional: {} has no State Council notice in this calendar; counted with the \
             statutory holidays and their make-up days (补假), without 调休",
            years.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provisional_year_says_so_and_lists_its_days_off() {
        let calendar = Calendar::builtin();
        let year = (2000..2200)
            .find(|y| !calendar.is_official(*y))
            .expect("a provisional year");
        let text = CalendarYear {
            calendar: &calendar,
            year,
        }
        .to_string();
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some(
                format!(
                    "# {year}: PROVISIONAL — derived from 《全国年节及纪念日放假办法》 (2024): \
                     weekends, the statutory holidays and their make-up days (补假); the \
                     notice's 调休 are not known."
                )
                .as_str()
            )
        );
        assert_eq!(
            lines.next(),
            Some("# Replace it with the State Council notice: liandong calendar load FILE")
        );
        assert_eq!(lines.next(), Some(format!("[{year}]").as_str()));
        assert_eq!(lines.next(), Some("holidays = ["));
        assert!(text.ends_with("]\n"), "{text}");
    }
}
