//! `POST /api/v1/cases:batch`: many submissions in one request — a center moving onto
//! liandong loads its legacy open cases a thousand at a time (`liandong case import`).
//!
//! What a batch promises (API.md, "Batches of cases"):
//!
//! - **Checked whole, before anything is written.** Every case is checked exactly as a single
//!   `POST /api/v1/cases` is ([`super::cases::admit`]: catalog, applicant, materials, the
//!   caller's right to accept for the item's department, the event's size). If any case is
//!   refused, the batch is refused with every refused case's index, error code and message,
//!   and nothing is written: a file with a bad line is fixed and sent again, rather than left
//!   half loaded with the good cases to pick out.
//! - **Written case by case, answered once all are durable.** The cases are handed to the
//!   writer in order, without waiting for each ([`crate::engine::Engine::send_write`]), so
//!   their case numbers follow the batch's order and they share group commits (a flush per
//!   few hundred cases instead of one per case); at most [`IN_FLIGHT`] wait at once. The 201
//!   comes only when every case is durable.
//! - **Not one transaction; completed by a retry.** The cases are not written in one store
//!   transaction (a batch may be larger than a group commit holds): a failure half-way — a
//!   failed flush, the node stopping — leaves the cases written before it. Sent with an
//!   `Idempotency-Key`, the batch is completed by sending it again unchanged with the same key:
//!   each case is written under a key derived from the batch's
//!   ([`super::once::IdempotencyKey::once_items`]), in the same transaction as its event, so the
//!   retry answers the cases already written with their numbers and writes only the rest. A
//!   retry of a batch that was written whole writes nothing and answers the same numbers.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use federation_proto::{Actor, Intake};
use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;
use tracing::info;

use super::auth::Caller;
use super::body;
use super::cases::admit;
use super::error::ApiError;
use super::once::{BatchKey, IdempotencyKey};
use super::view::short_view;
use super::AppState;
use crate::case::Case;
use crate::contract::{BatchAnswer, CaseError, ErrorBody, Sorted};
use crate::engine::{EngineError, Write};
use crate::idempotency::Record;
use crate::intake::Application;
use crate::operator::Operator;
use crate::store::StoreError;

/// Most cases one batch may hold. A thousand cases of a few hundred bytes each make a body of
/// well under a megabyte and are written in a few group commits; a center's legacy cases
/// (thousands) take a few batches. More is a 413 `too_many_cases`.
pub const MAX_BATCH_CASES: usize = 1000;

/// Largest body of a batch, in bytes: a route of its own gets this cap instead of the API's
/// [`body::MAX_BODY`] (64 KiB, one case). 4 MiB holds a thousand cases of 4 KiB each — a
/// typical case takes 300–600 bytes — and each case within it is still held to the single
/// submission's 64 KiB.
pub const MAX_BATCH_BODY: usize = 4 << 20;

/// Batches read and written at once. A batch's body and its decoded cases take several MB, so
/// their number is bounded (a node serves up to 512 connections); a batch arriving while this
/// many are under way is a 503 `busy` with `Retry-After: 1`, which `liandong case import`
/// waits out. The caller is authenticated before the body is read, so only operators can
/// make a node buffer a batch at all.
pub const MAX_BATCHES_AT_ONCE: usize = 2;

/// Most writes of one batch waiting in the writer's queue at once. The writer takes up to
/// `MAX_BATCH` (1024) requests per group commit; a batch that left all of its thousand cases
/// queued would make every other client's write wait behind them, so it leaves a few hundred
/// and hands in more as groups are written.
pub const IN_FLIGHT: usize = 256;

/// The route, as the idempotency records name it.
const ROUTE: &str = "POST /api/v1/cases:batch";

