//! The HTTP JSON API (API.md) for window software, dashboards and the `liandong` CLI.
//!
//! - [`auth`]: bearer tokens → the calling operator.
//! - [`body`]: size-limited JSON bodies with errors in our format.
//! - [`error`]: `{"error", "message"}` answers and the mapping from domain errors.
//! - [`action`]: case actions as the API spells them.
//! - [`view`]: the case view, built from a case and its clocks.
//! - [`throttle`]: the failed-authentication limit per client address.
//! - [`stand_in`]: whose rights an operator acts with — their own, or an absent colleague's (AB角).
//! - [`privacy`]: which cases are served here, and who sees an applicant's identity in them.
//! - [`hall`]: the hall's screen (大屏), the one data endpoint without a token.
//! - [`cases`], [`batch`] (many submissions in one request), [`node`], [`operators`],
//!   [`metrics`], [`status`], [`audit`], [`calendar`], [`revocations`]: the handlers
//!   (`status`: supervision, 电子监察; `audit`: who read whose identity). They take and answer
//!   the types of the contract ([`crate::contract`]), through [`crate::contract::Sorted`].
//! - [`openapi`]: the OpenAPI document (`GET /api/v1/openapi.json`), from the contract's types
//!   and the handlers' operations.
//!
//! [`router`] is built from one table of routes ([`route_table`]), which `tests/contract.rs`
//! holds against the OpenAPI document: a route without an operation, or an operation not
//! routed, fails it.

mod action;
mod audit;
mod auth;
mod batch;
pub mod body;
mod calendar;
mod cases;
pub mod error;
pub mod hall;
pub mod metrics;
mod node;
mod once;
pub mod openapi;
mod operators;
pub mod privacy;
mod revocations;
pub mod stand_in;
mod status;
pub mod throttle;
pub mod view;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::routing::{get, post, put, MethodRouter};
use axum::Router;
use federation_proto::{Date, NodeCode};

use crate::audit::AuditLog;
use crate::case::Case;
use crate::clock::Clock;
use crate::deadline::{self, Clocks, WarningPolicy};
use crate::engine::Engine;
use crate::link::Links;
use crate::reference::Reference;
use crate::store::Store;

pub use action::ACTIONS;
pub use batch::{MAX_BATCHES_AT_ONCE, MAX_BATCH_BODY, MAX_BATCH_CASES};

/// What every handler can reach.
pub struct NodeContext {
    pub code: NodeCode,
    pub name: String,
    pub parent: Option<NodeCode>,
    pub store: Arc<dyn Store>,
    pub engine: Engine,
    /// Catalog and calendar in force (own files, or the parent's broadcast).
    pub reference: Arc<Reference>,
    pub clock: Clock,
    pub policy: WarningPolicy,
    /// Federation links, when the node has a certificate.
    pub links: Option<Links>,
    /// The API transport's counters (open connections, deadlines hit), for `/metrics`.
    pub http: Arc<crate::http::Counters>,
    /// Failed authentications per client address.
    pub throttle: throttle::Throttle,
    /// The region figures of the last `/metrics` scrape.
    pub region_cache: metrics::RegionCache,
    /// Who read which applicant's identity (DESIGN.md §8).
    pub audit: Arc<AuditLog>,
    /// The hall screen's last answer (`GET /api/v1/hall`, no token).
    pub hall: hall::HallCache,
    /// Batches of cases being read and written: at most [`MAX_BATCHES_AT_ONCE`].
    pub batches: tokio::sync::Semaphore,
}

impl NodeContext {
    pub fn today(&self) -> Date {
        self.clock.today()
    }

    /// The case's clocks today.
    pub fn clocks(&self, case: &Case) -> Clocks {
        deadline::evaluate(case, &self.reference.calendar(), self.today(), &self.policy)
    }
}

pub type AppState = Arc<NodeContext>;

