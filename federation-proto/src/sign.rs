//! ed25519 signatures by an event's origin node, so that a relay can neither forge nor alter the
//! events it passes on.
//!
//! The signed message is [`SIGNING_CONTEXT`] followed by the canonical encoding of
//! `(FORMAT_VERSION, id, hlc, case_no, actor, body)` — everything but the signature. The context
//! string keeps a signature made for an event from ever being valid for any other message the
//! same key signs, and the version byte ties it to one encoding.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use crate::codec::{self, CodecError};
use crate::event::{Event, EventId, Sig};

/// Domain-separation prefix of every signed event message.
pub const SIGNING_CONTEXT: &[u8] = b"liandong event signature\0";

/// Why an event could not be signed or its signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error(
        "event {}:{}: signature does not verify against the origin's key",
        .id.origin, .id.seq
    )]
    BadSignature { id: EventId },
    #[error("event {}:{}: cannot encode for signing: {source}", .id.origin, .id.seq)]
    Encode { id: EventId, source: CodecError },
}

/// Appends the message that [`sign`] signs to `out` (lets hot loops reuse one buffer).
pub fn signing_bytes_into(event: &Event, out: &mut Vec<u8>) -> Result<(), SignError> {
    let start = out.len();
    out.extend_from_slice(SIGNING_CONTEXT);
    // `encode_into` writes FORMAT_VERSION first, so this is the encoding of
    // (FORMAT_VERSION, id, hlc, case_no, actor, body), borrowed rather than cloned.
    let fields = (
        &event.id,
        &event.hlc,
        &event.case_no,
        &event.actor,
        &event.body,
    );
    codec::encode_into(&fields, out).map_err(|source| {
        out.truncate(start);
        SignError::Encode {
            id: event.id,
            source,
        }
    })
}

/// The message that [`sign`] signs: everything in the event except `sig`.
pub fn signing_bytes(event: &Event) -> Result<Vec<u8>, SignError> {
    let mut out = Vec::new();
    signing_bytes_into(event, &mut out)?;
    Ok(out)
}

/// Signs `event` with the origin node's key, replacing `event.sig`.
///
/// Encoding an event cannot fail (bincode writes into a `Vec`, and no event type's `Serialize`
/// returns an error). Were it ever to, the signature is set to [`Sig::EMPTY`], which
/// `verify_strict` always refuses (its R is a small-order point): the event fails closed and is
/// refused everywhere, instead of a panic taking the node down.
pub fn sign(event: &mut Event, key: &SigningKey) {
    event.sig = match signing_bytes(event) {
        Ok(message) => Sig(key.sign(&message).to_bytes()),
        Err(_) => Sig::EMPTY,
    };
}

