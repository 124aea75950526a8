//! liandong: one node of the government-service-center federation (政务服务中心联动).
//!
//! Module map:
//! - re-exported from the pure core (`federation-proto`), under the paths the node has always
//!   used: [`calendar`], [`case`], [`deadline`], [`summary`] — the working-day calendar
//!   (工作日历), the case (办件) and its fold with the authority rules, promised and legal
//!   deadlines and warnings (时限与预警), the status summary ancestors keep (状态摘要);
//!   [`catalog`] (事项目录) and [`reference`] (the catalog and calendar in force, and adopting an
//!   ancestor's broadcast); [`operator`] (operators, roles, token hashes); [`idempotency`]
//!   (`Idempotency-Key`); [`relay`] (outboxes by the one routing function, the certificate
//!   directory); [`verify`] (a peer's batch checked ahead of the writer).
//! - [`intake`]: checks at the window (受理): applicant, item, materials.
//! - [`disk_sync`]: the fdatasync after each flush that makes an answer survive a power cut.
//! - [`stats`]: supervision figures over the summaries of a region (电子监察).
//! - [`store`]: the core's storage traits and in-memory store, and the node's sled store; its
//!   witness refuses a store that came back shorter than it was.
//! - [`startup`]: the watchdog that bounds opening and checking the store at start.
//! - [`engine`]: the core's writer (`federation_proto::writer`) on its thread — group commit
//!   behind a channel, the node's clock, durable outboxes published to the links.
//! - [`link`]: QUIC links to the parent and children — TLS, hello, batches, acks.
//! - [`accounts`]: operators' lifecycle (disable, rotate, expiry) as stored, and new tokens.
//! - [`audit`]: the durable log of who read which applicant's identity (个人信息查阅记录).
//! - [`pki`]: the federation PKI — node certificates binding a node's key to its code; X.509
//!   for the core's directory.
//! - [`ca`]: the federation CA's folder — create it, issue node certificates, revoke them.
//! - [`contract`]: the API's request and answer types, shared by the handlers, the CLI and the
//!   tests, and the schemas of the OpenAPI document (`GET /api/v1/openapi.json`,
//!   `docs/openapi.json`).
//! - [`api`]: the HTTP JSON API: its handlers answer the [`contract`]'s types; its router is
//!   built from one table of routes, held against the OpenAPI document by `tests/contract.rs`.
//! - [`public`]: the public listener for applicants (`/public/v1/`: progress lookup, rating).
//! - [`console`]: the staff web console at `/console` (工作台), embedded HTML/CSS/JS over the API.
//! - [`http`]: the API's transport — our accept loop with timeouts, a connection cap and TLS.
//! - [`server`]: `liandong run` — wiring it all together.
//! - [`config`], [`clock`], [`files`]: node config, the node's clock, safe file writes.
//! - [`node_folder`]: a new node's folder — node.toml and admin token (`liandong init`).
//! - [`render`]: the API's answers as text — one case, and the tables of cases, supervision
//!   figures, identity reads and catalog items.
//! - [`client`], [`cli`]: the command line and its API client, which read the node's answers
//!   into the [`contract`]'s types and send its request types.
//! - [`demo`], [`bench`], [`launcher`]: `liandong demo` and `liandong bench`, which run real node
//!   processes.

// The case view (`contract::CaseView`) has some fifty fields, and its derives recurse deep.
#![recursion_limit = "256"]

// The pure core, re-exported under the paths the node has always used: the case model and its
// fold, deadlines and the working-day calendar, summaries (see federation-proto's map).
pub use federation_proto::{calendar, case, deadline, summary};
// The node's state, kept by the core without I/O (see federation-proto's map): the catalog and
// reference data, operators, idempotency records, the outboxes and directory, the check of a
// peer's batch.
#[cfg(test)]
pub(crate) use federation_proto::fixtures;
pub use federation_proto::{catalog, idempotency, operator, reference, relay, verify};

pub mod accounts;
pub mod api;
pub mod audit;
pub mod bench;
pub mod ca;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod console;
pub mod contract;
pub mod demo;
pub mod disk_sync;
pub mod engine;
pub mod files;
pub mod http;
pub mod intake;
pub mod launcher;
pub mod link;
pub mod node_folder;
pub mod pki;
pub mod public;
pub mod render;
pub mod server;
pub mod startup;
pub mod stats;
pub mod store;
