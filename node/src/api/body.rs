//! Request bodies: JSON with a size limit, whose every failure is an [`ApiError`] in our format
//! (axum's own rejections are plain text).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Largest request body accepted, in bytes.
pub const MAX_BODY: usize = 64 * 1024;

/// A JSON body decoded into `T`.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        parse(&bytes(req, state).await?).map(JsonBody)
    }
}

/// A JSON body decoded into `T`, with the bytes it came as (for an `Idempotency-Key`, which
/// must come with the same request each time).
pub struct JsonBodyBytes<T>(pub T, pub Bytes);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBodyBytes<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = bytes(req, state).await?;
        Ok(JsonBodyBytes(parse(&bytes)?, bytes))
    }
}

/// A JSON body decoded into `T`, or `T::default()` when the body is empty (a request whose
/// options all have defaults).
pub struct JsonOrEmpty<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for JsonOrEmpty<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = bytes(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonOrEmpty(T::default()));
        }
        parse(&bytes).map(JsonOrEmpty)
    }
}

async fn bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    bytes_within(req, state, MAX_BODY).await
}

/// The request's body, at most `limit` bytes. The limit itself is the route's
/// [`axum::extract::DefaultBodyLimit`] (the router's [`MAX_BODY`] unless the route sets its
/// own); `limit` names it in the 413's message.
pub async fn bytes_within<S: Send + Sync>(
    req: Request,
    state: &S,
    limit: usize,
) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|e| {
        if crate::http::body_timeout::is_body_timeout(&e) {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!("the request body was not complete in time: {e}"),
            )
        } else if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("request body is larger than {limit} bytes"),
            )
        } else {
            ApiError::bad_request(format!("cannot read request body: {e}"))
        }
    })
}

/// Decodes JSON with an error message that says where it went wrong. Every text in it is
/// checked first ([`check_texts`]): a control character is refused with a 422 naming the field.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bad = |e: serde_json::Error| {
        let what = if e.is_syntax() || e.is_eof() {
            "malformed JSON"
        } else {
            "invalid request"
        };
        ApiError::bad_request(format!("{what}: {e}"))
    };
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(bad)?;
    from_value(value)
}

/// Decodes a JSON value as [`parse`] decodes a body: its texts checked first, then `T`. For a
/// part of a body judged on its own (one case of a batch), so that its errors are the ones a
/// body of its own would get.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    let bad = |e: serde_json::Error| ApiError::bad_request(format!("invalid request: {e}"));
    check_texts(&value, &mut String::new()).map_err(|(field, c)| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "control_character",
            format!(
                "{field} contains the control character U+{:04X}; texts may hold line breaks \
                 and tabs, but no other control characters and no text-direction overrides",
                u32::from(c)
            ),
        )
    })?;
    serde_json::from_value(value).map_err(bad)
}

/// Whether `c` may not appear in a text a node records: C0 controls other than tab, line feed
/// and carriage return, DEL, C1 controls, and the invisible marks that reorder how text is
/// displayed (Unicode bidi controls: a name could be made to read as another).
pub fn forbidden_in_text(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The first text (key or value) of `value` holding a [`forbidden_in_text`] character: its
/// path (e.g. `applicant.name`, `materials[2]`) and the character.
fn check_texts(value: &serde_json::Value, path: &mut String) -> Result<(), (String, char)> {
    use serde_json::Value;
    let field = |path: &String| {
        if path.is_empty() {
            "the body".to_string()
        } else {
            path.clone()
        }
    };
    match value {
        Value::String(s) => match s.chars().find(|c| forbidden_in_text(*c)) {
            Some(c) => Err((field(path), c)),
            None => Ok(()),
        },
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                check_texts(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Object(map) => {
            for (key, item) in map {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                if let Some(c) = key.chars().find(|c| forbidden_in_text(*c)) {
                    return Err((field(path), c));
                }
                check_texts(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_refused_naming_the_field() {
        let refused = |body: &str| parse::<serde_json::Value>(body.as_bytes()).unwrap_err();
        let e = refused(r#"{"applicant": {"name": "张\u0000三"}}"#);
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            e.message.contains("applicant.name") && e.message.contains("U+0000"),
            "{}",
            e.message
        );
        let e = refused(r#"{"materials": ["a", "b\u202ec"]}"#);
        assert!(
            e.message.contains("materials[1]") && e.message.contains("U+202E"),
            "{}",
            e.message
        );
        let e = refused("{\"reason\": \"x\u{2067}y\"}");
        assert!(e.message.contains("U+2067"), "{}", e.message);
        refused(r#"{"a\u0007": 1}"#);
        // Line breaks and tabs are text; so is every other character.
        let ok: serde_json::Value =
            parse("{\"comment\": \"第一行\\n第二行\\t完\\r\\n\"}".as_bytes()).unwrap();
        assert_eq!(ok["comment"], "第一行\n第二行\t完\r\n");
        // Malformed JSON is still a 400.
        assert_eq!(
            parse::<serde_json::Value>(b"{").unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
    }
}
