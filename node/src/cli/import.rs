//! `liandong case import FILE`: many applications from a JSON Lines file, sent in batches
//! (`POST /api/v1/cases:batch`) — how a center moving onto liandong loads its legacy open
//! cases.
//!
//! Why JSON Lines and not one JSON array: a line number names an invalid case in a file of
//! thousands, an export from another system is written (and fixed) one record per line, and
//! the file can be checked and cut into batches line by line.
//!
//! Why it is safe to run again: each batch is sent with an `Idempotency-Key` derived from its
//! position (first line) and its content. The node writes each case of a batch under a key
//! derived from the batch's ([`crate::api`]'s batch module), so a batch sent again — after
//! the import was interrupted, or after a later batch was refused — is answered with the cases
//! it wrote before, and nothing is written twice. The key is not derived from the whole file,
//! so fixing an invalid line changes only its own batch's key: the batches before it, already
//! written, keep theirs. (Lines already imported must not be edited: their batch would then be
//! a new one.) The cut into batches depends only on the lines before a batch, so it is the
//! same from one run to the next with the same `--batch-size`.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::api::{MAX_BATCH_BODY, MAX_BATCH_CASES};
use crate::client::{typed, Client, Refused};
use crate::contract::{BatchAnswer, ErrorBody};

/// The route the batches go to.
const ROUTE: &str = "/api/v1/cases:batch";

/// Largest line taken, in bytes: a case of a batch may be no larger than the body of a single
/// submission (64 KiB, the API's cap). Checked here so that no batch is refused for a line the
/// node would refuse anyway, after the batches before it were written.
const MAX_LINE: usize = 64 * 1024;

/// `{"cases":[` and `]}` around a batch's lines.
const FRAME: usize = r#"{"cases":[]}"#.len();

/// One batch: its body and the file's line numbers of its cases (1-based).
#[derive(Debug, PartialEq, Eq)]
struct Batch {
    lines: Vec<usize>,
    body: Vec<u8>,
}

impl Batch {
    /// The batch's `Idempotency-Key`: where it starts and what it holds.
    fn key(&self) -> String {
        let digest = Sha256::digest(&self.body);
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("import-l{}-{hex}", self.lines.first().copied().unwrap_or(0))
    }

    fn span(&self) -> String {
        match (self.lines.first(), self.lines.last()) {
            (Some(first), Some(last)) if first != last => format!("lines {first}–{last}"),
            (Some(first), _) => format!("line {first}"),
            _ => "no line".to_string(),
        }
    }
}

/// Reads `text` as JSON Lines and cuts it into batches of at most `size` cases and
/// [`MAX_BATCH_BODY`] bytes. Blank lines are skipped; any other line must be one JSON object
/// of at most [`MAX_LINE`] bytes, or nothing is sent and the error names the line.
fn batches(text: &str, size: usize) -> Result<Vec<Batch>> {
    let mut out = Vec::new();
    let mut current = Batch {
        lines: Vec::new(),
        body: Vec::new(),
    };
    for (n, line) in text.lines().enumerate() {
        let number = n + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line.len() > MAX_LINE {
            bail!(
                "line {number}: {} bytes; a case may take at most {MAX_LINE} bytes",
                line.len()
            );
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(_)) => {}
            Ok(_) => bail!("line {number}: not a JSON object (one application per line)"),
            Err(e) => bail!("line {number}: not JSON: {e}"),
        }
        let full = current.lines.len() >= size
            || FRAME + current.body.len() + 1 + line.len() > MAX_BATCH_BODY;
        if full && !current.lines.is_empty() {
            out.push(close(std::mem::take(&mut current.lines), &current.body));
            current.body.clear();
        }
        if !current.body.is_empty() {
            current.body.push(b',');
        }
        current.body.extend_from_slice(line.as_bytes());
        current.lines.push(number);
    }
    if !current.lines.is_empty() {
        out.push(close(current.lines, &current.body));
    }
    Ok(out)
}

