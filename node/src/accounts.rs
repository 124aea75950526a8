//! The operator lifecycle: add, disable, enable and rotate, with the rules that span several
//! records — a name names one operator, and the node never loses its last working admin.
//!
//! Why a process-wide lock: the last-admin rule reads every account and then writes one; two
//! admins disabling each other at the same moment must not both pass the check. Operator
//! changes are rare, so serialising them costs nothing.

use std::sync::Mutex;

use federation_proto::Date;

use crate::operator::{token_hash, Account, Operator, OperatorError, Role, Standing};
use crate::store::{OperatorChange, Operators, StoreError, TokenHash};

/// The name `ensure_admin` gives the admin of `admin.token`.
pub const FILE_ADMIN: &str = "admin";

static WRITES: Mutex<()> = Mutex::new(());

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error(transparent)]
    Invalid(#[from] OperatorError),
    #[error("an operator named {0:?} exists already; names identify operators")]
    Exists(String),
    #[error("no operator named {0:?}")]
    NotFound(String),
    #[error("{0} operators are named {1:?}; this older store cannot tell them apart by name")]
    Ambiguous(usize, String),
    #[error("{0:?} is the last enabled admin: add or enable another admin first")]
    LastAdmin(String),
    #[error("operator {0:?} is disabled: enable it before rotating its token")]
    Disabled(String),
    #[error("expiry {0} is in the past (today is {1})")]
    ExpiryInPast(Date, Date),
    /// A stand-in (AB角) that cannot be one.
    #[error("{0}")]
    BadStandIn(String),
    #[error("no randomness for a token: {0}")]
    NoRandomness(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A token handed out once, with the account it opens.
#[derive(Debug)]
pub struct Issued {
    pub account: Account,
    pub token: String,
}

/// The node's clock as the lifecycle needs it: today for expiry, now for creation times.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub today: Date,
    pub ms: u64,
}

fn lock() -> std::sync::MutexGuard<'static, ()> {
    // A panic while holding the lock left no half-written change (each change is one
    // transaction), so a poisoned lock is safe to take over.
    WRITES.lock().unwrap_or_else(|e| e.into_inner())
}

fn fresh_token() -> Result<String, AccountError> {
    new_token().map_err(|e| AccountError::NoRandomness(e.to_string()))
}

fn check_expiry(expires: Option<Date>, now: Now) -> Result<(), AccountError> {
    match expires {
        Some(day) if day < now.today => Err(AccountError::ExpiryInPast(day, now.today)),
        _ => Ok(()),
    }
}

/// The one account named `name`.
fn find(store: &dyn Operators, name: &str) -> Result<(TokenHash, Account), AccountError> {
    let mut found: Vec<(TokenHash, Account)> = store
        .operators()?
        .into_iter()
        .filter(|(_, a)| a.operator.name == name.trim())
        .collect();
    match found.len() {
        0 => Err(AccountError::NotFound(name.to_string())),
        1 => Ok(found.remove(0)),
        n => Err(AccountError::Ambiguous(n, name.to_string())),
    }
}

/// Adds an operator with a fresh token; the name must be new.
pub fn add(
    store: &dyn Operators,
    operator: Operator,
    expires: Option<Date>,
    now: Now,
) -> Result<Issued, AccountError> {
    check_expiry(expires, now)?;
    let _guard = lock();
    if store
        .operators()?
        .iter()
        .any(|(_, a)| a.operator.name == operator.name)
    {
        return Err(AccountError::Exists(operator.name));
    }
    let token = fresh_token()?;
    let account = Account::new(operator, expires, now.ms);
    store.change_operators(&OperatorChange {
        remove: Vec::new(),
        put: vec![(token_hash(&token), account.clone())],
    })?;
    Ok(Issued { account, token })
}

