//! What goes where (DESIGN.md §4), as the write task sees it: queueing items in peers' durable
//! outboxes, and the federation directory that signatures are verified against.
//!
//! - A case event goes to every node involved in the case, hop by hop (the author addresses it;
//!   relays forward toward the targets not yet reached), and an event authored here also to the
//!   parent, whose copy is this node's off-site backup. A node that receives an event for the
//!   first time passes it on to the nodes involved in the case as it knows it, which the author
//!   may not have known of (`Writer::relay_to_involved` in engine/peers.rs).
//! - A status summary goes up to the parent, which keeps it and passes it on up.
//! - Certificates (the directory) flood the tree: every node passes a new one to its parent and
//!   its children, except back where it came from, so whoever receives a node's events can
//!   verify them. FIFO outboxes keep a certificate ahead of the events it verifies.
//!
//! Invariant: link sequences per peer are gapless from 1. A [`Router`] hands out sequences into
//! a pending list; they become its counters only once the commit holding them succeeds
//! ([`Router::committed`]), so a failed commit burns no sequence.

use std::collections::{BTreeMap, HashMap, HashSet};

use ed25519_dalek::VerifyingKey;
use federation_proto::frame::{Item, Record};
use federation_proto::route::{direct_child_of, next_hop, Hop, Neighbours};
use federation_proto::{codec, Event, NodeCode};
use tracing::warn;

use crate::pki;
use crate::store::{LinkCounters, Queued};
use crate::verify::KeyRing;

/// Why a certificate is not taken into the directory.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("no federation CA is configured")]
    NoCa,
    #[error("certificate for {claimed}: {source}")]
    Pki {
        claimed: NodeCode,
        source: pki::PkiError,
    },
    #[error("certificate offered for {claimed} names {named}")]
    WrongCode { claimed: NodeCode, named: NodeCode },
    #[error("{0} is revoked")]
    Revoked(NodeCode),
}

/// Node certificates known here, as verifying keys.
#[derive(Default)]
pub struct Directory {
    ca_der: Option<Vec<u8>>,
    keys: HashMap<NodeCode, (VerifyingKey, Vec<u8>)>,
    /// The same keys, for the link sessions' checks ahead of the writer.
    ring: KeyRing,
    /// Revoked nodes: their certificates verify nothing any more.
    revoked: HashSet<NodeCode>,
}

impl Directory {
    pub fn new(ca_der: Option<Vec<u8>>) -> Directory {
        Directory {
            ca_der,
            keys: HashMap::new(),
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
        let ca = self.ca_der.as_deref().ok_or(DirectoryError::NoCa)?;
        let pki = |source| DirectoryError::Pki {
            claimed: code,
            source,
        };
        pki::verify_issued_by(der, ca).map_err(pki)?;
        let named = pki::node_code_of(der).map_err(pki)?;
        if named != code {
            return Err(DirectoryError::WrongCode {
                claimed: code,
                named,
            });
        }
        let key = pki::verifying_key_of(der).map_err(pki)?;
        self.insert(code, key, der.to_vec());
        Ok(true)
    }

    /// Loads stored entries without re-checking them (they were checked when learnt).
    pub fn restore(&mut self, code: NodeCode, der: Vec<u8>) {
        match pki::verifying_key_of(&der) {
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

    fn neighbours(&self) -> Neighbours {
        // Children are derived from the digits, so a child that is not connected (or not yet
        // known) still gets its own outbox and receives everything once it dials in.
        Neighbours {
            me: self.me,
            parent: self.parent,
            children: Vec::new(),
        }
    }

    fn peer(&self, hop: Hop) -> Option<NodeCode> {
        match hop {
            Hop::Child(c) => Some(c),
            Hop::Parent => self.parent,
            Hop::Local | Hop::Unroutable => None,
        }
    }

    /// Queues the encoded `event` toward `targets`, one item per next hop carrying the targets
    /// reached through it; never back to `arrived_from`.
    pub fn route_event(
        &self,
        event_bytes: &[u8],
        targets: &[NodeCode],
        arrived_from: Option<NodeCode>,
        queue: &mut Vec<Queued>,
    ) -> Result<(), codec::CodecError> {
        let neighbours = self.neighbours();
        let mut by_peer: BTreeMap<NodeCode, Vec<NodeCode>> = BTreeMap::new();
        for &target in targets {
            if target == self.me {
                continue;
            }
            match self.peer(next_hop(&neighbours, target)) {
                Some(peer) if Some(peer) != arrived_from => {
                    by_peer.entry(peer).or_default().push(target)
                }
                Some(_) => {}
                None => warn!(node = %self.me, %target, "no route to target"),
            }
        }
        for (peer, to) in by_peer {
            let item = Item {
                kind: federation_proto::frame::PayloadKind::Event,
                to,
                bytes: event_bytes.to_vec(),
            };
            self.enqueue(peer, &item, queue)?;
        }
        Ok(())
    }

    /// Queues `item` for the parent, if there is one.
    pub fn route_up(&self, item: &Item, queue: &mut Vec<Queued>) -> Result<(), codec::CodecError> {
        match self.parent {
            Some(parent) => self.enqueue(parent, item, queue),
            None => Ok(()),
        }
    }

    /// Queues `record` for every known child but `except`: down the subtree.
    pub fn broadcast_down(
        &self,
        record: &Record,
        except: Option<NodeCode>,
        queue: &mut Vec<Queued>,
    ) -> Result<(), codec::CodecError> {
        self.send_record(self.children(), record, except, queue)
    }

    /// Queues a certificate for the parent and every known child but `except`.
    pub fn flood(
        &self,
        record: &Record,
        except: Option<NodeCode>,
        queue: &mut Vec<Queued>,
    ) -> Result<(), codec::CodecError> {
        let peers = self.parent.into_iter().chain(self.children()).collect();
        self.send_record(peers, record, except, queue)
    }

    fn send_record(
        &self,
        peers: Vec<NodeCode>,
        record: &Record,
        except: Option<NodeCode>,
        queue: &mut Vec<Queued>,
    ) -> Result<(), codec::CodecError> {
        let item = Item::record(record)?;
        for peer in peers.into_iter().filter(|p| Some(*p) != except) {
            self.enqueue(peer, &item, queue)?;
        }
        Ok(())
    }

    /// Queues `item` for `peer` under its next link sequence.
    pub fn enqueue(
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

/// The targets of an event authored here: everyone involved, and the parent (backup).
pub fn authored_targets(involved: &[NodeCode], parent: Option<NodeCode>) -> Vec<NodeCode> {
    let mut targets = involved.to_vec();
    if let Some(p) = parent.filter(|p| !targets.contains(p)) {
        targets.push(p);
    }
    targets
}

/// The encoded event, as stored and as sent.
pub fn event_bytes(event: &Event) -> Result<Vec<u8>, codec::CodecError> {
    codec::encode(event)
}
