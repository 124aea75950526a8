//! Federations of real `liandong` nodes on loopback: one federation CA, and nodes linked
//! child → parent over QUIC, each in its own folder under one temporary directory:
//!
//! ```text
//! TMP/pki/         the federation CA (`liandong ca init`)
//! TMP/<name>/      one node: node.toml, admin.token, node.key, node.crt, ca.crt, data/, ports.json
//! ```
//!
//! A member is known by a name, which is its division code for every honest node (tests of
//! impostors give theirs other names). Parents start before their children: a child is
//! initialised with `--parent CODE@127.0.0.1:<the parent's QUIC port>`. Because a node on port 0
//! binds a new port at every start, each node's `node.toml` is rewritten after its first start
//! to the ports it got (QUIC and API), so that its children reconnect, and clients find it,
//! after it restarts.
//!
//! Every node runs with `--clock`: first at [`CLOCK`], and at each restart a little later than
//! its clock had reached (never backwards) — or at a later instant the test chooses
//! ([`Federation::start_at`], e.g. weeks on, to let deadlines pass).

use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use federation_proto::Date;
use serde_json::Value;

use super::{agent, liandong, path_str, Node};

/// Where the clock of every federation node starts (China Standard Time): a Tuesday, the day
/// before the National Day holidays.
pub const CLOCK: &str = "2025-09-30T09:00";

/// How long replication may take to settle in a test on loopback before a wait fails.
pub const SETTLE: Duration = Duration::from_secs(20);

/// How long `liandong restore` may run.
const RESTORE_TIMEOUT: Duration = Duration::from_secs(30);

/// Polls `cond` every 20 ms until it holds (→ `true`) or `timeout` has passed (→ `false`).
/// Waiting is how tests observe asynchronous replication; a fixed sleep never is.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sets its flag when dropped by a panicking thread: a load thread that fails tells the others
/// (and the test) to stop.
pub struct RaiseOnPanic<'a>(pub &'a AtomicBool);

impl Drop for RaiseOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

/// A federation of running (or stopped) nodes sharing one CA.
pub struct Federation {
    /// Declared before `tmp`: the nodes are killed before their folders are removed.
    members: BTreeMap<String, Member>,
    /// Names in the order they were added (parents first).
    order: Vec<String>,
    pki: PathBuf,
    tmp: tempfile::TempDir,
}

struct Member {
    node: Node,
    /// The clock of the latest start, in minutes after [`CLOCK`], and when that start was.
    clock: Option<(u64, Instant)>,
    /// For a member made by [`Federation::add`]: its parent's code ("" for the root). `None`
    /// for the others (impostors), which no settling waits for.
    parent: Option<String>,
}

impl Federation {
    /// Creates the CA, then adds each `(code, parent code)` in order — parents first — with
    /// [`Federation::add`]: every node initialised, certified, started and ready.
    pub fn start(tree: &[(&str, Option<&str>)]) -> Federation {
        let mut fed = Federation::with_ca();
        for (code, parent) in tree {
            fed.add(code, *parent);
        }
        fed
    }

    /// An empty federation: a temporary directory with the federation CA in `pki/`.
    pub fn with_ca() -> Federation {
        let tmp = tempfile::tempdir().expect("creating a temporary directory");
        let pki = tmp.path().join("pki");
        let out = liandong(&["ca", "init", "--dir", path_str(&pki), "--name", "莆田市"]);
        assert!(out.status.success(), "liandong ca init failed: {out:?}");
        Federation {
            members: BTreeMap::new(),
            order: Vec::new(),
            pki,
            tmp,
        }
    }

    /// The folder holding the CA and every node folder.
    pub fn root(&self) -> &Path {
        self.tmp.path()
    }

    /// The federation CA's folder.
    pub fn pki(&self) -> &Path {
        &self.pki
    }

