//! `liandong init`: a new node directory.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use federation_proto::NodeCode;

use crate::config::{
    check_api_exposure, parse_parent, ApiSection, Config, ConfigFile, FilesSection, NodeSection,
    StorageSection,
};
use crate::deadline::WarningPolicy;
use crate::files::{write_atomic, write_private};
use crate::operator::new_token;

#[derive(Args)]
pub struct InitArgs {
    /// Division code of this node: 6 digits (city/county), 9 (township) or 12 (village).
    #[arg(long)]
    pub code: NodeCode,
    /// The center's name, e.g. 仙游县行政服务中心.
    #[arg(long)]
    pub name: String,
    /// Directory to create the node in.
    #[arg(long)]
    pub dir: PathBuf,
    /// The parent node: CODE@HOST:PORT (its QUIC address). Must be an ancestor of --code.
    #[arg(long)]
    pub parent: Option<String>,
    /// QUIC listen address for child links (port 0 = any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// HTTP API address (port 0 = any free port). Keep it on loopback: an address other
    /// networks reach is refused unless --api-tls or --insecure-api says how tokens are kept
    /// safe.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub api: SocketAddr,
    /// Serve the API over TLS (`[api] tls = true`) with the node's certificate and key
    /// (node.crt from `liandong ca issue`, node.key); the CLI trusts the federation CA (ca.crt).
    #[arg(long)]
    pub api_tls: bool,
    /// Accept a non-loopback --api without TLS (`[api] insecure = true`): bearer tokens then
    /// cross the network in clear. Only behind a TLS-terminating proxy or on a private network.
    #[arg(long)]
    pub insecure_api: bool,
}

pub fn run(args: InitArgs) -> Result<()> {
    let config_path = create(args)?;
    let dir = config_path.parent().unwrap_or(std::path::Path::new("."));
    println!("created node in {}", dir.display());
    println!("  config:      {}", config_path.display());
    println!("  admin token: {}", dir.join("admin.token").display());
    println!(
        "start it with: liandong run --config {}",
        config_path.display()
    );
    Ok(())
}

/// Creates the node directory and returns the path of its `node.toml`.
pub fn create(args: InitArgs) -> Result<PathBuf> {
    let config_path = args.dir.join("node.toml");
    if config_path.exists() {
        bail!(
            "{} exists already: refusing to overwrite a node",
            config_path.display()
        );
    }
    if let Some(p) = &args.parent {
        parse_parent(p)?;
    }
    check_api_exposure(args.api, args.api_tls, args.insecure_api)?;
    let file = ConfigFile {
        node: NodeSection {
            code: args.code,
            name: args.name,
            parent: args.parent,
            listen: args.listen,
            api: args.api,
        },
        files: FilesSection::default(),
        storage: StorageSection::default(),
        api: ApiSection {
            tls: args.api_tls,
            insecure: args.insecure_api,
            ..ApiSection::default()
        },
        warnings: WarningPolicy::default(),
        auth: Default::default(),
    };
    Config::new(file.clone(), args.dir.clone())?;
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let token = new_token().context("generating the admin token")?;
    write_private(
        &args.dir.join(&file.files.admin_token),
        format!("{token}\n").as_bytes(),
    )?;
    let text = toml::to_string_pretty(&file).context("writing node.toml")?;
    write_atomic(&config_path, text.as_bytes())?;
    Ok(config_path)
}
