//! The API's transport bounds and its TLS (issue 13, "Trust"), against real nodes:
//!
//! - stalled request heads are cut after `[api] header_timeout_ms`, and the API answers while
//!   they stall and afterwards;
//! - a kept-alive connection with no new request is closed after `idle_timeout_ms`;
//! - a body that stalls after its head is cut after `body_timeout_ms` with a 408 and changes
//!   nothing;
//! - at `max_connections` a new connection waits (in the accept queue) until one closes;
//! - a non-loopback API address without TLS is refused, saying both ways out;
//! - `[api] tls = true` serves the node's certificate: a client trusting the federation CA gets
//!   answers, plain HTTP gets none, the CLI works over it.
//!
//! Every wait is for an event (an answer, an end of stream) with a generous upper bound; the
//! only fixed wait is the window in which a queued connection must *not* be answered.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use support::*;

/// The upper bound of every wait for something that must happen.
const PATIENCE: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------- helpers

/// A node `code` in a temporary directory, with these `[api]` settings, not started.
fn node_with(code: &str, api: &[(&str, toml::Value)]) -> (tempfile::TempDir, Node) {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let node = Node::init(tmp.path().join("node"), code, &[]);
    edit_config(&node.dir(), |config| {
        let table = config
            .entry("api")
            .or_insert_with(|| toml::Value::Table(Default::default()))
            .as_table_mut()
            .expect("[api] is a table");
        for (key, value) in api {
            table.insert(key.to_string(), value.clone());
        }
    });
    (tmp, node)
}

fn edit_config(dir: &Path, edit: impl FnOnce(&mut toml::Table)) {
    let path = dir.join("node.toml");
    let text = std::fs::read_to_string(&path).expect("node.toml");
    let mut config: toml::Table = text.parse().expect("node.toml is TOML");
    edit(&mut config);
    std::fs::write(&path, config.to_string()).expect("writing node.toml");
}

fn ms(n: i64) -> toml::Value {
    toml::Value::Integer(n)
}

fn api_port(node: &Node) -> u16 {
    node.ports()["api"].as_u64().expect("an api port") as u16
}

fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connecting to the API");
    stream
        .set_read_timeout(Some(PATIENCE))
        .expect("a read timeout");
    stream
}

/// A connection that sends half a request head and then nothing.
fn stalled(port: u16) -> TcpStream {
    let mut stream = connect(port);
    stream
        .write_all(b"GET /api/v1/node HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .expect("sending half a head");
    stream
}

/// Reads until the server closes the connection (end of stream, or a reset when it closed with
/// unread bytes); `Err` if it stays open for [`PATIENCE`]. Returns what was received.
fn until_closed(stream: &mut TcpStream) -> Result<Vec<u8>, String> {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(received),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(received),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(format!("still open after {PATIENCE:?}"))
            }
            Err(e) => return Err(format!("reading: {e}")),
        }
    }
}

/// A complete `GET path` that asks the server to close the connection after its answer.
fn get_request(path: &str, token: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
}

/// The status code and body of an HTTP/1.1 answer read to its end.
fn parse_answer(bytes: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(bytes);
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, body.to_string())
}

/// `GET path` on a new connection; the answer once the server closed it.
fn raw_get(port: u16, path: &str, token: &str) -> (u16, String) {
    let mut stream = connect(port);
    stream
        .write_all(get_request(path, token).as_bytes())
        .expect("sending a request");
    parse_answer(&until_closed(&mut stream).expect("an answer"))
}

/// The value of the first line of a `/metrics` text that starts with `prefix`.
fn metric(metrics: &str, prefix: &str) -> u64 {
    let line = metrics
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} in the metrics:\n{metrics}"));
    line.rsplit(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("bad metric line {line:?}"))
}

const OPEN: &str = "liandong_api_connections{";

