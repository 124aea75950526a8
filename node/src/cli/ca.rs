//! `liandong ca`: the federation CA's files (DESIGN.md §8). The CA lives at the root of the
//! federation (the city), in one directory whose `ca.key` never leaves it:
//!
//! ```text
//! PKI/ca.key        the CA's ed25519 key (PKCS#8 PEM, mode 0600)
//! PKI/ca.crt        the CA certificate every node trusts
//! PKI/issued.toml   register of issued certificates (code, serial, not_after)
//! PKI/revoked.toml  revoked codes; travels down the tree
//! ```
//!
//! What a certificate says, and the checks, are in [`crate::pki`].

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::SigningKey;
use federation_proto::NodeCode;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::config::{Config, FilesSection};
use crate::files::{write_atomic, write_private};
use crate::pki::{self, Authority, NodeCert, Revocations, Revoked};

pub const CA_KEY: &str = "ca.key";
pub const CA_CERT: &str = "ca.crt";
pub const ISSUED: &str = "issued.toml";
pub const REVOKED: &str = "revoked.toml";

#[derive(Subcommand)]
pub enum CaCommand {
    /// Create the federation CA in DIR: ca.key (mode 0600), ca.crt (valid 20 years) and an
    /// empty revoked.toml. Run once, at the root of the federation. Refuses to overwrite a CA.
    Init(InitArgs),
    /// Certify a node: writes OUT/node.crt, OUT/ca.crt and, unless OUT/node.key exists already,
    /// a new OUT/node.key (mode 0600). An existing node.key is kept and certified, so a renewal
    /// keeps the node's event-signing identity. `init` and `ca issue` into the same directory
    /// make a complete node.
    Issue(IssueArgs),
    /// Revoke every certificate issued for a code: adds it to DIR/revoked.toml, and `ca issue`
    /// refuses the code from then on.
    Revoke(RevokeArgs),
}

#[derive(Args)]
pub struct InitArgs {
    /// The CA's directory (created if missing). Keep it at the root; ca.key is its secret.
    #[arg(long)]
    pub dir: PathBuf,
    /// Added to the CA's name, "liandong federation CA NAME", e.g. the city: 莆田市.
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Args)]
pub struct IssueArgs {
    /// The CA's directory (from `liandong ca init`).
    #[arg(long)]
    pub dir: PathBuf,
    /// Division code of the node: 6 digits (city/county), 9 (township) or 12 (village).
    #[arg(long)]
    pub code: NodeCode,
    /// The node's directory (created if missing); usually the one `liandong init` made.
    #[arg(long)]
    pub out: PathBuf,
    /// Days the certificate is valid.
    #[arg(long, default_value_t = pki::DEFAULT_NODE_DAYS,
          value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub days: u32,
}

#[derive(Args)]
pub struct RevokeArgs {
    /// The CA's directory.
    #[arg(long)]
    pub dir: PathBuf,
    /// Division code of the node to revoke.
    #[arg(long)]
    pub code: NodeCode,
}

pub fn run(command: CaCommand) -> Result<()> {
    match command {
        CaCommand::Init(args) => run_init(args),
        CaCommand::Issue(args) => run_issue(args),
        CaCommand::Revoke(args) => run_revoke(args),
    }
}

fn run_init(args: InitArgs) -> Result<()> {
    init(&args.dir, args.name.as_deref())?;
    println!("created the federation CA in {}", args.dir.display());
    println!(
        "  key:         {} (secret: keep it here)",
        args.dir.join(CA_KEY).display()
    );
    println!("  certificate: {}", args.dir.join(CA_CERT).display());
    println!("  revocations: {}", args.dir.join(REVOKED).display());
    println!(
        "issue a node certificate with: liandong ca issue --dir {} --code CODE --out NODE_DIR",
        args.dir.display()
    );
    Ok(())
}

fn run_issue(args: IssueArgs) -> Result<()> {
    let issued = issue(&args.dir, args.code, &args.out, args.days)?;
    let files = FilesSection::default();
    println!(
        "issued a certificate for node {} (serial {}, valid until {})",
        args.code, issued.serial, issued.not_after
    );
    println!("  certificate: {}", args.out.join(&files.cert).display());
    println!("  CA:          {}", args.out.join(&files.ca).display());
    let key = if issued.new_key {
        "new"
    } else {
        "kept: the node keeps its event-signing identity"
    };
    println!(
        "  key:         {} ({key})",
        args.out.join(&files.key).display()
    );
    Ok(())
}

