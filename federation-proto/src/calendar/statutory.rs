//! The public holidays a year has by law (法定节假日), for a year the State Council has not yet
//! published its notice for: the **provisional calendar** (暂定日历).
//!
//! The State Council General Office publishes each year's holiday arrangement in the autumn
//! before (国务院办公厅关于…年部分节假日安排的通知). Until it does, deadlines that reach into that
//! year still have to be computed — a case never lacks its clocks — so liandong derives the year
//! from the law, 《全国年节及纪念日放假办法》 as amended in 2024 (in force from 2025-01-01), art. 2:
//!
//! | holiday | days | when |
//! | --- | --- | --- |
//! | 元旦 | 1 | 1 January |
//! | 春节 | 4 | 除夕 (the eve of 正月初一) to 正月初三 |
//! | 清明节 | 1 | the day of the 清明 solar term |
//! | 劳动节 | 2 | 1–2 May |
//! | 端午节 | 1 | 五月初五 |
//! | 中秋节 | 1 | 八月十五 |
//! | 国庆节 | 3 | 1–3 October |
//!
//! and art. 6: a holiday for all citizens that falls on a Saturday or Sunday is made up
//! (补假) on a working day. We take **the next working day** — the next Monday to Friday that is
//! neither a holiday nor already a make-up day — which is what every notice of 2025 and 2026 did
//! (2025-06-02 for 端午 on a Saturday; 2026-04-06 for 清明 on a Sunday; 2026-05-04 and
//! 2026-10-05 for 劳动节 and 国庆节 reaching into a weekend). The law is silent on two holidays
//! falling on one day (中秋 within 国庆, as in 2020 and 2031); we read it as the same case as a
//! weekend — the day is off anyway, so the holiday is made up on the next working day.
//!
//! What the provisional calendar cannot know is the 调休 — the weekend days a notice turns into
//! working days to bridge holidays. So a provisional year counts a few working days fewer around
//! some holidays than its notice will; deadlines computed with it are marked provisional and
//! re-evaluated when the notice arrives ([`super::Calendar::overlay`]).
//!
//! Lunar dates and the solar term come from `festivals::TABLE`, generated from the tyme4rs
//! crate (the 寿星天文历 astronomical algorithm) by the test `festival_table_is_generated` below,
//! and checked against the dates the State Council notices of 2024–2026 give. Outside the table
//! (before [`FIRST_YEAR`] or after [`LAST_YEAR`]) only the fixed-date holidays are known.

use std::collections::BTreeSet;

use crate::Date;

#[rustfmt::skip]
mod festivals;

/// The first year whose lunar holidays and 清明 are in the table.
pub const FIRST_YEAR: i32 = festivals::FIRST;
/// The last year whose lunar holidays and 清明 are in the table.
pub const LAST_YEAR: i32 = festivals::FIRST + festivals::TABLE.len() as i32 - 1;

/// The holidays the law gives all citizens (全体公民放假的节日).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Festival {
    NewYear,
    SpringFestival,
    Qingming,
    LabourDay,
    DragonBoat,
    MidAutumn,
    NationalDay,
}

impl Festival {
    pub fn name(self) -> &'static str {
        match self {
            Festival::NewYear => "元旦",
            Festival::SpringFestival => "春节",
            Festival::Qingming => "清明节",
            Festival::LabourDay => "劳动节",
            Festival::DragonBoat => "端午节",
            Festival::MidAutumn => "中秋节",
            Festival::NationalDay => "国庆节",
        }
    }
}

/// One day off in a provisional year: a holiday of the law, or the day that makes one up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holiday {
    pub date: Date,
    pub festival: Festival,
    /// 补假: this day makes up for `festival` falling on a day that was off anyway.
    pub make_up: bool,
}

impl Holiday {
    /// E.g. `清明节` or `清明节补假`.
    pub fn label(&self) -> String {
        if self.make_up {
            format!("{}补假", self.festival.name())
        } else {
            self.festival.name().to_string()
        }
    }
}

/// The dates of the lunar holidays and of 清明 in one Gregorian year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Festivals {
    /// 除夕, the eve of 正月初一: the first day of the 春节 holiday.
    pub eve: Date,
    pub qingming: Date,
    /// 端午, 五月初五.
    pub dragon_boat: Date,
    /// 中秋, 八月十五.
    pub mid_autumn: Date,
}

/// The festival dates of `year`, when the table has them.
pub fn festivals(year: i32) -> Option<Festivals> {
    let row = festivals::TABLE.get(usize::try_from(year - festivals::FIRST).ok()?)?;
    let date = |i: usize| Date::from_ymd(year, u32::from(row[i]), u32::from(row[i + 1]));
    Some(Festivals {
        eve: date(0)?,
        qingming: date(2)?,
        dragon_boat: date(4)?,
        mid_autumn: date(6)?,
    })
}

