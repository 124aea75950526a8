//! The durability witness (持久化见证): a small file beside sled's log that remembers how far
//! the store had got, so that a store which comes back *shorter* is refused instead of served.
//!
//! Why: sled checks a CRC on every record of its log when it opens, and treats the first bad
//! one as the torn end of the log — everything after it is dropped and the file rewritten, with
//! no error. One flipped byte in `db` (a bad sector, a bad copy) turned a node with 40 cases
//! into one with none that started and answered as if nothing had happened (measured: 33 of 33
//! single-byte flips in a 100 kB store started "ready", holding 0 to 37 of the 40 cases). A
//! node that silently forgot cases it had acknowledged breaks the promise every 201 made.
//!
//! The witness is written after every flush, *after* the store's fdatasync ([`super::SledStore`]),
//! so it never claims more than the disk held: it is a lower bound. It is not synced itself —
//! after a power cut it may be older than the store (harmless: a lower bound still) or unreadable
//! (then it proves nothing and is rewritten). At start, the store must hold at least what the
//! witness says: this node's own events (its sequence is gapless) and, per link, the items
//! received. Moving the data folder aside (to restore it) moves the witness with it.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The witness file, inside the data folder.
pub const FILE: &str = "witness";
const MAGIC: &[u8; 4] = b"LDW1";
const LEN: usize = 4 + 8 + 8 + 8;

/// How far the store had got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mark {
    /// The node's own last event sequence.
    pub own_seq: u64,
    /// Items received over all links (the sum of the per-link counters).
    pub received: u64,
}

impl Mark {
    fn encode(self) -> [u8; LEN] {
        let mut out = [0u8; LEN];
        out[..4].copy_from_slice(MAGIC);
        out[4..12].copy_from_slice(&self.own_seq.to_le_bytes());
        out[12..20].copy_from_slice(&self.received.to_le_bytes());
        let sum = checksum(&out[..20]);
        out[20..].copy_from_slice(&sum);
        out
    }

    fn decode(bytes: &[u8]) -> Option<Mark> {
        let bytes = bytes.get(..LEN)?;
        if &bytes[..4] != MAGIC || bytes[20..] != checksum(&bytes[..20]) {
            return None;
        }
        let word = |r: std::ops::Range<usize>| {
            bytes
                .get(r)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_le_bytes)
        };
        Some(Mark {
            own_seq: word(4..12)?,
            received: word(12..20)?,
        })
    }

    /// `Err` with what is missing when `held` is behind this mark.
    pub fn check(self, held: Mark) -> Result<(), String> {
        let mut missing = Vec::new();
        if held.own_seq < self.own_seq {
            missing.push(format!(
                "its own events end at sequence {} but reached {}",
                held.own_seq, self.own_seq
            ));
        }
        if held.received < self.received {
            missing.push(format!(
                "it holds {} items received from its links but had {}",
                held.received, self.received
            ));
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(missing.join("; "))
        }
    }
}

fn checksum(bytes: &[u8]) -> [u8; 8] {
    let digest = Sha256::digest(bytes);
    let mut out = [0u8; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

/// What the witness said at open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// No witness yet: a new store, or one from before witnesses.
    None,
    /// A witness that cannot be read (torn by a power cut): it proves nothing.
    Unreadable,
    Mark(Mark),
}

/// The open witness file.
pub struct Witness {
    file: File,
    path: PathBuf,
}

impl Witness {
    /// Opens (creating) the witness in `dir` and returns what it said.
    pub fn open(dir: &Path) -> io::Result<(Witness, Found)> {
        let path = dir.join(FILE);
        let found = match std::fs::read(&path) {
            Ok(bytes) => Mark::decode(&bytes).map_or(Found::Unreadable, Found::Mark),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Found::None,
            Err(e) => return Err(e),
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        Ok((Witness { file, path }, found))
    }

    /// Records `mark`: one write of 28 bytes at the start of the file (within one sector, so
    /// it is not torn in practice; a torn one reads as [`Found::Unreadable`]).
    pub fn record(&self, mark: Mark) -> io::Result<()> {
        self.file.write_all_at(&mark.encode(), 0)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_survives_the_file_and_damage_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let (w, found) = Witness::open(dir.path()).unwrap();
        assert_eq!(found, Found::None);
        let mark = Mark {
            own_seq: 40,
            received: 7,
        };
        w.record(mark).unwrap();
        drop(w);
        let (_, found) = Witness::open(dir.path()).unwrap();
        assert_eq!(found, Found::Mark(mark));
        let path = dir.path().join(FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[5] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(Witness::open(dir.path()).unwrap().1, Found::Unreadable);
        std::fs::write(&path, b"").unwrap();
        assert_eq!(Witness::open(dir.path()).unwrap().1, Found::Unreadable);
    }

    #[test]
    fn a_store_behind_its_mark_is_named() {
        let mark = Mark {
            own_seq: 40,
            received: 7,
        };
        assert!(mark.check(mark).is_ok());
        assert!(mark
            .check(Mark {
                own_seq: 41,
                received: 9
            })
            .is_ok());
        let behind = mark
            .check(Mark {
                own_seq: 12,
                received: 7,
            })
            .unwrap_err();
        assert!(behind.contains("sequence 12 but reached 40"), "{behind}");
        let behind = mark.check(Mark::default()).unwrap_err();
        assert!(
            behind.contains("received") && behind.contains("40"),
            "{behind}"
        );
    }
}
