//! The API's answers as text for a terminal: a case with its deadlines and history, and the
//! tables of cases, supervision figures, identity reads and catalog items. Each view is a
//! [`std::fmt::Display`] of what the API answered (or of the reference data), holding exactly
//! the lines `liandong` prints, each ending in a newline; `liandong` prints them, and so does
//! `liandong demo`.
//!
//! - [`case`]: one case, and the case list's table.
//! - [`supervision`]: `status` and `stats` (电子监察).
//! - [`audit`]: the identity-read log's table (个人信息查阅记录).
//! - [`reference`]: catalog items and calendar years.

pub mod audit;
pub mod case;
pub mod reference;
pub mod supervision;

use serde_json::Value;

/// A JSON value as a table cell or a word in a line: a string as it is, null as `-`, anything
/// else as JSON.
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}
