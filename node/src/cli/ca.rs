//! `liandong ca`: the federation CA's folder at the root (DESIGN.md §8) — its arguments and what
//! each command tells the operator. The folder's files and the operations on them are in
//! [`crate::ca`]; what a certificate says, and the checks, in [`crate::pki`].

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};
use federation_proto::NodeCode;

use crate::ca::{self, IssueRequest, Revocation, CA_CERT, CA_KEY, REVOKED};
use crate::config::FilesSection;
use crate::pki;

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
    ca::init(&args.dir, args.name.as_deref())?;
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
    let request = IssueRequest::check(&args.dir, args.code, &args.out)?;
    if let Some(other) = request.other_node() {
        eprintln!(
            "warning: {} is the directory of node {other}, not {}: that node will refuse to \
             start with this certificate",
            args.out.display(),
            args.code
        );
    }
    let issued = request.issue(args.days)?;
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
    match ca::revoke(&args.dir, args.code)? {
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
