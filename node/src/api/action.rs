//! The body of `POST /api/v1/cases/{case_no}/actions`: `{"action": NAME, ...fields}`, turned into
//! an [`EventBody`].

use federation_proto::{EventBody, NodeCode, Participant, SpecialProcedure};
use serde::Deserialize;
use serde_json::Value;

use super::error::ApiError;
use axum::http::StatusCode;

/// Every action the API takes, as in API.md (plus `extend`, 延期).
pub const ACTIONS: [&str; 18] = [
    "supplement",
    "refuse",
    "review",
    "forward",
    "take_over",
    "return",
    "open_joint_review",
    "opinion",
    "suspend",
    "resume",
    "extend",
    "decide",
    "pay",
    "certify",
    "deliver",
    "withdraw",
    "rate",
    "supervise",
];

#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ActionRequest {
    Supplement {
        materials: Vec<String>,
    },
    Refuse {
        reason: String,
    },
    Review,
    /// `to` defaults to the ancestor at the item's deciding level.
    Forward {
        to: Option<NodeCode>,
    },
    TakeOver,
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
    Extend {
        days: u16,
        reason: String,
    },
    Decide {
        approve: bool,
        reason: String,
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
}

/// Parses an action body, naming an unknown action explicitly.
pub fn parse(value: Value) -> Result<ActionRequest, ApiError> {
    let name = value
        .get("action")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| ApiError::bad_request("the body needs an \"action\" string"))?;
    if !ACTIONS.contains(&name.as_str()) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "unknown_action",
            format!(
                "unknown action {name:?}; actions are: {}",
                ACTIONS.join(", ")
            ),
        ));
    }
    serde_json::from_value(value).map_err(|e| ApiError::bad_request(format!("invalid {name}: {e}")))
}

impl ActionRequest {
    /// The event body; `default_forward` is the target a forward without `to` goes to.
    pub fn into_body(self, default_forward: Option<NodeCode>) -> Result<EventBody, ApiError> {
        Ok(match self {
            ActionRequest::Supplement { materials } => EventBody::Supplement { materials },
            ActionRequest::Refuse { reason } => EventBody::Refuse { reason },
            ActionRequest::Review => EventBody::Review,
            ActionRequest::Forward { to } => EventBody::Forward {
                to: to.or(default_forward).ok_or_else(|| {
                    ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid_action",
                        "this node is at or above the item's deciding level: give \"to\"",
                    )
                })?,
            },
            ActionRequest::TakeOver => EventBody::TakeOver,
            ActionRequest::Return { reason } => EventBody::Return { reason },
            ActionRequest::OpenJointReview {
                participants,
                feedback_days,
            } => EventBody::OpenJointReview {
                participants,
                feedback_days,
            },
            ActionRequest::Opinion { agree, comment } => EventBody::Opinion { agree, comment },
            ActionRequest::Suspend { procedure, reason } => {
                EventBody::Suspend { procedure, reason }
            }
            ActionRequest::Resume => EventBody::Resume,
            ActionRequest::Extend { days, reason } => EventBody::Extend { days, reason },
            ActionRequest::Decide {
                approve,
                reason,
                override_reason,
            } => EventBody::Decide {
                approve,
                reason,
                override_reason,
            },
            ActionRequest::Pay {
                amount_fen,
                receipt,
            } => EventBody::Pay {
                amount_fen,
                receipt,
            },
            ActionRequest::Certify { certificate_no } => EventBody::Certify { certificate_no },
            ActionRequest::Deliver => EventBody::Deliver,
            ActionRequest::Withdraw => EventBody::Withdraw,
            ActionRequest::Rate {
                satisfaction,
                comment,
            } => EventBody::Rate {
                satisfaction,
                comment,
            },
            ActionRequest::Supervise { note } => EventBody::Supervise { note },
        })
    }
}
