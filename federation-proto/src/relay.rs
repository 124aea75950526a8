//! What goes where (DESIGN.md §4), as the write task sees it: queueing items in peers' durable
//! outboxes, and the federation directory that signatures are verified against.
//!
//! - A case event goes to every node involved in the case, hop by hop (the author addresses it;
//!   relays forward toward the targets not yet reached), and an event authored here also to the
//!   parent, whose copy is this node's off-site backup. A node that receives an event for the
//!   first time passes it on to the nodes involved in the case as it knows it, which the author
//!   may not have known of (`Writer::relay_to_involved` in writer/peers.rs).
//! - A status summary goes up to the parent, which keeps it and passes it on up.
//! - Certificates (the directory) flood the tree: every node passes a new one to its parent and
//!   its children, except back where it came from, so whoever receives a node's events can
//!   verify them. FIFO outboxes keep a certificate ahead of the events it verifies.
//!
//! The rules live in one place, `crate::route::destinations`; every method of
//! [`Router`] names its flow and queues what that function decides.
//!
//! Invariant: link sequences per peer are gapless from 1. A [`Router`] hands out sequences into
//! a pending list; they become its counters only once the commit holding them succeeds
//! ([`Router::committed`]), so a failed commit burns no sequence.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use tracing::warn;

use crate::frame::{Item, Record};
use crate::route::{destinations, direct_child_of, Flow, Hop, Neighbours, Route};
use crate::store::{LinkCounters, Queued};
use crate::verify::KeyRing;
use crate::{codec, Event, NodeCode};

/// One revoked node, as `revoked.toml` lists it and as a revocation travels down the tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revoked {
    pub code: NodeCode,
    /// Serials of the certificates issued for the code, as in `issued.toml`.
    #[serde(default)]
    pub serials: Vec<String>,
    /// When it was revoked (RFC 3339).
    pub revoked_at: String,
}

/// What the directory needs of X.509, which the core does not parse: the node's PKI
/// (`node/src/pki.rs`) implements it over the federation CA.
///
/// Why no `now` here, when everything else in the core is given its time: a certificate's
/// validity is real time, judged by the system clock as the links' TLS handshake judges it —
/// a node run with a drill clock (`liandong run --clock 2025-09-30`) or the simulation's
/// manual clock still takes the certificates that are valid today. The writer's clock moves
/// deadlines, not trust.
pub trait Certificates: Send + Sync {
    /// Checks that `der` is a node certificate issued by the federation CA and that both are
    /// valid; returns the node code it names and the key it certifies.
    fn check(&self, der: &[u8]) -> Result<(NodeCode, VerifyingKey), CertificateRefused>;
    /// The key a stored certificate certifies, read without checking it again (it was checked
    /// when it was learnt).
    fn key_of(&self, der: &[u8]) -> Result<VerifyingKey, String>;
}

/// Why [`Certificates::check`] refused a certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateRefused {
    #[error("no federation CA is configured")]
    NoCa,
    #[error("{0}")]
    Invalid(String),
}

/// Why a certificate is not taken into the directory.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("no federation CA is configured")]
    NoCa,
    #[error("certificate for {claimed}: {reason}")]
    Pki { claimed: NodeCode, reason: String },
    #[error("certificate offered for {claimed} names {named}")]
    WrongCode { claimed: NodeCode, named: NodeCode },
    #[error("{0} is revoked")]
    Revoked(NodeCode),
}

/// Node certificates known here, as verifying keys.
pub struct Directory {
    certificates: Arc<dyn Certificates>,
    // Ordered: the welcome a child gets lists the directory in this order, and the simulation
    // must repeat a run exactly from its seed.
    keys: BTreeMap<NodeCode, (VerifyingKey, Vec<u8>)>,
    /// The same keys, for the link sessions' checks ahead of the writer.
    ring: KeyRing,
    /// Revoked nodes: their certificates verify nothing any more.
    revoked: HashSet<NodeCode>,
}

impl Directory {
    pub fn new(certificates: Arc<dyn Certificates>) -> Directory {
        Directory {
            certificates,
            keys: BTreeMap::new(),
            ring: KeyRing::default(),
            revoked: HashSet::new(),
        }
    }

    /// The keys as the link sessions see them; kept in step with this directory.
    pub fn ring(&self) -> KeyRing {
        self.ring.clone()
    }

    fn insert(&mut self, code: NodeCode, key: VerifyingKey, der: Vec<u8>) {
        self.ring.set(code, key);
        self.keys.insert(code, (key, der));
    }

