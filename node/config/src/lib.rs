//! Strait's configuration: loading, validation, and the resolved [`Settings`].
//!
//! [`load`] reads either a MirrorMaker 2 `mm2.properties` file, run unchanged (module `mm2`), or
//! Strait's native TOML format (module `native`), both with the same `STRAIT__*` environment
//! overrides (modules `env`, `mm2::env`); both produce the same validated [`Settings`]. Java client properties of `mm2.properties` are
//! translated to librdkafka's (module `client_props`, with the table). The node's place in a Strait
//! cluster ([`ClusterMembership`]) is checked the same way for both (module `membership`).
//! [`Settings::describe`] summarises the result for `strait check-config`. [`load_text`] reads a
//! configuration given as text (the control API's `ApplyConfig`), and
//! [`Settings::shared_changes`] says what a new version of the cluster's configuration changes.

mod assemble;
mod client_props;
mod describe;
mod diff;
mod env;
mod error;
mod load;
mod membership;
mod mm2;
mod model;
mod native;
mod properties;
mod schema;
mod shared;
mod suggest;

pub use diff::{Change, Item, SettingChange, SharedChange};
pub use error::{ConfigError, Location, Place};
pub use load::{load, load_text, Format};
pub use membership::parse_address;
pub use model::*;