/// A batch of `lines` whose cases, comma-separated, are `cases`.
fn close(lines: Vec<usize>, cases: &[u8]) -> Batch {
    let mut body = Vec::with_capacity(FRAME + cases.len());
    body.extend_from_slice(br#"{"cases":["#);
    body.extend_from_slice(cases);
    body.extend_from_slice(b"]}");
    Batch { lines, body }
}

/// Imports `file` through `client` in batches of at most `size` cases; with `json`, prints
/// `{"line", "case_no", "state", ...}` per case on stdout (the case number each line got).
pub fn run(client: &Client, file: &Path, size: usize, json: bool) -> Result<()> {
    let size = size.clamp(1, MAX_BATCH_CASES);
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let batches = batches(&text, size).with_context(|| format!("{}", file.display()))?;
    let total: usize = batches.iter().map(|b| b.lines.len()).sum();
    if total == 0 {
        bail!("{} holds no application", file.display());
    }
    let name = file.display();
    eprintln!(
        "{name}: {total} applications in {} batch(es) of up to {size}",
        batches.len()
    );
    let (mut done, mut first, mut last) = (0, None, None);
    for (i, batch) in batches.iter().enumerate() {
        let answer = match client.post_keyed(ROUTE, &batch.body, &batch.key()) {
            Ok(answer) => answer,
            Err(e) => return Err(stopped(e, &name.to_string(), batch, done, &first, &last)),
        };
        let BatchAnswer { cases } = typed(answer, "a batch")?;
        if cases.len() != batch.lines.len() {
            bail!(
                "the node answered {} cases for the {} of the batch of {}",
                cases.len(),
                batch.lines.len(),
                batch.span()
            );
        }
        for (case, line) in cases.iter().zip(&batch.lines) {
            let case_no = case.case_no.to_string();
            if json {
                let mut row = serde_json::Map::new();
                row.insert("line".into(), (*line).into());
                if let Ok(Value::Object(view)) = serde_json::to_value(case) {
                    row.extend(view);
                }
                println!("{}", Value::Object(row));
            }
            first.get_or_insert_with(|| case_no.clone());
            last = Some(case_no);
        }
        done += cases.len();
        eprintln!(
            "batch {}/{}: {}: {} cases, {} … {}",
            i + 1,
            batches.len(),
            batch.span(),
            cases.len(),
            cases
                .first()
                .map_or("?".to_string(), |c| c.case_no.to_string()),
            cases
                .last()
                .map_or("?".to_string(), |c| c.case_no.to_string()),
        );
    }
    let summary = format!(
        "{done} cases imported from {name}: first {}, last {} (a case imported by an earlier run \
         of this file is answered with its number, not written again)",
        first.as_deref().unwrap_or("-"),
        last.as_deref().unwrap_or("-")
    );
    if json {
        eprintln!("{summary}");
    } else {
        println!("{summary}");
    }
    Ok(())
}

/// The error that stops an import at `batch`, after `done` cases of the batches before it
/// were imported: each refused case by its line, and how to go on.
fn stopped(
    e: anyhow::Error,
    file: &str,
    batch: &Batch,
    done: usize,
    first: &Option<String>,
    last: &Option<String>,
) -> anyhow::Error {
    let before = match (first, last) {
        (Some(first), Some(last)) => {
            format!("{done} cases of the lines before it were imported ({first} … {last})")
        }
        _ => "nothing was imported before it".to_string(),
    };
    let Some(refused) = e.downcast_ref::<Refused>() else {
        return anyhow!(
            "{file}: the batch of {} got no answer: {e:#}; {before}; run the same import again \
             to complete it (nothing is written twice)",
            batch.span()
        );
    };
    let listed = serde_json::from_value::<ErrorBody>(refused.body.clone())
        .ok()
        .and_then(|body| body.errors)
        .unwrap_or_default();
    if listed.is_empty() {
        return anyhow!(
            "{file}: the batch of {} was refused: {refused}; {before}; run the same import \
             again once that is resolved (nothing is written twice)",
            batch.span()
        );
    }
    let mut lines = String::new();
    for entry in &listed {
        let line = batch
            .lines
            .get(entry.index)
            .map_or("?".to_string(), |l| l.to_string());
        lines.push_str(&format!(
            "\n  {file}:{line}: {}: {}",
            entry.error, entry.message
        ));
    }
    anyhow!(
        "{file}: the batch of {} was refused and nothing of it written ({} {}):{lines}\n\
         {before}. Fix these lines and run the same import again: the lines already imported \
         are answered, not written twice",
        batch.span(),
        refused.status,
        refused.code
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: usize) -> String {
        format!(r#"{{"item":"x","n":{n}}}"#)
    }

    #[test]
    fn lines_are_cut_into_batches_by_count_and_bytes() {
        let text: String = (1..=7).map(|n| line(n) + "\n").collect();
        let cut = batches(&format!("\n{text}\n   \n"), 3).unwrap();
        let lines: Vec<Vec<usize>> = cut.iter().map(|b| b.lines.clone()).collect();
        assert_eq!(lines, [vec![2, 3, 4], vec![5, 6, 7], vec![8]]);
        let body: Value = serde_json::from_slice(&cut[0].body).unwrap();
        assert_eq!(body["cases"].as_array().unwrap().len(), 3);
        assert_eq!(body["cases"][2]["n"], 3);
        // Big lines: the byte cap closes a batch before the count does.
        let big = format!(r#"{{"item":"{}"}}"#, "x".repeat(60_000));
        let text: String = (0..200).map(|_| big.clone() + "\n").collect();
        let cut = batches(&text, MAX_BATCH_CASES).unwrap();
        assert!(cut.len() > 1);
        assert!(cut.iter().all(|b| b.body.len() <= MAX_BATCH_BODY));
        assert_eq!(cut.iter().map(|b| b.lines.len()).sum::<usize>(), 200);
    }

    #[test]
    fn a_bad_line_is_named_before_anything_is_sent() {
        let e = batches(&format!("{}\n{{\"item\": \n{}", line(1), line(3)), 10).unwrap_err();
        assert!(e.to_string().starts_with("line 2: not JSON"), "{e}");
        let e = batches(&format!("{}\n[1]\n", line(1)), 10).unwrap_err();
        assert!(
            e.to_string().starts_with("line 2: not a JSON object"),
            "{e}"
        );
        let long = format!(r#"{{"item":"{}"}}"#, "x".repeat(MAX_LINE));
        assert!(batches(&long, 10)
            .unwrap_err()
            .to_string()
            .starts_with("line 1:"));
    }

    #[test]
    fn a_batch_keeps_its_key_when_a_later_line_is_fixed() {
        let text: Vec<String> = (1..=6).map(line).collect();
        let before = batches(&text.join("\n"), 3).unwrap();
        let mut fixed = text.clone();
        fixed[4] = r#"{"item":"fixed"}"#.to_string();
        let after = batches(&fixed.join("\n"), 3).unwrap();
        assert_eq!(
            before[0].key(),
            after[0].key(),
            "the written batch is found again"
        );
        assert_ne!(
            before[1].key(),
            after[1].key(),
            "the fixed batch is a new request"
        );
        // The same lines at another place in a file are another batch.
        let shifted = batches(&format!("\n{}", text.join("\n")), 3).unwrap();
        assert_ne!(before[0].key(), shifted[0].key());
        assert!(crate::idempotency::check_key(&before[0].key()).is_ok());
    }
}
