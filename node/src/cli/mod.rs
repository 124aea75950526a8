//! The `liandong` command line: one subcommand per job. `run` is the node; `case`, `operator`,
//! `status`, `stats` and `audit` are clients of a running node's API; `init`, `ca`, `catalog` and
//! `calendar` work on files.

mod audit;
mod ca;
mod case;
mod import;
mod init;
mod reference;
mod revocations;
mod supervise;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::client::Client;
use crate::clock::{self, Clock};
use crate::config::Config;

#[derive(Parser)]
#[command(
    name = "liandong",
    version,
    about = "A government-service-center node (city, county or township) that keeps its cases \
             durably and federates with its parent and children.",
    long_about = None
)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human, env = "LIANDONG_LOG_FORMAT")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Create a node directory: DIR/node.toml and DIR/admin.token (mode 0600). Refuses to
    /// overwrite an existing node.
    Init(init::InitArgs),
    /// The federation CA (run at the root): create it, issue node certificates, revoke them.
    Ca {
        #[command(subcommand)]
        command: ca::CaCommand,
    },
    /// Run the node in the foreground until SIGINT/SIGTERM. Prints `ready` on stderr once the
    /// API listens, and writes the bound ports to DIR/ports.json. Refuses an API address that
    /// is not loopback unless the API is served over TLS (`[api] tls = true`) or --insecure-api
    /// (or `[api] insecure = true`) accepts tokens in clear; see `[api]` in the README for the
    /// API's timeouts and connection cap.
    Run {
        /// The node's config file.
        #[arg(long, default_value = "node.toml", env = "LIANDONG_CONFIG")]
        config: PathBuf,
        /// Start the node's clock at this instant, China Standard Time (YYYY-MM-DD or
        /// YYYY-MM-DDTHH:MM), then run forward in real time. For drills and tests of deadlines.
        #[arg(long)]
        clock: Option<String>,
        /// Serve the API on a non-loopback address without TLS (as `[api] insecure = true`):
        /// bearer tokens then cross the network in clear. Only behind a TLS-terminating proxy
        /// or on a network of its own.
        #[arg(long)]
        insecure_api: bool,
    },
    /// Rebuild this node's store from its parent's copy after the data directory was lost:
    /// every event the node authored and every event of its cases. Run it on an empty data
    /// directory, with node.toml, node.key, node.crt and ca.crt in place, before `run`. The
    /// node's case numbers then skip past any it may have issued and lost (README, "A node
    /// whose disk is lost").
    Restore {
        /// The node's config file.
        #[arg(long, default_value = "node.toml", env = "LIANDONG_CONFIG")]
        config: PathBuf,
        /// The node's clock at this instant, China Standard Time (YYYY-MM-DD or
        /// YYYY-MM-DDTHH:MM), as `run --clock`: a drill's node restores on the drill's clock,
        /// whose day its case numbering then skips ahead on.
        #[arg(long)]
        clock: Option<String>,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 300)]
        timeout_secs: u64,
    },
    /// Accept, act on, show and list cases (办件) through the running node's API.
    Case {
        #[command(flatten)]
        conn: Connection,
        #[command(subcommand)]
        command: case::CaseCommand,
    },
    /// Operators (window clerks, supervisors, admins) and their tokens: add, list, disable,
    /// enable, rotate. A new token is printed once, or written to a 0600 file (--token-out).
    Operator {
        #[command(flatten)]
        conn: Connection,
        #[command(subcommand)]
        command: case::OperatorCommand,
    },
    /// Revoked node certificates at the running node: load the CA's revoked.toml so that it
    /// takes effect at once (links closed, events and summaries refused), or list them.
    Revocations {
        #[command(flatten)]
        conn: Connection,
        #[command(subcommand)]
        command: revocations::RevocationsCommand,
    },
    /// Consolidated status of this node's subtree (电子监察): totals, overdue, on-time rate
    /// (按期办结率), and per node whether it is reachable and how fresh its data is here.
    Status {
        #[command(flatten)]
        conn: Connection,
        /// Ask every node below to deliver everything now and report first (waits until all
        /// have, or the timeout; names those that did not).
        #[arg(long)]
        pull: bool,
        /// How long a pull waits for the subtree, in milliseconds.
        #[arg(long, default_value_t = 5000)]
        timeout_ms: u64,
        /// Print the raw JSON answer.
        #[arg(long)]
        json: bool,
    },
    /// Who read which applicant's identity, when and how (个人信息查阅记录): the node's audit
    /// log, for supervisors and admins.
    Audit {
        #[command(flatten)]
        conn: Connection,
        /// Only the reads of this case.
        #[arg(long = "case")]
        case_no: Option<String>,
        /// Only the reads by this operator (their name).
        #[arg(long)]
        operator: Option<String>,
        /// Print the entries as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Statistics of this node's subtree: by state, node, department and item; overdue,
    /// 按期办结率, average working days, joint reviews waiting and late, satisfaction, 督办.
    Stats {
        #[command(flatten)]
        conn: Connection,
        /// Print the raw JSON answer.
        #[arg(long)]
        json: bool,
    },
    /// Inspect the item catalog (事项目录): the built-in one or a file.
    Catalog {
        #[command(subcommand)]
        command: reference::CatalogCommand,
    },
    /// Run a small federation on loopback in a temporary folder (莆田市, 仙游县 and 城厢区, a
    /// township under each; real certificates, QUIC and sled), walk local cases and one case of
    /// each cross-level workflow through it, crash and restart every node three weeks later;
    /// exits 0 only if every node agrees and every expectation holds.
    Demo {
        /// Work in this (new) folder and keep it afterwards, instead of a temporary one.
        #[arg(long)]
        keep: Option<PathBuf>,
        /// Flips the expected value of every check whose name contains NAME, to prove the demo
        /// fails when an expectation does not hold.
        #[arg(long, value_name = "NAME")]
        falsify: Option<String>,
    },
    /// Measure the federation on real nodes on loopback against this machine's own limits
    /// (sled append+flush, fsync, QUIC over loopback, measured in the same run): intake on one
    /// node, replication and latency township → county → city, catch-up after a county outage,
    /// and the 63-node 莆田 tree replaying a year of cases. Prints a table; writes JSON.
    Bench {
        /// Write the figures as JSON to this file (default: target/bench/bench-<unix time>.json).
        #[arg(long)]
        json: Option<PathBuf>,
        /// Small sizes, for a run in under three minutes (CI, a first look).
        #[arg(long)]
        quick: bool,
        /// Work in this (new) folder and keep it afterwards (nodes, logs), instead of a
        /// temporary one.
        #[arg(long)]
        keep: Option<PathBuf>,
        /// Measure only these parts, comma-separated (default: all of them), e.g.
        /// `--only tree` to profile replication and catch-up alone.
        #[arg(long, value_enum, value_delimiter = ',')]
        only: Vec<crate::bench::Section>,
    },
    /// Working-day calendar (工作日历): check a date or a deadline.
    Calendar {
        /// A calendar file that overlays the built-in national calendar (see README).
        #[arg(long, global = true)]
        file: Option<PathBuf>,
        #[command(subcommand)]
        command: reference::CalendarCommand,
    },
}

