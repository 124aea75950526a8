//! The writer's steps driven directly, without a thread, over a store that crashes like a
//! disk ([`MemStore`]). The group commit through the node's thread, over sled, is tested in
//! `node/src/engine/tests.rs`.

use std::sync::Arc;

use ed25519_dalek::{SigningKey, VerifyingKey};

use super::*;
use crate::fixtures::{actor, intake};
use crate::reference::Reference;
use crate::relay::{CertificateRefused, Certificates};
use crate::store::memory::MemStore;
use crate::store::{EventLog, Outbox, Store};

/// A node that does not federate: it has no CA, so it takes no certificate.
struct NoCa;

impl Certificates for NoCa {
    fn check(&self, _: &[u8]) -> Result<(NodeCode, VerifyingKey), CertificateRefused> {
        Err(CertificateRefused::NoCa)
    }

    fn key_of(&self, _: &[u8]) -> Result<VerifyingKey, String> {
        Err("no federation CA".into())
    }
}

/// 2025-09-30 09:00 +08:00.
const NOW: u64 = 1_759_194_000_000;

/// A writer driven step by step, without its thread, over a store that crashes like a disk.
fn writer_over(store: &Arc<MemStore>) -> Writer {
    writer_under(store, None)
}

/// [`writer_over`] for 仙游县 (350322) with `parent` above it.
fn writer_under(store: &Arc<MemStore>, parent: Option<&str>) -> Writer {
    Writer::new(Setup {
        store: store.clone(),
        code: "350322".parse().unwrap(),
        parent: parent.map(|p| p.parse().unwrap()),
        key: SigningKey::from_bytes(&[7; 32]),
        reference: Arc::new(Reference::new(None, None, None, None, None).unwrap()),
        policy: WarningPolicy::default(),
        certificates: Arc::new(NoCa),
    })
    .unwrap()
}

fn submit_step(writer: &mut Writer) -> Case {
    let input = Input::Write {
        actor: actor(),
        write: Write::Submit(intake()),
        once: None,
    };
    writer.step(NOW, input).unwrap().case().unwrap()
}

#[test]
fn steps_stage_a_change_set_and_a_crash_before_its_flush_loses_all_of_it() {
    let store = Arc::new(MemStore::new());
    let mut writer = writer_over(&store);
    let numbers: Vec<u32> = (0..3)
        .map(|_| submit_step(&mut writer).case_no.seq)
        .collect();
    assert_eq!(numbers, vec![1, 2, 3]);
    assert_eq!(store.event_count(), 0, "a step writes nothing");
    let commit = writer.take_commit().expect("the group changed something");
    assert_eq!(commit.events.len(), 3);
    assert_eq!(commit.cases.len(), 3);
    assert_eq!(commit.meta.last_seq, 3);
    assert!(writer.take_commit().is_none(), "taken once");

    // Written in one transaction, then the power goes before the flush: none of the group
    // survives, and a writer started on what is left numbers from 1 again — no gap, no half.
    store.commit(&commit).unwrap();
    assert_eq!(store.event_count(), 3, "visible once written");
    store.crash();
    assert_eq!(store.event_count(), 0);
    assert_eq!(store.meta().unwrap().last_seq, 0);
    let mut writer = writer_over(&store);
    assert_eq!(submit_step(&mut writer).case_no.seq, 1);
    let commit = writer.take_commit().unwrap();
    store.commit(&commit).unwrap();
    store.flush().unwrap();
    store.crash();
    assert_eq!(store.event_count(), 1, "a flushed group survives the crash");
}

#[test]
fn a_refused_step_stages_nothing() {
    let store = Arc::new(MemStore::new());
    let mut writer = writer_over(&store);
    let case = submit_step(&mut writer);
    store.commit(&writer.take_commit().unwrap()).unwrap();
    let certify = Input::Write {
        actor: actor(),
        write: Write::Act {
            case_no: case.case_no,
            body: EventBody::Certify {
                certificate_no: "C".into(),
            },
        },
        once: None,
    };
    assert!(
        matches!(writer.step(NOW, certify), Err(EngineError::Refused(_))),
        "a case just submitted is not certified"
    );
    assert!(
        writer.take_commit().is_none(),
        "the refusal left nothing to write"
    );
}

/// The group commit as the shell drives it: nothing a group queued for a peer is sendable
/// before the group's flush, and [`Writer::commit_group`] says how far each outbox now is.
#[test]
fn what_a_group_queues_becomes_sendable_only_with_its_flush() {
    let store = Arc::new(MemStore::new());
    let mut writer = writer_under(&store, Some("350300"));
    let city: NodeCode = "350300".parse().unwrap();
    assert_eq!(writer.durable().get(&city), None);
    submit_step(&mut writer);
    submit_step(&mut writer);
    assert_eq!(store.outbox_depth(city), 0, "a step writes nothing");
    let durable = writer
        .commit_group()
        .expect("the flush succeeds")
        .expect("the group queued items for the parent");
    // Each submission goes up as its event and the case's status summary.
    assert_eq!(durable.get(&city), Some(&4));
    store.crash();
    assert_eq!(
        store.outbox_depth(city),
        4,
        "what was reported sendable is durable"
    );
    assert_eq!(
        writer.commit_group(),
        Ok(None),
        "an empty group reports nothing new"
    );
}

/// A flush that fails fails the writer: the group's answers are errors, nothing of it
/// survives a crash, and every later step is refused until a restart.
#[test]
fn a_failed_flush_refuses_every_later_step() {
    let store = Arc::new(MemStore::new());
    let mut writer = writer_over(&store);
    submit_step(&mut writer);
    writer.commit_group().expect("the first group is durable");
    store.fail_flushes();
    submit_step(&mut writer);
    let failed = writer.commit_group();
    assert!(
        failed.as_ref().is_err_and(|e| e.contains("simulated EIO")),
        "{failed:?}"
    );
    assert!(writer.failed().is_some());
    let refused = writer.step(
        NOW,
        Input::Write {
            actor: actor(),
            write: Write::Submit(intake()),
            once: None,
        },
    );
    assert!(
        matches!(&refused, Err(EngineError::Unavailable(m)) if m.contains("restart the node")),
        "{refused:?}"
    );
    store.crash();
    assert_eq!(store.event_count(), 1, "only the first group survives");
    let mut restarted = writer_over(&store);
    assert_eq!(
        submit_step(&mut restarted).case_no.seq,
        2,
        "numbering resumes after what is durable, without a gap"
    );
}
