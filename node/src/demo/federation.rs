//! The demo's federation: one CA and five real `liandong run` processes on loopback, each in its
//! own folder, linked child → parent over QUIC with mutual TLS:
//!
//! ```text
//! 350300 莆田市 (city, runs the CA)
//! ├── 350322 仙游县 ── 350322100 枫亭镇
//! └── 350302 城厢区 ── 350302001 龙桥街道
//! ```
//!
//! Nodes start parents first, because a child is initialised with its parent's real QUIC
//! address. Every node binds port 0 at its first start and then has its `node.toml` rewritten to
//! the ports it got, so that after a restart its children find it again and our clients too.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use super::checks::projection;
use super::timeline::pad;
use super::{case_no, materials};
use crate::cli::ca;
use crate::cli::init::{create, InitArgs};
use crate::client::Client;
use crate::config::Config;
use crate::files::write_atomic;
use crate::launcher::NodeProcess;

pub const CITY: &str = "350300";
pub const XIANYOU: &str = "350322";
pub const CHENGXIANG: &str = "350302";
pub const FENGTING: &str = "350322100";
pub const LONGQIAO: &str = "350302001";

/// How long replication or a link may take to settle on loopback before the demo gives up.
const SETTLE: Duration = Duration::from_secs(20);

/// One node of the demo: code, short name, center name, parent.
pub struct NodeSpec {
    pub code: &'static str,
    pub short: &'static str,
    pub name: &'static str,
    pub parent: Option<&'static str>,
}

/// The demo's tree, parents before children.
pub const TOPOLOGY: [NodeSpec; 5] = [
    NodeSpec {
        code: CITY,
        short: "莆田市",
        name: "莆田市行政服务中心",
        parent: None,
    },
    NodeSpec {
        code: XIANYOU,
        short: "仙游县",
        name: "仙游县行政服务中心",
        parent: Some(CITY),
    },
    NodeSpec {
        code: CHENGXIANG,
        short: "城厢区",
        name: "城厢区行政服务中心",
        parent: Some(CITY),
    },
    NodeSpec {
        code: FENGTING,
        short: "枫亭镇",
        name: "枫亭镇便民服务中心",
        parent: Some(XIANYOU),
    },
    NodeSpec {
        code: LONGQIAO,
        short: "龙桥街道",
        name: "龙桥街道便民服务中心",
        parent: Some(CHENGXIANG),
    },
];

/// `350322 仙游县`, for output.
pub fn label(code: &str) -> String {
    match TOPOLOGY.iter().find(|s| s.code == code) {
        Some(s) => format!("{code} {}", s.short),
        None => code.to_string(),
    }
}

struct Member {
    spec: &'static NodeSpec,
    config: PathBuf,
    log: PathBuf,
    process: Option<NodeProcess>,
    admin: Client,
}

/// The running federation. Dropping it kills every node.
pub struct Federation {
    members: Vec<Member>,
}

impl Federation {
    /// Creates the CA in `root/pki`, then each node of [`TOPOLOGY`] in `root/<code>` (init +
    /// certificate), starts it with its clock at `clock`, and waits until every link is up.
    pub fn build(root: &Path, clock: &str) -> Result<Federation> {
        let pki = root.join("pki");
        ca::init(&pki, Some("莆田市")).context("creating the federation CA")?;
        println!("federation CA in {}", pki.display());
        let mut fed = Federation {
            members: Vec::new(),
        };
        for spec in &TOPOLOGY {
            fed.add(spec, root, &pki, clock)
                .with_context(|| format!("starting node {}", spec.code))?;
        }
        fed.wait_linked()?;
        Ok(fed)
    }

    /// `init` (with the running parent's QUIC address), `ca issue`, start, pin the ports.
    fn add(&mut self, spec: &'static NodeSpec, root: &Path, pki: &Path, clock: &str) -> Result<()> {
        let parent = match spec.parent {
            Some(p) => Some(format!("{p}@{}", self.config_of(p)?.file.node.listen)),
            None => None,
        };
        let dir = root.join(spec.code);
        let config = create(InitArgs {
            code: spec.code.parse()?,
            name: spec.name.into(),
            dir: dir.clone(),
            parent: parent.clone(),
            listen: "127.0.0.1:0".parse()?,
            api: "127.0.0.1:0".parse()?,
        })?;
        ca::issue(pki, spec.code.parse()?, &dir, crate::pki::DEFAULT_NODE_DAYS)?;
        let log = root.join(format!("{}.log", spec.code));
        let process = NodeProcess::start(&config, Some(clock), &log)?;
        let pinned = pin_ports(&config)?;
        println!(
            "  {} {}  QUIC {}  API {}{}",
            pad(&label(spec.code), 18),
            pad(spec.name, 22),
            pinned.file.node.listen,
            pinned.file.node.api,
            parent.map(|p| format!("  parent {p}")).unwrap_or_default()
        );
        let admin = Client::connect(&config, None, None)?;
        self.members.push(Member {
            spec,
            config,
            log,
            process: Some(process),
            admin,
        });
        Ok(())
    }

