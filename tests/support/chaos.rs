//! The fault-test harness (chaos): a federation of real `liandong` processes under a load of
//! case actions from several client threads, while a seeded RNG kills nodes, cuts links,
//! keeps a node down for a long while, restarts everything at once and jumps clocks forward.
//! Afterwards it heals everything and checks, through the HTTP API only, that nothing
//! acknowledged was lost, nothing was stored twice and every involved node tells the same story.
//!
//! Only `tests/chaos.rs` uses this module (it includes it with `#[path]`), so the other test
//! binaries that include `support` do not carry it.
//!
//! Parameters (environment):
//! - `LIANDONG_CHAOS_SECONDS`: seconds of load (default 20);
//! - `LIANDONG_CHAOS_CLIENTS`: client threads (default 4);
//! - `LIANDONG_CHAOS_SEED`: the seed of the fault schedule and of the clients' choices
//!   (default: from the time; printed, so a run can be repeated).
//!
//! The RNG makes the *choices* reproducible (which fault, which node, which action); the
//! interleaving of real processes and threads is not.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::federation::{wait_until, Federation, UdpRelay, CLOCK};
use crate::support::{person, s};

// ---------------------------------------------------------------------- topology

/// 莆田市.
pub const CITY: &str = "350300";
/// 仙游县, linked to the city through a relay (a cut isolates its whole subtree).
pub const XIANYOU: &str = "350322";
/// 城厢区, linked to the city directly.
pub const CHENGXIANG: &str = "350302";
/// 仙游县 枫亭镇 (through a relay) and 榜头镇 (direct).
pub const FENGTING: &str = "350322100";
pub const BANGTOU: &str = "350322101";
/// 城厢区 龙桥街道 (through a relay).
pub const LONGQIAO: &str = "350302001";

const COUNTIES: [&str; 2] = [XIANYOU, CHENGXIANG];
const TOWNSHIPS: [&str; 3] = [FENGTING, BANGTOU, LONGQIAO];

/// 生育登记 (卫生健康办公室): 即办, decided at the township's own window.
pub const SHENGYU: &str = "000152043000";
/// 建筑工程施工许可证核发 (住房和城乡建设局): 承诺, decided by the county.
pub const SHIGONG: &str = "000172005000";
/// 建设工程竣工联合验收 (住房和城乡建设局): 联办, led by the county.
pub const YANSHOU: &str = "000172023000";
/// 林木采伐许可证核发 (林业局): 上报件, decided by the city.
pub const CAIFA: &str = "000176006000";

/// The seats of the joint reviews the load opens: the city's 自然资源和规划局 and the owning
/// county's 人民防空办公室 (市县联动联审).
const CITY_SEAT: &str = "自然资源和规划局";
const COUNTY_SEAT: &str = "人民防空办公室";

/// The level of a division code: 1 city, 2 county, 3 township.
fn level(code: &str) -> u8 {
    match code.len() {
        9 => 3,
        _ if code.ends_with("00") => 1,
        _ => 2,
    }
}

// ---------------------------------------------------------------------- parameters, RNG

/// What a run is asked to do.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    pub seed: u64,
    pub load: Duration,
    pub clients: usize,
}

impl Params {
    /// From `LIANDONG_CHAOS_SECONDS`, `LIANDONG_CHAOS_CLIENTS` and `LIANDONG_CHAOS_SEED`, with
    /// small defaults for CI.
    pub fn from_env() -> Params {
        fn var<T: std::str::FromStr>(name: &str) -> Option<T> {
            let v = std::env::var(name).ok()?;
            Some(
                v.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
            )
        }
        let seed = var("LIANDONG_CHAOS_SEED").unwrap_or_else(|| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            Rng::new(nanos ^ u64::from(std::process::id())).next_u64() % 1_000_000_000
        });
        Params {
            seed,
            load: Duration::from_secs_f64(var("LIANDONG_CHAOS_SECONDS").unwrap_or(20.0)),
            clients: var("LIANDONG_CHAOS_CLIENTS").unwrap_or(4).max(1),
        }
    }
}

pub use crate::support::rng::Rng;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------- the federation

/// The federation under test: city, two counties, three townships; 仙游县's uplink and two
/// townships' uplinks go through a [`UdpRelay`] so that they can be cut.
pub struct Chaos {
    pub fed: Federation,
    /// (child, relay in front of its parent).
    relays: Vec<(String, UdpRelay)>,
    /// When each cut relay heals.
    cut_until: Vec<Option<Instant>>,
    /// The node kept down a long while, and when it comes back.
    long_down: Option<(String, Instant)>,
    pub faults: Faults,
    /// Every fault, with its time since the load began, for the report.
    pub log: Vec<String>,
    rng: Rng,
    began: Instant,
}

/// How many faults of each kind were injected.
#[derive(Debug, Default, Clone, Copy)]
pub struct Faults {
    pub kills: u32,
    pub cuts: u32,
    pub long_outages: u32,
    pub full_restarts: u32,
    pub clock_jumps: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Kill,
    Cut,
    LongOutage,
    FullRestart,
    ClockJump,
}

const FAULTS: [Fault; 5] = [
    Fault::Kill,
    Fault::Cut,
    Fault::LongOutage,
    Fault::FullRestart,
    Fault::ClockJump,
];

