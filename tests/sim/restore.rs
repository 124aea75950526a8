//! A lost disk, and the node rebuilt from its parent the way an operator does it (README, "A
//! node whose disk is lost"): the node's store is replaced by an empty one, and `liandong
//! restore` (`node/src/server.rs::restore`) runs before `liandong run`:
//! - it starts the engine on the empty store with the node's own certificate and only dials its
//!   parent: no API, no sweep, and it listens on a port of its own choosing that no child
//!   dials. Every connection it makes has `restore` set, so once up the child asks for its copy
//!   (`Frame::Restore`);
//! - the parent queues the copy (`Engine::restore_dump`: every event the child authored and
//!   every event of the cases it is involved in, as the parent holds them) and answers with the
//!   link sequence that completes it (`RestoreQueued`);
//! - the restore is done once the node holds that much from its parent — the first answer it
//!   got, which is what the real command waits on; then its case numbering skips past what the
//!   lost store may have issued (`Engine::restored`, flushed), it exits, and the operator runs
//!   the node again at once (`liandong run`, the README's next line).
//!
//! A node that crashes in the middle of a restore is restored again on restart; the real command
//! refuses a store that is not empty, so the operator moves it aside first.
//!
//! What may be lost: the node's acknowledged actions that had not reached its parent, its
//! off-site backup, when the disk went (`Ack::lost`, counted apart in the tally). Everything
//! else the checks expect as before, at the restored node too — and the case number of a lost
//! submission stays its own: a restored node that gives it again is a finding (`check.rs`, 7).

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use federation_proto::writer::{restore_under_way, EngineError, Input, RESTORING_KEY};
use federation_proto::{EventId, NodeCode};
use liandong::store::memory::MemStore;
use liandong::store::{Directory, EventLog, Outbox, Store};

use super::{pki, tracing, World};

/// Disks lost per run at most: each restore re-sends a node's whole history, and a few per run
/// are enough to interleave them with everything else.
const MAX_DISK_LOSSES: u64 = 2;

/// A node being rebuilt from its parent: what the parent answered.
#[derive(Debug, Default)]
pub struct Restoring {
    /// The parent's link sequence the restore waits for: the first answer the node took.
    upto: Option<u64>,
    /// Each copy the parent queued for the node in this restore: its answer, and the events
    /// the parent held for the node when it queued it.
    dumps: Vec<(u64, Vec<EventId>)>,
    /// The events of the copy the node waits for: all must be here once it says it is done.
    expected: Vec<EventId>,
}

impl World {
    /// An empty store, as a new disk (lying about its flushes like the others in the self-test).
    pub(super) fn empty_store(&self) -> Arc<MemStore> {
        let store = Arc::new(MemStore::new());
        if self.lying {
            store.lie_about_flushes();
        }
        store
    }

    fn parent_index(&self, i: usize) -> Option<usize> {
        let parent = pki().nodes[i].parent?;
        self.nodes.iter().position(|n| n.code == parent)
    }

