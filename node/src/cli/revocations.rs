//! `liandong revocations`: revoked node certificates at a running node. `load` hands the CA's
//! `revoked.toml` to the running root (or any node), where it takes effect at once: the revoked
//! node's link is closed, and its events and summaries are refused here and below.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;

use crate::client::{typed, Client};
use crate::contract::{RevocationList, RevocationsLoad, RevocationsLoaded};
use federation_proto::NodeCode;

#[derive(Subcommand)]
pub enum RevocationsCommand {
    /// Load a revoked.toml (written by `liandong ca revoke`) into the running node (admin): new
    /// revocations are recorded, passed down the subtree, and close the revoked nodes' links
    /// at once — no restart needed.
    Load {
        /// The CA's revoked.toml.
        file: PathBuf,
    },
    /// The revocations this node holds.
    List,
}

pub fn run(client: &Client, command: RevocationsCommand) -> Result<()> {
    match command {
        RevocationsCommand::Load { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            crate::pki::Revocations::parse(&text)
                .with_context(|| format!("{} is not a revoked.toml file", file.display()))?;
            let answer = client.put(
                "/api/v1/revocations",
                &RevocationsLoad { revocations: text },
            )?;
            let loaded: RevocationsLoaded = typed(answer, "loading the revocations")?;
            let codes = |list: &[NodeCode]| -> Vec<String> {
                list.iter().map(NodeCode::to_string).collect()
            };
            let (added, already) = (codes(&loaded.revoked), codes(&loaded.already_revoked));
            if added.is_empty() {
                println!("no new revocation ({} known already)", already.len());
            } else {
                println!(
                    "revoked {}: links closed, their events and summaries refused from now on \
                     ({} known already)",
                    added.join(", "),
                    already.len()
                );
            }
            for own in codes(&loaded.skipped_own_code) {
                eprintln!("note: {own} is this node itself: skipped (its parent cuts it off)");
            }
        }
        RevocationsCommand::List => {
            let list: RevocationList =
                typed(client.get("/api/v1/revocations")?, "the revocations")?;
            if list.revoked.is_empty() {
                println!("no revocations");
            }
            for r in list.revoked {
                println!("{}  revoked at {}", r.code, r.revoked_at);
            }
        }
    }
    Ok(())
}