/// How a client finds the node: its config (for the API address and admin token), or both
/// given explicitly.
#[derive(Args)]
struct Connection {
    /// The node's config file.
    #[arg(
        long,
        default_value = "node.toml",
        env = "LIANDONG_CONFIG",
        global = true
    )]
    config: PathBuf,
    /// API base URL, e.g. http://127.0.0.1:8080, or https://… for a TLS API (then the config
    /// names the CA to trust). Default: from the config and ports.json.
    #[arg(long, env = "LIANDONG_API", global = true)]
    api: Option<String>,
    /// Bearer token. Prefer LIANDONG_TOKEN or --token-file: a token on the command line is
    /// visible to other users of the machine (ps, shell history). Default: the admin token
    /// file named in the config.
    #[arg(long, env = "LIANDONG_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
    /// Read the bearer token from this file (first line); wins over --token/LIANDONG_TOKEN.
    #[arg(long, env = "LIANDONG_TOKEN_FILE", global = true)]
    token_file: Option<PathBuf>,
}

impl Connection {
    fn client(&self) -> anyhow::Result<Client> {
        let token = match &self.token_file {
            Some(path) => Some(crate::client::read_token(path)?),
            None => self.token.clone(),
        };
        Client::connect(&self.config, self.api.as_deref(), token.as_deref())
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.log_format);
    match dispatch(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(command: Command) -> anyhow::Result<()> {
    // Everything a node, its CA or `init` writes — the store with applicants' IDs, keys, tokens,
    // logs — is for its owner alone: folders 0700, files 0600.
    owner_only_files();
    if !matches!(
        command,
        Command::Run { .. }
            | Command::Restore { .. }
            | Command::Demo { .. }
            | Command::Bench { .. }
    ) {
        quiet_on_closed_pipe();
    }
    match command {
        Command::Init(args) => init::run(args),
        Command::Ca { command } => ca::run(command),
        Command::Run {
            config,
            clock,
            insecure_api,
        } => run_node(&config, clock.as_deref(), insecure_api),
        Command::Restore {
            config,
            clock,
            timeout_secs,
        } => restore(
            &config,
            clock.as_deref(),
            std::time::Duration::from_secs(timeout_secs),
        ),
        Command::Case { conn, command } => case::run(&conn.client()?, command),
        Command::Operator { conn, command } => case::run_operator(&conn.client()?, command),
        Command::Revocations { conn, command } => revocations::run(&conn.client()?, command),
        Command::Status {
            conn,
            pull,
            timeout_ms,
            json,
        } => supervise::status(&conn.client()?, pull, timeout_ms, json),
        Command::Stats { conn, json } => supervise::stats(&conn.client()?, json),
        Command::Audit {
            conn,
            case_no,
            operator,
            json,
        } => audit::run(
            &conn.client()?,
            case_no.as_deref(),
            operator.as_deref(),
            json,
        ),
        Command::Catalog { command } => reference::catalog(command),
        Command::Calendar { file, command } => reference::calendar(file.as_deref(), command),
        Command::Demo { keep, falsify } => demo(keep.as_deref(), falsify.as_deref()),
        Command::Bench {
            json,
            quick,
            keep,
            only,
        } => crate::bench::run(&crate::bench::Options {
            json,
            quick,
            keep,
            only,
        })
        .map(|_| ()),
    }
}

fn demo(keep: Option<&std::path::Path>, falsify: Option<&str>) -> anyhow::Result<()> {
    if crate::demo::run(keep, falsify)? {
        Ok(())
    } else {
        anyhow::bail!("the demo's expectations did not all hold")
    }
}

fn restore(
    config: &std::path::Path,
    start: Option<&str>,
    timeout: std::time::Duration,
) -> anyhow::Result<()> {
    let config = Config::load(config)?;
    let clock = node_clock(start)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let restored = runtime.block_on(crate::server::restore(config, clock, timeout))?;
    println!(
        "restored {} events; this node's last own sequence is {}",
        restored.events, restored.last_seq
    );
    let resumed = restored.resumed;
    // Printed for the operator to check the day: it should be today. Another day means this
    // machine's clock, or the lost store's, was wrong, and the rule's reach depends on them
    // (README, "A node whose disk is lost").
    println!(
        "case numbers of {} resume at {:06}; {} starts at {:06}",
        resumed.day,
        resumed.next_seq,
        resumed.floor_through,
        federation_proto::writer::RESTORE_FLOOR
    );
    Ok(())
}

/// The system clock, or one started at `start` (`--clock`, for drills).
fn node_clock(start: Option<&str>) -> anyhow::Result<Clock> {
    Ok(match start {
        Some(s) => Clock::starting_at(clock::parse_instant(s).map_err(anyhow::Error::msg)?),
        None => Clock::system(),
    })
}

fn run_node(config: &std::path::Path, start: Option<&str>, insecure: bool) -> anyhow::Result<()> {
    let config_path = config;
    let config = Config::load(config)?;
    // Before anything is opened or bound: where the API listens decides whether it may run.
    let api = &config.file.api;
    crate::config::check_api_exposure(config.file.node.api, api.tls, insecure || api.insecure)
        .with_context(|| format!("{}", config_path.display()))?;
    if !config.file.node.api.ip().is_loopback() && !api.tls {
        tracing::warn!(
            api = %config.file.node.api,
            "serving the API without TLS on a non-loopback address (insecure): bearer tokens cross the network in clear"
        );
    }
    let clock = node_clock(start)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(crate::server::run(config, clock))
}

/// Sets the process umask to 077, so that every file and folder created from here on is
/// readable by the node's own user only (DESIGN.md §5: data folders 0700, files 0600).
fn owner_only_files() {
    #[cfg(unix)]
    // SAFETY: umask only sets the calling process's file-creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

/// A client command whose output is piped into `head` should simply end when the pipe closes,
/// as Unix tools do, instead of panicking in `println!`. Rust ignores SIGPIPE by default; the
/// node itself keeps it ignored, so that a closed socket is an error and not a crash.
fn quiet_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called before any other thread exists; restores the default disposition of one
    // signal, which is what a C program starts with.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
