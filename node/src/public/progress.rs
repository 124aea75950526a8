//! 办件进度查询: what an applicant sees of their case — where it stands, its dates, what it
//! waits for, and its steps — without any staff name, any other person's data, or the
//! supervision internals (warnings, 督办). The same fold gives the same answer at every node
//! involved in the case.

use federation_proto::{CaseNo, Date, NodeCode, State};
use serde::Serialize;

use crate::api::view::timestamp;
use crate::case::Case;
use crate::deadline::Clocks;

/// The answer to a lookup.
#[derive(Debug, Serialize)]
pub struct Progress {
    pub case_no: CaseNo,
    pub item: String,
    pub item_name: String,
    pub state: &'static str,
    pub submitted_on: Date,
    pub accepted_on: Option<Date>,
    /// The promised deadline (承诺办结期限).
    pub deadline: Option<Date>,
    pub legal_deadline: Option<Date>,
    pub concluded_on: Option<Date>,
    /// What the case waits for now.
    pub awaiting: Awaiting,
    /// Materials the applicant still owes: missing (补正), 容缺, asked for later (补件).
    pub materials_owed: Vec<String>,
    pub decision: Option<DecisionView>,
    /// The fee to pay, in fen, while it is unpaid after approval.
    pub fee_due_fen: Option<u64>,
    pub certificate_no: Option<String>,
    /// The applicant rated the case already (one rating per case).
    pub rated: bool,
    /// The steps that took effect, oldest first: when, what, where — never who.
    pub steps: Vec<Step>,
}

/// What the case waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Awaiting {
    /// Materials from the applicant (补正 before acceptance, 补件 after).
    Applicant,
    /// The center's review and decision.
    Review,
    /// The opinions of a joint review (联审).
    JointReview,
    /// A special procedure (hearing, inspection…), its time not counted.
    SpecialProcedure,
    /// Handed between centers.
    Transfer,
    /// The fee, before the certificate.
    Payment,
    /// The applicant collecting the result.
    Pickup,
    /// Nothing: the case is finished.
    Nothing,
}

#[derive(Debug, Serialize)]
pub struct DecisionView {
    pub approve: bool,
    pub reason: String,
}

#[derive(Debug, Serialize)]
pub struct Step {
    pub at: String,
    pub action: String,
    pub node: NodeCode,
}

impl Progress {
    pub fn of(case: &Case, clocks: &Clocks) -> Progress {
        let fee_due =
            (case.fee_fen > 0 && case.payment.is_none() && matches!(case.state, State::Approved))
                .then_some(case.fee_fen);
        Progress {
            case_no: case.case_no,
            item: case.item.clone(),
            item_name: case.item_name.clone(),
            state: case.state.as_str(),
            submitted_on: case.submitted_on,
            accepted_on: case.accepted_on,
            deadline: clocks.promised,
            legal_deadline: clocks.legal,
            concluded_on: case.concluded_on,
            awaiting: awaiting(case, fee_due.is_some()),
            materials_owed: case
                .missing
                .iter()
                .chain(&case.owed)
                .chain(&case.requested)
                .cloned()
                .collect(),
            decision: case.decision.as_ref().map(|d| DecisionView {
                approve: d.approve,
                reason: d.reason.clone(),
            }),
            fee_due_fen: fee_due,
            certificate_no: case.certificate_no.clone(),
            rated: case.rating.is_some(),
            steps: case
                .log
                .iter()
                .filter(|e| e.rejected.is_none())
                // Internal records — supervision, a reviewer's proposal awaiting sign-off — are
                // not the applicant's business; the decision itself is.
                .filter(|e| !matches!(e.action.as_str(), "supervise" | "answer_notice" | "propose"))
                .map(|e| Step {
                    at: timestamp(e.hlc.wall_ms),
                    action: e.action.clone(),
                    node: e.id.origin,
                })
                .collect(),
        }
    }
}

fn awaiting(case: &Case, fee_due: bool) -> Awaiting {
    match case.state {
        State::AwaitingSupplement => Awaiting::Applicant,
        State::Suspended if !case.requested.is_empty() => Awaiting::Applicant,
        State::Suspended => Awaiting::SpecialProcedure,
        State::Accepted | State::InReview => Awaiting::Review,
        State::JointReview => Awaiting::JointReview,
        State::InTransit => Awaiting::Transfer,
        State::Approved if fee_due => Awaiting::Payment,
        State::Approved | State::Certified | State::Denied => Awaiting::Pickup,
        State::Delivered | State::NotAccepted | State::Withdrawn => Awaiting::Nothing,
    }
}
