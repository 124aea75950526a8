//! Supervision (电子监察) and the node's reference data: the status and statistics of the
//! subtree, the working-day calendar in force, revocations, and the audit log of identity
//! reads.

use federation_proto::NodeCode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

use super::foreign::{NodeCodeSchema, RevokedSchema, TimestampSchema};
use crate::audit::AuditEntry;
use crate::relay::Revoked;
use crate::stats::{Figures, Month};

/// Where the calendar in force stands (`GET /api/v1/calendar`, and in status and stats).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct CalendarView {
    /// The years with a State Council notice loaded (official).
    pub official_years: Vec<i32>,
    /// The last of them; null if none.
    pub last_official_year: Option<i32>,
    /// Years that should have their notice by now and do not (this year; from 1 November
    /// also the next).
    pub missing_years: Vec<i32>,
    /// The alarm every node raises while a notice is missing; null when none is.
    pub alarm: Option<String>,
}

/// The body of `PUT /api/v1/calendar` (admin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarLoad {
    /// The State Council notice as a calendar file (TOML, one `[year]` table per year).
    pub calendar: String,
}

/// The answer of `PUT /api/v1/calendar`, once durable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct CalendarLoaded {
    /// The years the notice made official.
    pub loaded_years: Vec<i32>,
    /// How many case summaries changed when re-evaluated.
    pub cases_changed: u64,
    pub calendar: CalendarView,
}

/// `GET /api/v1/revocations`: every revocation recorded here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct RevocationList {
    #[schema(value_type = Vec<RevokedSchema>)]
    pub revoked: Vec<Revoked>,
}

/// The body of `PUT /api/v1/revocations` (admin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevocationsLoad {
    /// The text of the CA's `revoked.toml`.
    pub revocations: String,
}

/// The answer of `PUT /api/v1/revocations`, once durable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct RevocationsLoaded {
    /// The codes newly revoked.
    #[schema(value_type = Vec<NodeCodeSchema>)]
    pub revoked: Vec<NodeCode>,
    /// The codes that were revoked here already.
    #[schema(value_type = Vec<NodeCodeSchema>)]
    pub already_revoked: Vec<NodeCode>,
    /// This node's own code: a node does not cut itself off (its parent does).
    #[schema(value_type = Vec<NodeCodeSchema>)]
    pub skipped_own_code: Vec<NodeCode>,
}

/// The body of `POST /api/v1/status/pull` (optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PullRequest {
    /// How long to wait for the subtree (default 5 000, at most 120 000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

/// `GET /api/v1/status` and `POST /api/v1/status/pull`: the consolidated status of the
/// subtree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct StatusView {
    #[schema(value_type = NodeCodeSchema)]
    pub node: NodeCode,
    #[schema(value_type = TimestampSchema)]
    pub as_of: String,
    pub calendar: CalendarView,
    /// The figures of every case of the subtree.
    pub totals: Figures,
    /// This node and every descendant it knows of.
    pub nodes: Vec<NodeStatus>,
    /// Only after a pull: the descendants that did not report in time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<NodeCodeSchema>>)]
    pub not_reported: Option<Vec<NodeCode>>,
}

/// One node of the subtree in the status: its figures and how fresh they are here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct NodeStatus {
    #[schema(value_type = NodeCodeSchema)]
    pub code: NodeCode,
    /// Whether its link is up; null when never heard of since this node started.
    pub reachable: Option<bool>,
    /// When its data held here was last fresh; null: never heard.
    #[schema(value_type = Option<TimestampSchema>)]
    pub fresh_as_of: Option<String>,
    pub age_seconds: Option<u64>,
    pub cases: u64,
    /// Open cases past their promised deadline.
    pub overdue: u64,
    /// 按期办结率: concluded on time / concluded; null before any is concluded.
    pub on_time_rate: Option<f64>,
}

/// `GET /api/v1/stats`: the figures of the subtree, in total and by item, department, owning
/// node and month of acceptance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct StatsView {
    #[schema(value_type = NodeCodeSchema)]
    pub node: NodeCode,
    #[schema(value_type = TimestampSchema)]
    pub as_of: String,
    pub calendar: CalendarView,
    pub totals: Figures,
    /// By item code.
    pub by_item: BTreeMap<String, Figures>,
    /// By department.
    pub by_department: BTreeMap<String, Figures>,
    /// By owning node's code.
    #[schema(value_type = BTreeMap<String, Figures>)]
    pub by_node: BTreeMap<NodeCode, Figures>,
    /// By month of acceptance, `YYYY-MM`.
    pub by_month: BTreeMap<String, Month>,
}

/// `GET /api/v1/audit`: one page of the reads of applicant identities, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// The `seq` to continue `after`; null at the end.
    pub next: Option<u64>,
}
