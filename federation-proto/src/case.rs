//! The case (办件) and its fold: a case's state is the fold of its events in `(hlc, origin, seq)`
//! order.
//!
//! Invariants kept here:
//! - **Determinism**: [`Case::fold`] sorts by the fold key before applying, and [`Case::apply`]
//!   depends only on the case so far and the event — never on the local clock, catalog or calendar
//!   — so the same set of events gives the same case on every node.
//! - **Authority** (DESIGN.md §3): state transitions only by the current owner; an opinion only by
//!   a participant of the open joint review; 督办 only by an ancestor of the owner; a rating only at
//!   the accepting node. Two exceptions serve the applicant, who comes back to the window where
//!   they applied: the accepting node may also record a supplement (补件) and a withdrawal (撤回)
//!   while another node owns the case. An event that breaks a rule at its place in the fold is
//!   kept in the log, marked rejected with its reason, and changes nothing else — so a withdrawal
//!   at the window racing a decision upstream ends the same everywhere: whichever comes first in
//!   fold order wins, the other is rejected.
//! - **One writer**: ownership moves only by a forward/return of the owner taken over by the
//!   receiver, so at any point in the fold exactly one node may change the state.
//!
//! Every node must fold alike: a change to a rule here, in [`check`](self) (case/check.rs), in
//! the deadlines or in who is [`Case::involved`] bumps [`crate::frame::FOLD_VERSION`], and nodes
//! of different folds refuse to link.

use crate::{
    Applicant, CaseNo, Date, Event, EventBody, EventId, Hlc, Intake, ItemKind, Level, NodeCode,
    Participant, SpecialProcedure, State,
};
use serde::{Deserialize, Serialize};

/// Why an event may not be applied at its place in the fold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("only the case's owner {owner} may {action}; {actor} is not the owner")]
    NotOwner {
        action: &'static str,
        owner: NodeCode,
        actor: NodeCode,
    },
    #[error("cannot {action} a case that is {state}")]
    WrongState { action: &'static str, state: String },
    #[error("{0}")]
    Authority(String),
    #[error("{0}")]
    Invalid(String),
}

impl Refusal {
    fn state(action: &'static str, state: State) -> Refusal {
        Refusal::WrongState {
            action,
            state: state.as_str().to_string(),
        }
    }
}

/// A period the clock did not run (特别程序 or 补件 after acceptance).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    pub from: Date,
    pub to: Option<Date>,
    /// The special procedure; `None` for 补件, waiting for materials the owner asked for.
    pub procedure: Option<SpecialProcedure>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Opinion {
    pub agree: bool,
    pub comment: String,
    pub on: Date,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seat {
    pub participant: Participant,
    pub opinion: Option<Opinion>,
}

/// An open or finished joint review (联办 / 并联审批).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JointReview {
    pub opened_on: Date,
    pub feedback_days: u16,
    pub seats: Vec<Seat>,
}

impl JointReview {
    fn waiting(&self) -> impl Iterator<Item = &Participant> {
        self.seats
            .iter()
            .filter(|s| s.opinion.is_none())
            .map(|s| &s.participant)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub approve: bool,
    pub reason: String,
    pub override_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub amount_fen: u64,
    pub receipt: String,
}

/// 好差评.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rating {
    pub satisfaction: u8,
    pub comment: String,
    pub on: Date,
}

impl Rating {
    /// GB/T 39046 A.8: 4 不满意 and 5 非常不满意 are 差评 and open a rectification (整改).
    pub fn is_bad(&self) -> bool {
        self.satisfaction >= 4
    }
}

/// A supervision notice (督办) from an ancestor; open until the owner answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// The `supervise` event, which an answer names.
    pub id: EventId,
    pub from: NodeCode,
    pub note: String,
    pub on: Date,
    pub answer: Option<String>,
    pub answered_on: Option<Date>,
}

/// One line of the case's history, including rejected events (kept for audit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub id: EventId,
    pub hlc: Hlc,
    pub action: String,
    pub actor: String,
    pub rejected: Option<String>,
}