    /// Checks a certificate against the CA and takes it in. `Ok(true)` when it is new or
    /// changed (and so worth passing on).
    pub fn learn(&mut self, code: NodeCode, der: &[u8]) -> Result<bool, DirectoryError> {
        if self.revoked.contains(&code) {
            return Err(DirectoryError::Revoked(code));
        }
        if self.keys.get(&code).is_some_and(|(_, known)| known == der) {
            return Ok(false);
        }
        let (named, key) = self
            .certificates
            .check(der)
            .map_err(|refused| match refused {
                CertificateRefused::NoCa => DirectoryError::NoCa,
                CertificateRefused::Invalid(reason) => DirectoryError::Pki {
                    claimed: code,
                    reason,
                },
            })?;
        if named != code {
            return Err(DirectoryError::WrongCode {
                claimed: code,
                named,
            });
        }
        self.insert(code, key, der.to_vec());
        Ok(true)
    }

    /// Loads stored entries without re-checking them (they were checked when learnt).
    pub fn restore(&mut self, code: NodeCode, der: Vec<u8>) {
        match self.certificates.key_of(&der) {
            Ok(key) => self.insert(code, key, der),
            Err(e) => warn!(%code, error = %e, "stored certificate unusable"),
        }
    }

    pub fn key(&self, code: NodeCode) -> Option<&VerifyingKey> {
        self.keys.get(&code).map(|(k, _)| k)
    }

    /// Marks `code` revoked; `true` when that is news.
    pub fn revoke(&mut self, code: NodeCode) -> bool {
        self.keys.remove(&code);
        self.ring.remove(code);
        self.revoked.insert(code)
    }

    pub fn is_revoked(&self, code: NodeCode) -> bool {
        self.revoked.contains(&code)
    }

    pub fn certificates(&self) -> impl Iterator<Item = (NodeCode, &[u8])> {
        self.keys.iter().map(|(c, (_, der))| (*c, der.as_slice()))
    }
}

/// The write task's view of the links: who the neighbours are and the outbox counters.
pub struct Router {
    pub me: NodeCode,
    pub parent: Option<NodeCode>,
    counters: BTreeMap<NodeCode, LinkCounters>,
    pub directory: Directory,
}

impl Router {
    pub fn new(
        me: NodeCode,
        parent: Option<NodeCode>,
        counters: BTreeMap<NodeCode, LinkCounters>,
        directory: Directory,
    ) -> Router {
        Router {
            me,
            parent,
            counters,
            directory,
        }
    }

    pub fn received(&self, peer: NodeCode) -> u64 {
        self.counters.get(&peer).map_or(0, |c| c.received)
    }

