//! `liandong status` and `liandong stats`: the supervisors' view (电子监察) of this node's
//! subtree, as human tables ([`crate::render::supervision`]) or, with `--json`, the API's answer
//! as it is.

use anyhow::Result;

use crate::client::Client;
use crate::contract::PullRequest;
use crate::render::supervision::{Stats, Status};

/// `liandong status [--pull] [--json]`.
pub fn status(client: &Client, pull: bool, timeout_ms: u64, json: bool) -> Result<()> {
    let s = if pull {
        let body = PullRequest {
            timeout_ms: Some(timeout_ms),
        };
        client.post("/api/v1/status/pull", &body)?
    } else {
        client.get("/api/v1/status")?
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        print!("{}", Status(&s));
    }
    Ok(())
}

/// `liandong stats [--json]`.
pub fn stats(client: &Client, json: bool) -> Result<()> {
    let s = client.get("/api/v1/stats")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        print!("{}", Stats(&s));
    }
    Ok(())
}
