//! The simulated federation: seven real write paths (the core's `Writer` over a crashable
//! [`MemStore`], each with a manual [`Clock`], its group commit played by the schedule:
//! `group.rs`) joined by links, each end of which is the link protocol's own
//! state machine ([`protocol::Link`], the one `node/src/link/session.rs` drives over QUIC):
//! hello (each side states what it holds, a sender resumes after it, a store that forgot its
//! outbox is renumbered), batches of durable outbox items in order within the window, acks
//! only for what the receiver made durable. The simulation plays the network: it carries each
//! stream's frames in order, and loses what is in flight when a connection drops. One seeded RNG picks every step: a window's
//! action at any node, a batch sent or delivered, an ack delivered, a link cut or partitioned,
//! a node's group committed, or written without its flush, a node crashed (losing its group's
//! overlay and what no flush made durable) and restarted, a clock jump, a batch delivered
//! twice, a sweep, a 督办, and now and then a township's disk lost and the node restored from
//! its county (`restore.rs`). Nothing else runs: no timer, no socket, no thread — so a seed
//! repeats its run exactly.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, OnceLock};

use ed25519_dalek::SigningKey;
use federation_proto::frame::{Batch, Frame, Item};
use federation_proto::link::{self as protocol, Event, LinkError, Side};
use federation_proto::writer::{EngineError, Input, Output, Write};
use federation_proto::{
    codec, Actor, Applicant, ApplicantKind, CaseNo, EventBody, Holds, Intake, ItemKind, Level,
    NodeCode, Participant, Refusal, RefuseCode, State, StreamKind,
};
use liandong::case::Case;
use liandong::clock::Clock;
use liandong::reference::Reference;
use liandong::store::memory::MemStore;
use liandong::store::{CaseViews, Outbox, Store};

use crate::rng::Rng;

/// `LIANDONG_SIM_TRACE` set: the run says what it does, step by step, on stderr.
fn tracing() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("LIANDONG_SIM_TRACE").is_some())
}

macro_rules! trace {
    ($($arg:tt)*) => {
        if tracing() {
            eprintln!($($arg)*);
        }
    };
}

// After `trace!`, which they use.
#[path = "calendar.rs"]
mod calendar;
#[path = "group.rs"]
mod group;
#[path = "restore.rs"]
mod restore;
use group::Running;
use restore::Restoring;

/// 莆田市 with two of its districts and two townships under each: seven nodes, three levels.
pub const TREE: [(&str, Option<&str>); 7] = [
    ("350300", None),
    ("350322", Some("350300")),
    ("350302", Some("350300")),
    ("350322101", Some("350322")),
    ("350322100", Some("350322")),
    ("350302001", Some("350302")),
    ("350302100", Some("350302")),
];

/// 2025-09-30 09:00 +08:00, when every run starts.
const START_MS: u64 = 1_759_194_000_000;
/// Outbox items per batch (the real sender's bound is in bytes too; small batches give the
/// schedule more interleavings).
const BATCH_ITEMS: usize = 8;

/// A node's identity in the federation PKI: made once per process (certificates are slow to
/// make and need not vary between runs).
pub struct Identity {
    pub code: NodeCode,
    pub parent: Option<NodeCode>,
    pub key: SigningKey,
    pub cert: Vec<u8>,
}

pub struct Pki {
    pub ca_der: Vec<u8>,
    pub nodes: Vec<Identity>,
}

pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let ca = liandong::pki::new_ca(Some("simulation")).expect("a CA");
        let dir = tempfile::tempdir().expect("a temporary folder");
        let pem = dir.path().join("ca.crt");
        std::fs::write(&pem, &ca.cert_pem).expect("writing the CA certificate");
        let ca_der = liandong::pki::read_cert_pem(&pem).expect("reading the CA certificate");
        let authority =
            liandong::pki::Authority::new(ca_der.clone(), &ca.key_pem).expect("the authority");
        let nodes = TREE
            .iter()
            .enumerate()
            .map(|(i, (code, parent))| {
                let code: NodeCode = code.parse().expect("a division code");
                let key = SigningKey::from_bytes(&[i as u8 + 1; 32]);
                let cert = authority
                    .issue(code, &key.verifying_key(), 30)
                    .expect("a node certificate")
                    .der;
                Identity {
                    code,
                    parent: parent.map(|p| p.parse().expect("a division code")),
                    key,
                    cert,
                }
            })
            .collect();
        Pki { ca_der, nodes }
    })
}