    /// The last link sequence queued for each peer.
    pub fn queued_all(&self) -> impl Iterator<Item = (NodeCode, u64)> + '_ {
        self.counters.iter().map(|(peer, c)| (*peer, c.queued))
    }

    pub fn queued(&self, peer: NodeCode) -> u64 {
        self.counters.get(&peer).map_or(0, |c| c.queued)
    }

    /// Makes the sequences in `queue` and the receipt from `received` the counters.
    pub fn committed(&mut self, queue: &[Queued], received: Option<(NodeCode, u64)>) {
        for q in queue {
            self.counters.entry(q.peer).or_default().queued = q.seq;
        }
        if let Some((peer, upto)) = received {
            self.counters.entry(peer).or_default().received = upto;
        }
    }

    /// Adopts a renumbered outbox.
    pub fn rebased(&mut self, peer: NodeCode, last: u64) {
        self.counters.entry(peer).or_default().queued = last;
    }

    /// Children known from the directory: the subtree a broadcast goes down to.
    pub fn children(&self) -> Vec<NodeCode> {
        let mut children: Vec<NodeCode> = self
            .directory
            .certificates()
            .map(|(c, _)| c)
            .filter(|c| direct_child_of(self.me, *c))
            .collect();
        children.sort();
        children
    }

    /// The neighbours as routing sees them. Children are derived from the digits for items
    /// addressed to nodes, so a child that is not connected (or not yet known) still gets its
    /// own outbox and receives everything once it dials in; the flows that go to *every* child
    /// take the children known from the directory.
    fn neighbours(&self, flow: &Flow<'_>) -> Neighbours {
        let children = match flow {
            Flow::Broadcast | Flow::Certificate => self.children(),
            Flow::CaseEvent { .. } | Flow::Summary | Flow::Welcome(_) => Vec::new(),
        };
        Neighbours {
            me: self.me,
            parent: self.parent,
            children,
        }
    }

    /// Queues one item on every link [`destinations`] names for it — the single routing
    /// decision of this node — never back to `arrived_from`. `item_for` makes the item a link
    /// carries (a case event names the targets reached through that link).
    fn route(
        &self,
        origin: NodeCode,
        flow: Flow<'_>,
        arrived_from: Option<NodeCode>,
        queue: &mut Vec<Queued>,
        item_for: impl Fn(&Route) -> Result<Item, codec::CodecError>,
    ) -> Result<(), codec::CodecError> {
        let n = self.neighbours(&flow);
        let from = arrived_from.map(|peer| match self.parent {
            Some(parent) if parent == peer => Hop::Parent,
            _ => Hop::Child(peer),
        });
        for route in destinations(&n, origin, &flow, from) {
            let peer = match route.hop {
                Hop::Child(child) => child,
                Hop::Parent => match self.parent {
                    Some(parent) => parent,
                    None => continue,
                },
                Hop::Local => continue,
                Hop::Unroutable => {
                    for target in &route.targets {
                        warn!(node = %self.me, %target, "no route to target");
                    }
                    continue;
                }
            };
            self.enqueue(peer, &item_for(&route)?, queue)?;
        }
        Ok(())
    }

    /// Queues an event authored here for the nodes `involved` in its case, and for the parent
    /// (its backup copy).
    pub fn route_authored(
        &self,
        event_bytes: &[u8],
        involved: &[NodeCode],
        queue: &mut Vec<Queued>,
    ) -> Result<(), codec::CodecError> {
        let flow = Flow::CaseEvent {
            targets: involved,
            authored_here: true,
        };
        self.route(self.me, flow, None, queue, |r| {
            Ok(event_item(event_bytes, r))
        })
    }

    /// Queues the encoded `event` (authored elsewhere, or history a node needs) toward
    /// `targets`, one item per next hop carrying the targets reached through it; never back to
    /// `arrived_from`.
    pub fn route_event(
        &self,
        event_bytes: &[u8],
        targets: &[NodeCode],
        arrived_from: Option<NodeCode>,
        queue: &mut Vec<Queued>,
    ) -> Result<(), codec::CodecError> {
        let flow = Flow::CaseEvent {
            targets,
            authored_here: false,
        };
        self.route(self.me, flow, arrived_from, queue, |r| {
            Ok(event_item(event_bytes, r))
        })
    }

    /// Queues a summary `item` for the parent, if there is one.
    pub fn route_up(&self, item: &Item, queue: &mut Vec<Queued>) -> Result<(), codec::CodecError> {
        self.route(self.me, Flow::Summary, None, queue, |_| Ok(item.clone()))
    }

    /// Queues `record`, broadcast here or passed on from the parent `from`, for every known
    /// child: down the subtree.
    pub fn broadcast_down(
        &self,
        record: &Record,
        from: Option<NodeCode>,
        queue: &mut Vec<Queued>,
    ) -> Result<(), codec::CodecError> {
        let item = Item::record(record)?;
        let origin = from.unwrap_or(self.me);
        self.route(origin, Flow::Broadcast, from, queue, |_| Ok(item.clone()))
    }

    /// Queues a certificate for the parent and every known child but `from`.
    pub fn flood(
        &self,
        record: &Record,
        from: Option<NodeCode>,
        queue: &mut Vec<Queued>,
    ) -> Result<(), codec::CodecError> {
        let item = Item::record(record)?;
        let origin = from.unwrap_or(self.me);
        self.route(origin, Flow::Certificate, from, queue, |_| Ok(item.clone()))
    }

    /// Queues `item` for `child`, which has just connected.
    pub fn welcome(
        &self,
        child: NodeCode,
        item: &Item,
        queue: &mut Vec<Queued>,
    ) -> Result<(), codec::CodecError> {
        self.route(self.me, Flow::Welcome(child), None, queue, |_| {
            Ok(item.clone())
        })
    }

    /// Queues `item` for `peer` under its next link sequence.
    fn enqueue(
        &self,
        peer: NodeCode,
        item: &Item,
        queue: &mut Vec<Queued>,
    ) -> Result<(), codec::CodecError> {
        let pending = queue.iter().rev().find(|q| q.peer == peer).map(|q| q.seq);
        let seq = pending.unwrap_or_else(|| self.queued(peer)) + 1;
        queue.push(Queued {
            peer,
            seq,
            item: codec::encode(item)?,
        });
        Ok(())
    }
}

/// A case event for one link: the targets reached through it ride in its `to`.
fn event_item(event_bytes: &[u8], route: &Route) -> Item {
    Item {
        kind: crate::frame::PayloadKind::Event,
        to: route.targets.clone(),
        bytes: event_bytes.to_vec(),
    }
}

/// The encoded event, as stored and as sent.
pub fn event_bytes(event: &Event) -> Result<Vec<u8>, codec::CodecError> {
    codec::encode(event)
}
