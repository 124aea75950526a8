//! Fold tests: transitions, authority, and order independence.

use crate::{Event, EventBody, Intake, ItemKind, Level, Participant, State};
use proptest::prelude::*;

use super::script::{code, intake, Script};
use super::*;

fn decide(approve: bool) -> EventBody {
    EventBody::Decide {
        approve,
        reason: "依法审查".into(),
        override_reason: None,
    }
}

#[test]
fn promised_item_runs_to_delivery() {
    let mut s = Script::new("350322");
    s.by(
        "350322",
        None,
        EventBody::Submit(intake(ItemKind::Promised, &[], &[])),
    );
    assert_eq!(s.fold().state, State::Accepted);
    s.by("350322", None, EventBody::Review);
    s.at("2025-10-10").by("350322", None, decide(true));
    s.by(
        "350322",
        None,
        EventBody::Certify {
            certificate_no: "C-1".into(),
        },
    );
    s.by("350322", None, EventBody::Deliver);
    let case = s.fold();
    assert_eq!(case.state, State::Delivered);
    assert_eq!(case.concluded_on, Some("2025-10-10".parse().unwrap()));
    assert!(case.log.iter().all(|l| l.rejected.is_none()));
}

#[test]
fn missing_core_materials_wait_for_supplement() {
    let mut s = Script::new("350322");
    s.by(
        "350322",
        None,
        EventBody::Submit(intake(ItemKind::Promised, &["营业执照", "图纸"], &[])),
    );
    let case = s.fold();
    assert_eq!(case.state, State::AwaitingSupplement);
    assert_eq!(case.accepted_on, None);
    s.at("2025-10-11").by(
        "350322",
        None,
        EventBody::Supplement {
            materials: vec!["营业执照".into()],
        },
    );
    assert_eq!(s.fold().missing, vec!["图纸".to_string()]);
    s.at("2025-10-13").by(
        "350322",
        None,
        EventBody::Supplement {
            materials: vec!["图纸".into()],
        },
    );
    let case = s.fold();
    assert_eq!(case.state, State::Accepted);
    assert_eq!(case.accepted_on, Some("2025-10-13".parse().unwrap()));
}

#[test]
fn tolerant_intake_must_supply_before_approval() {
    let mut s = Script::new("350322");
    s.by(
        "350322",
        None,
        EventBody::Submit(intake(ItemKind::Promised, &[], &["社保证明"])),
    );
    let approve = s.by("350322", None, decide(true));
    let case = s.fold();
    assert_eq!(case.state, State::Accepted);
    assert!(case
        .log
        .iter()
        .any(|l| l.id == approve.id && l.rejected.is_some()));
    s.by(
        "350322",
        None,
        EventBody::Supplement {
            materials: vec!["社保证明".into()],
        },
    );
    s.by("350322", None, decide(true));
    assert_eq!(s.fold().state, State::Approved);
}

#[test]
fn immediate_item_is_decided_at_intake() {
    let mut s = Script::new("350322");
    s.by(
        "350322",
        None,
        EventBody::Submit(intake(ItemKind::Immediate, &[], &[])),
    );
    let case = s.fold();
    assert_eq!(case.state, State::Approved);
    assert_eq!(case.concluded_on, case.accepted_on);
}

#[test]
fn only_the_deciding_level_decides() {
    // A county item accepted at a township window (就近办) is not decided there, not even a 即办.
    let mut s = Script::new("350322101");
    s.by(
        "350322101",
        None,
        EventBody::Submit(intake(ItemKind::Immediate, &[], &[])),
    );
    assert_eq!(s.fold().state, State::Accepted);
    let decide = s.by("350322101", None, decide(true));
    let case = s.fold();
    assert_eq!(case.state, State::Accepted);
    assert!(rejection(&case, &decide).unwrap().contains("county level"));
}

#[test]
fn only_the_owner_changes_state() {
    let mut s = Script::new("350322");
    s.by(
        "350322",
        None,
        EventBody::Submit(intake(ItemKind::Promised, &[], &[])),
    );
    let forged = s.by("350322101", None, decide(true));
    let case = s.fold();
    assert_eq!(case.state, State::Accepted);
    assert!(rejection(&case, &forged).unwrap().contains("owner"));
}

