//! Load: client threads submitting cases through a node's HTTP API, as window software would —
//! flat out, or paced to a rate — each on its own keep-alive connection.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use federation_proto::applicant::resident_id_with_check;
use serde_json::{json, Value};

use crate::client::Client;

/// What to submit and where: an item, all its materials, through clients of one clerk.
#[derive(Clone)]
pub struct Load {
    pub connect: Arc<dyn Fn() -> Result<Client> + Send + Sync>,
    pub item: &'static str,
    pub materials: Value,
}

/// When a load stops.
#[derive(Debug, Clone, Copy)]
pub enum Until {
    /// After this long.
    Elapsed(Duration),
}

/// What a load did.
#[derive(Debug, Clone)]
pub struct Done {
    pub accepted: u64,
    pub failed: u64,
    pub seconds: f64,
    /// The largest case number written (batches only): the last case the node committed, so
    /// the last whose summary its outbox sends up.
    pub last_case: Option<String>,
}

impl Load {
    /// A load of `item` (with every material the catalog lists) through `connect`.
    pub fn new(
        connect: impl Fn() -> Result<Client> + Send + Sync + 'static,
        item: &'static str,
    ) -> Result<Load> {
        let materials = materials(&connect()?, item)?;
        Ok(Load {
            connect: Arc::new(connect),
            item,
            materials,
        })
    }

    /// Submits one case; its case number.
    pub fn submit(&self, client: &Client, n: u64) -> Result<String> {
        submit(client, self.item, &self.materials, n)
    }

    /// Runs `clients` threads until `until`, each at `rate / clients` per second when paced.
    pub fn run(&self, clients: usize, until: Until, rate: Option<f64>) -> Result<Done> {
        self.run_until_stopped(clients, until, rate, Arc::new(AtomicBool::new(false)))
    }

    /// [`Load::run`], also ending when `stop` is set.
    fn run_until_stopped(
        &self,
        clients: usize,
        until: Until,
        rate: Option<f64>,
        stop: Arc<AtomicBool>,
    ) -> Result<Done> {
        let accepted = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let threads: Vec<_> = (0..clients)
            .map(|t| {
                let (load, accepted, failed, stop) =
                    (self.clone(), accepted.clone(), failed.clone(), stop.clone());
                let gap = rate.map(|r| Duration::from_secs_f64(clients as f64 / r));
                std::thread::spawn(move || -> Result<()> {
                    let client = (load.connect)()?;
                    let mut next = Instant::now();
                    let mut n = t as u64;
                    while !stop.load(Ordering::Relaxed) && !done(until, start) {
                        if let Some(gap) = gap {
                            next += gap;
                            std::thread::sleep(next.saturating_duration_since(Instant::now()));
                        }
                        match load.submit(&client, n) {
                            Ok(_) => accepted.fetch_add(1, Ordering::Relaxed),
                            Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                        };
                        n += clients as u64;
                    }
                    Ok(())
                })
            })
            .collect();
        let mut outcome = Ok(());
        for t in threads {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => outcome = Err(e),
                Err(_) => outcome = Err(anyhow::anyhow!("a load thread panicked")),
            }
        }
        stop.store(true, Ordering::Relaxed);
        outcome?;
        Ok(Done {
            accepted: accepted.load(Ordering::Relaxed),
            failed: failed.load(Ordering::Relaxed),
            seconds: start.elapsed().as_secs_f64(),
            last_case: None,
        })
    }

    /// Submits `count` cases as `POST /api/v1/cases:batch` requests of up to `per_batch`
    /// each, from `senders` threads (a node writes two batches at once; more get 503 and
    /// wait): the pipelined load of a legacy migration, not bounded by one request per case.
    pub fn run_batches(&self, senders: usize, count: u64, per_batch: u64) -> Result<Done> {
        // Each run's keys are new: a key seen before is answered with its first answer,
        // unwritten.
        static RUNS: AtomicU64 = AtomicU64::new(0);
        let run = RUNS.fetch_add(1, Ordering::Relaxed);
        let next = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let threads: Vec<_> = (0..senders.max(1))
            .map(|_| {
                let (load, next, failed) = (self.clone(), next.clone(), failed.clone());
                std::thread::spawn(move || -> Result<Option<String>> {
                    let client = (load.connect)()?;
                    let mut last_case: Option<String> = None;
                    loop {
                        let first = next.fetch_add(per_batch, Ordering::Relaxed);
                        if first >= count {
                            return Ok(last_case);
                        }
                        let last = (first + per_batch).min(count);
                        let cases: Vec<Value> = (first..last)
                            .map(|n| application(load.item, &load.materials, n))
                            .collect::<Result<_>>()?;
                        let body = serde_json::to_vec(&json!({ "cases": cases }))?;
                        let key = format!("bench-{}-{run}-{first}", std::process::id());
                        match client.post_keyed("/api/v1/cases:batch", &body, &key) {
                            Ok(answer) => {
                                let numbers = answer["cases"].as_array().into_iter().flatten();
                                let largest = numbers.filter_map(|c| c["case_no"].as_str()).max();
                                if let Some(no) = largest {
                                    if last_case.as_deref().is_none_or(|l| no > l) {
                                        last_case = Some(no.to_string());
                                    }
                                }
                            }
                            Err(_) => {
                                failed.fetch_add(last - first, Ordering::Relaxed);
                            }
                        }
                    }
                })
            })
            .collect();
        let mut last_case: Option<String> = None;
        for t in threads {
            match t.join() {
                Ok(r) => last_case = last_case.max(r?),
                Err(_) => anyhow::bail!("a batch thread panicked"),
            }
        }
        let failed = failed.load(Ordering::Relaxed);
        Ok(Done {
            accepted: count - failed.min(count),
            failed,
            seconds: start.elapsed().as_secs_f64(),
            last_case,
        })
    }

    /// A paced load running in the background until the returned flag is set.
    pub fn background(
        &self,
        clients: usize,
        rate: f64,
    ) -> (Arc<AtomicBool>, std::thread::JoinHandle<Result<Done>>) {
        let stop = Arc::new(AtomicBool::new(false));
        let (load, flag) = (self.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            let until = Until::Elapsed(Duration::from_secs(3600));
            load.run_until_stopped(clients, until, Some(rate), flag)
        });
        (stop, handle)
    }
}

/// Every material the node's catalog lists for `item`.
pub fn materials(client: &Client, item: &str) -> Result<Value> {
    let catalog = client.get("/api/v1/catalog")?;
    let entry = catalog["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["code"] == item))
        .with_context(|| format!("item {item} is not in the catalog"))?;
    let names: Vec<Value> = entry["materials"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| m["name"].clone())
        .collect();
    Ok(Value::from(names))
}

/// The application of applicant number `n` for `item`, with `materials`.
fn application(item: &str, materials: &Value, n: u64) -> Result<Value> {
    let first17 = format!("35032219900101{:03}", n % 1000);
    let id = resident_id_with_check(&first17).context("bench resident ID")?;
    Ok(json!({
        "item": item,
        "applicant": {"kind": "person", "name": format!("申请人{n}"), "id": id},
        "materials": materials,
    }))
}

/// Submits one case of `item` for applicant number `n`; its case number.
pub fn submit(client: &Client, item: &str, materials: &Value, n: u64) -> Result<String> {
    let case = client.post("/api/v1/cases", &application(item, materials, n)?)?;
    case["case_no"]
        .as_str()
        .map(String::from)
        .context("no case number in the answer")
}

fn done(until: Until, start: Instant) -> bool {
    match until {
        Until::Elapsed(d) => start.elapsed() >= d,
    }
}
