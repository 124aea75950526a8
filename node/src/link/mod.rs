//! Federation links (联动链路): one QUIC connection per parent–child pair, dialled by the child.
//!
//! - [`tls`]: mutual TLS against the federation CA; the peer's code from its certificate.
//! - [`session`]: one connection — authorisation, hello, the bulk sender and receiver, acks.
//! - [`pull`]: status pulls down the subtree and what is known of each descendant's freshness.
//!
//! This module owns the endpoint, the accept loop, the dial loop (reconnect with jittered
//! backoff) and the registry behind `GET /api/v1/links`.

mod backoff;
mod pull;
mod session;
pub mod tls;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use federation_proto::frame::{Frame, Freshness};
use federation_proto::NodeCode;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tracing::{debug, info, warn, Instrument};

use crate::config::ParentAddr;
use crate::engine::Engine;
use crate::store::Store;
pub use pull::Seen;
use session::Session;
pub use tls::Identity;

/// Which side of a link the peer is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = LinkRole)]
pub enum Role {
    Parent,
    Child,
}

/// What `GET /api/v1/links` shows of one link.
#[derive(Debug, Clone, Serialize)]
pub struct LinkState {
    pub peer: NodeCode,
    pub role: Role,
    pub connected: bool,
    /// Highest link sequence the peer acknowledged in this run.
    pub last_ack: u64,
    /// Connections established since start.
    pub connections: u64,
    pub last_error: Option<String>,
    /// The optional features in effect on the last link that came up: those both sides
    /// announced in their hellos ([`federation_proto::Hello::common_features`]). None is
    /// defined yet, so 0.
    pub features: u64,
    /// The live connection. A newer one replaces (and closes) it, and only the session that
    /// owns it may mark the link down — an old session timing out must not.
    #[serde(skip)]
    pub current: Option<quinn::Connection>,
    /// The live connection's control stream, for pulls.
    #[serde(skip)]
    pub control: Option<mpsc::Sender<Frame>>,
    /// When the peer was last heard on the control stream.
    #[serde(skip)]
    pub last_seen: Option<Instant>,
}

type Registry = Arc<Mutex<BTreeMap<NodeCode, LinkState>>>;

/// Pulls waiting for a child's report, by (request, child).
type PendingPulls = Mutex<HashMap<(u64, NodeCode), oneshot::Sender<Vec<Freshness>>>>;

/// Everything the links need.
pub struct LinkSetup {
    pub code: NodeCode,
    pub parent: Option<ParentAddr>,
    pub listen: SocketAddr,
    pub identity: Identity,
    /// `revoked.toml`, re-read at every incoming connection so a revocation needs no restart.
    pub revocations: PathBuf,
    pub engine: Engine,
    pub store: Arc<dyn Store>,
    /// Restore mode (`liandong restore`): ask the parent for our events back and report, here,
    /// the link sequence that completes them.
    pub restore: Option<watch::Sender<RestoreProgress>>,
}

/// The running links of a node.
pub struct Links {
    shared: Arc<Shared>,
    registry: Registry,
    local_addr: SocketAddr,
    store: Arc<dyn Store>,
    endpoint: quinn::Endpoint,
}

impl Links {
    /// Binds the QUIC endpoint, then accepts children and dials the parent in the background.
    pub fn start(setup: LinkSetup) -> Result<Links> {
        let mut endpoint = endpoint(&setup.identity, setup.listen)?;
        endpoint.set_default_client_config(tls::client_config(&setup.identity)?);
        let local_addr = endpoint.local_addr()?;
        let registry: Registry = Arc::default();
        let revocations = setup.engine.revocations();
        let shared = Arc::new(Shared {
            code: setup.code,
            parent: setup.parent.as_ref().map(|p| p.code),
            revocations: setup.revocations,
            engine: setup.engine,
            store: setup.store.clone(),
            registry: registry.clone(),
            restore: setup.restore,
            pulls: Mutex::default(),
            known: Mutex::default(),
            refusals: Mutex::new(backoff::Repeats::new(REPEAT_EVERY)),
            acked: Notify::new(),
        });
        let span = tracing::info_span!("links", node = %setup.code);
        tokio::spawn(accept_loop(endpoint.clone(), shared.clone()).instrument(span.clone()));
        tokio::spawn(close_revoked(revocations, registry.clone()).instrument(span.clone()));
        if let Some(parent) = setup.parent {
            tokio::spawn(dial_loop(endpoint.clone(), parent, shared.clone()).instrument(span));
        }
        Ok(Links {
            shared,
            registry,
            local_addr,
            store: setup.store,
            endpoint,
        })
    }

