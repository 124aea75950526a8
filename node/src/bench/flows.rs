//! The federation's figures on a small tree of real nodes — 莆田市 (city) ← 仙游县 (county) ←
//! 枫亭镇 (township) — plus intake on a node of its own. Every case is a 即办 item approved at
//! intake: one event, durable before its answer, and one summary that climbs two hops.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use federation_proto::NodeCode;

use super::load::{Load, Until};
use super::{quantile, repeat, show, Figure, Sizes};
use crate::client::Client;
use crate::launcher::{LocalFederation, LocalNode};

const CITY: &str = "350300";
const COUNTY: &str = "350322";
const TOWN: &str = "350322100";
/// 生育登记 (卫生健康办公室): a township's 即办 item.
const TOWN_ITEM: (&str, &str) = ("000152043000", "卫生健康办公室");
/// 个体工商户设立登记 (市场监督管理局): a county's 即办 item.
const COUNTY_ITEM: (&str, &str) = ("000187002000", "市场监督管理局");
/// Every node's clock starts here (a date the built-in calendar covers).
pub const CLOCK: &str = "2025-09-30T09:00";
/// Batch requests in flight at once (what a node writes at once; more would wait on 503).
const BATCH_SENDERS: usize = 2;
/// Cases per batch request (the node takes up to 1000).
const PER_BATCH: u64 = 1000;
/// How long the city may take to catch up before a measurement fails.
const PATIENCE: Duration = Duration::from_secs(600);

fn code(s: &str) -> Result<NodeCode> {
    Ok(s.parse()?)
}

/// Intake on a node of its own.
pub fn intake_alone(work: &Path, sizes: Sizes, figures: &mut Vec<Figure>) -> Result<()> {
    println!("== intake on one node ==");
    let before = figures.len();
    intake(&work.join("intake"), sizes, figures)?;
    show(&figures[before..]);
    Ok(())
}

/// Replication, latency and catch-up township → county → city; with the machine's sled
/// append rate when it was measured, the replication figure as a share of it.
pub fn tree(
    work: &Path,
    sizes: Sizes,
    sled_limit: Option<f64>,
    figures: &mut Vec<Figure>,
) -> Result<()> {
    println!("== township → county → city ==");
    let before = figures.len();
    let mut tree = LocalFederation::create(&work.join("tree"), "bench")?;
    tree.add(code(CITY)?, "莆田市行政服务中心", None, Some(CLOCK))?;
    tree.add(
        code(COUNTY)?,
        "仙游县行政服务中心",
        Some(code(CITY)?),
        Some(CLOCK),
    )?;
    tree.add(
        code(TOWN)?,
        "枫亭镇便民服务中心",
        Some(code(COUNTY)?),
        Some(CLOCK),
    )?;
    tree.wait_linked(Duration::from_secs(30))?;
    let load = clerk_load(tree.node(code(TOWN)?)?, TOWN_ITEM)?;
    let city = tree.node(code(CITY)?)?.admin.clone();
    let http_max = township_http_max(&load, &city, sizes, figures)?;
    replication(&load, &city, sizes, sled_limit, figures)?;
    latency(&load, &city, sizes, http_max, figures)?;
    catch_up(&mut tree, &load, &city, sizes, figures)?;
    show(&figures[before..]);
    Ok(())
}

