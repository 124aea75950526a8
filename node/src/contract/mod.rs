//! The API's contract: the request and answer bodies of every endpoint of `docs/API.md`, as
//! types shared by the handlers ([`crate::api`]), the CLI ([`crate::cli`]) and the tests —
//! and, through their `ToSchema`, the OpenAPI document served at `GET /api/v1/openapi.json`
//! (committed as `docs/openapi.json`).
//!
//! - [`cases`]: an application, the case view (with the applicant whole or masked), the short
//!   view of a batch's answer, a page of cases or summaries, an action's body, 督办 from above.
//! - [`operators`]: the requests that add and change operators, and their views.
//! - [`node`]: the node, the session, the catalog, the links, the hall's screen.
//! - [`supervision`]: status and stats (电子监察), the calendar, revocations, the audit log.
//! - [`errors`]: the error body.
//! - [`foreign`]: the schemas of the core's types the contract uses as they are
//!   (`NodeCode`, `Date`, `CaseSummary`, …): the core does not depend on utoipa.
//!
//! The OpenAPI document is put together from these types and the handlers' operations in
//! [`crate::api::openapi`].
//!
//! **Compatibility.** The answers are the JSON the API always gave: same names, same shapes,
//! and the same bytes — a handler answers through [`Sorted`], which orders every object's
//! keys as the `json!` maps the handlers used to build did. Clients ignore fields they do not
//! know: these types do too — except in test builds (feature `strict-contract`, which every
//! test build turns on), where an answer type refuses an unknown field, so a field a handler
//! adds without adding it here fails `tests/contract.rs`. Request types always refuse unknown
//! fields, as the node does.

pub mod cases;
pub mod errors;
pub mod foreign;
pub mod node;
pub mod operators;
pub mod supervision;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

pub use cases::{
    ActionAnswer, ActionRequest, ApplicantView, Application, BatchAnswer, BatchRequest, CasePage,
    CaseView, CheckAnswer, EventView, NoticeId, NoticeSent, ParticipantView, Proposal, ShortView,
    SummaryPage,
};
pub use errors::{CaseError, ErrorBody};
pub use node::{
    CatalogView, HallLine, HallNode, HallView, LinkRole, LinkView, LinksView, NodeBrief, NodeView,
    SessionView,
};
pub use operators::{
    IssuedOperator, ListedOperator, NewOperator, OperatorList, OperatorView, Rotation, StandIn,
};
pub use supervision::{
    AuditPage, CalendarLoad, CalendarLoaded, CalendarView, NodeStatus, PullRequest, RevocationList,
    RevocationsLoad, RevocationsLoaded, StatsView, StatusView,
};

/// An answer of the contract as JSON with every object's keys in order, as the answers have
/// always come (serde_json's map sorts them): a struct serializes its fields in declaration
/// order, so it goes through a [`serde_json::Value`] first — what `json!` did.
#[derive(Debug, Clone)]
pub struct Sorted<T>(pub T);

impl<T: Serialize> IntoResponse for Sorted<T> {
    fn into_response(self) -> Response {
        match serde_json::to_value(&self.0) {
            Ok(value) => Json(value).into_response(),
            Err(e) => {
                let body = ErrorBody {
                    error: "internal".into(),
                    message: format!("the answer could not be written: {e}"),
                    errors: None,
                };
                (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
            }
        }
    }
}