    fn member(&self, code: &str) -> Result<&Member> {
        self.members
            .iter()
            .find(|m| m.spec.code == code)
            .with_context(|| format!("node {code} is not in the demo federation"))
    }

    fn config_of(&self, code: &str) -> Result<Config> {
        let path = &self.member(code)?.config;
        Config::load(path).with_context(|| format!("loading {}", path.display()))
    }

    /// Every node's code, parents first.
    pub fn codes(&self) -> Vec<&'static str> {
        self.members.iter().map(|m| m.spec.code).collect()
    }

    /// The admin's client of a node.
    pub fn admin(&self, code: &str) -> Result<&Client> {
        Ok(&self.member(code)?.admin)
    }

    /// A new clerk of `department` at node `code`, acting through its own token.
    pub fn desk(&self, code: &'static str, name: &str, department: &str) -> Result<Desk> {
        let member = self.member(code)?;
        let answer = member.admin.post(
            "/api/v1/operators",
            &json!({"name": name, "role": "clerk", "department": department}),
        )?;
        let token = answer["token"]
            .as_str()
            .with_context(|| format!("no token in the answer of {code}: {answer}"))?;
        Ok(Desk {
            node: code,
            who: format!("{} {name}", label(code)),
            client: Client::connect(&member.config, None, Some(token))?,
        })
    }

    /// SIGKILL every node (the harshest crash there is), then start them all again, parents
    /// first, with their clocks at `clock`, and wait until every link is back.
    pub fn restart_all(&mut self, clock: &str) -> Result<()> {
        for m in self.members.iter_mut().rev() {
            if let Some(mut p) = m.process.take() {
                p.kill()
                    .with_context(|| format!("killing node {}", m.spec.code))?;
            }
        }
        for m in &mut self.members {
            m.process = Some(NodeProcess::start(&m.config, Some(clock), &m.log)?);
        }
        self.wait_linked()
    }

    /// Waits until every child lists its parent as connected and every parent its child.
    pub fn wait_linked(&self) -> Result<()> {
        let start = Instant::now();
        let pairs: Vec<(&str, &str)> = self
            .members
            .iter()
            .filter_map(|m| m.spec.parent.map(|p| (m.spec.code, p)))
            .collect();
        loop {
            let mut down = Vec::new();
            for (child, parent) in &pairs {
                if !self.connected(child, parent)? || !self.connected(parent, child)? {
                    down.push(format!("{child}–{parent}"));
                }
            }
            if down.is_empty() {
                println!("  every link is up ({} ms)", start.elapsed().as_millis());
                return Ok(());
            }
            if start.elapsed() > SETTLE {
                bail!(
                    "links still down after {SETTLE:?}: {}; see the node logs",
                    down.join(", ")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether `node` lists `peer` as a connected link.
    fn connected(&self, node: &str, peer: &str) -> Result<bool> {
        let links = self.admin(node)?.get("/api/v1/links")?;
        Ok(links["links"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|l| l["peer"] == peer && l["connected"] == true))
    }

    /// The case as `node` sees it, `None` if the node does not hold it (404).
    pub fn case_on(&self, node: &str, case_no: &str) -> Result<Option<Value>> {
        match self.admin(node)?.get(&format!("/api/v1/cases/{case_no}")) {
            Ok(v) => Ok(Some(v)),
            // The client reports a status as "404 not_found: …".
            Err(e) if e.to_string().starts_with("404 ") => Ok(None),
            Err(e) => Err(e.context(format!("reading {case_no} on {node}"))),
        }
    }

    /// The case on each of `nodes`, once they all hold it with the same events and state, or
    /// as they stand after [`SETTLE`] (for the caller's check to report).
    pub fn converge(&self, case_no: &str, nodes: &[&str]) -> Result<Views> {
        let start = Instant::now();
        loop {
            let views = nodes
                .iter()
                .map(|n| Ok((n.to_string(), self.case_on(n, case_no)?)))
                .collect::<Result<Views>>()?;
            if agree(&views) || start.elapsed() > SETTLE {
                return Ok(views);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Like [`Federation::converge`], but an error if the nodes do not agree in time: the next
    /// step at another node needs what the previous one did.
    pub fn sync(&self, case_no: &str, nodes: &[&str]) -> Result<Views> {
        let views = self.converge(case_no, nodes)?;
        if !agree(&views) {
            bail!(
                "case {case_no} did not reach the same state on {} within {SETTLE:?}",
                nodes.join(", ")
            );
        }
        Ok(views)
    }

    /// `window` takes in an application for `item` by `applicant` with every material and
    /// forwards it with no target, up to where it is decided; once `to`'s node holds it, `to`
    /// takes it over. Returns the case number.
    pub fn hand_over(
        &self,
        window: &Desk,
        to: &Desk,
        item: &str,
        applicant: Value,
    ) -> Result<String> {
        let case = window.submit_complete(item, applicant)?;
        let no = case_no(&case)?;
        window.act(no, json!({"action": "forward"}))?;
        self.sync(no, &[window.node, to.node])?;
        to.act(no, json!({"action": "take_over"}))?;
        Ok(no.to_string())
    }
}

/// A case as each of several nodes sees it (`None`: not held there).
pub type Views = Vec<(String, Option<Value>)>;

fn agree(views: &Views) -> bool {
    let first = views.first().and_then(|(_, v)| v.as_ref()).map(projection);
    first.is_some()
        && views
            .iter()
            .all(|(_, v)| v.as_ref().map(projection) == first)
}

/// Rewrites `listen` and `api` in node.toml from port 0 to the ports the node bound
/// (ports.json), so both stay the same across restarts. Returns the new config.
fn pin_ports(path: &Path) -> Result<Config> {
    let mut config = Config::load(path).with_context(|| format!("loading {}", path.display()))?;
    let ports_path = config.ports_file();
    let text = std::fs::read_to_string(&ports_path)
        .with_context(|| format!("reading {}", ports_path.display()))?;
    let ports: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", ports_path.display()))?;
    let node = &mut config.file.node;
    if let Some(p) = ports["quic"].as_u64() {
        node.listen.set_port(u16::try_from(p)?);
    }
    let api = ports["api"]
        .as_u64()
        .with_context(|| format!("{} has no api port", ports_path.display()))?;
    node.api.set_port(u16::try_from(api)?);
    let text = toml::to_string_pretty(&config.file).context("writing node.toml")?;
    write_atomic(path, text.as_bytes())?;
    Ok(config)
}

/// One clerk at one node's window: every action goes through that node's API with the
/// clerk's own token, and is narrated as one line.
pub struct Desk {
    pub node: &'static str,
    who: String,
    client: Client,
}

impl Desk {
    /// `POST /api/v1/cases`; prints the new case's number and state.
    pub fn submit(&self, item: &str, applicant: Value, materials: Value) -> Result<Value> {
        let case = self.client.post(
            "/api/v1/cases",
            &json!({"item": item, "applicant": applicant, "materials": materials}),
        )?;
        self.narrate(
            &format!("submit {item} {}", case["item_name"].as_str().unwrap_or("")),
            &case,
        );
        Ok(case)
    }

    /// [`Desk::submit`] with every material the node's catalog lists for `item`.
    pub fn submit_complete(&self, item: &str, applicant: Value) -> Result<Value> {
        self.submit(item, applicant, materials(self, item, &[])?)
    }

    /// Performs an action and prints it with the resulting state.
    pub fn act(&self, case_no: &str, body: Value) -> Result<Value> {
        let action = body["action"].as_str().unwrap_or("?").to_string();
        let case = self
            .attempt(case_no, body)
            .with_context(|| format!("{} {action} on {case_no}", self.who))?;
        self.narrate(&action, &case);
        Ok(case)
    }

    /// An action whose outcome the caller judges (e.g. one that must be refused); not printed.
    pub fn attempt(&self, case_no: &str, body: Value) -> Result<Value> {
        self.client
            .post(&format!("/api/v1/cases/{case_no}/actions"), &body)
    }

    /// `GET` on this desk's node.
    pub fn get(&self, path: &str) -> Result<Value> {
        self.client.get(path)
    }

    fn narrate(&self, action: &str, case: &Value) {
        let state = case["state"].as_str().unwrap_or("?");
        let extra = match state {
            _ if action.starts_with("submit") => {
                format!("  {}", case["case_no"].as_str().unwrap_or("?"))
            }
            "in_transit" => format!(" → {}", label(case["forwarded_to"].as_str().unwrap_or("?"))),
            "suspended" if case["requested"].as_array().is_some_and(|r| !r.is_empty()) => {
                format!(" (补件: {})", case["requested"])
            }
            _ => String::new(),
        };
        println!(
            "  {} {} ⇒ {state}{extra}",
            pad(&self.who, WHO_WIDTH),
            pad(action, 20)
        );
    }
}

/// Columns for the acting clerk in narrated lines.
const WHO_WIDTH: usize = 34;
