//! Hybrid logical clock (混合逻辑时钟): wall milliseconds plus a counter.
//!
//! Invariant: every event a node authors gets an `Hlc` strictly greater than every `Hlc` the node
//! has authored or observed before, so an event that causally follows another always sorts after
//! it, even when the two nodes' wall clocks disagree.

use serde::{Deserialize, Serialize};

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Hlc {
    pub wall_ms: u64,
    pub counter: u32,
}

impl Hlc {
    pub const ZERO: Hlc = Hlc {
        wall_ms: 0,
        counter: 0,
    };

    /// The next timestamp for a local event, given the last one issued or observed and the
    /// physical clock now.
    pub fn tick(last: Hlc, now_ms: u64) -> Hlc {
        if now_ms > last.wall_ms {
            Hlc {
                wall_ms: now_ms,
                counter: 0,
            }
        } else {
            Hlc {
                wall_ms: last.wall_ms,
                counter: last.counter.saturating_add(1),
            }
        }
    }

    /// The clock after observing a remote timestamp: never behind it.
    pub fn observe(last: Hlc, remote: Hlc) -> Hlc {
        last.max(remote)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn tick_is_strictly_monotonic(start_wall in 0u64..1_000_000, start_ctr in 0u32..1000, nows in proptest::collection::vec(0u64..2_000_000, 1..50)) {
            let mut last = Hlc { wall_ms: start_wall, counter: start_ctr };
            for now in nows {
                let next = Hlc::tick(last, now);
                prop_assert!(next > last);
                prop_assert!(next.wall_ms >= now);
                last = next;
            }
        }
    }

    #[test]
    fn observed_remote_orders_after() {
        let local = Hlc {
            wall_ms: 100,
            counter: 0,
        };
        let remote = Hlc {
            wall_ms: 500,
            counter: 3,
        };
        let seen = Hlc::observe(local, remote);
        assert!(Hlc::tick(seen, 120) > remote);
    }
}
