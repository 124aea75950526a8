//! The operator lifecycle on a real node: disable, enable, rotate, expiry, the last admin,
//! the admin token file across restarts, tokens for the CLI from the environment or a file,
//! and the failed-authentication limit.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{assert_error, s, Node, BIN, SHICHANG};

const CLOCK: &str = "2026-03-02T10:00";

fn ok(answer: (u16, Value), what: &str) -> Value {
    assert_eq!(answer.0, 200, "{what}: {}", answer.1);
    answer.1
}

fn disable(node: &Node, token: &str, name: &str) -> (u16, Value) {
    node.post(
        &format!("/api/v1/operators/{name}/disable"),
        token,
        &json!({}),
    )
}

fn rotate(node: &Node, token: &str, name: &str, body: &Value) -> (u16, Value) {
    node.post(&format!("/api/v1/operators/{name}/rotate"), token, body)
}

/// The listed operator of this name.
fn listed(node: &Node, name: &str) -> Value {
    let list = ok(
        node.get("/api/v1/operators", &node.admin_token()),
        "listing",
    );
    list["operators"]
        .as_array()
        .expect("operators")
        .iter()
        .find(|o| s(o, "name") == name)
        .cloned()
        .unwrap_or_else(|| panic!("{name} not listed: {list}"))
}

#[test]
fn disable_and_rotate_take_effect_at_once_and_survive_a_restart() {
    let mut node = Node::start("350322", Some(CLOCK));
    let admin = node.admin_token();
    let clerk = node.add_operator("郑窗口", "clerk", Some(SHICHANG));
    ok(node.get("/api/v1/node", &clerk), "a new clerk");

    // The list shows standing, never a token or a hash.
    let list = ok(node.get("/api/v1/operators", &admin), "listing");
    let text = list.to_string();
    assert!(!text.contains(&clerk) && !text.contains(&admin), "{text}");
    for op in list["operators"].as_array().expect("operators") {
        let mut keys: Vec<&str> = op
            .as_object()
            .expect("object")
            .keys()
            .map(|k| k.as_str())
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "created",
                "department",
                "disabled",
                "expires",
                "live",
                "name",
                "role",
                "stand_in"
            ],
            "{op}"
        );
    }
    assert_eq!(listed(&node, "郑窗口")["disabled"], false);
    // Names identify operators.
    assert_error(
        &node.post(
            "/api/v1/operators",
            &admin,
            &json!({"name": "郑窗口", "role": "supervisor"}),
        ),
        409,
        "operator_exists",
    );

    // Only an admin disables; the clerk's very next request is refused, naming why.
    assert_error(&disable(&node, &clerk, "郑窗口"), 403, "forbidden");
    let view = ok(disable(&node, &admin, "郑窗口"), "disabling");
    assert_eq!(view["disabled"], true);
    let message = assert_error(&node.get("/api/v1/node", &clerk), 401, "unauthorized");
    assert!(message.contains("disabled"), "{message}");
    assert_eq!(listed(&node, "郑窗口")["live"], false);
    assert_error(&disable(&node, &admin, "无此人"), 404, "not_found");

    // An admin rotates anyone's token: the old one is dead at once, the new one works.
    let supervisor = node.add_operator("林督查", "supervisor", None);
    let rotated = ok(rotate(&node, &admin, "林督查", &json!({})), "rotating");
    let new_supervisor = s(&rotated, "token").to_string();
    assert_eq!(new_supervisor.len(), 64);
    assert_error(&node.get("/api/v1/node", &supervisor), 401, "unauthorized");
    ok(node.get("/api/v1/node", &new_supervisor), "the new token");
    // An operator rotates their own token, and nobody else's.
    assert_error(
        &rotate(&node, &new_supervisor, "admin", &json!({})),
        403,
        "forbidden",
    );
    let own = ok(
        rotate(&node, &new_supervisor, "林督查", &json!({})),
        "own rotation",
    );
    let newest = s(&own, "token").to_string();
    assert_error(
        &node.get("/api/v1/node", &new_supervisor),
        401,
        "unauthorized",
    );
    ok(node.get("/api/v1/node", &newest), "the newest token");
    // A disabled operator's token is not rotated back to life.
    assert_error(
        &rotate(&node, &admin, "郑窗口", &json!({})),
        409,
        "operator_disabled",
    );

    // The last enabled admin cannot be disabled; with a second admin, one can.
    let message = assert_error(&disable(&node, &admin, "admin"), 409, "last_admin");
    assert!(message.contains("last enabled admin"), "{message}");
    let second = node.add_operator("第二管理员", "admin", None);
    ok(
        disable(&node, &second, "第二管理员"),
        "an admin disables itself",
    );
    assert_error(&disable(&node, &admin, "admin"), 409, "last_admin");

    // Disabled stays disabled across a restart (ensure_admin revives nothing).
    node.restart(Some(CLOCK));
    assert_error(&node.get("/api/v1/node", &clerk), 401, "unauthorized");
    assert_error(&node.get("/api/v1/node", &second), 401, "unauthorized");
    ok(
        node.get("/api/v1/node", &newest),
        "a live token after restart",
    );
    // Enabling brings the record back with the same token.
    ok(
        node.post("/api/v1/operators/郑窗口/enable", &admin, &json!({})),
        "enabling",
    );
    ok(node.get("/api/v1/node", &clerk), "an enabled clerk");
    node.assert_no_panic();
}

