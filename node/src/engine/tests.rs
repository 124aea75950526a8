//! Write-path tests: group commit, failures, and peers' batches.

use std::sync::atomic::Ordering;

use super::*;
use crate::fixtures::{actor, intake, township_event};
use crate::store::{CaseViews, Counters, EventLog, Outbox, SledStore};
use crate::verify::Checked;
use federation_proto::frame::Batch;
use federation_proto::frame::Item;
use federation_proto::{Event, EventBody, Hlc};

fn start(dir: &std::path::Path) -> (Arc<SledStore>, Engine) {
    let store = Arc::new(SledStore::open(dir, 1 << 20).unwrap());
    let engine = Engine::start(Setup {
        store: store.clone(),
        code: "350322".parse().unwrap(),
        parent: None,
        key: SigningKey::from_bytes(&[7; 32]),
        clock: Clock::system(),
        reference: Arc::new(Reference::new(None, None, None, None, None).unwrap()),
        policy: WarningPolicy::default(),
        ca_der: None,
    })
    .unwrap();
    (store, engine)
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
    let flushes = probe.flush_count();
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
    probe.fail_flushes.store(true, Ordering::SeqCst);
    let act = || Write::Act {
        case_no: case.case_no,
        body: EventBody::Review,
    };
    let err = engine.write(actor(), act()).await.unwrap_err();
    assert!(err.to_string().contains("flush failed"), "{err}");
    probe.fail_flushes.store(false, Ordering::SeqCst);
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

/// A federation CA and a certificate for `code` with `key`, as DER.
fn ca_and_cert(dir: &std::path::Path, code: &str, key: &SigningKey) -> (Vec<u8>, Vec<u8>) {
    let ca = crate::pki::new_ca(Some("test")).unwrap();
    let pem = dir.join("ca.crt");
    std::fs::write(&pem, &ca.cert_pem).unwrap();
    let ca_der = crate::pki::read_cert_pem(&pem).unwrap();
    let authority = crate::pki::Authority::new(ca_der.clone(), &ca.key_pem).unwrap();
    let cert = authority
        .issue(code.parse().unwrap(), &key.verifying_key(), 30)
        .unwrap();
    (ca_der, cert.der)
}

fn item(event: &Event, to: &[&str]) -> Item {
    Item::event(event)
        .unwrap()
        .addressed(to.iter().map(|c| c.parse().unwrap()).collect())
}

/// A county (350322, below 350300) that knows its township 350322101 by the key returned.
async fn county_with_township(dir: &std::path::Path) -> (Arc<SledStore>, Engine, SigningKey) {
    let township = SigningKey::from_bytes(&[9; 32]);
    let (ca_der, cert) = ca_and_cert(dir, "350322101", &township);
    let store = Arc::new(SledStore::open(&dir.join("db"), 1 << 20).unwrap());
    let engine = Engine::start(Setup {
        store: store.clone(),
        code: "350322".parse().unwrap(),
        parent: Some("350300".parse().unwrap()),
        key: SigningKey::from_bytes(&[7; 32]),
        clock: Clock::system(),
        reference: Arc::new(Reference::new(None, None, None, None, None).unwrap()),
        policy: WarningPolicy::default(),
        ca_der: Some(ca_der),
    })
    .unwrap();
    engine
        .learn("350322101".parse().unwrap(), cert, false)
        .await
        .unwrap();
    (store, engine, township)
}

#[tokio::test]
async fn peers_batches_are_verified_item_by_item() {
    let dir = tempfile::tempdir().unwrap();
    let (store, engine, township) = county_with_township(dir.path()).await;
    let from: NodeCode = "350322101".parse().unwrap();

    let submit = township_event(&township, 1, EventBody::Submit(intake()));
    let review = township_event(&township, 2, EventBody::Review);
    let garbage = Item {
        kind: federation_proto::frame::PayloadKind::Event,
        to: vec![],
        bytes: vec![1, 2, 3],
    };
    let impostor = {
        let mut e = township_event(&SigningKey::from_bytes(&[5; 32]), 3, EventBody::Withdraw);
        e.id.origin = "350322102".parse().unwrap();
        e
    };
    let batch = Batch {
        first: 1,
        items: vec![
            item(&submit, &["350322", "350300"]),
            garbage,
            item(&impostor, &["350322"]),
            item(&review, &["350322"]),
        ],
    };
    let receipt = engine.receive(from, batch.clone()).await.unwrap();
    assert_eq!(receipt.ack_upto, 4);
    assert_eq!(receipt.rejected.len(), 2, "{:?}", receipt.rejected);
    assert!(store.has_event(&submit.id).unwrap() && store.has_event(&review.id).unwrap());
    let case = store.case(&submit.case_no).unwrap().unwrap();
    assert_eq!(case.state, federation_proto::State::InReview);
    // The submission was addressed beyond us too: relayed to the parent, once.
    assert_eq!(
        store.outbox_depth("350300".parse().unwrap()),
        2,
        "certificate + event"
    );

    // A replay of the same batch changes nothing.
    let events = store.event_count();
    assert_eq!(engine.receive(from, batch).await.unwrap().ack_upto, 4);
    assert_eq!(store.event_count(), events);

    // A gap is refused: data would be lost.
    let later = Batch {
        first: 9,
        items: vec![item(&review, &["350322"])],
    };
    assert!(matches!(
        engine.receive(from, later).await,
        Err(EngineError::Link(_))
    ));

    // An event altered on the way: the link must close.
    let mut altered = township_event(&township, 3, EventBody::Withdraw);
    altered.body = EventBody::Review;
    let batch = Batch {
        first: 5,
        items: vec![item(&altered, &["350322"])],
    };
    assert!(matches!(
        engine.receive(from, batch).await,
        Err(EngineError::BadSignature(_))
    ));
    assert!(!store.has_event(&altered.id).unwrap());
}

/// The link's check is a head start, not the authority: an event it verified with a key that
/// is not the directory's key for the origin (learnt or revoked since) is verified again.
#[tokio::test]
async fn an_event_checked_with_another_key_is_verified_again() {
    let dir = tempfile::tempdir().unwrap();
    let (store, engine, township) = county_with_township(dir.path()).await;
    let mut altered = township_event(&township, 1, EventBody::Submit(intake()));
    altered.body = EventBody::Review;
    let checked = Checked {
        batch: Batch {
            first: 1,
            items: vec![item(&altered, &["350322"])],
        },
        items: vec![Some(crate::verify::Decoded {
            payload: federation_proto::frame::Payload::Event(altered.clone()),
            verified_with: Some(SigningKey::from_bytes(&[3; 32]).verifying_key()),
        })],
    };
    let from: NodeCode = "350322101".parse().unwrap();
    let receipt = engine.submit(from, checked).await.unwrap().await;
    assert!(
        matches!(receipt, Err(EngineError::BadSignature(_))),
        "{receipt:?}"
    );
    assert!(!store.has_event(&altered.id).unwrap());
}

/// An item written to an outbox but not flushed is not offered to the peer's sender: a crash
/// could still take it back, and the peer would hold an event its author no longer has.
#[tokio::test]
async fn senders_see_only_what_a_flush_made_durable() {
    let dir = tempfile::tempdir().unwrap();
    let (store, engine, _) = county_with_township(dir.path()).await;
    let parent: NodeCode = "350300".parse().unwrap();
    let durable = || engine.outbox_changes().borrow().get(&parent).copied();
    engine
        .write(actor(), Write::Submit(intake()))
        .await
        .unwrap();
    let before = durable().expect("the parent's outbox is published");
    assert_eq!(before, store.outbox_depth(parent) as u64);

    store.fail_flushes.store(true, Ordering::Relaxed);
    assert!(engine
        .write(actor(), Write::Submit(intake()))
        .await
        .is_err());
    assert!(
        store.outbox_depth(parent) as u64 > before,
        "the group was written to the outbox before its flush"
    );
    assert_eq!(durable(), Some(before), "an unflushed item was offered");
}

/// A revocation cuts the revoked node's word off at once: the summaries it sends (or that name
/// it as the owner) are refused from the moment the revocation is taken, and the links see the
/// code in [`Engine::revocations`] to close its connection.
#[tokio::test]
async fn summaries_from_a_revoked_node_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (store, engine, township) = county_with_township(dir.path()).await;
    let from: NodeCode = "350322101".parse().unwrap();
    let submit = township_event(&township, 1, EventBody::Submit(intake()));
    let batch = Batch {
        first: 1,
        items: vec![item(&submit, &["350322"])],
    };
    assert!(engine
        .receive(from, batch)
        .await
        .unwrap()
        .rejected
        .is_empty());
    let case = store
        .case(&submit.case_no)
        .unwrap()
        .expect("the folded case");
    let clocks = crate::deadline::evaluate(
        &case,
        &crate::calendar::Calendar::builtin(),
        Clock::system().today(),
        &WarningPolicy::default(),
    );
    let rated = |satisfaction: u8, tick: u64| {
        let mut s = crate::summary::summarise(&case, &clocks, Hlc::ZERO);
        s.satisfaction = Some(satisfaction);
        s.as_of = Hlc {
            wall_ms: submit.hlc.wall_ms + 1000 * tick,
            counter: 0,
        };
        Item::summary(&s).unwrap()
    };
    let before = Batch {
        first: 2,
        items: vec![rated(1, 1)],
    };
    assert!(engine
        .receive(from, before)
        .await
        .unwrap()
        .rejected
        .is_empty());
    assert_eq!(
        store
            .summary(&submit.case_no)
            .unwrap()
            .unwrap()
            .satisfaction,
        Some(1)
    );

    let mut revoked = engine.revocations();
    assert!(!revoked.borrow_and_update().contains(&from));
    engine
        .revoke(Revoked {
            code: from,
            serials: vec![],
            revoked_at: "2026-12-04T10:00:00+08:00".into(),
        })
        .await
        .unwrap();
    assert!(revoked.has_changed().unwrap() && revoked.borrow().contains(&from));

    let after = Batch {
        first: 3,
        items: vec![rated(5, 2)],
    };
    let receipt = engine.receive(from, after).await.unwrap();
    assert_eq!(receipt.rejected.len(), 1, "{receipt:?}");
    assert!(receipt.rejected[0].contains("revoked"), "{receipt:?}");
    assert_eq!(
        store
            .summary(&submit.case_no)
            .unwrap()
            .unwrap()
            .satisfaction,
        Some(1),
        "the revoked node's summary changed nothing"
    );
    // Its events no longer verify either.
    let review = township_event(&township, 2, EventBody::Review);
    let events = store.event_count();
    let late = Batch {
        first: 4,
        items: vec![item(&review, &["350322"])],
    };
    let _ = engine.receive(from, late).await;
    assert_eq!(store.event_count(), events);
}

