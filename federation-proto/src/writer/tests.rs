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

/// A CA for the restore's tests: a "certificate" is the node's code (8 bytes, big-endian)
/// followed by its 32-byte public key, taken as it is.
struct PlainCa;

impl PlainCa {
    fn der(code: NodeCode, key: &SigningKey) -> Vec<u8> {
        let mut der = code.as_u64().to_be_bytes().to_vec();
        der.extend_from_slice(key.verifying_key().as_bytes());
        der
    }
}

impl Certificates for PlainCa {
    fn check(&self, der: &[u8]) -> Result<(NodeCode, VerifyingKey), CertificateRefused> {
        let refuse = || CertificateRefused::Invalid("not a plain certificate".into());
        let (code, key) = der.split_at_checked(8).ok_or_else(refuse)?;
        let code = u64::from_be_bytes(code.try_into().map_err(|_| refuse())?);
        let code: NodeCode = code.to_string().parse().map_err(|_| refuse())?;
        let key: [u8; 32] = key.try_into().map_err(|_| refuse())?;
        Ok((code, VerifyingKey::from_bytes(&key).map_err(|_| refuse())?))
    }

    fn key_of(&self, der: &[u8]) -> Result<VerifyingKey, String> {
        self.check(der)
            .map(|(_, key)| key)
            .map_err(|e| e.to_string())
    }
}

const TOWNSHIP: &str = "350322100";
const COUNTY: &str = "350322";
const HOUR: u64 = 3_600_000;

/// 榜头镇 (350322100) under its county, over `store`, knowing its own certificate: as `liandong
/// run` and `liandong restore` start it.
fn township_over(store: &Arc<MemStore>) -> Writer {
    let code: NodeCode = TOWNSHIP.parse().unwrap();
    let key = SigningKey::from_bytes(&[9; 32]);
    let mut writer = Writer::new(Setup {
        store: store.clone(),
        code,
        parent: Some(COUNTY.parse().unwrap()),
        key: key.clone(),
        reference: Arc::new(Reference::new(None, None, None, None, None).unwrap()),
        policy: WarningPolicy::default(),
        certificates: Arc::new(PlainCa),
    })
    .unwrap();
    let learn = Input::Learn {
        code,
        der: PlainCa::der(code, &key),
        welcome: false,
    };
    writer.step(0, learn).unwrap();
    writer.commit_group().unwrap();
    writer
}

/// A submission at `now_ms`, made durable: its case number.
fn submit_at(writer: &mut Writer, now_ms: u64) -> CaseNo {
    let input = Input::Write {
        actor: actor(),
        write: Write::Submit(intake()),
        once: None,
    };
    let case = writer.step(now_ms, input).unwrap().case().unwrap();
    writer.commit_group().unwrap();
    case.case_no
}

/// `liandong restore` over an empty store: the county's copy (`copy`, the township's events
/// it holds) comes back in one batch, then the restore completes at `now_ms`. Returns the
/// restored writer, already restarted from what the restore made durable (as `liandong run`
/// follows it), and where the restore said the numbering resumes.
fn restore(store: &Arc<MemStore>, copy: &[Event], now_ms: u64) -> (Writer, Resumed) {
    let mut writer = township_over(store);
    let batch = crate::frame::Batch {
        first: 1,
        items: copy.iter().map(|e| Item::event(e).unwrap()).collect(),
    };
    let receive = Input::Receive {
        from: COUNTY.parse().unwrap(),
        checked: crate::verify::Checked::unchecked(batch),
    };
    let receipt = writer.step(now_ms, receive).unwrap().receipt().unwrap();
    assert!(receipt.rejected.is_empty(), "{:?}", receipt.rejected);
    writer.commit_group().unwrap();
    let resumed = writer
        .step(now_ms, Input::Restored)
        .unwrap()
        .resumed()
        .unwrap();
    // Typed, in the group's change set: the counters and the floor's last day, together.
    let commit = writer
        .take_commit()
        .expect("the restore changed the numbering");
    assert_eq!(commit.meta.case_day, Some(resumed.day));
    assert_eq!(commit.meta.case_seq, resumed.next_seq - 1);
    assert!(commit.settings.iter().any(|(key, _)| *key == FLOOR_KEY));
    store.commit(&commit).unwrap();
    store.flush().unwrap();
    // Durable once flushed: what the restored node runs on after a power cut.
    store.crash();
    (township_over(store), resumed)
}

