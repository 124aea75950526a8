//! Routing over the federation tree: which link an item leaves through, and which items go where.
//!
//! The federation is a tree of division codes; every link joins a node to its parent (dialled by
//! the child). A node therefore has at most one way *up* and a handful of ways *down*, and routing
//! reduces to one question per target: is it me, below me, or elsewhere?
//!
//! # Longest prefix, like IP
//!
//! A node's code *covers* its whole subtree by prefix: 莆田市 `350300` (prefix `3503`) covers
//! 仙游县 `350322` and every township `350322xxx` below it. So the node needs no routing table and
//! no copy of the directory: a target below me leaves through the child whose prefix covers it,
//! and anything else leaves through my parent, which covers strictly more. When several known
//! children cover a target (for instance a township temporarily linked straight to the city beside
//! its county), the **longest** covering prefix wins, as in IP: it is the most specific route and
//! the fewest hops.
//!
//! # Why derive the child from the digits
//!
//! The set of *connected* children changes all the time — a township's uplink drops, a new street
//! office registers with nothing more than its certificate — yet where a target sits in the tree
//! does not. If no connected child covers a target below me, [`child_toward`] reads the child
//! from the target's own digits (the county of `350322101` is `350322`, its city `350300`). The
//! item is queued in that child's durable outbox and leaves when the child dials in; it is never
//! dropped for being "unknown", and it is never sent up to a parent that would only send it back
//! down to me.
//!
//! Nothing here counts levels: the same rules work from a province above the city down to village
//! service points below the townships, because every step is "the next derived ancestor".
//!
//! # What goes where (DESIGN.md §4)
//!
//! [`destinations`] turns one item into the links it leaves through. See [`Flow`] for the rules
//! per kind of item, including the off-site backup of everything a node authors and the rule never
//! to send an item back over the link it came in on.

use crate::code::{Level, NodeCode};

/// The links a node has: itself, its parent (none at the root) and the children it knows.
///
/// `children` are the children known to this node — typically the ones connected now or with an
/// outbox. There is no configured list of townships at a county: a certificate naming a code
/// [directly below](direct_child_of) the county *is* the registration. Routing never depends on
/// the list being complete (see [`next_hop`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbours {
    pub me: NodeCode,
    pub parent: Option<NodeCode>,
    pub children: Vec<NodeCode>,
}

/// Where an item for one target goes from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hop {
    /// The target is this node.
    Local,
    /// Down the link to this child (whether or not it is connected now: its outbox holds it).
    Child(NodeCode),
    /// Up the link to the parent.
    Parent,
    /// The target is outside this node's subtree and this node is the root: no link leads there.
    /// Not a link: the caller logs it and keeps the item locally.
    Unroutable,
}

/// The codes above `code` that can be read from its digits, top-down, ending with `code` itself:
/// `350322101` → `[350000, 350300, 350322, 350322101]`.
///
/// Levels that a code skips collapse (a township of 东莞市, `441900003`, gives
/// `[440000, 441900, 441900003]`: its "county" digits are the city itself).
fn lineage(code: NodeCode) -> Vec<NodeCode> {
    let mut chain: Vec<NodeCode> = [
        Level::Province,
        Level::City,
        Level::County,
        Level::Township,
        Level::Village,
    ]
    .into_iter()
    .filter_map(|level| code.ancestor_at(level))
    .filter(|a| a.is_ancestor_of(code))
    .collect();
    chain.push(code);
    chain.dedup();
    chain
}

/// True when `code` is exactly one administrative step below `parent`: a city below its province
/// `xx0000`, a 6-digit county below its city `xxxx00`, a 9-digit township below its 6-digit
/// county, a 12-digit village below its 9-digit township.
///
/// This is the test a node applies to a child link: the peer's certificate must name a code
/// directly below the node. False for the node itself, for grandchildren and for siblings.
pub fn direct_child_of(parent: NodeCode, code: NodeCode) -> bool {
    let chain = lineage(code);
    chain.len() >= 2 && chain[chain.len() - 2] == parent
}