impl Chaos {
    /// Starts the federation (parents first), with relays in front of the parents of 仙游县,
    /// 枫亭镇 and 龙桥街道.
    pub fn start(rng: Rng) -> Chaos {
        let mut fed = Federation::start(&[(CITY, None), (CHENGXIANG, Some(CITY))]);
        let mut relays = Vec::new();
        let mut via = |fed: &mut Federation, child: &str, parent: &str| {
            let port = fed.node(parent).quic_port().expect("the parent listens");
            let relay = UdpRelay::start(format!("127.0.0.1:{port}").parse().unwrap());
            fed.add_via(child, parent, relay.addr);
            relays.push((child.to_string(), relay));
        };
        via(&mut fed, XIANYOU, CITY);
        via(&mut fed, FENGTING, XIANYOU);
        fed.add(BANGTOU, Some(XIANYOU));
        via(&mut fed, LONGQIAO, CHENGXIANG);
        let cut_until = relays.iter().map(|_| None).collect();
        Chaos {
            fed,
            relays,
            cut_until,
            long_down: None,
            faults: Faults::default(),
            log: Vec::new(),
            rng,
            began: Instant::now(),
        }
    }

    /// Injects faults until `load` has passed or `stop` is raised (a client failed). The
    /// first five faults are the five kinds in a seeded order, so that even a short run sees
    /// each once; then each is drawn at random.
    pub fn run_faults(&mut self, load: Duration, stop: &AtomicBool) {
        self.began = Instant::now();
        let mut first: Vec<Fault> = FAULTS.to_vec();
        for i in (1..first.len()).rev() {
            first.swap(i, self.rng.below(i + 1));
        }
        first.reverse();
        let gap =
            |rng: &mut Rng| rng.between(Duration::from_millis(1200), Duration::from_millis(2800));
        let mut next = Instant::now() + gap(&mut self.rng);
        while self.began.elapsed() < load && !stop.load(Ordering::SeqCst) {
            self.due();
            if Instant::now() >= next {
                let fault = first.pop().unwrap_or_else(|| *self.rng.pick(&FAULTS));
                self.inject(fault, load);
                next = Instant::now() + gap(&mut self.rng);
            }
            // Pacing the fault schedule, not waiting for a result.
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Heals the cuts and restarts the long-down node whose time has come.
    fn due(&mut self) {
        let now = Instant::now();
        for i in 0..self.relays.len() {
            if self.cut_until[i].is_some_and(|t| t <= now) {
                self.heal(i);
            }
        }
        if self.long_down.as_ref().is_some_and(|(_, t)| *t <= now) {
            let (name, _) = self.long_down.take().unwrap();
            self.note(format!("{name} back after its long outage"));
            self.fed.start_again(&name);
        }
    }

    fn heal(&mut self, i: usize) {
        self.relays[i].1.heal();
        self.cut_until[i] = None;
        let child = self.relays[i].0.clone();
        self.note(format!("uplink of {child} healed"));
    }

    fn note(&mut self, what: String) {
        let line = format!("{:>7.1} s  {what}", self.began.elapsed().as_secs_f64());
        eprintln!("chaos: {line}");
        self.log.push(line);
    }

    /// The running members that may be stopped: not the one kept down, and not one whose
    /// clock is near midnight. (Every restart starts a node's clock a minute or two past where
    /// it was, and the federation harness refuses to cross midnight; only runs of well over
    /// ten minutes get there.)
    fn candidates(&self) -> Vec<String> {
        self.fed
            .running()
            .into_iter()
            .filter(|n| self.long_down.as_ref().is_none_or(|(d, _)| d != n))
            .filter(|n| !near_midnight(&node_clock(&self.fed, n)))
            .collect()
    }

    fn inject(&mut self, fault: Fault, load: Duration) {
        match fault {
            Fault::Kill => self.kill(),
            Fault::Cut => {
                let intact: Vec<usize> = (0..self.relays.len())
                    .filter(|i| self.cut_until[*i].is_none())
                    .collect();
                if intact.is_empty() {
                    return self.kill();
                }
                let i = *self.rng.pick(&intact);
                // Some cuts outlast the links' idle timeout (10 s), some do not.
                let lasts = self
                    .rng
                    .between(Duration::from_secs(1), Duration::from_secs(14));
                self.relays[i].1.cut();
                self.cut_until[i] = Some(Instant::now() + lasts);
                self.faults.cuts += 1;
                let child = self.relays[i].0.clone();
                self.note(format!("uplink of {child} cut for {lasts:?}"));
            }
            Fault::LongOutage => {
                if self.long_down.is_some() {
                    return self.kill();
                }
                let below_city: Vec<String> = self
                    .candidates()
                    .into_iter()
                    .filter(|n| n != CITY)
                    .collect();
                if below_city.is_empty() {
                    return;
                }
                let name = self.rng.pick(&below_city).clone();
                let lasts = (load / 4).clamp(Duration::from_secs(4), Duration::from_secs(90));
                self.fed.kill9(&name);
                self.long_down = Some((name.clone(), Instant::now() + lasts));
                self.faults.long_outages += 1;
                self.note(format!("{name} SIGKILLed and kept down for {lasts:?}"));
            }
            Fault::FullRestart => {
                if self.candidates().len() < self.fed.running().len() {
                    // Near midnight somewhere (see `candidates`).
                    return self.inject(Fault::Cut, load);
                }
                // A power cut: every process SIGKILLed, then all started again, parents first
                // (the node kept down stays down).
                for name in self.fed.names().iter().rev() {
                    self.fed.kill9(name);
                }
                for name in self.fed.names() {
                    if self.long_down.as_ref().is_none_or(|(d, _)| *d != name) {
                        self.fed.start_again(&name);
                    }
                }
                self.faults.full_restarts += 1;
                self.note("every node SIGKILLed and started again".into());
            }
            Fault::ClockJump => self.clock_jump(),
        }
    }

    /// SIGKILL of a random running node (any level), then a restart.
    fn kill(&mut self) {
        let candidates = self.candidates();
        if candidates.is_empty() {
            return;
        }
        let name = self.rng.pick(&candidates).clone();
        self.fed.kill9(&name);
        self.fed.start_again(&name);
        self.faults.kills += 1;
        self.note(format!("{name} SIGKILLed and restarted"));
    }

    /// A random node restarted with its clock 10 to 40 minutes ahead of where it was (never
    /// past 20:00 of the first day, so that no later restart crosses midnight).
    fn clock_jump(&mut self) {
        let candidates = self.candidates();
        if candidates.is_empty() {
            return;
        }
        let name = self.rng.pick(&candidates).clone();
        let now = node_clock(&self.fed, &name);
        let ahead = 10 + self.rng.below(31) as u64;
        let Some(target) = minutes_later(&now, ahead) else {
            return self.kill();
        };
        if self.rng.chance(0.5) {
            self.fed.kill9(&name);
        } else {
            self.fed.stop(&name);
        }
        self.fed.start_at(&name, &target);
        self.faults.clock_jumps += 1;
        self.note(format!(
            "{name} restarted with its clock jumped from {now} to {target}"
        ));
    }

    /// After the load: every cut healed, every stopped node started again.
    pub fn heal_all(&mut self) {
        for i in 0..self.relays.len() {
            if self.cut_until[i].is_some() {
                self.heal(i);
            }
        }
        self.long_down = None;
        for name in self.fed.names() {
            if !self.fed.node(&name).is_running() {
                self.note(format!("{name} started again after the load"));
                self.fed.start_again(&name);
            }
        }
    }

    /// Waits (up to `patience`) until every link is up with an empty outbox, twice in a row;
    /// returns how long that took, or fails the test with every link and the nodes' warnings.
    pub fn wait_settled(&self, patience: Duration) -> Duration {
        let began = Instant::now();
        let mut in_a_row = 0;
        let settled = wait_until(patience, || {
            in_a_row = if self.fed.settled() { in_a_row + 1 } else { 0 };
            in_a_row >= 2
        });
        assert!(
            settled,
            "the federation did not settle within {patience:?} after the load (a node that \
             never converges):\n{}\n{}",
            self.fed.links_report(),
            self.fed.warnings_report()
        );
        began.elapsed()
    }
}

/// The node's clock now (`YYYY-MM-DDTHH:MM`), from the `as_of` of its `/api/v1/stats`.
pub fn node_clock(fed: &Federation, name: &str) -> String {
    let node = fed.node(name);
    let (status, stats) = node.get("/api/v1/stats", &node.admin_token());
    assert_eq!(status, 200, "GET /api/v1/stats on {name}: {stats}");
    s(&stats, "as_of")
        .get(..16)
        .unwrap_or_else(|| panic!("as_of of {name}: {stats}"))
        .to_string()
}

/// Whether `clock` (`YYYY-MM-DDTHH:MM`) is past 21:30 of the first day (or on a later one).
fn near_midnight(clock: &str) -> bool {
    clock.get(..10) != Some(&CLOCK[..10]) || clock.get(11..) >= Some("21:30")
}

/// `clock` (`YYYY-MM-DDTHH:MM`) plus `minutes`, on the same day and not after 20:00.
fn minutes_later(clock: &str, minutes: u64) -> Option<String> {
    let (day, time) = clock.split_once('T')?;
    let (h, m) = time.split_once(':')?;
    let total = h.parse::<u64>().ok()? * 60 + m.parse::<u64>().ok()? + minutes;
    (total <= 20 * 60 && day == &CLOCK[..10])
        .then(|| format!("{day}T{:02}:{:02}", total / 60, total % 60))
}

// ---------------------------------------------------------------------- clients

/// One node as the clients see it: its API address (pinned across restarts) and tokens.
#[derive(Debug, Clone)]
struct Desk {
    base: String,
    admin: String,
    /// Department → a clerk's token, for the joint-review seats.
    clerks: BTreeMap<String, String>,
}

/// The cases the clients walk, one plan per kind of workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// 生育登记 at a township: decided at its window (sometimes first awaiting a core
    /// material, 补正), then delivered.
    TownLocal,
    /// 施工许可 at a township (就近办): forwarded to the county, taken over, reviewed,
    /// decided, forwarded back, taken over, certified, delivered.
    TownCounty,
    /// 竣工联合验收 at a township: as [`Plan::TownCounty`], with a 市县联动联审 at the county
    /// (seats at the city and the county).
    TownJoint,
    /// 林木采伐 at a county (上报件): forwarded to the city, decided there, sent back down.
    CountyReportUp,
    /// 林木采伐 at a township: forwarded straight to the city, through the county.
    TownCity,
}

const PLANS: [Plan; 5] = [
    Plan::TownLocal,
    Plan::TownCounty,
    Plan::TownJoint,
    Plan::CountyReportUp,
    Plan::TownCity,
];

impl Plan {
    fn item(self) -> &'static str {
        match self {
            Plan::TownLocal => SHENGYU,
            Plan::TownCounty => SHIGONG,
            Plan::TownJoint => YANSHOU,
            Plan::CountyReportUp | Plan::TownCity => CAIFA,
        }
    }