/// The township's own events its county holds: the first `n` it authored.
fn first_events(store: &MemStore, n: usize) -> Vec<Event> {
    let own = store.events_by_origin(TOWNSHIP.parse().unwrap()).unwrap();
    own.into_iter().take(n).collect()
}

/// The bug `LIANDONG_SIM_SEED=8` showed, and the rule that ends it (`writer/numbering.rs`): a
/// township acknowledges three cases on 30 September, the third never reaches its county, and
/// the disk is lost. Restored from the county's copy, it must not give the third case's number
/// again — nor any number the lost store could have issued, after a second loss the same day
/// either — while its later days number as always.
#[test]
fn a_restored_node_never_gives_a_number_its_lost_store_may_have_issued() {
    let lost = Arc::new(MemStore::new());
    let mut township = township_over(&lost);
    let issued: Vec<CaseNo> = (0..3).map(|i| submit_at(&mut township, NOW + i)).collect();
    assert_eq!(issued.iter().map(|n| n.seq).collect::<Vec<_>>(), [1, 2, 3]);
    // The county holds the first two: the third (and its summary) was still in the outbox.
    let copy = first_events(&lost, 2);

    // Restored at 10:00 the same day: the day resumes at 900 001 + the 36 000 seconds gone.
    let restored = Arc::new(MemStore::new());
    let (mut township, resumed) = restore(&restored, &copy, NOW + HOUR);
    let day = issued[0].date;
    assert_eq!(
        resumed,
        Resumed {
            day,
            next_seq: RESTORE_FLOOR + 10 * 3600,
            floor_through: day.succ(),
        }
    );
    let after = submit_at(&mut township, NOW + HOUR + 60_000);
    assert_eq!((after.date, after.seq), (day, 936_001));
    assert!(!issued.contains(&after), "{after} given again");
    // The event sequence does resume after the county's copy: the lost event's number (3) is
    // given again, which harms no one — that event never left the township.
    assert_eq!(restored.meta().unwrap().last_seq, 3);
    let second = submit_at(&mut township, NOW + HOUR + 120_000);
    assert_eq!(second.seq, 936_002);

    // The disk is lost again at 11:00, before either reached the county: its copy is as it
    // was, and knows nothing of 936 001 or 936 002. The time of day skips past them.
    let again = Arc::new(MemStore::new());
    let (mut township, resumed) = restore(&again, &copy, NOW + 2 * HOUR);
    assert_eq!(resumed.next_seq, RESTORE_FLOOR + 11 * 3600);
    let third = submit_at(&mut township, NOW + 2 * HOUR + 60_000);
    assert!(third.seq > second.seq && third.date == day, "{third}");

    // The next day starts at the floor too (a lost store's clock may have run a little ahead);
    // the day after that at 1, as always.
    let next_day = submit_at(&mut township, NOW + 24 * HOUR);
    assert_eq!((next_day.date, next_day.seq), (day.succ(), RESTORE_FLOOR));
    let later = submit_at(&mut township, NOW + 48 * HOUR);
    assert_eq!((later.date, later.seq), (day.add_days(2), 1));
}