/// Checks `event.sig` against the origin's public key. Uses `verify_strict`, which also refuses
/// non-canonical signatures and weak (small-order) keys, so a relay cannot turn a valid signature
/// into a different one that still verifies.
pub fn verify(event: &Event, key: &VerifyingKey) -> Result<(), SignError> {
    let message = signing_bytes(event)?;
    let sig = Signature::from_bytes(&event.sig.0);
    key.verify_strict(&message, &sig)
        .map_err(|_| SignError::BadSignature { id: event.id })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::arbitrary::{any_body, any_event, sample_event};
    use crate::hlc::Hlc;

    fn key(seed: [u8; 32]) -> SigningKey {
        SigningKey::from_bytes(&seed)
    }

    /// Every way of changing one signed field of `ev`.
    fn tampered(ev: &Event, other_body: &crate::event::EventBody) -> Vec<(&'static str, Event)> {
        let mut out = Vec::new();
        let mut e = ev.clone();
        e.id.seq = e.id.seq.wrapping_add(1);
        out.push(("seq", e));
        let mut e = ev.clone();
        e.hlc = Hlc {
            wall_ms: e.hlc.wall_ms ^ 1,
            ..e.hlc
        };
        out.push(("hlc.wall_ms", e));
        let mut e = ev.clone();
        e.hlc.counter = e.hlc.counter.wrapping_add(1);
        out.push(("hlc.counter", e));
        let mut e = ev.clone();
        e.case_no.seq = e.case_no.seq % crate::CaseNo::MAX_SEQ + 1;
        out.push(("case_no", e));
        let mut e = ev.clone();
        e.actor.name.push('x');
        out.push(("actor.name", e));
        let mut e = ev.clone();
        e.actor.department = match e.actor.department {
            Some(_) => None,
            None => Some(String::new()),
        };
        out.push(("actor.department", e));
        if *other_body != ev.body {
            let mut e = ev.clone();
            e.body = other_body.clone();
            out.push(("body", e));
        }
        out
    }

    proptest! {
        // ed25519 is slow in unoptimised test builds: fewer cases, each checking many changes.
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn sign_then_verify(mut ev in any_event(), seed in any::<[u8; 32]>()) {
            let k = key(seed);
            sign(&mut ev, &k);
            prop_assert_eq!(verify(&ev, &k.verifying_key()), Ok(()));
            // Signing is deterministic (RFC 8032), and the signature survives the codec.
            let back = codec::decode_event(&codec::encode(&ev).unwrap()).unwrap();
            prop_assert_eq!(verify(&back, &k.verifying_key()), Ok(()));
        }

        #[test]
        fn any_change_breaks_the_signature(
            mut ev in any_event(),
            other_body in any_body(),
            seed in any::<[u8; 32]>(),
            other_seed in any::<[u8; 32]>(),
            sig_byte in 0..64usize,
            sig_bit in 0..8u32,
        ) {
            let k = key(seed);
            sign(&mut ev, &k);
            let vk = k.verifying_key();
            for (field, e) in tampered(&ev, &other_body) {
                prop_assert_eq!(
                    verify(&e, &vk),
                    Err(SignError::BadSignature { id: e.id }),
                    "changed {}", field
                );
            }
            let mut e = ev.clone();
            e.sig.0[sig_byte] ^= 1 << sig_bit;
            prop_assert!(verify(&e, &vk).is_err(), "flipped signature bit {}.{}", sig_byte, sig_bit);
            if other_seed != seed {
                prop_assert!(verify(&ev, &key(other_seed).verifying_key()).is_err());
            }
        }
    }

    #[test]
    fn every_signature_byte_matters() {
        let k = key([3; 32]);
        let mut ev = sample_event();
        sign(&mut ev, &k);
        for i in 0..64 {
            let mut e = ev.clone();
            e.sig.0[i] ^= 0x80;
            assert!(
                verify(&e, &k.verifying_key()).is_err(),
                "flipped signature byte {i}"
            );
        }
        assert!(verify(&ev, &k.verifying_key()).is_ok());
    }

    /// The fail-closed fallback of `sign` really never verifies, whatever the key.
    #[test]
    fn empty_signature_never_verifies() {
        let mut ev = sample_event();
        ev.sig = Sig::EMPTY;
        for seed in [[0; 32], [1; 32], [0xFF; 32]] {
            let vk = key(seed).verifying_key();
            assert_eq!(verify(&ev, &vk), Err(SignError::BadSignature { id: ev.id }));
        }
    }

    #[test]
    fn error_names_the_event() {
        let ev = sample_event();
        let err = verify(&ev, &key([7; 32]).verifying_key()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "event {}:{}: signature does not verify against the origin's key",
                ev.id.origin, ev.id.seq
            )
        );
    }

    #[test]
    fn signing_bytes_cover_everything_but_sig() {
        let mut ev = sample_event();
        let before = signing_bytes(&ev).unwrap();
        assert!(before.starts_with(SIGNING_CONTEXT));
        assert_eq!(before[SIGNING_CONTEXT.len()], codec::FORMAT_VERSION);
        ev.sig = Sig([0xAB; 64]);
        assert_eq!(signing_bytes(&ev).unwrap(), before);
        let mut buf = vec![1, 2];
        signing_bytes_into(&ev, &mut buf).unwrap();
        assert_eq!(&buf[2..], &before[..]);
    }
}