    /// Closes every link, so that peers see the node leave at once rather than after the idle
    /// timeout, and waits briefly for the close to go out.
    pub async fn close(&self) {
        self.endpoint.close(0u32.into(), b"node stopping");
        let _ = tokio::time::timeout(Duration::from_secs(1), self.endpoint.wait_idle()).await;
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Asks the whole subtree to deliver everything now and report; returns a report per
    /// descendant once all have answered or `timeout` has passed.
    pub async fn pull(&self, timeout: Duration) -> Vec<Freshness> {
        let mut b = [0u8; 8];
        let request = getrandom::getrandom(&mut b).map_or(0, |_| u64::from_le_bytes(b));
        info!(request, ?timeout, "pulling the subtree");
        self.shared
            .pull_subtree(request, Instant::now() + timeout)
            .await
    }

    /// What is known of each descendant's freshness, from the links and the last pulls.
    pub fn known(&self) -> BTreeMap<NodeCode, Seen> {
        let mut known = self.shared.known();
        if let Ok(r) = self.registry.lock() {
            for s in r.values().filter(|s| s.role == Role::Child) {
                let fresh_at = s.last_seen;
                let seen = known.entry(s.peer).or_insert(Seen {
                    reachable: s.connected,
                    fresh_at,
                });
                seen.reachable = s.connected;
                seen.fresh_at = seen.fresh_at.max(fresh_at);
            }
        }
        known
    }

    /// Every link seen since start, with its outbox depth.
    pub fn snapshot(&self) -> Vec<(LinkState, usize)> {
        let states: Vec<LinkState> = match self.registry.lock() {
            Ok(r) => r.values().cloned().collect(),
            Err(_) => Vec::new(),
        };
        states
            .into_iter()
            .map(|s| {
                let depth = self.store.outbox_depth(s.peer);
                (s, depth)
            })
            .collect()
    }
}

/// The node's QUIC endpoint on `listen`, with a stateless-reset key that survives restarts
/// ([`Identity::reset_key`]). Connection IDs are plain random ones: quinn's default hashes them
/// with a key made at start, and a restarted node would drop the old connection's packets as
/// invalid instead of resetting it.
fn endpoint(identity: &Identity, listen: SocketAddr) -> Result<quinn::Endpoint> {
    let mut config = quinn::EndpointConfig::new(Arc::new(identity.reset_key()));
    config.cid_generator(|| Box::new(RandomCids));
    let socket =
        std::net::UdpSocket::bind(listen).with_context(|| format!("binding QUIC to {listen}"))?;
    let runtime = Arc::new(quinn::TokioRuntime);
    quinn::Endpoint::new(config, Some(tls::server_config(identity)?), socket, runtime)
        .with_context(|| format!("starting QUIC on {listen}"))
}

/// Random 8-byte connection IDs that any instance of the node accepts as its own.
struct RandomCids;

impl quinn::ConnectionIdGenerator for RandomCids {
    fn generate_cid(&mut self) -> quinn::ConnectionId {
        let mut bytes = [0u8; 8];
        // Uniqueness, not secrecy: were the system's randomness unavailable, a clock-based ID
        // still tells connections apart.
        if getrandom::getrandom(&mut bytes).is_err() {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            bytes = nanos.to_le_bytes();
        }
        quinn::ConnectionId::new(&bytes)
    }

