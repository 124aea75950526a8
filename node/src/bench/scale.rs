//! Scale: the 莆田 tree — 1 city, 5 county-level districts, 57 townships
//! (`data/divisions_putian.csv`, from GB/T 2260) — as 63 real nodes on this machine, replaying
//! a year of the city's caseload at full speed: ≈1 % joint reviews (a district's item with the
//! city's 自然资源和规划局 as participant), ≈10 % cross-level (a township accepts a district item,
//! the district decides, the township delivers), the rest local 即办 items. Then a consistency
//! check: the city's statistics hold every case in its expected final state, and every involved
//! node agrees on a sample of cases.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use federation_proto::NodeCode;
use serde_json::{json, Value};

use super::flows::CLOCK;
use super::{show, Figure, Sizes};
use crate::client::Client;
use crate::launcher::{LocalFederation, LocalNode};

const DIVISIONS: &str = include_str!("../../data/divisions_putian.csv");
/// How long the replay may take to settle before the check fails.
const PATIENCE: Duration = Duration::from_secs(900);
/// Client threads per node in each round, each with its own connection. A node's writer
/// flushes once for every request waiting in its queue (group commit): with one request in
/// flight each request pays for its own flush and its own round of replication; with several
/// they share them. The two cores are busy either way, so what counts is the work per case:
/// quick runs gave ≈570 cases/s with one thread per node, ≈780 with 2, ≈810 with 4 and ≈830
/// with 8 (spread ±10 %); the load generator's own threads take about a tenth of the CPU.
const CLIENTS_PER_NODE: usize = 8;
/// How many times [`CLIENTS_PER_NODE`] a district and the city get: a district takes about five
/// times a township's intake (a third of the local cases over 5 districts, the rest over 57
/// townships) and alone decides what its townships send up, so with equal lanes the replay's
/// tail ran on the districts alone (185 000 cases took 124 s with equal lanes).
const BUSY_NODE_FACTOR: usize = 4;

/// One of a node's client threads in a round.
#[derive(Clone, Copy)]
struct Lane {
    index: usize,
    of: usize,
}

impl Lane {
    /// The lanes of `node`: more at a district or the city, where the work is.
    fn count(node: NodeCode) -> usize {
        if node.len() == 9 {
            CLIENTS_PER_NODE
        } else {
            CLIENTS_PER_NODE * BUSY_NODE_FACTOR
        }
    }

    /// The part of `n` things this lane does: contiguous, so that the lanes' results joined in
    /// lane order come in the order one thread would have produced them.
    fn share(self, n: usize) -> Range<usize> {
        n * self.index / self.of..n * (self.index + 1) / self.of
    }
}

/// Items of the replay: (code, department).
const LOCAL_TOWN: (&str, &str) = ("000152043000", "卫生健康办公室");
const LOCAL_COUNTY: (&str, &str) = ("000187002000", "市场监督管理局");
const CROSS: (&str, &str) = ("000172005000", "住房和城乡建设局");
const JOINT: (&str, &str) = ("000172023000", "住房和城乡建设局");
const JOINT_SEAT: &str = "自然资源和规划局";

struct Division {
    code: NodeCode,
    name: String,
    parent: Option<NodeCode>,
}

fn divisions() -> Result<Vec<Division>> {
    DIVISIONS
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let [code, name, level, parent] = f[..] else {
                bail!("bad line in divisions_putian.csv: {line}");
            };
            Ok(Division {
                code: code.parse()?,
                name: name.to_string(),
                parent: (level != "city").then(|| parent.parse()).transpose()?,
            })
        })
        .collect()
}

/// One node's share of the replay, and what came of it.
#[derive(Default)]
struct Plan {
    local: usize,
    cross: usize,
    joint: usize,
    cross_cases: Vec<String>,
    joint_cases: Vec<String>,
}

