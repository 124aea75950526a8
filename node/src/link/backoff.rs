//! How long a child waits before dialling its parent again, and how often a repeated warning
//! is said.
//!
//! Why exponential, to minutes: a parent that is down, or that refuses us (revoked, another CA,
//! misconfigured), gains nothing from a dial twice a second — one handshake and, before, one
//! WARN line each, some 170 000 a day. Doubling from 100 ms keeps short outages short (a
//! parent back after an outage of `T` is found within about `2T`, plus jitter) and long ones
//! cheap. A refusal is an operator's problem, not the network's: it waits up to
//! [`REFUSED_CAP`]; a parent that does not answer, up to [`UNREACHABLE_CAP`].
//!
//! Why jitter (±50 %): children cut off together (a county restarts) must not all come back in
//! the same instant.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The first wait after a failure.
pub const FIRST: Duration = Duration::from_millis(100);
/// The longest wait while the parent does not answer.
pub const UNREACHABLE_CAP: Duration = Duration::from_secs(60);
/// The longest wait while the parent refuses the link.
pub const REFUSED_CAP: Duration = Duration::from_secs(300);

/// Why the last attempt did not give a link that stayed up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No answer, no route, a handshake that timed out, or a link that dropped soon after.
    Unreachable,
    /// The parent answered and refused us (TLS or our hello).
    Refused,
}

/// The redial schedule of one parent.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff { base: FIRST }
    }
}

impl Backoff {
    /// The link was up long enough to count as healthy: start again from [`FIRST`].
    pub fn reset(&mut self) {
        self.base = FIRST;
    }

    /// The wait after a failure, jittered by `random` (uniform over `u16`), and the base for
    /// the next one doubled up to the cap of this kind of failure.
    ///
    /// Invariant: the wait is within `[base/2, base*3/2]` and never more than 1.5 × the cap.
    pub fn after(&mut self, failure: Failure, random: u16) -> Duration {
        let cap = match failure {
            Failure::Unreachable => UNREACHABLE_CAP,
            Failure::Refused => REFUSED_CAP,
        };
        let base = self.base.min(cap);
        self.base = (base * 2).min(cap);
        base / 2 + base.mul_f64(f64::from(random) / f64::from(u16::MAX))
    }
}

/// A random `u16` for the jitter; 0 (the shortest wait) if the system has no randomness.
pub fn random() -> u16 {
    let mut b = [0u8; 2];
    getrandom::getrandom(&mut b).map_or(0, |_| u16::from_le_bytes(b))
}

/// Says a repeated warning at most once per `every` per key, with how many were held back.
///
/// Bounded: at most [`Repeats::MAX_KEYS`] keys are remembered; past that, the oldest is
/// forgotten (it may then be said once more than necessary, which is harmless).
#[derive(Debug)]
pub struct Repeats<K> {
    every: Duration,
    seen: HashMap<K, (Instant, u64)>,
}

impl<K: std::hash::Hash + Eq + Clone> Repeats<K> {
    pub const MAX_KEYS: usize = 1024;

    pub fn new(every: Duration) -> Repeats<K> {
        Repeats {
            every,
            seen: HashMap::new(),
        }
    }

    /// `Some(held back since the last time)` when the warning for `key` should be said now.
    pub fn check(&mut self, key: &K, now: Instant) -> Option<u64> {
        if let Some((said_at, held)) = self.seen.get_mut(key) {
            if now.duration_since(*said_at) < self.every {
                *held += 1;
                return None;
            }
            let held_back = *held;
            *said_at = now;
            *held = 0;
            return Some(held_back);
        }
        if self.seen.len() >= Self::MAX_KEYS {
            if let Some(oldest) = self
                .seen
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone())
            {
                self.seen.remove(&oldest);
            }
        }
        self.seen.insert(key.clone(), (now, 0));
        Some(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_to_the_cap_of_their_kind_and_reset() {
        let mut b = Backoff::default();
        let mid = u16::MAX / 2;
        let waits: Vec<Duration> = (0..14)
            .map(|_| b.after(Failure::Unreachable, mid))
            .collect();
        assert!((waits[0].as_millis() as i64 - 100).abs() <= 1, "{waits:?}");
        assert!((waits[1].as_millis() as i64 - 200).abs() <= 1, "{waits:?}");
        assert!(waits.windows(2).all(|w| w[1] >= w[0]), "{waits:?}");
        let last = *waits.last().unwrap();
        assert!(last <= UNREACHABLE_CAP.mul_f64(1.01) && last >= UNREACHABLE_CAP.mul_f64(0.99));
        // Refusals go on growing, to minutes.
        let refused: Vec<Duration> = (0..6).map(|_| b.after(Failure::Refused, mid)).collect();
        assert!(
            refused.last().unwrap() >= &Duration::from_secs(290),
            "{refused:?}"
        );
        b.reset();
        assert!(b.after(Failure::Refused, mid) < Duration::from_millis(110));
    }

    #[test]
    fn jitter_stays_within_half_either_side() {
        for r in [0, 1, u16::MAX / 3, u16::MAX - 1, u16::MAX] {
            let mut b = Backoff::default();
            for _ in 0..20 {
                let base = b.base;
                let wait = b.after(Failure::Refused, r);
                assert!(
                    wait >= base / 2 && wait <= base * 3 / 2,
                    "{wait:?} for {base:?}"
                );
            }
        }
    }

    #[test]
    fn a_repeated_warning_is_said_once_per_period_with_the_count_held_back() {
        let mut r = Repeats::new(Duration::from_secs(60));
        let t0 = Instant::now();
        assert_eq!(r.check(&"a", t0), Some(0));
        for i in 1..=5 {
            assert_eq!(r.check(&"a", t0 + Duration::from_secs(i)), None);
        }
        assert_eq!(r.check(&"b", t0), Some(0), "keys are independent");
        assert_eq!(r.check(&"a", t0 + Duration::from_secs(61)), Some(5));
        assert_eq!(r.check(&"a", t0 + Duration::from_secs(62)), None);
    }

    #[test]
    fn repeats_remember_a_bounded_number_of_keys() {
        let mut r = Repeats::new(Duration::from_secs(60));
        let t0 = Instant::now();
        for k in 0..(Repeats::<u32>::MAX_KEYS as u32 + 100) {
            r.check(&k, t0 + Duration::from_millis(u64::from(k)));
        }
        assert_eq!(r.seen.len(), Repeats::<u32>::MAX_KEYS);
    }
}