    /// The level that decides the item.
    fn deciding(self) -> u8 {
        match self {
            Plan::TownLocal => 3,
            Plan::TownCounty | Plan::TownJoint => 2,
            Plan::CountyReportUp | Plan::TownCity => 1,
        }
    }
}

/// A case the clients know of, with the latest view an answer showed.
#[derive(Debug, Clone)]
struct Tracked {
    no: String,
    plan: Plan,
    view: Value,
}

/// An action a node answered with 2xx, and the event it created.
#[derive(Debug, Clone)]
pub struct Ack {
    pub node: String,
    pub case_no: String,
    pub action: String,
    pub seq: u64,
}

/// What the clients share: the desks, the cases and the acknowledgements.
pub struct Load {
    desks: BTreeMap<String, Desk>,
    /// Item → (every material, the non-core ones).
    materials: BTreeMap<&'static str, (Vec<String>, Vec<String>)>,
    cases: Mutex<Vec<Tracked>>,
    acks: Mutex<Vec<Ack>>,
    answers: Mutex<BTreeMap<String, u64>>,
    pub stop: AtomicBool,
    /// Requests that never got an answer (node down), retried or given up.
    transport_errors: AtomicU64,
}

/// One request of a client: where, as whom, what.
struct Step {
    node: String,
    token: String,
    body: Value,
}

