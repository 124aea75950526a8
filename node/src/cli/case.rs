//! `liandong case`, `operator` and `status`: clients of the node's API, printing readable text
//! ([`crate::render::case`]) by default and raw JSON with `--json`.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Result};
use clap::Subcommand;
use serde_json::{json, Value};

use crate::client::{typed, Client};
use crate::contract::{
    ActionAnswer, ActionRequest, Application, CasePage, CaseView, IssuedOperator, NewOperator,
    Rotation, StandIn,
};
use crate::render::case::{CaseListHeader, CaseRows};
use federation_proto::{Applicant, ApplicantKind};

#[derive(Subcommand)]
pub enum CaseCommand {
    /// Submit an application (受理). Missing core materials put it in awaiting_supplement with
    /// the full list of what is missing.
    Submit {
        /// Item code from the catalog (`liandong catalog list`).
        #[arg(long)]
        item: String,
        /// A person applicant: NAME:RESIDENT_ID (18 characters).
        #[arg(long, conflicts_with = "org", required_unless_present = "org")]
        person: Option<String>,
        /// An organisation applicant: NAME:UNIFIED_SOCIAL_CREDIT_CODE (18 characters).
        #[arg(long)]
        org: Option<String>,
        /// A material handed in (repeat for each).
        #[arg(long = "material")]
        materials: Vec<String>,
        /// The department accepting it (default: the item's).
        #[arg(long)]
        department: Option<String>,
        /// Print the node's JSON answer instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Import many applications from a file, e.g. a center's legacy open cases
    /// (POST /api/v1/cases:batch).
    ///
    /// FILE is JSON Lines: one application per line, the object `case submit` sends —
    /// {"item": CODE, "applicant": {"kind": "person"|"org", "name": NAME, "id": ID},
    /// "materials": [NAME, ...], "department": DEPT (optional)}; blank lines are skipped.
    /// Every line is checked to be a JSON object before anything is sent. The lines go in
    /// batches of up to --batch-size; the node checks each batch whole before writing any of
    /// it, so the import stops at the first batch holding an invalid application, naming each
    /// invalid line, with the batches before it imported. Progress goes to stderr; the summary
    /// (cases imported, first and last case numbers) to stdout.
    ///
    /// Safe to run again, after an interruption or after fixing the lines named: each batch
    /// is sent with an Idempotency-Key derived from its first line and its content, so the
    /// cases an earlier run wrote are answered with their numbers and never written twice.
    /// Run it again with the same --batch-size, and do not edit lines already imported.
    Import {
        /// The JSON Lines file.
        file: PathBuf,
        /// Applications per batch (the node takes at most 1000).
        #[arg(long, default_value_t = crate::api::MAX_BATCH_CASES as u64,
              value_parser = clap::value_parser!(u64).range(1..=crate::api::MAX_BATCH_CASES as u64))]
        batch_size: u64,
        /// Print one JSON line per case on stdout — its line in FILE and the node's short view
        /// (case_no, state, deadlines, missing materials) — and the summary on stderr.
        #[arg(long)]
        json: bool,
    },
    /// Perform an action on a case, e.g. `act CASE decide approve:=true reason=符合条件`.
    /// `KEY=TEXT` sets a text field; `KEY:=JSON` sets a JSON value (true, 8000, ["a","b"]).
    Act {
        /// The case number, e.g. 350322-20250930-000001.
        case_no: String,
        /// One of: supplement refuse review forward take_over return open_joint_review opinion
        /// suspend resume extend decide pay certify deliver withdraw rate supervise.
        action: String,
        /// Fields as KEY=TEXT or KEY:=JSON.
        fields: Vec<String>,
        /// Print the node's JSON answer instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show one case with its deadlines and history.
    Show {
        /// The case number, e.g. 350322-20250930-000001.
        case_no: String,
        /// Print the node's JSON answer instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List cases, optionally filtered: all of them, page by page, or one page with --limit.
    List {
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        owner: Option<String>,
        #[arg(long)]
        warning: Option<String>,
        #[arg(long)]
        item: Option<String>,
        #[arg(long)]
        department: Option<String>,
        /// Print only one page of at most N cases (the node caps N at 500) and the cursor to
        /// the next; without it, every page is fetched in turn.
        #[arg(long)]
        limit: Option<u32>,
        /// Start after this case number (a page's `next`).
        #[arg(long)]
        after: Option<String>,
        /// Print the node's JSON answer instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum OperatorCommand {
    /// Add an operator; their token is printed once (or written to --token-out).
    Add {
        /// A name not used by any other operator (case histories name operators).
        #[arg(long)]
        name: String,
        /// admin, supervisor, clerk, or chief (首席代表: a clerk who may also decide items
        /// that need 网上签批, the catalog's `sign_off`).
        #[arg(long)]
        role: String,
        /// The department a clerk or chief works for.
        #[arg(long)]
        department: Option<String>,
        /// The last day the token works (YYYY-MM-DD, the node's date, UTC+8); refused from
        /// the day after.
        #[arg(long, value_name = "YYYY-MM-DD")]
        expires: Option<String>,
        /// Write the new token to this file (mode 0600, replaced atomically) instead of
        /// printing it.
        #[arg(long, value_name = "PATH")]
        token_out: Option<PathBuf>,
    },
    /// List operators with role, department, disabled, expiry and whether the token works
    /// today (admin only; never a token or its hash).
    List,
    /// Disable an operator (admin only): their token is refused from the next request; the
    /// record stays. The last enabled admin cannot be disabled.
    Disable {
        /// The operator's name.
        name: String,
    },
    /// Enable a disabled operator again (admin only).
    Enable {
        /// The operator's name.
        name: String,
    },
    /// Give an operator a new token and kill the old one at once (an admin for anyone, an
    /// operator for themselves). Rotating `admin` with `--token-out <admin.token>` keeps the
    /// node's admin token file working.
    Rotate {
        /// The operator's name (your own, unless you are an admin).
        name: String,
        /// A new last day for the token (default: keep the current expiry).
        #[arg(long, value_name = "YYYY-MM-DD", conflicts_with = "no_expiry")]
        expires: Option<String>,
        /// Remove the expiry.
        #[arg(long)]
        no_expiry: bool,
        /// Write the new token to this file (mode 0600, replaced atomically) instead of
        /// printing it.
        #[arg(long, value_name = "PATH")]
        token_out: Option<PathBuf>,
    },
    /// Name the colleague who acts for a clerk or chief while they are away (AB角): the
    /// stand-in then accepts and handles that operator's department's cases with their
    /// rights, and each case's history records "B（代A）". An admin for anyone, an operator
    /// for themselves.
    StandIn {
        /// The operator who will be away (A角; your own name, unless you are an admin).
        name: String,
        /// The colleague who stands in (B角): a live clerk or chief of this node.
        #[arg(long, value_name = "NAME", required_unless_present = "nobody")]
        by: Option<String>,
        /// Nobody stands in any more (A is back).
        #[arg(long, conflicts_with = "by")]
        nobody: bool,
    },
}

pub fn run(client: &Client, command: CaseCommand) -> Result<()> {
    match command {
        CaseCommand::Submit {
            item,
            person,
            org,
            materials,
            department,
            json,
        } => {
            let (kind, who) = match (person, org) {
                (Some(p), _) => (ApplicantKind::Person, p),
                (None, Some(o)) => (ApplicantKind::Org, o),
                (None, None) => bail!("give --person NAME:ID or --org NAME:ID"),
            };
            let Some((name, id)) = who.rsplit_once(':') else {
                bail!("applicant must be NAME:ID");
            };
            let applicant = Applicant {
                kind,
                name: name.to_string(),
                id: id.to_string(),
            };
            let body = Application {
                item,
                applicant,
                materials,
                department,
            };
            print_case(client.post_once("/api/v1/cases", &body)?, json)?;
        }
        CaseCommand::Act {
            case_no,
            action,
            fields,
            json,
        } => {
            let body = action_body(&action, &fields)?;
            let answer = client.post_once(&format!("/api/v1/cases/{case_no}/actions"), &body)?;
            print_action_answer(answer, json)?;
        }
        CaseCommand::Import {
            file,
            batch_size,
            json,
        } => {
            let size = usize::try_from(batch_size).unwrap_or(crate::api::MAX_BATCH_CASES);
            super::import::run(client, &file, size, json)?
        }
        CaseCommand::Show { case_no, json } => {
            print_case(client.get(&format!("/api/v1/cases/{case_no}"))?, json)?
        }
        CaseCommand::List {
            state,
            owner,
            warning,
            item,
            department,
            limit,
            after,
            json,
        } => {
            let filters: Vec<String> = [
                ("state", state),
                ("owner", owner),
                ("warning", warning),
                ("item", item),
                ("department", department),
                ("limit", limit.map(|n| n.to_string())),
            ]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| format!("{k}={}", encode(&v))))
            .collect();
            list(client, &filters, after, limit.is_some(), json)?;
        }
    }
    Ok(())
}

