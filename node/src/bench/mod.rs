//! `liandong bench`: how many cases one node takes, how fast the federation replicates and how
//! fresh the city's picture stays — each figure measured on real nodes on loopback, repeated,
//! reported as median and spread, next to the machine's own limits measured in the same run, so
//! that runs on different machines compare as ratios.
//!
//! - [`limits`]: raw sled append + flush, fsync latency, raw QUIC stream throughput.
//! - [`load`]: client threads that submit cases through the HTTP API, flat out or paced.
//! - [`flows`]: intake on one node; replication, latency and catch-up township → county → city.
//! - [`scale`]: the 莆田 tree (63 nodes) replaying a year of the city's caseload.

mod flows;
mod limits;
mod load;
mod scale;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;

/// What `liandong bench` measures and where it writes.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the figures go as JSON (default `target/bench/bench-<unix time>.json`).
    pub json: Option<PathBuf>,
    /// Small sizes: the whole run in under three minutes.
    pub quick: bool,
    /// Keep the working folder (nodes, logs) here instead of a temporary one.
    pub keep: Option<PathBuf>,
    /// Only these parts (all when empty).
    pub only: Vec<Section>,
}

/// The parts of a run, each measurable alone (`--only`), e.g. to profile one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Section {
    /// The machine's limits: sled append+flush, fsync latency, QUIC over loopback.
    Limits,
    /// Cases per second on one node through the HTTP API.
    Intake,
    /// Replication, latency and catch-up township → county → city.
    Tree,
    /// The 63-node 莆田 tree replaying a year of cases.
    Scale,
}

/// How much each measurement does.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Sizes {
    /// Repetitions of each measurement.
    pub runs: usize,
    pub sled_events: usize,
    pub fsync_rounds: usize,
    pub quinn_megabytes: usize,
    pub intake_seconds: u64,
    pub clients: usize,
    pub replication_cases: usize,
    pub latency_samples: usize,
    pub catchup_events: usize,
    pub scale_cases: usize,
}

impl Sizes {
    fn for_run(quick: bool) -> Sizes {
        if quick {
            Sizes {
                runs: 3,
                sled_events: 100_000,
                fsync_rounds: 200,
                quinn_megabytes: 64,
                intake_seconds: 3,
                clients: 32,
                replication_cases: 5_000,
                latency_samples: 100,
                catchup_events: 10_000,
                scale_cases: 5_000,
            }
        } else {
            Sizes {
                runs: 5,
                sled_events: 500_000,
                fsync_rounds: 1_000,
                quinn_megabytes: 256,
                intake_seconds: 10,
                clients: 64,
                replication_cases: 30_000,
                latency_samples: 300,
                catchup_events: 100_000,
                scale_cases: 185_000,
            }
        }
    }
}

/// One reported figure: the median of its samples and their spread.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub name: String,
    pub unit: &'static str,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub samples: Vec<f64>,
    /// The target for it, and whether this run met it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub wanted: String,
    pub met: bool,
}

impl Figure {
    pub fn new(name: &str, unit: &'static str, samples: Vec<f64>) -> Figure {
        let mut sorted = samples.clone();
        sorted.sort_by(f64::total_cmp);
        Figure {
            name: name.to_string(),
            unit,
            median: quantile(&sorted, 0.5),
            min: sorted.first().copied().unwrap_or(f64::NAN),
            max: sorted.last().copied().unwrap_or(f64::NAN),
            samples,
            target: None,
        }
    }

    /// The target "at least `wanted`" (or at most, with `at_most`) on the median.
    pub fn target(mut self, wanted: f64, at_most: bool) -> Figure {
        let met = if at_most {
            self.median <= wanted
        } else {
            self.median >= wanted
        };
        let sign = if at_most { "≤" } else { "≥" };
        self.target = Some(Target {
            wanted: format!("{sign} {wanted} {}", self.unit),
            met,
        });
        self
    }
}

/// The `q` quantile of sorted samples (nearest rank).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Everything a run found.
#[derive(Debug, Serialize)]
pub struct Report {
    pub quick: bool,
    pub started_unix: u64,
    pub seconds: f64,
    pub sizes: Sizes,
    pub figures: Vec<Figure>,
}

/// Runs every measurement, prints the table and writes the JSON; returns the report.
pub fn run(options: &Options) -> Result<Report> {
    let started = Instant::now();
    let sizes = Sizes::for_run(options.quick);
    let work = working_dir(options.keep.as_deref())?;
    println!(
        "liandong bench{} — working in {}",
        if options.quick { " --quick" } else { "" },
        work.display()
    );
    let mut figures = Vec::new();
    let wanted = |section| options.only.is_empty() || options.only.contains(&section);
    let outcome = measure(&work, sizes, &wanted, &mut figures);
    if options.keep.is_none() {
        let _ = std::fs::remove_dir_all(&work);
    }
    outcome?;
    let report = Report {
        quick: options.quick,
        started_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        seconds: started.elapsed().as_secs_f64(),
        sizes,
        figures,
    };
    print_table(&report);
    let path = match &options.json {
        Some(p) => p.clone(),
        None => PathBuf::from(format!("target/bench/bench-{}.json", report.started_unix)),
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&path, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("writing {}", path.display()))?;
    println!("figures written to {}", path.display());
    Ok(report)
}

