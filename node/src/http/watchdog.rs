//! The head and idle deadlines of one HTTP connection.
//!
//! hyper's own `header_read_timeout` starts again as soon as a response is written, so on a
//! kept-alive connection it doubles as the idle timeout: with it, a 10 s head deadline would
//! also close every pooled connection after 10 s of quiet. We want both bounds apart — a short
//! one for a client that has started a request and stalls, a longer one for a client that keeps
//! a connection for its next request — so the connection is watched here instead:
//!
//! - a new connection, and a kept-alive one once the first byte of its next request arrived,
//!   must complete the request's head within `header` of that moment;
//! - while a request is being handled nothing is timed here (its body has its own deadline,
//!   [`super::body_timeout`]);
//! - after a response, a connection on which no byte arrives is closed `idle` later.
//!
//! [`Watched`] sees the bytes arrive, [`Watch::request_started`] marks the head complete (hyper
//! calls the service only then), and [`Watch::expired`] resolves when the connection must go.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::counters::Cut;

/// The phase of one connection and its deadlines.
pub struct Watch {
    header: Duration,
    idle: Duration,
    state: Mutex<State>,
    changed: Notify,
}

#[derive(Debug)]
struct State {
    /// Requests whose response is not ready yet (more than one only if a client pipelines).
    in_flight: usize,
    /// When the head being read now began to arrive (the accept, for a new connection).
    head_since: Option<Instant>,
    /// When the last response was ready.
    idle_since: Instant,
}

impl Watch {
    /// A new connection: it is reading its first head from now on.
    pub fn new(header: Duration, idle: Duration) -> Arc<Watch> {
        let now = Instant::now();
        Arc::new(Watch {
            header,
            idle,
            state: Mutex::new(State {
                in_flight: 0,
                head_since: Some(now),
                idle_since: now,
            }),
            changed: Notify::new(),
        })
    }

    /// hyper has a complete head and calls the service: nothing is timed here until the
    /// returned guard is dropped, when the response is ready (or the request abandoned).
    pub fn request_started(self: &Arc<Self>) -> InFlight {
        {
            let mut state = self.lock();
            state.in_flight += 1;
            state.head_since = None;
        }
        self.changed.notify_one();
        InFlight(self.clone())
    }

    /// Whether a request is being handled (its head is complete and its answer not ready).
    pub fn handling(&self) -> bool {
        self.lock().in_flight > 0
    }

    /// Resolves when the connection has missed a deadline, saying which.
    pub async fn expired(&self) -> Cut {
        loop {
            // `notify_one` keeps a permit when nobody waits, so a change between reading the
            // deadline and awaiting this is not lost.
            let changed = self.changed.notified();
            match self.deadline() {
                Some((at, cut)) if at <= Instant::now() => return cut,
                Some((at, _)) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(at) => {}
                        _ = changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }

    fn deadline(&self) -> Option<(Instant, Cut)> {
        let state = self.lock();
        if state.in_flight > 0 {
            return None;
        }
        Some(match state.head_since {
            Some(since) => (since + self.header, Cut::Header),
            None => (state.idle_since + self.idle, Cut::Idle),
        })
    }

    fn bytes_arrived(&self) {
        let started = {
            let mut state = self.lock();
            let idle = state.in_flight == 0 && state.head_since.is_none();
            if idle {
                state.head_since = Some(Instant::now());
            }
            idle
        };
        if started {
            self.changed.notify_one();
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a few plain fields, consistent after every statement: a panic elsewhere
        // while holding the lock leaves nothing half-done.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A request being handled; its drop starts the idle deadline.
pub struct InFlight(Arc<Watch>);

impl Drop for InFlight {
    fn drop(&mut self) {
        {
            let mut state = self.0.lock();
            state.in_flight = state.in_flight.saturating_sub(1);
            state.idle_since = Instant::now();
        }
        self.0.changed.notify_one();
    }
}

/// A connection's byte stream, telling its [`Watch`] when bytes arrive.
pub struct Watched<T> {
    inner: T,
    watch: Arc<Watch>,
}

impl<T> Watched<T> {
    pub fn new(inner: T, watch: Arc<Watch>) -> Watched<T> {
        Watched { inner, watch }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.watch.bytes_arrived();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_new_connection_has_the_head_deadline() {
        let watch = Watch::new(Duration::from_secs(10), Duration::from_secs(60));
        let start = Instant::now();
        assert_eq!(watch.expired().await, Cut::Header);
        assert_eq!(Instant::now() - start, Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_response_the_idle_deadline_applies_until_bytes_arrive() {
        let watch = Watch::new(Duration::from_secs(10), Duration::from_secs(60));
        drop(watch.request_started());
        let start = Instant::now();
        assert_eq!(watch.expired().await, Cut::Idle);
        assert_eq!(Instant::now() - start, Duration::from_secs(60));
        drop(watch.request_started());
        tokio::time::advance(Duration::from_secs(30)).await;
        watch.bytes_arrived();
        let start = Instant::now();
        assert_eq!(watch.expired().await, Cut::Header);
        assert_eq!(Instant::now() - start, Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_is_timed_while_a_request_is_handled() {
        let watch = Watch::new(Duration::from_secs(1), Duration::from_secs(1));
        let request = watch.request_started();
        let waited = tokio::time::timeout(Duration::from_secs(3600), watch.expired()).await;
        assert!(waited.is_err(), "cut while handling a request");
        drop(request);
        assert_eq!(watch.expired().await, Cut::Idle);
    }
}
