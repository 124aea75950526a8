//! The body deadline of one request.
//!
//! A client that sends a complete head with `Content-Length: 1000` and then stalls would keep a
//! handler waiting for the body forever (and the connection with it). Every request body is
//! wrapped in [`TimedBody`], which fails with [`BodyTimedOut`] if the body is not complete
//! `limit` after the head was: the handler's body extractor answers 408 (`api::body`) and the
//! connection, whose body was not read to its end, is closed after that answer. The deadline is
//! for the whole body, not between bytes, so a client cannot stretch a 64 KiB body over hours
//! by sending a byte now and then.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use super::counters::{Counters, Cut};

/// The error a stalled body ends with; `api::body` recognises it and answers 408.
#[derive(Debug, thiserror::Error)]
#[error("the request body was not complete within {} ms", .0.as_millis())]
pub struct BodyTimedOut(pub Duration);

/// A request body that must be complete by a deadline.
pub struct TimedBody<B> {
    inner: B,
    limit: Duration,
    deadline: Instant,
    /// Created at the first wait only: most bodies arrive with their head.
    sleep: Option<Pin<Box<Sleep>>>,
    counters: Arc<Counters>,
}

impl<B> TimedBody<B> {
    /// `inner` must be complete `limit` from now (the moment its head was complete).
    pub fn new(inner: B, limit: Duration, counters: Arc<Counters>) -> TimedBody<B> {
        TimedBody {
            inner,
            limit,
            deadline: Instant::now() + limit,
            sleep: None,
            counters,
        }
    }
}

impl<B> Body for TimedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => {
                let deadline = this.deadline;
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.counters.count(Cut::Body);
                        Poll::Ready(Some(Err(Box::new(BodyTimedOut(this.limit)))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Whether `error` (or an error it wraps) is a [`BodyTimedOut`].
pub fn is_body_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if e.is::<BodyTimedOut>() {
            return true;
        }
        current = e.source();
    }
    false
}
