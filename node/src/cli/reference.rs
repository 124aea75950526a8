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
    /// Print the Nth working day strictly after DATE (the day itself never counts).
    AddWorkdays { date: Date, n: u32 },
    /// Print whether DATE is a working day ("yes"/"no"); exit status 0 either way.
    IsWorkday { date: Date },
    /// Print the number of working days after FROM up to and including TO.
    Between { from: Date, to: Date },
    /// List the years the calendar covers, with their holidays and adjusted working days.
    Show,
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
    let mut calendar = Calendar::builtin()?;
    if let Some(f) = file {
        calendar.overlay(Calendar::load(f)?);
    }
    match command {
        CalendarCommand::AddWorkdays { date, n } => println!("{}", calendar.add_workdays(date, n)?),
        CalendarCommand::IsWorkday { date } => {
            println!(
                "{}",
                if calendar.is_workday(date)? {
                    "yes"
                } else {
                    "no"
                }
            )
        }
        CalendarCommand::Between { from, to } => {
            println!("{}", calendar.workdays_between(from, to)?)
        }
        CalendarCommand::Show => print!("{}", calendar.to_toml()),
    }
    Ok(())
}
