//! Intake (受理): turning a window's application into the [`Intake`] of a submission event.
//!
//! All checks that depend on the local catalog happen here, once, at the accepting window; the
//! result is copied into the event so that every node folds the case the same way.

use federation_proto::applicant::{self, ApplicantError};
use federation_proto::{Applicant, Date, Intake};

use crate::catalog::{Catalog, Item};

/// Most materials one application may list.
const MAX_MATERIALS: usize = 100;
/// Longest material name, in characters.
const MAX_MATERIAL_NAME: usize = 200;

/// The body of `POST /api/v1/cases`: a type of the API's contract.
pub use crate::contract::Application;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntakeError {
    #[error("item {0:?} is not in this node's catalog")]
    UnknownItem(String),
    #[error("item {item} belongs to {expected}, not {given}")]
    WrongDepartment {
        item: String,
        expected: String,
        given: String,
    },
    #[error("applicant: {0}")]
    Applicant(#[from] ApplicantError),
    #[error("at most {MAX_MATERIALS} materials, each a non-empty name of at most {MAX_MATERIAL_NAME} characters")]
    BadMaterials,
}

/// Checks an application against the catalog and decides what intake records: accepted, 补正
/// (core materials missing: all of them listed at once, 一次性告知), or 容缺 (non-core materials
/// owed on a tolerant item). `today` bounds the applicant's birth date (no one is born in the
/// future).
pub fn prepare(catalog: &Catalog, app: &Application, today: Date) -> Result<Intake, IntakeError> {
    let item = catalog
        .get(&app.item)
        .ok_or_else(|| IntakeError::UnknownItem(app.item.clone()))?;
    if let Some(given) = &app.department {
        if given != &item.department {
            return Err(IntakeError::WrongDepartment {
                item: item.code.clone(),
                expected: item.department.clone(),
                given: given.clone(),
            });
        }
    }
    applicant::validate_on(&app.applicant, today)?;
    let materials = clean_materials(&app.materials)?;
    Ok(intake_for(item, app.applicant.clone(), materials))
}

fn clean_materials(given: &[String]) -> Result<Vec<String>, IntakeError> {
    if given.len() > MAX_MATERIALS {
        return Err(IntakeError::BadMaterials);
    }
    let mut out: Vec<String> = Vec::with_capacity(given.len());
    for m in given {
        let m = m.trim();
        if m.is_empty() || m.chars().count() > MAX_MATERIAL_NAME {
            return Err(IntakeError::BadMaterials);
        }
        if !out.iter().any(|o| o == m) {
            out.push(m.to_string());
        }
    }
    Ok(out)
}

fn intake_for(item: &Item, applicant: Applicant, materials: Vec<String>) -> Intake {
    let check = item.check_materials(&materials);
    let (mut missing, owed) = (check.missing_core, check.missing_noncore);
    // Only a 容缺 item may owe non-core materials; elsewhere they are as required as core ones.
    let owed = if item.tolerant {
        owed
    } else {
        missing.extend(owed);
        Vec::new()
    };
    Intake {
        item: item.code.clone(),
        item_name: item.name.clone(),
        kind: item.kind,
        department: item.department.clone(),
        deciding_level: item.deciding_level,
        applicant,
        materials,
        missing,
        owed,
        promised_days: item.promised_days,
        legal_days: item.legal_days,
        fee_fen: item.fee_fen,
        first_review_days: item.first_review_days.unwrap_or(0),
    }
}
