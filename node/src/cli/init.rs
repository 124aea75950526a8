//! `liandong init`: a new node directory — its arguments and what it tells the operator. The
//! folder itself is made by [`crate::node_folder`].

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use federation_proto::NodeCode;

use crate::node_folder::{self, NewNode};

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
    /// Also serve the public listener for applicants at this address (`/public/v1/`: progress
    /// lookup by case number and ID tail, rating; no tokens; rate-limited per client address;
    /// port 0 = any free port, written to ports.json as "public"). Off unless given.
    #[arg(long, value_name = "ADDR")]
    pub public: Option<SocketAddr>,
}

pub fn run(args: InitArgs) -> Result<()> {
    let config_path = node_folder::create(args.into())?;
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

impl From<InitArgs> for NewNode {
    fn from(args: InitArgs) -> NewNode {
        NewNode {
            code: args.code,
            name: args.name,
            dir: args.dir,
            parent: args.parent,
            listen: args.listen,
            api: args.api,
            public: args.public,
            api_tls: args.api_tls,
            insecure_api: args.insecure_api,
        }
    }
}
