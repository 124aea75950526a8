//! proptest strategies for the protocol types: valid codes and dates, arbitrary unicode text,
//! every [`EventBody`] variant, and every link [`Frame`] variant.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;

use crate::case_no::CaseNo;
use crate::code::{Level, NodeCode};
use crate::date::Date;
use crate::event::{
    Actor, Applicant, ApplicantKind, Event, EventBody, EventId, Intake, ItemKind, Participant, Sig,
    SpecialProcedure,
};
use crate::frame::{
    Batch, Frame, Freshness, Hello, Holds, Item, PayloadKind, Record, Refusal, RefuseCode,
    FOLD_VERSION, PROTOCOL_VERSION,
};
use crate::hlc::Hlc;
use crate::summary::{CaseSummary, JointStatus, NoticeStatus, State, Warning};

/// A valid 6-, 9- or 12-digit division code (first digit never 0).
pub fn any_node_code() -> impl Strategy<Value = NodeCode> {
    prop_oneof![
        100_000u64..1_000_000,
        100_000_000u64..1_000_000_000,
        100_000_000_000u64..1_000_000_000_000,
    ]
    .prop_map(|v| NodeCode::from_u64(v).unwrap())
}

/// A date between 1901 and 2098: four-digit years, so the human-readable form round-trips.
pub fn any_date() -> impl Strategy<Value = Date> {
    let epoch = Date::from_ymd(1970, 1, 1).unwrap();
    (-25_000i32..47_000).prop_map(move |n| epoch.add_days(n))
}

pub fn any_hlc() -> impl Strategy<Value = Hlc> {
    (any::<u64>(), any::<u32>()).prop_map(|(wall_ms, counter)| Hlc { wall_ms, counter })
}

pub fn any_case_no() -> impl Strategy<Value = CaseNo> {
    (any_node_code(), any_date(), 1..=CaseNo::MAX_SEQ).prop_map(|(node, date, seq)| CaseNo {
        node,
        date,
        seq,
    })
}

/// Arbitrary unicode, short enough to keep the properties fast.
fn text() -> impl Strategy<Value = String> {
    ".{0,12}"
}

fn texts() -> impl Strategy<Value = Vec<String>> {
    vec(text(), 0..4)
}

fn any_level() -> impl Strategy<Value = Level> {
    select(vec![
        Level::Province,
        Level::City,
        Level::County,
        Level::Township,
        Level::Village,
    ])
}

fn any_item_kind() -> impl Strategy<Value = ItemKind> {
    select(vec![
        ItemKind::Immediate,
        ItemKind::Promised,
        ItemKind::Joint,
        ItemKind::ReportUp,
    ])
}

fn any_procedure() -> impl Strategy<Value = SpecialProcedure> {
    use SpecialProcedure::*;
    select(vec![
        Hearing,
        Bidding,
        Auction,
        Inspection,
        Testing,
        Quarantine,
        Appraisal,
        ExpertReview,
        SiteSurvey,
    ])
}

fn any_actor() -> impl Strategy<Value = Actor> {
    (text(), option::of(text())).prop_map(|(name, department)| Actor { name, department })
}

/// The id need not be valid here: the codec must carry whatever the window recorded.
fn any_applicant() -> impl Strategy<Value = Applicant> {
    (
        select(vec![ApplicantKind::Person, ApplicantKind::Org]),
        text(),
        text(),
    )
        .prop_map(|(kind, name, id)| Applicant { kind, name, id })
}

fn any_intake() -> impl Strategy<Value = Intake> {
    let what = (text(), text(), any_item_kind(), text(), any_level());
    let materials = (any_applicant(), texts(), texts(), texts());
    let numbers = (any::<u16>(), any::<u16>(), any::<u64>(), any::<u16>());
    (what, materials, numbers).prop_map(
        |(
            (item, item_name, kind, department, deciding_level),
            (applicant, materials, missing, owed),
            (promised_days, legal_days, fee_fen, first_review_days),
        )| Intake {
            item,
            item_name,
            kind,
            department,
            deciding_level,
            applicant,
            materials,
            missing,
            owed,
            promised_days,
            legal_days,
            fee_fen,
            first_review_days,
        },
    )
}

fn any_participant() -> impl Strategy<Value = Participant> {
    (any_node_code(), text()).prop_map(|(node, department)| Participant { node, department })
}