/// Asks for `/metrics` on new connections until no connection but the asking one is open (the
/// harness's kept-alive one is closed by the idle deadline).
fn wait_until_alone(port: u16, token: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (status, metrics) = raw_get(port, "/metrics", token);
        assert_eq!(status, 200, "{metrics}");
        if metric(&metrics, OPEN) == 1 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "other API connections stay open:\n{metrics}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------- deadlines and cap

#[test]
fn stalled_heads_are_cut_and_the_api_answers_meanwhile_and_after() {
    let header = Duration::from_secs(6);
    let (_tmp, mut node) = node_with("350322", &[("header_timeout_ms", ms(6_000))]);
    node.start_again(None);
    let port = api_port(&node);

    let opened = Instant::now();
    let mut stalls: Vec<TcpStream> = (0..200).map(|_| stalled(port)).collect();

    // While they stall, under the cap: answered. They were queued before this request, so they
    // were all accepted before it, and none is cut yet unless this test was slower than the
    // head deadline. (The harness's kept-alive connection may be open too.)
    let (status, metrics) = raw_get(port, "/metrics", &node.admin_token());
    assert_eq!(status, 200, "{metrics}");
    if opened.elapsed() < header {
        let open = metric(&metrics, OPEN);
        assert!(open >= 201, "200 stalled and this one, but {open} open");
    }

    for (i, stream) in stalls.iter_mut().enumerate() {
        let received = until_closed(stream)
            .unwrap_or_else(|e| panic!("stalled connection {i}: {e}\n{}", node.logs()));
        assert!(
            received.is_empty(),
            "an answer to half a request: {received:?}"
        );
    }
    assert!(
        opened.elapsed() >= header,
        "cut before the head deadline: {:?}",
        opened.elapsed()
    );

    // After: answered, and the cuts are counted.
    let (status, metrics) = raw_get(port, "/metrics", &node.admin_token());
    assert_eq!(status, 200, "{metrics}");
    assert!(
        metric(
            &metrics,
            "liandong_api_cuts_total{node=\"350322\",deadline=\"header\""
        ) >= 200
    );
    let (status, node_info) = node.get("/api/v1/node", &node.admin_token());
    assert_eq!(status, 200, "{node_info}");
    node.stop();
    node.assert_no_panic();
}

#[test]
fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let idle = Duration::from_millis(1_500);
    let (_tmp, mut node) = node_with(
        "350322",
        &[
            ("header_timeout_ms", ms(60_000)),
            ("idle_timeout_ms", ms(1_500)),
        ],
    );
    node.start_again(None);
    let mut stream = connect(api_port(&node));
    let request = format!(
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\r\n",
        node.admin_token()
    );
    // A complete request that keeps the connection: the answer has a Content-Length, read it
    // exactly, then wait for the server to close the quiet connection. The server's idle time
    // starts after this instant.
    let sent = Instant::now();
    stream
        .write_all(request.as_bytes())
        .expect("sending a request");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream
            .read_exact(&mut byte)
            .expect("reading the answer's head");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .and_then(|n| n.trim().parse().ok())
        .expect("a content-length");
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).expect("reading the answer");

    let rest = until_closed(&mut stream).unwrap_or_else(|e| panic!("idle connection: {e}"));
    assert!(rest.is_empty(), "{rest:?}");
    assert!(
        sent.elapsed() >= idle,
        "closed before the idle deadline: {:?}",
        sent.elapsed()
    );
    let (status, metrics) = raw_get(api_port(&node), "/metrics", &node.admin_token());
    assert_eq!(status, 200);
    assert!(
        metric(
            &metrics,
            "liandong_api_cuts_total{node=\"350322\",deadline=\"idle\""
        ) >= 1
    );
    assert_eq!(
        metric(
            &metrics,
            "liandong_api_cuts_total{node=\"350322\",deadline=\"header\""
        ),
        0,
        "the idle connection was cut by the head deadline"
    );
    node.stop();
}

