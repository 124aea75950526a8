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

use federation_proto::{
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

    /// Whether `event` may be applied to the case as it stands. The API calls this before
    /// writing, so a refused action changes nothing.
    pub fn check(&self, event: &Event) -> Result<(), Refusal> {
        let actor = event.id.origin;
        let action = event.body.action();
        if event.case_no != self.case_no {
            return Err(Refusal::Invalid(format!(
                "event is for case {}, not {}",
                event.case_no, self.case_no
            )));
        }
        match &event.body {
            EventBody::Opinion { .. } => return self.check_opinion(event),
            EventBody::Supervise { note } => return self.check_supervise(actor, note),
            EventBody::Rate { satisfaction, .. } => return self.check_rate(actor, *satisfaction),
            EventBody::TakeOver => return self.check_take_over(actor),
            EventBody::AnswerNotice { notice, answer } => {
                return self.check_answer(actor, *notice, answer)
            }
            EventBody::Rectify { note } => return self.check_rectify(actor, note),
            // The applicant comes back to the window where they applied, whoever owns the
            // case by now: materials and a withdrawal are recorded there too.
            EventBody::Supplement { .. } | EventBody::Withdraw if actor == self.accepting_node => {
                return self.check_transition(&event.body)
            }
            _ => {}
        }
        if actor != self.owner {
            return Err(Refusal::NotOwner {
                action,
                owner: self.owner,
                actor,
            });
        }
        self.check_transition(&event.body)
    }

    /// The owner's actions: first whether the state allows the action at all, then its fields.
    fn check_transition(&self, body: &EventBody) -> Result<(), Refusal> {
        if let EventBody::Submit(_) = body {
            return Err(Refusal::Invalid(format!(
                "case {} was already submitted",
                self.case_no
            )));
        }
        if let EventBody::Supplement { materials } = body {
            return self.check_supplement(materials);
        }
        if !allowed_states(body).contains(&self.state) {
            return Err(Refusal::state(body.action(), self.state));
        }
        self.check_fields(body)
    }

    fn check_fields(&self, body: &EventBody) -> Result<(), Refusal> {
        match body {
            EventBody::Refuse { reason } | EventBody::Suspend { reason, .. } => {
                non_empty("reason", reason)
            }
            EventBody::RequestSupplement { materials, reason } => {
                non_empty("reason", reason)?;
                if materials.is_empty() {
                    return Err(Refusal::Invalid("name the materials needed".into()));
                }
                materials.iter().try_for_each(|m| non_empty("material", m))
            }
            EventBody::Forward { to } if *to == self.owner => Err(Refusal::Invalid(
                "cannot forward a case to its owner".into(),
            )),
            EventBody::Return { reason } => {
                non_empty("reason", reason)?;
                match self.previous_owner {
                    Some(_) => Ok(()),
                    None => Err(Refusal::Invalid(
                        "the case was not forwarded here, so there is nowhere to return it".into(),
                    )),
                }
            }
            EventBody::OpenJointReview {
                participants,
                feedback_days,
            } => check_participants(participants, *feedback_days),
            EventBody::Extend { days, reason } => {
                non_empty("reason", reason)?;
                self.check_extend(*days)
            }
            EventBody::Decide {
                approve,
                reason,
                override_reason,
            } => {
                non_empty("reason", reason)?;
                self.check_decide(*approve, override_reason.as_deref())
            }
            EventBody::Pay {
                amount_fen,
                receipt,
            } => {
                non_empty("receipt", receipt)?;
                self.check_pay(*amount_fen)
            }
            EventBody::Certify { certificate_no } => {
                non_empty("certificate_no", certificate_no)?;
                self.check_paid()
            }
            EventBody::Deliver => self.check_paid(),
            _ => Ok(()),
        }
    }

    fn check_supplement(&self, materials: &[String]) -> Result<(), Refusal> {
        let outstanding: Vec<&String> = match self.state {
            State::AwaitingSupplement => self.missing.iter().collect(),
            s if s.is_open() => self.owed.iter().chain(&self.requested).collect(),
            s => return Err(Refusal::state("supplement", s)),
        };
        if outstanding.is_empty() {
            return Err(Refusal::Invalid("no materials are outstanding".into()));
        }
        if !materials.iter().any(|m| outstanding.contains(&m)) {
            let needed: Vec<&str> = outstanding.iter().map(|m| m.as_str()).collect();
            return Err(Refusal::Invalid(format!(
                "none of these is outstanding; still needed: {}",
                needed.join("、")
            )));
        }
        Ok(())
    }

    fn check_extend(&self, days: u16) -> Result<(), Refusal> {
        if self.extension_days > 0 {
            return Err(Refusal::Invalid(
                "the legal deadline was already extended once (行政许可法 art. 42)".into(),
            ));
        }
        if days == 0 || days > self.legal_days.max(10) {
            return Err(Refusal::Invalid(format!(
                "an extension must be 1 to {} working days",
                self.legal_days.max(10)
            )));
        }
        Ok(())
    }

    fn check_decide(&self, approve: bool, override_reason: Option<&str>) -> Result<(), Refusal> {
        if !self.owner_decides() {
            return Err(Refusal::Authority(format!(
                "item {} is decided at {} level; {} is a {} node: forward the case",
                self.item,
                self.deciding_level.as_str(),
                self.owner,
                self.owner.level().as_str()
            )));
        }
        if let Some(joint) = &self.joint {
            if self.state == State::JointReview {
                let waiting: Vec<String> = joint.waiting().map(seat_name).collect();
                if !waiting.is_empty() {
                    return Err(Refusal::Invalid(format!(
                        "the joint review still waits for: {}",
                        waiting.join(", ")
                    )));
                }
                let disagrees = joint
                    .seats
                    .iter()
                    .any(|s| s.opinion.as_ref().is_some_and(|o| !o.agree));
                if approve && disagrees && override_reason.is_none_or(|r| r.trim().is_empty()) {
                    return Err(Refusal::Invalid(
                        "a participant disagreed: approving needs an override_reason".into(),
                    ));
                }
            }
        }
        if approve && !self.owed.is_empty() {
            return Err(Refusal::Invalid(format!(
                "materials owed under 容缺受理 must be supplied before approval: {}",
                self.owed.join("、")
            )));
        }
        if approve && !self.requested.is_empty() {
            return Err(Refusal::Invalid(format!(
                "the requested materials (补件) must be supplied before approval: {}",
                self.requested.join("、")
            )));
        }
        Ok(())
    }

    fn check_pay(&self, amount_fen: u64) -> Result<(), Refusal> {
        if self.fee_fen == 0 {
            return Err(Refusal::Invalid("this item has no fee".into()));
        }
        if self.payment.is_some() {
            return Err(Refusal::Invalid("the fee was already paid".into()));
        }
        if amount_fen != self.fee_fen {
            return Err(Refusal::Invalid(format!(
                "the fee is {} fen, not {amount_fen}",
                self.fee_fen
            )));
        }
        Ok(())
    }

    fn check_paid(&self) -> Result<(), Refusal> {
        let approved = self.decision.as_ref().is_some_and(|d| d.approve);
        if approved && self.fee_fen > 0 && self.payment.is_none() {
            return Err(Refusal::Invalid(format!(
                "the fee of {} fen must be paid first",
                self.fee_fen
            )));
        }
        Ok(())
    }

    fn check_opinion(&self, event: &Event) -> Result<(), Refusal> {
        if self.state != State::JointReview {
            return Err(Refusal::state("opinion", self.state));
        }
        let seat = self.seat_of(event).ok_or_else(|| {
            Refusal::Authority(format!(
                "{} ({}) is not a participant of this joint review",
                event.id.origin,
                event.actor.department.as_deref().unwrap_or("no department")
            ))
        })?;
        if seat.opinion.is_some() {
            return Err(Refusal::Invalid(format!(
                "{} has already given its opinion",
                seat_name(&seat.participant)
            )));
        }
        Ok(())
    }

    fn seat_of(&self, event: &Event) -> Option<&Seat> {
        let department = event.actor.department.as_deref()?;
        self.joint.as_ref()?.seats.iter().find(|s| {
            s.participant.node == event.id.origin && s.participant.department == department
        })
    }

    fn check_supervise(&self, actor: NodeCode, note: &str) -> Result<(), Refusal> {
        non_empty("note", note)?;
        if !actor.is_ancestor_of(self.owner) {
            return Err(Refusal::Authority(format!(
                "督办 must come from an ancestor of the owner {}; {actor} is not one",
                self.owner
            )));
        }
        Ok(())
    }

    fn check_rate(&self, actor: NodeCode, satisfaction: u8) -> Result<(), Refusal> {
        if actor != self.accepting_node {
            return Err(Refusal::Authority(format!(
                "a rating is recorded only at the accepting node {}",
                self.accepting_node
            )));
        }
        if !self.state.is_concluded() {
            return Err(Refusal::state("rate", self.state));
        }
        if !(1..=5).contains(&satisfaction) {
            return Err(Refusal::Invalid(
                "satisfaction must be 1 (非常满意) to 5 (非常不满意)".into(),
            ));
        }
        if self.rating.is_some() {
            return Err(Refusal::Invalid("the case was already rated".into()));
        }
        Ok(())
    }

    fn check_answer(&self, actor: NodeCode, notice: EventId, answer: &str) -> Result<(), Refusal> {
        non_empty("answer", answer)?;
        if actor != self.owner {
            return Err(Refusal::NotOwner {
                action: "answer_notice",
                owner: self.owner,
                actor,
            });
        }
        match self.notices.iter().find(|n| n.id == notice) {
            None => Err(Refusal::Invalid(format!(
                "case {} has no 督办 notice {}:{}",
                self.case_no, notice.origin, notice.seq
            ))),
            Some(n) if n.answer.is_some() => {
                Err(Refusal::Invalid("that notice was already answered".into()))
            }
            Some(_) => Ok(()),
        }
    }

    /// The rectification of a 差评 is recorded by the owner or at the window that took the
    /// rating.
    fn check_rectify(&self, actor: NodeCode, note: &str) -> Result<(), Refusal> {
        non_empty("note", note)?;
        if actor != self.owner && actor != self.accepting_node {
            return Err(Refusal::Authority(format!(
                "a rectification is recorded by the owner {} or the accepting node {}",
                self.owner, self.accepting_node
            )));
        }
        if !self.rating.as_ref().is_some_and(Rating::is_bad) {
            return Err(Refusal::Invalid(
                "only a 差评 (satisfaction 4 or 5) opens a rectification".into(),
            ));
        }
        if self.rectified_on.is_some() {
            return Err(Refusal::Invalid(
                "the rectification was already recorded".into(),
            ));
        }
        Ok(())
    }

    fn check_take_over(&self, actor: NodeCode) -> Result<(), Refusal> {
        if self.state != State::InTransit {
            return Err(Refusal::state("take_over", self.state));
        }
        if self.forwarded_to != Some(actor) {
            return Err(Refusal::Authority(format!(
                "the case was forwarded to {}, not {actor}",
                self.forwarded_to.map_or("nobody".into(), |c| c.to_string())
            )));
        }
        Ok(())
    }

    /// The effect of an event already checked.
    fn effect(&mut self, event: &Event) {
        let on = event.date();
        match &event.body {
            EventBody::Submit(_) => {}
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

/// The states in which the owner may take an action (not used for submit and supplement, whose
/// rules depend on more than the state, nor for the actions of non-owners).
fn allowed_states(body: &EventBody) -> &'static [State] {
    use State::*;
    match body {
        EventBody::Refuse { .. } => &[AwaitingSupplement, Accepted],
        EventBody::Review => &[Accepted],
        EventBody::RequestSupplement { .. } => &[Accepted, InReview],
        EventBody::Forward { .. } => &[Accepted, InReview, Approved, Denied, Certified],
        EventBody::Return { .. } | EventBody::OpenJointReview { .. } => &[Accepted, InReview],
        EventBody::Suspend { .. } | EventBody::Decide { .. } => &[Accepted, InReview, JointReview],
        EventBody::Resume => &[Suspended],
        EventBody::Extend { .. } => &[Accepted, InReview, JointReview, Suspended],
        EventBody::Pay { .. } | EventBody::Certify { .. } => &[Approved],
        EventBody::Deliver => &[Approved, Certified, Denied],
        EventBody::Withdraw => &[
            AwaitingSupplement,
            Accepted,
            InReview,
            JointReview,
            Suspended,
            InTransit,
        ],
        EventBody::Submit(_)
        | EventBody::Supplement { .. }
        | EventBody::Opinion { .. }
        | EventBody::Supervise { .. }
        | EventBody::AnswerNotice { .. }
        | EventBody::Rectify { .. }
        | EventBody::Rate { .. }
        | EventBody::TakeOver => &[],
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

fn non_empty(field: &str, value: &str) -> Result<(), Refusal> {
    if value.trim().is_empty() {
        Err(Refusal::Invalid(format!("{field} must not be empty")))
    } else {
        Ok(())
    }
}

fn check_participants(participants: &[Participant], feedback_days: u16) -> Result<(), Refusal> {
    if participants.is_empty() {
        return Err(Refusal::Invalid("a joint review needs participants".into()));
    }
    if feedback_days == 0 {
        return Err(Refusal::Invalid("feedback_days must be at least 1".into()));
    }
    for (i, p) in participants.iter().enumerate() {
        non_empty("participant department", &p.department)?;
        if participants[..i].contains(p) {
            return Err(Refusal::Invalid(format!(
                "participant {} is listed twice",
                seat_name(p)
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod script;
#[cfg(test)]
mod tests;