/// Retries racing each other — the same idempotency key sent twenty times at once, most of them
/// landing in the same group commit — write one case; the writer, not the API, decides.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_retries_under_one_key_write_one_case() {
    let dir = tempfile::tempdir().unwrap();
    let (probe, engine) = start(dir.path());
    let once = crate::idempotency::Once::new("王", "k-1", "POST /api/v1/cases", b"{}");
    let retries: Vec<_> = (0..20)
        .map(|_| {
            let (engine, once) = (engine.clone(), once.clone());
            tokio::spawn(async move {
                engine
                    .write_once(actor(), Write::Submit(intake()), Some(once))
                    .await
            })
        })
        .collect();
    let mut numbers = std::collections::BTreeSet::new();
    for r in retries {
        numbers.insert(r.await.unwrap().unwrap().case_no);
    }
    assert_eq!(numbers.len(), 1, "{numbers:?}");
    assert_eq!(probe.event_count(), 1);
    // The same key with another request is refused and writes nothing.
    let other = crate::idempotency::Once::new("王", "k-1", "POST /api/v1/cases", b"{\"x\":1}");
    let refused = engine
        .write_once(actor(), Write::Submit(intake()), Some(other))
        .await;
    assert!(
        matches!(refused, Err(EngineError::KeyReused(_))),
        "{refused:?}"
    );
    assert_eq!(probe.event_count(), 1);
}

/// Writes handed in one after another without waiting (a batch of submissions, the API's
/// `POST /api/v1/cases:batch`) get their case numbers in that order and share flushes.
#[tokio::test]
async fn writes_sent_without_waiting_are_numbered_in_order_and_share_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let (probe, engine) = start(dir.path());
    let flushes = probe.flush_count();
    let mut pending = Vec::new();
    for _ in 0..300 {
        let sent = engine.send_write(actor(), Write::Submit(intake()), None);
        pending.push(sent.await.unwrap());
    }
    let mut numbers = Vec::new();
    for case in pending {
        numbers.push(case.await.unwrap().case_no.seq);
    }
    assert_eq!(numbers, (1..=300).collect::<Vec<u32>>());
    let flushes = probe.flush_count() - flushes;
    assert!(
        flushes < 30,
        "{flushes} flushes for 300 writes sent together"
    );
    assert_eq!(probe.event_count(), 300);
}
