//! Case numbers (办件编号): `<node code>-<yyyymmdd>-<6-digit daily sequence>`, made by the accepting
//! node without coordination — the node code makes them unique across the federation.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::code::NodeCode;
use crate::date::Date;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CaseNo {
    pub node: NodeCode,
    pub date: Date,
    /// 1-based daily sequence at the accepting node.
    pub seq: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a case number (<division code>-<yyyymmdd>-<6 digits>)")]
pub struct CaseNoError(pub String);

impl CaseNo {
    /// The largest daily sequence that fits in six digits.
    pub const MAX_SEQ: u32 = 999_999;

    /// Fixed-width big-endian key: sorts like the case numbers themselves.
    pub fn key(&self) -> [u8; 16] {
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&self.node.as_u64().to_be_bytes());
        k[8..12].copy_from_slice(&self.date.days().to_be_bytes());
        k[12..].copy_from_slice(&self.seq.to_be_bytes());
        k
    }
}

impl fmt::Display for CaseNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{:06}", self.node, self.date.compact(), self.seq)
    }
}

impl FromStr for CaseNo {
    type Err = CaseNoError;

    fn from_str(s: &str) -> Result<CaseNo, CaseNoError> {
        let err = || CaseNoError(s.to_string());
        let mut parts = s.split('-');
        let (Some(node), Some(date), Some(seq), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(err());
        };
        if date.len() != 8 || seq.len() != 6 || !seq.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let node = node.parse().map_err(|_| err())?;
        let date = format!("{}-{}-{}", &date[..4], &date[4..6], &date[6..])
            .parse()
            .map_err(|_| err())?;
        let seq: u32 = seq.parse().map_err(|_| err())?;
        if seq == 0 {
            return Err(err());
        }
        Ok(CaseNo { node, date, seq })
    }
}

impl Serialize for CaseNo {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            (self.node, self.date, self.seq).serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for CaseNo {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<CaseNo, D::Error> {
        use serde::de::Error;
        if deserializer.is_human_readable() {
            let s = String::deserialize(deserializer)?;
            s.parse().map_err(D::Error::custom)
        } else {
            let (node, date, seq) = <(NodeCode, Date, u32)>::deserialize(deserializer)?;
            if seq == 0 || seq > CaseNo::MAX_SEQ {
                return Err(D::Error::custom("case sequence out of range"));
            }
            Ok(CaseNo { node, date, seq })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let no: CaseNo = "370685001-20251009-000042".parse().unwrap();
        assert_eq!(no.seq, 42);
        assert_eq!(no.to_string(), "370685001-20251009-000042");
        for bad in [
            "370685001-20251009-42",
            "370685001-20251309-000001",
            "x-20251009-000001",
            "370685-20251009-000000",
            "370685-20251009-000001-1",
        ] {
            assert!(bad.parse::<CaseNo>().is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_sort_like_numbers() {
        let a: CaseNo = "370685-20251009-000002".parse().unwrap();
        let b: CaseNo = "370685-20251010-000001".parse().unwrap();
        assert!(a < b && a.key() < b.key());
    }
}