/// Every route of the API — method, path, handler — in API.md's order: the one table the
/// router is built from, and which the OpenAPI document ([`openapi`]) must match (checked by
/// `tests/contract.rs` through [`route_table`]). The console's pages ([`crate::console`]) are
/// merged into the router besides; they are not API.
fn routes() -> Vec<(Method, &'static str, MethodRouter<AppState>)> {
    vec![
        (Method::GET, "/api/v1/node", get(node::node)),
        (Method::GET, "/api/v1/session", get(node::session)),
        (Method::GET, "/api/v1/hall", get(hall::hall)),
        (
            Method::POST,
            "/api/v1/applicants:check",
            post(node::check_applicant),
        ),
        (Method::POST, "/api/v1/cases", post(cases::submit)),
        (Method::GET, "/api/v1/cases", get(cases::list)),
        // A literal colon in a segment is a plain character to axum 0.8's router (parameters
        // are `{name}`), so the Google-API-style custom method routes as it is written. The
        // batch's own body cap replaces the router's: the inner layer sets it last.
        (
            Method::POST,
            "/api/v1/cases:batch",
            post(batch::submit).layer(DefaultBodyLimit::max(MAX_BATCH_BODY)),
        ),
        (Method::GET, "/api/v1/cases/{case_no}", get(cases::show)),
        (
            Method::POST,
            "/api/v1/cases/{case_no}/actions",
            post(cases::act),
        ),
        (Method::GET, "/api/v1/catalog", get(node::catalog)),
        (Method::GET, "/api/v1/calendar", get(calendar::show)),
        (Method::PUT, "/api/v1/calendar", put(calendar::load)),
        (Method::GET, "/api/v1/revocations", get(revocations::list)),
        (Method::PUT, "/api/v1/revocations", put(revocations::load)),
        (Method::GET, "/api/v1/status", get(status::status)),
        (Method::POST, "/api/v1/status/pull", post(status::pull)),
        (Method::GET, "/api/v1/stats", get(status::stats)),
        (Method::GET, "/api/v1/links", get(node::links)),
        (Method::GET, "/api/v1/summaries", get(node::summaries)),
        (
            Method::GET,
            "/api/v1/summaries/{case_no}",
            get(node::summary),
        ),
        (Method::GET, "/api/v1/audit", get(audit::list)),
        (Method::POST, "/api/v1/operators", post(operators::add)),
        (Method::GET, "/api/v1/operators", get(operators::list)),
        (
            Method::POST,
            "/api/v1/operators/{name}/disable",
            post(operators::disable),
        ),
        (
            Method::POST,
            "/api/v1/operators/{name}/enable",
            post(operators::enable),
        ),
        (
            Method::POST,
            "/api/v1/operators/{name}/rotate",
            post(operators::rotate),
        ),
        (
            Method::POST,
            "/api/v1/operators/{name}/stand-in",
            post(operators::stand_in),
        ),
        (Method::GET, "/api/v1/openapi.json", get(openapi::serve)),
        (Method::GET, "/metrics", get(metrics::metrics)),
    ]
}

/// The API's routes as (method, path), from the table the router is built from.
pub fn route_table() -> Vec<(Method, &'static str)> {
    routes()
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect()
}

pub fn router(state: AppState) -> Router {
    // Two routes of one path (GET and POST) merge into one method router.
    let api = routes()
        .into_iter()
        .fold(Router::new(), |router, (_, path, handler)| {
            router.route(path, handler)
        });
    api.merge(crate::console::routes())
        .fallback(node::no_route)
        .method_not_allowed_fallback(node::wrong_method)
        .layer(DefaultBodyLimit::max(body::MAX_BODY))
        .layer(axum::middleware::from_fn(close_after_refusal))
        .with_state(state)
}

/// A request with a body that is refused may be answered before its body was read (a bad
/// token, a body over the limit, an unknown path): the server then cannot reuse the connection
/// and closes it after the answer. Saying so with `Connection: close` keeps the client from
/// putting the connection back in its pool and sending its next request into a socket that is
/// closing — which a client sees as "unexpected EOF" on a POST it cannot safely retry
/// (tests/bad_input.rs failed that way about one run in seven under load).
async fn close_after_refusal(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::header;
    let has_body = request.headers().contains_key(header::CONTENT_LENGTH)
        || request.headers().contains_key(header::TRANSFER_ENCODING);
    let mut response = next.run(request).await;
    let status = response.status();
    if has_body && (status.is_client_error() || status.is_server_error()) {
        response.headers_mut().insert(
            header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    response
}