    fn cid_len(&self) -> usize {
        8
    }

    fn cid_lifetime(&self) -> Option<Duration> {
        None
    }
}

/// What every session of this node shares.
pub(crate) struct Shared {
    pub code: NodeCode,
    pub parent: Option<NodeCode>,
    pub revocations: PathBuf,
    pub engine: Engine,
    pub store: Arc<dyn Store>,
    registry: Registry,
    pub restore: Option<watch::Sender<RestoreProgress>>,
    pulls: PendingPulls,
    /// What the last pulls said of each descendant.
    known: Mutex<BTreeMap<NodeCode, Seen>>,
    /// Refusals of incoming links, said once a minute per peer ([`backoff::Repeats`]).
    pub refusals: Mutex<backoff::Repeats<NodeCode>>,
    /// Woken each time a peer's ack has been applied to its outbox: a pull waits on it for the
    /// outbox to the parent to drain.
    pub acked: Notify,
}

/// How far `liandong restore` has got: the link sequence that completes the restore, once the
/// parent has queued it, and how far the node holds its link from the parent durably.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestoreProgress {
    pub queued: Option<u64>,
    pub received: u64,
}

impl RestoreProgress {
    /// Everything the parent queued for the restore is durable here.
    pub fn complete(&self) -> bool {
        self.queued.is_some_and(|upto| self.received >= upto)
    }
}

impl Shared {
    pub fn update(&self, peer: NodeCode, role: Role, f: impl FnOnce(&mut LinkState)) {
        if let Ok(mut r) = self.registry.lock() {
            let state = r.entry(peer).or_insert_with(|| LinkState {
                peer,
                role,
                connected: false,
                last_ack: 0,
                connections: 0,
                last_error: None,
                features: 0,
                current: None,
                control: None,
                last_seen: None,
            });
            f(state);
        }
    }
}

/// A warning that would repeat (a refused peer dialling again, handshakes failing from one
/// address) is said at most this often, with the number held back.
const REPEAT_EVERY: Duration = Duration::from_secs(60);

async fn accept_loop(endpoint: quinn::Endpoint, shared: Arc<Shared>) {
    let failed = Arc::new(Mutex::new(backoff::Repeats::new(REPEAT_EVERY)));
    while let Some(incoming) = endpoint.accept().await {
        let shared = shared.clone();
        let failed = failed.clone();
        tokio::spawn(async move {
            let remote = incoming.remote_address().ip();
            match incoming.await {
                Ok(conn) => {
                    Session::run(conn, Role::Child, shared).await;
                }
                Err(e) => {
                    let said = failed
                        .lock()
                        .ok()
                        .and_then(|mut f| f.check(&remote, Instant::now()));
                    if let Some(held_back) = said {
                        warn!(%remote, error = %e, held_back, "incoming link failed its handshake");
                    }
                }
            }
        });
    }
}

