//! Operators (操作员) and their bearer tokens. A token is shown once, when created; the node
//! keeps only its SHA-256.
//!
//! Roles: an **admin** may do everything; a **supervisor** reads everything and issues 督办; a
//! **clerk** (窗口人员) works for one department and may act only on that department's cases —
//! and give opinions where that department sits in a joint review; a **chief** (首席代表, the
//! department's chief representative in the center) is a clerk who also holds the department's
//! authorisation to decide at the window: only a chief (or an admin) may decide an item that
//! needs its leader's sign-off (网上签批, the catalog's `sign_off`).
//!
//! A token has a lifecycle ([`Account`]): it may be disabled (a clerk who left: the record
//! stays, because case histories name them), it may expire after a given day, and it may be
//! rotated (a new token replaces the old one under the same record). The rules that span
//! several records — unique names, never disabling the last admin — are in the node's `accounts` module, and so are new tokens (they need the OS's randomness).

use crate::codec::{self, CodecError};
use crate::Date;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Supervisor,
    Clerk,
    /// 首席代表. Appended last: the codec stores a role by its position, so the stored roles
    /// keep their meaning.
    Chief,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
            Role::Clerk => "clerk",
            Role::Chief => "chief",
        }
    }

    /// A clerk or a chief: works for one department.
    pub fn has_department(self) -> bool {
        matches!(self, Role::Clerk | Role::Chief)
    }

    /// May sign off a decision (网上签批) for their department.
    pub fn signs_off(self) -> bool {
        matches!(self, Role::Admin | Role::Chief)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operator {
    pub name: String,
    pub role: Role,
    /// The department a clerk works for; `None` for admins and supervisors.
    pub department: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OperatorError {
    #[error("operator name must not be empty")]
    NoName,
    #[error("a clerk or chief needs a department")]
    ClerkWithoutDepartment,
    #[error("only clerks and chiefs have a department")]
    DepartmentWithoutClerk,
}

impl Operator {
    pub fn new(
        name: &str,
        role: Role,
        department: Option<String>,
    ) -> Result<Operator, OperatorError> {
        if name.trim().is_empty() {
            return Err(OperatorError::NoName);
        }
        let department = department.filter(|d| !d.trim().is_empty());
        match (role.has_department(), &department) {
            (true, None) => return Err(OperatorError::ClerkWithoutDepartment),
            (false, Some(_)) => return Err(OperatorError::DepartmentWithoutClerk),
            _ => {}
        }
        Ok(Operator {
            name: name.trim().to_string(),
            role,
            department,
        })
    }

    /// May this operator change cases of `department`?
    pub fn serves(&self, department: &str) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Supervisor => false,
            Role::Clerk | Role::Chief => self.department.as_deref() == Some(department),
        }
    }
}

/// What the node stores under a token's SHA-256: the operator and how the token stands.
///
/// Stored with the versioned binary codec, which is positional: records written before the
/// lifecycle fields existed hold a bare [`Operator`], and those written before stand-ins the
/// first four fields; [`Account::decode`] reads all three (an old record is an enabled account
/// without expiry, or without a stand-in), so old stores keep working without a migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub operator: Operator,
    /// Disabled by an admin: the token is refused, the record kept.
    pub disabled: bool,
    /// The last day the token works (node clock, China Standard Time); `None`: no expiry.
    pub expires: Option<Date>,
    /// When the operator was added (node clock, Unix ms); `None` for records older than this
    /// field.
    pub created_ms: Option<u64>,
    /// AB角: the colleague (B角, by name) who acts for this operator while they are away —
    /// with this operator's department and rights, recorded in each case's history as acting
    /// for them. `None`: nobody stands in.
    pub stand_in: Option<String>,
}

/// An account record as written before stand-ins (AB角) existed.
#[derive(Deserialize)]
struct AccountBeforeStandIns {
    operator: Operator,
    disabled: bool,
    expires: Option<Date>,
    created_ms: Option<u64>,
}

/// Whether a token may be used today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Live,
    Disabled,
    /// Expired after this day.
    Expired(Date),
}

/// The largest stored account record.
const MAX_ACCOUNT_BYTES: usize = 4096;

impl Account {
    pub fn new(operator: Operator, expires: Option<Date>, created_ms: u64) -> Account {
        Account {
            operator,
            disabled: false,
            expires,
            created_ms: Some(created_ms),
            stand_in: None,
        }
    }

