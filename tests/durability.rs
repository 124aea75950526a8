//! What a node acknowledged survives: a SIGKILL right after the answer, a crash under
//! concurrent load, a graceful restart. Case numbers and event sequence numbers carry on
//! without gaps or repeats.

mod support;

use std::collections::BTreeMap;
use std::sync::{mpsc, Mutex};

use serde_json::{json, Value};
use support::*;

/// 建筑工程施工许可证核发 (住房和城乡建设局): all materials → accepted.
const SHIGONG: &str = "000172005000";

/// The writes a case goes through after its submission, in order.
fn next_actions() -> [Value; 4] {
    [
        json!({"action": "review"}),
        json!({"action": "decide", "approve": true, "reason": "符合法定条件"}),
        json!({"action": "certify", "certificate_no": "CERT"}),
        json!({"action": "deliver"}),
    ]
}

/// Checks the whole store as the API shows it: every event of this node has a seq in
/// 1..=n with no gap and no repeat, `n` is what /metrics counts, and the cases are numbered
/// `<code>-<day>-000001..` without a gap. Returns (n, number of cases).
fn check_numbering(node: &Node, day: &str) -> (u64, usize) {
    let cases = node.cases("");
    let mut seqs: Vec<u64> = cases
        .iter()
        .flat_map(|c| events(c).into_iter().map(|(_, seq, _)| seq))
        .collect();
    seqs.sort_unstable();
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(
        seqs, expected,
        "event seqs are 1..n without gaps or repeats"
    );
    assert_eq!(node.events_stored(), seqs.len() as u64);
    let mut nos: Vec<String> = cases.iter().map(|c| s(c, "case_no").to_string()).collect();
    nos.sort();
    let expected: Vec<String> = (1..=nos.len())
        .map(|i| format!("{}-{day}-{i:06}", node.code))
        .collect();
    assert_eq!(nos, expected, "case numbers are gapless");
    (seqs.len() as u64, nos.len())
}

/// The stored case holds every acknowledged event, in order; if nothing unacknowledged
/// followed, it is exactly the acknowledged view.
#[track_caller]
fn assert_holds(stored: &Value, acked: &Value) {
    let (stored_events, acked_events) = (
        stored["events"].as_array().unwrap(),
        acked["events"].as_array().unwrap(),
    );
    assert!(
        stored_events.starts_with(acked_events),
        "acknowledged events are missing after the crash:\nacked  {acked}\nstored {stored}"
    );
    if stored_events.len() == acked_events.len() {
        assert_eq!(stored, acked);
    }
}

#[test]
fn what_was_acknowledged_survives_a_sigkill() {
    let mut node = Node::start("350322", Some("2025-09-30T10:00"));
    let clerk = node.clerk(ZHUJIAN);
    let mut acked: Vec<Value> = Vec::new();
    for (i, [after_submit, after_action]) in
        [["10:01", "10:02"], ["10:03", "10:04"], ["10:05", "10:06"]]
            .into_iter()
            .enumerate()
    {
        // Kill right after a 201.
        let case = node.submit_all(&clerk, SHIGONG);
        assert_eq!(s(&case, "case_no"), format!("350322-20250930-{:06}", i + 1));
        node.kill9();
        node.start_again(Some(&format!("2025-09-30T{after_submit}")));
        assert_eq!(node.case(s(&case, "case_no")), case);

        // Kill right after an action's 200.
        let case = node.act_ok(&clerk, s(&case, "case_no"), &json!({"action": "review"}));
        node.kill9();
        node.start_again(Some(&format!("2025-09-30T{after_action}")));
        assert_eq!(node.case(s(&case, "case_no")), case);
        acked.push(case);
    }
    for case in &acked {
        assert_eq!(&node.case(s(case, "case_no")), case);
    }
    // Two events per case; the operator token survived the crashes too.
    assert_eq!(check_numbering(&node, "20250930"), (6, 3));
    let next = node.submit_all(&clerk, SHIGONG);
    assert_eq!(s(&next, "case_no"), "350322-20250930-000004");
    assert_eq!(events(&next)[0].1, 7);
    node.assert_no_panic();
}

