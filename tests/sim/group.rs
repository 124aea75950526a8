//! Each node's write path as the simulation drives it: the core's own [`Writer`], stepped
//! directly — no thread, no channel — with the group commit played by the schedule.
//!
//! The node's shell (`node/src/engine.rs`) steps every request waiting in its queue into one
//! group, then writes and flushes the group and only then answers. Here the same happens one
//! scheduled step at a time, so a schedule can do what a thread's timing hides:
//! - a window's write and a peer's batch are *staged* ([`World::stage`]): applied to the
//!   writer's overlay, their answers — the clerk's acknowledgement, the batch's receipt that
//!   becomes the link's ack — owed until the group commits;
//! - the group commits at a later step ([`World::commit`]), or is written without its flush
//!   ([`World::write_group`]), or is lost with a crash in between, answers and all;
//! - what a caller awaits before it goes on (a link coming up, a restore's copy, a sweep, a
//!   scripted action) is stepped and committed at once ([`World::ask`]), taking whatever else
//!   the group held with it, as the shell's next flush would.

use federation_proto::writer::{Durable, EngineError, Input, Output, Setup, Writer};
use liandong::pki::FederationCa;
use liandong::store::Store;

use super::{clerk, pki, tracing, Ack, World};

/// A running node's writer, its group's owed answers, and how far each outbox is durable.
pub struct Running {
    pub writer: Writer,
    /// The answers the group owes, in the order its requests were stepped.
    owed: Vec<Owed>,
    /// Per peer, the last link sequence durable: what its sender may send (the shell's
    /// `Engine::outbox_changes`).
    pub durable: Durable,
}

impl Running {
    /// Whether the group owes anyone an answer (a crash now loses them unanswered).
    pub fn owes(&self) -> bool {
        !self.owed.is_empty()
    }
}

/// An answer that waits for the group's flush.
enum Owed {
    /// A window's action: acknowledged to the clerk once durable.
    Ack(Ack),
    /// A received batch: its ack goes back on the connection that brought it, if that
    /// connection is still up (`conn` is its number).
    Receipt {
        link: usize,
        conn: u64,
        end: usize,
        upto: u64,
    },
}

impl World {
    /// Starts node `i`'s writer over its store and gives it its own certificate — what both
    /// `liandong run` and `liandong restore` do first.
    pub(super) fn boot(&mut self, i: usize) {
        let id = &pki().nodes[i];
        let node = &mut self.nodes[i];
        node.reference = match super::calendar::reference_from(&node.store) {
            Ok(reference) => reference,
            Err(e) => {
                self.findings
                    .push(format!("{}: its reference data: {e}", id.code));
                return;
            }
        };
        let setup = Setup {
            store: node.store.clone() as std::sync::Arc<dyn Store>,
            code: id.code,
            parent: id.parent,
            key: id.key.clone(),
            reference: node.reference.clone(),
            policy: Default::default(),
            certificates: std::sync::Arc::new(FederationCa::new(Some(pki().ca_der.clone()))),
        };
        match Writer::new(setup) {
            Ok(writer) => {
                let durable = writer.durable();
                self.nodes[i].running = Some(Running {
                    writer,
                    owed: Vec::new(),
                    durable,
                });
                let own = Input::Learn {
                    code: id.code,
                    der: id.cert.clone(),
                    welcome: false,
                };
                if let Err(e) = self.ask(i, own) {
                    self.findings
                        .push(format!("{} cannot take its own certificate: {e}", id.code));
                }
            }
            Err(e) => self
                .findings
                .push(format!("{} does not start: {e}", id.code)),
        }
    }

    /// Steps `input` at node `i` into its group; the answer is the step's, not yet durable.
    pub(super) fn stage(&mut self, i: usize, input: Input) -> Result<Output, EngineError> {
        let now = self.nodes[i].clock.now_ms();
        let running = self.nodes[i]
            .running
            .as_mut()
            .ok_or_else(|| EngineError::Unavailable("the node is down".into()))?;
        running.writer.step(now, input)
    }

    /// Steps `input` at node `i` and commits the group at once: the answer of a request its
    /// caller waits for before going on.
    pub(super) fn ask(&mut self, i: usize, input: Input) -> Result<Output, EngineError> {
        let output = self.stage(i, input)?;
        self.commit(i)
            .map_err(|e| EngineError::Unavailable(format!("flush failed: {e}")))?;
        Ok(output)
    }

    /// A clerk's answer owed by node `i`'s group.
    pub(super) fn owe_ack(&mut self, i: usize, ack: Ack) {
        if self.early {
            self.record_ack(ack);
            return;
        }
        if let Some(running) = self.nodes[i].running.as_mut() {
            running.owed.push(Owed::Ack(ack));
        }
    }

