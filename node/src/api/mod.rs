//! The HTTP JSON API (API.md) for window software, dashboards and the `liandong` CLI.
//!
//! - [`auth`]: bearer tokens → the calling operator.
//! - [`body`]: size-limited JSON bodies with errors in our format.
//! - [`error`]: `{"error", "message"}` answers and the mapping from domain errors.
//! - [`action`]: case actions as the API spells them.
//! - [`view`]: the case view.
//! - [`cases`], [`node`], [`status`]: the handlers (`status`: supervision, 电子监察).

mod action;
mod auth;
mod body;
mod calendar;
mod cases;
mod error;
mod node;
mod status;
pub mod view;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use federation_proto::{Date, NodeCode};

use crate::case::Case;
use crate::clock::Clock;
use crate::deadline::{self, Clocks, WarningPolicy};
use crate::engine::Engine;
use crate::link::Links;
use crate::reference::Reference;
use crate::store::Store;

pub use action::ACTIONS;

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

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/node", get(node::node))
        .route("/api/v1/cases", post(cases::submit).get(cases::list))
        .route("/api/v1/cases/{case_no}", get(cases::show))
        .route("/api/v1/cases/{case_no}/actions", post(cases::act))
        .route("/api/v1/catalog", get(node::catalog))
        .route("/api/v1/calendar", get(calendar::show).put(calendar::load))
        .route("/api/v1/status", get(status::status))
        .route("/api/v1/status/pull", post(status::pull))
        .route("/api/v1/stats", get(status::stats))
        .route("/api/v1/links", get(node::links))
        .route("/api/v1/summaries", get(node::summaries))
        .route("/api/v1/summaries/{case_no}", get(node::summary))
        .route(
            "/api/v1/operators",
            post(node::add_operator).get(node::operators),
        )
        .route("/metrics", get(node::metrics))
        .fallback(node::no_route)
        .method_not_allowed_fallback(node::wrong_method)
        .layer(DefaultBodyLimit::max(body::MAX_BODY))
        .with_state(state)
}