#[test]
fn an_expired_token_is_refused_from_the_day_after_its_expiry() {
    let mut node = Node::start("350322", Some(CLOCK));
    let admin = node.admin_token();
    let add = |name: &str, expires: &str| {
        node.post(
            "/api/v1/operators",
            &admin,
            &json!({"name": name, "role": "supervisor", "expires": expires}),
        )
    };
    assert_error(&add("昨天", "2026-03-01"), 422, "invalid_expiry");
    let (status, answer) = add("临时", "2026-03-02");
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["expires"], "2026-03-02");
    let temp = s(&answer, "token").to_string();
    ok(node.get("/api/v1/node", &temp), "on its last day");

    // The next day (node clock, UTC+8): refused as expired.
    node.restart(Some("2026-03-03T08:30"));
    let message = assert_error(&node.get("/api/v1/node", &temp), 401, "unauthorized");
    assert!(message.contains("expired after 2026-03-02"), "{message}");
    assert_eq!(listed(&node, "临时")["live"], false);
    // A rotation with a new expiry gives a working token; the expired one stays dead.
    let rotated = ok(
        rotate(&node, &admin, "临时", &json!({"expires": "2026-12-31"})),
        "rotating an expired token",
    );
    assert_eq!(rotated["expires"], "2026-12-31");
    ok(
        node.get("/api/v1/node", s(&rotated, "token")),
        "the new token",
    );
    assert_error(&node.get("/api/v1/node", &temp), 401, "unauthorized");
    // `null` removes the expiry.
    let rotated = ok(
        rotate(&node, &admin, "临时", &json!({"expires": null})),
        "rotating",
    );
    assert_eq!(rotated["expires"], Value::Null);
}