#[test]
fn forward_and_take_over_move_ownership() {
    let mut s = Script::new("350322101");
    s.by(
        "350322101",
        None,
        EventBody::Submit(intake(ItemKind::Promised, &[], &[])),
    );
    s.by("350322101", None, EventBody::Forward { to: code("350322") });
    assert_eq!(s.fold().state, State::InTransit);
    let stray = s.by("350300", None, EventBody::TakeOver);
    s.by("350322", None, EventBody::TakeOver);
    let case = s.fold();
    assert_eq!(case.owner, code("350322"));
    assert_eq!(case.state, State::Accepted);
    assert!(case
        .log
        .iter()
        .any(|l| l.id == stray.id && l.rejected.is_some()));
    s.by("350322", None, decide(false));
    assert_eq!(s.fold().state, State::Denied);
}

#[test]
fn joint_review_needs_every_opinion_and_an_override_to_approve_over_disagreement() {
    let mut s = Script::new("350322");
    s.by(
        "350322",
        None,
        EventBody::Submit(intake(ItemKind::Joint, &[], &[])),
    );
    s.by(
        "350322",
        None,
        EventBody::OpenJointReview {
            participants: vec![
                Participant {
                    node: code("350322"),
                    department: "消防".into(),
                },
                Participant {
                    node: code("350300"),
                    department: "自然资源和规划局".into(),
                },
            ],
            feedback_days: 3,
        },
    );
    let early = s.by("350322", None, decide(true));
    let outsider = s.by(
        "350322",
        Some("教育局"),
        EventBody::Opinion {
            agree: true,
            comment: String::new(),
        },
    );
    s.by(
        "350322",
        Some("消防"),
        EventBody::Opinion {
            agree: true,
            comment: "同意".into(),
        },
    );
    s.by(
        "350300",
        Some("自然资源和规划局"),
        EventBody::Opinion {
            agree: false,
            comment: "不符合规划".into(),
        },
    );
    let no_override = s.by("350322", None, decide(true));
    s.by(
        "350322",
        None,
        EventBody::Decide {
            approve: true,
            reason: "综合研判".into(),
            override_reason: Some("规划意见已整改".into()),
        },
    );
    let case = s.fold();
    assert_eq!(case.state, State::Approved);
    for id in [early.id, outsider.id, no_override.id] {
        assert!(
            case.log.iter().any(|l| l.id == id && l.rejected.is_some()),
            "{id:?}"
        );
    }
}

#[test]
fn suspension_records_a_pause_and_resumes_where_it_was() {
    let mut s = Script::new("350322");
    s.by(
        "350322",
        None,
        EventBody::Submit(intake(ItemKind::Promised, &[], &[])),
    );
    s.by("350322", None, EventBody::Review);
    s.by(
        "350322",
        None,
        EventBody::Suspend {
            procedure: SpecialProcedure::Hearing,
            reason: "听证".into(),
        },
    );
    s.at("2025-10-14").by("350322", None, EventBody::Resume);
    let case = s.fold();
    assert_eq!(case.state, State::InReview);
    assert_eq!(case.pauses.len(), 1);
    assert_eq!(case.pauses[0].to, Some("2025-10-14".parse().unwrap()));
}

#[test]
fn supervision_only_from_an_ancestor_and_rating_only_at_the_accepting_node() {
    let mut s = Script::new("350322101");
    let township_item = Intake {
        deciding_level: Level::Township,
        ..intake(ItemKind::Promised, &[], &[])
    };
    s.by("350322101", None, EventBody::Submit(township_item));
    let sibling = s.by(
        "350322102",
        None,
        EventBody::Supervise {
            note: "加快".into(),
        },
    );
    s.by(
        "350300",
        None,
        EventBody::Supervise {
            note: "请说明超期原因".into(),
        },
    );
    s.by("350322101", None, decide(true));
    let elsewhere = s.by(
        "350322",
        None,
        EventBody::Rate {
            satisfaction: 1,
            comment: String::new(),
        },
    );
    s.by(
        "350322101",
        None,
        EventBody::Rate {
            satisfaction: 5,
            comment: "太慢".into(),
        },
    );
    let case = s.fold();
    assert_eq!(case.notices.len(), 1);
    assert!(case.rating.as_ref().unwrap().is_bad());
    for id in [sibling.id, elsewhere.id] {
        assert!(case.log.iter().any(|l| l.id == id && l.rejected.is_some()));
    }
}

/// A realistic event set with two concurrent writers and some events that must be rejected.
fn request(materials: &[&str]) -> EventBody {
    EventBody::RequestSupplement {
        materials: materials.iter().map(|m| m.to_string()).collect(),
        reason: "材料需补充".into(),
    }
}

fn supplement(materials: &[&str]) -> EventBody {
    EventBody::Supplement {
        materials: materials.iter().map(|m| m.to_string()).collect(),
    }
}

