//! Who acts on a case, and with whose rights (AB角): an operator acts with their own rights,
//! or — when those do not cover the case — as the stand-in (B角) of an absent colleague (A角)
//! who named them on their account (`stand_in`, set with `PUT /api/v1/operators/{name}/stand-in`).
//! The event then records both: the actor is `"B（代A）"` with A's department, so every case's
//! history says who did it and for whom.
//!
//! The rights a case needs: to serve its department ([`Operator::serves`]) and, for a decision
//! on an item with 网上签批 (the catalog's `sign_off`), to sign off ([`Role::signs_off`]: a
//! 首席代表 or an admin). A stand-in gets exactly the rights of the colleague they stand in for,
//! and only while that colleague's account is live: disabling or expiring A ends B's stand-in.

use federation_proto::Actor;

use super::error::ApiError;
use super::NodeContext;
use crate::operator::{Operator, Standing};

/// What a case asks of whoever acts on it.
#[derive(Debug, Clone, Copy)]
pub struct Needs<'a> {
    pub department: &'a str,
    /// A decision on an item with 网上签批.
    pub sign_off: bool,
}

impl Needs<'_> {
    fn met_by(&self, op: &Operator) -> bool {
        op.serves(self.department) && (!self.sign_off || op.role.signs_off())
    }
}

/// The operator as an event's actor.
pub fn actor(op: &Operator) -> Actor {
    Actor {
        name: op.name.clone(),
        department: op.department.clone(),
    }
}

/// Whose rights `op` acts with for `needs`: `Ok(Some((actor, rights)))` — their own, or those
/// of a live colleague who named them as stand-in (the first by name, if several) — or
/// `Ok(None)` when neither covers it.
pub fn acting(
    node: &NodeContext,
    op: &Operator,
    needs: Needs<'_>,
) -> Result<Option<(Actor, Operator)>, ApiError> {
    if needs.met_by(op) {
        return Ok(Some((actor(op), op.clone())));
    }
    Ok(standing_in_for(node, op)?
        .into_iter()
        .find(|a| needs.met_by(a))
        .map(|a| {
            let actor = Actor {
                name: format!("{}（代{}）", op.name, a.name),
                department: a.department.clone(),
            };
            (actor, a)
        }))
}

/// The colleagues `op` stands in for now — live accounts that name them — by name. Only those
/// who work for a department stand in for a colleague (an admin needs no stand-in, a
/// supervisor only supervises).
pub fn standing_in_for(node: &NodeContext, op: &Operator) -> Result<Vec<Operator>, ApiError> {
    if !op.role.has_department() {
        return Ok(Vec::new());
    }
    let today = node.today();
    let mut absent: Vec<Operator> = node
        .store
        .operators()?
        .into_iter()
        .map(|(_, a)| a)
        .filter(|a| a.stand_in.as_deref() == Some(op.name.as_str()))
        .filter(|a| a.standing(today) == Standing::Live)
        .map(|a| a.operator)
        .collect();
    absent.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(absent)
}

/// The refusal when nobody's rights cover the action.
pub fn refused(op: &Operator, what: &str, needs: Needs<'_>) -> ApiError {
    if needs.sign_off && op.serves(needs.department) {
        return ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "sign_off_required",
            format!(
                "{what} needs the sign-off (网上签批) of {}'s 首席代表 or an admin; {} may record the proposed decision with the action \"propose\" (拟办意见)",
                needs.department, op.name
            ),
        );
    }
    let own = op
        .department
        .clone()
        .unwrap_or_else(|| op.role.as_str().to_string());
    ApiError::forbidden(format!(
        "{} ({own}) may not {what} of {}, and stands in for nobody who may",
        op.name, needs.department
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::Role;

    #[test]
    fn sign_off_needs_a_chief_or_an_admin_of_any_department() {
        let dept = "市场监督管理局";
        let clerk = Operator::new("王", Role::Clerk, Some(dept.into())).unwrap();
        let chief = Operator::new("陈", Role::Chief, Some(dept.into())).unwrap();
        let other_chief = Operator::new("林", Role::Chief, Some("住建".into())).unwrap();
        let admin = Operator::new("管", Role::Admin, None).unwrap();
        let plain = Needs {
            department: dept,
            sign_off: false,
        };
        let signed = Needs {
            department: dept,
            sign_off: true,
        };
        assert!(plain.met_by(&clerk) && plain.met_by(&chief) && plain.met_by(&admin));
        assert!(!signed.met_by(&clerk) && signed.met_by(&chief) && signed.met_by(&admin));
        assert!(!plain.met_by(&other_chief) && !signed.met_by(&other_chief));
        let refusal = refused(&clerk, "decide case X", signed);
        assert_eq!(refusal.code, "sign_off_required");
        assert_eq!(
            refused(&other_chief, "decide case X", plain).code,
            "forbidden"
        );
    }
}
