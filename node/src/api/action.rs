//! The body of `POST /api/v1/cases/{case_no}/actions`: `{"action": NAME, ...fields}`, turned into
//! an [`EventBody`].

use federation_proto::{EventBody, NodeCode};
use serde_json::{Map, Value};

use super::error::ApiError;
use axum::http::StatusCode;

/// Every action the API takes, as in API.md, plus `extend` (延期), `request_supplement` (补件),
/// `answer_notice` (the owner's answer to a 督办), `rectify` (整改 after a 差评) and `propose`
/// (拟办意见, on an item whose decision needs 网上签批).
pub const ACTIONS: [&str; 22] = [
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
    "request_supplement",
    "answer_notice",
    "rectify",
    "propose",
];

/// Parses an action body into an event body. The API's flat, tagged form
/// `{"action": "decide", "approve": true, ...}` is rewritten into serde's external tagging
/// `{"Decide": {"approve": true, ...}}` so that [`EventBody`] itself defines every field — there is
/// no second copy of the actions to keep in step. A `forward` without `to` goes to
/// `default_forward` (see [`crate::case::Case::default_forward`]).
pub fn parse(value: Value, default_forward: Option<NodeCode>) -> Result<EventBody, ApiError> {
    let Value::Object(mut fields) = value else {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    };
    let name = match fields.remove("action") {
        Some(Value::String(name)) => name,
        _ => return Err(ApiError::bad_request("the body needs an \"action\" string")),
    };
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
    if name == "forward" && !fields.contains_key("to") {
        let to = default_forward.ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_action",
                "no default target from here: give \"to\" (by default a case goes up to its item's deciding level, and once decided back to its accepting node)",
            )
        })?;
        fields.insert("to".into(), Value::String(to.to_string()));
    }
    let payload = if fields.is_empty() && UNIT_ACTIONS.contains(&name.as_str()) {
        Value::Null
    } else {
        Value::Object(fields)
    };
    let mut tagged = Map::new();
    tagged.insert(variant_name(&name), payload);
    serde_json::from_value(Value::Object(tagged))
        .map_err(|e| ApiError::bad_request(format!("invalid {name}: {e}")))
}

/// Actions without fields.
const UNIT_ACTIONS: [&str; 5] = ["review", "take_over", "resume", "deliver", "withdraw"];

/// `open_joint_review` → `OpenJointReview`.
fn variant_name(action: &str) -> String {
    action
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_action_names_an_event_variant() {
        for action in ACTIONS {
            let err = parse(json!({"action": action, "bogus_only": 1}), None);
            // The variant exists: serde complains about the fields, not the variant.
            let message = err.map(|_| String::new()).unwrap_or_else(|e| e.message);
            assert!(!message.contains("unknown variant"), "{action}: {message}");
        }
    }

    #[test]
    fn flat_bodies_become_event_bodies() {
        let to: NodeCode = "350300".parse().unwrap();
        assert_eq!(
            parse(json!({"action": "forward"}), Some(to)).unwrap(),
            EventBody::Forward { to }
        );
        assert_eq!(
            parse(json!({"action": "review"}), None).unwrap(),
            EventBody::Review
        );
        assert_eq!(
            parse(json!({"action": "opinion", "agree": false}), None).unwrap(),
            EventBody::Opinion {
                agree: false,
                comment: String::new()
            }
        );
        assert!(parse(json!({"action": "submit"}), None).is_err());
        assert!(parse(json!({"action": "review", "extra": 1}), None).is_err());
        assert!(parse(json!({"action": "forward"}), None).is_err());
        assert!(parse(json!(["review"]), None).is_err());
    }
}