/// `POST /api/v1/cases:batch` with `{"cases": [application, ...]}` → 201
/// `{"cases": [short view, ...]}` in the batch's order (see the module doc).
#[utoipa::path(
    post,
    path = "/api/v1/cases:batch",
    operation_id = "submitBatch",
    tag = "cases",
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "1–200 visible ASCII characters: a retry with the same key and request writes nothing again."),
    ),
    request_body = crate::contract::BatchRequest,
    responses(
        (status = 201, description = "Every case in the batch's order, once all are durable.", body = crate::contract::BatchAnswer),
        (status = 400, description = "bad_request: a malformed path, query or body.", body = crate::contract::ErrorBody),
        (status = 403, description = "forbidden: the caller may not accept one of the cases (`errors` lists them).", body = crate::contract::ErrorBody),
        (status = 413, description = "too_many_cases, too_large.", body = crate::contract::ErrorBody),
        (status = 422, description = "invalid_cases (`errors` lists every refused case), empty_batch, idempotency_key_reused.", body = crate::contract::ErrorBody),
        (status = 503, description = "busy: as many batches as a node writes at once are under way (Retry-After).", body = crate::contract::ErrorBody),
    ),
    security(("bearerAuth" = [])),
)]
pub async fn submit(
    State(node): State<AppState>,
    caller: Caller,
    key: IdempotencyKey,
    request: Request,
) -> Result<(StatusCode, Sorted<BatchAnswer>), Refused> {
    let _permit = node.batches.try_acquire().map_err(|_| busy())?;
    let raw = body::bytes_within(request, &(), MAX_BATCH_BODY).await?;
    let cases = cases_of(&raw)?;
    let op = &caller.0;
    let intakes = check_all(&node, op, cases)?;
    let batch_key = key.once_items(&op.name, ROUTE, &raw);
    check_key_unused(&node, batch_key.as_ref(), intakes.len())?;
    let cases = write_all(&node, &key, batch_key.as_ref(), intakes).await?;
    if let (Some(first), Some(last)) = (cases.first(), cases.last()) {
        info!(node = %node.code, cases = cases.len(), first = %first.case_no, last = %last.case_no,
            operator = %op.name, "batch of cases submitted");
    }
    let cases = cases
        .iter()
        .map(|case| short_view(case, &node.clocks(case)))
        .collect();
    Ok((StatusCode::CREATED, Sorted(BatchAnswer { cases })))
}

fn busy() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        format!(
            "{MAX_BATCHES_AT_ONCE} batches are being written already; send this one again in a \
             moment"
        ),
    )
    .retry_after(1)
}

/// The body, `{"cases": [...]}`: at most [`MAX_BATCH_CASES`] cases, at least one. Each case
/// stays a JSON value here, to be judged on its own ([`check_one`]).
fn cases_of(raw: &[u8]) -> Result<Vec<Value>, ApiError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Batch {
        cases: Cases,
    }
    let Batch { cases } = serde_json::from_slice(raw).map_err(|e| {
        let what = if e.is_syntax() || e.is_eof() {
            "malformed JSON"
        } else {
            "invalid request: the body must be {\"cases\": [case, ...]}"
        };
        ApiError::bad_request(format!("{what}: {e}"))
    })?;
    if cases.total > MAX_BATCH_CASES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_cases",
            format!(
                "a batch holds at most {MAX_BATCH_CASES} cases, this one {}: send them in \
                 batches of {MAX_BATCH_CASES} or fewer",
                cases.total
            ),
        ));
    }
    if cases.items.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "empty_batch",
            "the batch holds no case",
        ));
    }
    Ok(cases.items)
}

/// The list of cases, decoded up to [`MAX_BATCH_CASES`] and counted past it without being
/// kept: a 4 MiB body of `[1,1,1,…]` would otherwise become two million values in memory
/// before its length could be refused.
struct Cases {
    items: Vec<Value>,
    total: usize,
}

impl<'de> Deserialize<'de> for Cases {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Cases, D::Error> {
        struct List;
        impl<'de> Visitor<'de> for List {
            type Value = Cases;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of cases")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Cases, A::Error> {
                let mut items = Vec::new();
                while items.len() <= MAX_BATCH_CASES {
                    match seq.next_element::<Value>()? {
                        Some(case) => items.push(case),
                        None => {
                            let total = items.len();
                            return Ok(Cases { items, total });
                        }
                    }
                }
                let mut total = items.len();
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    total += 1;
                }
                Ok(Cases { items, total })
            }
        }
        deserializer.deserialize_seq(List)
    }
}

/// Every case checked as a single submission is; the intakes in order, or every refusal.
fn check_all(
    node: &AppState,
    op: &Operator,
    cases: Vec<Value>,
) -> Result<Vec<(Intake, Actor)>, Refused> {
    let total = cases.len();
    let mut intakes = Vec::with_capacity(total);
    let mut refused = Vec::new();
    for (index, case) in cases.into_iter().enumerate() {
        match check_one(node, op, case) {
            Ok(intake) => intakes.push(intake),
            Err(e) => refused.push((index, e)),
        }
    }
    if refused.is_empty() {
        Ok(intakes)
    } else {
        Err(Refused::Cases { total, refused })
    }
}

