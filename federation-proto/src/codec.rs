//! Versioned, size-limited binary encoding, used alike on the wire and in storage.
//!
//! Every encoded value is one [`FORMAT_VERSION`] byte followed by the bincode 2 "standard"
//! encoding (little-endian, varint integers) of the value. bincode is positional, so adding a
//! field breaks old bytes: the version byte is what lets a future build read both formats.
//!
//! Decoding never trusts the input: it checks the length against the caller's limit before
//! looking at the payload, caps what bincode may allocate for strings and byte buffers (a fixed
//! tier at least as large as the limit, at most [`MAX_DECODE_BYTES`]) whatever a forged length
//! prefix says, and refuses trailing bytes so that one value has one encoding.

use bincode::config::{self, Configuration};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::event::Event;

/// Version byte in front of every encoded value.
pub const FORMAT_VERSION: u8 = 1;

/// Largest encoded [`Event`] accepted from a peer or from storage.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

/// Hard cap on the input length of [`decode`]: a larger `limit` is lowered to this.
pub const MAX_DECODE_BYTES: usize = 16 << 20;

/// Allocation caps given to bincode (`with_limit` takes a const, so the runtime limit picks the
/// smallest tier that holds it). Every string or byte buffer of a genuine value is present in the
/// input, so a value within `limit` never reaches its tier; a forged length prefix can make
/// bincode allocate at most one tier before the read fails.
const TIER_SMALL: usize = MAX_EVENT_BYTES;
const TIER_MEDIUM: usize = 1 << 20;
const TIER_LARGE: usize = MAX_DECODE_BYTES;

/// Why a value could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("empty input: expected a format version byte")]
    Empty,
    #[error("unknown format version {0}; this build reads version {v}", v = FORMAT_VERSION)]
    UnknownVersion(u8),
    #[error("input of {len} bytes is over the limit of {limit} bytes")]
    TooLarge { len: usize, limit: usize },
    #[error("malformed input: {0}")]
    Decode(String),
    #[error("cannot encode value: {0}")]
    Encode(String),
    #[error("{extra} unexpected bytes after the end of the value")]
    Trailing { extra: usize },
}

/// bincode's standard configuration with no limit: encoding only writes what the value holds.
fn encode_config() -> Configuration {
    config::standard()
}

/// Appends the version byte and the encoding of `value` to `out`, so hot loops can reuse one
/// buffer. On error `out` is left as it was.
pub fn encode_into<T: Serialize>(value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
    let start = out.len();
    out.push(FORMAT_VERSION);
    bincode::serde::encode_into_std_write(value, out, encode_config())
        .map(|_| ())
        .map_err(|e| {
            out.truncate(start);
            CodecError::Encode(e.to_string())
        })
}

/// Appends `n` as bincode encodes a count (a varint): for splicing encodings together.
pub fn encode_varint_into(n: u64, out: &mut Vec<u8>) -> Result<(), CodecError> {
    bincode::encode_into_std_write(n, out, encode_config())
        .map(|_| ())
        .map_err(|e| CodecError::Encode(e.to_string()))
}

/// The version byte followed by the encoding of `value`.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    encode_into(value, &mut out)?;
    Ok(out)
}

/// Decodes one value that must fill `bytes` exactly. Input longer than `limit` (or than
/// [`MAX_DECODE_BYTES`]) is refused before any of it is decoded.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], limit: usize) -> Result<T, CodecError> {
    let limit = limit.min(MAX_DECODE_BYTES);
    if bytes.len() > limit {
        return Err(CodecError::TooLarge {
            len: bytes.len(),
            limit,
        });
    }
    let (&version, payload) = bytes.split_first().ok_or(CodecError::Empty)?;
    if version != FORMAT_VERSION {
        return Err(CodecError::UnknownVersion(version));
    }
    if limit <= TIER_SMALL {
        decode_payload::<T, TIER_SMALL>(payload)
    } else if limit <= TIER_MEDIUM {
        decode_payload::<T, TIER_MEDIUM>(payload)
    } else {
        decode_payload::<T, TIER_LARGE>(payload)
    }
}