impl Load {
    /// The clients' view of the federation: each node's API address, its admin token, and
    /// clerks for the joint-review seats (the city's 自然资源和规划局, each county's
    /// 人民防空办公室).
    pub fn new(fed: &Federation) -> Load {
        let mut desks = BTreeMap::new();
        for name in fed.names() {
            let node = fed.node(&name);
            let mut clerks = BTreeMap::new();
            let seat = match level(&name) {
                1 => Some(CITY_SEAT),
                2 => Some(COUNTY_SEAT),
                _ => None,
            };
            if let Some(department) = seat {
                clerks.insert(department.to_string(), node.clerk(department));
            }
            let port = node.ports()["api"].as_u64().expect("the api port");
            let desk = Desk {
                base: format!("http://127.0.0.1:{port}"),
                admin: node.admin_token(),
                clerks,
            };
            desks.insert(name, desk);
        }
        let city = fed.node(CITY);
        let materials = [SHENGYU, SHIGONG, YANSHOU, CAIFA]
            .into_iter()
            .map(|item| {
                let all = city.materials(item, false);
                let core = city.materials(item, true);
                let optional = all.iter().filter(|m| !core.contains(m)).cloned().collect();
                (item, (all, optional))
            })
            .collect();
        Load {
            desks,
            materials,
            cases: Mutex::new(Vec::new()),
            acks: Mutex::new(Vec::new()),
            answers: Mutex::new(BTreeMap::new()),
            stop: AtomicBool::new(false),
            transport_errors: AtomicU64::new(0),
        }
    }

    pub fn acks(&self) -> Vec<Ack> {
        lock(&self.acks).clone()
    }