    /// A node in the federation: `liandong init` (with `--parent CODE@127.0.0.1:PORT` of the
    /// running `parent`), `liandong ca issue` into the same folder, start, wait for `ready`,
    /// pin its ports in node.toml.
    pub fn add(&mut self, code: &str, parent: Option<&str>) -> &Node {
        let parent_arg = parent.map(|p| self.parent_arg(p));
        self.init(code, code, parent_arg.as_deref());
        self.member(code).parent = Some(parent.unwrap_or_default().to_string());
        let pki = self.pki.clone();
        self.issue(code, &pki, code);
        self.start_again(code);
        self.node(code)
    }

    /// Like [`Federation::add`], but the node dials its parent at `via` (a [`UdpRelay`] in
    /// front of the parent) instead of the parent's own address.
    pub fn add_via(&mut self, code: &str, parent: &str, via: SocketAddr) -> &Node {
        self.init(code, code, Some(&format!("{parent}@{via}")));
        self.member(code).parent = Some(parent.to_string());
        let pki = self.pki.clone();
        self.issue(code, &pki, code);
        self.start_again(code);
        self.node(code)
    }

    /// The `--parent` argument naming the running member `parent`: `CODE@127.0.0.1:<quic>`.
    pub fn parent_arg(&self, parent: &str) -> String {
        let node = self.node(parent);
        let port = node.quic_port().unwrap_or_else(|| {
            panic!(
                "node {parent} reports no QUIC port (ports.json: {}); a node with a certificate \
                 must listen for its children",
                node.ports()
            )
        });
        format!("{}@127.0.0.1:{port}", node.code)
    }

    /// `liandong init` a node `code` in the folder `name` with `--parent parent_arg` if given;
    /// neither certified nor started.
    pub fn init(&mut self, name: &str, code: &str, parent_arg: Option<&str>) -> &Node {
        assert!(
            !self.members.contains_key(name),
            "{name} is in the federation already"
        );
        let extra: Vec<&str> = parent_arg.map(|p| vec!["--parent", p]).unwrap_or_default();
        let node = Node::init(self.root().join(name), code, &extra);
        let member = Member {
            node,
            clock: None,
            parent: None,
        };
        self.members.insert(name.to_string(), member);
        self.order.push(name.to_string());
        self.node(name)
    }

    /// A member `name` initialised as `code` below the running `parent` and certified by the
    /// federation CA, but not started: a genuine certificate for a peer the test drives by
    /// hand. Returns its folder.
    pub fn certified_not_started(&mut self, name: &str, code: &str, parent: &str) -> PathBuf {
        let parent_arg = self.parent_arg(parent);
        self.init(name, code, Some(&parent_arg));
        let pki = self.pki.clone();
        self.issue(name, &pki, code);
        self.node(name).dir()
    }

    /// `liandong ca issue --dir pki --code cert_code --out <name's folder>`; the output, for the
    /// caller to judge.
    pub fn try_issue(&self, name: &str, pki: &Path, cert_code: &str) -> Output {
        let out = self.node(name).dir();
        liandong(&[
            "ca",
            "issue",
            "--dir",
            path_str(pki),
            "--code",
            cert_code,
            "--out",
            path_str(&out),
        ])
    }

    /// Like [`Federation::try_issue`], failing the test if `ca issue` fails.
    pub fn issue(&self, name: &str, pki: &Path, cert_code: &str) {
        let out = self.try_issue(name, pki, cert_code);
        assert!(out.status.success(), "liandong ca issue failed: {out:?}");
    }

    /// Another CA (`liandong ca init`) in the folder `dir_name`, unknown to the federation.
    pub fn other_ca(&self, dir_name: &str) -> PathBuf {
        let dir = self.root().join(dir_name);
        let out = liandong(&["ca", "init", "--dir", path_str(&dir), "--name", "别的市"]);
        assert!(out.status.success(), "liandong ca init failed: {out:?}");
        dir
    }

    /// `liandong ca revoke` the code, then hands the CA's `revoked.toml` to every member's
    /// folder, as `ca revoke` tells the operator to.
    pub fn revoke(&self, code: &str) {
        let out = liandong(&["ca", "revoke", "--dir", path_str(&self.pki), "--code", code]);
        assert!(out.status.success(), "liandong ca revoke failed: {out:?}");
        for member in self.members.values() {
            std::fs::copy(
                self.pki.join("revoked.toml"),
                member.node.dir().join("revoked.toml"),
            )
            .expect("copying revoked.toml");
        }
    }