    /// A township loses its disk, at most [`MAX_DISK_LOSSES`] times per run and one at a time:
    /// with counties in (below), a node must not be restored from a parent that is itself
    /// still restoring, which serves no child.
    ///
    /// Only a node without children by default: the design promises that "a township whose
    /// disk is lost is rebuilt from its county" (DESIGN.md §4), and a county is not rebuilt
    /// whole from its city — its townships' backup copies, the items in transit through it and
    /// the history of cases it shares only with its townships are not in the city's copy. With
    /// `LIANDONG_SIM_RESTORE_COUNTIES` set, counties lose their disks too, and the checks show
    /// what is missing afterwards.
    pub(super) fn lose_disk_any(&mut self) {
        if self.tally.disk_losses >= MAX_DISK_LOSSES
            || self.nodes.iter().any(|n| n.restore.is_some())
        {
            return;
        }
        let counties = restore_counties();
        let candidates: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.parent_index(i).is_some())
            .filter(|&i| counties || !self.links.iter().any(|l| l.parent == i))
            .collect();
        if let Some(&i) = self.rng.choose(&candidates) {
            self.lose_disk(i);
        }
    }

    /// Node `i`'s disk is gone: its engine stops, its connections drop, its store is replaced
    /// by an empty one, and the restore starts. Its acknowledged actions that its parent does
    /// not hold are lost with the disk: every event a node authors goes to its parent, its
    /// off-site backup, and a township's goes nowhere else (a county's may have reached its
    /// townships, see [`World::lose_disk_any`]).
    pub fn lose_disk(&mut self, i: usize) {
        let Some(p) = self.parent_index(i) else {
            return;
        };
        let code = self.nodes[i].code;
        self.tally.disk_losses += 1;
        // The disk fails, and with it whatever its node's group held. Before the restore, which
        // an operator runs minutes later, every other node has long committed its group: a
        // group lives milliseconds in a real node. (Left pending, the parent could commit the
        // lost node's last batches only after the restore's hello, and take the restored
        // node's new items for those old ones: a race the real timing rules out, and that the
        // hello's renumbering cannot see.)
        self.nodes[i].running = None;
        self.commit_all();
        for link in &mut self.links {
            if link.child == i || link.parent == i {
                link.conn = None;
            }
        }
        let parent = self.nodes[p].store.clone();
        let mut lost = Vec::new();
        for ack in self.acks.iter_mut().filter(|a| a.node == code && !a.lost) {
            let id = EventId {
                origin: code,
                seq: ack.seq,
            };
            match parent.has_event(&id) {
                Ok(true) => {}
                Ok(false) => {
                    ack.lost = true;
                    lost.push(format!(
                        "{}:{} {} on {}",
                        code, ack.seq, ack.action, ack.case_no
                    ));
                }
                Err(e) => self
                    .findings
                    .push(format!("reading {code}:{} at its parent: {e}", ack.seq)),
            }
        }
        trace!("{code} loses its disk; acknowledged and not at its parent: {lost:?}");
        self.tally.lost += lost.len() as u64;
        self.nodes[i].store = self.empty_store();
        self.nodes[i].restore = Some(Restoring::default());
        self.start_restore(i);
    }

    /// Half the steps while a restore is under way also move its link one frame or batch on:
    /// the command does nothing else, and the parent streams the copy as fast as the window
    /// lets it. Left to the random steps, which pick among every flow, most restores would
    /// only complete in the heal and the restored node would never run again in a schedule.
    pub(super) fn restore_traffic(&mut self) {
        let Some(i) = self.nodes.iter().position(|n| n.restore.is_some()) else {
            return;
        };
        let Some(l) = self.links.iter().position(|l| l.child == i) else {
            return;
        };
        if self.links[l].conn.is_none() || !self.rng.chance(0.5) {
            return;
        }
        let d = self.rng.below(2);
        match self.rng.below(3) {
            0 => self.send(l, d),
            1 => self.deliver(l, d, false),
            _ => self.ack(l, d),
        };
    }

    /// `liandong restore` starts for node `i` (a restore is pending).
    pub(super) fn start_restore(&mut self, i: usize) {
        let code = self.nodes[i].code;
        let marked = restore_under_way(self.nodes[i].store.setting(RESTORING_KEY).ok().flatten());
        if self.nodes[i].store.event_count() > 0 && !marked {
            // `liandong restore` refuses a store that holds events and no restore under way
            // (one that crashed before its mark was durable): the operator moves it aside.
            trace!("{code}: the restore finds its store not empty: the operator moves it aside");
            self.nodes[i].store = self.empty_store();
        } else if marked {
            trace!("{code}: the restore resumes the interrupted one");
        }
        trace!("{code} restores from its parent");
        self.nodes[i].restore = Some(Restoring::default());
        self.boot(i);
        // As the command does before it dials: the store says a restore is under way.
        if let Err(e) = self.ask(i, Input::RestoreBegun) {
            self.findings
                .push(format!("{code}: marking the restore under way: {e}"));
        }
        // The command dials its parent as it starts, and does nothing else until the copy is
        // in: waiting for a random connect step would leave most restores to the heal.
        if let Some(l) = self.links.iter().position(|l| l.child == i) {
            self.connect(l);
        }
    }

    /// The parent at `me` queues `child`'s copy (`Event::RestoreRequested`); returns the link
    /// sequence that completes it, for `Link::restore_queued`.
    pub(super) fn queue_restore(&mut self, me: usize, child: NodeCode) -> Result<u64, EngineError> {
        let upto = self.ask(me, Input::RestoreDump { child })?.seq()?;
        let expected = match dump_contents(self.nodes[me].store.as_ref(), child) {
            Ok(ids) => ids,
            Err(e) => {
                self.findings
                    .push(format!("reading {child}'s copy at its parent: {e}"));
                Vec::new()
            }
        };
        trace!(
            "{} queued the restore of {child}: {} events, up to link sequence {upto}",
            self.nodes[me].code,
            expected.len()
        );
        if let Some(c) = self.nodes.iter().position(|n| n.code == child) {
            if let Some(restoring) = self.nodes[c].restore.as_mut() {
                restoring.dumps.push((upto, expected));
            }
        }
        Ok(upto)
    }

    /// Node `me` hears that its parent queued its copy up to `upto` (`Event::RestoreQueued`).
    /// The real command waits on the first answer; a node not restoring ignores it.
    pub(super) fn restore_queued(&mut self, me: usize, upto: u64) {
        let Some(restoring) = self.nodes[me].restore.as_mut() else {
            return;
        };
        if restoring.upto.is_none() {
            restoring.upto = Some(upto);
            restoring.expected = restoring
                .dumps
                .iter()
                .rev()
                .find(|(u, _)| *u == upto)
                .map(|(_, ids)| ids.clone())
                .unwrap_or_default();
        }
    }

    /// Once a restoring node holds from its parent what the parent said completes its copy, the
    /// restore is done: it flushes and exits, and the node runs again. Every event the
    /// parent's copy held must be here then.
    pub(super) fn restore_progress(&mut self, i: usize) {
        let Some(Restoring {
            upto: Some(upto), ..
        }) = self.nodes[i].restore
        else {
            return;
        };
        let (Some(parent), true) = (pki().nodes[i].parent, self.nodes[i].running.is_some()) else {
            return;
        };
        let code = self.nodes[i].code;
        let store = self.nodes[i].store.clone();
        let received = match store.link_counters() {
            Ok(counters) => counters.get(&parent).map_or(0, |c| c.received),
            Err(e) => {
                self.findings
                    .push(format!("{code}: reading its link counters: {e}"));
                return;
            }
        };
        if received < upto {
            return;
        }
        // Done: taken before the last step, whose commit carries out the link's receipts and
        // so comes back here — the restore must complete once.
        let expected = self.nodes[i]
            .restore
            .take()
            .map(|r| r.expected)
            .unwrap_or_default();
        // As the command ends: the numbering skips what the lost store may have issued, in
        // the writer's last group, flushed before it says it is done.
        match self.ask(i, Input::Restored).and_then(|o| o.resumed()) {
            Ok(resumed) => trace!(
                "{code}: case numbers of {} resume at {}",
                resumed.day,
                resumed.next_seq
            ),
            Err(e) => self
                .findings
                .push(format!("{code}: completing the restore failed: {e}")),
        }
        let missing: Vec<String> = expected
            .iter()
            .filter(|id| !matches!(store.has_event(id), Ok(true)))
            .map(|id| format!("{}:{}", id.origin, id.seq))
            .collect();
        if !missing.is_empty() {
            self.findings.push(format!(
                "the restore of {code} ended without {} events of its parent's copy: {:?}",
                missing.len(),
                &missing[..missing.len().min(5)]
            ));
        }
        trace!(
            "{code} restored: {} events, last own seq {}",
            store.event_count(),
            store.meta().map(|m| m.last_seq).unwrap_or(0)
        );
        self.tally.restores += 1;
        self.nodes[i].running = None;
        for link in &mut self.links {
            if link.child == i || link.parent == i {
                link.conn = None;
            }
        }
        self.start(i);
    }
}

/// `LIANDONG_SIM_RESTORE_COUNTIES` set: counties lose their disks too (see
/// [`World::lose_disk_any`]).
fn restore_counties() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("LIANDONG_SIM_RESTORE_COUNTIES").is_some())
}

/// What a parent's copy of `child` holds, by the rule the README states and independently of
/// how the engine queues it: every event `child` authored, and every event of each case
/// `child` is involved in by the parent's fold.
fn dump_contents(store: &dyn Store, child: NodeCode) -> Result<Vec<EventId>, String> {
    let mut ids: BTreeSet<EventId> = store
        .events_by_origin(child)
        .map_err(|e| e.to_string())?
        .iter()
        .map(|e| e.id)
        .collect();
    for case in store.cases() {
        let case = case.map_err(|e| e.to_string())?;
        if case.involved().contains(&child) {
            let events = store.events_of(&case.case_no).map_err(|e| e.to_string())?;
            ids.extend(events.iter().map(|e| e.id));
        }
    }
    Ok(ids.into_iter().collect())
}