pub fn run_operator(client: &Client, command: OperatorCommand) -> Result<()> {
    let path = |name: &str, what: &str| format!("/api/v1/operators/{}/{what}", encode(name));
    let (answer, token_out) = match command {
        OperatorCommand::Add {
            name,
            role,
            department,
            expires,
            token_out,
        } => {
            let body = NewOperator {
                name,
                role: serde_json::from_value(Value::String(role.clone())).map_err(|_| {
                    anyhow!("unknown role {role:?}: admin, supervisor, clerk or chief")
                })?,
                department,
                expires: expires
                    .map(|day| {
                        day.parse()
                            .map_err(|e| anyhow!("--expires {day:?} is not YYYY-MM-DD: {e}"))
                    })
                    .transpose()?,
            };
            (client.post("/api/v1/operators", &body)?, token_out)
        }
        OperatorCommand::List => (client.get("/api/v1/operators")?, None),
        OperatorCommand::Disable { name } => {
            (client.post(&path(&name, "disable"), &json!({}))?, None)
        }
        OperatorCommand::Enable { name } => {
            (client.post(&path(&name, "enable"), &json!({}))?, None)
        }
        OperatorCommand::Rotate {
            name,
            expires,
            no_expiry,
            token_out,
        } => {
            let expires = match (expires, no_expiry) {
                (Some(day), _) => {
                    Some(Some(day.parse().map_err(|e| {
                        anyhow!("--expires {day:?} is not YYYY-MM-DD: {e}")
                    })?))
                }
                (None, true) => Some(None),
                (None, false) => None,
            };
            let body = Rotation { expires };
            (client.post(&path(&name, "rotate"), &body)?, token_out)
        }
        OperatorCommand::StandIn { name, by, .. } => (
            client.post(&path(&name, "stand-in"), &StandIn { stand_in: by })?,
            None,
        ),
    };
    print_operator_answer(answer, token_out.as_deref())
}