/// Decodes the bytes after the version byte, letting bincode claim at most `CAP` bytes.
fn decode_payload<T: DeserializeOwned, const CAP: usize>(payload: &[u8]) -> Result<T, CodecError> {
    let config = config::standard().with_limit::<CAP>();
    let (value, read) = bincode::serde::decode_from_slice(payload, config)
        .map_err(|e| CodecError::Decode(e.to_string()))?;
    match payload.len() - read {
        0 => Ok(value),
        extra => Err(CodecError::Trailing { extra }),
    }
}

/// Decodes an [`Event`] of at most [`MAX_EVENT_BYTES`].
pub fn decode_event(bytes: &[u8]) -> Result<Event, CodecError> {
    decode(bytes, MAX_EVENT_BYTES)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use proptest::prelude::*;

    use super::*;
    use crate::arbitrary::{any_event, any_summary, sample_event};
    use crate::summary::CaseSummary;

    /// bincode standard encoding of a `u64` length as a varint: marker 253, then 8 LE bytes.
    fn forged_len(len: u64) -> Vec<u8> {
        let mut v = vec![253];
        v.extend_from_slice(&len.to_le_bytes());
        v
    }

    #[test]
    fn errors_are_specific() {
        assert_eq!(decode::<u32>(&[], 10), Err(CodecError::Empty));
        assert_eq!(
            decode::<u32>(&[2, 0], 10),
            Err(CodecError::UnknownVersion(2))
        );
        assert_eq!(
            CodecError::UnknownVersion(2).to_string(),
            "unknown format version 2; this build reads version 1"
        );
        assert_eq!(
            decode::<u32>(&[1, 5, 0], 10),
            Err(CodecError::Trailing { extra: 1 })
        );
        assert_eq!(decode::<u32>(&[1, 5], 10), Ok(5));
        assert!(matches!(
            decode::<u32>(&[1], 10),
            Err(CodecError::Decode(_))
        ));
        assert_eq!(
            decode::<u32>(&[1, 5], 1),
            Err(CodecError::TooLarge { len: 2, limit: 1 })
        );
    }

    #[test]
    fn encode_into_appends_and_reuses_buffer() {
        let mut buf = vec![9, 9];
        encode_into(&7u8, &mut buf).unwrap();
        assert_eq!(buf, [9, 9, FORMAT_VERSION, 7]);
        buf.clear();
        encode_into(&"ab", &mut buf).unwrap();
        assert_eq!(buf, [FORMAT_VERSION, 2, b'a', b'b']);
        assert_eq!(encode(&"ab").unwrap(), buf);
    }

    #[test]
    fn over_limit_is_refused_before_decoding() {
        // Garbage that would fail to decode: TooLarge proves the payload was never looked at.
        let bytes = vec![0xFF; MAX_EVENT_BYTES + 1];
        assert_eq!(
            decode_event(&bytes),
            Err(CodecError::TooLarge {
                len: MAX_EVENT_BYTES + 1,
                limit: MAX_EVENT_BYTES
            })
        );
        let big = vec![0xFF; MAX_DECODE_BYTES + 1];
        assert_eq!(
            decode::<Vec<u8>>(&big, usize::MAX),
            Err(CodecError::TooLarge {
                len: MAX_DECODE_BYTES + 1,
                limit: MAX_DECODE_BYTES
            })
        );
    }

    /// Values near and above the smaller tiers decode when the limit allows them.
    #[test]
    fn large_values_within_limit_decode() {
        for len in [MAX_EVENT_BYTES - 8, 2 << 20] {
            let text = "a".repeat(len);
            let bytes = encode(&text).unwrap();
            assert_eq!(decode::<String>(&bytes, 4 << 20).as_ref(), Ok(&text));
        }
        let text = "a".repeat(MAX_EVENT_BYTES - 8);
        assert_eq!(
            decode::<String>(&encode(&text).unwrap(), MAX_EVENT_BYTES),
            Ok(text)
        );
    }

    /// A length prefix claiming terabytes must fail at once, without bincode allocating it
    /// (without the cap, `Vec<u8>`/`String` decoding would allocate the claimed size first).
    #[test]
    fn forged_length_prefix_fails_fast() {
        let started = Instant::now();
        let refused = |r: Result<(), CodecError>| matches!(r, Err(CodecError::Decode(_)));
        for len in [u64::MAX, 1 << 40, MAX_DECODE_BYTES as u64 + 1, 1 << 20] {
            let mut bytes = vec![FORMAT_VERSION];
            bytes.extend(forged_len(len));
            for limit in [64, MAX_EVENT_BYTES, 4 << 20, usize::MAX] {
                assert!(refused(decode::<Vec<u8>>(&bytes, limit).map(drop)));
                assert!(refused(decode::<String>(&bytes, limit).map(drop)));
                assert!(refused(decode::<Vec<String>>(&bytes, limit).map(drop)));
                assert!(refused(decode::<Vec<u64>>(&bytes, limit).map(drop)));
            }
        }
        // The same inside an event: a valid id, clock and case number, then the actor's name
        // claiming 2^40 bytes.
        let ev = sample_event();
        let mut bytes = encode(&(ev.id, ev.hlc, ev.case_no)).unwrap();
        bytes.extend(forged_len(1 << 40));
        bytes.extend([0; 32]);
        assert!(matches!(decode_event(&bytes), Err(CodecError::Decode(_))));
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    proptest! {
        #[test]
        fn event_round_trips(ev in any_event()) {
            let bytes = encode(&ev).unwrap();
            prop_assert_eq!(bytes[0], FORMAT_VERSION);
            prop_assert_eq!(decode_event(&bytes), Ok(ev));
        }

        #[test]
        fn summary_round_trips(s in any_summary()) {
            let bytes = encode(&s).unwrap();
            prop_assert_eq!(decode::<CaseSummary>(&bytes, MAX_EVENT_BYTES), Ok(s));
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_event(&bytes);
            let _ = decode::<CaseSummary>(&bytes, MAX_EVENT_BYTES);
            let mut versioned = vec![FORMAT_VERSION];
            versioned.extend(&bytes);
            let _ = decode_event(&versioned);
            let _ = decode::<CaseSummary>(&versioned, MAX_EVENT_BYTES);
        }

        #[test]
        fn every_truncation_is_refused(ev in any_event()) {
            let bytes = encode(&ev).unwrap();
            for end in 0..bytes.len() {
                prop_assert!(decode_event(&bytes[..end]).is_err(), "prefix of {} bytes decoded", end);
            }
        }

        #[test]
        fn flipped_byte_never_panics(ev in any_event(), pos in any::<prop::sample::Index>(), mask in 1u8..) {
            let mut bytes = encode(&ev).unwrap();
            let i = pos.index(bytes.len());
            bytes[i] ^= mask;
            // Ok or Err are both fine (a flip inside a string may still decode); a panic is not.
            let _ = decode_event(&bytes);
        }

        #[test]
        fn trailing_bytes_are_refused(ev in any_event(), extra in proptest::collection::vec(any::<u8>(), 1..64)) {
            let mut bytes = encode(&ev).unwrap();
            bytes.extend(&extra);
            prop_assert_eq!(decode_event(&bytes), Err(CodecError::Trailing { extra: extra.len() }));
        }

        #[test]
        fn json_round_trips(ev in any_event()) {
            let json = serde_json::to_string(&ev).unwrap();
            let back: Event = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back, ev);
        }
    }

    /// The human-readable path writes codes, dates and case numbers as the strings people use.
    #[test]
    fn json_uses_readable_forms() {
        let ev = sample_event();
        let json: serde_json::Value = serde_json::to_value(&ev).unwrap();
        assert_eq!(json["case_no"], serde_json::json!(ev.case_no.to_string()));
        assert_eq!(
            json["id"]["origin"],
            serde_json::json!(ev.id.origin.to_string())
        );
    }
}