/// A load of `item` at `node` through a new clerk of its department.
fn clerk_load(node: &LocalNode, (item, department): (&'static str, &str)) -> Result<Load> {
    let token = node.add_clerk("压测窗口", department)?;
    let config = node.config.clone();
    Load::new(move || Client::connect(&config, None, Some(&token)), item)
}

/// Cases accepted per second on one node, durable, from many clients at once.
fn intake(dir: &Path, sizes: Sizes, figures: &mut Vec<Figure>) -> Result<()> {
    let mut alone = LocalFederation::create(dir, "bench")?;
    let node = alone.add(code(COUNTY)?, "仙游县行政服务中心", None, Some(CLOCK))?;
    let load = clerk_load(node, COUNTY_ITEM)?;
    let samples = repeat(sizes.runs, |_| {
        let until = Until::Elapsed(Duration::from_secs(sizes.intake_seconds));
        let done = load.run(sizes.clients, until, None)?;
        if done.failed > 0 {
            bail!("{} submissions failed during the intake run", done.failed);
        }
        Ok(done.accepted as f64 / done.seconds)
    })?;
    figures.push(
        Figure::new(
            &format!("intake, one node, {} clients", sizes.clients),
            "cases/s",
            samples,
        )
        .target(15_000.0, false),
    );
    let batched = repeat(sizes.runs, |_| {
        let n = sizes.replication_cases as u64;
        let done = load.run_batches(BATCH_SENDERS, n, PER_BATCH)?;
        if done.failed > 0 {
            bail!(
                "{} cases of batches failed during the intake run",
                done.failed
            );
        }
        Ok(done.accepted as f64 / done.seconds)
    })?;
    figures.push(
        Figure::new(
            &format!("intake, one node, batches of {PER_BATCH} (cases:batch)"),
            "cases/s",
            batched,
        )
        .target(15_000.0, false),
    );
    drop(alone);
    Ok(())
}

/// How many summaries the city holds.
fn city_cases(city: &Client) -> Result<u64> {
    let stats = city.get("/api/v1/stats")?;
    stats["totals"]["cases"]
        .as_u64()
        .context("no totals.cases in the city's stats")
}

/// Waits until the city holds the summary of `last_case`, the last case a batched load wrote
/// (an outbox sends in commit order, so every earlier summary came before it), then checks
/// that it holds `target` summaries; when it held the last. Polls one summary, not
/// `/api/v1/stats`, which folds every summary the city holds and, asked every few
/// milliseconds, took a core of the city while it was measured.
fn city_reaches_last(city: &Client, last_case: Option<&str>, target: u64) -> Result<Instant> {
    let Some(last) = last_case else {
        return city_reaches(city, target);
    };
    let start = Instant::now();
    let path = format!("/api/v1/summaries/{last}");
    let held = loop {
        if city.get(&path).is_ok() {
            break Instant::now();
        }
        if start.elapsed() > PATIENCE {
            bail!("the city did not receive {last} within {PATIENCE:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let holds = city_cases(city)?;
    if holds < target {
        bail!("the city holds {last} but {holds} summaries, not {target}: some came out of order");
    }
    Ok(held)
}

/// Waits until the city holds `target` summaries; when it did.
fn city_reaches(city: &Client, target: u64) -> Result<Instant> {
    let start = Instant::now();
    loop {
        if city_cases(city)? >= target {
            return Ok(Instant::now());
        }
        if start.elapsed() > PATIENCE {
            bail!("the city did not reach {target} cases within {PATIENCE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The township's intake of single cases flat out, as windows submit them (which also warms
/// the tree up); the rate the latency under load is paced against.
fn township_http_max(
    load: &Load,
    city: &Client,
    sizes: Sizes,
    figures: &mut Vec<Figure>,
) -> Result<f64> {
    let samples = repeat(sizes.runs.min(3), |_| {
        let base = city_cases(city)?;
        let until = Until::Elapsed(Duration::from_secs(sizes.intake_seconds.div_ceil(2)));
        let done = load.run(sizes.clients, until, None)?;
        city_reaches(city, base + done.accepted)?;
        Ok(done.accepted as f64 / done.seconds)
    })?;
    let figure = Figure::new(
        "township intake of single cases (HTTP), flat out",
        "cases/s",
        samples,
    );
    let median = figure.median;
    figures.push(figure);
    Ok(median)
}

/// Township events per second until the city is current, every hop durable: the township
/// takes batches flat out (a legacy migration: not bounded by one request per case); the
/// clock stops when the city holds every case's summary.
fn replication(
    load: &Load,
    city: &Client,
    sizes: Sizes,
    sled_limit: Option<f64>,
    figures: &mut Vec<Figure>,
) -> Result<f64> {
    let samples = repeat(sizes.runs, |_| {
        let base = city_cases(city)?;
        let start = Instant::now();
        let n = sizes.replication_cases as u64;
        let fed = load.run_batches(BATCH_SENDERS, n, PER_BATCH)?;
        if fed.failed > 0 {
            bail!("{} cases of batches failed during replication", fed.failed);
        }
        let done = city_reaches_last(city, fed.last_case.as_deref(), base + n)?;
        Ok(n as f64 / done.duration_since(start).as_secs_f64())
    })?;
    let figure = Figure::new(
        "replication township→county→city, durable each hop",
        "events/s",
        samples,
    )
    .target(40_000.0, false);
    let median = figure.median;
    let ratio = sled_limit.map(|limit| {
        let ratio = figure.samples.iter().map(|s| s / limit).collect();
        Figure::new("replication ÷ sled limit", "ratio", ratio).target(0.5, false)
    });
    figures.push(figure);
    figures.extend(ratio);
    Ok(median)
}

/// Township action → its summary visible at the city, at light load and under a paced load at
/// 80 % of the township's HTTP intake flat out; p50 and p99 of each run.
fn latency(
    load: &Load,
    city: &Client,
    sizes: Sizes,
    http_max: f64,
    figures: &mut Vec<Figure>,
) -> Result<()> {
    let probe = (load.connect)()?;
    for (label, rate) in [("light load", None), ("80 % load", Some(http_max * 0.8))] {
        let background = rate.map(|r| load.background(sizes.clients.min(16), r));
        let mut runs = Vec::with_capacity(sizes.runs);
        let mut outcome = Ok(());
        for run in 0..sizes.runs {
            match latencies(
                load,
                &probe,
                city,
                sizes.latency_samples,
                run,
                rate.is_none(),
            ) {
                Ok(samples) => runs.push(samples),
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
        }
        if let Some((stop, handle)) = background {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            let _ = handle.join();
        }
        outcome?;
        let p50 = runs.iter().map(|r| quantile(r, 0.5)).collect();
        let p99 = runs.iter().map(|r| quantile(r, 0.99)).collect();
        let name = |q: &str| format!("latency township→city summary, {label}, {q}");
        figures.push(Figure::new(&name("p50"), "ms", p50));
        let p99 = Figure::new(&name("p99"), "ms", p99);
        figures.push(if rate.is_none() {
            p99.target(5.0, true)
        } else {
            p99.target(100.0, true)
        });
    }
    Ok(())
}

/// `count` latencies, sorted; with `pause`, a short rest between them (light load).
fn latencies(
    load: &Load,
    probe: &Client,
    city: &Client,
    count: usize,
    run: usize,
    pause: bool,
) -> Result<Vec<f64>> {
    let mut samples = Vec::with_capacity(count);
    for i in 0..count {
        samples.push(one_latency(load, probe, city, (run * 100_000 + i) as u64)?);
        if pause {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    samples.sort_by(f64::total_cmp);
    Ok(samples)
}

/// One case submitted at the township; milliseconds until the city holds its summary.
fn one_latency(load: &Load, probe: &Client, city: &Client, n: u64) -> Result<f64> {
    let start = Instant::now();
    let case_no = load.submit(probe, n)?;
    let path = format!("/api/v1/summaries/{case_no}");
    loop {
        if city.get(&path).is_ok() {
            return Ok(start.elapsed().as_secs_f64() * 1000.0);
        }
        if start.elapsed() > PATIENCE {
            bail!("{case_no} never reached the city");
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}

/// The county down while the township takes a backlog; events per second from the county's
/// return until the city is current.
fn catch_up(
    tree: &mut LocalFederation,
    load: &Load,
    city: &Client,
    sizes: Sizes,
    figures: &mut Vec<Figure>,
) -> Result<()> {
    let county = code(COUNTY)?;
    let n = sizes.catchup_events as u64;
    let samples = repeat(sizes.runs.min(3), |_| {
        let base = city_cases(city)?;
        tree.kill(county)?;
        let fed = load.run_batches(BATCH_SENDERS, n, PER_BATCH)?;
        if fed.failed > 0 {
            bail!("{} cases of the backlog failed", fed.failed);
        }
        let start = Instant::now();
        tree.start(county, Some(CLOCK))?;
        let done = city_reaches_last(city, fed.last_case.as_deref(), base + n)?;
        Ok(n as f64 / done.duration_since(start).as_secs_f64())
    })?;
    figures.push(
        Figure::new(
            &format!("catch-up: county back to a backlog of {n}, until the city is current"),
            "events/s",
            samples,
        )
        .target(50_000.0, false),
    );
    Ok(())
}