/// Every one of the 22 variants, with equal weight.
pub fn any_body() -> impl Strategy<Value = EventBody> {
    use EventBody::*;
    prop_oneof![
        any_intake().prop_map(Submit),
        texts().prop_map(|materials| Supplement { materials }),
        text().prop_map(|reason| Refuse { reason }),
        Just(Review),
        any_node_code().prop_map(|to| Forward { to }),
        Just(TakeOver),
        text().prop_map(|reason| Return { reason }),
        (vec(any_participant(), 0..4), any::<u16>()).prop_map(|(participants, feedback_days)| {
            OpenJointReview {
                participants,
                feedback_days,
            }
        }),
        (any::<bool>(), text()).prop_map(|(agree, comment)| Opinion { agree, comment }),
        (any_procedure(), text()).prop_map(|(procedure, reason)| Suspend { procedure, reason }),
        Just(Resume),
        (any::<u16>(), text()).prop_map(|(days, reason)| Extend { days, reason }),
        (any::<bool>(), text(), option::of(text())).prop_map(
            |(approve, reason, override_reason)| Decide {
                approve,
                reason,
                override_reason,
            }
        ),
        (any::<u64>(), text()).prop_map(|(amount_fen, receipt)| Pay {
            amount_fen,
            receipt
        }),
        text().prop_map(|certificate_no| Certify { certificate_no }),
        Just(Deliver),
        Just(Withdraw),
        (any::<u8>(), text()).prop_map(|(satisfaction, comment)| Rate {
            satisfaction,
            comment
        }),
        text().prop_map(|note| Supervise { note }),
        (texts(), text()).prop_map(|(materials, reason)| RequestSupplement { materials, reason }),
        ((any_node_code(), any::<u64>()), text()).prop_map(|((origin, seq), answer)| {
            AnswerNotice {
                notice: EventId { origin, seq },
                answer,
            }
        }),
        text().prop_map(|note| Rectify { note }),
        (any::<bool>(), text()).prop_map(|(approve, reason)| Propose { approve, reason }),
    ]
}

/// An event with an arbitrary (not necessarily valid) signature.
pub fn any_event() -> impl Strategy<Value = Event> {
    (
        (any_node_code(), any::<u64>()),
        any_hlc(),
        any_case_no(),
        any_actor(),
        any_body(),
        any::<[u8; 64]>(),
    )
        .prop_map(|((origin, seq), hlc, case_no, actor, body, sig)| Event {
            id: EventId { origin, seq },
            hlc,
            case_no,
            actor,
            body,
            sig: Sig(sig),
        })
}

/// One arbitrary event, the same on every run: for unit tests that need just an example.
pub fn sample_event() -> Event {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    any_event().new_tree(&mut runner).unwrap().current()
}

pub fn any_summary() -> impl Strategy<Value = CaseSummary> {
    let what = (
        any_case_no(),
        text(),
        text(),
        any_node_code(),
        any_node_code(),
    );
    let dates = (
        option::of(any_date()),
        option::of(any_date()),
        option::of(any_date()),
        option::of(any_date()),
    );
    let warning = || select(vec![Warning::Green, Warning::Yellow, Warning::Red]);
    let status = (
        select(State::ALL.to_vec()),
        warning(),
        warning(),
        any_hlc(),
        any::<bool>(),
        any::<u32>(),
    );
    let joint = (any_date(), any::<u16>(), any::<u16>())
        .prop_map(|(due, waiting, late)| JointStatus { due, waiting, late });
    let notice = (any_node_code(), any_date(), text(), option::of(text())).prop_map(
        |(from, on, note, answer)| NoticeStatus {
            from,
            on,
            note,
            answered_on: answer.as_ref().map(|_| on),
            answer,
        },
    );
    let more = (
        option::of(any::<u32>()),
        any::<u16>(),
        option::of(joint),
        option::of(1u8..=5),
        option::of((any_date(), warning())),
        option::of(any_date()),
        vec(notice, 0..3),
    );
    (what, dates, status, more).prop_map(
        |(
            (case_no, item, department, accepting_node, owner),
            (accepted_on, deadline, legal_deadline, concluded_on),
            (state, warning, legal_warning, as_of, provisional, events),
            (working_days, owed, joint, satisfaction, rectification, rectified_on, notices),
        )| CaseSummary {
            case_no,
            item,
            department,
            accepting_node,
            owner,
            state,
            accepted_on,
            deadline,
            legal_deadline,
            concluded_on,
            warning,
            legal_warning,
            working_days,
            owed,
            joint,
            satisfaction,
            rectification,
            rectified_on,
            notices,
            provisional,
            events,
            as_of,
        },
    )
}

pub fn any_holds() -> impl Strategy<Value = Holds> {
    (any::<u64>(), any::<u64>()).prop_map(|(received_upto, queued_upto)| Holds {
        received_upto,
        queued_upto,
    })
}

