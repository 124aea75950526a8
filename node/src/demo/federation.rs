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

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use federation_proto::NodeCode;
use serde_json::{json, Value};

use super::checks::projection;
use super::timeline::pad;
use super::{case_no, materials};
use crate::client::Client;
use crate::launcher::{LocalFederation, LocalNode};

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

/// The running federation. Dropping it kills every node.
pub struct Federation {
    nodes: LocalFederation,
}

fn code(s: &str) -> Result<NodeCode> {
    s.parse()
        .with_context(|| format!("{s} is not a division code"))
}

impl Federation {
    /// Creates the CA in `root/pki`, then each node of [`TOPOLOGY`] in `root/<code>` (init +
    /// certificate), starts it with its clock at `clock`, and waits until every link is up.
    pub fn build(root: &Path, clock: &str) -> Result<Federation> {
        let mut nodes = LocalFederation::create(root, "莆田市")?;
        println!("federation CA in {}", root.join("pki").display());
        for spec in &TOPOLOGY {
            let parent = spec.parent.map(code).transpose()?;
            let node = nodes
                .add(code(spec.code)?, spec.name, parent, Some(clock))
                .with_context(|| format!("starting node {}", spec.code))?;
            let config = node.config()?;
            println!(
                "  {} {}  QUIC {}  API {}{}",
                pad(&label(spec.code), 18),
                pad(spec.name, 22),
                config.file.node.listen,
                config.file.node.api,
                config
                    .file
                    .node
                    .parent
                    .map(|p| format!("  parent {p}"))
                    .unwrap_or_default()
            );
        }
        let fed = Federation { nodes };
        fed.wait_linked()?;
        Ok(fed)
    }

    fn member(&self, node: &str) -> Result<&LocalNode> {
        self.nodes.node(code(node)?)
    }

    /// Every node's code, parents first.
    pub fn codes(&self) -> Vec<&'static str> {
        TOPOLOGY.iter().map(|s| s.code).collect()
    }

    /// The admin's client of a node.
    pub fn admin(&self, node: &str) -> Result<&Client> {
        Ok(&self.member(node)?.admin)
    }

    /// A new clerk of `department` at node `code`, acting through its own token.
    pub fn desk(&self, code: &'static str, name: &str, department: &str) -> Result<Desk> {
        let member = self.member(code)?;
        let token = member.add_clerk(name, department)?;
        Ok(Desk {
            node: code,
            who: format!("{} {name}", label(code)),
            client: member.client(&token)?,
        })
    }

    /// SIGKILL every node (the harshest crash there is), then start them all again, parents
    /// first, with their clocks at `clock`, and wait until every link is back.
    pub fn restart_all(&mut self, clock: &str) -> Result<()> {
        for spec in TOPOLOGY.iter().rev() {
            self.nodes.kill(code(spec.code)?)?;
        }
        for spec in &TOPOLOGY {
            self.nodes.start(code(spec.code)?, Some(clock))?;
        }
        self.wait_linked()
    }

    /// Waits until every child lists its parent as connected and every parent its child.
    pub fn wait_linked(&self) -> Result<()> {
        let took = self.nodes.wait_linked(SETTLE)?;
        println!("  every link is up ({} ms)", took.as_millis());
        Ok(())
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