#[test]
fn a_crash_under_concurrent_load_keeps_every_acknowledged_write() {
    const THREADS: usize = 4;
    const SUBMISSIONS: usize = 20;
    let mut node = Node::start("350322", Some("2025-09-30T10:00"));
    let tokens: Vec<String> = (0..THREADS)
        .map(|i| node.add_operator(&format!("窗口{i}"), "clerk", Some(ZHUJIAN)))
        .collect();
    let materials = node.materials(SHIGONG, false);
    // The latest acknowledged view of each case.
    let acked: Mutex<BTreeMap<String, Value>> = Mutex::default();
    let (submitted_tx, submitted_rx) = mpsc::channel::<()>();

    std::thread::scope(|scope| {
        for token in &tokens {
            let (node, acked, materials) = (&node, &acked, &materials);
            let submitted = submitted_tx.clone();
            // Each client submits and works its cases through until the node goes away.
            scope.spawn(move || 'client: loop {
                let body = json!({"item": SHIGONG, "applicant": person(), "materials": materials});
                let Ok((status, case)) = node.try_post("/api/v1/cases", token, &body) else {
                    break;
                };
                assert_eq!(status, 201, "{case}");
                let no = s(&case, "case_no").to_string();
                acked.lock().unwrap().insert(no.clone(), case);
                let _ = submitted.send(());
                for action in next_actions() {
                    let path = format!("/api/v1/cases/{no}/actions");
                    let Ok((status, case)) = node.try_post(&path, token, &action) else {
                        break 'client;
                    };
                    assert_eq!(status, 200, "{action}: {case}");
                    acked.lock().unwrap().insert(no.clone(), case);
                }
            });
        }
        drop(submitted_tx);
        for _ in 0..SUBMISSIONS {
            submitted_rx.recv().expect("a client stopped early");
        }
        // The 20th 201 is in: kill now, with the other clients' requests in flight.
        node.sigkill();
    });
    node.kill9();
    let acked = acked.into_inner().unwrap();
    assert!(acked.len() >= SUBMISSIONS);

    node.start_again(Some("2025-09-30T10:05"));
    for (no, case) in &acked {
        assert_holds(&node.case(no), case);
    }
    let (stored_events, cases) = check_numbering(&node, "20250930");
    assert!(cases >= acked.len());
    let acked_events: usize = acked.values().map(events_len).sum();
    assert!(stored_events as usize >= acked_events);

    // The next case continues both numberings.
    let next = node.submit_all(&tokens[0], SHIGONG);
    assert_eq!(
        s(&next, "case_no"),
        format!("350322-20250930-{:06}", cases + 1)
    );
    assert_eq!(events(&next)[0].1, stored_events + 1);
    node.assert_no_panic();
}

fn events_len(case: &Value) -> usize {
    case["events"].as_array().unwrap().len()
}

