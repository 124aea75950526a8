//! Idempotent writes (幂等写入): a client that did not get its answer — a timeout, a dropped
//! connection — sends the same request again with the same `Idempotency-Key`, and gets the case
//! its first attempt wrote instead of a second one.
//!
//! Why it lives in the write path and not only in the API: the record of a key is written in
//! the same store transaction as the event it produced, by the one writer thread. So a crash
//! can never leave an event without its key (a retry would then write a second case) or a key
//! without its event, and two retries racing each other are ordered by the writer: the second
//! finds the first's record, even within one group commit.
//!
//! A key belongs to the operator who sent it (two clerks may pick the same key) and is kept as
//! long as the store: its record is about 60 bytes beside an event of several hundred. Reusing
//! a key for a different request is refused, since answering it with another request's case
//! would be wrong either way.

use crate::codec;
use crate::CaseNo;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Longest key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 200;

/// Prefix of the records' keys in the store's settings (`meta` tree).
const PREFIX: &[u8] = b"idempotency/";

/// A write that must happen at most once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Once {
    /// Where its record is kept: the prefix and a hash of operator and key.
    pub store_key: Vec<u8>,
    /// A hash of the request (route and body): the same key must come with the same request.
    pub request: [u8; 32],
}

impl Once {
    /// For `key` sent by `operator` with a request whose route and body are `route`, `body`.
    pub fn new(operator: &str, key: &str, route: &str, body: &[u8]) -> Once {
        Once::of_request(operator, key, request_hash(route, body))
    }

    /// For `key` sent by `operator` with a request whose [`request_hash`] is `request`: the
    /// cases of one batch share their request, hashed once (hashing a 4 MiB batch for each of
    /// its thousand cases took three quarters of a node's time in `liandong case import`).
    pub fn of_request(operator: &str, key: &str, request: [u8; 32]) -> Once {
        let mut who = Sha256::new();
        for part in [operator.as_bytes(), key.as_bytes()] {
            who.update((part.len() as u64).to_be_bytes());
            who.update(part);
        }
        let mut store_key = PREFIX.to_vec();
        store_key.extend_from_slice(&who.finalize());
        Once { store_key, request }
    }
}

/// The hash that ties a key to its request: of the route and the body.
pub fn request_hash(route: &str, body: &[u8]) -> [u8; 32] {
    let mut what = Sha256::new();
    for part in [route.as_bytes(), body] {
        what.update((part.len() as u64).to_be_bytes());
        what.update(part);
    }
    what.finalize().into()
}

/// What a key's first request wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub request: [u8; 32],
    pub case_no: CaseNo,
}

impl Record {
    pub fn encode(&self) -> Result<Vec<u8>, codec::CodecError> {
        codec::encode(self)
    }

    pub fn decode(bytes: &[u8]) -> Result<Record, codec::CodecError> {
        codec::decode(bytes, 256)
    }
}

/// Why a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters")]
    Malformed,
    #[error("Idempotency-Key was used before with a different request (for case {0})")]
    Reused(CaseNo),
}

/// Checks a key as sent in the header.
pub fn check_key(key: &str) -> Result<(), KeyError> {
    let ok =
        !key.is_empty() && key.len() <= MAX_KEY_LEN && key.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(KeyError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_per_operator_and_requests_are_told_apart() {
        let a = Once::new("王", "k1", "POST /api/v1/cases", b"{}");
        assert_eq!(a, Once::new("王", "k1", "POST /api/v1/cases", b"{}"));
        assert_ne!(
            a.store_key,
            Once::new("李", "k1", "POST /api/v1/cases", b"{}").store_key
        );
        assert_ne!(
            a.store_key,
            Once::new("王", "k2", "POST /api/v1/cases", b"{}").store_key
        );
        // No ambiguity from where one part ends: ("ab","c") is not ("a","bc").
        assert_ne!(
            Once::new("ab", "c", "r", b"").store_key,
            Once::new("a", "bc", "r", b"").store_key
        );
        let other = Once::new("王", "k1", "POST /api/v1/cases", b"{\"x\":1}");
        assert_eq!(a.store_key, other.store_key);
        assert_ne!(a.request, other.request);
    }

    #[test]
    fn malformed_keys_are_refused() {
        assert!(check_key("order-2026-12-04-0001").is_ok());
        for bad in ["", " ", "a b", "键", "a\u{0}", &"k".repeat(MAX_KEY_LEN + 1)] {
            assert_eq!(check_key(bad), Err(KeyError::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn records_round_trip() {
        let record = Record {
            request: [7; 32],
            case_no: "350322-20261204-000001".parse().unwrap(),
        };
        assert_eq!(Record::decode(&record.encode().unwrap()).unwrap(), record);
        assert!(Record::decode(b"garbage").is_err());
    }
}
