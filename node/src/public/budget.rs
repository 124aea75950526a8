//! How many requests one client address may make per minute on the public listener: a fixed
//! one-minute window per address, in a bounded table — at most [`MAX_ADDRESSES`] addresses;
//! when full, the entries whose minute has passed go first, then the oldest. A flood from many
//! addresses can push an address out early, which only gives it a fresh minute.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Addresses tracked at most.
pub const MAX_ADDRESSES: usize = 4096;

const MINUTE: Duration = Duration::from_secs(60);

pub struct Budget {
    per_minute: u32,
    entries: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl Budget {
    pub fn new(per_minute: u32) -> Budget {
        Budget {
            per_minute: per_minute.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a request from `addr`; `Err(retry_after)` when its minute's budget is spent.
    pub fn spend(&self, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if !entries.contains_key(&addr) && entries.len() >= MAX_ADDRESSES {
            entries.retain(|_, (since, _)| now.saturating_duration_since(*since) < MINUTE);
            if entries.len() >= MAX_ADDRESSES {
                if let Some(oldest) = entries.iter().min_by_key(|(_, (s, _))| *s).map(|(a, _)| *a) {
                    entries.remove(&oldest);
                }
            }
        }
        let (since, spent) = entries.entry(addr).or_insert((now, 0));
        if now.saturating_duration_since(*since) >= MINUTE {
            *since = now;
            *spent = 0;
        }
        if *spent >= self.per_minute {
            return Err((*since + MINUTE).saturating_duration_since(now));
        }
        *spent += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minute_holds_the_budget_then_a_new_one_starts() {
        let budget = Budget::new(3);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(budget.spend(a, t0).is_ok());
        }
        let wait = budget.spend(a, t0 + Duration::from_secs(20)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(40));
        assert!(budget.spend(b, t0).is_ok(), "another address has its own");
        assert!(budget.spend(a, t0 + MINUTE).is_ok());
    }

    #[test]
    fn the_table_stays_bounded() {
        let budget = Budget::new(1);
        let t0 = Instant::now();
        for n in 0..(MAX_ADDRESSES as u32 + 100) {
            let addr = IpAddr::from(n.to_be_bytes());
            assert!(budget.spend(addr, t0).is_ok());
        }
        assert!(budget.entries.lock().unwrap().len() <= MAX_ADDRESSES);
    }
}