fn run_revoke(args: RevokeArgs) -> Result<()> {
    match revoke(&args.dir, args.code)? {
        Revocation::New(r) => println!(
            "revoked node {} ({} certificate(s): {}); hand {} to the nodes — at the running \
             root, `liandong revocations load {}` makes it take effect at once down the tree",
            r.code,
            r.serials.len(),
            r.serials.join(", "),
            args.dir.join(REVOKED).display(),
            args.dir.join(REVOKED).display()
        ),
        Revocation::Already(r) => println!(
            "node {} was revoked already at {}; nothing changed",
            r.code, r.revoked_at
        ),
    }
    Ok(())
}

// ---------------------------------------------------------------------- init

/// Creates the CA in `dir`. Any CA file there already (even only an old register or revocation
/// list) is refused, so nothing of an existing CA is ever overwritten; ca.key is written first
/// and create-only, so of two concurrent `ca init`s one fails.
pub fn init(dir: &Path, name: Option<&str>) -> Result<()> {
    for file in [CA_KEY, CA_CERT, ISSUED, REVOKED] {
        let path = dir.join(file);
        if path.exists() {
            bail!(
                "{} exists already: refusing to overwrite the federation CA",
                path.display()
            );
        }
    }
    let ca = pki::new_ca(name)?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    write_private(&dir.join(CA_KEY), ca.key_pem.as_bytes())?;
    write_atomic(&dir.join(CA_CERT), ca.cert_pem.as_bytes())?;
    write_atomic(
        &dir.join(REVOKED),
        Revocations::default().to_toml()?.as_bytes(),
    )
}

// ---------------------------------------------------------------------- issue

/// What `issue` did.
pub struct Issued {
    pub serial: String,
    pub not_after: String,
    /// Whether node.key was created now (else an existing key was certified).
    pub new_key: bool,
}

/// Issues a certificate for `code` into the node directory `out`. The register entry is written
/// before the certificate, so every certificate that exists can be revoked by its serial.
pub fn issue(pki_dir: &Path, code: NodeCode, out: &Path, days: u32) -> Result<Issued> {
    require_ca(pki_dir)?;
    let revoked_path = pki_dir.join(REVOKED);
    if let Some(r) = Revocations::load(&revoked_path)?.entry(code) {
        bail!(
            "node {code} was revoked at {} ({}): refusing to issue a certificate for it",
            r.revoked_at,
            revoked_path.display()
        );
    }
    let (ca_pem, authority) = load_authority(pki_dir)?;
    warn_if_other_node(out, code);
    let files = FilesSection::default();
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let (key, new_key) = load_or_create_node_key(&out.join(&files.key))?;
    let cert = authority.issue(code, &key.verifying_key(), days)?;
    Register::record(pki_dir, code, &cert)?;
    write_atomic(&out.join(&files.ca), &ca_pem)?;
    write_atomic(&out.join(&files.cert), cert.pem.as_bytes())?;
    Ok(Issued {
        serial: cert.serial,
        not_after: pki::rfc3339(cert.not_after),
        new_key,
    })
}

fn require_ca(pki_dir: &Path) -> Result<()> {
    if !pki_dir.join(CA_CERT).exists() || !pki_dir.join(CA_KEY).exists() {
        bail!(
            "{} holds no federation CA (ca.crt and ca.key): create one with `liandong ca init --dir {}`",
            pki_dir.display(),
            pki_dir.display()
        );
    }
    Ok(())
}

/// The CA certificate's PEM bytes (copied to each node) and the loaded CA.
fn load_authority(pki_dir: &Path) -> Result<(Vec<u8>, Authority)> {
    let cert_path = pki_dir.join(CA_CERT);
    let key_path = pki_dir.join(CA_KEY);
    let pem =
        std::fs::read(&cert_path).with_context(|| format!("reading {}", cert_path.display()))?;
    let der = pki::read_cert_pem(&cert_path)?;
    let key = std::fs::read_to_string(&key_path)
        .with_context(|| format!("reading {}", key_path.display()))?;
    let authority = Authority::new(der, &key)
        .with_context(|| format!("loading the CA from {}", pki_dir.display()))?;
    Ok((pem, authority))
}