/// The restoring node's clock is behind the lost store's: the lost case is dated 1 October
/// (00:30 by the old clock), the restore runs at 23:50 on 30 September by the new one. The
/// floor reaches the day after the restore's, so the lost case's number is skipped as well.
#[test]
fn a_case_lost_on_the_day_after_the_restoring_clock_is_skipped_too() {
    let lost = Arc::new(MemStore::new());
    let mut township = township_over(&lost);
    let first = submit_at(&mut township, NOW);
    let midnight = first.date.succ().start_unix_ms();
    let lost_no = submit_at(&mut township, midnight + HOUR / 2);
    assert_eq!((lost_no.date, lost_no.seq), (first.date.succ(), 1));

    let restored = Arc::new(MemStore::new());
    let copy = first_events(&lost, 1);
    let (mut township, resumed) = restore(&restored, &copy, midnight - 10 * 60_000);
    assert_eq!(resumed.day, first.date);
    let after = submit_at(&mut township, midnight + HOUR);
    assert_eq!((after.date, after.seq), (lost_no.date, RESTORE_FLOOR));
}

/// A sweep in the middle of a group judges the cases the group changed as they now stand —
/// read through the overlay — and writes nothing: its change set joins the group's.
#[test]
fn a_sweep_reads_the_group_through_its_overlay_and_writes_nothing() {
    let store = Arc::new(MemStore::new());
    let mut writer = writer_over(&store);
    let case = submit_step(&mut writer);
    // Twenty days on, the promised deadline has passed: the staged summary is stale.
    let later = NOW + 20 * 86_400_000;
    let changed = writer
        .step(later, Input::Sweep { full: false })
        .and_then(Output::seq)
        .unwrap();
    assert_eq!(changed, 1, "the case staged in this group was judged");
    assert_eq!(store.event_count(), 0, "the sweep wrote nothing");
    let commit = writer.take_commit().expect("one change set");
    assert_eq!(commit.events.len(), 1);
    let summary = commit
        .summaries
        .iter()
        .find(|s| s.case_no == case.case_no)
        .expect("the case's summary");
    assert_eq!(
        summary.warning,
        crate::Warning::Red,
        "as of the sweep's day"
    );
}

/// A sweep run a slice at a time, with a write between two slices, judges every case a whole
/// sweep judges — the written ones in case-number order, then those the group added — and
/// the one written in between too; each slice reads at most its limit.
#[test]
fn a_sweep_in_slices_judges_what_a_whole_sweep_judges() {
    let later = NOW + 20 * 86_400_000;
    let prepared = || {
        let store = Arc::new(MemStore::new());
        let mut writer = writer_over(&store);
        for _ in 0..5 {
            submit_step(&mut writer);
        }
        writer.commit_group().unwrap();
        // One more in the group, not yet written.
        submit_step(&mut writer);
        (store, writer)
    };
    let (_, mut whole) = prepared();
    let whole_changed = whole
        .step(later, Input::Sweep { full: false })
        .and_then(Output::seq)
        .unwrap();
    assert_eq!(whole_changed, 6);

    let (_, mut sliced) = prepared();
    let (mut changed, mut from, mut slices) = (0, SweepFrom::Cases(None), Vec::new());
    let mut between = None;
    loop {
        let input = Input::SweepSlice {
            full: false,
            from: from.clone(),
            limit: 2,
        };
        let slice = sliced.step(later, input).and_then(Output::slice).unwrap();
        changed += slice.changed;
        slices.push(slice.clone());
        if slices.len() == 1 {
            // Other work between two slices.
            between = Some(submit_step(&mut sliced).case_no);
        }
        match slice.next {
            Some(next) => from = next,
            None => break,
        }
    }
    // 2 + 2 + 1 written cases, the last slice of cases with the group's two; then summaries.
    assert_eq!(
        slices.iter().map(|s| s.evaluated).collect::<Vec<_>>()[..3],
        [2, 2, 3]
    );
    assert!(matches!(slices[2].next, Some(SweepFrom::Summaries(None))));
    // The case written between two slices was summarised at its write, after the clock had
    // reached the sweep's day: judged, and current.
    assert_eq!(changed, whole_changed, "{slices:?}");
    let commit = sliced.take_commit().expect("one change set");
    assert_eq!(commit.summaries.len(), 7);
    // Every case of before the sweep is red as of its day; the one written in between was
    // accepted on that day (the writer's clock does not go back), its deadline ahead.
    for summary in &commit.summaries {
        let red = summary.warning == crate::Warning::Red;
        assert_eq!(red, Some(summary.case_no) != between, "{summary:?}");
    }
}

