//! Operators (操作员): the requests that add and change them, and how the API shows them —
//! never a token's hash, and a token only in the answer that created it.

use federation_proto::Date;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::foreign::{DateSchema, RoleSchema, TimestampSchema};
use crate::operator::Role;

/// The body of `POST /api/v1/operators` (admin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOperator {
    /// A name no other operator of this node uses (case histories name operators).
    pub name: String,
    #[schema(value_type = RoleSchema)]
    pub role: Role,
    /// The department of a clerk or chief.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// The last day the token works (the node's date, China Standard Time); none: no expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<DateSchema>)]
    pub expires: Option<Date>,
}

/// The body of `POST /api/v1/operators/{name}/rotate`: `{"expires": "YYYY-MM-DD" | null}` —
/// absent keeps the expiry, `null` removes it. An empty body keeps it too.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<DateSchema>)]
    pub expires: Option<Option<Date>>,
}

/// Tells a field given as `null` (`Some(None)`) from one left out (`None`, by `default`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<Date>>, D::Error> {
    Option::<Date>::deserialize(d).map(Some)
}

/// The body of `POST /api/v1/operators/{name}/stand-in` (AB角): the colleague who acts for
/// the operator while they are away, or nobody (`null`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StandIn {
    pub stand_in: Option<String>,
}

/// An operator as the API shows it (the answer of disable, enable and stand-in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct OperatorView {
    pub name: String,
    #[schema(value_type = RoleSchema)]
    pub role: Role,
    /// The department of a clerk or chief; null for admins and supervisors.
    pub department: Option<String>,
    /// A disabled operator's token is refused.
    pub disabled: bool,
    /// The last day the token works; null: no expiry.
    #[schema(value_type = Option<DateSchema>)]
    pub expires: Option<Date>,
    /// When the operator was added (null for the admin made by `liandong init` before this
    /// was recorded).
    #[schema(value_type = Option<TimestampSchema>)]
    pub created: Option<String>,
    /// Who acts for this operator while they are away (AB角).
    pub stand_in: Option<String>,
}

/// An operator with the token just made (`POST /api/v1/operators` 201, `.../rotate`): the
/// one answer that ever shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct IssuedOperator {
    pub name: String,
    #[schema(value_type = RoleSchema)]
    pub role: Role,
    pub department: Option<String>,
    pub disabled: bool,
    #[schema(value_type = Option<DateSchema>)]
    pub expires: Option<Date>,
    #[schema(value_type = Option<TimestampSchema>)]
    pub created: Option<String>,
    pub stand_in: Option<String>,
    /// The bearer token: shown once, kept by the node only as its hash.
    pub token: String,
}

/// An operator in `GET /api/v1/operators`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct ListedOperator {
    pub name: String,
    #[schema(value_type = RoleSchema)]
    pub role: Role,
    pub department: Option<String>,
    pub disabled: bool,
    #[schema(value_type = Option<DateSchema>)]
    pub expires: Option<Date>,
    #[schema(value_type = Option<TimestampSchema>)]
    pub created: Option<String>,
    pub stand_in: Option<String>,
    /// The token works today: not disabled, not expired.
    pub live: bool,
}

/// `GET /api/v1/operators` (admin): every operator, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct OperatorList {
    pub operators: Vec<ListedOperator>,
}

impl IssuedOperator {
    /// The view with the token.
    pub fn new(view: OperatorView, token: String) -> IssuedOperator {
        let OperatorView {
            name,
            role,
            department,
            disabled,
            expires,
            created,
            stand_in,
        } = view;
        IssuedOperator {
            name,
            role,
            department,
            disabled,
            expires,
            created,
            stand_in,
            token,
        }
    }
}

impl ListedOperator {
    /// The view with whether the token works today.
    pub fn new(view: OperatorView, live: bool) -> ListedOperator {
        let OperatorView {
            name,
            role,
            department,
            disabled,
            expires,
            created,
            stand_in,
        } = view;
        ListedOperator {
            name,
            role,
            department,
            disabled,
            expires,
            created,
            stand_in,
            live,
        }
    }
}
