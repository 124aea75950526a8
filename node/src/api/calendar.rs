//! The working-day calendar in force (`GET /api/v1/calendar`) and loading a State Council notice
//! into it (`PUT /api/v1/calendar`, admin): the notice's years become official here, the node
//! broadcasts its calendar down its subtree, and every case held here is re-evaluated.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tracing::info;

use super::auth::Caller;
use super::body::JsonBody;
use super::error::ApiError;
use super::status::calendar_view;
use super::AppState;
use crate::calendar::Calendar;

/// `GET /api/v1/calendar`: official years, the last of them, and the boundary alarm.
pub async fn show(State(node): State<AppState>, _caller: Caller) -> Json<Value> {
    Json(calendar_view(&node))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Load {
    /// The notice as a calendar file (TOML, one `[year]` table per year).
    calendar: String,
}

/// `PUT /api/v1/calendar` `{"calendar": "<calendar file text>"}` → the years loaded, how many
/// case summaries changed, and the calendar view; once durable.
pub async fn load(
    State(node): State<AppState>,
    caller: Caller,
    JsonBody(req): JsonBody<Load>,
) -> Result<Json<Value>, ApiError> {
    caller.require_admin()?;
    let invalid =
        |m: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_calendar", m);
    let years: Vec<i32> = Calendar::from_toml(&req.calendar)
        .map_err(|e| invalid(e.to_string()))?
        .official_years()
        .collect();
    if years.is_empty() {
        return Err(invalid(crate::calendar::CalendarError::Empty.to_string()));
    }
    let changed = node.engine.load_calendar(req.calendar).await?;
    info!(node = %node.code, ?years, changed, operator = %caller.0.name, "calendar loaded");
    Ok(Json(json!({
        "loaded_years": years,
        "cases_changed": changed,
        "calendar": calendar_view(&node),
    })))
}