#[test]
fn a_graceful_restart_keeps_everything_and_init_refuses_to_overwrite() {
    let mut node = Node::start("350322", Some("2025-09-30T10:00"));
    let clerk = node.clerk(ZHUJIAN);
    for n in 0..4 {
        let case = node.submit_all(&clerk, SHIGONG);
        for action in next_actions().iter().take(n) {
            node.act_ok(&clerk, s(&case, "case_no"), action);
        }
    }
    let (status, before) = node.get("/api/v1/cases", &node.admin_token());
    assert_eq!(status, 200);
    let metrics = node.events_stored_line();
    let port_before = std::fs::read_to_string(node.dir().join("ports.json")).unwrap();

    node.restart(Some("2025-09-30T11:00"));
    node.restart(Some("2025-09-30T11:01"));
    let (_, after) = node.get("/api/v1/cases", &node.admin_token());
    assert_eq!(after, before);
    assert_eq!(node.events_stored_line(), metrics);
    assert!(
        !node.logs().contains("store repaired"),
        "a clean stop needs no repair:\n{}",
        node.logs()
    );
    let ports = std::fs::read_to_string(node.dir().join("ports.json")).unwrap();
    assert!(ports.contains("\"api\""), "{ports} (was {port_before})");
    // The clerk's token still works; numbering carries on.
    let next = node.submit_all(&clerk, SHIGONG);
    assert_eq!(s(&next, "case_no"), "350322-20250930-000005");
    assert_eq!(check_numbering(&node, "20250930").1, 5);

    // A new day starts a new daily sequence, while event seqs carry on.
    let last_seq = node.events_stored();
    node.restart(Some("2025-10-09T09:00"));
    let case = node.submit_all(&clerk, SHIGONG);
    assert_eq!(s(&case, "case_no"), "350322-20251009-000001");
    assert_eq!(events(&case)[0].1, last_seq + 1);

    // `init` on an existing node directory is refused and changes nothing.
    let dir = node.dir();
    let config = std::fs::read(dir.join("node.toml")).unwrap();
    let token = node.admin_token();
    for code in ["350322", "350300"] {
        let out = liandong(&[
            "init",
            "--code",
            code,
            "--name",
            "另一个中心",
            "--dir",
            dir.to_str().unwrap(),
        ]);
        assert!(!out.status.success(), "init overwrote a node: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("node.toml"), "{stderr}");
    }
    assert_eq!(std::fs::read(dir.join("node.toml")).unwrap(), config);
    assert_eq!(node.admin_token(), token);
    // The node is still fine with its own files.
    node.restart(Some("2025-10-09T10:00"));
    assert_eq!(node.cases("").len(), 6);
    node.assert_no_panic();
}

/// Regression (node/src/server.rs, `run`): the node prints `ready` before its SIGTERM handler
/// exists — `shutdown_signal()` only registers it when axum first polls the graceful-shutdown
/// future, in a task spawned inside `axum::serve`. A SIGTERM in that window kills the process
/// with the default action (exit by signal 15): no "stopped", no final flush, and a service
/// manager sees a failed stop. The handler must be installed before `ready` is announced.
/// The window is short, so several nodes are stopped right after `ready`, in parallel.
#[test]
fn sigterm_right_after_ready_is_a_clean_stop() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let attempt = || {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("node");
        let dir = dir.to_str().unwrap();
        let out = liandong(&["init", "--code", "350322", "--name", "仙游", "--dir", dir]);
        assert!(out.status.success(), "{out:?}");
        let mut child = Command::new(BIN)
            .args(["run", "--config", &format!("{dir}/node.toml")])
            .args(["--clock", "2025-09-30T10:00"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        while stderr.read_line(&mut line).unwrap() > 0 && line.trim_end() != "ready" {
            line.clear();
        }
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let mut rest = String::new();
        while stderr.read_line(&mut rest).unwrap() > 0 {}
        (child.wait().unwrap(), rest)
    };
    std::thread::scope(|scope| {
        let runs: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| (0..5).map(|_| attempt()).collect::<Vec<_>>()))
            .collect();
        for run in runs {
            for (status, rest) in run.join().unwrap() {
                assert!(
                    status.success(),
                    "SIGTERM right after `ready` ended the node with {status}, \
                     not a clean stop; its last logs:\n{rest}"
                );
            }
        }
    });
}

/// sled's flush is `sync_file_range`, which survives a crash but not a power cut: every group
/// commit must end with an fdatasync before its answer. One client at a time makes one group
/// commit per request, so each 201 costs a flush and a sync of its own (scripts/fsync-check.sh
/// shows the same at the level of system calls, with strace).
#[test]
fn every_answer_is_preceded_by_an_fdatasync() {
    let node = Node::start("350322", None);
    let clerk = node.clerk(ZHUJIAN);
    let (flushes, syncs) = (
        node.counter("liandong_flushes_total"),
        node.counter("liandong_fdatasyncs_total"),
    );
    for _ in 0..5 {
        node.submit_all(&clerk, SHIGONG);
    }
    let flushed = node.counter("liandong_flushes_total") - flushes;
    let synced = node.counter("liandong_fdatasyncs_total") - syncs;
    assert!(flushed >= 5, "{flushed} flushes for 5 answers");
    assert_eq!(synced, flushed, "every flush is followed by an fdatasync");
    node.assert_no_panic();
}