/// The child of `me` on the way to `target`: the ancestor-or-self of `target` one administrative
/// step below `me`, read from the digits. `None` when `target` is not strictly below `me`.
///
/// City `350300` → `350322101` gives county `350322`; county `350322` gives township `350322101`;
/// province `350000` gives city `350300`; township `350322101` → `350322101201` gives the village
/// itself.
pub fn child_toward(me: NodeCode, target: NodeCode) -> Option<NodeCode> {
    if !me.is_ancestor_of(target) {
        return None;
    }
    let chain = lineage(target);
    // `me` is an ancestor, so its prefix is one of the target's 2-, 4-, 6- or 9-digit prefixes
    // and `me` appears in the chain; the step below it is the next element.
    let at = chain.iter().position(|&c| c == me)?;
    chain.get(at + 1).copied()
}

/// The next hop from `n.me` towards `target`, by longest prefix.
///
/// - `Local` when `target` is me;
/// - below me: the known child with the longest prefix covering `target`; if no known child
///   covers it, the child [derived from the digits](child_toward) — it may simply not be
///   connected now, and its outbox keeps the item until it dials in;
/// - elsewhere: `Parent`, whose subtree is strictly larger, or `Unroutable` at the root.
///
/// Children listed in `n.children` that are not below `n.me` (a misconfiguration) are ignored.
pub fn next_hop(n: &Neighbours, target: NodeCode) -> Hop {
    if target == n.me {
        return Hop::Local;
    }
    if n.me.is_ancestor_of(target) {
        let known = n
            .children
            .iter()
            .copied()
            .filter(|&c| n.me.is_ancestor_of(c) && c.covers(target))
            .max_by_key(|c| c.prefix().len());
        return match known.or_else(|| child_toward(n.me, target)) {
            Some(child) => Hop::Child(child),
            // Unreachable: `target` itself is below me, so the chain always has a step.
            None => Hop::Child(target),
        };
    }
    match n.parent {
        Some(_) => Hop::Parent,
        None => Hop::Unroutable,
    }
}

/// The kind of item being replicated, which decides where it goes (DESIGN.md §4). Every path
/// that queues anything for a peer names its flow here and lets [`destinations`] decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow<'a> {
    /// A full case event, for `targets`: when it is authored here, every node involved in the
    /// case (accepting node, past and present owners, participants; a 督办 names the owner);
    /// when it is relayed, the targets it still carries (the item's `to`); when a restore or a
    /// newly involved node needs a case's history, that node. It travels hop by hop, each hop
    /// carrying the targets reached through it.
    ///
    /// When `authored_here`, it also goes to the parent: **the parent keeps a full copy of
    /// everything its child authors**. It relays most of it anyway; the copy is the child's
    /// off-site backup, from which a township whose disk is lost is rebuilt. Only the direct
    /// parent keeps the backup: further up, an event travels only towards its targets.
    CaseEvent {
        targets: &'a [NodeCode],
        authored_here: bool,
    },
    /// A status summary: up to the parent. Every ancestor keeps the latest and forwards it up
    /// again, so it reaches the root; it never goes down or sideways.
    Summary,
    /// A record broadcast down from an ancestor to its subtree: item catalog, working-day
    /// calendar, revocations. To every known child, never up. Children not connected now catch
    /// up from their outbox when they dial in.
    Broadcast,
    /// A node certificate (the federation directory): it floods the whole tree — to the parent
    /// and every known child — so whoever receives a node's events can verify them. FIFO
    /// outboxes keep a certificate ahead of the events it verifies.
    Certificate,
    /// What a child gets when it connects (the directory, the catalog and calendar in force):
    /// to that child only.
    Welcome(NodeCode),
}

