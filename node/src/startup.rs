//! A start that cannot hang (启动自检): opening and checking the store runs under a watchdog
//! that reports progress and, past a bound, ends the process with a message saying which store
//! is damaged and how to rebuild it.
//!
//! Why a watchdog and not a check inside the loops: the work that can hang is sled's own —
//! replaying a damaged log, or iterating a tree whose pages a damaged log made inconsistent
//! (issue 13 measured 7 of 33 single-byte flips spinning in `Tree::len` forever, with no log
//! line). Nothing outside sled can interrupt it, so the bound is enforced from another thread,
//! and the only safe way out of a thread stuck inside sled is to end the process. Nothing has
//! been written by then: the check only reads, and answering starts after it.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use tracing::info;

use crate::store::CHECK_PROGRESS;

/// The default bound on opening and checking a store whose log is `log_bytes` long: two
/// minutes, plus a second per 10 MB (sled reads far faster than that; this is for a slow,
/// busy disk).
pub fn default_limit(log_bytes: u64) -> Duration {
    Duration::from_secs(120 + log_bytes / (10 * 1024 * 1024))
}

/// The size of the log in the data folder `data`, 0 if there is none yet.
pub fn log_bytes(data: &Path) -> u64 {
    std::fs::metadata(data.join("db")).map_or(0, |m| m.len())
}

/// Runs `work` on this thread; another thread says every few seconds how far it got, and calls
/// `on_timeout` once `limit` has passed without `work` returning (in the node: print why and
/// exit). Returns what `work` returned.
pub fn bounded<T>(
    limit: Duration,
    on_timeout: impl FnOnce(Duration, u64) + Send + 'static,
    work: impl FnOnce() -> T,
) -> T {
    let (done, finished) = mpsc::channel::<()>();
    let started = Instant::now();
    let tick = (limit / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
    let watchdog = std::thread::Builder::new()
        .name("startup-watchdog".into())
        .spawn(move || loop {
            match finished.recv_timeout(tick) {
                Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) => {}
            }
            let read = CHECK_PROGRESS.load(Ordering::Relaxed);
            let elapsed = started.elapsed();
            if elapsed >= limit {
                on_timeout(elapsed, read);
                return;
            }
            info!(
                records_read = read,
                elapsed_s = elapsed.as_secs(),
                limit_s = limit.as_secs(),
                "still opening and checking the store"
            );
        });
    let out = work();
    drop(done);
    if let Ok(handle) = watchdog {
        let _ = handle.join();
    }
    out
}

/// Runs `work`, turning a panic inside it into `Err` with the panic's message, which is not
/// printed. Why: sled 0.34 panics on some damaged logs instead of returning an error (measured:
/// 26 of 33 single-byte flips in an 8 MB store panicked in `serialization.rs` at open). A
/// backtrace is not a message an operator can act on; [`recovery_advice`] is.
///
/// The panic hook is process-wide: a panic on another thread meanwhile is also kept quiet
/// (and still unwinds that thread). Only for start-up, before anything else runs.
pub fn catching_panics<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    use std::sync::{Arc, Mutex};
    let said: Arc<Mutex<Option<String>>> = Arc::default();
    let keep = said.clone();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = match (
            info.payload().downcast_ref::<&str>(),
            info.payload().downcast_ref::<String>(),
        ) {
            (Some(s), _) => (*s).to_string(),
            (_, Some(s)) => s.clone(),
            _ => "unknown panic".to_string(),
        };
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        if let Ok(mut said) = keep.lock() {
            *said = Some(format!("{message}{at}"));
        }
    }));
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
    std::panic::set_hook(previous);
    out.map_err(|_| {
        said.lock()
            .ok()
            .and_then(|s| s.clone())
            .unwrap_or_else(|| "a panic".into())
    })
}

/// What to do about a damaged store of the node whose data folder is `data`.
pub fn recovery_advice(data: &Path) -> String {
    format!(
        "The store in {d} is damaged and the node will not serve it. Keep it for inspection: \
         move the folder aside (`mv {d} {d}.damaged`), then rebuild it — a township or county \
         from its parent's copy with `liandong restore --config <node.toml>`, the city from \
         its latest backup — and start the node again.",
        d = data.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    #[test]
    fn work_that_ends_in_time_is_left_alone() {
        let fired = Arc::new(AtomicBool::new(false));
        let f = fired.clone();
        let out = bounded(
            Duration::from_secs(5),
            move |_, _| f.store(true, Ordering::SeqCst),
            || 42,
        );
        assert_eq!(out, 42);
        assert!(!fired.load(Ordering::SeqCst));
    }

    #[test]
    fn work_that_hangs_is_reported_once_the_limit_passes() {
        // The "hang" ends only when the watchdog fires: the test cannot pass unless it does.
        let (fire_tx, fire_rx) = mpsc::channel::<Duration>();
        let out = bounded(
            Duration::from_millis(200),
            move |elapsed, _| {
                let _ = fire_tx.send(elapsed);
            },
            || fire_rx.recv_timeout(Duration::from_secs(60)),
        );
        let elapsed = out.expect("the watchdog never fired");
        assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    }

    #[test]
    fn a_panic_becomes_an_error_with_its_message() {
        assert_eq!(catching_panics(|| 7), Ok(7));
        let err = catching_panics(|| -> u8 { panic!("page 12 is torn") }).unwrap_err();
        assert!(err.starts_with("page 12 is torn at "), "{err}");
        assert!(err.contains("startup.rs"), "{err}");
    }

    #[test]
    fn the_default_limit_grows_with_the_log() {
        assert_eq!(default_limit(0), Duration::from_secs(120));
        assert_eq!(default_limit(10 << 30), Duration::from_secs(120 + 1024));
    }
}