    /// A received batch's receipt owed by node `i`'s group, for end `end` of link `link`.
    pub(super) fn owe_receipt(&mut self, i: usize, link: usize, end: usize, upto: u64) {
        if self.early {
            if let Some(ends) = self.links[link].conn.as_mut() {
                ends[end].link.handle_receipt(Ok(upto));
            }
            return;
        }
        let conn = self.links[link].conn_id;
        if let Some(running) = self.nodes[i].running.as_mut() {
            running.owed.push(Owed::Receipt {
                link,
                conn,
                end,
                upto,
            });
        }
    }

    /// Node `i`'s group is written and flushed, as the shell does after each group: then the
    /// clerks' answers are acknowledged, the receipts go back as acks on the connections that
    /// brought the batches (if still up), and what became durable may be sent. A calendar
    /// change re-evaluates every case after it, as in the shell.
    pub(super) fn commit(&mut self, i: usize) -> Result<(), String> {
        let Some(running) = self.nodes[i].running.as_mut() else {
            return Ok(());
        };
        let flushed = running.writer.commit_group();
        let owed = std::mem::take(&mut running.owed);
        if let Ok(Some(durable)) = &flushed {
            running
                .durable
                .extend(durable.iter().map(|(p, s)| (*p, *s)));
        }
        let recheck = running.writer.take_recheck();
        if let Err(e) = &flushed {
            // A real node refuses every write after this; the simulation's stores only fail
            // when told to, and none is.
            self.findings
                .push(format!("{}: a flush failed: {e}", self.nodes[i].code));
            return flushed.map(|_| ());
        }
        self.tally.groups += 1;
        trace!(
            "{} commits a group: {} answers",
            self.nodes[i].code,
            owed.len()
        );
        for o in owed {
            match o {
                Owed::Ack(ack) => self.record_ack(ack),
                Owed::Receipt {
                    link,
                    conn,
                    end,
                    upto,
                } => {
                    if self.links[link].conn_id != conn {
                        continue;
                    }
                    if let Some(ends) = self.links[link].conn.as_mut() {
                        ends[end].link.handle_receipt(Ok(upto));
                        self.carry_out(link, end);
                    }
                }
            }
        }
        if recheck {
            if let Err(e) = self.ask(i, Input::Sweep { full: true }) {
                self.findings.push(format!(
                    "{}: the sweep after a calendar change: {e}",
                    self.nodes[i].code
                ));
            }
        }
        Ok(())
    }

    /// Whether node `i` runs and its group holds anything.
    fn has_group(&self, i: usize) -> bool {
        self.nodes[i]
            .running
            .as_ref()
            .is_some_and(|r| !r.owed.is_empty() || r.writer.unwritten())
    }

    /// A node with a group commits it.
    pub(super) fn commit_any(&mut self) {
        let waiting: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.has_group(i))
            .collect();
        if let Some(&i) = self.rng.choose(&waiting) {
            let _ = self.commit(i);
        }
    }

    /// A node with a group writes it without its flush — what the writer's scanning steps do
    /// — so that a crash before the flush finds it written and takes it back. Its answers stay
    /// owed until the flush.
    pub(super) fn write_group(&mut self) {
        let waiting: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.has_group(i))
            .collect();
        let Some(&i) = self.rng.choose(&waiting) else {
            return;
        };
        let store = self.nodes[i].store.clone();
        let Some(running) = self.nodes[i].running.as_mut() else {
            return;
        };
        if let Some(commit) = running.writer.take_commit() {
            trace!(
                "{} writes its group without a flush: {} events",
                self.nodes[i].code,
                commit.events.len()
            );
            if let Err(e) = store.commit(&commit) {
                self.findings.push(format!(
                    "{}: writing a group failed: {e}",
                    self.nodes[i].code
                ));
            }
        }
    }

    /// Every group committed (the heal: the nodes run until their queues are empty).
    pub(super) fn commit_all(&mut self) -> bool {
        let mut any = false;
        for i in 0..self.nodes.len() {
            if self.has_group(i) {
                any = true;
                let _ = self.commit(i);
            }
        }
        any
    }

    /// A 督办 at node `i`, owed like a window's action.
    pub(super) fn supervise(&mut self, i: usize, case_no: federation_proto::CaseNo) {
        let code = self.nodes[i].code;
        let input = Input::Notice {
            actor: clerk(None),
            case_no,
            note: "请加快办理".into(),
        };
        match self.stage(i, input).and_then(Output::seq) {
            Ok(seq) => self.owe_ack(
                i,
                Ack {
                    node: code,
                    seq,
                    case_no,
                    action: "supervise",
                    lost: false,
                },
            ),
            Err(EngineError::Refused(_)) | Err(EngineError::NotFound(_)) => self.tally.refused += 1,
            Err(e) => self.findings.push(format!("{code}: 督办 failed: {e}")),
        }
    }
}
