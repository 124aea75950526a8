//! Events: the only way data changes. Every change to a case is an [`Event`] appended to its
//! author's log and never edited; a case's state is the fold of its events.
//!
//! Compatibility rule: [`EventBody`] and the enums inside it only ever gain variants **at the
//! end**, and structs never change shape within a protocol version (bincode encodes positionally).

use serde::{Deserialize, Serialize};

use crate::case_no::CaseNo;
use crate::code::{Level, NodeCode};
use crate::date::Date;
use crate::hlc::Hlc;

/// Identity of an event across the federation: `(origin, seq)`, `seq` gapless from 1 per origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventId {
    pub origin: NodeCode,
    pub seq: u64,
}

impl EventId {
    /// Fixed-width big-endian key: sorts by origin, then sequence.
    pub fn key(&self) -> [u8; 16] {
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&self.origin.as_u64().to_be_bytes());
        k[8..].copy_from_slice(&self.seq.to_be_bytes());
        k
    }
}

/// Who performed an action at the origin node: the operator's name and, for a window clerk,
/// the department they act for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub name: String,
    pub department: Option<String>,
}

/// One signed, immutable change to one case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    pub hlc: Hlc,
    pub case_no: CaseNo,
    pub actor: Actor,
    pub body: EventBody,
    pub sig: Sig,
}

impl Event {
    /// The fold order `(hlc, origin, seq)`: the same on every node whatever the arrival order.
    pub fn fold_key(&self) -> (Hlc, NodeCode, u64) {
        (self.hlc, self.id.origin, self.id.seq)
    }

    /// The CST date the event was authored on.
    pub fn date(&self) -> Date {
        Date::from_unix_ms(self.hlc.wall_ms)
    }
}

/// An ed25519 signature (64 bytes) by the origin node over the canonical encoding of everything
/// else in the event.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Sig(pub [u8; 64]);

impl Sig {
    pub const EMPTY: Sig = Sig([0; 64]);
}

impl std::fmt::Debug for Sig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sig(")?;
        for b in &self.0[..4] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
}

impl Serialize for Sig {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Sig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Sig, D::Error> {
        struct SigVisitor;
        impl<'de> serde::de::Visitor<'de> for SigVisitor {
            type Value = Sig;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("64 signature bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Sig, E> {
                <[u8; 64]>::try_from(v)
                    .map(Sig)
                    .map_err(|_| E::invalid_length(v.len(), &self))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Sig, A::Error> {
                let mut out = [0u8; 64];
                for (i, b) in out.iter_mut().enumerate() {
                    *b = seq
                        .next_element()?
                        .ok_or_else(|| serde::de::Error::invalid_length(i, &self))?;
                }
                Ok(Sig(out))
            }
        }
        deserializer.deserialize_bytes(SigVisitor)
    }
}

/// How an item is handled (办件类型, GB/T 39046 A.6 plus our extensions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// 即办件: accepted and decided at the window in one step.
    Immediate,
    /// 承诺件: decided within the promised limit.
    Promised,
    /// 联办件: one lead owner, participants at other departments or levels.
    Joint,
    /// 上报件: pre-reviewed below, decided above.
    ReportUp,
}

/// The applicant (申请人): a person or an organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applicant {
    pub kind: ApplicantKind,
    pub name: String,
    /// 18-character resident ID (GB 11643) or 统一社会信用代码 (GB 32100).
    pub id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicantKind {
    Person,
    Org,
}

/// What the accepting window decided at intake. Everything the fold needs about the item is
/// copied here, so every node folds the case the same way whatever its own catalog says today.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intake {
    pub item: String,
    pub item_name: String,
    pub kind: ItemKind,
    pub department: String,
    pub deciding_level: Level,
    pub applicant: Applicant,
    /// Materials handed in.
    pub materials: Vec<String>,
    /// Core materials still missing (一次性告知): non-empty means 补正, the clock has not started.
    pub missing: Vec<String>,
    /// Non-core materials owed under 容缺受理, due before the decision.
    pub owed: Vec<String>,
    pub promised_days: u16,
    pub legal_days: u16,
    pub fee_fen: u64,
    /// For a 上报件: the working days of the lower level's first review (初审, 行政许可法
    /// art. 43); 0 for other items.
    pub first_review_days: u16,
}