/// A township case (就近办) forwarded to and taken over by its county.
fn at_the_county() -> Script {
    let mut s = Script::new("350322101");
    s.by(
        "350322101",
        None,
        EventBody::Submit(intake(ItemKind::Promised, &[], &[])),
    );
    s.by("350322101", None, EventBody::Forward { to: code("350322") });
    s.by("350322", None, EventBody::TakeOver);
    s.by("350322", None, EventBody::Review);
    s
}

fn rejection(case: &Case, event: &Event) -> Option<String> {
    case.log
        .iter()
        .find(|l| l.id == event.id)
        .unwrap()
        .rejected
        .clone()
}

#[test]
fn supplement_requested_upstream_is_recorded_at_the_window_and_pauses_the_clock() {
    let mut s = at_the_county();
    s.at("2025-10-13")
        .by("350322", None, request(&["现场照片", "租赁合同"]));
    let case = s.fold();
    assert_eq!(case.state, State::Suspended);
    assert_eq!(case.requested, ["现场照片", "租赁合同"]);
    assert_eq!(case.pauses[0].procedure, None);
    let approve = s.by("350322", None, decide(true));
    let stranger = s.by("350300", None, supplement(&["现场照片"]));
    let unasked = s.by("350322101", None, supplement(&["营业执照"]));
    s.at("2025-10-15")
        .by("350322101", None, supplement(&["现场照片"]));
    let case = s.fold();
    assert!(rejection(&case, &approve).unwrap().contains("suspended"));
    assert!(rejection(&case, &stranger).unwrap().contains("owner"));
    assert!(rejection(&case, &unasked).unwrap().contains("租赁合同"));
    assert_eq!(
        case.state,
        State::Suspended,
        "one material is still missing"
    );
    s.at("2025-10-16")
        .by("350322101", None, supplement(&["租赁合同"]));
    let case = s.fold();
    assert_eq!(case.state, State::InReview);
    assert!(case.requested.is_empty());
    assert_eq!(case.pauses[0].to, Some("2025-10-16".parse().unwrap()));
    s.by("350322", None, decide(true));
    assert_eq!(s.fold().state, State::Approved);
}

#[test]
fn approval_waits_for_requested_materials_even_after_a_resume() {
    let mut s = at_the_county();
    s.by("350322", None, request(&["现场照片"]));
    s.by("350322", None, EventBody::Resume);
    let approve = s.by("350322", None, decide(true));
    let case = s.fold();
    assert_eq!(case.state, State::InReview);
    assert!(rejection(&case, &approve).unwrap().contains("现场照片"));
}

/// The applicant withdraws at the township window while the county decides: whichever comes
/// first in fold order wins, the other is rejected, on every node alike.
#[test]
fn a_withdrawal_at_the_window_races_a_decision_upstream() {
    for withdraw_first in [true, false] {
        let mut s = at_the_county();
        let (first, second) = if withdraw_first {
            ("350322101", "350322")
        } else {
            ("350322", "350322101")
        };
        let body = |origin: &str| {
            if origin == "350322" {
                decide(true)
            } else {
                EventBody::Withdraw
            }
        };
        let a = s.by(first, None, body(first));
        let b = s.by(second, None, body(second));
        let case = s.fold();
        let expected = if withdraw_first {
            State::Withdrawn
        } else {
            State::Approved
        };
        assert_eq!(case.state, expected);
        assert_eq!(rejection(&case, &a), None);
        assert!(rejection(&case, &b).unwrap().contains("cannot"));
        // Arrival order does not matter.
        let mut reversed = s.events.clone();
        reversed.reverse();
        assert_eq!(Case::fold(&reversed).unwrap(), case);
    }
}

#[test]
fn forwards_default_up_to_the_deciding_level_and_back_down_once_decided() {
    let mut s = at_the_county();
    let case = s.fold();
    assert_eq!(
        case.default_forward(code("350322101")),
        Some(code("350322"))
    );
    assert_eq!(case.default_forward(code("350322")), None);
    assert_eq!(case.reported_on, Some("2025-10-09".parse().unwrap()));
    s.by("350322", None, decide(true));
    let case = s.fold();
    assert_eq!(
        case.default_forward(code("350322")),
        Some(code("350322101"))
    );
    assert_eq!(case.default_forward(code("350322101")), None);
}