/// One link an item leaves through. For a [`Flow::CaseEvent`], `targets` are the nodes reached
/// through this link — they ride in the item's `to`, so the next hop knows where to go on; for
/// every other flow it is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub hop: Hop,
    pub targets: Vec<NodeCode>,
}

impl Route {
    fn link(hop: Hop) -> Route {
        Route {
            hop,
            targets: Vec::new(),
        }
    }
}

/// **The** routing decision of a node: the links an item leaves `n.me` through, given its
/// `origin` (the node it comes from: its author, or for a record the node that passed it on),
/// its `flow` and the hop it arrived from (`None` when it was made here). Every path that
/// queues an item for a peer — authored, relayed and restored events, 督办, summaries,
/// broadcasts, certificates, a child's welcome — goes through here.
///
/// The rules, written once:
/// - **Case events** go to their targets hop by hop by [`next_hop`] (longest prefix; children
///   derived from the digits), one item per link carrying the targets behind it; an event
///   authored here also goes to the parent (the backup). A target outside the root's subtree
///   comes back as [`Hop::Unroutable`] with those targets, for the caller to report.
/// - **Summaries** go to the parent, and nowhere at the root.
/// - **Broadcasts** go to every known child, and only when `origin` covers this node (it is
///   this node or one of its ancestors): a record that came *up* from a child has no subtree to
///   go to here, and forwarding it to the child's siblings would let a node broadcast outside
///   its own subtree.
/// - **Certificates** go to the parent and every known child.
/// - **A welcome** goes to that child only, if it is below this node.
/// - **Never back over the link it arrived from.** On a tree, the neighbour that sent the item
///   stands for its whole side: it already had the item and routed it to every target on that
///   side itself. Sending it back would only echo a duplicate (and, between two nodes each
///   routing by the same rule, ping-pong). This also makes a misrouted item die out instead of
///   bouncing.
///
/// The result is stable (in the order the targets first need each link), without duplicate
/// links or targets, and never contains `Local`.
pub fn destinations(
    n: &Neighbours,
    origin: NodeCode,
    flow: &Flow<'_>,
    arrived_from: Option<Hop>,
) -> Vec<Route> {
    let mut routes: Vec<Route> = match *flow {
        Flow::CaseEvent {
            targets,
            authored_here,
        } => {
            let backup = n.parent.filter(|_| authored_here);
            let mut routes: Vec<Route> = Vec::new();
            for target in targets.iter().copied().chain(backup) {
                let hop = next_hop(n, target);
                if hop == Hop::Local {
                    continue;
                }
                match routes.iter_mut().find(|r| r.hop == hop) {
                    Some(route) if route.targets.contains(&target) => {}
                    Some(route) => route.targets.push(target),
                    None => routes.push(Route {
                        hop,
                        targets: vec![target],
                    }),
                }
            }
            routes
        }
        Flow::Summary => n
            .parent
            .map(|_| Route::link(Hop::Parent))
            .into_iter()
            .collect(),
        Flow::Broadcast if !origin.covers(n.me) => Vec::new(),
        Flow::Broadcast => known_children(n).map(Route::link).collect(),
        Flow::Certificate => n
            .parent
            .map(|_| Hop::Parent)
            .into_iter()
            .chain(known_children(n))
            .map(Route::link)
            .collect(),
        Flow::Welcome(child) if n.me.is_ancestor_of(child) => vec![Route::link(Hop::Child(child))],
        Flow::Welcome(_) => Vec::new(),
    };
    if let Some(from) = arrived_from {
        routes.retain(|r| r.hop != from);
    }
    routes
}

/// The known children below `n.me`, once each, as hops.
fn known_children(n: &Neighbours) -> impl Iterator<Item = Hop> + '_ {
    n.children
        .iter()
        .enumerate()
        .filter(|&(i, &c)| n.me.is_ancestor_of(c) && !n.children[..i].contains(&c))
        .map(|(_, &c)| Hop::Child(c))
}

#[cfg(test)]
mod tests;
