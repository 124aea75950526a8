//! The `Idempotency-Key` request header ([`crate::idempotency`]): optional on the POSTs that
//! write a case (`POST /api/v1/cases`, `POST /api/v1/cases/{case_no}/actions`).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderName, StatusCode};

use super::error::ApiError;
use crate::idempotency::{check_key, request_hash, Once};

pub const HEADER: HeaderName = HeaderName::from_static("idempotency-key");

/// The header's key, if the request sent one (checked).
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(&HEADER) else {
            return Ok(IdempotencyKey(None));
        };
        let malformed =
            |e: String| ApiError::new(StatusCode::BAD_REQUEST, "bad_idempotency_key", e);
        let key = value
            .to_str()
            .map_err(|_| malformed(crate::idempotency::KeyError::Malformed.to_string()))?;
        check_key(key).map_err(|e| malformed(e.to_string()))?;
        Ok(IdempotencyKey(Some(key.to_string())))
    }
}

impl IdempotencyKey {
    /// The write's [`Once`] for `operator` and the request (`route`, `body`), if a key came.
    pub fn once(&self, operator: &str, route: &str, body: &[u8]) -> Option<Once> {
        self.0
            .as_deref()
            .map(|key| Once::new(operator, key, route, body))
    }

    /// The [`Once`] of the write of case `index` of a batch sent with this key (`route`,
    /// `body`: the whole batch's). A batch is written one case at a time through the same
    /// per-write records as a single submission ([`crate::idempotency`]), each under a key of
    /// its own derived from the batch's: so a batch cut short (a crash, a failed flush, a
    /// dropped connection) and sent again with its key finds the records of the cases already
    /// written, answers them, and writes only the rest. Each record is written in the
    /// transaction of its case's event, so no crash separates a case from its record.
    ///
    /// The derived key is `"<key> #<index>"`: a header key is visible ASCII without spaces
    /// ([`check_key`]), so no key a client sends can be the derived key of any batch's case;
    /// and the request it must come with is the whole batch, so the same key with another
    /// batch is refused for every case of it.
    ///
    /// The batch is hashed here, once: [`BatchKey::item`] gives each case's [`Once`].
    pub fn once_items(&self, operator: &str, route: &str, body: &[u8]) -> Option<BatchKey> {
        self.0.as_deref().map(|key| BatchKey {
            key: key.to_string(),
            operator: operator.to_string(),
            request: request_hash(route, body),
        })
    }
}

/// A batch's key with its request hashed ([`IdempotencyKey::once_items`]).
#[derive(Debug, Clone)]
pub struct BatchKey {
    key: String,
    operator: String,
    request: [u8; 32],
}

impl BatchKey {
    /// The [`Once`] of the write of case `index` of the batch.
    pub fn item(&self, index: usize) -> Once {
        Once::of_request(&self.operator, &item_key(&self.key, index), self.request)
    }
}

/// The key of case `index` of a batch sent with `key` ([`IdempotencyKey::once_items`]).
fn item_key(key: &str, index: usize) -> String {
    format!("{key} #{index}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_case_of_a_batch_has_a_key_no_client_can_send() {
        let key = IdempotencyKey(Some("import-1".into()));
        let route = "POST /api/v1/cases:batch";
        let batch = key.once_items("王", route, b"{}").unwrap();
        let once = |i| batch.item(i);
        // Per case, and apart from the batch's own key and from every key a header can hold.
        assert_ne!(once(0).store_key, once(1).store_key);
        assert_ne!(
            once(0).store_key,
            key.once("王", route, b"{}").unwrap().store_key
        );
        assert_eq!(
            once(7),
            once(7),
            "the same batch sent again finds the same records"
        );
        assert!(check_key(&item_key("import-1", 0)).is_err());
        // A key holds no space, so the first space ends it: one derived key, one (key, case).
        assert_ne!(item_key("a", 11), item_key("a1", 1));
        // The request a record must come with is the whole batch: another batch under the
        // same key is refused case by case.
        let other = key
            .once_items("王", route, b"{\"cases\":[]}")
            .unwrap()
            .item(0);
        assert_eq!(other.store_key, once(0).store_key);
        assert_ne!(other.request, once(0).request);
        // No key, no records.
        assert!(IdempotencyKey(None)
            .once_items("王", route, b"{}")
            .is_none());
        // The same records as a case's write under its derived key: what a batch wrote before
        // the request was hashed once per batch is found again.
        assert_eq!(
            once(3),
            Once::new("王", &item_key("import-1", 3), route, b"{}")
        );
    }
}
