//! The hall's screen (大屏, `GET /api/v1/hall`, no token): what a center shows the people
//! waiting in its hall — today's applications still being handled and the cases concluded
//! today, each by a masked number and its item. Never a name, an ID or a full case number.
//!
//! It is the one data endpoint without a token, so its cost must not depend on how often it
//! is asked: the answer is computed at most once per [`REFRESH`] for everybody (one
//! computation at a time), from a bounded slice of the store — this node's own cases of the
//! last [`DAYS`] days, at most [`MAX_SCAN`] of them, which their case numbers keep together.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use federation_proto::{CaseNo, Date, State as CaseState};

use super::cases::blocking;
use super::error::ApiError;
use super::AppState;
use crate::case::Case;
use crate::contract::{HallLine, HallNode, HallView, Sorted};

/// How long one answer serves everybody.
pub const REFRESH: Duration = Duration::from_secs(5);
/// Days of this node's cases read: a case concluded today was accepted at most this long ago
/// to be shown (older ones are not on the hall's screen).
pub const DAYS: i32 = 7;
/// The most cases one computation reads.
pub const MAX_SCAN: usize = 5_000;
/// The most entries of each list.
pub const MAX_SHOWN: usize = 50;

/// The last answer and when it was made.
#[derive(Default)]
pub struct HallCache {
    last: Mutex<Option<(Instant, Arc<HallView>)>>,
    computing: Mutex<()>,
}

impl HallCache {
    fn fresh(&self) -> Option<Arc<HallView>> {
        match &*self.last.lock().unwrap_or_else(|e| e.into_inner()) {
            Some((at, value)) if at.elapsed() < REFRESH => Some(value.clone()),
            _ => None,
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/hall",
    operation_id = "getHall",
    tag = "node",
    responses(
        (status = 200, description = "The hall's screen (no token).", body = crate::contract::HallView),
    ),
)]
pub async fn hall(State(node): State<AppState>) -> Result<Sorted<HallView>, ApiError> {
    if let Some(value) = node.hall.fresh() {
        return Ok(Sorted((*value).clone()));
    }
    let worker = node.clone();
    let value = blocking(move || -> Result<Arc<HallView>, ApiError> {
        let cache = &worker.hall;
        let _one = cache.computing.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(value) = cache.fresh() {
            return Ok(value);
        }
        let today = worker.today();
        let (queue, concluded) = screen(&worker, today)?;
        let value = Arc::new(HallView {
            node: HallNode {
                code: worker.code,
                name: worker.name.clone(),
            },
            today,
            queue,
            concluded,
        });
        *cache.last.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((Instant::now(), value.clone()));
        Ok(value)
    })
    .await??;
    Ok(Sorted((*value).clone()))
}

/// Today's open applications at this node and the cases concluded here today, newest first.
fn screen(node: &AppState, today: Date) -> Result<(Vec<HallLine>, Vec<HallLine>), ApiError> {
    // Case numbers sort by node, then day, then sequence: this node's cases from `DAYS` ago
    // on are one contiguous run of keys.
    let start = CaseNo {
        node: node.code,
        date: today.add_days(-DAYS),
        seq: CaseNo::MAX_SEQ,
    };
    let mut queue = Vec::new();
    let mut concluded = Vec::new();
    for case in node.store.cases_from(Some(&start)).take(MAX_SCAN) {
        let case = case?;
        if case.case_no.node != node.code {
            break;
        }
        if case.concluded_on == Some(today) && case.state.is_concluded() {
            concluded.push(line(&case));
        } else if case.submitted_on == today && waiting(case.state) {
            queue.push(line(&case));
        }
    }
    for list in [&mut queue, &mut concluded] {
        list.reverse();
        list.truncate(MAX_SHOWN);
    }
    Ok((queue, concluded))
}

/// Still being handled (补正 included: the applicant is still at it).
fn waiting(state: CaseState) -> bool {
    state.is_open() || state == CaseState::AwaitingSupplement
}

fn line(case: &Case) -> HallLine {
    let (_, month, day) = case.case_no.date.ymd();
    HallLine {
        ticket: format!("****-{month:02}{day:02}-{:06}", case.case_no.seq),
        item_name: case.item_name.clone(),
        state: case.state,
    }
}