/// After a sweep that reads everything, a sweep that is not full reads only the cases whose
/// clocks can move: a withdrawn case leaves the index, a new one joins it, and what the index
/// sweep finds stale is what a sweep reading everything finds.
#[test]
fn a_sweep_after_the_first_reads_only_the_cases_whose_clocks_move() {
    let store = Arc::new(MemStore::new());
    let mut writer = writer_over(&store);
    let cases: Vec<CaseNo> = (0..4).map(|_| submit_step(&mut writer).case_no).collect();
    writer.commit_group().unwrap();
    assert!(writer.sweep_index.live.is_none(), "no index before a sweep");
    writer
        .step(NOW, Input::Sweep { full: true })
        .and_then(Output::seq)
        .unwrap();
    let indexed = |w: &Writer| w.sweep_index.live.as_ref().unwrap().cases.clone();
    assert_eq!(indexed(&writer), cases.iter().copied().collect());
    // Withdrawn: its clocks stop, it leaves the index at once (staged, not yet written).
    let withdraw = Input::Write {
        actor: actor(),
        write: Write::Act {
            case_no: cases[1],
            body: EventBody::Withdraw,
        },
        once: None,
    };
    writer.step(NOW, withdraw).unwrap();
    let fresh = submit_step(&mut writer).case_no;
    let mut expected: std::collections::BTreeSet<CaseNo> = cases.iter().copied().collect();
    expected.remove(&cases[1]);
    expected.insert(fresh);
    assert_eq!(indexed(&writer), expected);
    writer.commit_group().unwrap();
    // Twenty days on: the four open cases are stale, and only they are read.
    let later = NOW + 20 * 86_400_000;
    let input = Input::SweepSlice {
        full: false,
        from: SweepFrom::Cases(None),
        limit: 100,
    };
    let slice = writer.step(later, input).and_then(Output::slice).unwrap();
    assert_eq!((slice.evaluated, slice.changed), (4, 4));
    // A sweep reading everything finds nothing more.
    let all = writer
        .step(later, Input::Sweep { full: true })
        .and_then(Output::seq)
        .unwrap();
    assert_eq!(all, 0, "the index missed no stale case");
}

/// A restore is marked under way, durably, before anything of the copy arrives, and the mark
/// goes in the change set that completes it: a store left by an interrupted restore says so.
#[test]
fn a_restore_is_marked_under_way_until_its_completion_is_durable() {
    use crate::store::Directory;
    let store = Arc::new(MemStore::new());
    let mut writer = writer_under(&store, Some("350300"));
    let under_way =
        |store: &MemStore| super::restore_under_way(store.setting(super::RESTORING_KEY).unwrap());
    assert!(!under_way(&store));
    writer
        .step(NOW, Input::RestoreBegun)
        .unwrap()
        .unit()
        .unwrap();
    writer.commit_group().unwrap();
    store.crash();
    assert!(under_way(&store), "the mark survives a crash once flushed");

    let mut writer = writer_under(&store, Some("350300"));
    writer.step(NOW, Input::Restored).unwrap();
    assert!(under_way(&store), "not cleared before the group is written");
    writer.commit_group().unwrap();
    store.crash();
    assert!(!under_way(&store), "cleared with the completion, durably");
}