/// Prints the node's answer; with `token_out`, the new token goes to that file (0600) and
/// not to the terminal.
fn print_operator_answer(mut answer: Value, token_out: Option<&std::path::Path>) -> Result<()> {
    if let Some(path) = token_out {
        let IssuedOperator { token, .. } = typed(answer.clone(), "a new token")?;
        if let Some(o) = answer.as_object_mut() {
            o.remove("token");
        }
        crate::files::write_secret(path, format!("{token}\n").as_bytes())?;
        eprintln!("token written to {} (mode 0600)", path.display());
    }
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(())
}

/// Builds `{"action": NAME, ...}` from `KEY=TEXT` and `KEY:=JSON` words (as httpie does), so
/// a certificate number stays text and a fee stays a number without guessing.
fn action_body(action: &str, fields: &[String]) -> Result<ActionRequest> {
    let mut body = ActionRequest::new(action);
    for field in fields {
        let Some((k, v)) = field.split_once('=') else {
            bail!("field {field:?} must be KEY=TEXT or KEY:=JSON");
        };
        let (key, value) = match k.strip_suffix(':') {
            Some(key) => (
                key,
                serde_json::from_str(v)
                    .map_err(|e| anyhow::anyhow!("{key}:= needs JSON, {v:?} is not: {e}"))?,
            ),
            None => (k, Value::String(v.to_string())),
        };
        body = body.with(key, value);
    }
    Ok(body)
}

pub(crate) fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The case as text, or with `json` as the node's JSON answer.
fn print_case(case: Value, json: bool) -> Result<()> {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&case).unwrap_or_default()
        );
    } else {
        let case: CaseView = typed(case, "a case request")?;
        print!("{}", crate::render::case::CaseView(&case));
    }
    Ok(())
}

/// An action's answer: the case after it, or the 督办 sent to the owner of a case this node
/// supervises from above.
fn print_action_answer(answer: Value, json: bool) -> Result<()> {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&answer).unwrap_or_default()
        );
        return Ok(());
    }
    match typed(answer, "an action")? {
        ActionAnswer::Case(case) => print!("{}", crate::render::case::CaseView(&case)),
        ActionAnswer::NoticeSent(sent) => println!(
            "督办 sent to {}, the owner of {} (notice {}:{}); its answer comes back in the \
             summary",
            sent.owner, sent.case_no, sent.notice.origin, sent.notice.seq
        ),
    }
    Ok(())
}

/// `GET /api/v1/cases` with `filters`, from `after` on: one page when `one_page`, else every
/// page in turn, following `next` until the node answers `null`. Text is printed page by page;
/// `--json` prints one `{"cases":[...],"next":...}` (all cases, `next` null, unless `one_page`).
fn list(
    client: &Client,
    filters: &[String],
    mut after: Option<String>,
    one_page: bool,
    json: bool,
) -> Result<()> {
    let mut all = Vec::new();
    let mut count = 0;
    if !json {
        print!("{CaseListHeader}");
    }
    let next = loop {
        let mut query = filters.to_vec();
        if let Some(a) = &after {
            query.push(format!("after={}", encode(a)));
        }
        let answer = client.get(&format!("/api/v1/cases?{}", query.join("&")))?;
        let page: CasePage = typed(answer.clone(), "a case list")?;
        count += page.cases.len();
        if json {
            // The node's JSON as it came.
            if let Some(Value::Array(cases)) = answer.get("cases") {
                all.extend(cases.iter().cloned());
            }
        } else {
            print!("{}", CaseRows(&page.cases));
        }
        let next = page.next.map(|n| n.to_string());
        match next {
            Some(n) if !one_page => {
                if after.as_deref() == Some(n.as_str()) {
                    bail!("the node's cursor did not advance past {n}");
                }
                after = Some(n);
            }
            _ => break next,
        }
    };
    if json {
        let answer = json!({"cases": all, "next": next});
        println!(
            "{}",
            serde_json::to_string_pretty(&answer).unwrap_or_default()
        );
        return Ok(());
    }
    println!("{count} case(s)");
    if let Some(n) = next {
        println!("more: continue with --after {n}");
    }
    Ok(())
}
