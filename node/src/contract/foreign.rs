//! The OpenAPI schemas of the types the contract takes from the pure core (`federation-proto`)
//! as they are — [`NodeCode`], [`Date`], [`CaseNo`], the states and warnings, [`CaseSummary`],
//! the catalog's items, … — which serialize correctly already and are not copied into the
//! contract. The core does not depend on utoipa, so their schemas are described here: scalars
//! and enumerations by hand (the enumerations' values taken from the core's own serde names),
//! structures by a schema-only shadow (`*Schema`, never built) named as the type it describes.
//! `tests/contract.rs` validates live answers against these schemas, whose objects are closed
//! (`additionalProperties: false`, see [`crate::api::openapi`]): a field added to the core's type
//! and not here fails it.

use std::borrow::Cow;

use federation_proto::{
    ApplicantKind, CaseNo, Date, ItemKind, Level, NodeCode, SpecialProcedure, State, Warning,
};
use serde::Serialize;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::operator::Role;

/// A string schema with a description, and a pattern or a format.
fn string(description: &str, pattern: Option<&str>, format: Option<KnownFormat>) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .pattern(pattern)
        .format(format.map(SchemaFormat::KnownFormat))
        .into()
}

/// A string enumeration whose values are the serde names of `variants`.
fn names<T: Serialize>(description: &str, variants: &[T]) -> RefOr<Schema> {
    let values: Vec<String> = variants
        .iter()
        .filter_map(|v| match serde_json::to_value(v) {
            Ok(serde_json::Value::String(s)) => Some(s),
            _ => None,
        })
        .collect();
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some(values))
        .into()
}