/// Disables (`disabled` true) or enables an operator. Disabling takes effect on the next
/// request: every request looks its token up. The last enabled, unexpired admin cannot be
/// disabled.
pub fn set_disabled(
    store: &dyn Operators,
    name: &str,
    disabled: bool,
    now: Now,
) -> Result<Account, AccountError> {
    let _guard = lock();
    let (hash, mut account) = find(store, name)?;
    if disabled && account.operator.role == Role::Admin {
        let other_live_admins = store
            .operators()?
            .iter()
            .filter(|(h, a)| {
                *h != hash
                    && a.operator.role == Role::Admin
                    && a.standing(now.today) == Standing::Live
            })
            .count();
        if other_live_admins == 0 {
            return Err(AccountError::LastAdmin(account.operator.name));
        }
    }
    account.disabled = disabled;
    store.change_operators(&OperatorChange {
        remove: Vec::new(),
        put: vec![(hash, account.clone())],
    })?;
    Ok(account)
}

/// Names `stand_in` as the colleague who acts for operator `name` while they are away (AB角),
/// or nobody (`None`). Only a clerk or chief has a stand-in, and only a live clerk or chief of
/// this node, not themselves, can be one; the stand-in gets `name`'s department and rights
/// for as long as `name`'s account is live (`api::stand_in`).
pub fn set_stand_in(
    store: &dyn Operators,
    name: &str,
    stand_in: Option<&str>,
    now: Now,
) -> Result<Account, AccountError> {
    let _guard = lock();
    let (hash, mut account) = find(store, name)?;
    if !account.operator.role.has_department() {
        return Err(AccountError::BadStandIn(format!(
            "{} is {}: only clerks and chiefs, who work for a department, name a stand-in",
            account.operator.name,
            account.operator.role.as_str()
        )));
    }
    account.stand_in = match stand_in.map(str::trim) {
        None | Some("") => None,
        Some(b) if b == account.operator.name => {
            return Err(AccountError::BadStandIn(format!(
                "{b} cannot stand in for themselves"
            )))
        }
        Some(b) => {
            let (_, other) = find(store, b)?;
            if !other.operator.role.has_department() {
                return Err(AccountError::BadStandIn(format!(
                    "{b} is {}: a stand-in is a clerk or chief",
                    other.operator.role.as_str()
                )));
            }
            if other.standing(now.today) != Standing::Live {
                return Err(AccountError::BadStandIn(format!(
                    "{b}'s token does not work today (disabled or expired)"
                )));
            }
            Some(other.operator.name)
        }
    };
    store.change_operators(&OperatorChange {
        remove: Vec::new(),
        put: vec![(hash, account.clone())],
    })?;
    Ok(account)
}

/// Which record a rotation replaces.
pub enum Whose<'a> {
    /// The operator of this name (an admin's request).
    Named(&'a str),
    /// The record of this token (an operator rotating their own token).
    Own(TokenHash),
}

/// Replaces an operator's token with a fresh one: the old token stops working in the same
/// transaction that makes the new one work. `expires`: `None` keeps the current expiry,
/// `Some(day or none)` sets it.
pub fn rotate(
    store: &dyn Operators,
    whose: Whose<'_>,
    expires: Option<Option<Date>>,
    now: Now,
) -> Result<Issued, AccountError> {
    if let Some(day) = expires {
        check_expiry(day, now)?;
    }
    let _guard = lock();
    let (old, mut account) = match whose {
        Whose::Named(name) => find(store, name)?,
        Whose::Own(hash) => match store.operator(&hash)? {
            Some(account) => (hash, account),
            None => return Err(AccountError::NotFound("(this token)".into())),
        },
    };
    if account.disabled {
        return Err(AccountError::Disabled(account.operator.name));
    }
    if let Some(day) = expires {
        account.expires = day;
    }
    let token = fresh_token()?;
    store.change_operators(&OperatorChange {
        remove: vec![old],
        put: vec![(token_hash(&token), account.clone())],
    })?;
    Ok(Issued { account, token })
}

