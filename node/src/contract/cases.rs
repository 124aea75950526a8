//! Cases (办件): the application that opens one, the case view, its short form in a batch's
//! answer, a page of the case list, an action's body and 督办 from above.

use federation_proto::{
    Applicant, ApplicantKind, CaseNo, CaseSummary, Date, ItemKind, NodeCode, State, Warning,
};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use super::foreign::{
    ApplicantKindSchema, CaseNoSchema, CaseSummarySchema, DateSchema, DecisionSchema,
    ItemKindSchema, NodeCodeSchema, NoticeSchema, OpinionSchema, PaymentSchema, RatingSchema,
    StateSchema, TimestampSchema, WarningSchema,
};
use crate::case::{Decision, Notice, Opinion, Payment, Rating};

/// The body of `POST /api/v1/cases` (受理), and of each case of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Application {
    /// The item's code in the catalog (事项编码).
    pub item: String,
    /// Who applies: the resident ID (GB 11643) or credit code (GB 32100) is checked.
    #[schema(value_type = ApplicantInput)]
    pub applicant: Applicant,
    /// The materials handed in, by their catalog names; missing core ones put the case in
    /// 补正 (`awaiting_supplement`).
    #[serde(default)]
    pub materials: Vec<String>,
    /// The accepting department; by default the item's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
}

/// [`Applicant`] as a request gives it (`POST /api/v1/cases`, `POST /api/v1/applicants:check`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ApplicantInput {
    #[schema(value_type = ApplicantKindSchema)]
    kind: ApplicantKind,
    /// The person's or organisation's name.
    name: String,
    /// 18-character resident ID or 统一社会信用代码.
    id: String,
}

/// The body of `POST /api/v1/cases:batch`: 1 to 1 000 applications, checked whole before any
/// is written.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    #[schema(min_items = 1, max_items = 1000)]
    pub cases: Vec<Application>,
}

/// The answer of `POST /api/v1/cases:batch` (201): every case in the batch's order, once all
/// are durable.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct BatchAnswer {
    pub cases: Vec<ShortView>,
}

/// A case in a batch's answer: enough to file its number against the application and see
/// what intake made of it — without the applicant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct ShortView {
    #[schema(value_type = CaseNoSchema)]
    pub case_no: CaseNo,
    pub item: String,
    pub department: String,
    #[schema(value_type = StateSchema)]
    pub state: State,
    #[schema(value_type = Option<DateSchema>)]
    pub accepted_on: Option<Date>,
    /// The promised deadline (承诺时限); null before acceptance (补正).
    #[schema(value_type = Option<DateSchema>)]
    pub deadline: Option<Date>,
    /// The legal deadline (法定时限); null before acceptance.
    #[schema(value_type = Option<DateSchema>)]
    pub legal_deadline: Option<Date>,
    /// Core materials still missing (补正): the clock has not started.
    pub missing: Vec<String>,
    /// Non-core materials owed under 容缺受理.
    pub owed: Vec<String>,
}

/// The applicant as a case view shows it: whole, or masked for a clerk of another department
/// (the name keeps its first character, the number its first and last four; the kind stays).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct ApplicantView {
    #[schema(value_type = ApplicantKindSchema)]
    pub kind: ApplicantKind,
    pub name: String,
    /// Resident ID or 统一社会信用代码.
    pub id: String,
}

impl ApplicantView {
    /// The identity as it is.
    pub fn full(applicant: &Applicant) -> ApplicantView {
        ApplicantView {
            kind: applicant.kind,
            name: applicant.name.clone(),
            id: applicant.id.clone(),
        }
    }

    /// The identity masked ([`crate::api::privacy::mask_name`], [`crate::api::privacy::mask_id`]).
    pub fn masked(applicant: &Applicant) -> ApplicantView {
        let mut view = ApplicantView::full(applicant);
        view.mask();
        view
    }

    /// Masks the name and the number in place.
    pub fn mask(&mut self) {
        self.name = crate::api::privacy::mask_name(&self.name);
        self.id = crate::api::privacy::mask_id(&self.id);
    }
}

