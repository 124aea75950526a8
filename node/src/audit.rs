//! The audit log of identity reads (个人信息查阅记录): who saw whose applicant identity, when,
//! and through which endpoint (DESIGN.md §8: "every read of an identity is audited").
//!
//! Why a log of reads and not only of writes: the event log already says who *changed* a case,
//! but an identity leaks by being read. A supervisor or an admin may read every identity held
//! here (they supervise); the log is what lets somebody later answer "who looked at 张三's
//! case, and why then?".
//!
//! Shape and durability:
//! - One [`AuditEntry`] per case per response: a list page of 100 unmasked cases makes 100
//!   entries, written in one sled batch. Per-case entries make "who read case X" a plain filter
//!   and keep every entry small (about 200 bytes), whatever the page size.
//! - The entries live in their own sled tree (`audit`) of the node's store, keyed by a sequence
//!   number (big-endian, so the tree's order is the order of the reads).
//! - [`AuditLog::record`] writes the batch and then flushes the store (sled's flush and the
//!   fdatasync of [`crate::disk_sync`]) before it returns; the API sends an identity only after
//!   that. When the entry cannot be made durable (a full or failing disk) the API answers with
//!   the identity masked instead: an identity is never sent unaudited, and the case itself is
//!   still served. (Such an entry may still reach the disk later: the log may then name a
//!   read that was answered masked — an over-report, never an under-report.) The price is one
//!   fdatasync per identity-carrying answer, not per case: a list page is one batch.
//! - Bounded: at most [`MAX_ENTRIES`] are kept; beyond that the oldest go, a few per new entry.

use std::sync::{Arc, Mutex, PoisonError};

use federation_proto::CaseNo;
use serde::{Deserialize, Serialize};

use crate::operator::{Operator, Role};
use crate::store::{SledStore, Store, StoreError};

/// The name of the audit tree in the node's sled database.
pub const TREE: &str = "audit";

/// The most entries kept. At ~200 bytes each, about 400 MB: years of reads at a county's
/// windows. When reached, each new entry removes the oldest ones.
pub const MAX_ENTRIES: u64 = 2_000_000;

/// The largest stored entry decoded; anything longer is not ours.
const MAX_ENTRY_BYTES: usize = 4096;

/// Which API answer carried the identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `GET /api/v1/cases/{case_no}`.
    Show,
    /// `GET /api/v1/cases` (one entry per case of the page).
    List,
    /// `POST /api/v1/cases/{case_no}/actions`: the answer is the case view.
    Act,
}

