//! The node itself: who it is, who is signed in, its catalog, its federation links and the
//! hall's screen (大屏).

use federation_proto::{Date, Level, NodeCode, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::foreign::{
    CatalogItemSchema, DateSchema, LevelSchema, NodeCodeSchema, OperatorSchema, StateSchema,
};
use crate::catalog::Item;
pub use crate::link::Role as LinkRole;
use crate::operator::Operator;

/// `GET /api/v1/node`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct NodeView {
    #[schema(value_type = NodeCodeSchema)]
    pub code: NodeCode,
    pub name: String,
    /// The node's administrative level, from its code.
    #[schema(value_type = LevelSchema)]
    pub level: Level,
    /// The parent's code; null at the root.
    #[schema(value_type = Option<NodeCodeSchema>)]
    pub parent: Option<NodeCode>,
    /// Always empty: the children are known from the links.
    pub children: Vec<String>,
}

/// The node in a session: [`NodeView`] without its children.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct NodeBrief {
    #[schema(value_type = NodeCodeSchema)]
    pub code: NodeCode,
    pub name: String,
    #[schema(value_type = LevelSchema)]
    pub level: Level,
    #[schema(value_type = Option<NodeCodeSchema>)]
    pub parent: Option<NodeCode>,
}

/// `GET /api/v1/session`: who the token belongs to, who stands in for them and for whom they
/// stand in (AB角), at which node, and the node's today — what the console shows after
/// sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct SessionView {
    #[schema(value_type = OperatorSchema)]
    pub operator: Operator,
    /// The colleague who acts for this operator while they are away; null: nobody.
    pub stand_in: Option<String>,
    /// The absent colleagues (live accounts) this operator stands in for, by name.
    #[schema(value_type = Vec<OperatorSchema>)]
    pub standing_in_for: Vec<Operator>,
    pub node: NodeBrief,
    /// The node's today (its clock, China Standard Time).
    #[schema(value_type = DateSchema)]
    pub today: Date,
}

/// `GET /api/v1/catalog`: the items of the catalog in force (事项目录).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct CatalogView {
    #[schema(value_type = Vec<CatalogItemSchema>)]
    pub items: Vec<Item>,
}

/// `GET /api/v1/links`: the node's federation links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct LinksView {
    pub links: Vec<LinkView>,
}

/// One federation link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct LinkView {
    #[schema(value_type = NodeCodeSchema)]
    pub peer: NodeCode,
    /// Which side of the link the peer is on.
    pub role: LinkRole,
    pub connected: bool,
    /// Events and summaries waiting to be sent to the peer.
    pub outbox: u64,
    /// The highest link sequence the peer acknowledged in this run.
    pub last_ack: u64,
    /// Connections established since start.
    pub connections: u64,
    pub last_error: Option<String>,
    /// The optional protocol features both sides of the live link announced (a bitset; none
    /// is defined yet, so 0).
    pub features: u64,
}

/// `GET /api/v1/hall` (no token): the hall's screen (大屏) — today's applications still being
/// handled and the cases concluded today, newest first, by masked number and item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct HallView {
    pub node: HallNode,
    #[schema(value_type = DateSchema)]
    pub today: Date,
    /// Applications of today still being handled (补正 included), at most 50.
    pub queue: Vec<HallLine>,
    /// Cases concluded today, at most 50.
    pub concluded: Vec<HallLine>,
}

/// The node on the hall's screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct HallNode {
    #[schema(value_type = NodeCodeSchema)]
    pub code: NodeCode,
    pub name: String,
}

/// One line of the hall's screen: never a name, an ID or a full case number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(any(test, feature = "strict-contract"), serde(deny_unknown_fields))]
pub struct HallLine {
    /// The case number without its node and year: `****-MMDD-NNNNNN`.
    #[schema(pattern = r"^\*\*\*\*-[0-9]{4}-[0-9]{6}$")]
    pub ticket: String,
    pub item_name: String,
    #[schema(value_type = StateSchema)]
    pub state: State,
}