/// The node's folder holds applicants' identities, keys and tokens: its own user only.
#[test]
fn the_node_folder_is_for_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mut node = Node::start("350322", None);
    node.submit_all(&node.clerk(ZHUJIAN), SHIGONG);
    // A folder an older build left open is closed at the next start.
    let data = node.dir().join("data");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(data.join("db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    node.restart(None);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let mut checked = 0;
    let mut pending = vec![node.dir()];
    while let Some(path) = pending.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            assert_eq!(mode(&path), 0o700, "{}", path.display());
            pending.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
        checked += 1;
    }
    assert!(checked >= 8, "{checked} paths");
}

/// A damaged log is refused, not served shorter. sled drops everything after the first record
/// whose checksum fails and starts as if nothing had happened: before the store's witness, one
/// flipped byte in `db` brought a node up "ready" without most of the cases it had answered
/// 201 for. Now the start stops, names the folder and says how to rebuild it; once the folder
/// is moved aside, the node starts (empty, for `liandong restore` to fill).
#[test]
fn a_damaged_store_is_refused_with_the_way_out() {
    let mut node = Node::start("350322", None);
    let admin = node.admin_token();
    for _ in 0..30 {
        let (status, body) = node.submit(&admin, SHIGONG, &node.materials(SHIGONG, false));
        assert_eq!(status, 201, "{body}");
    }
    node.stop();
    let data = node.dir().join("data");
    assert!(data.join("witness").exists(), "no witness beside the log");
    let log = data.join("db");
    let mut bytes = std::fs::read(&log).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&log, &bytes).unwrap();

    let refused = node
        .try_start(None)
        .expect_err("a node with a damaged log started");
    for words in [
        "holds less than it had made durable",
        "but reached 30",
        "is damaged",
        "liandong restore",
        &data.display().to_string(),
    ] {
        assert!(
            refused.contains(words),
            "the refusal lacks {words:?}:\n{refused}"
        );
    }
    // It stays refused: the first refused start did not "repair" the evidence away.
    let again = node
        .try_start(None)
        .expect_err("the second start was let through");
    assert!(
        again.contains("holds less than it had made durable"),
        "{again}"
    );

    std::fs::rename(&data, node.dir().join("data.damaged")).unwrap();
    node.start_again(None);
    assert_eq!(node.events_stored(), 0);
    node.stop();

    // Wherever the damage is, the node either holds all it answered for or refuses with the
    // way out — never a raw panic, never a hang, never a shorter store.
    let damaged = node.dir().join("data.damaged");
    let good = node.dir().join("data.good");
    std::fs::rename(&damaged, &good).unwrap();
    std::fs::write(good.join("db"), {
        bytes[middle] ^= 0xff;
        &bytes
    })
    .unwrap();
    for eighth in 1..8 {
        let _ = std::fs::remove_dir_all(&data);
        copy_dir(&good, &data);
        let mut bytes = std::fs::read(&log).unwrap();
        let at = bytes.len() * eighth / 8;
        bytes[at] ^= 0x5a;
        std::fs::write(&log, &bytes).unwrap();
        match node.try_start(None) {
            Ok(()) => {
                assert_eq!(node.events_stored(), 30, "flip at {at}: started shorter");
                node.stop();
            }
            Err(refused) => {
                assert!(
                    refused.contains("is damaged") && refused.contains("liandong restore"),
                    "flip at {at}: refused without the way out:\n{refused}"
                );
                assert!(
                    !refused.contains("RUST_BACKTRACE"),
                    "flip at {at}: a raw panic:\n{refused}"
                );
            }
        }
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A client that lost the answer to its submission sends it again with the same
/// `Idempotency-Key`: it gets the case its first attempt made — also after a SIGKILL and a
/// restart — and never a second one. The same key with another request is refused and changes
/// nothing; an action retried with its key is applied once.
#[test]
fn a_retried_write_with_its_idempotency_key_makes_no_second_case() {
    let mut node = Node::start("350322", None);
    let admin = node.admin_token();
    let auth = format!("Bearer {admin}");
    let application = json!({
        "item": SHIGONG,
        "applicant": {"kind": "person", "name": "张三", "id": resident_id(1)},
        "materials": node.materials(SHIGONG, false),
    })
    .to_string();
    let send = |node: &Node, path: &str, key: &str, body: &str| {
        node.try_request_with(
            "POST",
            path,
            &[("Authorization", &auth), ("Idempotency-Key", key)],
            Some((body.as_bytes(), "application/json")),
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", node.logs()))
    };
    let (status, first) = send(&node, "/api/v1/cases", "window-3/0001", &application);
    assert_eq!(status, 201, "{first}");
    let no = s(&first, "case_no").to_string();
    let (status, again) = send(&node, "/api/v1/cases", "window-3/0001", &application);
    assert_eq!(
        (status, s(&again, "case_no")),
        (201, no.as_str()),
        "{again}"
    );
    assert_eq!(node.cases("").len(), 1);

    // The key outlives the process.
    node.kill9();
    node.start_again(None);
    let (status, after) = send(&node, "/api/v1/cases", "window-3/0001", &application);
    assert_eq!(
        (status, s(&after, "case_no")),
        (201, no.as_str()),
        "{after}"
    );
    assert_eq!(node.cases("").len(), 1);
    assert_eq!(node.events_stored(), 1);

    // Another request under the same key: refused, nothing written.
    let other = application.replace("张三", "李四");
    let (status, refused) = send(&node, "/api/v1/cases", "window-3/0001", &other);
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"], "idempotency_key_reused", "{refused}");
    assert!(s(&refused, "message").contains(&no), "{refused}");
    let (status, bad) = send(&node, "/api/v1/cases", "has space", &application);
    assert_eq!(
        (status, bad["error"].as_str()),
        (400, Some("bad_idempotency_key")),
        "{bad}"
    );
    assert_eq!(node.cases("").len(), 1);
    // A new key is a new case.
    let (status, second) = send(&node, "/api/v1/cases", "window-3/0002", &application);
    assert_eq!(status, 201, "{second}");
    assert_ne!(s(&second, "case_no"), no);

    // An action retried under its key is applied once.
    let actions = format!("/api/v1/cases/{no}/actions");
    let review = json!({"action": "review"}).to_string();
    let (status, reviewed) = send(&node, &actions, "review-1", &review);
    assert_eq!(status, 200, "{reviewed}");
    let (status, again) = send(&node, &actions, "review-1", &review);
    assert_eq!(status, 200, "{again}");
    assert_eq!(events_len(&again), 2, "submit + one review: {again}");
    assert_eq!(events_len(&node.case(&no)), 2);
}

/// `liandong case submit` whose answer is lost on the way: the request reached the node and was
/// written, but the connection broke before the answer came back. The CLI sends it again with
/// the same `Idempotency-Key` and prints the case the first attempt made — one case, not two.
#[test]
fn the_cli_resends_a_lost_submission_without_a_second_case() {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    let node = Node::start("350322", None);
    let port = node.ports()["api"].as_u64().unwrap() as u16;
    // A proxy that passes the first request on, swallows its answer and hangs up; later
    // connections pass through untouched.
    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_port = proxy.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (n, client) in proxy.incoming().enumerate() {
            let Ok(mut client) = client else { return };
            let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", port)) else {
                return;
            };
            if n == 0 {
                // One request: read until its body is complete (Content-Length), pass it on,
                // wait for the answer to start, then drop both sides.
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let Ok(k) = client.read(&mut buf) else { return };
                    if k == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..k]);
                    let text = String::from_utf8_lossy(&request).to_lowercase();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length: usize = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length: "))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if request.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                let _ = upstream.write_all(&request);
                let _ = upstream.read(&mut buf);
                continue; // both dropped: the client sees the connection close unanswered
            }
            let mut back = upstream.try_clone().unwrap();
            let mut client_back = client.try_clone().unwrap();
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut back, &mut client_back);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut client, &mut upstream);
            });
        }
    });
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_liandong"))
        .args([
            "case",
            "submit",
            "--api",
            &format!("http://127.0.0.1:{proxy_port}"),
            "--item",
            SHIGONG,
            "--person",
            &format!("张三:{}", resident_id(7)),
            "--json",
        ])
        .env("LIANDONG_TOKEN", node.admin_token())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("same Idempotency-Key"), "{stderr}");
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let cases = node.cases("");
    assert_eq!(cases.len(), 1, "the lost answer made a second case");
    assert_eq!(s(&printed, "case_no"), s(&cases[0], "case_no"));
}
