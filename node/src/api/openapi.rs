//! The OpenAPI 3.1 document of the API (`GET /api/v1/openapi.json`, no token: it is
//! documentation), generated from the contract's types ([`crate::contract`]) and the handlers'
//! `#[utoipa::path]` operations, once per process.
//!
//! What keeps it true:
//! - the router is built from one table ([`super::route_table`]), and `tests/contract.rs`
//!   checks that every route of it has an operation here and every operation is routed;
//! - `tests/contract.rs` reads live answers into the contract's types (which refuse unknown
//!   fields in tests) and validates them against the schemas of this document;
//! - `docs/openapi.json` is this document, committed; `tests/contract.rs` fails when it is not
//!   what the node serves (regenerate with `LIANDONG_WRITE_OPENAPI=1 cargo test -p liandong
//!   --test contract`).
//!
//! Every object schema with properties is closed (`additionalProperties: false`) — a field
//! not in the document is not in the answer — and every secured operation names the answers
//! every secured route can give (401 `unauthorized`, 429 `too_many_failures`).

use std::sync::OnceLock;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::contract::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "liandong",
        description = "The HTTP JSON API of a liandong node (docs/API.md): window software, dashboards, the console and the `liandong` CLI. Errors are a 4xx/5xx status with {\"error\", \"message\"}.",
    ),
    paths(
        super::node::node,
        super::node::session,
        super::hall::hall,
        super::node::check_applicant,
        super::cases::submit,
        super::cases::list,
        super::batch::submit,
        super::cases::show,
        super::cases::act,
        super::node::catalog,
        super::calendar::show,
        super::calendar::load,
        super::revocations::list,
        super::revocations::load,
        super::status::status,
        super::status::pull,
        super::status::stats,
        super::node::links,
        super::node::summaries,
        super::node::summary,
        super::audit::list,
        super::operators::add,
        super::operators::list,
        super::operators::disable,
        super::operators::enable,
        super::operators::rotate,
        super::operators::stand_in,
        super::metrics::metrics,
        serve,
    ),
    components(schemas(ErrorBody)),
    modifiers(&Conventions),
    tags(
        (name = "cases", description = "Cases (办件): intake, views, lists, actions."),
        (name = "operators", description = "Operators and their tokens (admin)."),
        (name = "supervision", description = "Status, statistics, summaries and the audit log (电子监察)."),
        (name = "reference", description = "The working-day calendar and revocations."),
        (name = "node", description = "The node, the session, the catalog, links, the hall's screen, metrics, this document."),
    )
)]
struct ApiDoc;

/// The bearer scheme, and the refusals every secured operation can give.
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearerAuth",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An operator's token: `Authorization: Bearer <token>`.",
                    ))
                    .build(),
            ),
        );
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                if secured(operation) {
                    let responses = &mut operation.responses.responses;
                    responses.entry("401".into()).or_insert_with(|| {
                        error("unauthorized: a missing, unknown, disabled or expired token.").into()
                    });
                    responses.entry("429".into()).or_insert_with(|| {
                        error(
                            "too_many_failures: too many failed authentications from this \
                             address (Retry-After).",
                        )
                        .into()
                    });
                }
            }
        }
    }
}

fn secured(operation: &Operation) -> bool {
    operation
        .security
        .as_ref()
        .is_some_and(|requirements| !requirements.is_empty())
}

/// The document as served: pretty JSON with a final newline, every object schema closed.
pub fn document() -> Result<&'static str, &'static str> {
    static DOCUMENT: OnceLock<Result<String, String>> = OnceLock::new();
    DOCUMENT
        .get_or_init(|| {
            let mut value = serde_json::to_value(ApiDoc::openapi()).map_err(|e| e.to_string())?;
            close_objects(&mut value);
            let mut text = serde_json::to_string_pretty(&value).map_err(|e| e.to_string())?;
            text.push('\n');
            Ok(text)
        })
        .as_ref()
        .map(String::as_str)
        .map_err(String::as_str)
}

/// Gives every schema with `properties` and no `additionalProperties` an
/// `additionalProperties: false`.
fn close_objects(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("properties").is_some_and(Value::is_object)
                && !map.contains_key("additionalProperties")
            {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            map.values_mut().for_each(close_objects);
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

/// `GET /api/v1/openapi.json`: this API's OpenAPI document (no token).
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    operation_id = "getOpenApi",
    tag = "node",
    responses((status = 200, description = "This document.", content_type = "application/json", body = Object)),
)]
pub async fn serve() -> Response {
    match document() {
        Ok(text) => ([(header::CONTENT_TYPE, "application/json")], text).into_response(),
        Err(e) => super::error::ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the OpenAPI document could not be made: {e}"),
        )
        .into_response(),
    }
}