/// One simulated node: its store survives crashes as a disk would, its writer and its group do
/// not.
pub struct Node {
    pub code: NodeCode,
    pub store: Arc<MemStore>,
    pub clock: Clock,
    /// How far this node's clock is from the world's time (clock jumps move it).
    pub skew_ms: i64,
    pub running: Option<Running>,
    /// The catalog and calendar in force, read from the store at each start
    /// (`calendar::reference_from`) and changed by what the writer adopts.
    pub reference: Arc<Reference>,
    /// The disk was lost and the node is being rebuilt from its parent (`liandong restore`):
    /// it serves nothing and only dials its parent until the restore completes.
    pub restore: Option<Restoring>,
}

/// One side of a live connection: the link protocol's own state machine (the one
/// `node/src/link/session.rs` drives over QUIC), and the frames it wrote that are on their way
/// to the other side, each stream in order.
pub struct End {
    pub link: protocol::Link,
    pub control: VecDeque<Frame>,
    pub bulk: VecDeque<Frame>,
}

/// The link between a child and its parent.
pub struct Link {
    pub child: usize,
    pub parent: usize,
    /// The live connection: `[the child's end, the parent's end]`.
    pub conn: Option<[End; 2]>,
    /// The number of the connection last made (a receipt owed to an earlier one is dropped).
    pub conn_id: u64,
    /// A partition: no connection until healed.
    pub partitioned: bool,
}

/// An action a node answered with success: it must never be lost.
#[derive(Debug, Clone)]
pub struct Ack {
    pub node: NodeCode,
    pub seq: u64,
    pub case_no: CaseNo,
    pub action: &'static str,
    /// Lost with its node's disk before it reached the parent, the node's off-site backup: the
    /// one loss the design allows (`restore.rs`).
    pub lost: bool,
}

/// A deliberately broken node, for the self-tests that show the checks can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// Stores whose flushes report success and make nothing durable.
    LyingFlushes,
    /// A shell that answers a clerk, and acks a peer's batch, before the group's flush.
    EarlyAnswers,
}

/// What a run did, for the report.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub steps: u64,
    pub acked: u64,
    pub refused: u64,
    pub crashes: u64,
    pub cuts: u64,
    pub partitions: u64,
    pub clock_jumps: u64,
    pub duplicates: u64,
    pub batches: u64,
    /// Calendar notices loaded at the city (and broadcast down).
    pub calendars: u64,
    /// Groups committed, and groups lost with a crash while they held answers.
    pub groups: u64,
    pub groups_lost: u64,
    pub disk_losses: u64,
    /// Restores that completed (the node then ran again).
    pub restores: u64,
    /// Acknowledged actions lost with a disk: they had not reached the parent.
    pub lost: u64,
    /// Case numbers a restored node gave again, their first case having been lost with the
    /// disk (see `World::record_ack`).
    pub renumbered: u64,
}

pub struct World {
    pub rng: Rng,
    pub nodes: Vec<Node>,
    pub links: Vec<Link>,
    pub acks: Vec<Ack>,
    pub tally: Tally,
    /// Findings during the run (an error where none may be); the checks after it add more.
    pub findings: Vec<String>,
    time_ms: u64,
    /// Every store lies about its flushes: the deliberately broken node of a self-test.
    lying: bool,
    /// Every node answers its clerks and acks batches when a request is stepped, before its
    /// group's flush: the deliberately broken shell of the other self-test.
    pub(crate) early: bool,
}

