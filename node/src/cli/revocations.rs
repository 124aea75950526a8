//! `liandong revocations`: revoked node certificates at a running node. `load` hands the CA's
//! `revoked.toml` to the running root (or any node), where it takes effect at once: the revoked
//! node's link is closed, and its events and summaries are refused here and below.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;

use crate::client::Client;

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
                &serde_json::json!({ "revocations": text }),
            )?;
            let codes = |key: &str| -> Vec<String> {
                answer[key]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|c| c.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let (added, already) = (codes("revoked"), codes("already_revoked"));
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
            for own in codes("skipped_own_code") {
                eprintln!("note: {own} is this node itself: skipped (its parent cuts it off)");
            }
        }
        RevocationsCommand::List => {
            let answer = client.get("/api/v1/revocations")?;
            let list = answer["revoked"].as_array().cloned().unwrap_or_default();
            if list.is_empty() {
                println!("no revocations");
            }
            for r in list {
                println!(
                    "{}  revoked at {}",
                    r["code"].as_str().unwrap_or("?"),
                    r["revoked_at"].as_str().unwrap_or("?")
                );
            }
        }
    }
    Ok(())
}
