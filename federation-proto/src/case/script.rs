//! Test scripts: the events of one case, written in order with increasing clocks, for the fold
//! and deadline tests.

use crate::{
    Actor, Applicant, ApplicantKind, CaseNo, Date, Event, EventBody, EventId, Hlc, Intake,
    ItemKind, Level, NodeCode, Sig,
};

use super::Case;

pub fn code(s: &str) -> NodeCode {
    s.parse().unwrap()
}

fn day_ms(d: &str) -> u64 {
    d.parse::<Date>().unwrap().start_unix_ms() + 10 * 3_600_000
}

pub fn intake(kind: ItemKind, missing: &[&str], owed: &[&str]) -> Intake {
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
        first_review_days: if kind == ItemKind::ReportUp { 20 } else { 0 },
    }
}

/// Builds events for one case, with increasing clocks per origin.
pub struct Script {
    pub case_no: CaseNo,
    pub events: Vec<Event>,
    seqs: std::collections::HashMap<NodeCode, u64>,
    wall: u64,
}

impl Script {
    pub fn new(accepting: &str) -> Script {
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

    pub fn at(&mut self, day: &str) -> &mut Script {
        self.wall = self.wall.max(day_ms(day));
        self
    }

    pub fn by(&mut self, origin: &str, department: Option<&str>, body: EventBody) -> Event {
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

    pub fn fold(&self) -> Case {
        Case::fold(&self.events).unwrap()
    }
}
