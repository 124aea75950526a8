//! The harness of the end-to-end tests: real `liandong` nodes in temporary directories, driven
//! through their HTTP API on 127.0.0.1 (never a fixed port).
//!
//! Each test file uses a different subset of these helpers.
#![allow(dead_code)]

pub mod browser;
pub mod federation;
pub mod rng;
pub mod rogue;
pub mod schema;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use federation_proto::applicant::{credit_code_with_check, resident_id_with_check};
use serde_json::{json, Value};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_liandong");

/// How long a node may take to print `ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a node may take to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// The departments of the built-in catalog used by the tests.
pub const ZHUJIAN: &str = "住房和城乡建设局";
pub const ZIRAN: &str = "自然资源和规划局";
pub const SHICHANG: &str = "市场监督管理局";
pub const SHENGTAI: &str = "生态环境局";
pub const CHENGGUAN: &str = "城市管理局";
pub const LINYE: &str = "林业局";

/// A running (or stopped) `liandong` node in its own temporary directory.
pub struct Node {
    /// The node's division code.
    pub code: String,
    /// The temporary directory the node owns, if it owns one (else its directory belongs to
    /// someone else, e.g. a [`federation::Federation`]).
    _tmp: Option<tempfile::TempDir>,
    dir: PathBuf,
    child: Option<Child>,
    logs: Arc<Mutex<String>>,
    port: u16,
    agent: ureq::Agent,
}

impl Node {
    /// `liandong init` a fresh node `code` (API and QUIC on port 0) in a temporary directory,
    /// then starts it, with its clock at `clock` (China Standard Time, `YYYY-MM-DDTHH:MM`) if given.
    pub fn start(code: &str, clock: Option<&str>) -> Node {
        let tmp = tempfile::tempdir().expect("creating a temporary directory");
        let mut node = Node::init(tmp.path().join("node"), code, &[]);
        node._tmp = Some(tmp);
        node.start_again(clock);
        node
    }

    /// `liandong init` a node `code` in `dir` (API and QUIC on port 0, plus `extra` arguments,
    /// e.g. `["--parent", "350322@127.0.0.1:7300"]`) without starting it. The caller keeps
    /// `dir` alive.
    pub fn init(dir: PathBuf, code: &str, extra: &[&str]) -> Node {
        let name = format!("{code} 测试行政服务中心");
        let mut args = vec![
            "init",
            "--code",
            code,
            "--name",
            &name,
            "--dir",
            path_str(&dir),
            "--listen",
            "127.0.0.1:0",
            "--api",
            "127.0.0.1:0",
        ];
        args.extend_from_slice(extra);
        let out = liandong(&args);
        assert!(out.status.success(), "liandong init failed: {out:?}");
        Node {
            code: code.to_string(),
            _tmp: None,
            dir,
            child: None,
            logs: Arc::default(),
            port: 0,
            agent: agent(),
        }
    }

    /// The node directory (holds node.toml, admin.token, data/, ports.json).
    pub fn dir(&self) -> PathBuf {
        self.dir.clone()
    }

    /// Whether the node's process was started and not stopped or killed since.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// The address of `path` on the node's API listener (where the console is served too):
    /// `http://127.0.0.1:PORT{path}`.
    pub fn api_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The node's `ports.json` (`{"quic": N|null, "api": N}`), as written at its latest start.
    pub fn ports(&self) -> Value {
        let text = std::fs::read_to_string(self.dir().join("ports.json")).expect("ports.json");
        serde_json::from_str(&text).expect("ports.json is JSON")
    }

    /// The QUIC port the node bound at its latest start, if it has one (a node with a
    /// certificate has).
    pub fn quic_port(&self) -> Option<u16> {
        self.ports()["quic"].as_u64().map(|p| p as u16)
    }

    /// Starts the node's process on its existing directory and waits for `ready`.
    pub fn start_again(&mut self, clock: Option<&str>) {
        if let Err(why) = self.try_start(clock) {
            panic!("{why}");
        }
    }