/// The materialised state of one case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    pub case_no: CaseNo,
    pub item: String,
    pub item_name: String,
    pub kind: ItemKind,
    pub department: String,
    pub deciding_level: Level,
    pub applicant: Applicant,
    pub accepting_node: NodeCode,
    pub owner: NodeCode,
    pub state: State,
    pub materials: Vec<String>,
    /// Core materials still missing (补正): the clock has not started.
    pub missing: Vec<String>,
    /// Non-core materials owed under 容缺受理.
    pub owed: Vec<String>,
    /// Materials the owner asked for after acceptance (补件); due before approval.
    pub requested: Vec<String>,
    pub promised_days: u16,
    pub legal_days: u16,
    pub fee_fen: u64,
    /// A 上报件's first-review limit (初审) in working days; 0 for other items.
    pub first_review_days: u16,
    pub submitted_on: Date,
    pub accepted_on: Option<Date>,
    pub concluded_on: Option<Date>,
    /// The day the accepting node first handed the case on: for a 上报件 the end of its
    /// first review (初审) below.
    pub reported_on: Option<Date>,
    pub pauses: Vec<Pause>,
    pub extension_days: u16,
    /// The state to return to on `resume` or `take_over`.
    pub resume_to: Option<State>,
    pub forwarded_to: Option<NodeCode>,
    pub previous_owner: Option<NodeCode>,
    /// Every node that has owned the case, in order (the accepting node first).
    pub owners: Vec<NodeCode>,
    pub joint: Option<JointReview>,
    pub decision: Option<Decision>,
    pub payment: Option<Payment>,
    pub certificate_no: Option<String>,
    pub rating: Option<Rating>,
    /// The day the rectification (整改) a 差评 opened was done.
    pub rectified_on: Option<Date>,
    pub notices: Vec<Notice>,
    pub log: Vec<LogEntry>,
}

