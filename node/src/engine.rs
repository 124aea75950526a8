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
