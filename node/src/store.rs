//! Durable storage of events, cases and node metadata: the traits and records are the core's
//! ([`federation_proto::store`], one trait per concern, with the in-memory [`memory::MemStore`]);
//! this module adds the node's implementation over sled ([`SledStore`]: its layout and start-up
//! check are in its module), the counters it keeps on commit, the operators' tree and the
//! witness that refuses a store that came back shorter than it was.

pub use federation_proto::store::*;

#[cfg(test)]
mod counters_tests;
mod operators;

mod sled_store;
pub mod witness;
pub use sled_store::{CheckReport, SledStore, CHECK_PROGRESS};

/// sled's error as the core's [`StoreError::Engine`], kept whole (the shell looks into it to
/// say what the disk did, e.g. that it is full).
pub(crate) fn engine_error(e: sled::Error) -> StoreError {
    StoreError::Engine(Box::new(e))
}

/// [`engine_error`] for results: `tree.get(key).db()?`.
pub(crate) trait SledResult<T> {
    fn db(self) -> Result<T, StoreError>;
}

impl<T> SledResult<T> for Result<T, sled::Error> {
    fn db(self) -> Result<T, StoreError> {
        self.map_err(engine_error)
    }
}