impl Case {
    /// Folds a set of events into a case. Events are sorted into fold order first, so the
    /// argument's order does not matter. `None` when the set holds no valid submission.
    pub fn fold<'a>(events: impl IntoIterator<Item = &'a Event>) -> Option<Case> {
        let mut events: Vec<&Event> = events.into_iter().collect();
        events.sort_by_key(|e| e.fold_key());
        let start = events.iter().position(|e| Case::open(e).is_some())?;
        let mut case = Case::open(events[start])?;
        for (i, event) in events.iter().enumerate() {
            if i != start {
                case.apply(event);
            }
        }
        case.log.sort_by_key(|l| (l.hlc, l.id.origin, l.id.seq));
        Some(case)
    }

    /// Starts a case from its submission event (受理 or 补正告知).
    pub fn open(event: &Event) -> Option<Case> {
        let EventBody::Submit(intake) = &event.body else {
            return None;
        };
        if event.case_no.node != event.id.origin {
            return None;
        }
        let mut case = Case::from_intake(event, intake);
        case.log.push(log_entry(event, None));
        Some(case)
    }

    fn from_intake(event: &Event, intake: &Intake) -> Case {
        let on = event.date();
        let mut case = Case {
            case_no: event.case_no,
            item: intake.item.clone(),
            item_name: intake.item_name.clone(),
            kind: intake.kind,
            department: intake.department.clone(),
            deciding_level: intake.deciding_level,
            applicant: intake.applicant.clone(),
            accepting_node: event.id.origin,
            owner: event.id.origin,
            state: State::AwaitingSupplement,
            materials: intake.materials.clone(),
            missing: intake.missing.clone(),
            owed: intake.owed.clone(),
            requested: Vec::new(),
            promised_days: intake.promised_days,
            legal_days: intake.legal_days,
            fee_fen: intake.fee_fen,
            first_review_days: intake.first_review_days,
            submitted_on: on,
            accepted_on: None,
            concluded_on: None,
            reported_on: None,
            pauses: Vec::new(),
            extension_days: 0,
            resume_to: None,
            forwarded_to: None,
            previous_owner: None,
            owners: vec![event.id.origin],
            joint: None,
            decision: None,
            payment: None,
            certificate_no: None,
            rating: None,
            rectified_on: None,
            notices: Vec::new(),
            log: Vec::new(),
        };
        if case.missing.is_empty() {
            case.accept(on);
        }
        case
    }

    /// Applies one event at the end of the fold: either its effect, or a rejected log entry.
    pub fn apply(&mut self, event: &Event) {
        let rejected = match self.check(event) {
            Ok(()) => {
                self.effect(event);
                None
            }
            Err(refusal) => Some(refusal.to_string()),
        };
        self.log.push(log_entry(event, rejected));
    }

    /// The effect of an event already checked.
    fn effect(&mut self, event: &Event) {
        let on = event.date();
        match &event.body {
            // A proposal is on record (the log) and waits for the sign-off's `decide`.
            EventBody::Submit(_) | EventBody::Propose { .. } => {}
            EventBody::Supplement { materials } => self.supplement(materials, on),
            EventBody::Refuse { .. } => self.state = State::NotAccepted,
            EventBody::Review => self.state = State::InReview,
            EventBody::Forward { to } => self.hand_over(*to, on),
            EventBody::Return { .. } => {
                if let Some(back) = self.previous_owner {
                    self.hand_over(back, on);
                }
            }
            EventBody::TakeOver => self.take_over(event.id.origin),
            EventBody::OpenJointReview {
                participants,
                feedback_days,
            } => self.open_joint_review(participants, *feedback_days, on),
            EventBody::Opinion { agree, comment } => self.record_opinion(event, *agree, comment),
            EventBody::Suspend { procedure, reason } => self.suspend(Some(*procedure), reason, on),
            EventBody::RequestSupplement { materials, reason } => {
                for m in materials {
                    if !self.requested.contains(m) {
                        self.requested.push(m.clone());
                    }
                }
                self.suspend(None, reason, on);
            }
            EventBody::Resume => self.resume(on),
            EventBody::Extend { days, .. } => self.extension_days = *days,
            EventBody::Decide {
                approve,
                reason,
                override_reason,
            } => self.decide(*approve, reason, override_reason.clone(), on),
            EventBody::Pay {
                amount_fen,
                receipt,
            } => {
                self.payment = Some(Payment {
                    amount_fen: *amount_fen,
                    receipt: receipt.clone(),
                })
            }
            EventBody::Certify { certificate_no } => {
                self.certificate_no = Some(certificate_no.clone());
                self.state = State::Certified;
            }
            EventBody::Deliver => self.state = State::Delivered,
            EventBody::Withdraw => {
                self.close_pause(on);
                self.state = State::Withdrawn;
            }
            EventBody::Rate {
                satisfaction,
                comment,
            } => {
                self.rating = Some(Rating {
                    satisfaction: *satisfaction,
                    comment: comment.clone(),
                    on,
                })
            }
            EventBody::Supervise { note } => self.notices.push(Notice {
                id: event.id,
                from: event.id.origin,
                note: note.clone(),
                on,
                answer: None,
                answered_on: None,
            }),
            EventBody::AnswerNotice { notice, answer } => {
                if let Some(n) = self.notices.iter_mut().find(|n| n.id == *notice) {
                    n.answer = Some(answer.clone());
                    n.answered_on = Some(on);
                }
            }
            EventBody::Rectify { .. } => self.rectified_on = Some(on),
        }
    }

    /// Whether the current owner sits at the item's deciding level (行使层级).
    fn owner_decides(&self) -> bool {
        self.owner.level() == self.deciding_level
    }

    fn accept(&mut self, on: Date) {
        self.accepted_on = Some(on);
        // A 即办 item is decided at once only where it is decided at all; accepted at a lower
        // window (就近办) it waits to be forwarded like any other case.
        if self.kind == ItemKind::Immediate && self.owed.is_empty() && self.owner_decides() {
            self.decide(true, "即办件：当场办结", None, on);
        } else {
            self.state = State::Accepted;
        }
    }

    fn supplement(&mut self, materials: &[String], on: Date) {
        for m in materials {
            if !self.materials.contains(m) {
                self.materials.push(m.clone());
            }
        }
        self.missing.retain(|m| !materials.contains(m));
        self.owed.retain(|m| !materials.contains(m));
        self.requested.retain(|m| !materials.contains(m));
        if self.state == State::AwaitingSupplement && self.missing.is_empty() {
            self.accept(on);
        }
        if self.state == State::Suspended && self.requested.is_empty() && self.waits_for_materials()
        {
            self.resume(on);
        }
    }

    /// Whether the open pause is a 补件 (and not a special procedure).
    fn waits_for_materials(&self) -> bool {
        self.pauses
            .last()
            .is_some_and(|p| p.to.is_none() && p.procedure.is_none())
    }

    fn hand_over(&mut self, to: NodeCode, on: Date) {
        if self.owner == self.accepting_node && self.reported_on.is_none() {
            self.reported_on = Some(on);
        }
        self.resume_to = Some(self.state);
        self.forwarded_to = Some(to);
        self.state = State::InTransit;
    }

    fn take_over(&mut self, receiver: NodeCode) {
        self.previous_owner = Some(self.owner);
        if !self.owners.contains(&receiver) {
            self.owners.push(receiver);
        }
        self.owner = receiver;
        self.forwarded_to = None;
        // An undecided case starts afresh at its new owner; a decided one keeps its result.
        self.state = match self.resume_to.take() {
            Some(s) if s.is_concluded() => s,
            _ => State::Accepted,
        };
    }

    fn open_joint_review(&mut self, participants: &[Participant], feedback_days: u16, on: Date) {
        self.joint = Some(JointReview {
            opened_on: on,
            feedback_days,
            seats: participants
                .iter()
                .map(|p| Seat {
                    participant: p.clone(),
                    opinion: None,
                })
                .collect(),
        });
        self.state = State::JointReview;
    }

    fn record_opinion(&mut self, event: &Event, agree: bool, comment: &str) {
        let on = event.date();
        let Some(department) = event.actor.department.as_deref() else {
            return;
        };
        let origin = event.id.origin;
        if let Some(joint) = self.joint.as_mut() {
            for seat in &mut joint.seats {
                if seat.participant.node == origin && seat.participant.department == department {
                    seat.opinion = Some(Opinion {
                        agree,
                        comment: comment.to_string(),
                        on,
                    });
                }
            }
        }
    }

    fn suspend(&mut self, procedure: Option<SpecialProcedure>, reason: &str, on: Date) {
        self.resume_to = Some(self.state);
        self.state = State::Suspended;
        self.pauses.push(Pause {
            from: on,
            to: None,
            procedure,
            reason: reason.to_string(),
        });
    }

    fn resume(&mut self, on: Date) {
        self.close_pause(on);
        self.state = self.resume_to.take().unwrap_or(State::InReview);
    }

    fn close_pause(&mut self, on: Date) {
        if let Some(p) = self.pauses.last_mut().filter(|p| p.to.is_none()) {
            p.to = Some(on);
        }
    }

    fn decide(&mut self, approve: bool, reason: &str, override_reason: Option<String>, on: Date) {
        self.decision = Some(Decision {
            approve,
            reason: reason.to_string(),
            override_reason,
        });
        self.concluded_on = Some(on);
        self.state = if approve {
            State::Approved
        } else {
            State::Denied
        };
    }
}

