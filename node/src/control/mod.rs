//! The public control API, `strait.v1`: every node serves it on its cluster port.
//!
//! Reads answer from this node's copy of the replicated state (and, for lag, from the partitions'
//! owners); changes are proposed through Raft (a follower forwards the proposal to the leader) and
//! answer once committed and applied here. Proto types stay in this module: requests are checked
//! and turned into domain types at the edge (`InvalidArgument` names the field and the reason,
//! unknown names are `NotFound`, no leader is `Unavailable`).

mod auth;
mod cluster_api;
mod config_api;
mod context;
mod cutover_api;
mod flows_api;
mod offsets_api;
mod partitions_api;
mod request;
mod status_api;
mod verify_api;
mod watch;

pub use auth::{bearer, BearerAuth, TokenRefusal};
pub use cluster_api::ClusterApi;
pub use config_api::ConfigApi;
pub use context::Control;
pub use cutover_api::CutoverApi;
pub use flows_api::FlowsApi;
pub use offsets_api::OffsetsApi;
pub use partitions_api::PartitionsApi;
pub(crate) use request::applied;
pub use status_api::StatusApi;
pub use verify_api::VerifyApi;
