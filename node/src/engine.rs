//! The write path: one task that turns requests into signed events, applies them atomically and
//! answers only after a shared flush (group commit).
//!
//! Why one task: it owns the node's sequence number, hybrid clock and daily case counter, so
//! events get gapless sequence numbers and increasing clocks without locks, and a check against
//! a case's current state cannot race with another write to the same case.
//!
//! Group commit: the task takes every request waiting in its queue (up to [`MAX_BATCH`]), applies
//! each in its own transaction (visible at once), then flushes once and answers them all. While a
//! flush runs, new requests queue up and form the next batch, so the flush rate adapts to load.
//!
//! If a flush fails, nothing since the previous flush can be promised durable: every waiting
//! client gets an error and the engine refuses further writes until the node is restarted (the
//! start-up check then repairs derived data from what did reach the disk).

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use federation_proto::{
    sign, Actor, CaseNo, Date, Event, EventBody, EventId, Hlc, Intake, NodeCode, Sig,
};
use tokio::sync::{mpsc, oneshot};
use tracing::{error, info_span, warn};

use crate::case::{Case, Refusal};
use crate::clock::Clock;
use crate::store::{Commit, NodeMeta, Store, StoreError};

/// Most requests applied before one flush.
pub const MAX_BATCH: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("case {0} does not exist")]
    NotFound(CaseNo),
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("storage failed: {0}")]
    Store(#[from] StoreError),
    #[error("the node cannot write: {0}")]
    Unavailable(String),
}

/// What a client asks the engine to write.
#[derive(Debug)]
pub enum Write {
    Submit(Intake),
    Act { case_no: CaseNo, body: EventBody },
}

struct Request {
    actor: Actor,
    write: Write,
    reply: oneshot::Sender<Result<Case, EngineError>>,
}

/// A handle to the write task; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    tx: mpsc::Sender<Request>,
}

impl Engine {
    /// Starts the write task. `meta` must be the store's checked counters.
    pub fn start(
        store: Arc<dyn Store>,
        code: NodeCode,
        key: SigningKey,
        clock: Clock,
        meta: NodeMeta,
    ) -> Engine {
        let (tx, rx) = mpsc::channel(MAX_BATCH * 4);
        let writer = Writer {
            store,
            code,
            key,
            clock,
            meta,
            failed: None,
        };
        tokio::spawn(writer.run(rx));
        Engine { tx }
    }

    /// Writes and returns the case once the event is durable.
    pub async fn write(&self, actor: Actor, write: Write) -> Result<Case, EngineError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Request {
                actor,
                write,
                reply,
            })
            .await
            .map_err(|_| EngineError::Unavailable("the write task has stopped".into()))?;
        answer
            .await
            .map_err(|_| EngineError::Unavailable("the write task has stopped".into()))?
    }
}

struct Writer {
    store: Arc<dyn Store>,
    code: NodeCode,
    key: SigningKey,
    clock: Clock,
    meta: NodeMeta,
    failed: Option<String>,
}