impl Case {
    /// Where a `forward` without a target goes from `node`: a decided case back down to the
    /// accepting window, which certifies and delivers the result; any other case up to the
    /// ancestor at the item's deciding level.
    pub fn default_forward(&self, node: NodeCode) -> Option<NodeCode> {
        match self.decision {
            Some(_) => (node != self.accepting_node).then_some(self.accepting_node),
            None => node.ancestor_at(self.deciding_level),
        }
    }

    /// Whether the joint review still waits for opinions (it may be suspended meanwhile).
    pub fn joint_review_open(&self) -> bool {
        self.joint.is_some() && matches!(self.state, State::JointReview | State::Suspended)
    }

    /// The nodes involved in the case (DESIGN.md §4): the accepting node, every owner, the node
    /// a forward is addressed to, and the nodes of joint-review participants. They hold its full
    /// events — and so the applicant's identity; nobody else does.
    pub fn involved(&self) -> Vec<NodeCode> {
        let mut nodes = self.owners.clone();
        nodes.extend(self.forwarded_to);
        if let Some(joint) = &self.joint {
            nodes.extend(joint.seats.iter().map(|s| s.participant.node));
        }
        let mut seen = Vec::with_capacity(nodes.len());
        for n in nodes {
            if !seen.contains(&n) {
                seen.push(n);
            }
        }
        seen
    }
}

fn log_entry(event: &Event, rejected: Option<String>) -> LogEntry {
    LogEntry {
        id: event.id,
        hlc: event.hlc,
        action: event.body.action().to_string(),
        actor: event.actor.name.clone(),
        rejected,
    }
}

fn seat_name(p: &Participant) -> String {
    format!("{} {}", p.node, p.department)
}

mod check;
#[cfg(test)]
pub(crate) mod script;
#[cfg(test)]
mod tests;
