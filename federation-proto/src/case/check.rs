//! The rules of the fold (DESIGN.md §3): whether an event may be applied to a case at its
//! place in the fold — who may act (the owner; a seat of the open joint review; an ancestor of
//! the owner for 督办; the accepting window for 补件, withdrawal and rating) and in which states,
//! with which fields. A refused event is kept in the log marked rejected and changes nothing.

use super::{seat_name, Case, Rating, Refusal, Seat};
use crate::{Event, EventBody, EventId, NodeCode, Participant, State};

impl Case {
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
            EventBody::Refuse { reason }
            | EventBody::Suspend { reason, .. }
            | EventBody::Propose { reason, .. } => non_empty("reason", reason),
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
        EventBody::Suspend { .. } | EventBody::Decide { .. } | EventBody::Propose { .. } => {
            &[Accepted, InReview, JointReview]
        }
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
