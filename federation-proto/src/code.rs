//! Division codes (区划代码) that name nodes, and the prefix arithmetic that routing rests on.
//!
//! A code is 6 digits (province, city, county: GB/T 2260), 9 digits (township or street) or 12
//! digits (village service point). Its *prefix* drops the trailing zero pairs at the 6-digit level:
//! `370000`→`37`, `370600`→`3706`, `370685`→`370685`, `370685001`→`370685001`.
//!
//! Invariant: the first digit is never 0, so the numeric value alone determines the length
//! (6-digit codes are < 10^6, 9-digit codes ≥ 10^8, 12-digit codes ≥ 10^11). That lets a code be
//! a plain `u64`, compared and hashed without allocating.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Administrative level, numbered as GB/T 39046 A.2 (行使层级).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Province = 2,
    City = 3,
    County = 4,
    Township = 5,
    Village = 6,
}

impl Level {
    /// The A.2 number (2 province … 6 village).
    pub fn number(self) -> u8 {
        self as u8
    }

    pub fn from_number(n: u8) -> Option<Level> {
        Some(match n {
            2 => Level::Province,
            3 => Level::City,
            4 => Level::County,
            5 => Level::Township,
            6 => Level::Village,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Province => "province",
            Level::City => "city",
            Level::County => "county",
            Level::Township => "township",
            Level::Village => "village",
        }
    }
}

/// A node's division code. Construct with [`NodeCode::from_str`] or [`NodeCode::from_u64`], which
/// validate it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeCode(u64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("division code {0:?} must be 6, 9 or 12 digits")]
    Length(String),
    #[error("division code {0:?} must contain only digits")]
    NotDigits(String),
    #[error("division code {0:?} must not start with 0")]
    LeadingZero(String),
    #[error("division code {0:?}: province part 00 does not exist")]
    NoProvince(String),
}

impl NodeCode {
    pub fn from_u64(value: u64) -> Result<NodeCode, CodeError> {
        value.to_string().parse()
    }

    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// Number of digits: 6, 9 or 12.
    pub fn len(self) -> usize {
        match self.0 {
            0..=999_999 => 6,
            1_000_000..=999_999_999 => 9,
            _ => 12,
        }
    }

    /// A code is never empty; present for clippy's `len_without_is_empty`.
    pub fn is_empty(self) -> bool {
        false
    }

    pub fn level(self) -> Level {
        match self.len() {
            12 => Level::Village,
            9 => Level::Township,
            _ => {
                let city_county = self.0 % 10_000;
                if city_county == 0 {
                    Level::Province
                } else if city_county.is_multiple_of(100) {
                    Level::City
                } else {
                    Level::County
                }
            }
        }
    }

    /// The routing prefix as a digit string (see the module doc).
    pub fn prefix(self) -> String {
        let s = self.to_string();
        match self.level() {
            Level::Province => s[..2].to_string(),
            Level::City => s[..4].to_string(),
            _ => s,
        }
    }

    /// True when `self` is a proper ancestor of `other`: its prefix is a proper prefix of `other`'s
    /// code.
    pub fn is_ancestor_of(self, other: NodeCode) -> bool {
        self != other && other.to_string().starts_with(&self.prefix())
    }

    /// True when `self` is `other` or one of its ancestors.
    pub fn covers(self, other: NodeCode) -> bool {
        self == other || self.is_ancestor_of(other)
    }

    /// The ancestor of `self` at `level`, derived from the digits (for 6-digit levels) — e.g. the
    /// county of a township is its first 6 digits. `None` when `level` is not above `self`.
    pub fn ancestor_at(self, level: Level) -> Option<NodeCode> {
        if level >= self.level() {
            return None;
        }
        let s = self.to_string();
        let code = match level {
            Level::Province => format!("{}0000", &s[..2]),
            Level::City => format!("{}00", &s[..4]),
            Level::County => s[..6].to_string(),
            Level::Township => s[..9].to_string(),
            Level::Village => return None,
        };
        code.parse().ok()
    }
}

impl FromStr for NodeCode {
    type Err = CodeError;

    fn from_str(s: &str) -> Result<NodeCode, CodeError> {
        if !matches!(s.len(), 6 | 9 | 12) {
            return Err(CodeError::Length(s.to_string()));
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CodeError::NotDigits(s.to_string()));
        }
        if s.starts_with('0') {
            return Err(CodeError::LeadingZero(s.to_string()));
        }
        if &s[..2] == "00" {
            return Err(CodeError::NoProvince(s.to_string()));
        }
        s.parse::<u64>()
            .map(NodeCode)
            .map_err(|_| CodeError::NotDigits(s.to_string()))
    }
}

impl fmt::Display for NodeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for NodeCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            serializer.serialize_u64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for NodeCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<NodeCode, D::Error> {
        use serde::de::Error;
        if deserializer.is_human_readable() {
            let s = String::deserialize(deserializer)?;
            s.parse().map_err(D::Error::custom)
        } else {
            let v = u64::deserialize(deserializer)?;
            NodeCode::from_u64(v).map_err(D::Error::custom)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> NodeCode {
        s.parse().unwrap()
    }

    #[test]
    fn prefixes_and_levels() {
        assert_eq!(c("370000").prefix(), "37");
        assert_eq!(c("370600").prefix(), "3706");
        assert_eq!(c("370685").prefix(), "370685");
        assert_eq!(c("370685001").prefix(), "370685001");
        assert_eq!(c("370000").level(), Level::Province);
        assert_eq!(c("370600").level(), Level::City);
        assert_eq!(c("370685").level(), Level::County);
        assert_eq!(c("370685001").level(), Level::Township);
        assert_eq!(c("370685001002").level(), Level::Village);
    }

    #[test]
    fn ancestry() {
        assert!(c("370600").is_ancestor_of(c("370685")));
        assert!(c("370600").is_ancestor_of(c("370685001")));
        assert!(c("370685").is_ancestor_of(c("370685001")));
        assert!(c("370000").is_ancestor_of(c("370685001002")));
        assert!(!c("370685").is_ancestor_of(c("370685")));
        assert!(!c("370685").is_ancestor_of(c("370600")));
        assert!(!c("370685").is_ancestor_of(c("370686001")));
        assert!(!c("350300").is_ancestor_of(c("370685")));
        assert_eq!(c("350322101").ancestor_at(Level::County), Some(c("350322")));
        assert_eq!(c("350322101").ancestor_at(Level::City), Some(c("350300")));
        assert_eq!(c("350322").ancestor_at(Level::Township), None);
    }

    #[test]
    fn rejects_bad_codes() {
        for bad in [
            "",
            "37060",
            "3706000",
            "37060a",
            "070600",
            "000600",
            "3706850011",
        ] {
            assert!(bad.parse::<NodeCode>().is_err(), "{bad}");
        }
        assert!(NodeCode::from_u64(12).is_err());
    }
}
