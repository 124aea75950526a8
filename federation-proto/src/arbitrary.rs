//! proptest strategies for the protocol types: valid codes and dates, arbitrary unicode text, and
//! every [`EventBody`] variant.

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
use crate::hlc::Hlc;
use crate::summary::{CaseSummary, State, Warning};

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
    let numbers = (any::<u16>(), any::<u16>(), any::<u64>());
    (what, materials, numbers).prop_map(
        |(
            (item, item_name, kind, department, deciding_level),
            (applicant, materials, missing, owed),
            (promised_days, legal_days, fee_fen),
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
        },
    )
}

fn any_participant() -> impl Strategy<Value = Participant> {
    (any_node_code(), text()).prop_map(|(node, department)| Participant { node, department })
}

/// Every one of the 19 variants, with equal weight.
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
    );
    let status = (
        select(State::ALL.to_vec()),
        select(vec![Warning::Green, Warning::Yellow, Warning::Red]),
        any_hlc(),
    );
    (what, dates, status).prop_map(
        |(
            (case_no, item, department, accepting_node, owner),
            (accepted_on, deadline, concluded_on),
            (state, warning, as_of),
        )| CaseSummary {
            case_no,
            item,
            department,
            accepting_node,
            owner,
            state,
            accepted_on,
            deadline,
            concluded_on,
            warning,
            as_of,
        },
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    use super::*;

    /// The body strategy really reaches all 19 variants (a forgotten arm would silently shrink
    /// what the codec and signature properties cover).
    #[test]
    fn bodies_cover_every_variant() {
        let mut runner = TestRunner::deterministic();
        let strategy = any_body();
        let actions: BTreeSet<&str> = (0..2000)
            .map(|_| strategy.new_tree(&mut runner).unwrap().current().action())
            .collect();
        assert_eq!(actions.len(), 19, "{actions:?}");
    }
}
