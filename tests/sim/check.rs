//! The invariants of replication, checked at every node once a run has healed and settled —
//! the same ones `tests/support/chaos.rs` checks through the API of real processes:
//! 1. every acknowledged action is held, once and as the action acknowledged, by its origin,
//!    its origin's parent (the off-site backup) and every node involved in its case — save the
//!    actions a node acknowledged that had not reached its parent when its disk was lost
//!    (`Ack::lost`, counted in the tally): the design keeps no other copy of them. A restored
//!    node is held to everything else: its own actions that had reached its parent, and every
//!    case it is involved in (3);
//! 2. no case lists an event twice;
//! 3. every node involved in a case (by any holder's fold: the accepting node, owners, the
//!    node it is forwarded to, joint-review seats, and whoever authored one of its events)
//!    holds it with the same timeline (rejected marks included), state and owner (a 督办's
//!    author is not involved by it: it acts on the summary);
//! 4. the root's summary of each case has the owner's state and owner;
//! 5. each node's own events are numbered 1..n without a gap (a restored node numbers on after
//!    the last of its events its parent held);
//! 6. every outbox is drained;
//! 7. no case number is acknowledged for two submissions — a submission lost with its node's
//!    disk included: its applicant holds that number, so a restored node must not give it
//!    again (`writer/numbering.rs` in the core says how it skips it). A case number given
//!    twice to cases that both still exist is already a finding during the run
//!    (`World::record_ack`).
//! 8. every node has the city's calendar in force (the city's notices are broadcast down and
//!    adopted), and each case's deadlines are the same everywhere and right by it: the
//!    owner's summary, the root's summary and a fresh evaluation of the owner's fold against
//!    the calendar all give the same promised and legal deadlines.
//! 9. every case a direct child owns that is red and open past its promised deadline by the
//!    policy's working days has its automatic 督办 from the child's parent.

use std::collections::{BTreeMap, BTreeSet};

use federation_proto::deadline::{self, WarningPolicy};
use federation_proto::{summary, CaseNo, CaseSummary, EventId, Hlc, NodeCode};
use liandong::case::Case;
use liandong::store::{CaseViews, EventLog, Outbox};

use crate::world::{holdings, World};

/// What must agree across the nodes involved in a case.
fn projection(case: &Case) -> (Vec<(EventId, bool)>, String, NodeCode) {
    let log = case
        .log
        .iter()
        .map(|l| (l.id, l.rejected.is_some()))
        .collect();
    (log, case.state.as_str().to_string(), case.owner)
}

