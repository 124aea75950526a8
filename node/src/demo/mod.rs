//! `liandong demo`: a whole small federation on loopback, in a temporary folder, with real
//! certificates, QUIC links and sled stores — five `liandong run` processes:
//!
//! ```text
//! 350300 莆田市 ─┬─ 350322 仙游县 ── 350322100 枫亭镇
//!                └─ 350302 城厢区 ── 350302001 龙桥街道
//! ```
//!
//! Every node's clock starts on 2025-09-30 09:00, the eve of the National Day holiday, so
//! deadlines visibly skip the eight days off and the 调休 Saturday. The demo then
//!
//! 1. walks one case of each local kind at 城厢区 (即办, 承诺 with 补正 and 容缺, a fee, a joint
//!    review inside the county, 特别程序 then 撤回, 不予受理, and one left open): [`local`];
//! 2. walks one case of each cross-level workflow (跨层级受理, 上报件, 市县联动联审, 退回, and a
//!    withdrawal racing a decision) across the nodes where real clerks would act: [`workflows`];
//! 3. kills every node with SIGKILL and restarts them all three weeks later, when the case left
//!    open is overdue and the joint review's silent participant is late;
//! 4. finishes the joint review, and prints the city's consolidated view (电子监察).
//!
//! It prints each case's timeline as each involved node sees it ([`timeline`]) and checks every
//! expectation as it goes ([`checks`]); it exits 0 only if every node agrees and every
//! expectation holds. `--falsify NAME` inverts the checks whose names contain NAME, to show
//! that the demo then fails.

mod checks;
mod federation;
mod local;
mod timeline;
mod workflows;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use federation_proto::applicant::{credit_code_with_check, resident_id_with_check};
use serde_json::{json, Value};

use checks::Checks;
use federation::{Desk, Federation};

/// Every node's clock at the first start: a Tuesday, the day before National Day.
const START: &str = "2025-09-30T09:00";
/// Every node's clock after the restart, three weeks later.
const LATER: &str = "2025-10-20T09:00";

/// Runs the demo; `Ok(false)` when an expectation failed. The working folder is removed
/// afterwards unless `keep` names it. `falsify` inverts the checks whose names contain it.
pub fn run(keep: Option<&Path>, falsify: Option<&str>) -> Result<bool> {
    let temp = working_dir(keep)?;
    println!("liandong demo — working in {}", temp.display());
    let started = Instant::now();
    let outcome = run_in(&temp, falsify);
    println!("finished in {:.1} s", started.elapsed().as_secs_f64());
    if keep.is_none() {
        let _ = std::fs::remove_dir_all(&temp);
    }
    outcome
}

fn run_in(temp: &Path, falsify: Option<&str>) -> Result<bool> {
    let mut checks = Checks::new(falsify);
    println!("\n== the federation, every clock at {START} ==");
    let mut fed = Federation::build(temp, START)?;

    println!("\n== local cases at 城厢区 ==");
    let local = local::walk(&fed, &mut checks)?;

    println!("\n== cross-level workflows ==");
    let pending = workflows::before_jump(&fed, &mut checks)?;

    println!("\n== SIGKILL every node; restart them all three weeks later, at {LATER} ==");
    fed.restart_all(LATER)?;
    local::after_jump(&fed, &local, &mut checks)?;
    let flows = workflows::after_jump(&fed, pending, &mut checks)?;

    let mut case_nos: Vec<String> = local.case_nos().map(str::to_string).collect();
    case_nos.extend(flows.iter().map(|f| f.case_no.clone()));
    workflows::city_view(&fed, &case_nos, &mut checks)?;
    Ok(checks.summary())
}

/// The demo's folder: `keep` (which must not exist yet) or a new one under the system's
/// temporary directory.
fn working_dir(keep: Option<&Path>) -> Result<PathBuf> {
    let dir = match keep {
        Some(d) => d.to_path_buf(),
        None => std::env::temp_dir().join(format!("liandong-demo-{}", std::process::id())),
    };
    if dir.exists() {
        bail!(
            "{} exists already; give an empty or new folder",
            dir.display()
        );
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// A person applicant with a valid resident ID (the check digit computed from `first17`).
fn person(name: &str, first17: &str) -> Result<Value> {
    let id = resident_id_with_check(first17).context("demo resident ID")?;
    Ok(json!({"kind": "person", "name": name, "id": id}))
}

/// An organisation applicant with a valid unified social credit code.
fn org(name: &str, first17: &str) -> Result<Value> {
    let id = credit_code_with_check(first17).context("demo credit code")?;
    Ok(json!({"kind": "org", "name": name, "id": id}))
}

/// Every material the desk's node's catalog lists for `item`, minus `leave_out`.
fn materials(desk: &Desk, item: &str, leave_out: &[&str]) -> Result<Value> {
    let catalog = desk.get("/api/v1/catalog")?;
    let entry = catalog["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["code"] == item))
        .with_context(|| format!("item {item} not in the catalog of {}", desk.node))?;
    let names: Vec<Value> = entry["materials"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| m["name"].clone())
        .filter(|n| !leave_out.iter().any(|l| n == l))
        .collect();
    Ok(Value::from(names))
}

/// The number of a case view.
fn case_no(case: &Value) -> Result<&str> {
    case["case_no"]
        .as_str()
        .with_context(|| format!("no case number in {case}"))
}