/// The node's ed25519 key: the one in node.key if there is one (read exactly as `liandong run`
/// reads it), else a new one written there.
fn load_or_create_node_key(path: &Path) -> Result<(SigningKey, bool)> {
    if path.exists() {
        let pem = std::fs::read_to_string(path)
            .with_context(|| format!("reading the node key {}", path.display()))?;
        let key = SigningKey::from_pkcs8_pem(&pem).map_err(|e| {
            anyhow::anyhow!(
                "{} is not an ed25519 PKCS#8 key ({e}); refusing to replace it",
                path.display()
            )
        })?;
        return Ok((key, false));
    }
    let key = SigningKey::generate(&mut rand_core::OsRng);
    let pem = key
        .to_pkcs8_pem(Default::default())
        .map_err(|e| anyhow::anyhow!("encoding the new node key: {e}"))?;
    write_private(path, pem.as_bytes())?;
    Ok((key, true))
}

/// `liandong run` refuses a certificate for another code; say so now, while it is easy to fix.
fn warn_if_other_node(out: &Path, code: NodeCode) {
    let Ok(config) = Config::load(&out.join("node.toml")) else {
        return;
    };
    if config.code() != code {
        eprintln!(
            "warning: {} is the directory of node {}, not {code}: that node will refuse to start \
             with this certificate",
            out.display(),
            config.code()
        );
    }
}

/// `issued.toml`: every certificate the CA has issued.
#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Register {
    #[serde(default)]
    issued: Vec<IssuedEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuedEntry {
    code: NodeCode,
    serial: String,
    not_after: String,
    issued_at: String,
}

impl Register {
    /// The register; empty if nothing was issued yet.
    fn load(pki_dir: &Path) -> Result<Register> {
        let path = pki_dir.join(ISSUED);
        if !path.exists() {
            return Ok(Register::default());
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("{} is not a valid register", path.display()))
    }

    fn record(pki_dir: &Path, code: NodeCode, cert: &NodeCert) -> Result<()> {
        let mut register = Register::load(pki_dir)?;
        register.issued.push(IssuedEntry {
            code,
            serial: cert.serial.clone(),
            not_after: pki::rfc3339(cert.not_after),
            issued_at: pki::rfc3339(OffsetDateTime::now_utc()),
        });
        let body = toml::to_string_pretty(&register).context("writing the register")?;
        let text = format!("# Certificates issued by this CA (`liandong ca issue`).\n{body}");
        write_atomic(&pki_dir.join(ISSUED), text.as_bytes())
    }

    fn serials_of(&self, code: NodeCode) -> Vec<String> {
        self.issued
            .iter()
            .filter(|e| e.code == code)
            .map(|e| e.serial.clone())
            .collect()
    }
}

// ---------------------------------------------------------------------- revoke

/// What `revoke` did.
pub enum Revocation {
    New(Revoked),
    Already(Revoked),
}

/// Revokes `code` with all the serials issued for it. Revoking twice changes nothing.
pub fn revoke(pki_dir: &Path, code: NodeCode) -> Result<Revocation> {
    require_ca(pki_dir)?;
    let path = pki_dir.join(REVOKED);
    let mut revocations = Revocations::load(&path)?;
    if let Some(r) = revocations.entry(code) {
        return Ok(Revocation::Already(r.clone()));
    }
    let serials = Register::load(pki_dir)?.serials_of(code);
    if serials.is_empty() {
        bail!(
            "this CA never issued a certificate for node {code} (see {}): nothing to revoke",
            pki_dir.join(ISSUED).display()
        );
    }
    let revoked = Revoked {
        code,
        serials,
        revoked_at: pki::rfc3339(OffsetDateTime::now_utc()),
    };
    revocations.add(revoked.clone());
    write_atomic(&path, revocations.to_toml()?.as_bytes())?;
    Ok(Revocation::New(revoked))
}
