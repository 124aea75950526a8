//! Checking a peer's batch before the write thread takes it: each item decoded and each
//! event's signature verified, on the link's side and in parallel with the writer.
//!
//! Why: one write thread applies every batch (see [`crate::writer`]), and an ed25519
//! verification costs about as much as everything else it does for an event. Done here, it
//! runs on another core while the writer applies and flushes the batch before.
//!
//! The check is only a head start, never the authority: the writer takes an event as verified
//! only when the key it was checked with is still the directory's key for its origin (a
//! certificate learnt or revoked in between makes it verify again), and whatever did not check
//! out here — an undecodable item, a bad signature, an unknown origin — the writer decodes and
//! verifies itself, with the same outcome and the same errors as if nothing had been checked.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use crate::frame::{Batch, Payload};
use crate::{sign, NodeCode};
use ed25519_dalek::VerifyingKey;

/// The directory's verifying keys, shared between the write thread (which keeps them as it
/// learns and revokes certificates) and the link sessions (which check with them).
#[derive(Clone, Default)]
pub struct KeyRing(Arc<RwLock<HashMap<NodeCode, VerifyingKey>>>);

impl KeyRing {
    pub fn set(&self, code: NodeCode, key: VerifyingKey) {
        // A panic while holding the lock cannot leave a half-written map entry behind.
        let mut keys = self.0.write().unwrap_or_else(PoisonError::into_inner);
        keys.insert(code, key);
    }

    pub fn remove(&self, code: NodeCode) {
        let mut keys = self.0.write().unwrap_or_else(PoisonError::into_inner);
        keys.remove(&code);
    }

    fn get(&self, code: NodeCode) -> Option<VerifyingKey> {
        let keys = self.0.read().unwrap_or_else(PoisonError::into_inner);
        keys.get(&code).copied()
    }
}

/// One item as the check left it.
pub struct Decoded {
    pub payload: Payload,
    /// For an event whose signature verified: the key it verified with.
    pub verified_with: Option<VerifyingKey>,
}

/// A batch with the outcome of the check for each of its items (`None`: left to the writer).
pub struct Checked {
    pub batch: Batch,
    pub items: Vec<Option<Decoded>>,
}

impl Checked {
    /// Decodes every item and verifies every event whose origin has a key in `keys`.
    pub fn new(batch: Batch, keys: &KeyRing) -> Checked {
        let items = batch
            .items
            .iter()
            .map(|item| {
                let payload = item.decode().ok()?;
                let verified_with = match &payload {
                    Payload::Event(event) => keys
                        .get(event.id.origin)
                        .filter(|key| sign::verify(event, key).is_ok()),
                    _ => None,
                };
                Some(Decoded {
                    payload,
                    verified_with,
                })
            })
            .collect();
        Checked { batch, items }
    }

    /// A batch for the writer to decode and verify entirely itself.
    pub fn unchecked(batch: Batch) -> Checked {
        let items = batch.items.iter().map(|_| None).collect();
        Checked { batch, items }
    }
}

#[cfg(test)]
mod tests {
    use crate::frame::Item;
    use crate::{Event, EventBody};
    use ed25519_dalek::SigningKey;

    use super::*;
    use crate::fixtures::township_event;

    fn batch_of(event: &Event) -> Batch {
        Batch {
            first: 1,
            items: vec![Item::event(event).unwrap()],
        }
    }

    #[test]
    fn an_event_verifies_only_against_its_origins_key() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let event = township_event(&key, 1, EventBody::Review);
        let keys = KeyRing::default();
        let checked = Checked::new(batch_of(&event), &keys);
        let unknown = checked.items[0].as_ref().unwrap();
        assert!(unknown.verified_with.is_none(), "no key, no verification");

        keys.set(event.id.origin, key.verifying_key());
        let checked = Checked::new(batch_of(&event), &keys);
        let verified = checked.items[0].as_ref().unwrap();
        assert_eq!(verified.verified_with, Some(key.verifying_key()));

        let other = SigningKey::from_bytes(&[8; 32]);
        keys.set(event.id.origin, other.verifying_key());
        let checked = Checked::new(batch_of(&event), &keys);
        assert!(checked.items[0].as_ref().unwrap().verified_with.is_none());
    }

    #[test]
    fn an_undecodable_item_is_left_to_the_writer() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let mut batch = batch_of(&township_event(&key, 1, EventBody::Review));
        batch.items[0].bytes.truncate(3);
        let checked = Checked::new(batch, &KeyRing::default());
        assert!(checked.items[0].is_none());
    }
}