/// One case of a batch, with the checks and errors of a single submission's body: no larger
/// than one ([`body::MAX_BODY`]), texts without control characters, the application's fields,
/// then [`admit`].
fn check_one(node: &AppState, op: &Operator, case: Value) -> Result<(Intake, Actor), ApiError> {
    let len = serde_json::to_vec(&case).map_or(usize::MAX, |bytes| bytes.len());
    if len > body::MAX_BODY {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "the case takes {len} bytes as JSON; a case may take at most {} bytes, as the \
                 body of a single submission",
                body::MAX_BODY
            ),
        ));
    }
    let application: Application = body::from_value(case)?;
    admit(node, op, &application)
}

/// Refuses, before anything is written, a batch whose key was used before with another
/// request: the writer would refuse each of its cases already recorded under that key, but
/// write the others. (A different batch racing this one under the same key is still refused
/// by the writer, case by case.)
fn check_key_unused(
    node: &AppState,
    batch_key: Option<&BatchKey>,
    cases: usize,
) -> Result<(), ApiError> {
    let Some(batch_key) = batch_key else {
        return Ok(());
    };
    for index in 0..cases {
        let once = batch_key.item(index);
        if let Some(bytes) = node.store.setting(&once.store_key)? {
            let record = Record::decode(&bytes).map_err(StoreError::Codec)?;
            if record.request != once.request {
                return Err(EngineError::KeyReused(record.case_no).into());
            }
        }
    }
    Ok(())
}

/// Writes the cases in order, at most [`IN_FLIGHT`] waiting at once; their cases once all are
/// durable. On the first failure nothing more is handed in, what was handed in is waited for,
/// and the error says how far the batch got.
async fn write_all(
    node: &AppState,
    key: &IdempotencyKey,
    batch_key: Option<&BatchKey>,
    intakes: Vec<(Intake, Actor)>,
) -> Result<Vec<Case>, ApiError> {
    let total = intakes.len();
    let mut pending = VecDeque::with_capacity(IN_FLIGHT);
    let mut written = Vec::with_capacity(total);
    let mut failed = None;
    for (index, (intake, actor)) in intakes.into_iter().enumerate() {
        if pending.len() >= IN_FLIGHT {
            settle_first(&mut pending, &mut written, &mut failed).await;
        }
        if failed.is_some() {
            break;
        }
        let once = batch_key.map(|b| b.item(index));
        match node
            .engine
            .send_write(actor, Write::Submit(intake), once)
            .await
        {
            Ok(case) => pending.push_back((index, case)),
            Err(e) => {
                failed = Some((index, e));
                break;
            }
        }
    }
    while !pending.is_empty() {
        settle_first(&mut pending, &mut written, &mut failed).await;
    }
    match failed {
        None => Ok(written),
        Some((index, e)) => Err(cut_short(total, written.len(), index, e, key)),
    }
}

/// Waits for the oldest write handed in: its case, or the batch's first failure.
async fn settle_first<F: Future<Output = Result<Case, EngineError>>>(
    pending: &mut VecDeque<(usize, F)>,
    written: &mut Vec<Case>,
    failed: &mut Option<(usize, EngineError)>,
) {
    let Some((index, case)) = pending.pop_front() else {
        return;
    };
    match case.await {
        Ok(case) => written.push(case),
        Err(e) => {
            if failed.is_none() {
                *failed = Some((index, e));
            }
        }
    }
}

/// The error of a batch whose writing failed at case `index` after `written` of its `total`
/// cases were durable: the engine's error, saying how far the batch got and how to finish it.
fn cut_short(
    total: usize,
    written: usize,
    index: usize,
    e: EngineError,
    key: &IdempotencyKey,
) -> ApiError {
    let mut error = ApiError::from(e);
    let finish = if key.0.is_some() {
        "send the same batch again with the same Idempotency-Key: the cases written are answered \
         and only the rest are written"
    } else {
        "the batch was sent without an Idempotency-Key, so sending it again would write those \
         cases a second time; find them in GET /api/v1/cases"
    };
    error.message = format!(
        "case {index} of the batch could not be written ({}); {written} of its {total} cases \
         were written; {finish}",
        error.message
    );
    error
}