/// Runs the CLI against `node` with exactly these token-related variables.
fn cli(node: &Node, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("LIANDONG_CONFIG", node.dir().join("node.toml"))
        .env("NO_COLOR", "1")
        .env_remove("LIANDONG_TOKEN")
        .env_remove("LIANDONG_TOKEN_FILE")
        .env_remove("LIANDONG_API");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("running liandong")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn the_cli_takes_tokens_from_the_environment_or_a_file_never_the_command_line() {
    let mut node = Node::start("350322", Some(CLOCK));
    let tmp = tempfile::tempdir().expect("tempdir");
    let sup_file = tmp.path().join("sup.token");
    let sup_path = sup_file.to_str().expect("utf-8");

    // `add --token-out`: the token goes to a 0600 file, not to the terminal.
    let out = cli(
        &node,
        &[
            "operator",
            "add",
            "--name",
            "监察",
            "--role",
            "supervisor",
            "--token-out",
            sup_path,
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let token = std::fs::read_to_string(&sup_file)
        .expect("token file")
        .trim()
        .to_string();
    assert_eq!(token.len(), 64);
    assert_eq!(mode(&sup_file), 0o600);
    assert!(!stdout(&out).contains(&token), "{}", stdout(&out));
    ok(node.get("/api/v1/node", &token), "the written token");

    // LIANDONG_TOKEN is used: a supervisor may not list operators, the admin (default) may.
    let out = cli(&node, &["operator", "list"], &[("LIANDONG_TOKEN", &token)]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("403"), "{}", stderr(&out));
    let out = cli(&node, &["status", "--json"], &[("LIANDONG_TOKEN", &token)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = cli(&node, &["operator", "list"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("监察"));

    // --token-file: the supervisor rotates their own token into the same file.
    let out = cli(
        &node,
        &[
            "operator",
            "rotate",
            "监察",
            "--token-file",
            sup_path,
            "--token-out",
            sup_path,
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let rotated = std::fs::read_to_string(&sup_file)
        .expect("token file")
        .trim()
        .to_string();
    assert_ne!(rotated, token);
    assert_error(&node.get("/api/v1/node", &token), 401, "unauthorized");
    ok(node.get("/api/v1/node", &rotated), "the rotated token");
    // A dead token in the environment: the CLI says why.
    let out = cli(&node, &["status"], &[("LIANDONG_TOKEN", &token)]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("401"), "{}", stderr(&out));

    // Rotating `admin` into admin.token keeps the file working, across a restart too.
    let admin_file = node.dir().join("admin.token");
    let old_admin = node.admin_token();
    let out = cli(
        &node,
        &[
            "operator",
            "rotate",
            "admin",
            "--token-out",
            admin_file.to_str().expect("utf-8"),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(mode(&admin_file), 0o600);
    let new_admin = node.admin_token();
    assert_ne!(new_admin, old_admin);
    assert_error(&node.get("/api/v1/node", &old_admin), 401, "unauthorized");
    node.restart(Some(CLOCK));
    ok(
        node.get("/api/v1/operators", &new_admin),
        "the rotated admin",
    );
    assert_error(&node.get("/api/v1/node", &old_admin), 401, "unauthorized");
    // The old admin token, written back into the file, does not come back by a restart.
    std::fs::write(&admin_file, format!("{old_admin}\n")).expect("writing admin.token");
    node.restart(Some(CLOCK));
    assert_error(&node.get("/api/v1/node", &old_admin), 401, "unauthorized");
    ok(node.get("/api/v1/node", &new_admin), "the rotated admin");
    assert!(
        node.logs().contains("holds no operator's token"),
        "{}",
        node.logs()
    );
}

/// A node whose failed-authentication window is 2 s (20 failures allowed).
fn node_with_short_window(tmp: &Path) -> Node {
    let mut node = Node::init(tmp.join("node"), "350322", &[]);
    let config = node.dir().join("node.toml");
    let mut text = std::fs::read_to_string(&config).expect("node.toml");
    text.push_str("\n[auth]\nmax_failures = 20\nfailure_window_secs = 2\n");
    std::fs::write(&config, text).expect("writing node.toml");
    node.start_again(Some(CLOCK));
    node
}

/// `GET /api/v1/node` with `token`: the status and the `Retry-After` header.
fn probe(node: &Node, token: &str) -> (u16, Option<String>) {
    let port = node.ports()["api"].as_u64().expect("api port");
    let answer = ureq::get(&format!("http://127.0.0.1:{port}/api/v1/node"))
        .set("Authorization", &format!("Bearer {token}"))
        .call();
    let response = match answer {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("GET /api/v1/node: {e}"),
    };
    (
        response.status(),
        response.header("Retry-After").map(String::from),
    )
}

#[test]
fn a_burst_of_bad_tokens_is_refused_for_one_window_then_the_admin_gets_in() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let node = node_with_short_window(tmp.path());
    let admin = node.admin_token();
    let bad = "0123456789abcdef0123456789abcdef";
    let statuses: Vec<(u16, Option<String>)> = (0..25).map(|_| probe(&node, bad)).collect();
    assert!(
        statuses[..20].iter().all(|(s, _)| *s == 401),
        "{statuses:?}"
    );
    for (status, retry) in &statuses[20..] {
        assert_eq!(*status, 429, "{statuses:?}");
        let secs: u64 = retry
            .as_deref()
            .and_then(|r| r.parse().ok())
            .unwrap_or_else(|| panic!("no Retry-After: {statuses:?}"));
        assert!((1..=2).contains(&secs), "{statuses:?}");
    }
    // The policy: while its address is refused, a good token from it is refused too (else a
    // guesser would learn which guess was right)...
    let (status, _) = probe(&node, &admin);
    assert_eq!(status, 429);
    // ...and only until the window ends: the admin is not locked out for good.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, _) = probe(&node, &admin);
        if status == 200 {
            break;
        }
        assert_eq!(status, 429);
        assert!(Instant::now() < deadline, "still refused after 15 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    let metrics = node.metrics();
    assert!(
        metrics.contains("liandong_auth_blocks_total{node=\"350322\"} 1\n"),
        "{metrics}"
    );
    // One log line for the block, not one per failure.
    let lines = node
        .logs()
        .lines()
        .filter(|l| l.contains("failed authentications over the limit"))
        .count();
    assert_eq!(lines, 1, "{}", node.logs());
}

/// Disable and enable take no options but read their body (`{}` or nothing): a body the
/// server left unread made it close the kept-alive connection after a 200 without saying so,
/// and the client's next request on it died with "unexpected EOF" (about one run in a dozen).
/// Here one client sends many such requests back to back on its pooled connections.
#[test]
fn requests_with_an_unread_body_leave_the_connection_usable() {
    let node = Node::start("350322", Some(CLOCK));
    let admin = node.admin_token();
    node.add_operator("郑窗口", "clerk", Some(SHICHANG));
    for round in 0..40 {
        for action in ["disable", "enable"] {
            let path = format!("/api/v1/operators/郑窗口/{action}");
            let answer = node
                .try_post(&path, &admin, &json!({}))
                .unwrap_or_else(|e| panic!("round {round}, {action}: {e}"));
            assert_eq!(answer.0, 200, "{answer:?}");
        }
    }
    assert_error(
        &node.post(
            "/api/v1/operators/郑窗口/disable",
            &admin,
            &json!({"at": "now"}),
        ),
        400,
        "bad_request",
    );
}
