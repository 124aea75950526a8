//! The audit log of identity reads (个人信息查阅记录) as a table: who read which case's
//! applicant identity, when, and through which endpoint (`GET /api/v1/audit`).

use std::fmt;

use serde_json::Value;

use super::text;

/// The heading of the audit table.
pub struct AuditHeader;

impl fmt::Display for AuditHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:>8}  {:<29}  {:<16} {:<24} {:<24} {:<5}",
            "seq", "at", "operator", "role", "case", "read"
        )
    }
}

/// Rows of the audit table, one per entry of a page; a clerk's role names their department.
pub struct AuditRows<'a>(pub &'a [Value]);

impl fmt::Display for AuditRows<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in self.0 {
            let role = match e["department"].as_str() {
                Some(d) => format!("{} ({d})", text(&e["role"])),
                None => text(&e["role"]),
            };
            writeln!(
                f,
                "{:>8}  {:<29}  {:<16} {:<24} {:<24} {:<5}",
                text(&e["seq"]),
                text(&e["at"]),
                text(&e["operator"]),
                role,
                text(&e["case_no"]),
                text(&e["endpoint"])
            )?;
        }
        Ok(())
    }
}
