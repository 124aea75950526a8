//! Durable means on the platter: after sled's flush, an `fdatasync` of what it wrote.
//!
//! sled 0.34 flushes its log with `sync_file_range`, which pushes the pages to the device but
//! persists neither the file's metadata (its size, after an append) nor the drive's write
//! cache: a process crash cannot lose what it flushed, a power cut can. And values too large for
//! a log segment go to files of their own under `blobs/`, written without any sync at all. So
//! every group commit ends here, before any client or peer is answered:
//!
//! 1. `fdatasync` of `<data>/db`, the log;
//! 2. for every blob file created since the last sync, `fdatasync` of the file, then `fsync` of
//!    the `blobs/` directory, so that the new names survive too.
//!
//! New blobs are found cheaply: the directory's modification time changes when a file is added
//! or removed, and only then is it listed. Blob files are named by their log sequence number, so
//! "new" is "a number above the largest synced so far".
//!
//! At open, the data folder and its parent are synced once, so a store created just before a
//! power cut is still there afterwards.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

/// Syncs a sled database's files (see the module doc).
pub struct DiskSync {
    log: File,
    blobs: PathBuf,
    /// The blob directory's modification time when last listed, and the largest blob synced.
    seen: Mutex<(Option<SystemTime>, u64)>,
    syncs: AtomicU64,
}

impl DiskSync {
    /// For the database sled opened in `dir`; syncs `dir` and its parent once.
    pub fn open(dir: &Path) -> std::io::Result<DiskSync> {
        let log = File::open(dir.join("db"))?;
        sync_dir(dir)?;
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
        let sync = DiskSync {
            log,
            blobs: dir.join("blobs"),
            seen: Mutex::new((None, 0)),
            syncs: AtomicU64::new(0),
        };
        // Whatever blobs are there at open were written by an earlier run: sync them too.
        sync.sync_blobs()?;
        Ok(sync)
    }

    /// Makes everything sled flushed durable. Call after every successful `sled::Db::flush`.
    pub fn sync(&self) -> std::io::Result<()> {
        self.log.sync_data()?;
        self.sync_blobs()?;
        self.syncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Completed syncs since open (`liandong_fdatasyncs_total`).
    pub fn count(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    fn sync_blobs(&self) -> std::io::Result<()> {
        let modified = match std::fs::metadata(&self.blobs) {
            Ok(m) => m.modified().ok(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if modified.is_some() && seen.0 == modified {
            return Ok(());
        }
        let mut newest = seen.1;
        for entry in std::fs::read_dir(&self.blobs)? {
            let entry = entry?;
            let Some(lsn) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            if lsn > seen.1 {
                // A blob sled removed meanwhile needs no sync.
                match File::open(entry.path()) {
                    Ok(f) => f.sync_data()?,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                }
                newest = newest.max(lsn);
            }
        }
        sync_dir(&self.blobs)?;
        *seen = (modified, newest);
        Ok(())
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syncs_the_log_and_each_new_blob_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("data");
        std::fs::create_dir_all(db.join("blobs")).unwrap();
        std::fs::write(db.join("db"), b"log").unwrap();
        std::fs::write(db.join("blobs").join("7"), b"old blob").unwrap();
        let sync = DiskSync::open(&db).unwrap();
        assert_eq!(sync.seen.lock().unwrap().1, 7);
        sync.sync().unwrap();
        std::fs::write(db.join("blobs").join("12"), b"new blob").unwrap();
        sync.sync().unwrap();
        assert_eq!(sync.seen.lock().unwrap().1, 12);
        assert_eq!(sync.count(), 2);
        // A missing log is an error at open, not a silent no-op later.
        assert!(DiskSync::open(dir.path()).is_err());
    }
}
