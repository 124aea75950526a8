//! Test fixtures shared by the unit tests of several modules.

use federation_proto::{Applicant, ApplicantKind, Intake, ItemKind, Level};

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
