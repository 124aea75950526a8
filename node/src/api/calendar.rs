//! The working-day calendar in force (`GET /api/v1/calendar`) and loading a State Council notice
//! into it (`PUT /api/v1/calendar`, admin): the notice's years become official here, the node
//! broadcasts its calendar down its subtree, and every case held here is re-evaluated.

use axum::extract::State;
use axum::http::StatusCode;
use tracing::info;

use super::auth::Caller;
use super::body::JsonBody;
use super::error::ApiError;
use super::status::calendar_view;
use super::AppState;
use crate::calendar::Calendar;
use crate::contract::{CalendarLoad, CalendarLoaded, CalendarView, Sorted};

/// `GET /api/v1/calendar`: official years, the last of them, and the boundary alarm.
#[utoipa::path(
    get,
    path = "/api/v1/calendar",
    operation_id = "getCalendar",
    tag = "reference",
    responses(
        (status = 200, description = "The calendar in force.", body = crate::contract::CalendarView),
    ),
    security(("bearerAuth" = [])),
)]
pub async fn show(State(node): State<AppState>, _caller: Caller) -> Sorted<CalendarView> {
    Sorted(calendar_view(&node))
}

/// `PUT /api/v1/calendar` `{"calendar": "<calendar file text>"}` → the years loaded, how many
/// case summaries changed, and the calendar view; once durable.
#[utoipa::path(
    put,
    path = "/api/v1/calendar",
    operation_id = "loadCalendar",
    tag = "reference",
    request_body = crate::contract::CalendarLoad,
    responses(
        (status = 200, description = "The years loaded, once durable.", body = crate::contract::CalendarLoaded),
        (status = 400, description = "bad_request: a malformed path, query or body.", body = crate::contract::ErrorBody),
        (status = 403, description = "forbidden: the caller's role may not.", body = crate::contract::ErrorBody),
        (status = 422, description = "invalid_calendar.", body = crate::contract::ErrorBody),
    ),
    security(("bearerAuth" = [])),
)]
pub async fn load(
    State(node): State<AppState>,
    caller: Caller,
    JsonBody(req): JsonBody<CalendarLoad>,
) -> Result<Sorted<CalendarLoaded>, ApiError> {
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
    Ok(Sorted(CalendarLoaded {
        loaded_years: years,
        cases_changed: changed as u64,
        calendar: calendar_view(&node),
    }))
}
