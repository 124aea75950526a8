//! `liandong catalog` and `liandong calendar`: the reference data a node works with, usable
//! without a running node.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Subcommand;
use federation_proto::Date;

use crate::calendar::Calendar;
use crate::catalog::{Catalog, Item};

#[derive(Subcommand)]
pub enum CatalogCommand {
    /// List the items: code, kind, deciding level, limits, department, name.
    List {
        /// A catalog file instead of the built-in sample catalog.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one item with its materials.
    Show {
        code: String,
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Validate a catalog file and say what is wrong with it.
    Check { file: PathBuf },
}

#[derive(Subcommand)]
pub enum CalendarCommand {
    /// Print the Nth working day strictly after DATE (the day itself never counts). When the
    /// count crosses a provisional year, a note on stderr says so.
    AddWorkdays { date: Date, n: u32 },
    /// Print whether DATE is a working day ("yes"/"no"); exit status 0 either way. A note on
    /// stderr marks a provisional year.
    IsWorkday { date: Date },
    /// Print the number of working days after FROM up to and including TO.
    Between { from: Date, to: Date },
    /// Without YEAR: the official years (State Council notices) as a calendar file, and which
    /// years are provisional. With YEAR: that year's days off and adjusted working days; a
    /// provisional year is marked as such, with what each day off is (e.g. 清明节补假).
    Show { year: Option<i32> },
    /// Load a State Council notice (a calendar file with one [year] table per year) into the
    /// running node: its years become official there, replacing the provisional ones; the node
    /// keeps them across restarts, broadcasts its calendar down its subtree (run it at the
    /// city) and re-evaluates every case, concluded ones included. Prints the years loaded and
    /// how many cases changed.
    Load {
        /// The notice, e.g. calendar-2027.toml (format: README, "Deadlines past the notices").
        notice: PathBuf,
        #[command(flatten)]
        conn: super::Connection,
    },
}

fn load_catalog(file: Option<&Path>) -> Result<Catalog> {
    Ok(match file {
        Some(f) => Catalog::load(f)?,
        None => Catalog::builtin()?,
    })
}

pub fn catalog(command: CatalogCommand) -> Result<()> {
    match command {
        CatalogCommand::List { file, json } => {
            let catalog = load_catalog(file.as_deref())?;
            if json {
                println!("{}", serde_json::to_string_pretty(catalog.items())?);
            } else {
                for item in catalog.items() {
                    print_item_line(item);
                }
            }
        }
        CatalogCommand::Show { code, file } => {
            let catalog = load_catalog(file.as_deref())?;
            let item = catalog
                .get(&code)
                .with_context(|| format!("no item {code:?} in the catalog"))?;
            print_item(item);
        }
        CatalogCommand::Check { file } => {
            let catalog = load_catalog(Some(&file))?;
            println!("{}: {} items, valid", file.display(), catalog.items().len());
        }
    }
    Ok(())
}

fn print_item_line(item: &Item) {
    println!(
        "{:<14} {:<10} {:<9} legal {:>3} promised {:>3}  {}  {}",
        item.code,
        kind_name(item),
        item.deciding_level.as_str(),
        item.legal_days,
        item.promised_days,
        item.department,
        item.name
    );
}

fn kind_name(item: &Item) -> &'static str {
    use federation_proto::ItemKind::*;
    match item.kind {
        Immediate => "即办",
        Promised => "承诺",
        Joint => "联办",
        ReportUp => "上报",
    }
}

fn print_item(item: &Item) {
    print_item_line(item);
    println!(
        "  fee: {} fen   容缺: {}",
        item.fee_fen,
        if item.tolerant { "yes" } else { "no" }
    );
    for m in &item.materials {
        println!("  - {} {}", m.name, if m.core { "(core)" } else { "" });
    }
    for p in &item.participants {
        println!(
            "  participant: {} at {} level",
            p.department,
            p.level.as_str()
        );
    }
}

pub fn calendar(file: Option<&Path>, command: CalendarCommand) -> Result<()> {
    let mut calendar = Calendar::builtin();
    if let Some(f) = file {
        calendar.overlay(crate::reference::load_calendar(f)?);
    }
    let note = |from: Date, to: Date| {
        if calendar.provisional_between(from, to) {
            eprintln!("{}", provisional_note(&calendar, from, to));
        }
    };
    match command {
        CalendarCommand::AddWorkdays { date, n } => {
            let due = calendar.add_workdays(date, n);
            println!("{due}");
            note(date, due);
        }
        CalendarCommand::IsWorkday { date } => {
            println!(
                "{}",
                if calendar.is_workday(date) {
                    "yes"
                } else {
                    "no"
                }
            );
            note(date, date);
        }
        CalendarCommand::Between { from, to } => {
            println!("{}", calendar.workdays_between(from, to));
            note(from, to);
        }
        CalendarCommand::Show { year: None } => {
            print!("{}", calendar.to_toml());
            let last = calendar
                .last_official_year()
                .map_or("none".into(), |y| y.to_string());
            println!(
                "# Official years above (last: {last}); every other year is provisional, derived \
                 from 《全国年节及纪念日放假办法》: `liandong calendar show YEAR` lists it."
            );
        }
        CalendarCommand::Show { year: Some(year) } => print!("{}", show_year(&calendar, year)),
        CalendarCommand::Load { notice, conn } => load(&notice, &conn.client()?)?,
    }
    Ok(())
}

/// `liandong calendar load FILE`: checked here first, so a bad file names itself.
fn load(notice: &Path, client: &crate::client::Client) -> Result<()> {
    let years: Vec<i32> = crate::reference::load_calendar(notice)?
        .official_years()
        .collect();
    if years.is_empty() {
        anyhow::bail!(
            "{}: {}",
            notice.display(),
            crate::calendar::CalendarError::Empty
        );
    }
    let text = std::fs::read_to_string(notice)?;
    let answer = client.put("/api/v1/calendar", &serde_json::json!({ "calendar": text }))?;
    let official: Vec<String> = answer["calendar"]["official_years"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|y| y.to_string())
        .collect();
    println!(
        "loaded {} into the node's calendar: {} case(s) re-evaluated with a different result",
        years
            .iter()
            .map(i32::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        answer["cases_changed"]
    );
    println!("official years now: {}", official.join(", "));
    if let Some(alarm) = answer["calendar"]["alarm"].as_str() {
        println!("still: {alarm}");
    }
    Ok(())
}

/// The stderr note of a count that crossed a provisional year.
fn provisional_note(calendar: &Calendar, from: Date, to: Date) -> String {
    let years: Vec<String> = (from.year().min(to.year())..=from.year().max(to.year()))
        .filter(|y| !calendar.is_official(*y))
        .map(|y| y.to_string())
        .collect();
    format!(
        "provisional: {} has no State Council notice in this calendar; counted with the \
         statutory holidays and their make-up days (补假), without 调休",
        years.join(", ")
    )
}

/// One year as a calendar file table, with a header that says where its data comes from.
pub fn show_year(calendar: &Calendar, year: i32) -> String {
    let mut out = String::new();
    if calendar.is_official(year) {
        out.push_str(&format!("# {year}: official (State Council notice)\n"));
    } else {
        out.push_str(&format!(
            "# {year}: PROVISIONAL — derived from 《全国年节及纪念日放假办法》 (2024): weekends, the \
             statutory holidays and their make-up days (补假); the notice's 调休 are not known.\n\
             # Replace it with the State Council notice: liandong calendar load FILE\n"
        ));
    }
    out.push_str(&format!("[{year}]\nholidays = [\n"));
    for day in calendar.days_off(year) {
        match day.label {
            Some(label) => out.push_str(&format!("  \"{}\", # {label}\n", day.date)),
            None => out.push_str(&format!("  \"{}\",\n", day.date)),
        }
    }
    out.push_str("]\nworkdays = [");
    let workdays: Vec<String> = calendar
        .adjusted_workdays(year)
        .iter()
        .map(|d| format!("\"{d}\""))
        .collect();
    out.push_str(&workdays.join(", "));
    out.push_str("]\n");
    out
}
