//! Fold tests: transitions, authority, and order independence.

use federation_proto::{
    Actor, Applicant, ApplicantKind, CaseNo, Date, Event, EventBody, EventId, Hlc, Intake,
    ItemKind, Level, NodeCode, Participant, Sig, State,
};
use proptest::prelude::*;

use super::*;

fn code(s: &str) -> NodeCode {
    s.parse().unwrap()
}

fn day_ms(d: &str) -> u64 {
    d.parse::<Date>().unwrap().start_unix_ms() + 10 * 3_600_000
}

fn intake(kind: ItemKind, missing: &[&str], owed: &[&str]) -> Intake {
    Intake {
        item: "X1".into(),
        item_name: "测试事项".into(),
        kind,
        department: "住建局".into(),
        deciding_level: Level::County,
        applicant: Applicant {
            kind: ApplicantKind::Person,
            name: "张三".into(),
            id: "11010519491231002X".into(),
        },
        materials: vec!["申请表".into()],
        missing: missing.iter().map(|s| s.to_string()).collect(),
        owed: owed.iter().map(|s| s.to_string()).collect(),
        promised_days: 5,
        legal_days: 20,
        fee_fen: 0,
    }
}

/// Builds events for one case, with increasing clocks per origin.
struct Script {
    case_no: CaseNo,
    events: Vec<Event>,
    seqs: std::collections::HashMap<NodeCode, u64>,
    wall: u64,
}

impl Script {
    fn new(accepting: &str) -> Script {
        Script {
            case_no: CaseNo {
                node: code(accepting),
                date: "2025-10-09".parse().unwrap(),
                seq: 1,
            },
            events: Vec::new(),
            seqs: Default::default(),
            wall: day_ms("2025-10-09"),
        }
    }

    fn at(&mut self, day: &str) -> &mut Script {
        self.wall = self.wall.max(day_ms(day));
        self
    }

    fn by(&mut self, origin: &str, department: Option<&str>, body: EventBody) -> Event {
        let origin = code(origin);
        let seq = self.seqs.entry(origin).or_default();
        *seq += 1;
        self.wall += 1000;
        let e = Event {
            id: EventId { origin, seq: *seq },
            hlc: Hlc {
                wall_ms: self.wall,
                counter: 0,
            },
            case_no: self.case_no,
            actor: Actor {
                name: "tester".into(),
                department: department.map(String::from),
            },
            body,
            sig: Sig::EMPTY,
        };
        self.events.push(e.clone());
        e
    }

    fn fold(&self) -> Case {
        Case::fold(&self.events).unwrap()
    }
}

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
    let entry = case.log.iter().find(|l| l.id == decide.id).unwrap();
    assert!(entry.rejected.as_deref().unwrap().contains("county level"));
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
    let entry = case.log.iter().find(|l| l.id == forged.id).unwrap();
    assert!(entry.rejected.as_deref().unwrap().contains("owner"));
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
    s.by("350322101", None, EventBody::Withdraw);
    s.by("350322", None, EventBody::Review);
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
    assert_eq!(case.log.len(), 16);
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