pub fn measure(root: &Path, sizes: Sizes, figures: &mut Vec<Figure>) -> Result<()> {
    println!("== scale: the 莆田 tree, 63 nodes ==");
    let before = figures.len();
    let started = Instant::now();
    let mut fed = LocalFederation::create(root, "莆田市")?;
    for d in divisions()? {
        fed.add(
            d.code,
            &format!("{}行政服务中心", d.name),
            d.parent,
            Some(CLOCK),
        )?;
    }
    fed.wait_linked(Duration::from_secs(120))?;
    let up = started.elapsed().as_secs_f64();
    figures.push(Figure::new(
        "scale: 63 nodes started and linked",
        "s",
        vec![up],
    ));
    let idle: Vec<f64> = fed.nodes().iter().filter_map(LocalNode::rss_mb).collect();
    figures.push(Figure::new("idle node RSS (median of 63)", "MB", idle).target(30.0, true));

    let mut replay = Replay::new(&fed, sizes.scale_cases)?;
    let start = Instant::now();
    let expected = replay.run(&fed)?;
    let wall = start.elapsed().as_secs_f64();
    let total = sizes.scale_cases as f64;
    figures.push(
        Figure::new(
            &format!("scale: replay of {} cases, wall time", sizes.scale_cases),
            "s",
            vec![wall],
        )
        .target(
            if sizes.scale_cases >= 185_000 {
                60.0
            } else {
                f64::INFINITY
            },
            true,
        ),
    );
    figures.push(Figure::new(
        "scale: replay throughput",
        "cases/s",
        vec![total / wall],
    ));
    let rss: Vec<f64> = fed.nodes().iter().filter_map(LocalNode::rss_mb).collect();
    figures.push(Figure::new(
        "scale: total RSS after the replay",
        "MB",
        vec![rss.iter().sum()],
    ));
    let largest = rss.iter().copied().fold(0.0, f64::max);
    figures.push(Figure::new(
        "scale: node RSS after the replay (median)",
        "MB",
        rss,
    ));
    figures.push(
        Figure::new(
            "scale: largest node RSS after the replay",
            "MB",
            vec![largest],
        )
        .target(60.0, true),
    );
    let divergent = replay.divergent(&fed)?;
    figures.push(
        Figure::new(
            "scale: cases lost or divergent",
            "cases",
            vec![divergent as f64],
        )
        .target(0.0, true),
    );
    println!("  expected at the city: {expected}");
    show(&figures[before..]);
    Ok(())
}

/// The caseload and the clerks that carry it: per node and department, one client per lane.
struct Replay {
    plans: BTreeMap<NodeCode, Plan>,
    clerks: BTreeMap<(NodeCode, &'static str), Vec<Client>>,
    city: NodeCode,
}

impl Replay {
    /// Spreads `cases` over the nodes: townships take local and cross-level cases, districts
    /// local and joint ones.
    fn new(fed: &LocalFederation, cases: usize) -> Result<Replay> {
        let nodes = fed.nodes();
        let city = nodes.first().context("an empty federation")?.code;
        let towns: Vec<NodeCode> = nodes
            .iter()
            .filter(|n| n.code.len() == 9)
            .map(|n| n.code)
            .collect();
        let counties: Vec<NodeCode> = nodes
            .iter()
            .filter(|n| n.code.len() == 6 && n.code != city)
            .map(|n| n.code)
            .collect();
        // The city has no cases of its own, but a round of work: its opinions.
        let mut plans: BTreeMap<NodeCode, Plan> = BTreeMap::from([(city, Plan::default())]);
        let joint = cases / 100;
        let cross = cases / 10;
        for i in 0..joint {
            plans.entry(counties[i % counties.len()]).or_default().joint += 1;
        }
        for i in 0..cross {
            plans.entry(towns[i % towns.len()]).or_default().cross += 1;
        }
        for i in 0..cases - joint - cross {
            // Two thirds of the local cases at the townships, a third at the districts.
            let node = if i % 3 == 2 {
                counties[i % counties.len()]
            } else {
                towns[i % towns.len()]
            };
            plans.entry(node).or_default().local += 1;
        }
        let mut clerks = BTreeMap::new();
        for n in nodes {
            let departments: &[&'static str] = match n.code.len() {
                9 => &[LOCAL_TOWN.1, CROSS.1],
                _ if n.code == city => &[JOINT_SEAT],
                _ => &[LOCAL_COUNTY.1, CROSS.1],
            };
            for d in departments {
                // One name per operator: a node refuses a second operator of the same name.
                let token = n.add_clerk(&format!("回放窗口·{d}"), d)?;
                // Not clones: a clone shares its agent's pool, which keeps one idle
                // connection per host, so parallel requests would reconnect.
                let lanes = (0..Lane::count(n.code)).map(|_| n.client(&token));
                clerks.insert((n.code, *d), lanes.collect::<Result<_>>()?);
            }
        }
        Ok(Replay {
            plans,
            clerks,
            city,
        })
    }

    /// The client of `lane` for a clerk of `department` at `node`.
    fn clerk(&self, node: NodeCode, department: &'static str, lane: Lane) -> Result<&Client> {
        self.clerks
            .get(&(node, department))
            .and_then(|lanes| lanes.get(lane.index))
            .with_context(|| format!("no {department} clerk at {node} for lane {}", lane.index))
    }

