//! liandong: one node of the government-service-center federation (政务服务中心联动).
//!
//! Module map:
//! - [`calendar`], [`case`], [`deadline`], [`summary`]: re-exported from the pure core
//!   (`federation-proto`): the working-day calendar (工作日历), the case (办件) and its fold with
//!   the authority rules, promised and legal deadlines and warnings (时限与预警), the status
//!   summary ancestors keep (状态摘要).
//! - [`catalog`]: the item catalog (事项目录).
//! - [`intake`]: checks at the window (受理): applicant, item, materials.
//! - [`disk_sync`]: the fdatasync after each flush that makes an answer survive a power cut.
//! - [`stats`]: supervision figures over the summaries of a region (电子监察).
//! - [`store`]: durable storage of events and cases (sled), behind narrow traits, one per
//!   concern; its witness refuses a store that came back shorter than it was; `store::memory`
//!   is the in-memory implementation the simulation crashes.
//! - [`startup`]: the watchdog that bounds opening and checking the store at start.
//! - [`idempotency`]: `Idempotency-Key` — a retried write gets the first attempt's case.
//! - [`engine`]: the write path — sequence, clock, signing, group commit, applying peers' batches.
//! - [`reference`]: the catalog and calendar in force, and adopting an ancestor's broadcast.
//! - [`relay`]: outbox queueing by the core's one routing function, and the certificate
//!   directory.
//! - [`verify`]: a peer's batch decoded and its signatures verified before the writer takes it.
//! - [`link`]: QUIC links to the parent and children — TLS, hello, batches, acks.
//! - [`operator`]: operators, roles and tokens; [`accounts`]: their lifecycle (disable, rotate,
//!   expiry) as stored.
//! - [`audit`]: the durable log of who read which applicant's identity (个人信息查阅记录).
//! - [`pki`]: the federation PKI — node certificates binding a node's key to its code.
//! - [`ca`]: the federation CA's folder — create it, issue node certificates, revoke them.
//! - [`api`]: the HTTP JSON API.
//! - [`http`]: the API's transport — our accept loop with timeouts, a connection cap and TLS.
//! - [`server`]: `liandong run` — wiring it all together.
//! - [`config`], [`clock`], [`files`]: node config, the node's clock, safe file writes.
//! - [`node_folder`]: a new node's folder — node.toml and admin token (`liandong init`).
//! - [`render`]: the API's answers as text — one case, and the tables of cases, supervision
//!   figures, identity reads and catalog items.
//! - [`client`], [`cli`]: the command line and its API client.
//! - [`demo`], [`bench`], [`launcher`]: `liandong demo` and `liandong bench`, which run real node
//!   processes.

// The case view (`api::view`) is one `json!` literal with some fifty fields.
#![recursion_limit = "256"]

// The pure core, re-exported under the paths the node has always used: the case model and its
// fold, deadlines and the working-day calendar, summaries (see federation-proto's map).
pub use federation_proto::{calendar, case, deadline, summary};

pub mod accounts;
pub mod api;
pub mod audit;
pub mod bench;
pub mod ca;
pub mod catalog;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod demo;
pub mod disk_sync;
pub mod engine;
pub mod files;
#[cfg(test)]
mod fixtures;
pub mod http;
pub mod idempotency;
pub mod intake;
pub mod launcher;
pub mod link;
pub mod node_folder;
pub mod operator;
pub mod pki;
pub mod reference;
pub mod relay;
pub mod render;
pub mod server;
pub mod startup;
pub mod stats;
pub mod store;
pub mod verify;