/// Every day off of `year` by the law, make-up days included, in date order. `None` when the
/// year is outside what a [`Date`] can name.
pub fn holidays(year: i32) -> Option<Vec<Holiday>> {
    let day = |m: u32, d: u32| Date::from_ymd(year, m, d);
    let mut law = vec![
        (day(1, 1)?, Festival::NewYear),
        (day(5, 1)?, Festival::LabourDay),
        (day(5, 2)?, Festival::LabourDay),
        (day(10, 1)?, Festival::NationalDay),
        (day(10, 2)?, Festival::NationalDay),
        (day(10, 3)?, Festival::NationalDay),
    ];
    if let Some(f) = festivals(year) {
        law.extend((0..4).map(|i| (f.eve.add_days(i), Festival::SpringFestival)));
        law.push((f.qingming, Festival::Qingming));
        law.push((f.dragon_boat, Festival::DragonBoat));
        law.push((f.mid_autumn, Festival::MidAutumn));
    }
    law.sort();
    let mut off: BTreeSet<Date> = law.iter().map(|(d, _)| *d).collect();
    let mut out = Vec::with_capacity(law.len() + 4);
    let mut previous = None;
    for (date, festival) in law {
        // A weekend day, or a day another holiday already took: made up on the next working day.
        if date.is_weekend() || previous == Some(date) {
            let mut make_up = date.succ();
            while make_up.is_weekend() || off.contains(&make_up) {
                make_up = make_up.succ();
            }
            off.insert(make_up);
            out.push(Holiday {
                date: make_up,
                festival,
                make_up: true,
            });
        }
        if previous != Some(date) {
            out.push(Holiday {
                date,
                festival,
                make_up: false,
            });
        }
        previous = Some(date);
    }
    out.retain(|h| h.date.year() == year);
    out.sort_by_key(|h| h.date);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Calendar;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    /// Regenerates `statutory/festivals.rs` from tyme4rs and compares it with the committed one; with
    /// `LIANDONG_WRITE_FESTIVALS=1` it writes the file instead (then commit it):
    /// `LIANDONG_WRITE_FESTIVALS=1 cargo test -p federation-proto --lib festival_table_is_generated`.
    #[test]
    fn festival_table_is_generated() {
        use tyme4rs::tyme::lunar::LunarDay;
        use tyme4rs::tyme::solar::{SolarDay, SolarTerm};

        let date = |s: SolarDay| {
            Date::from_ymd(
                s.get_year() as i32,
                s.get_month() as u32,
                s.get_day() as u32,
            )
            .unwrap()
        };
        let mut text = String::from(
            "//! Generated by the test `festival_table_is_generated` in `statutory.rs` from the\n\
             //! tyme4rs crate (寿星天文历): do not edit by hand. Per Gregorian year from [`FIRST`],\n\
             //! as month and day: 除夕 (the eve of 正月初一), 清明 (the solar term), 端午 (五月初五),\n\
             //! 中秋 (八月十五).\n\n\
             pub const FIRST: i32 = 2000;\n\n\
             pub const TABLE: &[[u8; 8]] = &[\n",
        );
        for year in 2000..=2100isize {
            let eve = date(LunarDay::from_ymd(year, 1, 1).get_solar_day()).add_days(-1);
            let qingming = date(
                SolarTerm::from_name(year, "清明")
                    .get_julian_day()
                    .get_solar_day(),
            );
            let dragon_boat = date(LunarDay::from_ymd(year, 5, 5).get_solar_day());
            let mid_autumn = date(LunarDay::from_ymd(year, 8, 15).get_solar_day());
            let mut row = Vec::new();
            for day in [eve, qingming, dragon_boat, mid_autumn] {
                let (y, m, dd) = day.ymd();
                assert_eq!(y as isize, year, "{day} belongs to {year}");
                row.push(m.to_string());
                row.push(dd.to_string());
            }
            text.push_str(&format!("    [{}], // {year}\n", row.join(", ")));
        }
        text.push_str("];\n");
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src/calendar/statutory/festivals.rs"
        );
        if std::env::var_os("LIANDONG_WRITE_FESTIVALS").is_some() {
            std::fs::write(path, &text).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap();
        assert!(
            committed == text,
            "festivals.rs is not what tyme4rs computes: regenerate it (see this test's doc)"
        );
    }

    /// The dates the State Council notices of 2024–2026 give, and those of 2027 as published
    /// in almanacs (春节 2027-02-06).
    #[test]
    fn festivals_are_the_known_dates() {
        let known = [
            (2024, "2024-02-09", "2024-04-04", "2024-06-10", "2024-09-17"),
            (2025, "2025-01-28", "2025-04-04", "2025-05-31", "2025-10-06"),
            (2026, "2026-02-16", "2026-04-05", "2026-06-19", "2026-09-25"),
            (2027, "2027-02-05", "2027-04-05", "2027-06-09", "2027-09-15"),
        ];
        for (year, eve, qingming, dragon_boat, mid_autumn) in known {
            let f = festivals(year).unwrap();
            assert_eq!(
                (f.eve, f.qingming, f.dragon_boat, f.mid_autumn),
                (d(eve), d(qingming), d(dragon_boat), d(mid_autumn)),
                "{year}"
            );
        }
        assert_eq!(LAST_YEAR, 2100);
        assert!(festivals(2101).is_none() && festivals(1999).is_none());
    }

    /// 清明 by the 寿星 formula for the 21st century, [Y·0.2422 + 4.81] − [Y/4], as an
    /// independent check of the table's solar term (no exceptions for 清明 in 2000–2099).
    #[test]
    fn qingming_agrees_with_the_shouxing_formula() {
        for year in 2000..=2099 {
            let y = f64::from(year % 100);
            let day = (y * 0.2422 + 4.81).floor() as u32 - (year % 100 / 4) as u32;
            assert_eq!(
                festivals(year).unwrap().qingming,
                Date::from_ymd(year, 4, day).unwrap(),
                "{year}"
            );
        }
    }

    fn labels(year: i32) -> Vec<(String, String)> {
        holidays(year)
            .unwrap()
            .iter()
            .map(|h| (h.date.to_string(), h.label()))
            .collect()
    }

    #[test]
    fn a_weekend_holiday_is_made_up_on_the_next_working_day() {
        let h = labels(2026);
        let has = |date: &str, label: &str| h.contains(&(date.to_string(), label.to_string()));
        // 清明 on Sunday 04-05: Monday 04-06.
        assert!(
            has("2026-04-05", "清明节") && has("2026-04-06", "清明节补假"),
            "{h:?}"
        );
        // 劳动节 Fri 05-01 and Sat 05-02: Monday 05-04.
        assert!(
            has("2026-05-02", "劳动节") && has("2026-05-04", "劳动节补假"),
            "{h:?}"
        );
        // 国庆 Thu–Sat: Monday 10-05.
        assert!(has("2026-10-05", "国庆节补假"), "{h:?}");
        assert_eq!(h.len(), 13 + 3, "{h:?}");
        // 2027: 元旦 Fri; 春节 Fri 02-05 to Mon 02-08 (Sat and Sun made up Tue and Wed);
        // 劳动节 Sat–Sun: Mon 05-03 and Tue 05-04; 国庆 Fri–Sun: Mon 10-04 and Tue 10-05.
        let h = labels(2027);
        let has = |date: &str, label: &str| h.contains(&(date.to_string(), label.to_string()));
        assert!(
            has("2027-02-09", "春节补假") && has("2027-02-10", "春节补假"),
            "{h:?}"
        );
        assert!(
            has("2027-10-04", "国庆节补假") && has("2027-10-05", "国庆节补假"),
            "{h:?}"
        );
        assert!(
            has("2027-05-03", "劳动节补假") && has("2027-05-04", "劳动节补假"),
            "{h:?}"
        );
        assert_eq!(h.len(), 13 + 6, "{h:?}");
    }

    #[test]
    fn a_holiday_on_another_holiday_is_made_up_too() {
        // 2031: 中秋 (10-01) falls on 国庆.
        let f = festivals(2031).unwrap();
        assert_eq!(f.mid_autumn, d("2031-10-01"));
        let h = labels(2031);
        let october: Vec<_> = h.iter().filter(|(d, _)| d.starts_with("2031-10")).collect();
        // Wed 10-01 (中秋 and 国庆), Thu, Fri; Sat/Sun off anyway; the second holiday of 10-01
        // made up on Mon 10-06.
        assert_eq!(
            october
                .iter()
                .map(|(d, l)| format!("{d} {l}"))
                .collect::<Vec<_>>(),
            [
                "2031-10-01 中秋节",
                "2031-10-02 国庆节",
                "2031-10-03 国庆节",
                "2031-10-06 国庆节补假"
            ]
        );
    }

    /// Every day off the law gives in 2025 and 2026 is a day off in that year's notice: the
    /// notice only adds bridge days (with their 调休) around them.
    #[test]
    fn the_law_is_within_the_official_notices_of_2025_and_2026() {
        let national = Calendar::builtin();
        for year in [2025, 2026] {
            assert!(national.is_official(year));
            let official: BTreeSet<Date> = national.holidays(year).into_iter().collect();
            for h in holidays(year).unwrap() {
                assert!(
                    official.contains(&h.date),
                    "{year}: {} ({}) is not off in the notice",
                    h.date,
                    h.label()
                );
            }
        }
    }

    #[test]
    fn outside_the_table_only_fixed_dates_are_known() {
        let h = holidays(2150).unwrap();
        let fixed = [
            Festival::NewYear,
            Festival::LabourDay,
            Festival::NationalDay,
        ];
        assert!(h.iter().all(|h| fixed.contains(&h.festival)), "{h:?}");
        assert_eq!(h.iter().filter(|h| !h.make_up).count(), 6, "{h:?}");
    }
}