#[test]
fn a_stalled_body_is_cut_after_the_body_timeout_and_changes_nothing() {
    let limit = Duration::from_millis(1_500);
    let (_tmp, mut node) = node_with("350322", &[("body_timeout_ms", ms(1_500))]);
    node.start_again(None);
    let admin = node.admin_token();
    let before = (
        node.get("/api/v1/operators", &admin),
        node.events_stored_line(),
    );

    let body = r#"{"name": "慢吞吞", "role": "clerk", "department": "住房和城乡建设局"}"#;
    let mut stream = connect(api_port(&node));
    // The body's deadline starts after this instant, when the head is complete.
    let sent = Instant::now();
    let head = format!(
        "POST /api/v1/operators HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {admin}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("sending the head");
    stream
        .write_all(&body.as_bytes()[..10])
        .expect("sending a part of the body");

    let answer = until_closed(&mut stream).unwrap_or_else(|e| panic!("{e}\n{}", node.logs()));
    let (status, text) = parse_answer(&answer);
    let error: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{text}"));
    assert_eq!(status, 408, "{text}");
    assert_eq!(error["error"], "request_timeout", "{text}");
    assert!(sent.elapsed() >= limit, "cut early: {:?}", sent.elapsed());

    let after = (
        node.get("/api/v1/operators", &admin),
        node.events_stored_line(),
    );
    assert_eq!(before, after, "a cut request changed something");
    let metrics = node.metrics();
    assert_eq!(
        metric(
            &metrics,
            "liandong_api_cuts_total{node=\"350322\",deadline=\"body\""
        ),
        1
    );
    node.stop();
    node.assert_no_panic();
}

#[test]
fn at_the_connection_cap_a_new_connection_waits_until_one_closes() {
    let (_tmp, mut node) = node_with(
        "350322",
        &[
            ("max_connections", ms(8)),
            // Stalled heads are not cut during the test; quiet kept-alive connections (the
            // harness's) are, at once.
            ("header_timeout_ms", ms(60_000)),
            ("idle_timeout_ms", ms(200)),
        ],
    );
    node.start_again(None);
    let port = api_port(&node);
    wait_until_alone(port, &node.admin_token());

    let mut stalls: Vec<TcpStream> = (0..8).map(|_| stalled(port)).collect();
    let mut ninth = connect(port);
    ninth
        .write_all(get_request("/metrics", &node.admin_token()).as_bytes())
        .expect("sending the ninth request");
    // Queued behind the eight, the ninth must not be answered while they hold every slot.
    ninth
        .set_read_timeout(Some(Duration::from_millis(1_500)))
        .expect("a read timeout");
    let mut buf = [0u8; 64];
    match ninth.read(&mut buf) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("the ninth connection was served past the cap of 8: {other:?}"),
    }

    // One closes: the ninth takes its slot and is answered, with seven stalled and itself open.
    drop(stalls.remove(0));
    ninth
        .set_read_timeout(Some(PATIENCE))
        .expect("a read timeout");
    let (status, metrics) = parse_answer(&until_closed(&mut ninth).expect("the ninth answer"));
    assert_eq!(status, 200, "{metrics}");
    assert_eq!(metric(&metrics, OPEN), 8, "{metrics}");

    // The others close: the node serves as before.
    drop(stalls);
    wait_until_alone(port, &node.admin_token());
    let (status, answer) = raw_get(port, "/api/v1/node", &node.admin_token());
    assert_eq!(status, 200, "{answer}");
    node.stop();
    node.assert_no_panic();
}

#[test]
fn a_stop_is_not_held_up_by_stalled_connections() {
    let (_tmp, mut node) = node_with("350322", &[("header_timeout_ms", ms(120_000))]);
    node.start_again(None);
    let mut stalls: Vec<TcpStream> = (0..20).map(|_| stalled(api_port(&node))).collect();
    // Answered: the stalled ones are open (accepted before this request) when SIGTERM comes.
    let (status, _) = raw_get(api_port(&node), "/metrics", &node.admin_token());
    assert_eq!(status, 200);
    // `stop` fails the test unless the node exits cleanly within 10 s, far below the head
    // deadline of these connections.
    node.stop();
    for stream in &mut stalls {
        until_closed(stream).expect("closed by the stop");
    }
}