/// Mostly this build's version and fold, sometimes any other.
pub fn any_hello() -> impl Strategy<Value = Hello> {
    (
        prop_oneof![3 => Just(PROTOCOL_VERSION), 1 => any::<u16>()],
        prop_oneof![3 => Just(FOLD_VERSION), 1 => any::<u16>()],
        any_node_code(),
        any::<u64>(),
        any_holds(),
    )
        .prop_map(|(version, fold, code, features, holds)| Hello {
            version,
            code,
            features,
            holds,
            fold,
        })
}

pub fn any_refusal() -> impl Strategy<Value = Refusal> {
    (select(RefuseCode::ALL.to_vec()), text()).prop_map(|(code, message)| Refusal { code, message })
}

/// Every [`Record`] variant; catalog and calendar texts are arbitrary, not valid files.
pub fn any_record() -> impl Strategy<Value = Record> {
    prop_oneof![
        text().prop_map(Record::Catalog),
        text().prop_map(Record::Calendar),
        (any_node_code(), vec(any::<u8>(), 0..64))
            .prop_map(|(code, der)| Record::Certificate { code, der }),
        (any_node_code(), vec(text(), 0..4), text()).prop_map(|(code, serials, revoked_at)| {
            Record::Revocation {
                code,
                serials,
                revoked_at,
            }
        }),
    ]
}

/// An item whose bytes are arbitrary: the frame must carry it whether or not it decodes.
pub fn any_raw_item() -> impl Strategy<Value = Item> {
    (
        select(PayloadKind::ALL.to_vec()),
        vec(any_node_code(), 0..4),
        vec(any::<u8>(), 0..48),
    )
        .prop_map(|(kind, to, bytes)| Item { kind, to, bytes })
}

/// An item carrying the genuine encoding of an event, a summary or a record.
pub fn any_encoded_item() -> impl Strategy<Value = Item> {
    prop_oneof![
        any_event().prop_map(|ev| Item::event(&ev).unwrap()),
        any_summary().prop_map(|s| Item::summary(&s).unwrap()),
        any_record().prop_map(|r| Item::record(&r).unwrap()),
    ]
}

/// A batch as a frame may carry it: any `first`, possibly empty (the codec must carry what
/// [`Batch::check_sequence`] later refuses).
pub fn any_batch() -> impl Strategy<Value = Batch> {
    (
        any::<u64>(),
        vec(prop_oneof![any_raw_item(), any_encoded_item()], 0..5),
    )
        .prop_map(|(first, items)| Batch { first, items })
}

/// Every one of the 8 [`Frame`] variants, with equal weight.
pub fn any_frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        any_hello().prop_map(Frame::Hello),
        any_refusal().prop_map(Frame::Refuse),
        any_batch().prop_map(Frame::Batch),
        any::<u64>().prop_map(|upto| Frame::Ack { upto }),
        any::<u64>().prop_map(|nonce| Frame::Ping { nonce }),
        any::<u64>().prop_map(|nonce| Frame::Pong { nonce }),
        (any::<u64>(), any::<u64>()).prop_map(|(request, deadline_ms)| Frame::Pull {
            request,
            deadline_ms
        }),
        (
            any::<u64>(),
            vec(
                (any_node_code(), any::<bool>(), option::of(any::<u64>())),
                0..4
            )
        )
            .prop_map(|(request, nodes)| Frame::PullDone {
                request,
                nodes: nodes
                    .into_iter()
                    .map(|(code, reachable, age_ms)| Freshness {
                        code,
                        reachable,
                        age_ms,
                    })
                    .collect(),
            }),
        Just(Frame::Restore),
        any::<u64>().prop_map(|upto| Frame::RestoreQueued { upto }),
    ]
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    use super::*;

    /// The body strategy really reaches all 23 variants (a forgotten arm would silently shrink
    /// what the codec and signature properties cover).
    #[test]
    fn bodies_cover_every_variant() {
        let mut runner = TestRunner::deterministic();
        let strategy = any_body();
        let actions: BTreeSet<&str> = (0..2000)
            .map(|_| strategy.new_tree(&mut runner).unwrap().current().action())
            .collect();
        assert_eq!(actions.len(), 23, "{actions:?}");
    }

    /// The frame strategy reaches all 10 variants, and batches carry every payload kind.
    #[test]
    fn frames_cover_every_variant() {
        let mut runner = TestRunner::deterministic();
        let frames: Vec<Frame> = (0..500)
            .map(|_| any_frame().new_tree(&mut runner).unwrap().current())
            .collect();
        let names: BTreeSet<&str> = frames.iter().map(Frame::name).collect();
        assert_eq!(names.len(), 10, "{names:?}");
        let kinds: BTreeSet<String> = frames
            .iter()
            .filter_map(|f| match f {
                Frame::Batch(b) => Some(b.items.iter().map(|i| format!("{:?}", i.kind))),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(kinds.len(), PayloadKind::ALL.len(), "{kinds:?}");
    }
}
