//! Personal data only where it belongs (DESIGN.md §8): which cases the API serves at all, and
//! who sees an applicant's identity (申请人身份信息: name and 身份证号 / 统一社会信用代码) in
//! them.
//!
//! - **Served here**: a case is served only by the nodes *involved* in it ([`Case::involved`]:
//!   the accepting node, every owner, the node it is forwarded to, the nodes of joint-review
//!   seats) and by the nodes that authored one of its events. The latter matters when a late
//!   event drops a node from the case on refold — a withdrawal that sorts before the joint
//!   review in which the node already gave its opinion: its operators acted on the case and
//!   saw the applicant, and their own acknowledged opinion must not vanish from their screen
//!   (found by tests/chaos.rs, seed 344864129). A parent also holds its children's events as their off-site backup; a case it
//!   holds only as that copy is answered like an unknown case (404, absent from lists), for
//!   every role: the copy is for `liandong restore`, which is served over the federation link,
//!   not the API. Supervision from above uses the status summaries, which carry no identity.
//! - **Own department**: a clerk (窗口人员) sees the identity of the cases of their own
//!   department, and of the cases in whose joint review (联审) their department holds a seat at
//!   this node — an opinion may need to know who applies. Of any other case a clerk gets the
//!   same view with the identity masked ([`mask_name`], [`mask_id`]) and
//!   `"applicant_masked": true`. Admins and supervisors see identities; every answer that
//!   carries one unmasked is audited first ([`crate::audit`]). When the audit entry cannot be
//!   made durable (a full or failing disk), the answer goes out masked instead: the case is
//!   still served — a window can tell an applicant where their case stands — but no identity
//!   leaves unaudited.

use federation_proto::NodeCode;

use super::view::case_view;
use crate::case::Case;
use crate::contract::CaseView;
use crate::deadline::Clocks;
use crate::operator::{Operator, Role};

/// Whether the API of `here` serves `case` at all: `here` is involved in it or authored one of
/// its events, not merely the holder of a child's backup copy.
pub fn served_here(case: &Case, here: NodeCode) -> bool {
    case.involved().contains(&here) || case.log.iter().any(|entry| entry.id.origin == here)
}

/// Whether `op`, at node `here`, may see the applicant's identity of `case` unmasked.
pub fn sees_identity(op: &Operator, case: &Case, here: NodeCode) -> bool {
    match op.role {
        Role::Admin | Role::Supervisor => true,
        Role::Clerk | Role::Chief => {
            let Some(own) = op.department.as_deref() else {
                return false;
            };
            case.department == own
                || case.joint.as_ref().is_some_and(|j| {
                    j.seats
                        .iter()
                        .any(|s| s.participant.node == here && s.participant.department == own)
                })
        }
    }
}

/// The case view with `applicant` as `op` may see it, and whether the identity is shown
/// unmasked (and so must be audited before it is sent).
pub fn disclose(case: &Case, clocks: &Clocks, op: &Operator, here: NodeCode) -> (CaseView, bool) {
    let full = sees_identity(op, case, here);
    (case_view(case, clocks, full), full)
}

/// Masks the identity in a case view (name and number; the kind stays) and sets
/// `applicant_masked: true`. Also what an answer falls back to when its read cannot be
/// audited: the case is still served, its identity is not.
pub fn mask_view(view: &mut CaseView) {
    if !view.applicant_masked {
        view.applicant.mask();
        view.applicant_masked = true;
    }
}

/// A name with every character after the first replaced by `*`: `张三` → `张*`, `欧阳娜娜` →
/// `欧***`. Enough to confirm a caller at the window ("张先生?"), not to identify anyone.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
        None => String::new(),
    }
}

/// An ID number with all but its first four characters (the province and city of a 身份证号;
/// the registering authority and region of a credit code) and its last four replaced by `*`:
/// `350102199001011234` → `3501**********1234`. Shorter numbers (not valid ones) are masked
/// whole.
pub fn mask_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    let n = chars.len();
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if n > 8 && (i < 4 || i >= n - 4) {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_their_first_character() {
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
        assert_eq!(mask_name("莆田市某建设有限公司"), "莆*********");
        assert_eq!(mask_name(""), "");
    }

    #[test]
    fn ids_keep_four_characters_at_each_end() {
        assert_eq!(mask_id("350102199001011234"), "3501**********1234");
        assert_eq!(mask_id("91350300MA2XXXXX0X"), "9135**********XX0X");
        assert_eq!(mask_id("12345678"), "********");
        assert_eq!(mask_id(""), "");
    }
}