// ---------------------------------------------------------------------- exposure and TLS

#[test]
fn a_non_loopback_api_without_tls_is_refused_naming_both_ways_out() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let dir = tmp.path().join("exposed");
    let out = liandong(&[
        "init",
        "--code",
        "350322",
        "--name",
        "仙游县行政服务中心",
        "--dir",
        dir.to_str().expect("UTF-8"),
        "--api",
        "0.0.0.0:0",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "init accepted 0.0.0.0: {stderr}");
    assert_both_ways_out(&stderr);
    assert!(!dir.join("node.toml").exists(), "init wrote a node anyway");

    // A node.toml edited by hand: `run` refuses it before it opens or binds anything.
    let node = Node::init(tmp.path().join("node"), "350322", &[]);
    edit_config(&node.dir(), |config| {
        let section = config["node"].as_table_mut().expect("[node]");
        section.insert("api".into(), toml::Value::String("0.0.0.0:0".into()));
    });
    let config = node.dir().join("node.toml");
    let out = liandong(&["run", "--config", config.to_str().expect("UTF-8")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "run served 0.0.0.0 in clear: {stderr}"
    );
    assert_both_ways_out(&stderr);
    assert!(stderr.contains("0.0.0.0:0"), "{stderr}");
    assert!(!stderr.contains("ready"), "{stderr}");
    assert!(!node.dir().join("ports.json").exists(), "it bound the API");
    assert!(!node.dir().join("data").exists(), "it opened the store");
}

fn assert_both_ways_out(stderr: &str) {
    assert!(stderr.contains("not a loopback address"), "{stderr}");
    assert!(stderr.contains("tls = true"), "no TLS way out: {stderr}");
    assert!(
        stderr.contains("--insecure-api"),
        "no --insecure-api: {stderr}"
    );
}

/// A node process started by hand: the harness's start asks for `/metrics` in plain HTTP,
/// which a TLS API does not answer.
struct Running {
    child: Child,
    port: u16,
}

impl Running {
    fn start(dir: &Path) -> Running {
        let mut child = Command::new(BIN)
            .args(["run", "--config"])
            .arg(dir.join("node.toml"))
            .env("NO_COLOR", "1")
            .env_remove("LIANDONG_LOG_FORMAT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning liandong run");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut logs = String::new();
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                logs.push_str(&line);
                logs.push('\n');
                if line == "ready" {
                    let _ = tx.send(Ok(()));
                }
            }
            let _ = tx.send(Err(logs));
        });
        match rx.recv_timeout(PATIENCE) {
            Ok(Ok(())) => {}
            other => {
                let _ = child.kill();
                panic!("the TLS node did not start: {other:?}");
            }
        }
        let ports: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("ports.json")).expect("ports.json"),
        )
        .expect("ports.json is JSON");
        let port = ports["api"].as_u64().expect("an api port") as u16;
        Running { child, port }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET path` over TLS trusting only the CA in `ca` and expecting the server name `name`.
fn tls_get(
    port: u16,
    ca: &Path,
    name: &str,
    path: &str,
    token: &str,
) -> Result<(u16, String), String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("a CA file") {
        roots
            .add(cert.expect("a CA certificate"))
            .expect("a usable CA");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let server = ServerName::try_from(name.to_string()).expect("a server name");
    let conn = rustls::ClientConnection::new(Arc::new(config), server).expect("a TLS client");
    let mut tls = rustls::StreamOwned::new(conn, connect(port));
    tls.write_all(get_request(path, token).as_bytes())
        .map_err(|e| format!("TLS: {e}"))?;
    let mut received = Vec::new();
    match tls.read_to_end(&mut received) {
        Ok(_) => {}
        // Some servers close without close_notify; what arrived before counts.
        Err(e) if e.kind() == ErrorKind::UnexpectedEof && !received.is_empty() => {}
        Err(e) => return Err(format!("TLS: {e}")),
    }
    Ok(parse_answer(&received))
}

fn issue_certificate(pki: &Path, node_dir: &Path, code: &str) {
    let out = liandong(&[
        "ca",
        "init",
        "--dir",
        pki.to_str().expect("UTF-8"),
        "--name",
        "莆田市",
    ]);
    assert!(out.status.success(), "ca init: {out:?}");
    let out = liandong(&[
        "ca",
        "issue",
        "--dir",
        pki.to_str().expect("UTF-8"),
        "--code",
        code,
        "--out",
        node_dir.to_str().expect("UTF-8"),
    ]);
    assert!(out.status.success(), "ca issue: {out:?}");
}

#[test]
fn tls_without_a_certificate_is_refused_at_start() {
    let (_tmp, node) = node_with("350322", &[("tls", toml::Value::Boolean(true))]);
    let config = node.dir().join("node.toml");
    let out = liandong(&["run", "--config", config.to_str().expect("UTF-8")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "served TLS without a certificate: {stderr}"
    );
    assert!(
        stderr.contains("node.crt") && stderr.contains("ca issue"),
        "{stderr}"
    );
    assert!(!node.dir().join("data").exists(), "it opened the store");
}

#[test]
fn the_api_over_tls_serves_the_node_certificate_to_clients_trusting_the_ca() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let (_node_tmp, node) = node_with("350322", &[("tls", toml::Value::Boolean(true))]);
    let dir: PathBuf = node.dir();
    issue_certificate(&tmp.path().join("pki"), &dir, "350322");
    let running = Running::start(&dir);
    let port = running.port;
    let ca = dir.join("ca.crt");
    let admin = node.admin_token();

    // A client that trusts the federation CA and checks the node's name is answered.
    let (status, body) =
        tls_get(port, &ca, "n350322.liandong", "/api/v1/node", &admin).expect("a TLS answer");
    assert_eq!(status, 200, "{body}");
    let info: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(info["code"], "350322", "{info}");

    // One that trusts another CA is not.
    let other = tmp.path().join("other-ca");
    let out = liandong(&["ca", "init", "--dir", other.to_str().expect("UTF-8")]);
    assert!(out.status.success(), "{out:?}");
    let refused = tls_get(
        port,
        &other.join("ca.crt"),
        "n350322.liandong",
        "/metrics",
        "",
    );
    assert!(
        refused.is_err(),
        "a certificate from another CA was trusted: {refused:?}"
    );

    // Plain HTTP to the TLS port: closed, no HTTP answer.
    let mut plain = connect(port);
    plain
        .write_all(get_request("/api/v1/node", &admin).as_bytes())
        .expect("sending plain HTTP");
    let received = until_closed(&mut plain).expect("the plain connection closed");
    assert!(
        !String::from_utf8_lossy(&received).contains("HTTP/"),
        "plain HTTP was answered: {received:?}"
    );

    // The CLI reads the config: https, the CA, the node's name.
    let config = dir.join("node.toml");
    let config = config.to_str().expect("UTF-8");
    for args in [
        vec!["status", "--config", config],
        vec!["case", "list", "--config", config],
    ] {
        let out = liandong(&args);
        assert!(
            out.status.success(),
            "liandong {args:?} over TLS: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let url = format!("https://127.0.0.1:{port}");
    let out = liandong(&["stats", "--json", "--config", config, "--api", &url]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // And refuses a plain-HTTP URL to the same port with an error, not an answer.
    let url = format!("http://127.0.0.1:{port}");
    let out = liandong(&["stats", "--config", config, "--api", &url]);
    assert!(!out.status.success(), "plain HTTP was answered");
    drop(running);
}
