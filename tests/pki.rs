//! The federation PKI through the real binary: `liandong ca init / issue / revoke`, the
//! certificates they write, and the start-up check of `liandong run`.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::{SigningKey, VerifyingKey};
use federation_proto::NodeCode;
use liandong::pki::{self, PkiError, Revocations};
use support::{liandong, Node, BIN};

fn p(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "liandong failed: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn failed(out: Output) -> String {
    assert!(
        !out.status.success(),
        "liandong should have failed: {out:?}"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn ca_init(pki: &Path) -> Output {
    liandong(&["ca", "init", "--dir", p(pki), "--name", "莆田市"])
}

fn ca_issue(pki: &Path, code: &str, out: &Path) -> Output {
    liandong(&[
        "ca",
        "issue",
        "--dir",
        p(pki),
        "--code",
        code,
        "--out",
        p(out),
    ])
}

fn ca_revoke(pki: &Path, code: &str) -> Output {
    liandong(&["ca", "revoke", "--dir", p(pki), "--code", code])
}

fn init_node(code: &str, dir: &Path) {
    let name = format!("{code} 测试行政服务中心");
    ok(liandong(&[
        "init",
        "--code",
        code,
        "--name",
        &name,
        "--dir",
        p(dir),
    ]));
}

fn cert(path: &Path) -> Vec<u8> {
    pki::read_cert_pem(path).expect("a PEM certificate")
}

/// The public half of DIR/node.key, read as `liandong run` reads it.
fn node_key(dir: &Path) -> VerifyingKey {
    let pem = std::fs::read_to_string(dir.join("node.key")).expect("node.key");
    SigningKey::from_pkcs8_pem(&pem)
        .expect("node.key is PKCS#8 ed25519")
        .verifying_key()
}

fn code(s: &str) -> NodeCode {
    s.parse().expect("a valid code")
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn issued_certificates_verify_name_their_code_and_certify_node_key() {
    let tmp = tempfile::tempdir().unwrap();
    let pki_dir = tmp.path().join("pki");
    ok(ca_init(&pki_dir));
    #[cfg(unix)]
    assert_eq!(mode(&pki_dir.join("ca.key")), 0o600);
    let ca = cert(&pki_dir.join("ca.crt"));
    let revocations = Revocations::load(&pki_dir.join("revoked.toml")).unwrap();
    assert_eq!(revocations.iter().count(), 0);
    for c in ["350300", "350322", "350322101"] {
        let out = tmp.path().join(c);
        ok(ca_issue(&pki_dir, c, &out));
        let node = cert(&out.join("node.crt"));
        pki::verify_issued_by(&node, &ca).unwrap();
        assert_eq!(cert(&out.join("ca.crt")), ca, "ca.crt is a copy of the CA");
        assert_eq!(pki::node_code_of(&node).unwrap(), code(c));
        assert!(pki::signing_key_matches(&node, &node_key(&out)));
        #[cfg(unix)]
        assert_eq!(mode(&out.join("node.key")), 0o600);
    }
    let issued = std::fs::read_to_string(pki_dir.join("issued.toml")).unwrap();
    assert_eq!(issued.matches("[[issued]]").count(), 3, "{issued}");
}

#[test]
fn a_second_ca_init_is_refused_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let pki_dir = tmp.path().join("pki");
    ok(ca_init(&pki_dir));
    let key = std::fs::read(pki_dir.join("ca.key")).unwrap();
    let ca = std::fs::read(pki_dir.join("ca.crt")).unwrap();
    let err = failed(ca_init(&pki_dir));
    assert!(err.contains("refusing to overwrite"), "{err}");
    assert_eq!(std::fs::read(pki_dir.join("ca.key")).unwrap(), key);
    assert_eq!(std::fs::read(pki_dir.join("ca.crt")).unwrap(), ca);
}

#[test]
fn bad_codes_and_a_missing_ca_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let pki_dir = tmp.path().join("pki");
    let out = tmp.path().join("node");
    let err = failed(ca_issue(&pki_dir, "350322", &out));
    assert!(err.contains("ca init"), "{err}");
    ok(ca_init(&pki_dir));
    for bad in ["12345", "35032A", "003503", "3503221011"] {
        let err = failed(ca_issue(&pki_dir, bad, &out));
        assert!(err.contains("division code"), "{bad}: {err}");
    }
    assert!(!out.join("node.crt").exists());
}

#[test]
fn re_issuing_keeps_the_node_key_with_a_new_serial() {
    let tmp = tempfile::tempdir().unwrap();
    let pki_dir = tmp.path().join("pki");
    let out = tmp.path().join("node");
    ok(ca_init(&pki_dir));
    let first = ok(ca_issue(&pki_dir, "350322", &out));
    assert!(first.contains("(new)"), "{first}");
    let key = node_key(&out);
    let first_cert = cert(&out.join("node.crt"));
    let second = ok(ca_issue(&pki_dir, "350322", &out));
    assert!(second.contains("kept"), "{second}");
    assert_eq!(node_key(&out), key);
    let second_cert = cert(&out.join("node.crt"));
    assert_ne!(first_cert, second_cert);
    assert!(pki::signing_key_matches(&second_cert, &key));
    let issued = std::fs::read_to_string(pki_dir.join("issued.toml")).unwrap();
    assert_eq!(issued.matches("code = \"350322\"").count(), 2, "{issued}");
}

#[test]
fn a_revoked_code_gets_no_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let pki_dir = tmp.path().join("pki");
    let out = tmp.path().join("node");
    ok(ca_init(&pki_dir));
    let err = failed(ca_revoke(&pki_dir, "350322"));
    assert!(err.contains("never issued"), "{err}");
    ok(ca_issue(&pki_dir, "350322", &out));
    ok(ca_issue(&pki_dir, "350300", &tmp.path().join("city")));
    let said = ok(ca_revoke(&pki_dir, "350322"));
    assert!(said.contains("revoked node 350322"), "{said}");
    let again = ok(ca_revoke(&pki_dir, "350322"));
    assert!(again.contains("already"), "{again}");
    let revocations = Revocations::load(&pki_dir.join("revoked.toml")).unwrap();
    assert!(revocations.is_revoked(code("350322")));
    assert!(!revocations.is_revoked(code("350300")));
    let entry = revocations.entry(code("350322")).unwrap();
    assert_eq!(entry.serials.len(), 1);
    let err = failed(ca_issue(&pki_dir, "350322", &tmp.path().join("other")));
    assert!(err.contains("revoked"), "{err}");
    assert!(!tmp.path().join("other").join("node.crt").exists());
}