type Pending = (oneshot::Sender<Result<Case, EngineError>>, Case);

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Request>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut pending: Vec<Pending> = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            for request in batch.drain(..) {
                match self.apply(request.actor, request.write) {
                    Ok(case) => pending.push((request.reply, case)),
                    Err(e) => {
                        let _ = request.reply.send(Err(e));
                    }
                }
            }
            if !pending.is_empty() {
                self.flush(&mut pending).await;
            }
        }
    }

    async fn flush(&mut self, pending: &mut Vec<Pending>) {
        let store = self.store.clone();
        let flushed = tokio::task::spawn_blocking(move || store.flush())
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
        if let Err(e) = &flushed {
            error!(error = %e, "flush failed: refusing further writes until restart");
            self.failed = Some(e.clone());
        }
        for (reply, case) in pending.drain(..) {
            let answer = match &flushed {
                Ok(()) => Ok(case),
                Err(e) => Err(EngineError::Unavailable(format!("flush failed: {e}"))),
            };
            let _ = reply.send(answer);
        }
    }

    fn apply(&mut self, actor: Actor, write: Write) -> Result<Case, EngineError> {
        if let Some(reason) = &self.failed {
            return Err(EngineError::Unavailable(format!(
                "storage failed earlier ({reason}); restart the node"
            )));
        }
        let mut meta = self.meta;
        let hlc = Hlc::tick(meta.hlc, self.clock.now_ms());
        meta.hlc = hlc;
        meta.last_seq += 1;
        let (case_no, body, current) = match write {
            Write::Submit(intake) => {
                let case_no = next_case_no(&mut meta, self.code, Date::from_unix_ms(hlc.wall_ms))?;
                (case_no, EventBody::Submit(intake), None)
            }
            Write::Act { case_no, body } => {
                let case = self
                    .store
                    .case(&case_no)?
                    .ok_or(EngineError::NotFound(case_no))?;
                (case_no, body, Some(case))
            }
        };
        let span = info_span!("write", node = %self.code, case = %case_no, action = body.action());
        let _guard = span.enter();
        let mut event = Event {
            id: EventId {
                origin: self.code,
                seq: meta.last_seq,
            },
            hlc,
            case_no,
            actor,
            body,
            sig: Sig::EMPTY,
        };
        let case = match current {
            Some(mut case) => {
                case.check(&event)?;
                sign::sign(&mut event, &self.key);
                case.apply(&event);
                case
            }
            None => {
                sign::sign(&mut event, &self.key);
                Case::open(&event)
                    .ok_or_else(|| Refusal::Invalid("the submission does not open a case".into()))?
            }
        };
        self.store.commit(&Commit {
            event: &event,
            case: &case,
            meta: &meta,
        })?;
        self.meta = meta;
        Ok(case)
    }
}

