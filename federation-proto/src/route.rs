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

/// The distinct next hops for delivering one item to every target: in the order targets first
/// need them, without duplicates, and without `Local` (delivering here is not a link).
///
/// Each target's own link delivers it and the nodes along the way route it further, so one copy
/// per link suffices however many targets lie behind it. `Unroutable` appears (once) when some
/// target cannot be reached from here, so the caller can report it.
pub fn fan_out(n: &Neighbours, targets: impl IntoIterator<Item = NodeCode>) -> Vec<Hop> {
    let mut hops = Vec::new();
    for target in targets {
        let hop = next_hop(n, target);
        if hop != Hop::Local && !hops.contains(&hop) {
            hops.push(hop);
        }
    }
    hops
}

/// The kind of item being replicated, which decides where it goes (DESIGN.md §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flow {
    /// A full case event. Goes to every node `involved` in the case (accepting node, past and
    /// present owners, participants), hop by hop — and, when this node authored it, also to the
    /// parent: **the parent keeps a full copy of everything its child authors**. It relays most
    /// of it anyway; the copy is the child's off-site backup, from which a township whose disk is
    /// lost is rebuilt. Only the direct parent keeps the backup: further up, an event travels only
    /// towards involved nodes.
    ///
    /// `authored_here` says the event was written to this node's own log. It is the same fact as
    /// `origin == me`; either one triggers the backup, because a duplicate is harmless (events are
    /// de-duplicated by `(origin, seq)`) while a missing backup is not.
    CaseEvent {
        involved: Vec<NodeCode>,
        authored_here: bool,
    },
    /// A status summary: up to the parent. Every ancestor keeps the latest and forwards it up
    /// again, so it reaches the root; it never goes down or sideways.
    Summary,
    /// A record broadcast down from an ancestor to its subtree: item catalog, working-day
    /// calendar, node certificates, revocations, 督办 notices. To every known child, never up.
    /// Children not connected now catch up from their outbox when they dial in.
    Broadcast,
}

