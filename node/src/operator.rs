//! Operators (操作员) and their bearer tokens. A token is shown once, when created; the node
//! keeps only its SHA-256.
//!
//! Roles: an **admin** may do everything; a **supervisor** reads everything and issues 督办; a
//! **clerk** (窗口人员) works for one department and may act only on that department's cases —
//! and give opinions where that department sits in a joint review.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Supervisor,
    Clerk,
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
    #[error("a clerk needs a department")]
    ClerkWithoutDepartment,
    #[error("only clerks have a department")]
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
        match (role, &department) {
            (Role::Clerk, None) => return Err(OperatorError::ClerkWithoutDepartment),
            (Role::Admin | Role::Supervisor, Some(_)) => {
                return Err(OperatorError::DepartmentWithoutClerk)
            }
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
            Role::Clerk => self.department.as_deref() == Some(department),
        }
    }
}

/// A fresh random token: 32 bytes as hex.
pub fn new_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
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
    fn tokens_are_random_and_hashed() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(token_hash(&a), token_hash(&format!("{a}\n")));
    }
}