/// The next case number of `day`: `<code>-<yyyymmdd>-<6-digit daily sequence>`.
fn next_case_no(meta: &mut NodeMeta, code: NodeCode, day: Date) -> Result<CaseNo, EngineError> {
    let seq = if meta.case_day == Some(day) {
        meta.case_seq + 1
    } else {
        1
    };
    if seq > CaseNo::MAX_SEQ {
        warn!(%day, "daily case numbers exhausted");
        return Err(EngineError::Unavailable(format!(
            "all {} case numbers of {day} are used",
            CaseNo::MAX_SEQ
        )));
    }
    meta.case_day = Some(day);
    meta.case_seq = seq;
    Ok(CaseNo {
        node: code,
        date: day,
        seq,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use federation_proto::{Applicant, ApplicantKind, ItemKind, Level};

    use super::*;
    use crate::operator::Operator;
    use crate::store::SledStore;

    /// A sled store that counts flushes and can be told to fail them.
    struct Probe {
        inner: SledStore,
        flushes: AtomicUsize,
        fail: AtomicBool,
    }

    impl Store for Probe {
        fn commit(&self, c: &Commit<'_>) -> Result<(), StoreError> {
            self.inner.commit(c)
        }
        fn flush(&self) -> Result<(), StoreError> {
            self.flushes.fetch_add(1, Ordering::SeqCst);
            if self.fail.load(Ordering::SeqCst) {
                return Err(StoreError::Corrupt("disk full (test)".into()));
            }
            self.inner.flush()
        }
        fn meta(&self) -> Result<NodeMeta, StoreError> {
            self.inner.meta()
        }
        fn case(&self, no: &CaseNo) -> Result<Option<Case>, StoreError> {
            self.inner.case(no)
        }
        fn cases(&self) -> Box<dyn Iterator<Item = Result<Case, StoreError>> + '_> {
            self.inner.cases()
        }
        fn events_of(&self, no: &CaseNo) -> Result<Vec<Event>, StoreError> {
            self.inner.events_of(no)
        }
        fn event_count(&self) -> usize {
            self.inner.event_count()
        }
        fn operator(&self, h: &[u8; 32]) -> Result<Option<Operator>, StoreError> {
            self.inner.operator(h)
        }
        fn put_operator(&self, h: &[u8; 32], op: &Operator) -> Result<(), StoreError> {
            self.inner.put_operator(h, op)
        }
        fn operators(&self) -> Result<Vec<Operator>, StoreError> {
            self.inner.operators()
        }
    }

    fn intake() -> Intake {
        Intake {
            item: "X".into(),
            item_name: "x".into(),
            kind: ItemKind::Promised,
            department: "d".into(),
            deciding_level: Level::County,
            applicant: Applicant {
                kind: ApplicantKind::Person,
                name: "n".into(),
                id: "11010519491231002X".into(),
            },
            materials: vec![],
            missing: vec![],
            owed: vec![],
            promised_days: 3,
            legal_days: 10,
            fee_fen: 0,
        }
    }

    fn actor() -> Actor {
        Actor {
            name: "t".into(),
            department: None,
        }
    }

    fn start(dir: &std::path::Path) -> (Arc<Probe>, Engine) {
        let probe = Arc::new(Probe {
            inner: SledStore::open(dir, 1 << 20).unwrap(),
            flushes: AtomicUsize::new(0),
            fail: AtomicBool::new(false),
        });
        let key = SigningKey::from_bytes(&[7; 32]);
        let code = "350322".parse().unwrap();
        let engine = Engine::start(
            probe.clone(),
            code,
            key,
            Clock::system(),
            NodeMeta::default(),
        );
        (probe, engine)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_share_flushes() {
        let dir = tempfile::tempdir().unwrap();
        let (probe, engine) = start(dir.path());
        let writes: Vec<_> = (0..200)
            .map(|_| {
                let engine = engine.clone();
                tokio::spawn(async move { engine.write(actor(), Write::Submit(intake())).await })
            })
            .collect();
        let mut numbers = Vec::new();
        for w in writes {
            numbers.push(w.await.unwrap().unwrap().case_no.seq);
        }
        numbers.sort_unstable();
        assert_eq!(numbers, (1..=200).collect::<Vec<u32>>());
        let flushes = probe.flushes.load(Ordering::SeqCst);
        assert!(
            flushes < 200,
            "{flushes} flushes for 200 writes: no group commit"
        );
        assert_eq!(probe.event_count(), 200);
    }

    #[tokio::test]
    async fn a_failed_flush_answers_an_error_and_stops_writes() {
        let dir = tempfile::tempdir().unwrap();
        let (probe, engine) = start(dir.path());
        let case = engine
            .write(actor(), Write::Submit(intake()))
            .await
            .unwrap();
        probe.fail.store(true, Ordering::SeqCst);
        let act = || Write::Act {
            case_no: case.case_no,
            body: EventBody::Review,
        };
        let err = engine.write(actor(), act()).await.unwrap_err();
        assert!(err.to_string().contains("flush failed"), "{err}");
        probe.fail.store(false, Ordering::SeqCst);
        let err = engine.write(actor(), act()).await.unwrap_err();
        assert!(err.to_string().contains("restart"), "{err}");
    }

    #[tokio::test]
    async fn a_refused_action_burns_no_sequence_number() {
        let dir = tempfile::tempdir().unwrap();
        let (probe, engine) = start(dir.path());
        let case = engine
            .write(actor(), Write::Submit(intake()))
            .await
            .unwrap();
        let certify = Write::Act {
            case_no: case.case_no,
            body: EventBody::Certify {
                certificate_no: "C".into(),
            },
        };
        assert!(matches!(
            engine.write(actor(), certify).await,
            Err(EngineError::Refused(_))
        ));
        let review = Write::Act {
            case_no: case.case_no,
            body: EventBody::Review,
        };
        let case = engine.write(actor(), review).await.unwrap();
        assert_eq!(
            case.log.iter().map(|l| l.id.seq).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(probe.meta().unwrap().last_seq, 2);
    }
}