fn mixed_script() -> Vec<Event> {
    let mut s = Script::new("350322101");
    s.by(
        "350322101",
        None,
        EventBody::Submit(intake(ItemKind::Joint, &["图纸"], &["社保证明"])),
    );
    s.by(
        "350322101",
        None,
        EventBody::Supplement {
            materials: vec!["图纸".into()],
        },
    );
    s.by("350322101", None, EventBody::Forward { to: code("350322") });
    s.by("350322", None, EventBody::TakeOver);
    // Not the owner any more: rejected.
    s.by("350322101", None, EventBody::Review);
    s.by("350322", None, EventBody::Review);
    s.by("350322", None, request(&["补充说明"]));
    s.by(
        "350322101",
        None,
        EventBody::Supplement {
            materials: vec!["补充说明".into()],
        },
    );
    s.by(
        "350322",
        None,
        EventBody::OpenJointReview {
            participants: vec![Participant {
                node: code("350300"),
                department: "生态环境局".into(),
            }],
            feedback_days: 5,
        },
    );
    s.by(
        "350300",
        Some("生态环境局"),
        EventBody::Opinion {
            agree: true,
            comment: String::new(),
        },
    );
    s.by(
        "350300",
        None,
        EventBody::Supervise {
            note: "督办".into(),
        },
    );
    s.by(
        "350322",
        None,
        EventBody::Supplement {
            materials: vec!["社保证明".into()],
        },
    );
    s.by("350322", None, decide(true));
    s.by(
        "350322",
        None,
        EventBody::Forward {
            to: code("350322101"),
        },
    );
    s.by("350322101", None, EventBody::TakeOver);
    s.by(
        "350322101",
        None,
        EventBody::Certify {
            certificate_no: "N-9".into(),
        },
    );
    s.by("350322101", None, EventBody::Deliver);
    s.by(
        "350322101",
        None,
        EventBody::Rate {
            satisfaction: 2,
            comment: String::new(),
        },
    );
    // Give some events equal wall clocks so the (origin, seq) tie-breaks matter.
    for (i, e) in s.events.iter_mut().enumerate() {
        e.hlc.wall_ms -= (i as u64 % 3) * 1000;
    }
    s.events
}

#[test]
fn mixed_script_ends_delivered() {
    let case = Case::fold(&mixed_script()).unwrap();
    assert_eq!(case.log.len(), 18);
    assert_eq!(case.state, State::Delivered);
    // The clock tweaks reorder neighbours (e.g. the joint review opens while the county still
    // waits for the requested material): those are rejected alike on every node.
    let rejected: Vec<&str> = case
        .log
        .iter()
        .filter(|l| l.rejected.is_some())
        .map(|l| l.action.as_str())
        .collect();
    assert_eq!(rejected, ["review", "open_joint_review", "opinion"]);
    assert_eq!(case.case_no.node, code("350322101"));
}

proptest! {
    /// Every permutation of the same events folds to the same case.
    #[test]
    fn fold_is_order_independent(perm in Just(mixed_script()).prop_shuffle()) {
        let reference = Case::fold(&mixed_script()).unwrap();
        let shuffled = Case::fold(&perm).unwrap();
        prop_assert_eq!(shuffled, reference);
    }
}

#[test]
fn a_notice_stays_open_until_the_owner_answers_it() {
    let mut s = at_the_county();
    let notice = s.by(
        "350300",
        None,
        EventBody::Supervise {
            note: "请加快办理".into(),
        },
    );
    let answer = |by: &str, s: &mut Script| {
        s.by(
            by,
            None,
            EventBody::AnswerNotice {
                notice: notice.id,
                answer: "已安排专人办理".into(),
            },
        )
    };
    let by_window = answer("350322101", &mut s);
    let by_owner = answer("350322", &mut s);
    let twice = answer("350322", &mut s);
    let case = s.fold();
    assert!(rejection(&case, &by_window).unwrap().contains("owner"));
    assert_eq!(rejection(&case, &by_owner), None);
    assert!(rejection(&case, &twice).unwrap().contains("already"));
    assert_eq!(case.notices.len(), 1);
    assert_eq!(case.notices[0].id, notice.id);
    assert_eq!(case.notices[0].answer.as_deref(), Some("已安排专人办理"));
}

#[test]
fn only_a_bad_rating_opens_a_rectification_recorded_once() {
    let mut s = at_the_county();
    s.by("350322", None, decide(true));
    let rectify = |s: &mut Script| {
        s.by(
            "350322101",
            None,
            EventBody::Rectify {
                note: "已整改".into(),
            },
        )
    };
    let early = rectify(&mut s);
    s.by(
        "350322101",
        None,
        EventBody::Rate {
            satisfaction: 5,
            comment: "等太久".into(),
        },
    );
    let done = rectify(&mut s);
    let again = rectify(&mut s);
    let case = s.fold();
    assert!(rejection(&case, &early).unwrap().contains("差评"));
    assert_eq!(rejection(&case, &done), None);
    assert!(rejection(&case, &again).unwrap().contains("already"));
    assert!(case.rectified_on.is_some());
}