/// Why a batch was refused: the request as a whole, or some of its cases.
#[derive(Debug)]
pub enum Refused {
    Request(ApiError),
    /// The cases refused, by index, out of `total`; nothing was written.
    Cases {
        total: usize,
        refused: Vec<(usize, ApiError)>,
    },
}

impl From<ApiError> for Refused {
    fn from(e: ApiError) -> Refused {
        Refused::Request(e)
    }
}

impl Refused {
    /// The answer's status, code, message and the list of refused cases (empty for a
    /// refusal of the request as a whole).
    fn parts(self) -> (ApiError, Vec<CaseError>) {
        let (total, refused) = match self {
            Refused::Request(e) => return (e, Vec::new()),
            Refused::Cases { total, refused } => (total, refused),
        };
        // A case the caller may not accept makes the batch a 403, as it would be alone; any
        // other refusal of a case is about its content: 422.
        let forbidden = refused
            .iter()
            .any(|(_, e)| e.status == StatusCode::FORBIDDEN);
        let (status, code) = if forbidden {
            (StatusCode::FORBIDDEN, "forbidden")
        } else {
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_cases")
        };
        let first = refused
            .first()
            .map(|(index, e)| format!(" (case {index}: {})", e.message))
            .unwrap_or_default();
        let message = format!(
            "{} of the {total} cases of the batch are refused{first}; nothing was written",
            refused.len()
        );
        let list = refused
            .into_iter()
            .map(|(index, e)| CaseError {
                index,
                error: e.code.to_string(),
                message: e.message,
            })
            .collect();
        (ApiError::new(status, code, message), list)
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let (error, list) = self.parts();
        if list.is_empty() {
            return error.into_response();
        }
        let body = ErrorBody {
            error: error.code.to_string(),
            message: error.message,
            errors: Some(list),
        };
        (error.status, Sorted(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body_of(n: usize) -> Vec<u8> {
        let cases = vec![json!({"item": "x"}); n];
        json!({ "cases": cases }).to_string().into_bytes()
    }

    #[test]
    fn a_batch_holds_one_to_the_cap_of_cases() {
        assert_eq!(cases_of(&body_of(1)).unwrap().len(), 1);
        assert_eq!(
            cases_of(&body_of(MAX_BATCH_CASES)).unwrap().len(),
            MAX_BATCH_CASES
        );
        let e = cases_of(&body_of(MAX_BATCH_CASES + 1)).unwrap_err();
        assert_eq!(
            (e.status, e.code),
            (StatusCode::PAYLOAD_TOO_LARGE, "too_many_cases")
        );
        assert!(
            e.message
                .contains(&format!("this one {}", MAX_BATCH_CASES + 1)),
            "{}",
            e.message
        );
        let e = cases_of(&body_of(0)).unwrap_err();
        assert_eq!(
            (e.status, e.code),
            (StatusCode::UNPROCESSABLE_ENTITY, "empty_batch")
        );
        // Past the cap the cases are counted, not kept.
        let many = format!("{{\"cases\":[{}1]}}", "1,".repeat(100_000));
        let e = cases_of(many.as_bytes()).unwrap_err();
        assert!(e.message.contains("this one 100001"), "{}", e.message);
        for bad in [
            &b"{"[..],
            b"[]",
            b"{\"cases\":{}}",
            b"{\"cases\":[],\"x\":1}",
            b"{}",
        ] {
            assert_eq!(cases_of(bad).unwrap_err().code, "bad_request");
        }
    }

    #[test]
    fn refused_cases_are_listed_and_a_forbidden_one_makes_a_403() {
        let invalid = |m: &str| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unknown_item", m);
        let refused = Refused::Cases {
            total: 5,
            refused: vec![(1, invalid("one")), (3, invalid("three"))],
        };
        let (error, list) = refused.parts();
        assert_eq!(
            (error.status, error.code),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_cases")
        );
        assert!(
            error.message.starts_with("2 of the 5 cases"),
            "{}",
            error.message
        );
        assert!(error.message.contains("case 1: one"), "{}", error.message);
        assert_eq!(
            list[1],
            CaseError {
                index: 3,
                error: "unknown_item".into(),
                message: "three".into()
            }
        );
        let refused = Refused::Cases {
            total: 2,
            refused: vec![(0, invalid("x")), (1, ApiError::forbidden("not yours"))],
        };
        let (error, list) = refused.parts();
        assert_eq!(
            (error.status, error.code),
            (StatusCode::FORBIDDEN, "forbidden")
        );
        assert_eq!(list.len(), 2);
    }
}