    // ------------------------------------------------------------------ members

    /// The member `name` (its code, for honest nodes).
    pub fn node(&self, name: &str) -> &Node {
        &self
            .members
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not in the federation"))
            .node
    }

    /// The member `name`, mutably.
    pub fn node_mut(&mut self, name: &str) -> &mut Node {
        &mut self.member(name).node
    }

    fn member(&mut self, name: &str) -> &mut Member {
        self.members
            .get_mut(name)
            .unwrap_or_else(|| panic!("{name} is not in the federation"))
    }

    /// Every member's name, parents first.
    pub fn names(&self) -> Vec<String> {
        self.order.clone()
    }

    /// The members whose process is running.
    pub fn running(&self) -> Vec<String> {
        self.order
            .iter()
            .filter(|n| self.node(n).is_running())
            .cloned()
            .collect()
    }

    // ------------------------------------------------------------------ processes

    /// Starts the member's process (its clock later than it ever was), waits for `ready` and
    /// pins its ports in node.toml; `Err` with its logs if it exits first.
    pub fn try_start(&mut self, name: &str) -> Result<(), String> {
        let minutes = self.later_clock(name);
        self.start_minutes(name, minutes)
    }

    /// Minutes after [`CLOCK`] for the member's next process: a whole minute past where its
    /// clock has reached (`last + elapsed`), never backwards.
    fn later_clock(&mut self, name: &str) -> u64 {
        match self.member(name).clock {
            None => 0,
            Some((last, since)) => {
                let next = last + since.elapsed().as_secs().div_ceil(60) + 1;
                let (from, to) = (clock_plus(last), clock_plus(next));
                assert_eq!(from[..10], to[..10], "the test ran past midnight of {from}");
                next
            }
        }
    }

    /// Starts the stopped member with its clock at `clock` (`YYYY-MM-DDTHH:MM`, China Standard
    /// Time) — e.g. weeks after [`CLOCK`], to let deadlines pass — waits for `ready` and pins its
    /// ports. Fails the test if `clock` is not later than the member's clock has reached (a
    /// node's clock never goes backwards) or the node does not come up. Later restarts go on
    /// from `clock`.
    pub fn start_at(&mut self, name: &str, clock: &str) {
        let minutes = minutes_after_clock(clock);
        if let Some((last, since)) = self.member(name).clock {
            let reached = last + since.elapsed().as_secs().div_ceil(60);
            assert!(
                minutes > reached,
                "{name}: {clock} is not later than its clock (about {})",
                clock_plus(reached)
            );
        }
        if let Err(why) = self.start_minutes(name, minutes) {
            panic!("{why}");
        }
    }

    /// Starts the member with its clock `minutes` after [`CLOCK`] and records that start.
    fn start_minutes(&mut self, name: &str, minutes: u64) -> Result<(), String> {
        let member = self.member(name);
        member.node.try_start(Some(&clock_plus(minutes)))?;
        member.clock = Some((minutes, Instant::now()));
        self.pin_ports(name);
        Ok(())
    }

    /// Like [`Federation::try_start`], failing the test if the node does not come up.
    pub fn start_again(&mut self, name: &str) {
        if let Err(why) = self.try_start(name) {
            panic!("{why}");
        }
    }

    /// Graceful stop (SIGTERM), waiting for a clean exit.
    pub fn stop(&mut self, name: &str) {
        self.node_mut(name).stop();
    }

    /// SIGKILL and reap.
    pub fn kill9(&mut self, name: &str) {
        self.node_mut(name).kill9();
    }

    /// Stops every running member, children first.
    pub fn stop_all(&mut self) {
        for name in self.order.clone().iter().rev() {
            self.stop(name);
        }
    }