/// One read of one case's applicant identity (an entry of `GET /api/v1/audit`, part of the
/// API's contract, [`crate::contract`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct AuditEntry {
    /// Position in the log: the paging cursor (`after`).
    pub seq: u64,
    /// The node's time of the read, RFC 3339 in China Standard Time (+08:00).
    #[schema(value_type = crate::contract::foreign::TimestampSchema)]
    pub at: String,
    /// Who read it (a stand-in by their own name).
    pub operator: String,
    #[schema(value_type = crate::contract::foreign::RoleSchema)]
    pub role: Role,
    /// The clerk's department; `None` for admins and supervisors.
    pub department: Option<String>,
    #[schema(value_type = crate::contract::foreign::CaseNoSchema)]
    pub case_no: CaseNo,
    pub endpoint: Endpoint,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit log: {0}")]
    Store(#[from] StoreError),
    #[error("audit log storage: {0}")]
    Sled(#[from] sled::Error),
    #[error("audit entry {seq} is unreadable: {reason}")]
    Corrupt { seq: u64, reason: String },
    #[error("encoding an audit entry: {0}")]
    Encode(#[from] serde_json::Error),
}

/// What `GET /api/v1/audit` filters on.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub case_no: Option<CaseNo>,
    pub operator: Option<String>,
}

impl Filter {
    fn keeps(&self, e: &AuditEntry) -> bool {
        self.case_no.is_none_or(|c| e.case_no == c)
            && self.operator.as_deref().is_none_or(|o| e.operator == o)
    }
}

/// One page of entries and the cursor to the rest.
#[derive(Debug)]
pub struct Page {
    pub entries: Vec<AuditEntry>,
    /// The `seq` to continue `after`: `Some` while entries remain past the page.
    pub next: Option<u64>,
}

/// The audit log of one node.
pub struct AuditLog {
    tree: sled::Tree,
    /// Flushes the whole database (the audit tree with it) and fdatasyncs it.
    store: Arc<dyn Store>,
    /// The next sequence number to hand out.
    next: Mutex<u64>,
    /// The most entries kept: [`MAX_ENTRIES`] (smaller in tests).
    max: u64,
}

impl AuditLog {
    /// The audit log in `sled`'s tree [`TREE`]; `store` is that same store, shared.
    pub fn open(sled: SledStore) -> Result<(AuditLog, Arc<dyn Store>), AuditError> {
        let tree = sled.tree(TREE)?;
        let store: Arc<dyn Store> = Arc::new(sled);
        let next = match tree.last()? {
            Some((key, _)) => seq_of(&key)? + 1,
            None => 1,
        };
        let log = AuditLog {
            tree,
            store: store.clone(),
            next: Mutex::new(next),
            max: MAX_ENTRIES,
        };
        Ok((log, store))
    }

    /// Records that `op` received the identities of `cases` through `endpoint` at `now_ms`,
    /// and makes it durable. Returns only once the entries are on disk: call it before sending
    /// the answer, and do not send it if this fails. Blocking (a flush): call it off the
    /// runtime's worker threads.
    pub fn record(
        &self,
        op: &Operator,
        cases: &[CaseNo],
        endpoint: Endpoint,
        now_ms: u64,
    ) -> Result<(), AuditError> {
        if cases.is_empty() {
            return Ok(());
        }
        let at = crate::api::view::timestamp(now_ms);
        let mut batch = sled::Batch::default();
        {
            // Sequence numbers are handed out and inserted under the lock, so the tree's order
            // is the order of the reads; the flush happens outside it.
            let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
            for case_no in cases {
                let entry = AuditEntry {
                    seq: *next,
                    at: at.clone(),
                    operator: op.name.clone(),
                    role: op.role,
                    department: op.department.clone(),
                    case_no: *case_no,
                    endpoint,
                };
                batch.insert(&entry.seq.to_be_bytes(), serde_json::to_vec(&entry)?);
                *next += 1;
            }
            self.prune(*next, cases.len(), &mut batch)?;
            self.tree.apply_batch(batch)?;
        }
        self.store.flush()?;
        Ok(())
    }

    /// Adds to `batch` the removal of up to `2 × added` of the oldest entries once the log
    /// holds more than [`MAX_ENTRIES`]: the log shrinks back to its bound as it grows.
    fn prune(&self, next: u64, added: usize, batch: &mut sled::Batch) -> Result<(), AuditError> {
        let Some(cutoff) = next.checked_sub(self.max) else {
            return Ok(());
        };
        for key in self
            .tree
            .range(..cutoff.to_be_bytes())
            .keys()
            .take(added * 2)
        {
            batch.remove(key?);
        }
        Ok(())
    }

    /// One page of the entries that pass `filter`, in the order of the reads, after `after`;
    /// at most `limit` entries, and at most `max_scan` entries examined (then `next` says where
    /// to continue, as for the case list). Blocking: call it off the runtime.
    pub fn page(
        &self,
        filter: &Filter,
        after: Option<u64>,
        limit: usize,
        max_scan: usize,
    ) -> Result<Page, AuditError> {
        let start = after.map_or(0, |a| a.saturating_add(1));
        let mut entries = Vec::new();
        let mut last = None;
        for (examined, item) in self.tree.range(start.to_be_bytes()..).enumerate() {
            if entries.len() >= limit || examined >= max_scan {
                return Ok(Page {
                    entries,
                    next: last,
                });
            }
            let (key, value) = item?;
            let seq = seq_of(&key)?;
            last = Some(seq);
            let entry = decode(seq, &value)?;
            if filter.keeps(&entry) {
                entries.push(entry);
            }
        }
        Ok(Page {
            entries,
            next: None,
        })
    }
}

fn seq_of(key: &[u8]) -> Result<u64, AuditError> {
    let bytes: [u8; 8] = key.try_into().map_err(|_| AuditError::Corrupt {
        seq: 0,
        reason: format!("a key of {} bytes, not 8", key.len()),
    })?;
    Ok(u64::from_be_bytes(bytes))
}

fn decode(seq: u64, value: &[u8]) -> Result<AuditEntry, AuditError> {
    if value.len() > MAX_ENTRY_BYTES {
        return Err(AuditError::Corrupt {
            seq,
            reason: format!("{} bytes", value.len()),
        });
    }
    serde_json::from_slice(value).map_err(|e| AuditError::Corrupt {
        seq,
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Opens the log in `dir`; sled's background threads may hold the file lock for a moment
    /// after the previous handle is dropped, so a reopen is tried a bounded number of times.
    fn open(dir: &std::path::Path) -> AuditLog {
        for _ in 0..100 {
            if let Ok(store) = SledStore::open(dir, 1 << 20) {
                return AuditLog::open(store).unwrap().0;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        AuditLog::open(SledStore::open(dir, 1 << 20).unwrap())
            .unwrap()
            .0
    }

    /// 2025-09-30T09:00 China Standard Time, in ms.
    const T0: u64 = 1_759_194_000_000;

    fn no(seq: u32) -> CaseNo {
        format!("350322-20250930-{seq:06}").parse().unwrap()
    }

    #[test]
    fn entries_are_kept_in_order_filtered_paged_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let admin = Operator::new("管理员", Role::Admin, None).unwrap();
        let clerk = Operator::new("王", Role::Clerk, Some("住建".into())).unwrap();
        {
            let log = open(dir.path());
            log.record(&admin, &[no(1), no(2)], Endpoint::List, T0)
                .unwrap();
            log.record(&clerk, &[no(2)], Endpoint::Show, T0 + 1000)
                .unwrap();
            log.record(&admin, &[], Endpoint::Show, T0).unwrap();
        }
        let log = open(dir.path());
        log.record(&admin, &[no(3)], Endpoint::Act, T0 + 2000)
            .unwrap();
        let all = log.page(&Filter::default(), None, 10, 100).unwrap();
        let seqs: Vec<u64> = all.entries.iter().map(|e| e.seq).collect();
        assert_eq!((seqs, all.next), (vec![1, 2, 3, 4], None));
        assert_eq!(all.entries[2].operator, "王");
        assert_eq!(all.entries[2].department.as_deref(), Some("住建"));
        assert_eq!(all.entries[0].at, "2025-09-30T09:00:00.000+08:00");

        let of_2 = Filter {
            case_no: Some(no(2)),
            operator: None,
        };
        let page = log.page(&of_2, None, 1, 100).unwrap();
        assert_eq!(page.entries.len(), 1);
        assert_eq!(page.next, Some(2));
        let rest = log.page(&of_2, page.next, 1, 100).unwrap();
        assert_eq!(rest.entries[0].operator, "王");
        let by_admin = Filter {
            case_no: None,
            operator: Some("管理员".into()),
        };
        assert_eq!(log.page(&by_admin, None, 10, 100).unwrap().entries.len(), 3);
        // The scan budget stops a selective filter with a cursor.
        let page = log.page(&by_admin, None, 10, 1).unwrap();
        assert_eq!((page.entries.len(), page.next), (1, Some(1)));
    }

    #[test]
    fn the_log_keeps_its_bound_dropping_the_oldest() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path());
        log.max = 3;
        let admin = Operator::new("管理员", Role::Admin, None).unwrap();
        for n in 1..=5 {
            log.record(&admin, &[no(n)], Endpoint::Show, T0).unwrap();
        }
        let kept = log.page(&Filter::default(), None, 10, 100).unwrap();
        let seqs: Vec<u64> = kept.entries.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [3, 4, 5]);
    }
}