/// [`check_submission_size`] measures the widest event a submission can become: one it lets
/// through is never refused for its size by the step, and it refuses at most a few bytes
/// (the varints of sequence, clock and case number at their widest) before the step would.
#[test]
fn a_submission_that_passes_the_size_check_is_never_refused_for_its_size() {
    let store = Arc::new(MemStore::new());
    let code: NodeCode = "350322".parse().unwrap();
    let day = Date::from_unix_ms(NOW);
    let with_material = |len: usize| Intake {
        materials: vec!["m".repeat(len)],
        ..intake()
    };
    assert!(check_submission_size(code, day, &actor(), &intake()).is_ok());
    let (mut refused_early, mut passed, mut refused) = (0, 0, 0);
    let mut writer = writer_over(&store);
    for len in codec::MAX_EVENT_BYTES - 300..codec::MAX_EVENT_BYTES {
        let checked = check_submission_size(code, day, &actor(), &with_material(len));
        let input = Input::Write {
            actor: actor(),
            write: Write::Submit(with_material(len)),
            once: None,
        };
        let stepped = writer.step(NOW, input);
        match (checked, stepped) {
            (Ok(()), Ok(_)) => passed += 1,
            (Err(_), Err(_)) => refused += 1,
            (Ok(()), Err(e)) => panic!("a material of {len} bytes passed the check: {e}"),
            (Err(_), Ok(_)) => refused_early += 1,
        }
        if writer.staged.len() > MAX_STAGED / 2 {
            writer = writer_over(&store);
        }
    }
    assert!(
        passed > 0 && refused > 0,
        "the sizes tried straddle the limit"
    );
    assert!(
        refused_early <= 32,
        "refused {refused_early} sizes too early"
    );
    let e = check_submission_size(code, day, &actor(), &with_material(codec::MAX_EVENT_BYTES))
        .unwrap_err();
    assert!(e.to_string().contains("too long to record"), "{e}");
}

/// A township's copy comes back with the latest summary it wrote of its own cases, first: its
/// clock takes that summary's date, so the summaries it writes as its events come back are
/// dated after every one it wrote before the loss — even on a clock behind the lost store's.
/// Without it its ancestors, which keep the latest summary of as many events, would keep the
/// lost store's (a deadline a calendar notice moved never reached the city).
#[test]
fn a_restored_township_dates_its_summaries_after_those_of_its_lost_store() {
    use crate::store::{CaseViews, EventLog};
    let lost = Arc::new(MemStore::new());
    let mut township = township_over(&lost);
    let case_no = submit_at(&mut township, NOW);
    // A sweep twenty days on, on a clock that ran ahead: past the deadline, the summary
    // turns red and is dated then.
    let changed = township
        .step(NOW + 20 * 86_400_000, Input::Sweep { full: true })
        .and_then(Output::seq)
        .unwrap();
    assert_eq!(changed, 1);
    township.commit_group().unwrap();
    let latest = lost
        .summary(&case_no)
        .unwrap()
        .expect("the township's summary");
    let events = lost.events_by_origin(TOWNSHIP.parse().unwrap()).unwrap();

    // The restore runs on a clock an hour after the submission: behind the lost sweep's.
    let restored_at = NOW + 3_600_000;
    let restored = |with_summary: bool| {
        let store = Arc::new(MemStore::new());
        let mut writer = township_over(&store);
        let mut items = Vec::new();
        if with_summary {
            items.push(Item::summary(&latest).unwrap());
        }
        items.extend(events.iter().map(|e| Item::event(e).unwrap()));
        let receive = Input::Receive {
            from: COUNTY.parse().unwrap(),
            checked: crate::verify::Checked::unchecked(crate::frame::Batch { first: 1, items }),
        };
        let receipt = writer
            .step(restored_at, receive)
            .unwrap()
            .receipt()
            .unwrap();
        assert!(receipt.rejected.is_empty(), "{:?}", receipt.rejected);
        writer.commit_group().unwrap();
        store
            .summary(&case_no)
            .unwrap()
            .expect("the restored summary")
    };
    assert!(
        restored(true).as_of > latest.as_of,
        "dated after the lost store's summary"
    );
    assert!(
        restored(false).as_of < latest.as_of,
        "the control: without it, dated before (the case this guards against)"
    );
}