impl World {
    pub fn new(seed: u64, fault: Fault) -> World {
        let lying = fault == Fault::LyingFlushes;
        let pki = pki();
        let nodes = pki
            .nodes
            .iter()
            .map(|id| {
                let store = Arc::new(MemStore::new());
                if lying {
                    store.lie_about_flushes();
                }
                let reference =
                    calendar::reference_from(&store).expect("the built-in reference data");
                Node {
                    code: id.code,
                    reference,
                    store,
                    clock: Clock::manual(START_MS),
                    skew_ms: 0,
                    running: None,
                    restore: None,
                }
            })
            .collect();
        let index = |code: NodeCode| {
            pki.nodes
                .iter()
                .position(|n| n.code == code)
                .expect("a node of the tree")
        };
        let links = pki
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(i, id)| {
                id.parent.map(|p| Link {
                    child: i,
                    parent: index(p),
                    conn: None,
                    conn_id: 0,
                    partitioned: false,
                })
            })
            .collect();
        let mut world = World {
            rng: Rng::new(seed),
            nodes,
            links,
            acks: Vec::new(),
            tally: Tally::default(),
            findings: Vec::new(),
            time_ms: START_MS,
            lying,
            early: fault == Fault::EarlyAnswers,
        };
        for i in 0..world.nodes.len() {
            world.start(i);
        }
        world
    }

    /// Starts node `i`: its `liandong run`, or its `liandong restore` while one is pending.
    fn start(&mut self, i: usize) {
        if self.nodes[i].restore.is_some() {
            self.start_restore(i);
            return;
        }
        trace!("{} starts", self.nodes[i].code);
        self.boot(i);
        // As `liandong run` does before it serves: broadcast its own reference data where it
        // changed, and re-evaluate every case (the calendar may have changed while it was down,
        // or after the group that adopted it and before the sweep that follows one).
        for input in [Input::Publish, Input::Sweep { full: true }] {
            if let Err(e) = self.ask(i, input) {
                let code = self.nodes[i].code;
                self.findings.push(format!("{code}: starting: {e}"));
            }
        }
    }

    /// One step of the schedule.
    pub fn step(&mut self) {
        self.tally.steps += 1;
        self.time_ms += self.rng.below(90_000) as u64;
        for node in &self.nodes {
            node.clock
                .set_ms((self.time_ms as i64 + node.skew_ms).max(0) as u64);
        }
        match self.rng.below(100) {
            0 => self.lose_disk_any(),
            1..=27 => self.window_action(),
            28..=35 => self.commit_any(),
            36 => self.write_group(),
            37..=52 => self.send_batch(),
            53..=71 => self.deliver_batch(),
            72..=81 => self.deliver_ack(),
            82..=86 => self.connect_any(),
            87..=88 => self.cut_any(false),
            89 => self.cut_any(true),
            90 => self.heal_any(),
            91 => self.crash_any(),
            92..=93 => self.restart_any(),
            94 => self.clock_jump(),
            95 => self.duplicate_batch(),
            96..=97 => self.sweep_any(),
            98 => self.notice_any(),
            _ => self.load_calendar_any(),
        }
        self.restore_traffic();
    }

    /// The nodes that serve: running, and not in the middle of a restore (`liandong restore`
    /// has no API and no sweep).
    fn up(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].running.is_some() && self.nodes[i].restore.is_none())
            .collect()
    }

    /// Whether node `i` runs (`liandong run` or `liandong restore`).
    fn runs(&self, i: usize) -> bool {
        self.nodes[i].running.is_some()
    }

    // --- the windows -------------------------------------------------------------------

    /// A clerk's action at a random running node: a new case, or an action on a case held
    /// there that the case's state makes plausible (refusals are fine: they change nothing).
    fn window_action(&mut self) {
        let Some(&i) = self.rng.choose(&self.up()) else {
            return;
        };
        let code = self.nodes[i].code;
        // A case this node holds, found from the case numbers acknowledged so far (reading
        // every case the node holds at each step would dominate the run).
        let held = if self.acks.is_empty() || self.rng.chance(0.30) {
            None
        } else {
            let no = self.acks[self.rng.below(self.acks.len())].case_no;
            self.nodes[i].store.case(&no).ok().flatten()
        };
        let (write, actor) = match held {
            None => (Write::Submit(self.intake(code)), clerk(None)),
            Some(case) => match self.action_on(&case, code) {
                Some(choice) => choice,
                None => return,
            },
        };
        let action = match &write {
            Write::Submit(_) => "submit",
            Write::Act { body, .. } => body.action(),
        };
        let input = Input::Write {
            actor,
            write,
            once: None,
        };
        let answer = self.stage(i, input).and_then(Output::case);
        trace!(
            "{code}: {action} → {}",
            match &answer {
                Ok(c) => format!("{} {} owner {}", c.case_no, c.state.as_str(), c.owner),
                Err(e) => e.to_string(),
            }
        );
        match answer {
            Ok(case) => {
                let seq = case
                    .log
                    .iter()
                    .filter(|l| l.id.origin == code)
                    .map(|l| l.id.seq)
                    .max();
                // Acknowledged to the clerk only when the group is durable.
                match seq {
                    Some(seq) => self.owe_ack(
                        i,
                        Ack {
                            node: code,
                            seq,
                            case_no: case.case_no,
                            action,
                            lost: false,
                        },
                    ),
                    None => self
                        .findings
                        .push(format!("{code} answered {action} with no event of its own")),
                }
            }
            Err(EngineError::Refused(_)) | Err(EngineError::NotFound(_)) => self.tally.refused += 1,
            Err(e) => self.findings.push(format!("{code}: {action} failed: {e}")),
        }
    }

    pub fn intake(&mut self, at: NodeCode) -> Intake {
        let levels: Vec<Level> = [Level::Township, Level::County, Level::City]
            .into_iter()
            .filter(|l| *l <= at.level())
            .collect();
        let deciding_level = *self.rng.choose(&levels).unwrap_or(&at.level());
        Intake {
            item: "SIM".into(),
            item_name: "模拟事项".into(),
            kind: ItemKind::Promised,
            department: "住建".into(),
            deciding_level,
            applicant: Applicant {
                kind: ApplicantKind::Person,
                name: "张三".into(),
                id: "11010519491231002X".into(),
            },
            materials: vec![],
            missing: vec![],
            owed: vec![],
            promised_days: 3,
            legal_days: 10,
            fee_fen: 0,
            first_review_days: 0,
        }
    }

    /// An action `at` could take on `case`, by its role in it.
    fn action_on(&mut self, case: &Case, at: NodeCode) -> Option<(Write, Actor)> {
        let mut options: Vec<(EventBody, Actor)> = Vec::new();
        if case.owner == at {
            let others: Vec<NodeCode> = self
                .nodes
                .iter()
                .map(|n| n.code)
                .filter(|c| *c != at)
                .collect();
            if let Some(to) = case.default_forward(at) {
                options.push((EventBody::Forward { to }, clerk(None)));
            }
            if let Some(&to) = self.rng.choose(&others) {
                options.push((EventBody::Forward { to }, clerk(None)));
            }
            options.push((EventBody::Review, clerk(None)));
            let approve = self.rng.chance(0.70);
            let decide = EventBody::Decide {
                approve,
                reason: "审查完毕".into(),
                override_reason: None,
            };
            options.push((decide, clerk(None)));
            let mut seats = vec![Participant {
                node: at,
                department: "人防".into(),
            }];
            if let Some(&other) = self.rng.choose(&others) {
                seats.push(Participant {
                    node: other,
                    department: "自然资源".into(),
                });
            }
            let review = EventBody::OpenJointReview {
                participants: seats,
                feedback_days: 3,
            };
            options.push((review, clerk(None)));
            let certify = EventBody::Certify {
                certificate_no: format!("证{}", case.case_no.seq),
            };
            options.push((certify, clerk(None)));
            options.push((EventBody::Deliver, clerk(None)));
        }
        if case.forwarded_to == Some(at) {
            options.push((EventBody::TakeOver, clerk(None)));
            options.push((EventBody::TakeOver, clerk(None)));
        }
        if let Some(joint) = &case.joint {
            for seat in joint.seats.iter().filter(|s| s.participant.node == at) {
                let opinion = EventBody::Opinion {
                    agree: self.rng.chance(0.80),
                    comment: "同意".into(),
                };
                let dept = Some(seat.participant.department.clone());
                options.push((opinion, clerk(dept)));
            }
        }
        if case.accepting_node == at && self.rng.chance(0.25) {
            options.push((EventBody::Withdraw, clerk(None)));
        }
        let pick = self.rng.below(options.len().max(1));
        let (body, actor) = options.into_iter().nth(pick)?;
        Some((
            Write::Act {
                case_no: case.case_no,
                body,
            },
            actor,
        ))
    }

    /// Records an acknowledged action. A submission's case number must be new: one given
    /// before to a case that still exists is a finding. One whose first case was lost with a
    /// disk is counted, and is a finding of the checks (`check.rs`, 7): a restored node skips
    /// every number its lost store may have issued.
    fn record_ack(&mut self, ack: Ack) {
        if ack.action == "submit" {
            let earlier: Vec<bool> = self
                .acks
                .iter()
                .filter(|a| a.action == "submit" && a.case_no == ack.case_no)
                .map(|a| a.lost)
                .collect();
            if earlier.iter().any(|lost| !lost) {
                self.findings
                    .push(format!("case number {} issued twice", ack.case_no));
            } else if !earlier.is_empty() {
                trace!("{}: {} given again after a restore", ack.node, ack.case_no);
                self.tally.renumbered += 1;
            }
        }
        self.tally.acked += 1;
        self.acks.push(ack);
    }

    /// A 督办 from a running node on a case a descendant owns, known here by its summary.
    fn notice_any(&mut self) {
        let Some(&i) = self.rng.choose(&self.up()) else {
            return;
        };
        let code = self.nodes[i].code;
        let owned_below: Vec<CaseNo> = self.nodes[i]
            .store
            .summaries()
            .filter_map(Result::ok)
            .filter(|s| code.is_ancestor_of(s.owner) && s.state != State::Withdrawn)
            .map(|s| s.case_no)
            .collect();
        let Some(&case_no) = self.rng.choose(&owned_below) else {
            return;
        };
        self.supervise(i, case_no);
    }

    fn sweep_any(&mut self) {
        if let Some(&i) = self.rng.choose(&self.up()) {
            self.sweep(i);
        }
    }

    pub fn sweep(&mut self, i: usize) {
        if self.runs(i) {
            if let Err(e) = self.ask(i, Input::Sweep { full: false }) {
                let code = self.nodes[i].code;
                self.findings.push(format!("{code}: sweep failed: {e}"));
            }
        }
    }

    // --- scripted scenarios ----------------------------------------------------------------

    /// The node of `code`.
    pub fn index(&self, code: &str) -> usize {
        self.nodes
            .iter()
            .position(|n| n.code.to_string() == code)
            .expect("a node of the tree")
    }

    /// A window's action at node `i`, recorded as acknowledged when it succeeds.
    pub fn act(&mut self, i: usize, write: Write) -> Result<Case, EngineError> {
        let code = self.nodes[i].code;
        let action = match &write {
            Write::Submit(_) => "submit",
            Write::Act { body, .. } => body.action(),
        };
        let input = Input::Write {
            actor: clerk(None),
            write,
            once: None,
        };
        let case = self.ask(i, input)?.case()?;
        if let Some(seq) = case
            .log
            .iter()
            .filter(|l| l.id.origin == code)
            .map(|l| l.id.seq)
            .max()
        {
            self.record_ack(Ack {
                node: code,
                seq,
                case_no: case.case_no,
                action,
                lost: false,
            });
        }
        Ok(case)
    }

    /// Moves node `i`'s clock by `ms` (a clock set wrong).
    pub fn jump(&mut self, i: usize, ms: i64) {
        self.nodes[i].skew_ms += ms;
        self.nodes[i]
            .clock
            .set_ms((self.time_ms as i64 + self.nodes[i].skew_ms).max(0) as u64);
    }

    // --- faults --------------------------------------------------------------------------

    /// A power cut: the writer is gone with its group (the overlay, and the answers it owed),
    /// the store keeps what its last flush made durable, the node's connections drop. It stays down until a restart step (or the heal). A node in the
    /// middle of a restore may crash too: its restore starts again on restart.
    fn crash_any(&mut self) {
        let running: Vec<usize> = (0..self.nodes.len()).filter(|&i| self.runs(i)).collect();
        let Some(&i) = self.rng.choose(&running) else {
            return;
        };
        self.tally.crashes += 1;
        trace!("{} crashes", self.nodes[i].code);
        if self.nodes[i].running.take().is_some_and(|r| r.owes()) {
            self.tally.groups_lost += 1;
        }
        self.nodes[i].store.crash();
        for link in &mut self.links {
            if link.child == i || link.parent == i {
                link.conn = None;
            }
        }
    }

    fn restart_any(&mut self) {
        let down: Vec<usize> = (0..self.nodes.len()).filter(|&i| !self.runs(i)).collect();
        if let Some(&i) = self.rng.choose(&down) {
            self.start(i);
        }
    }

    /// A connection dropped (what was in flight is lost); with `partition`, the link also
    /// stays down until healed.
    fn cut_any(&mut self, partition: bool) {
        let l = self.rng.below(self.links.len());
        let link = &mut self.links[l];
        if link.conn.take().is_some() {
            self.tally.cuts += 1;
            trace!(
                "link {} – {} cut (partition: {partition})",
                link.child,
                link.parent
            );
        }
        if partition && !link.partitioned {
            link.partitioned = true;
            self.tally.partitions += 1;
        }
    }

    fn heal_any(&mut self) {
        let l = self.rng.below(self.links.len());
        self.links[l].partitioned = false;
    }

    /// A node's clock set forward by up to three days, or back by up to two hours; half the
    /// time the node sweeps its cases at once, writing summaries dated by the jumped clock (a
    /// county's sweep with its clock ahead once held the city's view of a case it had handed
    /// on).
    fn clock_jump(&mut self) {
        let i = self.rng.below(self.nodes.len());
        let jump = self.rng.below(3 * 86_400_000 + 7_200_000) as i64 - 7_200_000;
        self.nodes[i].skew_ms += jump;
        self.nodes[i]
            .clock
            .set_ms((self.time_ms as i64 + self.nodes[i].skew_ms).max(0) as u64);
        self.tally.clock_jumps += 1;
        if self.rng.chance(0.5) {
            self.sweep(i);
        }
    }

    // --- links ---------------------------------------------------------------------------

    fn connect_any(&mut self) {
        let l = self.rng.below(self.links.len());
        self.connect(l);
    }

    /// A connection opened: each side flushes and states in its hello what it holds from the
    /// other and has queued for it; the state machines exchange the hellos and each side does
    /// what coming up asks (renumber an outbox that is behind, take the peer's certificate, a
    /// parent welcoming a child that holds nothing, drop what the peer holds).
    pub fn connect(&mut self, l: usize) -> bool {
        let (c, p) = (self.links[l].child, self.links[l].parent);
        if self.links[l].conn.is_some() || self.links[l].partitioned {
            return false;
        }
        if !self.runs(c) || !self.runs(p) {
            return false;
        }
        // `liandong restore` listens on a port of its own choosing, which no child dials.
        if self.nodes[p].restore.is_some() {
            return false;
        }
        let (cc, pc) = (self.nodes[c].code, self.nodes[p].code);
        let mut ends = Vec::new();
        for (me, peer, side) in [(c, pc, Side::Child), (p, cc, Side::Parent)] {
            let store = &self.nodes[me].store;
            if let Err(e) = store.flush() {
                self.findings.push(format!("hello flush failed: {e}"));
                return false;
            }
            let counters = store.link_counters().unwrap_or_default();
            let ours = counters.get(&peer).copied().unwrap_or_default();
            let config = protocol::Config {
                me: self.nodes[me].code,
                peer,
                side,
                holds: Holds {
                    received_upto: ours.received,
                    queued_upto: ours.queued,
                },
                // As in the session: every connection of `liandong restore` asks for the copy.
                restore: side == Side::Child && self.nodes[me].restore.is_some(),
            };
            ends.push(End {
                link: protocol::Link::new(config, self.time_ms),
                control: VecDeque::new(),
                bulk: VecDeque::new(),
            });
        }
        let Ok(mut ends) = <[End; 2]>::try_from(ends) else {
            return false;
        };
        // The hellos: the child's first, the parent's in answer.
        for (from, to) in [(0, 1), (1, 0)] {
            while let Some(frame) = ends[from].link.poll_transmit() {
                ends[to]
                    .link
                    .handle_frame(self.time_ms, StreamKind::Control, frame);
            }
        }
        trace!(
            "{cc} – {pc} connected: child sent {:?}, parent sent {:?}",
            ends[0].link.sent(),
            ends[1].link.sent()
        );
        self.links[l].conn = Some(ends);
        self.links[l].conn_id += 1;
        for d in 0..2 {
            self.carry_out(l, d);
        }
        self.links[l].conn.is_some()
    }

    /// The node at end `d` of link `l` does what its state machine asks, and what it writes
    /// goes on the wire; a machine that closed ends the connection.
    fn carry_out(&mut self, l: usize, d: usize) {
        self.drive_end(l, d);
        // A restoring child may now hold what its parent queued: `liandong restore` watches
        // for that whatever the link does next.
        if d == 0 {
            self.restore_progress(self.links[l].child);
        }
    }

    fn drive_end(&mut self, l: usize, d: usize) {
        let me = if d == 0 {
            self.links[l].child
        } else {
            self.links[l].parent
        };
        if !self.runs(me) {
            self.links[l].conn = None;
            return;
        }
        loop {
            let Some(end) = self.links[l].conn.as_mut().map(|ends| &mut ends[d]) else {
                return;
            };
            let peer = end.link.peer();
            let Some(event) = end.link.poll_event() else {
                break;
            };
            let done = match event {
                Event::Up(up) => {
                    let cert = pki()
                        .nodes
                        .iter()
                        .find(|n| n.code == peer)
                        .map(|n| n.cert.clone())
                        .unwrap_or_default();
                    let held = up.theirs.holds.received_upto;
                    // The session awaits each of these before the link goes on.
                    let rebased = match up.rebase {
                        Some(floor) => self.ask(me, Input::Rebase { peer, floor }).map(|_| ()),
                        None => Ok(()),
                    };
                    rebased
                        .and_then(|()| {
                            let learn = Input::Learn {
                                code: peer,
                                der: cert,
                                welcome: up.welcome,
                            };
                            self.ask(me, learn)
                        })
                        .and_then(|_| self.ask(me, Input::Ack { peer, upto: held }))
                        .map(|_| ())
                }
                Event::Acked(upto) => self.ask(me, Input::Ack { peer, upto }).map(|_| ()),
                Event::Batch(batch) => {
                    // Checked ahead with the directory's keys, as the session checks it, then
                    // staged: its receipt is owed until the group is durable.
                    let keys = self.nodes[me].running.as_ref().map(|r| r.writer.keys());
                    let checked = match keys {
                        Some(keys) => liandong::verify::Checked::new(batch, &keys),
                        None => liandong::verify::Checked::unchecked(batch),
                    };
                    let input = Input::Receive {
                        from: peer,
                        checked,
                    };
                    match self.stage(me, input).and_then(Output::receipt) {
                        Ok(receipt) => {
                            let at = self.nodes[me].code;
                            trace!(
                                "{at} took a batch from {peer}: ack {} once durable",
                                receipt.ack_upto
                            );
                            for r in &receipt.rejected {
                                trace!("{at} rejected an item from {peer}: {r}");
                            }
                            self.owe_receipt(me, l, d, receipt.ack_upto);
                        }
                        Err(e) => {
                            let refusal = match e {
                                EngineError::Link(r) => r,
                                e => {
                                    let at = self.nodes[me].code;
                                    self.findings.push(format!(
                                        "{at} could not take a batch from {peer}: {e}"
                                    ));
                                    Refusal::new(RefuseCode::Malformed, e.to_string())
                                }
                            };
                            if let Some(ends) = self.links[l].conn.as_mut() {
                                ends[d].link.handle_receipt(Err(refusal));
                            }
                        }
                    }
                    Ok(())
                }
                Event::RestoreRequested => match self.queue_restore(me, peer) {
                    Ok(upto) => {
                        if let Some(ends) = self.links[l].conn.as_mut() {
                            ends[d].link.restore_queued(upto);
                        }
                        Ok(())
                    }
                    Err(e) => Err(e),
                },
                Event::RestoreQueued(upto) => {
                    self.restore_queued(me, upto);
                    Ok(())
                }
                other => {
                    self.findings
                        .push(format!("an event the simulation never causes: {other:?}"));
                    Ok(())
                }
            };
            if let Err(e) = done {
                self.findings
                    .push(format!("{} with {peer}: {e}", self.nodes[me].code));
                self.links[l].conn = None;
                return;
            }
        }
        let Some(ends) = self.links[l].conn.as_mut() else {
            return;
        };
        let durable = self.nodes[me]
            .running
            .as_ref()
            .and_then(|r| r.durable.get(&ends[d].link.peer()).copied())
            .unwrap_or(0);
        ends[d].link.handle_outbox(durable);
        while let Some(frame) = ends[d].link.poll_transmit() {
            ends[d].control.push_back(frame);
        }
        let closed = ends.iter().find_map(|e| e.link.closed().cloned());
        if let Some(why) = closed {
            trace!("link {l} closed: {why}");
            // Only a close the protocol provides for is fine: one that says a side broke its
            // rules is a finding.
            let broken = matches!(&why, LinkError::BulkOutsidePermit { .. })
                || matches!(why.refusal(), Some(r) if r.code == RefuseCode::Malformed);
            if broken {
                self.findings.push(format!("link {l} closed: {why}"));
            }
            self.links[l].conn = None;
        }
    }

    /// The connected flows, as (link, direction): 0 is child → parent.
    fn flows(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (l, link) in self.links.iter().enumerate() {
            if link.conn.is_some() {
                out.push((l, 0));
                out.push((l, 1));
            }
        }
        out
    }

    /// (sender, receiver) of a flow.
    fn ends(&self, l: usize, dir: usize) -> (usize, usize) {
        let link = &self.links[l];
        if dir == 0 {
            (link.child, link.parent)
        } else {
            (link.parent, link.child)
        }
    }

    fn send_batch(&mut self) {
        if let Some(&(l, d)) = self.rng.choose(&self.flows()) {
            self.send(l, d);
        }
    }

    /// The sender's next batch, as its state machine permits: consecutive outbox items after
    /// what it sent, only up to what its engine has published as durable. `true` when a batch
    /// went out.
    pub fn send(&mut self, l: usize, d: usize) -> bool {
        let (from, _) = self.ends(l, d);
        self.carry_out(l, d);
        let Some(ends) = self.links[l].conn.as_mut() else {
            return false;
        };
        let end = &mut ends[d];
        let Some(permit) = end.link.poll_bulk() else {
            return false;
        };
        let peer = end.link.peer();
        let max = permit.max_items.min(BATCH_ITEMS);
        let queued = match self.nodes[from].store.outbox(peer, permit.after, max) {
            Ok(q) => q,
            Err(e) => {
                self.findings.push(format!("reading an outbox: {e}"));
                return false;
            }
        };
        let Some(first) = queued
            .first()
            .map(|(s, _)| *s)
            .filter(|s| *s <= permit.upto)
        else {
            end.link.bulk_empty();
            return false;
        };
        let mut items = Vec::new();
        for (k, (seq, raw)) in queued.into_iter().enumerate() {
            if seq != first + k as u64 || seq > permit.upto {
                break;
            }
            match codec::decode::<Item>(&raw, 1 << 20) {
                Ok(item) => items.push(item),
                Err(e) => {
                    self.findings
                        .push(format!("an outbox item does not decode: {e}"));
                    return false;
                }
            }
        }
        let last = first + items.len() as u64 - 1;
        trace!(
            "{} → {peer}: batch {first}..={last}: {:?}",
            self.nodes[from].code,
            items
                .iter()
                .map(|i| (i.kind, i.to.clone()))
                .collect::<Vec<_>>()
        );
        end.link.bulk_sent(first, last);
        end.bulk.push_back(Frame::Batch(Batch { first, items }));
        self.tally.batches += 1;
        // The machine may have closed the link (an outbox that jumps: the real session gives
        // up on the connection and the next hello settles it).
        self.carry_out(l, d);
        true
    }

    fn deliver_batch(&mut self) {
        if let Some(&(l, d)) = self.rng.choose(&self.flows()) {
            self.deliver(l, d, false);
        }
    }

    /// A batch delivered twice (the second time as if resent).
    fn duplicate_batch(&mut self) {
        if let Some(&(l, d)) = self.rng.choose(&self.flows()) {
            if self.deliver(l, d, true) {
                self.tally.duplicates += 1;
                self.deliver(l, d, false);
            }
        }
    }

    /// The receiver takes the first batch in flight, if its state machine wants one; the
    /// engine applies it and its ack goes back once durable. A batch that does not fit the
    /// link ends the connection, as in the real session.
    pub fn deliver(&mut self, l: usize, d: usize, keep: bool) -> bool {
        let now = self.time_ms;
        let Some(ends) = self.links[l].conn.as_mut() else {
            return false;
        };
        if !ends[1 - d].link.wants_batch() {
            return false;
        }
        let frame = if keep {
            ends[d].bulk.front().cloned()
        } else {
            ends[d].bulk.pop_front()
        };
        let Some(frame) = frame else {
            return false;
        };
        ends[1 - d].link.handle_frame(now, StreamKind::Bulk, frame);
        self.carry_out(l, 1 - d);
        true
    }

    fn deliver_ack(&mut self) {
        if let Some(&(l, d)) = self.rng.choose(&self.flows()) {
            self.ack(l, d);
        }
    }

    /// The sender of flow `d` reads the receiver's next control frame (an ack: it drops what
    /// the receiver holds durably).
    pub fn ack(&mut self, l: usize, d: usize) -> bool {
        let now = self.time_ms;
        let Some(ends) = self.links[l].conn.as_mut() else {
            return false;
        };
        let Some(frame) = ends[1 - d].control.pop_front() else {
            return false;
        };
        ends[d].link.handle_frame(now, StreamKind::Control, frame);
        self.carry_out(l, d);
        true
    }

    /// Everything healed: every node up, every link connected, and traffic run until nothing
    /// moves. `false` if it does not settle within a bound.
    ///
    /// A restore under way completes on the way (the node then runs again at once); one still
    /// under way once traffic has stopped is a finding.
    pub fn heal(&mut self) -> bool {
        trace!("heal");
        for i in 0..self.nodes.len() {
            if !self.runs(i) {
                self.start(i);
            }
        }
        for link in &mut self.links {
            link.partitioned = false;
        }
        for l in 0..self.links.len() {
            self.connect(l);
        }
        let settled = self.settle();
        for node in &self.nodes {
            if node.restore.is_some() {
                let code = node.code;
                self.findings.push(format!(
                    "the restore of {code} did not complete in the heal"
                ));
            }
        }
        settled
    }

    /// Every clock moves a month on — every open case turns red — and every running node
    /// sweeps (not full: the periodic sweep, `writer/sweep_index.rs`'s index when built),
    /// traffic runs until nothing moves, and every node sweeps again (the parents now hold
    /// their children's red summaries: their automatic 督办s are due) and traffic settles:
    /// each owner's summaries are then those of its clock's day (check 8) and every due 督办
    /// is raised (check 9). A sweep that missed a case leaves it green, or unsupervised.
    pub fn sweep_everywhere(&mut self) -> bool {
        for i in 0..self.nodes.len() {
            self.jump(i, 30 * 86_400_000);
            self.sweep(i);
        }
        if !self.settle() {
            return false;
        }
        for i in 0..self.nodes.len() {
            self.sweep(i);
        }
        self.settle()
    }

    /// Runs traffic until nothing moves (a connection the protocol dropped comes back, as a
    /// redial would); `false` if it does not stop within a bound.
    fn settle(&mut self) -> bool {
        for _ in 0..10_000 {
            // Every group commits: the nodes run until their queues are empty.
            let mut moved = self.commit_all();
            for (l, d) in self.flows() {
                while self.send(l, d) {
                    moved = true;
                }
                while self.deliver(l, d, false) {
                    moved = true;
                }
                while self.ack(l, d) {
                    moved = true;
                }
            }
            // A connection the protocol dropped on the way comes back, as a redial would.
            for l in 0..self.links.len() {
                moved |= self.connect(l);
            }
            if !moved {
                return true;
            }
        }
        false
    }

    /// Stops every writer.
    pub fn shut_down(&mut self) {
        for node in &mut self.nodes {
            node.running = None;
        }
    }

    pub fn fault(&self) -> Fault {
        match (self.lying, self.early) {
            (true, _) => Fault::LyingFlushes,
            (_, true) => Fault::EarlyAnswers,
            _ => Fault::None,
        }
    }
}

fn clerk(department: Option<String>) -> Actor {
    Actor {
        name: "模拟窗口".into(),
        department,
    }
}

/// The cases each node holds: node index → case number → case.
pub fn holdings(world: &World) -> Vec<BTreeMap<CaseNo, Case>> {
    world
        .nodes
        .iter()
        .map(|n| {
            n.store
                .cases()
                .filter_map(Result::ok)
                .map(|c| (c.case_no, c))
                .collect()
        })
        .collect()
}
