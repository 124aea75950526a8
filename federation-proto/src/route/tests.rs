//! Tests of the routing rules over the real tree of 莆田市.

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

    /// Never back over the link an item arrived from, whatever the flow; no `Local`, no
    /// duplicate link; an event's targets are each carried by exactly the link toward them.
    #[test]
    fn never_back_to_where_it_came_from(
        me in select(codes()),
        origin in select(codes()),
        targets in proptest::collection::vec(select(codes()), 0..5),
        kind in 0u8..5,
        authored_here in any::<bool>(),
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
            0 => Flow::CaseEvent { targets: &targets, authored_here },
            1 => Flow::Summary,
            2 => Flow::Broadcast,
            3 => Flow::Certificate,
            _ => Flow::Welcome(targets.first().copied().unwrap_or(me)),
        };
        let routes = destinations(&n, origin, &flow, from);
        let links = hops(&routes);
        prop_assert!(!links.contains(&Hop::Local));
        for (i, hop) in links.iter().enumerate() {
            prop_assert!(!links[..i].contains(hop), "{:?} twice in {:?}", hop, links);
        }
        if let Some(from) = from {
            prop_assert!(!links.contains(&from));
        }
        if let Flow::CaseEvent { .. } = flow {
            for route in &routes {
                for &t in &route.targets {
                    prop_assert_eq!(next_hop(&n, t), route.hop);
                }
            }
            for &t in &targets {
                let hop = next_hop(&n, t);
                let carried = routes.iter().any(|r| r.targets.contains(&t));
                prop_assert_eq!(carried, hop != Hop::Local && Some(hop) != from);
            }
        } else {
            prop_assert!(routes.iter().all(|r| r.targets.is_empty()));
        }
    }
}

/// The links of `routes`, in order.
fn hops(routes: &[Route]) -> Vec<Hop> {
    routes.iter().map(|r| r.hop).collect()
}