    /// Rewrites `listen` and `api` in the member's node.toml from port 0 to the ports it bound
    /// (ports.json), once: its address stays the same across restarts.
    fn pin_ports(&self, name: &str) {
        let node = self.node(name);
        let ports = node.ports();
        let path = node.dir().join("node.toml");
        let text = std::fs::read_to_string(&path).expect("reading node.toml");
        let mut pinned = text.clone();
        for (key, port) in [("listen", &ports["quic"]), ("api", &ports["api"])] {
            if let Some(port) = port.as_u64() {
                pinned = pinned.replace(
                    &format!("{key} = \"127.0.0.1:0\""),
                    &format!("{key} = \"127.0.0.1:{port}\""),
                );
            }
        }
        if pinned != text {
            let tmp = path.with_extension("toml.tmp");
            std::fs::write(&tmp, pinned).expect("writing node.toml");
            std::fs::rename(&tmp, &path).expect("replacing node.toml");
        }
    }

    /// `liandong restore --config <name>/node.toml --clock …` (the member stopped): its exit
    /// status and output. The clock goes on from the member's, as at a restart: the restore's
    /// day is the one its case numbering skips ahead on. Fails the test if it runs longer
    /// than 30 s.
    pub fn restore(&mut self, name: &str) -> Output {
        self.restore_within(name, 300)
    }

