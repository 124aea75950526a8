//! What the API's transport counts, for `/metrics`: an operator sees a flood of stalled
//! connections as timeouts going up, and the cap being reached as open connections at the cap.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters shared by the accept loop, every connection and the `/metrics` handler.
#[derive(Debug, Default)]
pub struct Counters {
    open: AtomicU64,
    header_timeouts: AtomicU64,
    body_timeouts: AtomicU64,
    idle_closes: AtomicU64,
}

/// Why the server cut a connection or a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// The request's head (or the TLS handshake) was not complete in time.
    Header,
    /// The request's body was not complete in time.
    Body,
    /// No new request arrived in time on a kept-alive connection.
    Idle,
}

impl Counters {
    /// Connections open now (each holds one of the `max_connections` slots).
    pub fn open(&self) -> u64 {
        self.open.load(Ordering::Relaxed)
    }

    /// How many times each kind of deadline cut a connection or request since start.
    pub fn cuts(&self, cut: Cut) -> u64 {
        self.counter(cut).load(Ordering::Relaxed)
    }

    pub(crate) fn count(&self, cut: Cut) {
        self.counter(cut).fetch_add(1, Ordering::Relaxed);
    }

    /// Marks a connection open until the returned guard is dropped.
    pub(crate) fn opened(self: &std::sync::Arc<Self>) -> OpenGuard {
        self.open.fetch_add(1, Ordering::Relaxed);
        OpenGuard(self.clone())
    }

    fn counter(&self, cut: Cut) -> &AtomicU64 {
        match cut {
            Cut::Header => &self.header_timeouts,
            Cut::Body => &self.body_timeouts,
            Cut::Idle => &self.idle_closes,
        }
    }

    /// The counters in the Prometheus text format.
    pub fn render(&self, node: &str, out: &mut String) {
        out.push_str(&format!(
            "# HELP liandong_api_connections API connections open now.\n# TYPE liandong_api_connections gauge\nliandong_api_connections{{node=\"{node}\"}} {}\n",
            self.open()
        ));
        out.push_str(
            "# HELP liandong_api_cuts_total API connections or requests cut by a deadline (header, body, idle).\n# TYPE liandong_api_cuts_total counter\n",
        );
        for (cut, name) in [
            (Cut::Header, "header"),
            (Cut::Body, "body"),
            (Cut::Idle, "idle"),
        ] {
            out.push_str(&format!(
                "liandong_api_cuts_total{{node=\"{node}\",deadline=\"{name}\"}} {}\n",
                self.cuts(cut)
            ));
        }
    }
}

/// An open connection; closes its count when dropped.
pub(crate) struct OpenGuard(std::sync::Arc<Counters>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}