/// A case event's routes as (link, targets) pairs, for comparing with a literal.
fn event_routes(
    n: &Neighbours,
    origin: &str,
    targets: &[&str],
    authored_here: bool,
    from: Option<Hop>,
) -> Vec<(Hop, Vec<NodeCode>)> {
    let targets: Vec<NodeCode> = targets.iter().map(|t| c(t)).collect();
    let flow = Flow::CaseEvent {
        targets: &targets,
        authored_here,
    };
    destinations(n, c(origin), &flow, from)
        .into_iter()
        .map(|r| (r.hop, r.targets))
        .collect()
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
    let targets = [c("370685"), c("350322101"), c("370600")];
    let flow = Flow::CaseEvent {
        targets: &targets,
        authored_here: false,
    };
    assert_eq!(
        destinations(&n, c("350300"), &flow, None),
        vec![
            Route {
                hop: Hop::Unroutable,
                targets: vec![c("370685"), c("370600")]
            },
            Route {
                hop: Hop::Child(c("350322")),
                targets: vec![c("350322101")]
            }
        ]
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
    let city = tree.neighbours(c("350300"));
    let both = ["350322101", "350322"];

    // Authored at the township: the county is involved and is the backup anyway: one copy up.
    assert_eq!(
        event_routes(&township, "350322101", &both, true, None),
        vec![(Hop::Parent, vec![c("350322")])]
    );
    // At the county, received from that township: nobody else needs it.
    let from = Some(Hop::Child(c("350322101")));
    assert_eq!(
        event_routes(&county, "350322101", &both, false, from),
        vec![]
    );

    // A township event involving the city and another county's township: only up, carrying
    // both targets (and the county, its backup).
    let wide = ["350300", "350305107", "350322101"];
    assert_eq!(
        event_routes(&township, "350322101", &wide, true, None),
        vec![(Hop::Parent, vec![c("350300"), c("350305107"), c("350322")])]
    );
    // At the county it goes on up (the city covers both); at the city, down to 秀屿区.
    let ahead = ["350300", "350305107"];
    assert_eq!(
        event_routes(&county, "350322101", &ahead, false, from),
        vec![(Hop::Parent, vec![c("350300"), c("350305107")])]
    );
    assert_eq!(
        event_routes(
            &city,
            "350322101",
            &ahead,
            false,
            Some(Hop::Child(c("350322")))
        ),
        vec![(Hop::Child(c("350305")), vec![c("350305107")])]
    );

    // An event the county authors about a case only at one of its townships: down to the
    // township, and up to the city as the county's backup although the city is not involved.
    assert_eq!(
        event_routes(&county, "350322", &["350322001"], true, None),
        vec![
            (Hop::Child(c("350322001")), vec![c("350322001")]),
            (Hop::Parent, vec![c("350300")])
        ]
    );
    // Not authored here (a restore, a newcomer's history): no backup copy.
    assert_eq!(
        event_routes(&county, "350322", &["350322001"], false, None),
        vec![(Hop::Child(c("350322001")), vec![c("350322001")])]
    );
    // The root has no parent to back up to.
    assert_eq!(
        event_routes(&city, "350300", &["350322001"], true, None),
        vec![(Hop::Child(c("350322")), vec![c("350322001")])]
    );
    // A relayed event does not add a backup copy further up.
    assert_eq!(
        event_routes(&county, "350322001", &["350322001"], false, from),
        vec![(Hop::Child(c("350322001")), vec![c("350322001")])]
    );
    assert_eq!(
        event_routes(
            &county,
            "350322001",
            &["350322001"],
            false,
            Some(Hop::Child(c("350322001")))
        ),
        vec![]
    );
    // A target outside the root's subtree is reported, not dropped silently.
    assert_eq!(
        event_routes(&city, "350300", &["370685", "350322"], false, None),
        vec![
            (Hop::Unroutable, vec![c("370685")]),
            (Hop::Child(c("350322")), vec![c("350322")])
        ]
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
        hops(&destinations(
            &township,
            c("350305107"),
            &Flow::Summary,
            None
        )),
        vec![Hop::Parent]
    );
    assert_eq!(
        hops(&destinations(
            &county,
            c("350305107"),
            &Flow::Summary,
            Some(Hop::Child(c("350305107")))
        )),
        vec![Hop::Parent]
    );
    assert_eq!(
        hops(&destinations(
            &city,
            c("350305107"),
            &Flow::Summary,
            Some(Hop::Child(c("350305")))
        )),
        vec![]
    );

    // Broadcasts go to every known child, never up.
    let from_city = hops(&destinations(&city, c("350300"), &Flow::Broadcast, None));
    assert_eq!(from_city.len(), 5);
    assert!(!from_city.contains(&Hop::Parent));
    assert_eq!(
        hops(&destinations(
            &county,
            c("350300"),
            &Flow::Broadcast,
            Some(Hop::Parent)
        )),
        vec![
            Hop::Child(c("350305100")),
            Hop::Child(c("350305107")),
            Hop::Child(c("350305108"))
        ]
    );
    assert_eq!(
        hops(&destinations(
            &township,
            c("350300"),
            &Flow::Broadcast,
            Some(Hop::Parent)
        )),
        vec![]
    );
    // A county broadcasts to its own subtree only.
    assert_eq!(
        hops(&destinations(&county, c("350305"), &Flow::Broadcast, None)).len(),
        3
    );
    // A "broadcast" coming up from a township is not passed to its siblings.
    assert_eq!(
        hops(&destinations(
            &county,
            c("350305107"),
            &Flow::Broadcast,
            Some(Hop::Child(c("350305107")))
        )),
        vec![]
    );

    // Certificates flood: up and down, never back where they came from.
    assert_eq!(
        hops(&destinations(
            &county,
            c("350305107"),
            &Flow::Certificate,
            Some(Hop::Child(c("350305107")))
        )),
        vec![
            Hop::Parent,
            Hop::Child(c("350305100")),
            Hop::Child(c("350305108"))
        ]
    );
    assert_eq!(
        hops(&destinations(&city, c("350322"), &Flow::Certificate, None)).len(),
        5
    );
    // A welcome goes to the child that connected, and never to a node not below.
    assert_eq!(
        hops(&destinations(
            &county,
            c("350305"),
            &Flow::Welcome(c("350305107")),
            None
        )),
        vec![Hop::Child(c("350305107"))]
    );
    assert_eq!(
        hops(&destinations(
            &county,
            c("350305"),
            &Flow::Welcome(c("350322101")),
            None
        )),
        vec![]
    );
}