/// Declares a schema-only type named `$name` whose schema is `$schema`.
macro_rules! foreign_schema {
    ($(#[$doc:meta])* $shadow:ident as $name:literal => $schema:expr) => {
        $(#[$doc])*
        pub enum $shadow {}

        impl PartialSchema for $shadow {
            fn schema() -> RefOr<Schema> {
                $schema
            }
        }

        impl ToSchema for $shadow {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

foreign_schema!(
    /// [`NodeCode`]: a node's administrative division code (行政区划代码), as digits.
    NodeCodeSchema as "NodeCode" => string(
        "A node's administrative division code (行政区划代码): 2 digits for a province, 4 a city, 6 a county, 9 a township, 12 a village.",
        Some("^[0-9]{2,12}$"),
        None,
    )
);
foreign_schema!(
    /// [`Date`]: a day, `YYYY-MM-DD`.
    DateSchema as "Date" => string("A day, YYYY-MM-DD (China Standard Time).", None, Some(KnownFormat::Date))
);
foreign_schema!(
    /// [`CaseNo`]: `NODE-YYYYMMDD-NNNNNN`.
    CaseNoSchema as "CaseNo" => string(
        "A case number (办件编号): the accepting node's code, the day of acceptance and a sequence, NODE-YYYYMMDD-NNNNNN.",
        Some("^[0-9]{2,12}-[0-9]{8}-[0-9]{6}$"),
        None,
    )
);
foreign_schema!(
    /// RFC 3339 in China Standard Time.
    TimestampSchema as "Timestamp" => string(
        "A moment, RFC 3339 in China Standard Time, e.g. 2025-09-30T10:00:00.000+08:00.",
        None,
        Some(KnownFormat::DateTime),
    )
);
foreign_schema!(
    /// [`State`].
    StateSchema as "State" => names("A case's state (办件状态).", &State::ALL)
);
foreign_schema!(
    /// [`Warning`].
    WarningSchema as "Warning" => names(
        "A clock's warning level (预警): green, yellow (close to the deadline), red (past it).",
        &[Warning::Green, Warning::Yellow, Warning::Red],
    )
);
foreign_schema!(
    /// [`Role`].
    RoleSchema as "Role" => names(
        "An operator's role: admin, supervisor, clerk (窗口人员) or chief (首席代表).",
        &[Role::Admin, Role::Supervisor, Role::Clerk, Role::Chief],
    )
);
foreign_schema!(
    /// [`ItemKind`].
    ItemKindSchema as "ItemKind" => names(
        "How an item is handled (办件类型): immediate 即办件, promised 承诺件, joint 联办件, report_up 上报件.",
        &[ItemKind::Immediate, ItemKind::Promised, ItemKind::Joint, ItemKind::ReportUp],
    )
);
foreign_schema!(
    /// [`ApplicantKind`].
    ApplicantKindSchema as "ApplicantKind" => names(
        "A person (resident ID) or an organisation (统一社会信用代码).",
        &[ApplicantKind::Person, ApplicantKind::Org],
    )
);
foreign_schema!(
    /// [`Level`].
    LevelSchema as "Level" => names(
        "An administrative level (行使层级).",
        &[Level::Province, Level::City, Level::County, Level::Township, Level::Village],
    )
);
foreign_schema!(
    /// [`SpecialProcedure`].
    SpecialProcedureSchema as "SpecialProcedure" => names(
        "A special procedure (特别程序) whose time is not counted.",
        &[
            SpecialProcedure::Hearing,
            SpecialProcedure::Bidding,
            SpecialProcedure::Auction,
            SpecialProcedure::Inspection,
            SpecialProcedure::Testing,
            SpecialProcedure::Quarantine,
            SpecialProcedure::Appraisal,
            SpecialProcedure::ExpertReview,
            SpecialProcedure::SiteSurvey,
        ],
    )
);

// Structures of the core, described field by field. Never built: only their schemas are used.

/// [`crate::case::Opinion`]: a joint-review seat's answer.
#[derive(ToSchema)]
#[schema(as = Opinion)]
#[allow(dead_code)]
pub struct OpinionSchema {
    agree: bool,
    comment: String,
    #[schema(value_type = DateSchema)]
    on: Date,
}

/// [`crate::case::Payment`]: the fee paid.
#[derive(ToSchema)]
#[schema(as = Payment)]
#[allow(dead_code)]
pub struct PaymentSchema {
    /// In fen (分).
    amount_fen: u64,
    receipt: String,
}

/// [`crate::case::Decision`]: the decision taken.
#[derive(ToSchema)]
#[schema(as = Decision)]
#[allow(dead_code)]
pub struct DecisionSchema {
    approve: bool,
    reason: String,
    /// Why a decision was taken over a disagreeing joint review.
    override_reason: Option<String>,
}

/// [`crate::case::Rating`]: 好差评.
#[derive(ToSchema)]
#[schema(as = Rating)]
#[allow(dead_code)]
pub struct RatingSchema {
    /// 1 非常满意 … 5 非常不满意 (GB/T 39046 A.8).
    #[schema(minimum = 1, maximum = 5)]
    satisfaction: u8,
    comment: String,
    #[schema(value_type = DateSchema)]
    on: Date,
}

/// [`federation_proto::EventId`]: an event across the federation.
#[derive(ToSchema)]
#[schema(as = EventId)]
#[allow(dead_code)]
pub struct EventIdSchema {
    #[schema(value_type = NodeCodeSchema)]
    origin: NodeCode,
    seq: u64,
}

/// [`crate::case::Notice`]: a 督办 on the case.
#[derive(ToSchema)]
#[schema(as = Notice)]
#[allow(dead_code)]
pub struct NoticeSchema {
    /// The `supervise` event, which `answer_notice` names.
    #[schema(value_type = EventIdSchema)]
    id: (),
    #[schema(value_type = NodeCodeSchema)]
    from: NodeCode,
    note: String,
    #[schema(value_type = DateSchema)]
    on: Date,
    answer: Option<String>,
    #[schema(value_type = Option<DateSchema>)]
    answered_on: Option<Date>,
}

/// [`crate::summary::JointStatus`].
#[derive(ToSchema)]
#[schema(as = JointStatus)]
#[allow(dead_code)]
pub struct JointStatusSchema {
    /// The feedback deadline (限时反馈).
    #[schema(value_type = DateSchema)]
    due: Date,
    /// Participants that have not answered.
    waiting: u16,
    /// Participants late.
    late: u16,
}

/// [`crate::summary::NoticeStatus`].
#[derive(ToSchema)]
#[schema(as = NoticeStatus)]
#[allow(dead_code)]
pub struct NoticeStatusSchema {
    #[schema(value_type = NodeCodeSchema)]
    from: NodeCode,
    #[schema(value_type = DateSchema)]
    on: Date,
    note: String,
    answer: Option<String>,
    #[schema(value_type = Option<DateSchema>)]
    answered_on: Option<Date>,
}

/// [`federation_proto::Hlc`]: a hybrid logical clock reading.
#[derive(ToSchema)]
#[schema(as = Hlc)]
#[allow(dead_code)]
pub struct HlcSchema {
    wall_ms: u64,
    counter: u32,
}

/// [`CaseSummary`]: the status summary of a case (状态摘要) every ancestor keeps — never the
/// applicant's identity.
#[derive(ToSchema)]
#[schema(as = CaseSummary)]
#[allow(dead_code)]
pub struct CaseSummarySchema {
    #[schema(value_type = CaseNoSchema)]
    case_no: CaseNo,
    item: String,
    department: String,
    #[schema(value_type = NodeCodeSchema)]
    accepting_node: NodeCode,
    #[schema(value_type = NodeCodeSchema)]
    owner: NodeCode,
    #[schema(value_type = StateSchema)]
    state: State,
    #[schema(value_type = Option<DateSchema>)]
    accepted_on: Option<Date>,
    /// The promised deadline (承诺时限).
    #[schema(value_type = Option<DateSchema>)]
    deadline: Option<Date>,
    /// The legal deadline (法定时限).
    #[schema(value_type = Option<DateSchema>)]
    legal_deadline: Option<Date>,
    #[schema(value_type = Option<DateSchema>)]
    concluded_on: Option<Date>,
    #[schema(value_type = WarningSchema)]
    warning: Warning,
    #[schema(value_type = WarningSchema)]
    legal_warning: Warning,
    /// Working days from acceptance to conclusion, paused days not counted.
    working_days: Option<u32>,
    /// 容缺 and 补件 materials still outstanding.
    owed: u16,
    #[schema(value_type = Option<JointStatusSchema>)]
    joint: Option<()>,
    /// The applicant's rating (1 非常满意 … 5 非常不满意).
    satisfaction: Option<u8>,
    /// The rectification (整改) a 差评 opened: `[due date, warning]`.
    #[schema(value_type = Option<Vec<String>>)]
    rectification: Option<()>,
    #[schema(value_type = Option<DateSchema>)]
    rectified_on: Option<Date>,
    #[schema(value_type = Vec<NoticeStatusSchema>)]
    notices: Vec<()>,
    /// Counted over a year without its State Council notice: may move when it arrives.
    provisional: bool,
    /// Events of the fold behind this summary.
    events: u32,
    /// The writer's clock when it wrote this summary.
    #[schema(value_type = HlcSchema)]
    as_of: (),
}

/// [`crate::catalog::Item`]: one catalogued service (事项).
#[derive(ToSchema)]
#[schema(as = CatalogItem)]
#[allow(dead_code)]
pub struct CatalogItemSchema {
    /// 事项编码.
    code: String,
    name: String,
    /// The deciding department.
    department: String,
    /// GB/T 39046 A.1 事项类型, two digits.
    matter_type: String,
    #[schema(value_type = LevelSchema)]
    deciding_level: Level,
    #[schema(value_type = ItemKindSchema)]
    kind: ItemKind,
    /// 法定时限, working days.
    legal_days: u16,
    /// 承诺时限, working days; 0 for immediate items.
    promised_days: u16,
    #[schema(value_type = Vec<MaterialSchema>)]
    materials: Vec<()>,
    fee_fen: u64,
    /// 容缺受理 allowed.
    tolerant: bool,
    #[schema(value_type = Vec<ParticipantSpecSchema>)]
    participants: Vec<()>,
    /// Report-up items only: the first review's (初审) limit in working days.
    first_review_days: Option<u16>,
    /// 网上签批: decided only by a chief of the department or an admin.
    sign_off: bool,
}

/// [`crate::catalog::Material`].
#[derive(ToSchema)]
#[schema(as = Material)]
#[allow(dead_code)]
pub struct MaterialSchema {
    name: String,
    /// Without a core material the case is not accepted.
    core: bool,
}

/// [`crate::catalog::ParticipantSpec`].
#[derive(ToSchema)]
#[schema(as = ParticipantSpec)]
#[allow(dead_code)]
pub struct ParticipantSpecSchema {
    #[schema(value_type = LevelSchema)]
    level: Level,
    department: String,
}

/// [`crate::relay::Revoked`]: a revocation recorded here.
#[derive(ToSchema)]
#[schema(as = Revoked)]
#[allow(dead_code)]
pub struct RevokedSchema {
    #[schema(value_type = NodeCodeSchema)]
    code: NodeCode,
    /// Serials of the certificates issued for the code.
    serials: Vec<String>,
    /// When it was revoked (RFC 3339).
    revoked_at: String,
}

/// [`crate::operator::Operator`]: who an operator is.
#[derive(ToSchema)]
#[schema(as = Operator)]
#[allow(dead_code)]
pub struct OperatorSchema {
    name: String,
    #[schema(value_type = RoleSchema)]
    role: Role,
    /// The department of a clerk or chief; null for admins and supervisors.
    department: Option<String>,
}