/// The links an item leaves through from `n.me`, given its `origin` (author node), its `flow`
/// and the hop it arrived from (`None` when it was made here).
///
/// **Never back over the link it arrived from.** On a tree, the neighbour that sent the item
/// stands for its whole side: it already had the item and routed it to every target on that side
/// itself. Sending it back would only echo a duplicate (and, between two nodes each routing by
/// the same rule, ping-pong). This also makes a misrouted item die out instead of bouncing.
///
/// A `Broadcast` is passed on only when `origin` is this node or one of its ancestors: a record
/// that came *up* from a child has no subtree to go to here, and forwarding it to the child's
/// siblings would let a node broadcast outside its own subtree.
///
/// The result is stable, without duplicates, and never contains `Local`; it may contain
/// `Unroutable` for a case event naming a node outside the root's subtree.
pub fn destinations(
    n: &Neighbours,
    origin: NodeCode,
    flow: &Flow,
    arrived_from: Option<Hop>,
) -> Vec<Hop> {
    let mut hops = match flow {
        Flow::CaseEvent {
            involved,
            authored_here,
        } => {
            let mut hops = fan_out(n, involved.iter().copied());
            if (*authored_here || origin == n.me)
                && n.parent.is_some()
                && !hops.contains(&Hop::Parent)
            {
                hops.push(Hop::Parent);
            }
            hops
        }
        Flow::Summary => match n.parent {
            Some(_) => vec![Hop::Parent],
            None => Vec::new(),
        },
        Flow::Broadcast => {
            if !origin.covers(n.me) {
                return Vec::new();
            }
            let mut hops = Vec::new();
            for &child in &n.children {
                let hop = Hop::Child(child);
                if n.me.is_ancestor_of(child) && !hops.contains(&hop) {
                    hops.push(hop);
                }
            }
            hops
        }
    };
    if let Some(from) = arrived_from {
        hops.retain(|&hop| hop != from);
    }
    hops
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use proptest::sample::{select, subsequence};

    use super::*;
    use crate::arbitrary::any_node_code;

    /// Twenty real rows of `divisions_putian.csv` (code, name, parent_code): 莆田市, all five
    /// county-level districts, and townships of every district. The tree below is built from the
    /// file's `parent_code` column, not from the digits, so the routing (which reads digits) is
    /// checked against the real hierarchy.
    const PUTIAN: [(&str, &str, &str); 20] = [
        ("350300", "莆田市", "350000"),
        ("350302", "城厢区", "350300"),
        ("350302001", "龙桥街道", "350302"),
        ("350302100", "常太镇", "350302"),
        ("350302101", "华亭镇", "350302"),
        ("350303", "涵江区", "350300"),
        ("350303001", "涵东街道", "350303"),
        ("350303100", "三江口镇", "350303"),
        ("350303104", "江口镇", "350303"),
        ("350304", "荔城区", "350300"),
        ("350304001", "镇海街道", "350304"),
        ("350304100", "西天尾镇", "350304"),
        ("350305", "秀屿区", "350300"),
        ("350305100", "笏石镇", "350305"),
        ("350305107", "南日镇", "350305"),
        ("350305108", "湄洲镇", "350305"),
        ("350322", "仙游县", "350300"),
        ("350322001", "鲤城街道", "350322"),
        ("350322101", "榜头镇", "350322"),
        ("350322200", "西苑乡", "350322"),
    ];

    fn c(s: &str) -> NodeCode {
        s.parse().unwrap()
    }

    /// The Putian tree: node → parent inside the set (the city is the root).
    struct Tree {
        parent: BTreeMap<NodeCode, Option<NodeCode>>,
    }

    impl Tree {
        fn putian() -> Tree {
            let codes: Vec<NodeCode> = PUTIAN.iter().map(|r| c(r.0)).collect();
            let parent = PUTIAN
                .iter()
                .map(|&(code, _, parent)| {
                    let parent = c(parent);
                    (c(code), codes.contains(&parent).then_some(parent))
                })
                .collect();
            Tree { parent }
        }

        fn codes(&self) -> Vec<NodeCode> {
            self.parent.keys().copied().collect()
        }

        fn children(&self, of: NodeCode) -> Vec<NodeCode> {
            self.parent
                .iter()
                .filter(|(_, p)| **p == Some(of))
                .map(|(k, _)| *k)
                .collect()
        }

        fn neighbours(&self, me: NodeCode) -> Neighbours {
            Neighbours {
                me,
                parent: self.parent[&me],
                children: self.children(me),
            }
        }

        /// `code` and its ancestors, bottom-up.
        fn up(&self, code: NodeCode) -> Vec<NodeCode> {
            let mut chain = vec![code];
            while let Some(p) = self.parent[chain.last().unwrap()] {
                chain.push(p);
            }
            chain
        }

        fn depth(&self, code: NodeCode) -> usize {
            self.up(code).len() - 1
        }

        /// The nodes on the tree path from `a` to `b`, both included: up to the lowest common
        /// ancestor, then down.
        fn path(&self, a: NodeCode, b: NodeCode) -> Vec<NodeCode> {
            let up_a = self.up(a);
            let up_b = self.up(b);
            let lca = *up_a.iter().find(|x| up_b.contains(x)).unwrap();
            let mut path: Vec<NodeCode> = up_a.into_iter().take_while(|&x| x != lca).collect();
            path.push(lca);
            let mut down: Vec<NodeCode> = up_b.into_iter().take_while(|&x| x != lca).collect();
            down.reverse();
            path.extend(down);
            path
        }
    }

    /// Follows `next_hop` from `from` to `to`, with each node's neighbours from `nb`; returns the
    /// nodes visited (both ends included), or `None` on `Unroutable` or after too many steps.
    fn walk(
        tree: &Tree,
        nb: impl Fn(NodeCode) -> Neighbours,
        from: NodeCode,
        to: NodeCode,
    ) -> Option<Vec<NodeCode>> {
        let mut at = from;
        let mut visited = vec![at];
        for _ in 0..=tree.parent.len() {
            match next_hop(&nb(at), to) {
                Hop::Local => return Some(visited),
                Hop::Child(child) => at = child,
                Hop::Parent => at = tree.parent[&at]?,
                Hop::Unroutable => return None,
            }
            visited.push(at);
        }
        None
    }

    fn codes() -> Vec<NodeCode> {
        Tree::putian().codes()
    }

    #[test]
    fn fixture_rows_are_consistent() {
        let tree = Tree::putian();
        assert_eq!(tree.codes().len(), 20);
        assert_eq!(tree.children(c("350300")).len(), 5);
        for (&code, &parent) in &tree.parent {
            match parent {
                Some(p) => assert!(direct_child_of(p, code), "{p} → {code}"),
                None => assert_eq!(code, c("350300")),
            }
        }
    }

    proptest! {
        /// From any node to any other, hop by hop, the item visits exactly the tree path — up to
        /// the common ancestor, then down — so no sibling township or other county relays it.
        #[test]
        fn walk_follows_the_tree_path(a in select(codes()), b in select(codes())) {
            let tree = Tree::putian();
            let visited = walk(&tree, |x| tree.neighbours(x), a, b).expect("reaches the target");
            prop_assert!(visited.len() - 1 <= tree.depth(a) + tree.depth(b));
            prop_assert_eq!(visited, tree.path(a, b));
        }

        /// The same walk when only some children are connected: the missing ones are derived
        /// from the digits, so the route does not change.
        #[test]
        fn walk_is_the_same_with_children_missing(
            a in select(codes()),
            b in select(codes()),
            connected in subsequence(codes(), 0..=20),
        ) {
            let tree = Tree::putian();
            let nb = |x: NodeCode| {
                let mut n = tree.neighbours(x);
                n.children.retain(|c| connected.contains(c));
                n
            };
            let visited = walk(&tree, nb, a, b).expect("reaches the target");
            prop_assert_eq!(visited, tree.path(a, b));
        }

        /// Only the root can find a target unroutable, and only outside its subtree.
        #[test]
        fn next_hop_shape(me in select(codes()), target in any_node_code()) {
            let tree = Tree::putian();
            let n = tree.neighbours(me);
            match next_hop(&n, target) {
                Hop::Local => prop_assert_eq!(target, me),
                Hop::Child(child) => {
                    prop_assert!(direct_child_of(me, child), "{} → {}", me, child);
                    prop_assert!(child.covers(target));
                }
                Hop::Parent => {
                    prop_assert!(!me.covers(target));
                    prop_assert!(n.parent.is_some());
                }
                Hop::Unroutable => {
                    prop_assert!(!me.covers(target));
                    prop_assert!(n.parent.is_none());
                }
            }
        }

        /// Over arbitrary codes: the derived child is one step below me, on the way to the target.
        #[test]
        fn child_toward_is_one_step_down(me in any_node_code(), target in any_node_code()) {
            match child_toward(me, target) {
                Some(child) => {
                    prop_assert!(me.is_ancestor_of(target));
                    prop_assert!(direct_child_of(me, child));
                    prop_assert!(child.covers(target));
                }
                None => prop_assert!(!me.is_ancestor_of(target)),
            }
            prop_assert!(!direct_child_of(me, me));
        }

        /// The same with `me` drawn from the target's own ancestors, so the pair is related: the
        /// derived child is the next step, and it is the target itself exactly when `me` is its
        /// direct parent.
        #[test]
        fn child_toward_from_each_ancestor(target in any_node_code(), pick in 0usize..5) {
            let chain = lineage(target);
            let me = chain[pick % chain.len()];
            let child = child_toward(me, target);
            if me == target {
                prop_assert_eq!(child, None);
            } else {
                let child = child.unwrap();
                prop_assert!(direct_child_of(me, child));
                prop_assert!(child.covers(target));
                prop_assert_eq!(child == target, direct_child_of(me, target));
                let n = Neighbours { me, parent: None, children: vec![] };
                prop_assert_eq!(next_hop(&n, target), Hop::Child(child));
            }
        }

        #[test]
        fn fan_out_has_no_local_and_no_duplicates(
            me in select(codes()),
            targets in proptest::collection::vec(select(codes()), 0..8),
        ) {
            let tree = Tree::putian();
            let n = tree.neighbours(me);
            let hops = fan_out(&n, targets.iter().copied());
            prop_assert!(!hops.contains(&Hop::Local));
            for (i, h) in hops.iter().enumerate() {
                prop_assert!(!hops[i + 1..].contains(h));
            }
            // Every target that is not me is served by one of the hops.
            for &t in &targets {
                let hop = next_hop(&n, t);
                prop_assert!(hop == Hop::Local || hops.contains(&hop));
            }
        }

        /// Never back over the link an item arrived from, whatever the flow.
        #[test]
        fn never_back_to_where_it_came_from(
            me in select(codes()),
            origin in select(codes()),
            involved in proptest::collection::vec(select(codes()), 0..5),
            kind in 0u8..3,
            from_child in any::<bool>(),
        ) {
            let tree = Tree::putian();
            let n = tree.neighbours(me);
            let from = if from_child {
                n.children.first().map(|&c| Hop::Child(c))
            } else {
                n.parent.map(|_| Hop::Parent)
            };
            let flow = match kind {
                0 => Flow::CaseEvent { authored_here: origin == me, involved },
                1 => Flow::Summary,
                _ => Flow::Broadcast,
            };
            let hops = destinations(&n, origin, &flow, from);
            prop_assert!(!hops.contains(&Hop::Local));
            if let Some(from) = from {
                prop_assert!(!hops.contains(&from));
            }
        }
    }

    #[test]
    fn longest_prefix_and_derived_children() {
        // 莆田市 with a township linked straight to it beside its county: the township wins.
        let n = Neighbours {
            me: c("350300"),
            parent: None,
            children: vec![c("350322"), c("350322101")],
        };
        assert_eq!(next_hop(&n, c("350322101")), Hop::Child(c("350322101")));
        assert_eq!(next_hop(&n, c("350322001")), Hop::Child(c("350322")));
        // No child connected: derived from the digits.
        let n = Neighbours {
            me: c("350300"),
            parent: None,
            children: vec![],
        };
        assert_eq!(next_hop(&n, c("350305107")), Hop::Child(c("350305")));
        assert_eq!(next_hop(&n, c("350305")), Hop::Child(c("350305")));
        assert_eq!(next_hop(&n, c("350300")), Hop::Local);
        // A county routes to a township it has never seen.
        let n = Neighbours {
            me: c("350322"),
            parent: Some(c("350300")),
            children: vec![],
        };
        assert_eq!(next_hop(&n, c("350322204")), Hop::Child(c("350322204")));
        assert_eq!(next_hop(&n, c("350322204001")), Hop::Child(c("350322204")));
        assert_eq!(next_hop(&n, c("350305107")), Hop::Parent);
        // A province above the city and a village point below a township work the same way.
        let n = Neighbours {
            me: c("350000"),
            parent: None,
            children: vec![],
        };
        assert_eq!(next_hop(&n, c("350322101")), Hop::Child(c("350300")));
        let n = Neighbours {
            me: c("350322101"),
            parent: Some(c("350322")),
            children: vec![],
        };
        assert_eq!(
            next_hop(&n, c("350322101201")),
            Hop::Child(c("350322101201"))
        );
        assert_eq!(next_hop(&n, c("350322101")), Hop::Local);
        assert_eq!(next_hop(&n, c("350322")), Hop::Parent);
        // A child entry that is not below me is never used.
        let n = Neighbours {
            me: c("350322"),
            parent: Some(c("350300")),
            children: vec![c("350300"), c("350305")],
        };
        assert_eq!(next_hop(&n, c("350322101")), Hop::Child(c("350322101")));
    }

    #[test]
    fn root_finds_outside_targets_unroutable() {
        let n = Neighbours {
            me: c("350300"),
            parent: None,
            children: vec![c("350322")],
        };
        assert_eq!(next_hop(&n, c("370685")), Hop::Unroutable);
        assert_eq!(next_hop(&n, c("370685001")), Hop::Unroutable);
        assert_eq!(next_hop(&n, c("350000")), Hop::Unroutable);
        assert_eq!(
            fan_out(&n, [c("370685"), c("350322101"), c("370600")]),
            vec![Hop::Unroutable, Hop::Child(c("350322"))]
        );
    }

    #[test]
    fn direct_children() {
        // city → county, county → township, township → village, province → city.
        assert!(direct_child_of(c("350300"), c("350322")));
        assert!(direct_child_of(c("350322"), c("350322101")));
        assert!(direct_child_of(c("350322101"), c("350322101201")));
        assert!(direct_child_of(c("350000"), c("350300")));
        // A city without counties (东莞市): its townships sit directly below it.
        assert!(direct_child_of(c("441900"), c("441900003")));
        // Grandchildren.
        assert!(!direct_child_of(c("350300"), c("350322101")));
        assert!(!direct_child_of(c("350000"), c("350322")));
        assert!(!direct_child_of(c("350322"), c("350322101201")));
        // Siblings, cousins, self, upside down.
        assert!(!direct_child_of(c("350302"), c("350322")));
        assert!(!direct_child_of(c("350302"), c("350322101")));
        assert!(!direct_child_of(c("350322101"), c("350322102")));
        assert!(!direct_child_of(c("350300"), c("350300")));
        assert!(!direct_child_of(c("350322"), c("350300")));
        assert!(!direct_child_of(c("370600"), c("350322")));
    }

    #[test]
    fn child_toward_examples() {
        assert_eq!(child_toward(c("350300"), c("350322101")), Some(c("350322")));
        assert_eq!(
            child_toward(c("350322"), c("350322101201")),
            Some(c("350322101"))
        );
        assert_eq!(
            child_toward(c("350322101"), c("350322101201")),
            Some(c("350322101201"))
        );
        assert_eq!(child_toward(c("350000"), c("350322")), Some(c("350300")));
        assert_eq!(child_toward(c("350322"), c("350322")), None);
        assert_eq!(child_toward(c("350322"), c("350305100")), None);
    }

    #[test]
    fn case_event_destinations() {
        let tree = Tree::putian();
        let township = tree.neighbours(c("350322101"));
        let county = tree.neighbours(c("350322"));
        let involved = vec![c("350322101"), c("350322")];

        // Authored at the township: the county is involved and is the backup anyway: one copy up.
        let authored = Flow::CaseEvent {
            involved: involved.clone(),
            authored_here: true,
        };
        assert_eq!(
            destinations(&township, c("350322101"), &authored, None),
            vec![Hop::Parent]
        );
        // At the county, received from that township: nobody else needs it.
        let relayed = Flow::CaseEvent {
            involved,
            authored_here: false,
        };
        let from = Some(Hop::Child(c("350322101")));
        assert_eq!(
            destinations(&county, c("350322101"), &relayed, from),
            vec![]
        );

        // A township event involving the city and another county's township: only up.
        let wide = Flow::CaseEvent {
            involved: vec![c("350300"), c("350305107"), c("350322101")],
            authored_here: true,
        };
        assert_eq!(
            destinations(&township, c("350322101"), &wide, None),
            vec![Hop::Parent]
        );
        // At the county it goes on up (the city covers both); at the city, down to 秀屿区.
        let wide_relayed = Flow::CaseEvent {
            involved: vec![c("350300"), c("350305107"), c("350322101")],
            authored_here: false,
        };
        assert_eq!(
            destinations(&county, c("350322101"), &wide_relayed, from),
            vec![Hop::Parent]
        );
        let city = tree.neighbours(c("350300"));
        assert_eq!(
            destinations(
                &city,
                c("350322101"),
                &wide_relayed,
                Some(Hop::Child(c("350322")))
            ),
            vec![Hop::Child(c("350305"))]
        );

        // An event the county authors about a case only at one of its townships: down to the
        // township, and up to the city as the county's backup although the city is not involved.
        let own = Flow::CaseEvent {
            involved: vec![c("350322001")],
            authored_here: true,
        };
        assert_eq!(
            destinations(&county, c("350322"), &own, None),
            vec![Hop::Child(c("350322001")), Hop::Parent]
        );
        // `origin == me` alone is enough for the backup.
        let own_unflagged = Flow::CaseEvent {
            involved: vec![c("350322001")],
            authored_here: false,
        };
        assert_eq!(
            destinations(&county, c("350322"), &own_unflagged, None),
            vec![Hop::Child(c("350322001")), Hop::Parent]
        );
        // The root has no parent to back up to.
        assert_eq!(
            destinations(&city, c("350300"), &own, None),
            vec![Hop::Child(c("350322"))]
        );
        // A relayed event does not add a backup copy further up.
        assert_eq!(
            destinations(
                &county,
                c("350322001"),
                &Flow::CaseEvent {
                    involved: vec![c("350322001")],
                    authored_here: false
                },
                Some(Hop::Child(c("350322001")))
            ),
            vec![]
        );
    }

    #[test]
    fn summary_and_broadcast_destinations() {
        let tree = Tree::putian();
        let township = tree.neighbours(c("350305107"));
        let county = tree.neighbours(c("350305"));
        let city = tree.neighbours(c("350300"));

        // Summaries go up, hop by hop, and stop at the root.
        assert_eq!(
            destinations(&township, c("350305107"), &Flow::Summary, None),
            vec![Hop::Parent]
        );
        assert_eq!(
            destinations(
                &county,
                c("350305107"),
                &Flow::Summary,
                Some(Hop::Child(c("350305107")))
            ),
            vec![Hop::Parent]
        );
        assert_eq!(
            destinations(
                &city,
                c("350305107"),
                &Flow::Summary,
                Some(Hop::Child(c("350305")))
            ),
            vec![]
        );

        // Broadcasts go to every known child, never up.
        let from_city = destinations(&city, c("350300"), &Flow::Broadcast, None);
        assert_eq!(from_city.len(), 5);
        assert!(!from_city.contains(&Hop::Parent));
        assert_eq!(
            destinations(&county, c("350300"), &Flow::Broadcast, Some(Hop::Parent)),
            vec![
                Hop::Child(c("350305100")),
                Hop::Child(c("350305107")),
                Hop::Child(c("350305108"))
            ]
        );
        assert_eq!(
            destinations(&township, c("350300"), &Flow::Broadcast, Some(Hop::Parent)),
            vec![]
        );
        // A county broadcasts to its own subtree only.
        assert_eq!(
            destinations(&county, c("350305"), &Flow::Broadcast, None).len(),
            3
        );
        // A "broadcast" coming up from a township is not passed to its siblings.
        assert_eq!(
            destinations(
                &county,
                c("350305107"),
                &Flow::Broadcast,
                Some(Hop::Child(c("350305107")))
            ),
            vec![]
        );
    }
}