    /// [`Federation::restore`] with `liandong restore --timeout-secs <secs>`: how long it
    /// waits for its parent's copy before it gives up.
    pub fn restore_within(&mut self, name: &str, secs: u64) -> Output {
        assert!(
            !self.node(name).is_running(),
            "restore {name}: stop it first"
        );
        let minutes = self.later_clock(name);
        self.member(name).clock = Some((minutes, Instant::now()));
        let node = self.node(name);
        let mut child = Command::new(super::BIN)
            .arg("restore")
            .arg("--config")
            .arg(node.dir().join("node.toml"))
            .arg("--timeout-secs")
            .arg(secs.to_string())
            .arg("--clock")
            .arg(clock_plus(minutes))
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning liandong restore");
        let deadline = Instant::now() + RESTORE_TIMEOUT;
        while child.try_wait().expect("waiting for restore").is_none() {
            if Instant::now() >= deadline {
                let _ = child.kill();
                let out = child.wait_with_output().expect("reaping restore");
                panic!("liandong restore still running after 30 s: {out:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child
            .wait_with_output()
            .expect("collecting restore's output")
    }

    // ------------------------------------------------------------------ observations

    /// `GET /api/v1/links` on the member, as admin: its links.
    pub fn links(&self, name: &str) -> Vec<Value> {
        let node = self.node(name);
        let (status, body) = node.get("/api/v1/links", &node.admin_token());
        assert_eq!(status, 200, "GET /api/v1/links on {name}: {body}");
        body["links"]
            .as_array()
            .unwrap_or_else(|| panic!("GET /api/v1/links on {name}: no links array: {body}"))
            .clone()
    }

    /// The member's link with `peer` (a code), if it lists one.
    pub fn link(&self, name: &str, peer: &str) -> Option<Value> {
        self.links(name).into_iter().find(|l| l["peer"] == peer)
    }

    /// Whether the member lists `peer` as connected.
    pub fn connected(&self, name: &str, peer: &str) -> bool {
        self.link(name, peer)
            .is_some_and(|l| l["connected"] == Value::Bool(true))
    }

    /// Every link of every running member, for failure messages.
    pub fn links_report(&self) -> String {
        self.running()
            .iter()
            .map(|n| {
                let node = self.node(n);
                match node.try_request("GET", "/api/v1/links", &node.admin_token(), None) {
                    Ok((_, body)) => format!("{n}: {body}\n"),
                    Err(e) => format!("{n}: {e}\nits logs:\n{}\n", node.logs()),
                }
            })
            .collect()
    }

    /// The last warnings and errors each member logged, for failure messages.
    pub fn warnings_report(&self) -> String {
        let mut report = String::new();
        for name in &self.order {
            let lines = self.log_lines(name, |l| l.contains(" WARN ") || l.contains(" ERROR "));
            let from = lines.len().saturating_sub(20);
            report.push_str(&format!(
                "{name}: {} warnings/errors, the last:\n",
                lines.len()
            ));
            for line in &lines[from..] {
                report.push_str(&format!("    {line}\n"));
            }
        }
        report
    }

    /// Whether every running member made by [`Federation::add`] has its link to its parent up
    /// (if the parent runs), and every link between two of them is connected with an empty
    /// outbox: nothing is on its way between them.
    pub fn settled(&self) -> bool {
        // Members made by `add` are named by their codes.
        let honest: Vec<&str> = self
            .order
            .iter()
            .filter(|n| self.members[*n].parent.is_some() && self.node(n).is_running())
            .map(String::as_str)
            .collect();
        honest.iter().all(|n| {
            let links = self.links(n);
            let parent = self.members[*n].parent.as_deref().unwrap_or_default();
            let parent_up = !honest.contains(&parent)
                || links
                    .iter()
                    .any(|l| l["peer"] == parent && l["connected"] == true);
            parent_up
                && links.iter().all(|l| {
                    let peer = l["peer"].as_str().unwrap_or_default();
                    !honest.contains(&peer) || (l["connected"] == true && l["outbox"] == 0)
                })
        })
    }

    /// Waits until the federation is [`settled`](Federation::settled) on two polls in a row;
    /// fails the test with every link after [`SETTLE`].
    #[track_caller]
    pub fn wait_settled(&self) {
        let mut in_a_row = 0;
        let settled = wait_until(SETTLE, || {
            in_a_row = if self.settled() { in_a_row + 1 } else { 0 };
            in_a_row >= 2
        });
        assert!(
            settled,
            "links did not settle in {SETTLE:?}:\n{}\n{}",
            self.links_report(),
            self.warnings_report()
        );
    }

    /// The case view on the member (as its admin), or `None` if it answers 404.
    pub fn case_on(&self, name: &str, case_no: &str) -> Option<Value> {
        let node = self.node(name);
        let (status, body) = node.get(&format!("/api/v1/cases/{case_no}"), &node.admin_token());
        match status {
            200 => Some(body),
            404 => None,
            _ => panic!("GET case {case_no} on {name}: {status} {body}"),
        }
    }

    /// Whether any file under the member's data folder contains `needle`. The member must be
    /// stopped (a running store changes under the scan).
    pub fn store_contains_bytes(&self, name: &str, needle: &[u8]) -> bool {
        let node = self.node(name);
        assert!(
            !node.is_running(),
            "store_contains_bytes({name}): stop the node first"
        );
        let data = node.dir().join("data");
        assert!(data.is_dir(), "{} is not a folder", data.display());
        files_under(&data).iter().any(|f| {
            let bytes = std::fs::read(f).unwrap_or_else(|e| panic!("reading {}: {e}", f.display()));
            contains(&bytes, needle)
        })
    }

    /// The member's log lines for which `pred` holds.
    pub fn log_lines(&self, name: &str, pred: impl Fn(&str) -> bool) -> Vec<String> {
        self.node(name)
            .logs()
            .lines()
            .filter(|l| pred(l))
            .map(str::to_string)
            .collect()
    }

    /// Fails the test if any member ever panicked.
    pub fn assert_no_panic(&self) {
        for name in &self.order {
            self.node(name).assert_no_panic();
        }
    }
}

const MINUTES_PER_DAY: u64 = 24 * 60;

/// Minutes since midnight of `YYYY-MM-DDTHH:MM`, and its date.
fn split_clock(clock: &str) -> (Date, u64) {
    let (day, time) = clock
        .split_once('T')
        .unwrap_or_else(|| panic!("{clock:?} is not YYYY-MM-DDTHH:MM"));
    let (h, m) = time.split_once(':').expect("the time is HH:MM");
    let day: Date = day.parse().expect("a valid date");
    let (h, m): (u64, u64) = (h.parse().expect("hours"), m.parse().expect("minutes"));
    assert!(h < 24 && m < 60, "{clock:?} is not a time of day");
    (day, h * 60 + m)
}

/// [`CLOCK`] plus `minutes` (possibly days later), as `YYYY-MM-DDTHH:MM`.
fn clock_plus(minutes: u64) -> String {
    let (day, time) = split_clock(CLOCK);
    let total = time + minutes;
    let day = day.add_days((total / MINUTES_PER_DAY) as i32);
    let time = total % MINUTES_PER_DAY;
    format!("{day}T{:02}:{:02}", time / 60, time % 60)
}

/// How many minutes `clock` is after [`CLOCK`]; fails the test if it is before.
fn minutes_after_clock(clock: &str) -> u64 {
    let (base_day, base_time) = split_clock(CLOCK);
    let (day, time) = split_clock(clock);
    let total = i64::from(day.days() - base_day.days()) * MINUTES_PER_DAY as i64 + time as i64
        - base_time as i64;
    u64::try_from(total).unwrap_or_else(|_| panic!("{clock} is before {CLOCK}"))
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                todo.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

// ---------------------------------------------------------------------- clients

/// An owned client of one node's API (its pinned port, one token), for threads that keep
/// writing while the test kills and restarts nodes: a transport failure is an `Err`, so a
/// client can retry once the node is back on the same port.
#[derive(Clone)]
pub struct Endpoint {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl Node {
    /// A client of this node's API acting with `token`.
    pub fn endpoint(&self, token: &str) -> Endpoint {
        Endpoint {
            base: format!("http://127.0.0.1:{}", self.port),
            token: token.to_string(),
            agent: agent(),
        }
    }
}

impl Endpoint {
    /// `POST path` with a JSON body: the status and JSON answer, `Err` on a transport failure.
    pub fn post(&self, path: &str, body: &Value) -> Result<(u16, Value), String> {
        let answer = self
            .agent
            .post(&format!("{}{path}", self.base))
            .set("Authorization", &format!("Bearer {}", self.token))
            .send_json(body.clone());
        let response = match answer {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => return Err(format!("POST {path}: {e}")),
        };
        let status = response.status();
        let text = response
            .into_string()
            .map_err(|e| format!("POST {path}: reading the answer: {e}"))?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }
}

/// A UDP relay between one child and its parent that can cut the link — drop every datagram,
/// both ways — and heal it: a network cut with both processes still running.
pub struct UdpRelay {
    pub addr: SocketAddr,
    cut: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl UdpRelay {
    pub fn start(upstream: SocketAddr) -> UdpRelay {
        let front = UdpSocket::bind("127.0.0.1:0").expect("bind relay");
        let back = UdpSocket::bind("127.0.0.1:0").expect("bind relay upstream");
        back.connect(upstream).expect("connect relay upstream");
        for s in [&front, &back] {
            s.set_read_timeout(Some(Duration::from_millis(50)))
                .expect("timeout");
        }
        let addr = front.local_addr().expect("relay address");
        let (cut, stop) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let client: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
        let (front2, back2) = (
            front.try_clone().expect("clone"),
            back.try_clone().expect("clone"),
        );
        let up = {
            let (cut, stop, client) = (cut.clone(), stop.clone(), client.clone());
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 65_536];
                while !stop.load(Ordering::Relaxed) {
                    if let Ok((n, from)) = front.recv_from(&mut buf) {
                        *client.lock().expect("relay lock") = Some(from);
                        if !cut.load(Ordering::Relaxed) {
                            let _ = back.send(&buf[..n]);
                        }
                    }
                }
            })
        };
        let down = {
            let (cut, stop) = (cut.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 65_536];
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(n) = back2.recv(&mut buf) {
                        let to = *client.lock().expect("relay lock");
                        if let (false, Some(to)) = (cut.load(Ordering::Relaxed), to) {
                            let _ = front2.send_to(&buf[..n], to);
                        }
                    }
                }
            })
        };
        UdpRelay {
            addr,
            cut,
            stop,
            threads: vec![up, down],
        }
    }

    /// Drops every datagram from now on, both ways.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::Relaxed);
    }

    pub fn heal(&self) {
        self.cut.store(false, Ordering::Relaxed);
    }
}

impl Drop for UdpRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