#[test]
fn a_certificate_from_another_ca_does_not_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let (ours, theirs) = (tmp.path().join("ours"), tmp.path().join("theirs"));
    ok(ca_init(&ours));
    ok(ca_init(&theirs));
    let out = tmp.path().join("node");
    ok(ca_issue(&theirs, "350322", &out));
    let node = cert(&out.join("node.crt"));
    let err = pki::verify_issued_by(&node, &cert(&ours.join("ca.crt"))).unwrap_err();
    assert!(matches!(err, PkiError::NotIssuedBy { .. }), "{err}");
    pki::verify_issued_by(&node, &cert(&theirs.join("ca.crt"))).unwrap();
}

#[test]
fn a_certificate_without_our_uri_names_no_node() {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let params = rcgen::CertificateParams::new(vec!["n350322.liandong".to_string()]).unwrap();
    let der = params.self_signed(&key).unwrap().der().to_vec();
    let err = pki::node_code_of(&der).unwrap_err();
    assert!(matches!(err, PkiError::NoNodeIdentity { .. }), "{err}");
    assert!(err.to_string().contains("urn:liandong:node:"), "{err}");
}

// ---------------------------------------------------------------------- liandong run

/// Starts `liandong run` and waits until it prints `ready` (then stops it: Ok with its logs) or
/// exits (Err with its status and logs).
fn start(config: &Path) -> Result<String, (ExitStatus, String)> {
    let mut child = Command::new(BIN)
        .args(["run", "--config", p(config)])
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning liandong run");
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut logs = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            logs.push_str(&line);
            logs.push('\n');
            if line.trim_end() == "ready" {
                let _ = tx.send(());
            }
        }
        logs
    });
    let ready = rx.recv_timeout(Duration::from_secs(30)).is_ok();
    if ready {
        let _ = child.kill();
    }
    let status = child.wait().expect("waiting for liandong run");
    let logs = reader.join().expect("the stderr reader");
    if ready {
        Ok(logs)
    } else {
        Err((status, logs))
    }
}

#[test]
fn init_and_issue_into_one_directory_make_a_node_that_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let pki_dir = tmp.path().join("pki");
    let dir = tmp.path().join("node");
    ok(ca_init(&pki_dir));
    init_node("350322", &dir);
    let said = ok(ca_issue(&pki_dir, "350322", &dir));
    assert!(said.contains("(new)"), "{said}");
    let logs = start(&dir.join("node.toml")).unwrap_or_else(|(s, l)| panic!("{s}:\n{l}"));
    assert!(logs.contains("node certificate matches"), "{logs}");
}

#[test]
fn a_key_the_node_made_itself_is_certified_and_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let pki_dir = tmp.path().join("pki");
    ok(ca_init(&pki_dir));
    let mut node = Node::start("350322101", None);
    node.stop();
    let key = node_key(&node.dir());
    let said = ok(ca_issue(&pki_dir, "350322101", &node.dir()));
    assert!(said.contains("kept"), "{said}");
    assert_eq!(node_key(&node.dir()), key);
    node.start_again(None);
    assert!(node.logs().contains("node certificate matches"));
    node.stop();
}

#[test]
fn a_certificate_for_another_code_stops_the_node() {
    let tmp = tempfile::tempdir().unwrap();
    let pki_dir = tmp.path().join("pki");
    let dir: PathBuf = tmp.path().join("city");
    ok(ca_init(&pki_dir));
    init_node("350300", &dir);
    let out = ca_issue(&pki_dir, "350322", &dir);
    let warning = String::from_utf8_lossy(&out.stderr).into_owned();
    ok(out);
    assert!(warning.contains("warning"), "{warning}");
    let (status, logs) = start(&dir.join("node.toml")).expect_err("the node must refuse to start");
    assert!(!status.success());
    let error = logs
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("no error line:\n{logs}"));
    assert!(
        error.contains("350300") && error.contains("350322"),
        "{error}"
    );
}