pub fn verify(world: &World) -> Vec<String> {
    let mut findings = Vec::new();
    let held = holdings(world);
    let index: BTreeMap<NodeCode, usize> = world
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.code, i))
        .collect();
    let parent_of = |code: NodeCode| {
        crate::world::pki()
            .nodes
            .iter()
            .find(|n| n.code == code)
            .and_then(|n| n.parent)
    };

    // The nodes involved in each case, by every holder's fold.
    let mut involved: BTreeMap<CaseNo, BTreeSet<NodeCode>> = BTreeMap::new();
    for cases in &held {
        for (no, case) in cases {
            let set = involved.entry(*no).or_default();
            if std::env::var_os("LIANDONG_SIM_TRACE").is_some() {
                eprintln!(
                    "{no} held with involved {:?}, owners {:?}, forwarded_to {:?}, log {:?}",
                    case.involved(),
                    case.owners,
                    case.forwarded_to,
                    case.log
                        .iter()
                        .map(|l| (l.id, l.action.clone(), l.rejected.clone()))
                        .collect::<Vec<_>>()
                );
            }
            set.extend(case.involved());
            // A 督办 from above is written from the case's summary: its author need not hold
            // the case (DESIGN.md §8).
            set.extend(
                case.log
                    .iter()
                    .filter(|l| l.action != "supervise")
                    .map(|l| l.id.origin),
            );
        }
    }

    // 1. Acknowledged actions.
    for ack in world.acks.iter().filter(|a| !a.lost) {
        let id = EventId {
            origin: ack.node,
            seq: ack.seq,
        };
        let mut expected: BTreeSet<NodeCode> =
            involved.get(&ack.case_no).cloned().unwrap_or_default();
        expected.insert(ack.node);
        expected.extend(parent_of(ack.node));
        for node in expected {
            let Some(&i) = index.get(&node) else { continue };
            match world.nodes[i].store.event(&id) {
                Ok(Some(event)) if event.body.action() == ack.action => {}
                Ok(Some(event)) => findings.push(format!(
                    "{}:{} acknowledged as {} is {} at {node}",
                    ack.node,
                    ack.seq,
                    ack.action,
                    event.body.action()
                )),
                Ok(None) => findings.push(format!(
                    "{}:{} ({} on {}, acknowledged) is missing at {node}",
                    ack.node, ack.seq, ack.action, ack.case_no
                )),
                Err(e) => findings.push(format!("reading {}:{} at {node}: {e}", ack.node, ack.seq)),
            }
        }
    }

    // 2 and 3. Timelines.
    for (no, nodes) in &involved {
        // The accepting node's own fold (a case number names it); a parent's backup copy may
        // lack events and is no reference.
        let Some(reference) = index.get(&no.node).and_then(|&i| held[i].get(no)) else {
            findings.push(format!("{} does not hold its own case {no}", no.node));
            continue;
        };
        let expected = projection(reference);
        for node in nodes {
            let Some(&i) = index.get(node) else { continue };
            match held[i].get(no) {
                None => findings.push(format!("{node} is involved in {no} but does not hold it")),
                Some(case) => {
                    let ids: BTreeSet<EventId> = case.log.iter().map(|l| l.id).collect();
                    if ids.len() != case.log.len() {
                        findings.push(format!("{node} lists an event of {no} twice"));
                    }
                    if projection(case) != expected {
                        findings.push(format!(
                            "{no}: {node} differs from {}: {:?} vs {:?}",
                            reference.accepting_node,
                            projection(case),
                            expected
                        ));
                    }
                }
            }
        }
    }

    // 4. The root's summaries.
    let root = 0;
    for (no, nodes) in &involved {
        let owner_case = nodes.iter().find_map(|n| {
            let case = held[*index.get(n)?].get(no)?;
            (case.owner == *n).then_some(case)
        });
        let Some(case) = owner_case else { continue };
        match world.nodes[root].store.summary(no) {
            Ok(Some(s)) if s.state == case.state && s.owner == case.owner => {}
            Ok(Some(s)) => findings.push(format!(
                "the root's summary of {no} says {} at {}, the owner {} holds {}",
                s.state.as_str(),
                s.owner,
                case.owner,
                case.state.as_str()
            )),
            Ok(None) => findings.push(format!("the root holds no summary of {no}")),
            Err(e) => findings.push(format!("reading the summary of {no}: {e}")),
        }
    }

    // 8. The calendar and the deadlines it gives.
    let city = world.nodes[root].reference.calendar().to_toml();
    for node in &world.nodes {
        if node.reference.calendar().to_toml() != city {
            findings.push(format!(
                "{} has a calendar in force other than the city's",
                node.code
            ));
        }
    }
    for (no, nodes) in &involved {
        let Some((i, case)) = nodes.iter().find_map(|n| {
            let i = *index.get(n)?;
            let case = held[i].get(no)?;
            (case.owner == *n).then_some((i, case))
        }) else {
            continue;
        };
        let owner = &world.nodes[i];
        let fresh = summary::summarise(
            case,
            &deadline::evaluate(
                case,
                &owner.reference.calendar(),
                owner.clock.today(),
                &WarningPolicy::default(),
            ),
            Hlc::default(),
        );
        // Deadlines, and — every node having swept last — the warning of the owner's day.
        let dates = |s: &CaseSummary| (s.deadline, s.legal_deadline, s.warning);
        for (whose, held) in [
            ("the owner", owner.store.summary(no)),
            ("the root", world.nodes[root].store.summary(no)),
        ] {
            match held {
                Ok(Some(s)) if dates(&s) == dates(&fresh) => {}
                Ok(Some(s)) => findings.push(format!(
                    "{whose}'s summary of {no} gives deadlines {:?}, the calendar {:?}",
                    dates(&s),
                    dates(&fresh)
                )),
                // A missing summary is finding 4's.
                Ok(None) => {}
                Err(e) => findings.push(format!("reading {whose}'s summary of {no}: {e}")),
            }
        }
    }

    // 9. Every case a direct child owns that this node holds red and open past its promised
    // deadline by the policy's working days has this node's 督办 (the runs end with every
    // clock a month on and two periodic sweeps: `World::sweep_everywhere`).
    let policy = WarningPolicy::default();
    for node in &world.nodes {
        let today = node.clock.today();
        let calendar = node.reference.calendar();
        let noticed: BTreeSet<CaseNo> = node
            .store
            .events_by_origin(node.code)
            .unwrap_or_default()
            .into_iter()
            .filter(|e| matches!(e.body, federation_proto::EventBody::Supervise { .. }))
            .map(|e| e.case_no)
            .collect();
        for s in node.store.summaries().filter_map(Result::ok) {
            let due = federation_proto::route::direct_child_of(node.code, s.owner)
                && s.warning == federation_proto::Warning::Red
                && s.state.is_open()
                && s.deadline
                    .is_some_and(|d| today > calendar.add_workdays(d, policy.auto_supervise_days));
            if due && !noticed.contains(&s.case_no) {
                findings.push(format!(
                    "{}: {} of {} is red past its deadline {:?} and has no automatic 督办",
                    node.code, s.case_no, s.owner, s.deadline
                ));
            }
        }
    }

    // 5. Own numbering; 6. outboxes.
    for node in &world.nodes {
        let last = node.store.meta().map(|m| m.last_seq).unwrap_or(0);
        let seqs: Vec<u64> = node
            .store
            .events_by_origin(node.code)
            .unwrap_or_default()
            .iter()
            .map(|e| e.id.seq)
            .collect();
        if seqs != (1..=last).collect::<Vec<u64>>() {
            let missing: Vec<u64> = (1..=last).filter(|s| !seqs.contains(s)).take(5).collect();
            findings.push(format!(
                "{} holds {} events of its own up to seq {last}: missing {missing:?}",
                node.code,
                seqs.len()
            ));
        }
        for other in &world.nodes {
            let depth = node.store.outbox_depth(other.code);
            if depth > 0 {
                findings.push(format!(
                    "{}'s outbox for {} still holds {depth} items after the heal",
                    node.code, other.code
                ));
            }
        }
    }
    // 7. Case numbers given again after a restore.
    let mut lost_numbers: BTreeSet<CaseNo> = BTreeSet::new();
    for ack in world.acks.iter().filter(|a| a.action == "submit") {
        if lost_numbers.contains(&ack.case_no) {
            findings.push(format!(
                "case number {} issued twice: {} gave it again after its first case was lost \
                 with the disk",
                ack.case_no, ack.node
            ));
        }
        if ack.lost {
            lost_numbers.insert(ack.case_no);
        }
    }
    findings
}