/// The case view (API.md "Case view"): a case and its clocks as of today, as window software
/// and dashboards see it. Served only by the nodes involved in the case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct CaseView {
    #[schema(value_type = CaseNoSchema)]
    pub case_no: CaseNo,
    /// The item's code (事项编码).
    pub item: String,
    pub item_name: String,
    #[schema(value_type = ItemKindSchema)]
    pub kind: ItemKind,
    /// The department the case belongs to.
    pub department: String,
    #[schema(value_type = StateSchema)]
    pub state: State,
    #[schema(value_type = NodeCodeSchema)]
    pub accepting_node: NodeCode,
    /// The node that owns the case now.
    #[schema(value_type = NodeCodeSchema)]
    pub owner: NodeCode,
    /// Whole, or masked when `applicant_masked`.
    pub applicant: ApplicantView,
    /// The identity is masked: a clerk of another department, or a read that could not be
    /// audited.
    pub applicant_masked: bool,
    /// The joint review's seats (联审), in seat order.
    pub participants: Vec<ParticipantView>,
    #[schema(value_type = DateSchema)]
    pub submitted_on: Date,
    #[schema(value_type = Option<DateSchema>)]
    pub accepted_on: Option<Date>,
    /// The promised deadline (承诺时限); null only before acceptance (补正).
    #[schema(value_type = Option<DateSchema>)]
    pub deadline: Option<Date>,
    /// The legal deadline (法定时限); null only before acceptance.
    #[schema(value_type = Option<DateSchema>)]
    pub legal_deadline: Option<Date>,
    #[schema(value_type = Option<DateSchema>)]
    pub concluded_on: Option<Date>,
    /// The promised clock's warning.
    #[schema(value_type = WarningSchema)]
    pub warning: Warning,
    /// The legal clock's warning.
    #[schema(value_type = WarningSchema)]
    pub legal_warning: Warning,
    /// Counted over a year without its State Council notice (暂定): the dates may move when
    /// the notice is loaded.
    pub provisional: bool,
    /// Working days from acceptance to conclusion, paused days not counted (办理用时).
    pub working_days: Option<u32>,
    /// Working days left until the promised deadline.
    pub remaining_days: Option<u32>,
    /// Days the clock did not run (特别程序, 补件).
    pub paused_days: u32,
    /// Working days added by `extend` (延期).
    pub extension_days: u16,
    /// The joint review's feedback deadline (限时反馈).
    #[schema(value_type = Option<DateSchema>)]
    pub feedback_due: Option<Date>,
    /// The latest seat's feedback warning.
    #[schema(value_type = Option<WarningSchema>)]
    pub feedback_warning: Option<Warning>,
    /// The day the accepting node first handed the case on (a 上报件's first review done).
    #[schema(value_type = Option<DateSchema>)]
    pub reported_on: Option<Date>,
    /// A 上报件's first review (初审): due date.
    #[schema(value_type = Option<DateSchema>)]
    pub first_review_due: Option<Date>,
    #[schema(value_type = Option<WarningSchema>)]
    pub first_review_warning: Option<Warning>,
    /// Materials handed in.
    pub materials: Vec<String>,
    /// Core materials still missing (补正).
    pub missing: Vec<String>,
    /// Non-core materials owed under 容缺受理.
    pub owed: Vec<String>,
    /// Materials the owner asked for after acceptance (补件).
    pub requested: Vec<String>,
    /// The fee, in fen.
    pub fee_fen: u64,
    #[schema(value_type = Option<PaymentSchema>)]
    pub payment: Option<Payment>,
    pub certificate_no: Option<String>,
    #[schema(value_type = Option<DecisionSchema>)]
    pub decision: Option<Decision>,
    /// 网上签批: a decision was proposed (拟办) and awaits its sign-off.
    pub pending_sign_off: bool,
    /// 好差评.
    #[schema(value_type = Option<RatingSchema>)]
    pub rating: Option<Rating>,
    /// The rectification (整改) a 差评 opened: due date.
    #[schema(value_type = Option<DateSchema>)]
    pub rectification_due: Option<Date>,
    #[schema(value_type = Option<WarningSchema>)]
    pub rectification_warning: Option<Warning>,
    #[schema(value_type = Option<DateSchema>)]
    pub rectified_on: Option<Date>,
    /// 督办 notices on the case and their answers.
    #[schema(value_type = Vec<NoticeSchema>)]
    pub notices: Vec<Notice>,
    #[schema(value_type = Option<NodeCodeSchema>)]
    pub forwarded_to: Option<NodeCode>,
    /// The case's history, rejected events included.
    pub events: Vec<EventView>,
    /// Only in `GET /api/v1/cases/{case_no}`, of a case refused at intake (不予受理): the
    /// written reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// Only in `GET /api/v1/cases/{case_no}`, while a proposed decision awaits its sign-off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposal: Option<Proposal>,
}