/// What [`seed_admin`] found for the token of `admin.token`.
#[derive(Debug, PartialEq, Eq)]
pub enum Seeded {
    /// A fresh store: the file's token is now the admin's.
    Created,
    /// The token is a live operator's.
    Live,
    /// The token's record is disabled or expired; it stays so.
    NotLive(Standing),
    /// The store has operators and none holds this token (it was rotated away, or the file
    /// was replaced): nothing is registered.
    Unknown,
}

/// The admin of `admin.token` at start: registered only on a store without operators. After
/// that the file is just a token like any other — a restart never revives a disabled or
/// rotated token (rotate `admin` with `--token-out` to rewrite the file).
pub fn seed_admin(store: &dyn Operators, token: &str, now: Now) -> Result<Seeded, AccountError> {
    let _guard = lock();
    let hash = token_hash(token);
    if let Some(account) = store.operator(&hash)? {
        return Ok(match account.standing(now.today) {
            Standing::Live => Seeded::Live,
            other => Seeded::NotLive(other),
        });
    }
    if !store.operators()?.is_empty() {
        return Ok(Seeded::Unknown);
    }
    let admin = Operator::new(FILE_ADMIN, Role::Admin, None)?;
    store.change_operators(&OperatorChange {
        remove: Vec::new(),
        put: vec![(hash, Account::new(admin, None, now.ms))],
    })?;
    Ok(Seeded::Created)
}

/// A fresh random token: 32 bytes of the OS's randomness as hex.
pub fn new_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SledStore;

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(token_hash(&a), token_hash(&format!("{a}\n")));
    }

    fn now(day: &str) -> Now {
        Now {
            today: day.parse().unwrap(),
            ms: 1,
        }
    }

    #[test]
    fn lifecycle_rules() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), 1 << 20).unwrap();
        let today = now("2026-03-02");
        let file_token = new_token().unwrap();
        assert_eq!(
            seed_admin(&store, &file_token, today).unwrap(),
            Seeded::Created
        );
        assert_eq!(
            seed_admin(&store, &file_token, today).unwrap(),
            Seeded::Live
        );
        // The only admin cannot be disabled.
        assert!(matches!(
            set_disabled(&store, FILE_ADMIN, true, today),
            Err(AccountError::LastAdmin(_))
        ));
        let clerk = Operator::new("王", Role::Clerk, Some("住建".into())).unwrap();
        add(&store, clerk.clone(), None, today).unwrap();
        assert!(matches!(
            add(&store, clerk.clone(), None, today),
            Err(AccountError::Exists(_))
        ));
        assert!(matches!(
            add(&store, clerk, "2026-03-01".parse().ok(), today),
            Err(AccountError::ExpiryInPast(..))
        ));
        // Rotating the admin: the file's token is dead, and a restart does not revive it.
        let rotated = rotate(&store, Whose::Named(FILE_ADMIN), None, today).unwrap();
        assert!(store.operator(&token_hash(&file_token)).unwrap().is_none());
        assert_eq!(
            seed_admin(&store, &file_token, today).unwrap(),
            Seeded::Unknown
        );
        assert!(store.operator(&token_hash(&file_token)).unwrap().is_none());
        // A second admin makes the first one disablable; disabled stays disabled.
        let other = Operator::new("李", Role::Admin, None).unwrap();
        add(&store, other, None, today).unwrap();
        set_disabled(&store, FILE_ADMIN, true, today).unwrap();
        assert_eq!(
            seed_admin(&store, &rotated.token, today).unwrap(),
            Seeded::NotLive(Standing::Disabled)
        );
        assert!(matches!(
            rotate(&store, Whose::Named(FILE_ADMIN), None, today),
            Err(AccountError::Disabled(_))
        ));
        assert!(matches!(
            set_disabled(&store, "李", true, today),
            Err(AccountError::LastAdmin(_))
        ));
    }
}