/// Closes the live link of every child the moment its revocation is known here (an admin's
/// `liandong revocations load`, or the parent's broadcast): waiting for the connection to
/// drop by itself would leave a revoked node sending for as long as it likes. Its redials are
/// refused by [`Session`]'s authorisation.
async fn close_revoked(
    mut revoked: watch::Receiver<crate::engine::RevokedCodes>,
    registry: Registry,
) {
    loop {
        let codes = revoked.borrow_and_update().clone();
        let closed: Vec<NodeCode> = match registry.lock() {
            Ok(links) => links
                .values()
                .filter(|s| s.role == Role::Child && codes.contains(&s.peer))
                .filter_map(|s| {
                    let conn = s.current.as_ref()?;
                    conn.close(REVOKED_CLOSE.into(), b"certificate revoked");
                    Some(s.peer)
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        for peer in closed {
            warn!(%peer, "link closed: the peer's certificate is revoked");
        }
        if revoked.changed().await.is_err() {
            return;
        }
    }
}

/// The QUIC close code of a link closed because the peer was revoked.
const REVOKED_CLOSE: u32 = 5;

/// Dials the parent for as long as the node runs, waiting longer and longer between failed
/// attempts ([`backoff`]): up to a minute while the parent does not answer, up to five while
/// it refuses us. A link that stayed up starts the schedule again.
async fn dial_loop(endpoint: quinn::Endpoint, parent: ParentAddr, shared: Arc<Shared>) {
    let mut schedule = backoff::Backoff::default();
    let mut failures = 0u32;
    loop {
        let failure = match dial(&endpoint, &parent).await {
            Ok(conn) => {
                info!(parent = %parent.code, addr = %parent.addr, attempts = failures + 1, "connected to parent");
                let up_since = Session::run(conn, Role::Parent, shared.clone()).await;
                match up_since {
                    // Only a link that stayed up resets the schedule: a parent that accepts the
                    // connection and then drops us must not be dialled in a tight loop.
                    Some(at) if at.elapsed() > Duration::from_secs(2) => {
                        failures = 0;
                        schedule.reset();
                        backoff::Failure::Unreachable
                    }
                    Some(_) => backoff::Failure::Unreachable,
                    // Connected, and refused before the link came up (our hello or
                    // certificate): the session said why.
                    None => {
                        failures += 1;
                        backoff::Failure::Refused
                    }
                }
            }
            Err((failure, e)) => {
                let error = format!("{e:#}");
                // Said once per outage; the attempts that follow only at debug level, and
                // "connected" tells how many it took.
                if failures == 0 {
                    warn!(parent = %parent.code, %error, "cannot reach parent; retrying, less and less often");
                } else {
                    debug!(parent = %parent.code, %error, failures, "cannot reach parent");
                }
                failures += 1;
                shared.update(parent.code, Role::Parent, |s| s.last_error = Some(error));
                failure
            }
        };
        let wait = schedule.after(failure, backoff::random());
        debug!(parent = %parent.code, ?failure, ?wait, "next dial");
        tokio::time::sleep(wait).await;
    }
}

/// How long a handshake with the parent may take before the attempt is given up. Without it, a
/// dial to a parent that is down waits out the whole idle timeout while its Initial packets
/// are resent further and further apart, and finds the parent seconds after it is back.
const DIAL_TIMEOUT: Duration = Duration::from_secs(1);

/// One attempt; a failure says whether the parent answered and refused (a TLS alert: another
/// CA, a certificate that does not name it) or did not answer at all.
async fn dial(
    endpoint: &quinn::Endpoint,
    parent: &ParentAddr,
) -> Result<quinn::Connection, (backoff::Failure, anyhow::Error)> {
    let unreachable = |e: anyhow::Error| (backoff::Failure::Unreachable, e);
    let addr = tokio::net::lookup_host(&parent.addr)
        .await
        .with_context(|| format!("resolving {}", parent.addr))
        .map_err(unreachable)?
        .next()
        .with_context(|| format!("{} resolves to no address", parent.addr))
        .map_err(unreachable)?;
    let name = crate::pki::server_name(parent.code);
    let connecting = endpoint
        .connect(addr, &name)
        .map_err(|e| unreachable(e.into()))?;
    match tokio::time::timeout(DIAL_TIMEOUT, connecting).await {
        Err(_) => Err(unreachable(anyhow::anyhow!(
            "no answer from {addr} within {DIAL_TIMEOUT:?}"
        ))),
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => {
            let failure = match &e {
                quinn::ConnectionError::TransportError(_)
                | quinn::ConnectionError::ConnectionClosed(_)
                | quinn::ConnectionError::ApplicationClosed(_) => backoff::Failure::Refused,
                _ => backoff::Failure::Unreachable,
            };
            Err((failure, e.into()))
        }
    }
}