/// A seat of the joint review (联审).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct ParticipantView {
    /// The seat's node code.
    pub node: String,
    pub department: String,
    /// Absent until the seat answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<OpinionSchema>)]
    pub opinion: Option<Opinion>,
    /// The seat's feedback clock (限时反馈): red when it answered late or is late now.
    #[schema(value_type = Option<WarningSchema>)]
    pub feedback: Option<Warning>,
}

/// One line of a case's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct EventView {
    /// The node that wrote the event.
    #[schema(value_type = NodeCodeSchema)]
    pub origin: NodeCode,
    /// Its sequence at that node.
    pub seq: u64,
    /// The action, as `POST .../actions` names it (`submit` for the intake).
    pub action: String,
    /// Who did it: an operator's name, `B（代A）` for a stand-in.
    pub actor: String,
    #[schema(value_type = TimestampSchema)]
    pub at: String,
    /// Why the event did not take effect, when it did not (kept for audit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<String>,
}

/// A decision proposed (拟办意见) and awaiting its sign-off (网上签批).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct Proposal {
    pub approve: bool,
    pub reason: String,
    /// Who proposed it.
    pub by: String,
    #[schema(value_type = TimestampSchema)]
    pub at: String,
}

/// One page of `GET /api/v1/cases`, in case-number order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct CasePage {
    pub cases: Vec<CaseView>,
    /// The cursor for `after` when more may follow; null at the end.
    #[schema(value_type = Option<CaseNoSchema>)]
    pub next: Option<CaseNo>,
}

/// One page of `GET /api/v1/summaries`, in case-number order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct SummaryPage {
    #[schema(value_type = Vec<CaseSummarySchema>)]
    pub summaries: Vec<CaseSummary>,
    #[schema(value_type = Option<CaseNoSchema>)]
    pub next: Option<CaseNo>,
}

/// The answer to a 督办 (`supervise`) on a case this node supervises but does not serve: the
/// notice goes to the owner, and its answer comes back in the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct NoticeSent {
    #[schema(value_type = CaseNoSchema)]
    pub case_no: CaseNo,
    #[schema(value_type = NodeCodeSchema)]
    pub owner: NodeCode,
    /// The notice's event here.
    pub notice: NoticeId,
    #[schema(value_type = CaseSummarySchema)]
    pub summary: CaseSummary,
}

/// An event of this node: `(origin, seq)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct NoticeId {
    #[schema(value_type = NodeCodeSchema)]
    pub origin: NodeCode,
    pub seq: u64,
}

/// What `POST /api/v1/cases/{case_no}/actions` answers: the case view after the action — or,
/// for a 督办 on a case supervised from above, the notice sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum ActionAnswer {
    Case(Box<CaseView>),
    NoticeSent(Box<NoticeSent>),
}

/// The body of `POST /api/v1/cases/{case_no}/actions`: `{"action": NAME, ...fields}` — the
/// fields of each action as API.md lists them (`decide {approve, reason}`, …). Parsed by the
/// node into the core's event body; a client builds it with [`ActionRequest::new`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRequest {
    pub action: String,
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl ActionRequest {
    pub fn new(action: &str) -> ActionRequest {
        ActionRequest {
            action: action.to_string(),
            fields: serde_json::Map::new(),
        }
    }

    /// Adds a field.
    pub fn with(mut self, field: &str, value: impl Into<serde_json::Value>) -> ActionRequest {
        self.fields.insert(field.to_string(), value.into());
        self
    }
}

impl PartialSchema for ActionRequest {
    fn schema() -> RefOr<Schema> {
        let action = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(crate::api::ACTIONS.iter().copied()))
            .description(Some("The action's name."));
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "{\"action\": NAME, ...fields}: the action and its fields, as API.md lists them \
                 (e.g. decide {approve, reason}, forward {to?}, supervise {note}).",
            ))
            .property("action", action)
            .required("action")
            .additional_properties(Some(
                utoipa::openapi::schema::AdditionalProperties::FreeForm(true),
            ))
            .into()
    }
}

impl ToSchema for ActionRequest {}

/// The answer of `POST /api/v1/applicants:check` when the identity is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct CheckAnswer {
    /// Always true (an invalid identity is a 422 `invalid_applicant`).
    pub ok: bool,
}