    /// One client: submits new cases and walks known ones a step further, until `stop`.
    pub fn client(&self, mut rng: Rng, clients: usize) {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(10))
            .build();
        while !self.stop.load(Ordering::SeqCst) {
            let open = lock(&self.cases).len();
            if open < 4 * clients || rng.chance(0.25) {
                self.submit(&agent, &mut rng);
            } else {
                self.advance(&agent, &mut rng);
            }
        }
    }

    fn submit(&self, agent: &ureq::Agent, rng: &mut Rng) {
        let plan = *rng.pick(&PLANS);
        let node = match plan {
            Plan::CountyReportUp => *rng.pick(&COUNTIES),
            _ => *rng.pick(&TOWNSHIPS),
        };
        let (all, optional) = &self.materials[plan.item()];
        // 补正: now and then a 生育登记 comes without its core material.
        let materials = if plan == Plan::TownLocal && rng.chance(0.3) {
            optional
        } else {
            all
        };
        let body = json!({"item": plan.item(), "applicant": person(), "materials": materials});
        let step = Step {
            node: node.to_string(),
            token: self.desks[node].admin.clone(),
            body,
        };
        if let Some(view) = self.perform(agent, &step, "/api/v1/cases", "submit") {
            let no = s(&view, "case_no").to_string();
            lock(&self.cases).push(Tracked { no, plan, view });
        }
    }

    /// Takes a known case one step further (or withdraws it at its window, now and then).
    fn advance(&self, agent: &ureq::Agent, rng: &mut Rng) {
        let tracked = {
            let mut cases = lock(&self.cases);
            if cases.is_empty() {
                return;
            }
            let i = rng.below(cases.len());
            if ended(&cases[i].view) {
                cases.swap_remove(i);
                return;
            }
            cases[i].clone()
        };
        let view = &tracked.view;
        let withdrawable = !matches!(
            s(view, "state"),
            "approved" | "denied" | "certified" | "delivered"
        );
        let step = if withdrawable && rng.chance(0.06) {
            Some(self.step(s(view, "accepting_node"), json!({"action": "withdraw"})))
        } else {
            self.next_step(tracked.plan, view, rng)
        };
        let Some(step) = step else {
            return;
        };
        let action = s(&step.body, "action").to_string();
        let path = format!("/api/v1/cases/{}/actions", tracked.no);
        match self.perform(agent, &step, &path, &action) {
            Some(view) => self.update(&tracked.no, view, true),
            None => {
                // Not done (the case has not arrived there yet, or moved on): look again
                // at the node now and then, and give the federation a moment.
                if rng.chance(0.3) {
                    if let Some(view) = self.fetch(agent, &step.node, &tracked.no) {
                        self.update(&tracked.no, view, false);
                    }
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// Keeps `view` as the case's latest: always after the node's own 2xx answer, else only
    /// if it holds more events than the view kept.
    fn update(&self, no: &str, view: Value, answered: bool) {
        let mut cases = lock(&self.cases);
        if let Some(t) = cases.iter_mut().find(|t| t.no == no) {
            if answered || event_count(&view) > event_count(&t.view) {
                t.view = view;
            }
        }
    }

    fn step(&self, node: &str, body: Value) -> Step {
        Step {
            node: node.to_string(),
            token: self.desks[node].admin.clone(),
            body,
        }
    }

    /// The next step of the plan from the case as `view` shows it.
    fn next_step(&self, plan: Plan, view: &Value, rng: &mut Rng) -> Option<Step> {
        let owner = s(view, "owner");
        let accepting = s(view, "accepting_node");
        let deciding_here = level(owner) == plan.deciding();
        let act = |name: &str| json!({ "action": name });
        let decide = |rng: &mut Rng| {
            if rng.chance(0.9) {
                json!({"action": "decide", "approve": true, "reason": "符合法定条件，准予许可"})
            } else {
                json!({"action": "decide", "approve": false, "reason": "不符合法定条件"})
            }
        };
        let participants = view["participants"].as_array().cloned().unwrap_or_default();
        Some(match s(view, "state") {
            "awaiting_supplement" => self.step(
                owner,
                json!({"action": "supplement", "materials": view["missing"]}),
            ),
            "accepted" | "in_review" if !deciding_here => self.step(owner, act("forward")),
            "accepted" | "in_review" if plan == Plan::TownJoint && participants.is_empty() => {
                let seats = json!([
                    {"node": CITY, "department": CITY_SEAT},
                    {"node": owner, "department": COUNTY_SEAT},
                ]);
                let open = json!({"action": "open_joint_review", "participants": seats,
                                  "feedback_days": 3});
                self.step(owner, open)
            }
            "accepted" if rng.chance(0.5) => self.step(owner, act("review")),
            "accepted" | "in_review" => self.step(owner, decide(rng)),
            "joint_review" => {
                let waiting: Vec<&Value> = participants
                    .iter()
                    .filter(|p| p["opinion"].is_null())
                    .collect();
                if waiting.is_empty() {
                    return Some(self.step(owner, decide(rng)));
                }
                let seat = rng.pick(&waiting);
                let (node, department) = (s(seat, "node"), s(seat, "department"));
                let token = self.desks.get(node)?.clerks.get(department)?.clone();
                let body = json!({"action": "opinion", "agree": true, "comment": "同意"});
                Step {
                    node: node.to_string(),
                    token,
                    body,
                }
            }
            "in_transit" => self.step(s(view, "forwarded_to"), act("take_over")),
            "approved" | "denied" if owner != accepting => self.step(owner, act("forward")),
            "approved" if plan != Plan::TownLocal && rng.chance(0.6) => {
                let no = format!("{}-证", s(view, "case_no"));
                self.step(owner, json!({"action": "certify", "certificate_no": no}))
            }
            "approved" | "denied" | "certified" => self.step(owner, act("deliver")),
            _ => return None,
        })
    }

    /// Sends the step, retrying while the node does not answer at all (it is down); the view
    /// of a 2xx answer, after recording what it acknowledged, else `None`.
    fn perform(&self, agent: &ureq::Agent, step: &Step, path: &str, action: &str) -> Option<Value> {
        let desk = &self.desks[&step.node];
        let give_up = Instant::now() + Duration::from_secs(3);
        let answer = loop {
            let sent = agent
                .post(&format!("{}{path}", desk.base))
                .set("Authorization", &format!("Bearer {}", step.token))
                .send_json(step.body.clone());
            match read(sent) {
                Ok(answer) => break answer,
                Err(_) => {
                    self.transport_errors.fetch_add(1, Ordering::Relaxed);
                    if self.stop.load(Ordering::SeqCst) || Instant::now() >= give_up {
                        return None;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        };
        let (status, view) = answer;
        let key = match status {
            200..=299 => format!("{action} {status}"),
            _ => format!("{status} {}", s(&view, "error")),
        };
        *lock(&self.answers).entry(key).or_default() += 1;
        if !(200..300).contains(&status) {
            return None;
        }
        // The new event: the last one this node authored in the case.
        let seq = events_of(&view)
            .iter()
            .filter(|e| s(e, "origin") == step.node)
            .filter_map(|e| e["seq"].as_u64())
            .max()
            .unwrap_or_else(|| {
                panic!(
                    "{action} at {}: 2xx without an event of it: {view}",
                    step.node
                )
            });
        lock(&self.acks).push(Ack {
            node: step.node.clone(),
            case_no: s(&view, "case_no").to_string(),
            action: action.to_string(),
            seq,
        });
        Some(view)
    }

    /// `GET` the case at `node`, if it answers 200.
    fn fetch(&self, agent: &ureq::Agent, node: &str, no: &str) -> Option<Value> {
        let desk = &self.desks[node];
        let got = agent
            .get(&format!("{}/api/v1/cases/{no}", desk.base))
            .set("Authorization", &format!("Bearer {}", desk.admin))
            .call();
        match read(got) {
            Ok((200, view)) => Some(view),
            _ => None,
        }
    }

    /// "2xx answers by action; other answers by status and error code; transport errors".
    pub fn answers_report(&self) -> String {
        let answers = lock(&self.answers);
        let mut out = String::new();
        for (key, n) in answers.iter() {
            let _ = write!(out, "{key}: {n}, ");
        }
        let _ = write!(
            out,
            "no answer (node down): {}",
            self.transport_errors.load(Ordering::Relaxed)
        );
        out
    }
}

fn read(sent: Result<ureq::Response, ureq::Error>) -> Result<(u16, Value), String> {
    let response = match sent {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => return Err(e.to_string()),
    };
    let status = response.status();
    let text = response.into_string().map_err(|e| e.to_string())?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

fn events_of(view: &Value) -> Vec<Value> {
    view["events"].as_array().cloned().unwrap_or_default()
}

fn event_count(view: &Value) -> usize {
    view["events"].as_array().map_or(0, Vec::len)
}

/// Whether the case has nothing left to do.
fn ended(view: &Value) -> bool {
    matches!(s(view, "state"), "delivered" | "withdrawn" | "not_accepted")
}

// ---------------------------------------------------------------------- the invariants

/// What the checks found. Each list holds one line per finding.
#[derive(Debug, Default)]
pub struct Verdict {
    pub cases: usize,
    /// Acknowledged events checked, and their copies checked (one per involved node).
    pub acked_checked: usize,
    pub copies_checked: usize,
    /// Every event of every case, counted once.
    pub events_total: usize,
    /// An acknowledged event missing (or not the acknowledged action) at its origin or at a
    /// node involved in its case.
    pub lost: Vec<String>,
    /// An event listed twice in a case at some node.
    pub duplicated: Vec<String>,
    /// A case shown differently by two involved nodes (or not at all by one).
    pub divergent: Vec<String>,
    /// The city's summary of a case disagrees with the owner's state or owner.
    pub summaries: Vec<String>,
    /// A node's own sequence numbers are not exactly 1..n.
    pub gaps: Vec<String>,
}

impl Verdict {
    pub fn clean(&self) -> bool {
        self.lost.is_empty()
            && self.duplicated.is_empty()
            && self.divergent.is_empty()
            && self.summaries.is_empty()
            && self.gaps.is_empty()
    }

    /// The first findings of each kind, for a failure message.
    pub fn findings(&self) -> String {
        let mut out = String::new();
        for (name, list) in [
            ("lost", &self.lost),
            ("duplicated", &self.duplicated),
            ("divergent", &self.divergent),
            ("summary mismatches", &self.summaries),
            ("sequence gaps", &self.gaps),
        ] {
            if list.is_empty() {
                continue;
            }
            let _ = writeln!(out, "{name} ({}):", list.len());
            for line in list.iter().take(10) {
                let _ = writeln!(out, "  {line}");
            }
        }
        out
    }
}

/// The fields of a case view every involved node must show alike (the clocks' warnings depend
/// on each node's today, and are left out).
const AGREED: [&str; 15] = [
    "case_no",
    "item",
    "state",
    "owner",
    "accepting_node",
    "forwarded_to",
    "accepted_on",
    "concluded_on",
    "deadline",
    "legal_deadline",
    "decision",
    "certificate_no",
    "missing",
    "owed",
    "requested",
];

/// The fields of each event compared across nodes.
const EVENT_FIELDS: [&str; 6] = ["origin", "seq", "action", "actor", "at", "rejected"];

/// What of a case view the involved nodes must agree on: [`AGREED`], the seats with their
/// opinions, and per event [`EVENT_FIELDS`] (absent fields as null).
pub fn projection(view: &Value) -> Value {
    let mut p = serde_json::Map::new();
    for field in AGREED {
        p.insert(field.into(), view[field].clone());
    }
    let seats: Vec<Value> = view["participants"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|seat| json!([seat["node"], seat["department"], seat["opinion"]]))
        .collect();
    p.insert("participants".into(), seats.into());
    let events: Vec<Value> = events_of(view)
        .iter()
        .map(|e| EVENT_FIELDS.iter().map(|f| e[*f].clone()).collect())
        .collect();
    p.insert("events".into(), events.into());
    p.into()
}

/// The nodes the view says are involved in the case: the accepting node, the owner, the node
/// it is forwarded to, the joint-review seats, and whoever authored one of its events
/// (accepted take-overs make past owners).
pub fn involved(view: &Value) -> BTreeSet<String> {
    let mut nodes: BTreeSet<String> = ["accepting_node", "owner", "forwarded_to"]
        .into_iter()
        .map(|f| s(view, f).to_string())
        .collect();
    for seat in view["participants"].as_array().into_iter().flatten() {
        nodes.insert(s(seat, "node").to_string());
    }
    for e in events_of(view) {
        nodes.insert(s(&e, "origin").to_string());
    }
    nodes.remove("");
    nodes
}

/// `GET path` on the member as its admin, for answers of any size (a long run's case list
/// outgrows what `Node::get` reads): the JSON body of a 200, else the test fails.
fn get_big(fed: &Federation, name: &str, path: &str) -> Value {
    let node = fed.node(name);
    let port = node.ports()["api"].as_u64().expect("the api port");
    let answer = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(120))
        .build()
        .get(&format!("http://127.0.0.1:{port}{path}"))
        .set("Authorization", &format!("Bearer {}", node.admin_token()))
        .call()
        .unwrap_or_else(|e| panic!("GET {path} on {name}: {e}"));
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut answer.into_reader(), &mut bytes)
        .unwrap_or_else(|e| panic!("GET {path} on {name}: reading the answer: {e}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("GET {path} on {name}: {e}"))
}

/// Every item of a paged list (`cases` or `summaries`) of `name`, page after page.
fn all_pages(fed: &Federation, name: &str, path: &str, key: &str) -> Vec<Value> {
    crate::support::all_pages(key, |cursor| get_big(fed, name, &format!("{path}{cursor}")))
}

/// Every case each node holds: node → case number → view.
fn all_views(fed: &Federation) -> BTreeMap<String, BTreeMap<String, Value>> {
    fed.names()
        .into_iter()
        .map(|name| {
            let cases = all_pages(fed, &name, "/api/v1/cases?limit=500", "cases")
                .into_iter()
                .map(|c| (s(&c, "case_no").to_string(), c))
                .collect();
            (name, cases)
        })
        .collect()
}

/// The city's summaries: case number → summary.
fn city_summaries(fed: &Federation) -> BTreeMap<String, Value> {
    all_pages(fed, CITY, "/api/v1/summaries?limit=500", "summaries")
        .iter()
        .map(|s| (crate::support::s(s, "case_no").to_string(), s.clone()))
        .collect()
}

/// Checks the invariants at every node (all running, links settled):
/// 1. every acknowledged event is present, exactly once and as the acknowledged action, at
///    its origin and at every node involved in its case;
/// 2. no case lists an event (origin, seq) twice, at any node;
/// 3. every node involved in a case (by any holder's view) shows it, with the same
///    [`projection`]: the timeline with its rejected marks, state, owner, dates, decision;
/// 4. the city's summary of each case has the owner's state and owner;
/// 5. each node's own events, gathered from the cases it holds, are numbered 1..n.
pub fn verify(fed: &Federation, acks: &[Ack]) -> Verdict {
    let views = all_views(fed);
    let summaries = city_summaries(fed);
    let mut v = Verdict::default();
    let case_nos: BTreeSet<&String> = views.values().flat_map(|m| m.keys()).collect();
    v.cases = case_nos.len();
    // Per case: the nodes that must agree on it.
    let mut agreeing: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut all_events: BTreeSet<(String, u64)> = BTreeSet::new();
    for no in &case_nos {
        let holders: Vec<(&String, &Value)> = views
            .iter()
            .filter_map(|(n, m)| m.get(*no).map(|view| (n, view)))
            .collect();
        let mut nodes = BTreeSet::new();
        for (holder, view) in &holders {
            nodes.extend(involved(view));
            let mut seen = BTreeSet::new();
            for e in events_of(view) {
                let id = (s(&e, "origin").to_string(), e["seq"].as_u64().unwrap_or(0));
                all_events.insert(id.clone());
                if !seen.insert(id.clone()) {
                    v.duplicated.push(format!(
                        "{holder} lists event {}:{} ({}) of {no} twice",
                        id.0,
                        id.1,
                        s(&e, "action")
                    ));
                }
            }
        }
        // Agreement, against the accepting node's view.
        let accepting = no.split('-').next().unwrap_or_default().to_string();
        let reference = views.get(&accepting).and_then(|m| m.get(*no));
        let Some(reference) = reference else {
            v.divergent.push(format!(
                "{no} is not held by its accepting node {accepting}"
            ));
            continue;
        };
        let expected = projection(reference);
        for node in &nodes {
            match views.get(node).and_then(|m| m.get(*no)) {
                None => v.divergent.push(format!(
                    "{node} is involved in {no} but does not hold it (state at \
                     {accepting}: {})",
                    s(reference, "state")
                )),
                Some(view) => {
                    let got = projection(view);
                    if got != expected {
                        v.divergent.push(format!(
                            "{no}: {node} differs from {accepting}: {}",
                            difference(&expected, &got)
                        ));
                    }
                }
            }
        }
        // The city's consolidated view follows the owner.
        let owner = s(reference, "owner");
        let owners_view = views
            .get(owner)
            .and_then(|m| m.get(*no))
            .unwrap_or(reference);
        match summaries.get(*no) {
            None => v
                .summaries
                .push(format!("the city holds no summary of {no}")),
            Some(summary) => {
                if summary["state"] != owners_view["state"]
                    || summary["owner"] != owners_view["owner"]
                {
                    v.summaries.push(format!(
                        "{no}: the city's summary says {} owned by {}, the owner {owner} \
                         says {} owned by {}",
                        summary["state"],
                        summary["owner"],
                        owners_view["state"],
                        owners_view["owner"]
                    ));
                }
            }
        }
        agreeing.insert(no.as_str(), nodes);
    }
    v.events_total = all_events.len();

    // 1. Every acknowledged event, at its origin and at every involved node.
    for ack in acks {
        v.acked_checked += 1;
        let mut places: BTreeSet<String> = agreeing
            .get(ack.case_no.as_str())
            .cloned()
            .unwrap_or_default();
        places.insert(ack.node.clone());
        for node in places {
            v.copies_checked += 1;
            let found: Vec<Value> = views
                .get(&node)
                .and_then(|m| m.get(&ack.case_no))
                .map(events_of)
                .unwrap_or_default()
                .into_iter()
                .filter(|e| s(e, "origin") == ack.node && e["seq"] == ack.seq)
                .collect();
            match found.as_slice() {
                [one] if s(one, "action") == ack.action => {}
                [one] => v.lost.push(format!(
                    "{}:{} ({} on {}, acknowledged) is a {} at {node}",
                    ack.node,
                    ack.seq,
                    ack.action,
                    ack.case_no,
                    s(one, "action")
                )),
                [] => v.lost.push(format!(
                    "{}:{} ({} on {}, acknowledged) is missing at {node}",
                    ack.node, ack.seq, ack.action, ack.case_no
                )),
                _ => {} // counted as duplicated above
            }
        }
    }

    // 5. Each node's own numbering.
    for (node, cases) in &views {
        let mut seqs: Vec<u64> = cases
            .values()
            .flat_map(events_of)
            .filter(|e| s(e, "origin") == node)
            .filter_map(|e| e["seq"].as_u64())
            .collect();
        seqs.sort_unstable();
        seqs.dedup();
        let n = seqs.len() as u64;
        if seqs.first().is_some_and(|f| *f != 1) || seqs.last().is_some_and(|l| *l != n) {
            let missing: Vec<u64> = (1..=seqs.last().copied().unwrap_or(0))
                .filter(|q| seqs.binary_search(q).is_err())
                .take(10)
                .collect();
            v.gaps.push(format!(
                "{node} holds {n} events of its own up to seq {}: missing {missing:?}…",
                seqs.last().copied().unwrap_or(0)
            ));
        }
    }
    v
}

/// Where two projections differ, briefly.
fn difference(expected: &Value, got: &Value) -> String {
    let mut out = String::new();
    for field in AGREED.iter().chain(&["participants"]) {
        if expected[*field] != got[*field] {
            let _ = write!(out, "{field} {} vs {}; ", expected[*field], got[*field]);
        }
    }
    let (a, b) = (
        expected["events"].as_array().cloned().unwrap_or_default(),
        got["events"].as_array().cloned().unwrap_or_default(),
    );
    for i in 0..a.len().max(b.len()) {
        if a.get(i) != b.get(i) {
            let _ = write!(
                out,
                "event #{i} {} vs {}; ",
                a.get(i).map_or("nothing".into(), Value::to_string),
                b.get(i).map_or("nothing".into(), Value::to_string)
            );
        }
    }
    out
}

// ---------------------------------------------------------------------- the report

/// Everything the summary table shows.
pub struct Report<'a> {
    pub params: Params,
    pub faults: Faults,
    pub loaded: Duration,
    pub settled_in: Duration,
    pub total: Duration,
    pub acks: &'a [Ack],
    pub verdict: &'a Verdict,
    pub answers: String,
}

impl Report<'_> {
    /// The summary table, between two marker lines (scripts/chaos.sh prints it again).
    pub fn table(&self) -> String {
        let v = self.verdict;
        let mut by_action: BTreeMap<&str, usize> = BTreeMap::new();
        for a in self.acks {
            *by_action.entry(a.action.as_str()).or_default() += 1;
        }
        let by_action: Vec<String> = by_action.iter().map(|(a, n)| format!("{a} {n}")).collect();
        let rows = [
            ("seed", self.params.seed.to_string()),
            (
                "load",
                format!(
                    "{:.1} s, {} clients (asked {:.0} s)",
                    self.loaded.as_secs_f64(),
                    self.params.clients,
                    self.params.load.as_secs_f64()
                ),
            ),
            ("kills (SIGKILL+restart)", self.faults.kills.to_string()),
            ("link cuts", self.faults.cuts.to_string()),
            ("long outages", self.faults.long_outages.to_string()),
            ("full restarts", self.faults.full_restarts.to_string()),
            ("clock jumps", self.faults.clock_jumps.to_string()),
            ("actions acknowledged", self.acks.len().to_string()),
            ("  by action", by_action.join(", ")),
            ("cases", v.cases.to_string()),
            (
                "events checked",
                format!(
                    "{} acknowledged ({} copies), {} events in all",
                    v.acked_checked, v.copies_checked, v.events_total
                ),
            ),
            ("lost", v.lost.len().to_string()),
            ("duplicated", v.duplicated.len().to_string()),
            ("divergent", v.divergent.len().to_string()),
            ("summary mismatches", v.summaries.len().to_string()),
            ("sequence gaps", v.gaps.len().to_string()),
            (
                "settled after load",
                format!("{:.1} s", self.settled_in.as_secs_f64()),
            ),
            ("total time", format!("{:.1} s", self.total.as_secs_f64())),
        ];
        let mut out = String::from("=== chaos summary ===\n");
        for (name, value) in rows {
            let _ = writeln!(out, "{name:<24} {value}");
        }
        let _ = writeln!(out, "answers: {}", self.answers);
        out.push_str("=== end of chaos summary ===\n");
        out
    }
}
