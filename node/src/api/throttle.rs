//! Failed-authentication limit: a client address that sends more than `max_failures` bad
//! tokens (or none) within a window is refused — every request, with 429 and `Retry-After` —
//! until that window ends. Other addresses are not affected.
//!
//! Why refuse the whole address, a good token too: letting a correct token through while the
//! address is blocked would tell a guesser which guess was right, which is what the limit
//! exists to prevent. The price is that a misbehaving script can hold its own machine's
//! clients (everything on 127.0.0.1, say) out for at most one window; the block always ends,
//! so nobody is locked out for good.
//!
//! Memory is bounded: at most [`MAX_ADDRESSES`] addresses are tracked; when full, entries whose
//! window has passed go first, then the oldest. A flood from many addresses can therefore
//! push an address out early, which only shortens its block. One log line per block (not per
//! failure) says which address was refused and for how long.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tracing::warn;

use crate::config::AuthSection;

/// Addresses tracked at most.
pub const MAX_ADDRESSES: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Start of the current window.
    since: Instant,
    failures: u32,
    /// Refused until then.
    blocked_until: Option<Instant>,
}

pub struct Throttle {
    max_failures: u32,
    window: Duration,
    entries: Mutex<HashMap<IpAddr, Entry>>,
    failures: AtomicU64,
    blocks: AtomicU64,
}

impl Throttle {
    pub fn new(config: AuthSection) -> Throttle {
        Throttle {
            max_failures: config.max_failures.max(1),
            window: Duration::from_secs(config.failure_window_secs.max(1)),
            entries: Mutex::new(HashMap::new()),
            failures: AtomicU64::new(0),
            blocks: AtomicU64::new(0),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `Err(retry_after)` while `addr` is refused.
    pub fn check(&self, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        match self.entries().get(&addr).and_then(|e| e.blocked_until) {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    /// Records a failed authentication from `addr`; `Some(retry_after)` if it is now refused.
    pub fn failed(&self, addr: IpAddr, now: Instant) -> Option<Duration> {
        self.failures.fetch_add(1, Ordering::Relaxed);
        let mut entries = self.entries();
        if !entries.contains_key(&addr) && entries.len() >= MAX_ADDRESSES {
            self.make_room(&mut entries, now);
        }
        let entry = entries.entry(addr).or_insert(Entry {
            since: now,
            failures: 0,
            blocked_until: None,
        });
        if now.saturating_duration_since(entry.since) >= self.window {
            *entry = Entry {
                since: now,
                failures: 0,
                blocked_until: None,
            };
        }
        entry.failures = entry.failures.saturating_add(1);
        if entry.failures > self.max_failures && entry.blocked_until.is_none() {
            let until = entry.since + self.window;
            entry.blocked_until = Some(until);
            self.blocks.fetch_add(1, Ordering::Relaxed);
            let retry = until.saturating_duration_since(now);
            warn!(
                client = %addr,
                failures = entry.failures,
                window_secs = self.window.as_secs(),
                refused_for_secs = retry.as_secs(),
                "failed authentications over the limit: refusing this address until its window ends"
            );
            return Some(retry);
        }
        None
    }

    /// Drops expired entries; if none expired, the one whose window began first.
    fn make_room(&self, entries: &mut HashMap<IpAddr, Entry>, now: Instant) {
        let window = self.window;
        entries.retain(|_, e| now.saturating_duration_since(e.since) < window);
        if entries.len() >= MAX_ADDRESSES {
            if let Some(oldest) = entries.iter().min_by_key(|(_, e)| e.since).map(|(a, _)| *a) {
                entries.remove(&oldest);
            }
        }
    }

    /// Failed authentications since start.
    pub fn failure_count(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Times an address was refused since start.
    pub fn block_count(&self) -> u64 {
        self.blocks.load(Ordering::Relaxed)
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.entries().len()
    }
}

/// Seconds for `Retry-After`: rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> Throttle {
        Throttle::new(AuthSection {
            max_failures: 3,
            failure_window_secs: 60,
        })
    }

    #[test]
    fn over_the_limit_an_address_is_refused_until_its_window_ends() {
        let t = throttle();
        let bad: IpAddr = "10.0.0.9".parse().unwrap();
        let good: IpAddr = "10.0.0.1".parse().unwrap();
        let start = Instant::now();
        for _ in 0..3 {
            assert!(t.failed(bad, start).is_none());
        }
        assert!(t.check(bad, start).is_ok());
        let wait = t.failed(bad, start + Duration::from_secs(10)).unwrap();
        assert_eq!(wait, Duration::from_secs(50));
        assert!(t.check(bad, start + Duration::from_secs(59)).is_err());
        assert!(t.check(good, start + Duration::from_secs(59)).is_ok());
        assert!(t.check(bad, start + Duration::from_secs(60)).is_ok());
        // A new window starts from zero.
        assert!(t.failed(bad, start + Duration::from_secs(61)).is_none());
        assert_eq!(t.block_count(), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
    }

    #[test]
    fn memory_is_bounded() {
        let t = throttle();
        let start = Instant::now();
        for i in 0..(MAX_ADDRESSES as u32 + 100) {
            let addr = IpAddr::from(std::net::Ipv4Addr::from(i));
            t.failed(addr, start + Duration::from_millis(u64::from(i)));
        }
        assert_eq!(t.tracked(), MAX_ADDRESSES);
    }
}
