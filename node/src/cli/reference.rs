//! `liandong catalog` and `liandong calendar`: the reference data a node works with, usable
//! without a running node. Items and calendar years are written by [`crate::render::reference`].

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Subcommand;
use federation_proto::Date;

use crate::calendar::Calendar;
use crate::catalog::Catalog;
use crate::render::reference::{
    CalendarYear, ItemDetails, ItemLine, OfficialYears, ProvisionalNote,
};

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
                    print!("{}", ItemLine(item));
                }
            }
        }
        CatalogCommand::Show { code, file } => {
            let catalog = load_catalog(file.as_deref())?;
            let item = catalog
                .get(&code)
                .with_context(|| format!("no item {code:?} in the catalog"))?;
            print!("{}", ItemDetails(item));
        }
        CatalogCommand::Check { file } => {
            let catalog = load_catalog(Some(&file))?;
            println!("{}: {} items, valid", file.display(), catalog.items().len());
        }
    }
    Ok(())
}

pub fn calendar(file: Option<&Path>, command: CalendarCommand) -> Result<()> {
    let mut calendar = Calendar::builtin();
    if let Some(f) = file {
        calendar.overlay(crate::reference::load_calendar(f)?);
    }
    let note = |from: Date, to: Date| {
        if calendar.provisional_between(from, to) {
            eprintln!(
                "{}",
                ProvisionalNote {
                    calendar: &calendar,
                    from,
                    to
                }
            );
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
        CalendarCommand::Show { year: None } => print!("{}", OfficialYears(&calendar)),
        CalendarCommand::Show { year: Some(year) } => {
            print!(
                "{}",
                CalendarYear {
                    calendar: &calendar,
                    year
                }
            )
        }
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
    let answer = client.put(
        "/api/v1/calendar",
        &crate::contract::CalendarLoad { calendar: text },
    )?;
    let loaded: crate::contract::CalendarLoaded =
        crate::client::typed(answer, "loading the calendar")?;
    let official: Vec<String> = loaded
        .calendar
        .official_years
        .iter()
        .map(|y| y.to_string())
        .collect();
    println!(
        "loaded {} into the node's calendar: {} case(s) re-evaluated with a different result",
        years
            .iter()
            .map(i32::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        loaded.cases_changed
    );
    println!("official years now: {}", official.join(", "));
    if let Some(alarm) = &loaded.calendar.alarm {
        println!("still: {alarm}");
    }
    Ok(())
}