fn measure(
    work: &Path,
    sizes: Sizes,
    wanted: &dyn Fn(Section) -> bool,
    figures: &mut Vec<Figure>,
) -> Result<()> {
    let sled_limit = if wanted(Section::Limits) {
        Some(machine_limits(work, sizes, figures)?)
    } else {
        None
    };
    if wanted(Section::Intake) {
        flows::intake_alone(work, sizes, figures)?;
    }
    if wanted(Section::Tree) {
        flows::tree(work, sizes, sled_limit, figures)?;
    }
    if wanted(Section::Scale) {
        scale::measure(&work.join("putian"), sizes, figures)?;
    }
    Ok(())
}

/// sled append+flush, a county's sled writes, fsync latency and QUIC over loopback; returns
/// the sled append rate, the yardstick of the replication figure.
fn machine_limits(work: &Path, sizes: Sizes, figures: &mut Vec<Figure>) -> Result<f64> {
    println!("== the machine's limits ==");
    let before = figures.len();
    let sled_limit = repeat(sizes.runs, |i| {
        limits::sled_append(&work.join(format!("limit-{i}")), sizes.sled_events)
    })?;
    let sled = Figure::new(
        "sled append+flush (batches of 1024)",
        "events/s",
        sled_limit,
    );
    let sled_median = sled.median;
    figures.push(sled);
    let shaped = repeat(sizes.runs, |i| {
        limits::sled_case_writes(&work.join(format!("cases-{i}")), sizes.sled_events / 4)
    })?;
    figures.push(Figure::new(
        "sled, a county's writes per case (5 trees, 1 txn per 1024)",
        "cases/s",
        shaped,
    ));
    let one_tree = repeat(sizes.runs, |i| {
        limits::sled_case_writes_one_tree(
            &work.join(format!("one-tree-{i}")),
            sizes.sled_events / 4,
        )
    })?;
    figures.push(Figure::new(
        "sled, the same writes in one tree (1 batch per 1024)",
        "cases/s",
        one_tree,
    ));
    let fsync = limits::fsync_latency(work, sizes.fsync_rounds)?;
    figures.push(Figure::new(
        "fsync latency (4 KiB + fdatasync)",
        "ms",
        fsync,
    ));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let quinn = repeat(sizes.runs, |i| {
        runtime.block_on(limits::quinn_stream(
            &work.join(format!("quinn-{i}")),
            sizes.quinn_megabytes,
        ))
    })?;
    figures.push(Figure::new(
        "QUIC stream over loopback (TLS 1.3)",
        "MB/s",
        quinn,
    ));
    drop(runtime);
    show(&figures[before..]);
    Ok(sled_median)
}

/// `f` run `runs` times; its samples.
pub fn repeat(runs: usize, mut f: impl FnMut(usize) -> Result<f64>) -> Result<Vec<f64>> {
    (0..runs).map(&mut f).collect()
}

/// Prints figures as they come, one line each.
pub fn show(figures: &[Figure]) {
    for f in figures {
        println!("  {:<58} {:>12} {}", f.name, number(f.median), f.unit);
    }
}

/// A figure for a table: small ones (ratios) with three decimals, others with one.
fn number(x: f64) -> String {
    if x.abs() < 10.0 {
        format!("{x:.3}")
    } else {
        format!("{x:.1}")
    }
}

fn print_table(report: &Report) {
    println!(
        "\n{:<58} {:>12} {:>12} {:>12}  {:<10} target",
        "figure", "median", "min", "max", "unit"
    );
    for f in &report.figures {
        let target = f.target.as_ref().map_or(String::new(), |t| {
            format!("{} {}", t.wanted, if t.met { "met" } else { "MISSED" })
        });
        println!(
            "{:<58} {:>12} {:>12} {:>12}  {:<10} {target}",
            f.name,
            number(f.median),
            number(f.min),
            number(f.max),
            f.unit
        );
    }
    println!("({} s in all)", report.seconds.round());
}

fn working_dir(keep: Option<&Path>) -> Result<PathBuf> {
    let dir = match keep {
        Some(d) => d.to_path_buf(),
        None => std::env::temp_dir().join(format!("liandong-bench-{}", std::process::id())),
    };
    if dir.exists() {
        anyhow::bail!(
            "{} exists already; give an empty or new folder",
            dir.display()
        );
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_report_median_spread_and_targets() {
        let f = Figure::new("x", "events/s", vec![3.0, 1.0, 2.0, 10.0, 4.0]);
        assert_eq!((f.median, f.min, f.max), (3.0, 1.0, 10.0));
        assert!(f.clone().target(3.0, false).target.is_some_and(|t| t.met));
        assert!(f.clone().target(2.0, true).target.is_some_and(|t| !t.met));
        let sorted: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&sorted, 0.99), 99.0);
        assert_eq!(quantile(&sorted, 0.5), 50.0);
        assert!(quantile(&[], 0.5).is_nan());
    }
}
