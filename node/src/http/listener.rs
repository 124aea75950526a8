//! The API's accept loop: at most `max_connections` connections at a time, each served by
//! hyper's HTTP/1 connection under the deadlines of [`super::watchdog`] and
//! [`super::body_timeout`], optionally over TLS, with a graceful shutdown.
//!
//! **At the cap, new connections wait in the kernel's accept queue** (the listen backlog) — the
//! loop takes a free slot before it calls `accept`, so it simply stops accepting. The other
//! choice, accepting and closing at once, turns a flood of stalled connections into refusals of
//! every honest client for as long as the flood lasts; waiting instead costs a queued client
//! only the time until a slot frees, and a slot held by a stalled client frees within
//! `header_timeout` (or `idle_timeout` for a quiet kept-alive one). A queued connection costs
//! the process no file descriptor, so the cap also keeps the node below its descriptor limit
//! (1 024 by default; the store and the links need some). When the backlog itself is full, the
//! kernel drops new connection attempts and clients retry their SYN, as with any busy server.
//!
//! **Shutdown**: when `shutdown` resolves the loop stops accepting and closes the listener (the
//! queued connections are reset); a connection handling a request finishes it and closes
//! (hyper's graceful shutdown; its body still has its deadline), any other connection — idle,
//! or stalled in a head — is closed at once, and `serve` returns once all are closed.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;
use tracing::{debug, warn};

use super::body_timeout::TimedBody;
use super::counters::{Counters, Cut, OpenGuard};
use super::watchdog::{Watch, Watched};

/// The bounds of the API's connections (`[api]` in node.toml).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A request's head (request line and headers), from its first byte — or from the accept,
    /// for a new connection — must be complete within this; so must a TLS handshake.
    pub header_timeout: Duration,
    /// A request's body must be complete within this of its head.
    pub body_timeout: Duration,
    /// A kept-alive connection on which no new request starts within this is closed.
    pub idle_timeout: Duration,
    /// Connections served at once; more wait in the accept queue.
    pub max_connections: usize,
}

/// What every connection task needs.
#[derive(Clone)]
struct Shared {
    router: Router,
    tls: Option<TlsAcceptor>,
    limits: Limits,
    counters: Arc<Counters>,
    stop: watch::Receiver<bool>,
}

/// Serves `router` on `listener` until `shutdown` resolves and every connection has closed.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: Router,
    limits: Limits,
    counters: Arc<Counters>,
    shutdown: impl Future<Output = ()>,
) {
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(max));
    let (stop_tx, stop) = watch::channel(false);
    let shared = Shared {
        router,
        tls,
        limits,
        counters,
        stop,
    };
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break, // never closed
            },
            _ = &mut shutdown => break,
        };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        // Counted here, not in the task: a request accepted after this connection sees it.
        let open = shared.counters.opened();
        tokio::spawn(connection(tcp, peer, shared.clone(), (open, slot)));
    }
    drop(listener);
    // Receivers see `true` and shut their connections down gracefully.
    let _ = stop_tx.send(true);
    // Every connection holds a slot until it is closed: all slots back means all closed.
    let _ = slots.acquire_many(max as u32).await;
}

/// An accept that failed: a connection aborted before we took it is that client's problem; out
/// of descriptors (or memory) is ours — wait a little for some to free instead of spinning.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::*;
    if matches!(e.kind(), ConnectionAborted | ConnectionReset | Interrupted) {
        debug!(error = %e, "accepting an API connection failed");
        return;
    }
    warn!(error = %e, "accepting API connections failed; retrying in 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// The most one connection's read buffer holds, in bytes.
const MAX_BUFFER: usize = 64 * 1024;

/// One connection, from accept to close; `_held` (its count as open, then its slot under the
/// cap — in that order, so the count never shows more than the cap) is released when it ends.
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    shared: Shared,
    _held: (OpenGuard, OwnedSemaphorePermit),
) {
    let _ = tcp.set_nodelay(true);
    let watch = Watch::new(shared.limits.header_timeout, shared.limits.idle_timeout);
    match shared.tls.clone() {
        None => http(Watched::new(tcp, watch.clone()), watch, peer, shared).await,
        Some(acceptor) => {
            // A client that opens a connection and stalls its handshake is a stalled head.
            let handshake =
                tokio::time::timeout(shared.limits.header_timeout, acceptor.accept(tcp)).await;
            match handshake {
                Ok(Ok(tls)) => http(Watched::new(tls, watch.clone()), watch, peer, shared).await,
                Ok(Err(e)) => debug!(%peer, error = %e, "API TLS handshake failed"),
                Err(_) => {
                    shared.counters.count(Cut::Header);
                    debug!(%peer, "API TLS handshake timed out");
                }
            }
        }
    }
}

/// HTTP/1.1 on an established (plain or TLS) connection, until it closes, misses a deadline or
/// the node stops.
async fn http<T>(io: Watched<T>, watch: Arc<Watch>, peer: SocketAddr, shared: Shared)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Shared {
        router,
        limits,
        counters,
        mut stop,
        ..
    } = shared;
    let service = {
        let watch = watch.clone();
        let counters = counters.clone();
        hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let handling = watch.request_started();
            let mut request = request.map(|body| {
                axum::body::Body::new(TimedBody::new(body, limits.body_timeout, counters.clone()))
            });
            // The client's address, as axum's `ConnectInfo` (the failed-authentication limit
            // is kept per address).
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            let router = router.clone();
            async move {
                let response = router.oneshot(request).await;
                drop(handling);
                response
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    // hyper's own head timeout would also act as the idle timeout; the watchdog keeps them apart.
    builder.header_read_timeout(None).keep_alive(true);
    // hyper buffers up to ~400 KiB per connection by default: 512 stalled connections could hold
    // 200 MB. A head larger than this is refused (431); bodies stream through it in pieces.
    builder.max_buf_size(MAX_BUFFER);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    let mut conn = std::pin::pin!(conn);
    let mut expired = std::pin::pin!(watch.expired());
    let mut stopping = false;
    loop {
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(e) = served {
                    debug!(%peer, error = %e, "API connection ended with an error");
                }
                return;
            }
            cut = &mut expired => {
                counters.count(cut);
                debug!(%peer, deadline = ?cut, "API connection cut by its deadline");
                // Dropping the connection closes the socket.
                return;
            }
            _ = stop.wait_for(|stop| *stop), if !stopping => {
                // A connection between requests, or in the middle of a head, has nothing to
                // finish: close it now rather than let a stalled client hold the stop up to its
                // deadline. One handling a request finishes it first.
                if !watch.handling() {
                    return;
                }
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}