/// A participant of a joint review (联办): a department at a node.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Participant {
    pub node: NodeCode,
    pub department: String,
}

/// 特别程序 (行政许可法 art. 45): time not counted in the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpecialProcedure {
    Hearing,
    Bidding,
    Auction,
    Inspection,
    Testing,
    Quarantine,
    Appraisal,
    ExpertReview,
    SiteSurvey,
}

/// Every action on a case. Names match the API's `action` field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventBody {
    /// 受理 or 补正告知 at intake; for a 即办 item also the decision.
    Submit(Intake),
    /// Materials handed in later (补正 before acceptance, 补件 after).
    Supplement {
        materials: Vec<String>,
    },
    /// 不予受理, with a written reason.
    Refuse {
        reason: String,
    },
    Review,
    /// Hand the case to another node (report up, send to the deciding level, send back down).
    Forward {
        to: NodeCode,
    },
    /// The receiver of a forward takes ownership.
    TakeOver,
    /// 退回: the owner sends the case back to the node it came from.
    Return {
        reason: String,
    },
    OpenJointReview {
        participants: Vec<Participant>,
        feedback_days: u16,
    },
    Opinion {
        agree: bool,
        #[serde(default)]
        comment: String,
    },
    Suspend {
        procedure: SpecialProcedure,
        reason: String,
    },
    Resume,
    /// 延期 (行政许可法 art. 42): adds days to the legal deadline.
    Extend {
        days: u16,
        reason: String,
    },
    Decide {
        approve: bool,
        reason: String,
        /// Required to approve over a "disagree" opinion in a joint review.
        override_reason: Option<String>,
    },
    Pay {
        amount_fen: u64,
        receipt: String,
    },
    Certify {
        certificate_no: String,
    },
    Deliver,
    Withdraw,
    Rate {
        satisfaction: u8,
        #[serde(default)]
        comment: String,
    },
    Supervise {
        note: String,
    },
    /// 补件: the owner asks for more materials after acceptance. The request reaches the
    /// accepting window; the clock stands still until the materials are recorded.
    RequestSupplement {
        materials: Vec<String>,
        reason: String,
    },
    /// The owner's answer to a 督办 notice; `notice` is the id of its `supervise` event.
    AnswerNotice {
        notice: EventId,
        answer: String,
    },
    /// 整改: the rectification a 差评 opened is done.
    Rectify {
        note: String,
    },
    /// 拟办意见: the decision a reviewer proposes on an item that needs its leader's sign-off
    /// (网上签批, the catalog's `sign_off`). It changes nothing by itself — the clock runs on —
    /// and takes effect only as the `decide` of someone who may sign off (a 首席代表 or an
    /// admin; the API keeps that rule, as it keeps every operator's rights).
    Propose {
        approve: bool,
        reason: String,
    },
}

impl EventBody {
    /// The API name of the action.
    pub fn action(&self) -> &'static str {
        match self {
            EventBody::Submit(_) => "submit",
            EventBody::Supplement { .. } => "supplement",
            EventBody::Refuse { .. } => "refuse",
            EventBody::Review => "review",
            EventBody::Forward { .. } => "forward",
            EventBody::TakeOver => "take_over",
            EventBody::Return { .. } => "return",
            EventBody::OpenJointReview { .. } => "open_joint_review",
            EventBody::Opinion { .. } => "opinion",
            EventBody::Suspend { .. } => "suspend",
            EventBody::Resume => "resume",
            EventBody::Extend { .. } => "extend",
            EventBody::Decide { .. } => "decide",
            EventBody::Pay { .. } => "pay",
            EventBody::Certify { .. } => "certify",
            EventBody::Deliver => "deliver",
            EventBody::Withdraw => "withdraw",
            EventBody::Rate { .. } => "rate",
            EventBody::Supervise { .. } => "supervise",
            EventBody::RequestSupplement { .. } => "request_supplement",
            EventBody::AnswerNotice { .. } => "answer_notice",
            EventBody::Rectify { .. } => "rectify",
            EventBody::Propose { .. } => "propose",
        }
    }
}
