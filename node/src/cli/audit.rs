//! `liandong audit`: the audit log of identity reads (个人信息查阅记录) as a table — who read
//! which case's applicant identity, when, and through which endpoint. For supervisors and
//! admins (the node answers a clerk's token with 403). The table is [`crate::render::audit`].

use anyhow::{bail, Result};
use serde_json::{json, Value};

use super::case::encode;
use crate::client::Client;
use crate::render::audit::{AuditHeader, AuditRows};

/// `liandong audit [--case NO] [--operator NAME] [--json]`: every matching entry, following
/// the pages (`next`) until the node answers `null`.
pub fn run(client: &Client, case: Option<&str>, operator: Option<&str>, json: bool) -> Result<()> {
    let mut filters = Vec::new();
    if let Some(c) = case {
        filters.push(format!("case_no={}", encode(c)));
    }
    if let Some(o) = operator {
        filters.push(format!("operator={}", encode(o)));
    }
    filters.push("limit=500".to_string());
    let mut after: Option<u64> = None;
    let mut all = Vec::new();
    let mut count = 0;
    if !json {
        print!("{AuditHeader}");
    }
    loop {
        let mut query = filters.clone();
        if let Some(a) = after {
            query.push(format!("after={a}"));
        }
        let mut answer = client.get(&format!("/api/v1/audit?{}", query.join("&")))?;
        let entries = match answer["entries"].take() {
            Value::Array(entries) => entries,
            other => bail!("the node answered no audit entries: {other}"),
        };
        count += entries.len();
        if json {
            all.extend(entries);
        } else {
            print!("{}", AuditRows(&entries));
        }
        match answer["next"].as_u64() {
            Some(n) if after.is_none_or(|a| n > a) => after = Some(n),
            Some(n) => bail!("the node's cursor did not advance past {n}"),
            None => break,
        }
    }
    if json {
        let answer = json!({"entries": all, "next": null});
        println!(
            "{}",
            serde_json::to_string_pretty(&answer).unwrap_or_default()
        );
    } else {
        println!("{count} read(s)");
    }
    Ok(())
}
