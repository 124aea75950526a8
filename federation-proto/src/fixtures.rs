//! Test fixtures shared by the unit tests of several modules.

use crate::{
    sign, Actor, Applicant, ApplicantKind, CaseNo, Event, EventBody, EventId, Hlc, Intake,
    ItemKind, Level, NodeCode, Sig,
};
use ed25519_dalek::SigningKey;

/// A complete promised-item intake at county level: accepted at once.
pub fn intake() -> Intake {
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
        first_review_days: 0,
    }
}

pub fn actor() -> Actor {
    Actor {
        name: "t".into(),
        department: None,
    }
}

/// Event `seq` of 枫亭镇 (350322101) on its first case of 2025-09-30, signed with `key`.
pub fn township_event(key: &SigningKey, seq: u64, body: EventBody) -> Event {
    let origin: NodeCode = "350322101".parse().unwrap();
    let mut event = Event {
        id: EventId { origin, seq },
        hlc: Hlc {
            wall_ms: 1_759_194_000_000 + seq,
            counter: 0,
        },
        case_no: CaseNo {
            node: origin,
            date: "2025-09-30".parse().unwrap(),
            seq: 1,
        },
        actor: actor(),
        body,
        sig: Sig::EMPTY,
    };
    sign::sign(&mut event, key);
    event
}