    /// Starts the node's process on its existing directory and waits for `ready`; `Err` with
    /// the node's logs if it exits first (e.g. refuses its configuration) or is not ready in
    /// 30 s (then it is killed).
    pub fn try_start(&mut self, clock: Option<&str>) -> Result<(), String> {
        assert!(
            self.child.is_none(),
            "node {} is already running",
            self.code
        );
        let mut cmd = Command::new(BIN);
        cmd.arg("run")
            .arg("--config")
            .arg(self.dir().join("node.toml"))
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .env_remove("LIANDONG_LOG_FORMAT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(c) = clock {
            cmd.args(["--clock", c]);
        }
        let mut child = cmd.spawn().expect("spawning liandong run");
        let stderr = child.stderr.take().expect("piped stderr");
        let logs = self.logs.clone();
        let (ready_tx, ready_rx) = mpsc::channel();
        // Drain stderr continuously (a full pipe would block the node) and report `ready`, or
        // `false` when the process closed stderr first.
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stderr);
            let mut line = Vec::new();
            while matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
                let text = String::from_utf8_lossy(&line);
                lock(&logs).push_str(&text);
                if text.trim_end() == "ready" {
                    let _ = ready_tx.send(true);
                }
                line.clear();
            }
            let _ = ready_tx.send(false);
        });
        let outcome = ready_rx.recv_timeout(READY_TIMEOUT);
        if outcome != Ok(true) {
            let _ = child.kill();
            let status = child.wait().expect("reaping the node");
            return Err(match outcome {
                Ok(_) => format!(
                    "node {} exited ({status}) before ready:\n{}",
                    self.code,
                    self.logs()
                ),
                Err(_) => format!("node {} not ready after 30 s:\n{}", self.code, self.logs()),
            });
        }
        self.child = Some(child);
        self.port = self.ports()["api"]
            .as_u64()
            .expect("ports.json names the api port") as u16;
        self.agent = agent();
        // One answered request: the API serves, and (in practice) its SIGTERM handler is
        // installed; see `sigterm_right_after_ready_is_a_clean_stop` in durability.rs. A 401
        // is an answer too (tests/operators.rs starts a node whose admin.token is dead).
        let (status, body) = self.get("/metrics", &self.admin_token());
        assert!(
            status == 200 || status == 401,
            "GET /metrics after ready: {status} {body}"
        );
        Ok(())
    }

    /// Stops the node gracefully (SIGTERM) and waits for a clean exit.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -TERM {pid} failed");
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            match child.try_wait().expect("waiting for the node") {
                Some(status) => {
                    assert!(
                        status.success(),
                        "node exited with {status}:\n{}",
                        self.logs()
                    );
                    return;
                }
                None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
                None => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("node did not stop within 10 s of SIGTERM:\n{}", self.logs());
                }
            }
        }
    }

    /// Graceful stop, then start again on the same directory with the clock at `clock`.
    pub fn restart(&mut self, clock: Option<&str>) {
        self.stop();
        self.start_again(clock);
    }

    /// Kills the node with SIGKILL (no chance to flush anything) and reaps it.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            // An error means it is gone already (e.g. after `sigkill`); reap it either way.
            let _ = child.kill();
            child.wait().expect("reaping the node");
        }
    }

    /// Sends SIGKILL through a shared reference, e.g. while client threads are still using the
    /// node; call [`Node::kill9`] afterwards to reap the process.
    pub fn sigkill(&self) {
        let pid = self
            .child
            .as_ref()
            .expect("a running node")
            .id()
            .to_string();
        let sent = Command::new("kill").args(["-KILL", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -KILL {pid} failed");
    }

    /// Everything the node's processes wrote to stderr so far.
    pub fn logs(&self) -> String {
        lock(&self.logs).clone()
    }

    /// Fails the test if the node ever panicked.
    pub fn assert_no_panic(&self) {
        let logs = self.logs();
        assert!(!logs.contains("panicked"), "the node panicked:\n{logs}");
    }

    // ------------------------------------------------------------------ HTTP

    /// Sends a request; `token` "" sends no Authorization header. A 4xx/5xx is an answer like
    /// any other; only a transport failure is an `Err`. A body that is not JSON comes back as a
    /// JSON string.
    pub fn try_request(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<(&[u8], &str)>,
    ) -> Result<(u16, Value), String> {
        let auth = format!("Bearer {token}");
        let headers: &[(&str, &str)] = if token.is_empty() {
            &[]
        } else {
            &[("Authorization", &auth)]
        };
        self.try_request_with(method, path, headers, body)
    }

    /// Sends a request with exactly these extra headers (and `Content-Type` with a body).
    pub fn try_request_with(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&[u8], &str)>,
    ) -> Result<(u16, Value), String> {
        let url = self.api_url(path);
        let mut req = self.agent.request(method, &url);
        for (name, value) in headers {
            req = req.set(name, value);
        }
        let answer = match body {
            Some((bytes, content_type)) => req.set("Content-Type", content_type).send_bytes(bytes),
            None => req.call(),
        };
        let response = match answer {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => return Err(format!("{method} {path}: {e}")),
        };
        let status = response.status();
        let text = response
            .into_string()
            .map_err(|e| format!("{method} {path}: reading the answer: {e}"))?;
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, value))
    }

    /// Like [`Node::try_request`], failing the test on a transport error.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<(&[u8], &str)>,
    ) -> (u16, Value) {
        self.try_request(method, path, token, body)
            .unwrap_or_else(|e| panic!("{e}\nnode logs:\n{}", self.logs()))
    }

    /// `GET path`.
    pub fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.request("GET", path, token, None)
    }

    /// `POST path` with a JSON body.
    pub fn post(&self, path: &str, token: &str, body: &Value) -> (u16, Value) {
        self.post_raw(path, token, body.to_string().as_bytes(), "application/json")
    }

    /// `POST path` with any bytes as the body.
    pub fn post_raw(
        &self,
        path: &str,
        token: &str,
        bytes: &[u8],
        content_type: &str,
    ) -> (u16, Value) {
        self.request("POST", path, token, Some((bytes, content_type)))
    }

    /// `POST path` with a JSON body, `Err` on a transport failure (e.g. the node was killed).
    pub fn try_post(&self, path: &str, token: &str, body: &Value) -> Result<(u16, Value), String> {
        let bytes = body.to_string();
        self.try_request(
            "POST",
            path,
            token,
            Some((bytes.as_bytes(), "application/json")),
        )
    }

    /// `GET /metrics` as text (with the admin token: metrics need one).
    pub fn metrics(&self) -> String {
        let (status, body) = self.get("/metrics", &self.admin_token());
        assert_eq!(status, 200, "{body}");
        body.as_str().expect("metrics are text").to_string()
    }

    /// The value of one counter of `/metrics` (its one line `NAME{…} VALUE`).
    pub fn counter(&self, name: &str) -> u64 {
        let metrics = self.metrics();
        let line = metrics
            .lines()
            .find(|l| l.starts_with(&format!("{name}{{")))
            .unwrap_or_else(|| panic!("no {name} in /metrics:\n{metrics}"));
        line.rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("bad metric line {line:?}"))
    }

    /// The `liandong_events_stored` line of `/metrics`.
    pub fn events_stored_line(&self) -> String {
        self.metrics()
            .lines()
            .find(|l| l.starts_with("liandong_events_stored{"))
            .expect("metrics report liandong_events_stored")
            .to_string()
    }

    /// The value of `liandong_events_stored`.
    pub fn events_stored(&self) -> u64 {
        let line = self.events_stored_line();
        let value = line.rsplit(' ').next().unwrap_or_default();
        value
            .parse()
            .unwrap_or_else(|_| panic!("bad metric line {line:?}"))
    }

    // ------------------------------------------------------------------ operators

    /// The admin token `liandong init` wrote.
    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.dir().join("admin.token"))
            .expect("admin.token")
            .trim()
            .to_string()
    }

    /// Adds an operator (`role` "clerk", "supervisor" or "admin") and returns its token.
    pub fn add_operator(&self, name: &str, role: &str, department: Option<&str>) -> String {
        let body = json!({"name": name, "role": role, "department": department});
        let (status, answer) = self.post("/api/v1/operators", &self.admin_token(), &body);
        assert_eq!(status, 201, "adding operator {name}: {answer}");
        answer["token"].as_str().expect("a token").to_string()
    }

    /// A new clerk of `department` (under a name of their own: names identify operators).
    pub fn clerk(&self, department: &str) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(1);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        self.add_operator(&format!("{department}窗口{n}"), "clerk", Some(department))
    }

    // ------------------------------------------------------------------ cases

    /// The catalog entry of `item`.
    pub fn item(&self, item: &str) -> Value {
        let (status, catalog) = self.get("/api/v1/catalog", &self.admin_token());
        assert_eq!(status, 200, "{catalog}");
        catalog["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|i| i["code"] == item)
            .unwrap_or_else(|| panic!("item {item} is not in the catalog"))
            .clone()
    }

    /// The names of the item's materials; only the core ones if `core_only`.
    pub fn materials(&self, item: &str, core_only: bool) -> Vec<String> {
        self.item(item)["materials"]
            .as_array()
            .expect("materials")
            .iter()
            .filter(|m| !core_only || m["core"] == true)
            .map(|m| m["name"].as_str().expect("material name").to_string())
            .collect()
    }

    /// `POST /api/v1/cases` for `item` by a fresh valid person with these materials.
    pub fn submit(&self, token: &str, item: &str, materials: &[String]) -> (u16, Value) {
        let body = json!({"item": item, "applicant": person(), "materials": materials});
        self.post("/api/v1/cases", token, &body)
    }

    /// Submits `item` with all its materials; asserts 201 and returns the case view.
    pub fn submit_all(&self, token: &str, item: &str) -> Value {
        let (status, case) = self.submit(token, item, &self.materials(item, false));
        assert_eq!(status, 201, "submitting {item}: {case}");
        case
    }

    /// `POST /api/v1/cases/{case_no}/actions`.
    pub fn act(&self, token: &str, case_no: &str, action: &Value) -> (u16, Value) {
        self.post(&format!("/api/v1/cases/{case_no}/actions"), token, action)
    }

    /// An action that must succeed; returns the case view after it.
    pub fn act_ok(&self, token: &str, case_no: &str, action: &Value) -> Value {
        let (status, case) = self.act(token, case_no, action);
        assert_eq!(status, 200, "{action} on {case_no}: {case}");
        case
    }

    /// The case view, read as admin.
    pub fn case(&self, case_no: &str) -> Value {
        let (status, case) = self.get(&format!("/api/v1/cases/{case_no}"), &self.admin_token());
        assert_eq!(status, 200, "GET case {case_no}: {case}");
        case
    }

    /// `GET /api/v1/cases?{query}` as admin: every listed case, page after page (following
    /// `next` until it is null).
    pub fn cases(&self, query: &str) -> Vec<Value> {
        all_pages("cases", |cursor| {
            let path = format!("/api/v1/cases?{query}{cursor}");
            let (status, list) = self.get(&path, &self.admin_token());
            assert_eq!(status, 200, "listing ?{query}: {list}");
            list
        })
    }
}