    /// The token's standing on `today` (node clock): an expiry day is the last day it works.
    pub fn standing(&self, today: Date) -> Standing {
        match self.expires {
            _ if self.disabled => Standing::Disabled,
            Some(last) if today > last => Standing::Expired(last),
            _ => Standing::Live,
        }
    }

    pub fn encode(&self) -> Result<Vec<u8>, CodecError> {
        codec::encode(self)
    }

    /// Reads a record in the current format, or one written before accounts had a lifecycle.
    /// The two cannot be confused: the codec refuses trailing bytes (a new record read as an
    /// old one) and a record that ends early (an old one read as new).
    pub fn decode(bytes: &[u8]) -> Result<Account, CodecError> {
        codec::decode::<Account>(bytes, MAX_ACCOUNT_BYTES).or_else(|new_format| {
            let before_stand_ins = || {
                codec::decode::<AccountBeforeStandIns>(bytes, MAX_ACCOUNT_BYTES).map(|a| Account {
                    operator: a.operator,
                    disabled: a.disabled,
                    expires: a.expires,
                    created_ms: a.created_ms,
                    stand_in: None,
                })
            };
            let bare = || {
                codec::decode::<Operator>(bytes, MAX_ACCOUNT_BYTES).map(|operator| Account {
                    operator,
                    disabled: false,
                    expires: None,
                    created_ms: None,
                    stand_in: None,
                })
            };
            before_stand_ins()
                .or_else(|_| bare())
                .map_err(|_| new_format)
        })
    }
}

pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.trim().as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_departments() {
        assert!(Operator::new("王", Role::Clerk, None).is_err());
        assert!(Operator::new("王", Role::Admin, Some("住建".into())).is_err());
        assert!(Operator::new(" ", Role::Admin, None).is_err());
        let clerk = Operator::new("王", Role::Clerk, Some("住建".into())).unwrap();
        assert!(clerk.serves("住建") && !clerk.serves("环保"));
        let sup = Operator::new("李", Role::Supervisor, None).unwrap();
        assert!(!sup.serves("住建"));
    }

    #[test]
    fn old_records_read_as_enabled_accounts_and_new_ones_round_trip() {
        let op = Operator::new("王", Role::Clerk, Some("住建".into())).unwrap();
        let old = codec::encode(&op).unwrap();
        let read = Account::decode(&old).unwrap();
        assert_eq!(read.operator, op);
        assert!(!read.disabled && read.expires.is_none() && read.created_ms.is_none());
        let day: Date = "2026-12-31".parse().unwrap();
        let mut account = Account::new(op, Some(day), 5);
        account.disabled = true;
        assert_eq!(
            Account::decode(&account.encode().unwrap()).unwrap(),
            account
        );
        assert!(Account::decode(&[1, 2, 3]).is_err());
    }

    #[test]
    fn records_from_before_stand_ins_read_without_one_and_new_ones_round_trip() {
        #[derive(Serialize)]
        struct Before<'a>(&'a Operator, bool, Option<Date>, Option<u64>);
        let op = Operator::new("王", Role::Chief, Some("住建".into())).unwrap();
        let day: Date = "2026-12-31".parse().unwrap();
        let before = codec::encode(&Before(&op, true, Some(day), Some(7))).unwrap();
        let read = Account::decode(&before).unwrap();
        assert_eq!(
            (
                read.operator,
                read.disabled,
                read.expires,
                read.created_ms,
                read.stand_in
            ),
            (op.clone(), true, Some(day), Some(7), None)
        );
        let mut account = Account::new(op, None, 5);
        account.stand_in = Some("李".into());
        assert_eq!(
            Account::decode(&account.encode().unwrap()).unwrap(),
            account
        );
    }

    #[test]
    fn expiry_day_is_the_last_day_that_works() {
        let op = Operator::new("李", Role::Supervisor, None).unwrap();
        let last: Date = "2026-12-31".parse().unwrap();
        let mut account = Account::new(op, Some(last), 0);
        assert_eq!(account.standing(last), Standing::Live);
        assert_eq!(account.standing(last.succ()), Standing::Expired(last));
        account.disabled = true;
        assert_eq!(account.standing(last), Standing::Disabled);
    }

    #[test]
    fn a_token_is_hashed_without_its_surrounding_whitespace() {
        let token = "ab".repeat(32);
        assert_eq!(token_hash(&token), token_hash(&format!("{token}\n")));
        assert_ne!(token_hash(&token), token_hash(&"cd".repeat(32)));
    }
}
