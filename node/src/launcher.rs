//! Starting `liandong run` as child processes and waiting until they serve — used by `liandong
//! demo` and `liandong bench` to run real nodes, exactly as an operator would: one node
//! ([`NodeProcess`]) or a whole federation in one folder ([`LocalFederation`]).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use federation_proto::NodeCode;
use serde_json::{json, Value};

use crate::client::Client;
use crate::config::Config;
use crate::node_folder::{self, NewNode};

/// How long a node may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running node process; killed when dropped.
pub struct NodeProcess {
    child: Child,
}

impl NodeProcess {
    /// Starts the node of `config` with its log appended to `log`, and waits until it has
    /// written `ports.json` (which it does once it listens).
    pub fn start(config: &Path, clock: Option<&str>, log: &Path) -> Result<NodeProcess> {
        let dir = config.parent().unwrap_or(Path::new("."));
        let ports = dir.join("ports.json");
        if ports.exists() {
            std::fs::remove_file(&ports)?;
        }
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.arg("run").arg("--config").arg(config);
        if let Some(c) = clock {
            cmd.arg("--clock").arg(c);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .context("starting liandong run")?;
        let mut node = NodeProcess { child };
        node.wait_ready(&ports, log)?;
        Ok(node)
    }

    fn wait_ready(&mut self, ports: &Path, log: &Path) -> Result<()> {
        let start = Instant::now();
        while !ports.exists() {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "node exited with {status} before it was ready; see {}",
                    log.display()
                );
            }
            if start.elapsed() > READY_TIMEOUT {
                bail!(
                    "node not ready after {READY_TIMEOUT:?}; see {}",
                    log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: the harshest crash there is.
    pub fn kill(&mut self) -> Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Real nodes of one federation in one folder, as an operator would run them: a federation CA
/// in `root/pki`, one folder per node (`init` + `ca issue`: [`node_folder::create`] and
/// [`crate::ca::issue`]), each started as `liandong run`. After
/// a node's first start its `node.toml` is pinned to the ports it bound, so it keeps them across
/// restarts and its children find it again. Dropping it kills every node.
pub struct LocalFederation {
    root: PathBuf,
    pki: PathBuf,
    members: Vec<LocalNode>,
}

/// One node of a [`LocalFederation`].
pub struct LocalNode {
    pub code: NodeCode,
    pub parent: Option<NodeCode>,
    pub config: PathBuf,
    pub log: PathBuf,
    process: Option<NodeProcess>,
    /// The node's API as its admin.
    pub admin: Client,
}

impl LocalNode {
    pub fn is_running(&self) -> bool {
        self.process.is_some()
    }

    /// Resident memory of the node's process in MB (Linux `/proc`), if it runs.
    pub fn rss_mb(&self) -> Option<f64> {
        let pid = self.process.as_ref()?.pid();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kb / 1024.0)
    }

    /// How many cases this node holds in `state` (from its metrics: no case list to send).
    pub fn cases_in(&self, state: &str) -> Result<u64> {
        let text = self.admin.get_text("/metrics")?;
        let needle = format!("state=\"{state}\"}} ");
        Ok(text
            .lines()
            .filter(|l| l.starts_with("liandong_cases{"))
            .find_map(|l| l.split_once(&needle).map(|(_, n)| n))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0))
    }

    /// The pinned config (ports as bound at the first start).
    pub fn config(&self) -> Result<Config> {
        Config::load(&self.config).with_context(|| format!("loading {}", self.config.display()))
    }

    /// A client of this node's API acting with `token`.
    pub fn client(&self, token: &str) -> Result<Client> {
        Client::connect(&self.config, None, Some(token))
    }

    /// Adds a clerk of `department`; their token.
    pub fn add_clerk(&self, name: &str, department: &str) -> Result<String> {
        let answer = self.admin.post(
            "/api/v1/operators",
            &json!({"name": name, "role": "clerk", "department": department}),
        )?;
        answer["token"]
            .as_str()
            .map(String::from)
            .with_context(|| format!("no token in the answer of {}: {answer}", self.code))
    }

    /// Whether this node lists `peer` as a connected link.
    pub fn connected(&self, peer: NodeCode) -> Result<bool> {
        let links = self.admin.get("/api/v1/links")?;
        Ok(links["links"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|l| l["peer"] == peer.to_string() && l["connected"] == true))
    }
}

impl LocalFederation {
    /// Creates `root` with the federation CA (named `ca_name`).
    pub fn create(root: &Path, ca_name: &str) -> Result<LocalFederation> {
        let pki = root.join("pki");
        crate::ca::init(&pki, Some(ca_name)).context("creating the federation CA")?;
        Ok(LocalFederation {
            root: root.to_path_buf(),
            pki,
            members: Vec::new(),
        })
    }

    /// `init` (its parent, already added, named by its QUIC address), `ca issue`, start with
    /// `clock`, pin the ports.
    pub fn add(
        &mut self,
        code: NodeCode,
        name: &str,
        parent: Option<NodeCode>,
        clock: Option<&str>,
    ) -> Result<&LocalNode> {
        let parent_arg = match parent {
            Some(p) => Some(format!("{p}@{}", self.node(p)?.config()?.file.node.listen)),
            None => None,
        };
        let dir = self.root.join(code.to_string());
        let config = node_folder::create(NewNode {
            parent: parent_arg,
            ..NewNode::on_loopback(code, name, dir.clone())
        })?;
        crate::ca::issue(&self.pki, code, &dir, crate::pki::DEFAULT_NODE_DAYS)?;
        let log = self.root.join(format!("{code}.log"));
        let process = NodeProcess::start(&config, clock, &log)?;
        pin_ports(&config)?;
        let admin = Client::connect(&config, None, None)?;
        self.members.push(LocalNode {
            code,
            parent,
            config,
            log,
            process: Some(process),
            admin,
        });
        self.node(code)
    }

    pub fn node(&self, code: NodeCode) -> Result<&LocalNode> {
        self.members
            .iter()
            .find(|m| m.code == code)
            .with_context(|| format!("node {code} is not in this federation"))
    }

    /// Every node, parents first.
    pub fn nodes(&self) -> &[LocalNode] {
        &self.members
    }

    /// SIGKILL one node.
    pub fn kill(&mut self, code: NodeCode) -> Result<()> {
        let member = self.member_mut(code)?;
        if let Some(mut p) = member.process.take() {
            p.kill().with_context(|| format!("killing node {code}"))?;
        }
        Ok(())
    }

    /// Starts a stopped node again (on its pinned ports) with `clock`.
    pub fn start(&mut self, code: NodeCode, clock: Option<&str>) -> Result<()> {
        let member = self.member_mut(code)?;
        if member.process.is_none() {
            member.process = Some(NodeProcess::start(&member.config, clock, &member.log)?);
        }
        Ok(())
    }

    fn member_mut(&mut self, code: NodeCode) -> Result<&mut LocalNode> {
        self.members
            .iter_mut()
            .find(|m| m.code == code)
            .with_context(|| format!("node {code} is not in this federation"))
    }

    /// Waits until every running child lists its parent as connected and the parent the child;
    /// names the links still down after `timeout`.
    pub fn wait_linked(&self, timeout: Duration) -> Result<Duration> {
        let start = Instant::now();
        loop {
            let mut down = Vec::new();
            for m in self.members.iter().filter(|m| m.is_running()) {
                let Some(parent) = m.parent else { continue };
                let up = self.node(parent)?;
                if up.is_running() && !(m.connected(parent)? && up.connected(m.code)?) {
                    down.push(format!("{}–{parent}", m.code));
                }
            }
            if down.is_empty() {
                return Ok(start.elapsed());
            }
            if start.elapsed() > timeout {
                bail!(
                    "links still down after {timeout:?}: {}; see the logs in {}",
                    down.join(", "),
                    self.root.display()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Rewrites `listen` and `api` in node.toml from port 0 to the ports the node bound
/// (ports.json), so both stay the same across restarts. Returns the new config.
pub fn pin_ports(path: &Path) -> Result<Config> {
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
    crate::files::write_atomic(path, text.as_bytes())?;
    Ok(config)
}