/// Every item of a paged list (`key` is `cases` or `summaries`): `fetch` gets one page given
/// the cursor to append to its query (`""` first, then `&after=<next>`), until `next` is null.
pub fn all_pages(key: &str, mut fetch: impl FnMut(&str) -> Value) -> Vec<Value> {
    let mut items = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let cursor = after
            .as_deref()
            .map(|a| format!("&after={a}"))
            .unwrap_or_default();
        let page = fetch(&cursor);
        let listed = page[key].as_array();
        items.extend(
            listed
                .unwrap_or_else(|| panic!("no {key} list: {page}"))
                .iter()
                .cloned(),
        );
        match page["next"].as_str() {
            Some(next) if Some(next) != after.as_deref() => after = Some(next.to_string()),
            Some(next) => panic!("{key}: the cursor did not move from {next}"),
            None => return items,
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Runs the `liandong` binary with `args` and waits for it.
pub fn liandong(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("running liandong")
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(20))
        .build()
}

fn lock(logs: &Mutex<String>) -> std::sync::MutexGuard<'_, String> {
    logs.lock().unwrap_or_else(|e| e.into_inner())
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

// ---------------------------------------------------------------------- applicants

static NEXT_APPLICANT: AtomicU32 = AtomicU32::new(1);

/// A valid 18-digit resident ID (GB 11643), different for each `n` below 1000.
pub fn resident_id(n: u32) -> String {
    resident_id_with_check(&format!("35032219900307{:03}", n % 1000)).expect("valid 17 digits")
}

/// A valid unified social credit code (GB 32100), different for each `n` below 10^7.
pub fn credit_code(n: u32) -> String {
    credit_code_with_check(&format!("9135032215{:07}", n % 10_000_000)).expect("valid 17 chars")
}

/// A fresh person applicant with a valid resident ID.
pub fn person() -> Value {
    let n = NEXT_APPLICANT.fetch_add(1, Ordering::Relaxed);
    json!({"kind": "person", "name": format!("申请人{n}"), "id": resident_id(n)})
}

/// A fresh organisation applicant with a valid credit code.
pub fn org() -> Value {
    let n = NEXT_APPLICANT.fetch_add(1, Ordering::Relaxed);
    json!({"kind": "org", "name": format!("仙游测试有限公司{n}"), "id": credit_code(n)})
}

// ---------------------------------------------------------------------- answers

/// Asserts an error answer: `status`, the machine code `code` and a non-empty message, which
/// is returned.
pub fn assert_error(answer: &(u16, Value), status: u16, code: &str) -> String {
    let (got, body) = answer;
    assert_eq!(*got, status, "expected {status} {code}, got {got}: {body}");
    assert_eq!(body["error"], code, "wrong error code: {body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        !message.trim().is_empty(),
        "error without a message: {body}"
    );
    message.to_string()
}

/// A string field of a JSON value ("" when absent or not a string).
pub fn s<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field].as_str().unwrap_or_default()
}

/// The `(origin, seq, action)` of each event of a case view.
pub fn events(case: &Value) -> Vec<(String, u64, String)> {
    case["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                s(e, "origin").to_string(),
                e["seq"].as_u64().expect("seq"),
                s(e, "action").to_string(),
            )
        })
        .collect()
}

/// The actions of a case's events, in order.
pub fn actions(case: &Value) -> Vec<String> {
    events(case).into_iter().map(|(_, _, a)| a).collect()
}