    /// The three rounds of the year, each node's work spread over its lanes; returns the states
    /// the city must end with, once it shows them.
    fn run(&mut self, fed: &LocalFederation) -> Result<Value> {
        let any = self.clerk(self.city, JOINT_SEAT, Lane { index: 0, of: 1 })?;
        let materials: BTreeMap<&str, Value> = [LOCAL_TOWN.0, LOCAL_COUNTY.0, CROSS.0, JOINT.0]
            .into_iter()
            .map(|item| Ok((item, super::load::materials(any, item)?)))
            .collect::<Result<_>>()?;
        let counter = AtomicUsize::new(0);
        // 1. Intake: local cases, cross-level ones sent up, joint reviews opened.
        let results =
            self.each_node(|code, plan, lane| self.intake(code, plan, lane, &materials, &counter))?;
        for (code, lanes) in results {
            let (cross, joint): (Vec<Vec<String>>, Vec<Vec<String>>) = lanes.into_iter().unzip();
            let plan = self.plans.entry(code).or_default();
            (plan.cross_cases, plan.joint_cases) = (cross.concat(), joint.concat());
        }
        // 2. The districts decide what came up and send it back; the city gives its opinions.
        for code in self.plans.keys().filter(|c| self.is_district(**c)) {
            let sent_up: usize = self.children_of(*code).map(|(_, p)| p.cross).sum();
            wait_for(fed.node(*code)?, "in_transit", sent_up)?;
        }
        let joint: usize = self.plans.values().map(|p| p.joint).sum();
        wait_for(fed.node(self.city)?, "joint_review", joint)?;
        self.each_node(|code, _, lane| self.decide_and_answer(code, lane))?;
        // 3. The townships deliver; the districts conclude their joint reviews.
        self.each_node(|code, plan, lane| self.conclude(code, plan, lane))?;
        let approved: usize = self.plans.values().map(|p| p.local).sum();
        let delivered: usize = self.plans.values().map(|p| p.cross + p.joint).sum();
        let expected = json!({"approved": approved, "delivered": delivered});
        let city = &fed.node(self.city)?.admin;
        let start = Instant::now();
        while city.get("/api/v1/stats")?["totals"]["by_state"] != expected {
            if start.elapsed() > PATIENCE {
                bail!("the city's figures never reached {expected}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(expected)
    }

    /// `f` for every node with a plan and each of its lanes, each on its own thread; their
    /// results by node, in lane order. Every thread is joined before the first error returns,
    /// so that a panic becomes an error rather than a panic of the scope.
    fn each_node<T: Send>(
        &self,
        f: impl Fn(NodeCode, &Plan, Lane) -> Result<T> + Sync,
    ) -> Result<BTreeMap<NodeCode, Vec<T>>> {
        let f = &f;
        let joined: Vec<(NodeCode, Result<T>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .plans
                .iter()
                .flat_map(|(code, plan)| {
                    let of = Lane::count(*code);
                    (0..of).map(move |index| {
                        let lane = Lane { index, of };
                        (*code, scope.spawn(move || f(*code, plan, lane)))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|(code, h)| {
                    let result = h
                        .join()
                        .unwrap_or_else(|_| Err(anyhow!("a replay thread of {code} panicked")));
                    (code, result)
                })
                .collect()
        });
        let mut results: BTreeMap<NodeCode, Vec<T>> = BTreeMap::new();
        for (code, result) in joined {
            let result = result.with_context(|| format!("replaying at {code}"))?;
            results.entry(code).or_default().push(result);
        }
        Ok(results)
    }

    /// A county-level node (区/县): 6 digits, not the city.
    fn is_district(&self, code: NodeCode) -> bool {
        code.len() == 6 && code != self.city
    }

    fn children_of(&self, county: NodeCode) -> impl Iterator<Item = (&NodeCode, &Plan)> {
        self.plans
            .iter()
            .filter(move |(c, _)| c.len() == 9 && county.is_ancestor_of(**c))
    }

    /// Round 1 at one node, `lane`'s share of it: its case numbers (cross-level, joint).
    fn intake(
        &self,
        code: NodeCode,
        plan: &Plan,
        lane: Lane,
        materials: &BTreeMap<&str, Value>,
        counter: &AtomicUsize,
    ) -> Result<(Vec<String>, Vec<String>)> {
        let next = || counter.fetch_add(1, Ordering::Relaxed) as u64;
        let submit = |(item, department): (&'static str, &'static str)| {
            let clerk = self.clerk(code, department, lane)?;
            super::load::submit(clerk, item, &materials[item], next())
        };
        let local = if code.len() == 9 {
            LOCAL_TOWN
        } else {
            LOCAL_COUNTY
        };
        for _ in lane.share(plan.local) {
            submit(local)?;
        }
        let mut cross = Vec::with_capacity(lane.share(plan.cross).len());
        for _ in lane.share(plan.cross) {
            let no = submit(CROSS)?;
            act(
                self.clerk(code, CROSS.1, lane)?,
                &no,
                json!({"action": "forward"}),
            )?;
            cross.push(no);
        }
        let mut joint = Vec::with_capacity(lane.share(plan.joint).len());
        for _ in lane.share(plan.joint) {
            let no = submit(JOINT)?;
            let clerk = self.clerk(code, JOINT.1, lane)?;
            act(clerk, &no, json!({"action": "review"}))?;
            let seat = json!([{"node": self.city, "department": JOINT_SEAT}]);
            act(
                clerk,
                &no,
                json!({"action": "open_joint_review", "participants": seat, "feedback_days": 5}),
            )?;
            joint.push(no);
        }
        Ok((cross, joint))
    }

    /// Round 2 at one node, `lane`'s share of it: a district takes over, approves and returns
    /// its townships' cases; the city answers every joint review.
    fn decide_and_answer(&self, code: NodeCode, lane: Lane) -> Result<()> {
        if code == self.city {
            let clerk = self.clerk(code, JOINT_SEAT, lane)?;
            let joint: Vec<&String> = self.plans.values().flat_map(|p| &p.joint_cases).collect();
            for no in &joint[lane.share(joint.len())] {
                act(
                    clerk,
                    no,
                    json!({"action": "opinion", "agree": true, "comment": "同意"}),
                )?;
            }
        } else if self.is_district(code) {
            let clerk = self.clerk(code, CROSS.1, lane)?;
            let sent_up: Vec<&String> = self
                .children_of(code)
                .flat_map(|(_, p)| &p.cross_cases)
                .collect();
            for no in &sent_up[lane.share(sent_up.len())] {
                act(clerk, no, json!({"action": "take_over"}))?;
                act(
                    clerk,
                    no,
                    json!({"action": "decide", "approve": true, "reason": "符合条件"}),
                )?;
                act(clerk, no, json!({"action": "forward"}))?;
            }
        }
        Ok(())
    }

    /// Round 3 at one node, `lane`'s share of it: a township takes back and delivers its
    /// decided cases; a district decides and delivers its joint cases once the city's opinion
    /// is in.
    fn conclude(&self, code: NodeCode, plan: &Plan, lane: Lane) -> Result<()> {
        if plan.cross_cases.is_empty() && plan.joint_cases.is_empty() {
            return Ok(());
        }
        let clerk = self.clerk(code, CROSS.1, lane)?;
        let here = code.to_string();
        for no in &plan.cross_cases[lane.share(plan.cross_cases.len())] {
            until_case(clerk, no, |c| {
                c["state"] == "in_transit" && c["forwarded_to"] == here
            })?;
            act(clerk, no, json!({"action": "take_over"}))?;
            act(clerk, no, json!({"action": "deliver"}))?;
        }
        for no in &plan.joint_cases[lane.share(plan.joint_cases.len())] {
            until_case(clerk, no, |c| !c["participants"][0]["opinion"].is_null())?;
            act(
                clerk,
                no,
                json!({"action": "decide", "approve": true, "reason": "联审通过"}),
            )?;
            act(clerk, no, json!({"action": "deliver"}))?;
        }
        Ok(())
    }

    /// Cases whose involved nodes disagree, in a sample of the cross-level ones: the
    /// township's and the district's timelines and states must be identical.
    fn divergent(&self, fed: &LocalFederation) -> Result<usize> {
        let mut divergent = 0;
        for (town, plan) in self.plans.iter().filter(|(c, _)| c.len() == 9) {
            let county = town
                .ancestor_at(federation_proto::Level::County)
                .context("no county")?;
            for no in plan.cross_cases.iter().take(3) {
                let path = format!("/api/v1/cases/{no}");
                let a = fed.node(*town)?.admin.get(&path)?;
                let b = fed.node(county)?.admin.get(&path)?;
                if a["events"] != b["events"] || a["state"] != b["state"] {
                    divergent += 1;
                }
            }
        }
        Ok(divergent)
    }
}

fn act(clerk: &Client, case_no: &str, body: Value) -> Result<Value> {
    clerk.post(&format!("/api/v1/cases/{case_no}/actions"), &body)
}

/// Waits until the case, as `clerk`'s node shows it, satisfies `ready`.
fn until_case(clerk: &Client, case_no: &str, ready: impl Fn(&Value) -> bool) -> Result<()> {
    let start = Instant::now();
    let path = format!("/api/v1/cases/{case_no}");
    while !clerk.get(&path).is_ok_and(|c| ready(&c)) {
        if start.elapsed() > PATIENCE {
            bail!("{case_no} never reached the expected state");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// Waits until `node` holds `count` cases in `state`.
fn wait_for(node: &LocalNode, state: &str, count: usize) -> Result<()> {
    let start = Instant::now();
    while node.cases_in(state)? < count as u64 {
        if start.elapsed() > PATIENCE {
            bail!("{} never held {count} cases in {state}", node.code);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}
