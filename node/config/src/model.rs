//! The validated configuration the rest of Strait runs on, whatever file format it came from.
//!
//! Both loaders (`mm2.properties` and TOML) produce a [`Settings`]; nothing downstream knows which
//! format was used. Every value here has been validated: aliases, flows, regexes and numbers.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use regex::Regex;
use strait_coordinator::{ClusterAlias, FlowId, ReplicationPolicy, TopicFilter};

/// librdkafka client properties (`name -> value`), already translated from Java client names where
/// a translation exists (see the loaders).
pub type ClientProps = BTreeMap<String, String>;

/// Default [`NodeSettings::data_dir`].
pub const DEFAULT_DATA_DIR: &str = "./strait-data";
/// Default [`NodeSettings::progress_interval`].
pub const DEFAULT_PROGRESS_INTERVAL: Duration = Duration::from_secs(5);
/// Default [`FlowSettings::refresh_topics_interval`]. MirrorMaker 2's is 600 s: new topics were
/// noticed ten minutes late, one of its most common complaints.
pub const DEFAULT_REFRESH_TOPICS_INTERVAL: Duration = Duration::from_secs(10);
/// Default [`FlowSettings::max_in_flight_records`].
pub const DEFAULT_MAX_IN_FLIGHT_RECORDS: usize = 100_000;
/// Default [`FlowSettings::max_in_flight_bytes`] (64 MiB).
pub const DEFAULT_MAX_IN_FLIGHT_BYTES: usize = 64 * 1024 * 1024;
/// Default [`FlowSettings::position_flush_interval`]. MirrorMaker 2 flushes source positions every
/// 60 s (`offset.flush.interval.ms`), so a restart could replay a minute of records.
pub const DEFAULT_POSITION_FLUSH_INTERVAL: Duration = Duration::from_millis(100);
/// MirrorMaker 2's default `config.properties.exclude`: topic configs never copied to the target.
pub const DEFAULT_CONFIG_PROPERTIES_EXCLUDE: &[&str] = &[
    "follower\\.replication\\.throttled\\.replicas",
    "leader\\.replication\\.throttled\\.replicas",
    "message\\.timestamp\\.difference\\.max\\.ms",
    "message\\.timestamp\\.type",
    "unclean\\.leader\\.election\\.enable",
    "min\\.insync\\.replicas",
];

/// Everything a node needs to run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The file these settings were loaded from (for messages).
    pub file: PathBuf,
    pub node: NodeSettings,
    /// Every cluster named in the file that has bootstrap servers, by alias (every cluster an
    /// enabled flow uses has them; one that has none and is unused is left out and listed in
    /// `ignored`).
    pub clusters: BTreeMap<ClusterAlias, ClusterSettings>,
    /// The enabled flows, in a stable order (sorted by flow id).
    pub flows: Vec<FlowSettings>,
    /// Keys that were read but are not used by Strait (yet), each with the reason. The node logs each
    /// once as a warning at start-up; `check-config` prints them.
    pub ignored: Vec<IgnoredKey>,
}

/// Settings of this node process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSettings {
    /// Where sled keeps positions (and later the Raft log). Default `./strait-data`.
    pub data_dir: PathBuf,
    /// `text` (default) or `json` log lines.
    pub log_format: LogFormat,
    /// How often a progress line is logged; zero turns it off. Default 5 s.
    pub progress_interval: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// One Kafka cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSettings {
    pub alias: ClusterAlias,
    /// `bootstrap.servers`, required.
    pub bootstrap_servers: String,
    /// Properties for every client of this cluster (`A.security.protocol`, `A.sasl.*`, ...; in
    /// `mm2.properties` also the file-level `security.protocol`, `ssl.*` and `sasl.*`, below the
    /// cluster's own).
    pub client: ClientProps,
    /// Extra properties for consumers reading this cluster (`A.consumer.*`).
    pub consumer: ClientProps,
    /// Extra properties for producers writing this cluster (`A.producer.*`).
    pub producer: ClientProps,
    /// Extra properties for admin clients of this cluster (`A.admin.*`).
    pub admin: ClientProps,
}

/// One enabled replication flow `source -> target`, with every per-flow setting resolved
/// (flow-level value, else file-level value, else default).
#[derive(Debug, Clone)]
pub struct FlowSettings {
    pub id: FlowId,
    /// `topics` / `topics.exclude` (legacy `topics.blacklist`).
    pub topics: TopicFilter,
    /// `replication.policy.class` + `replication.policy.separator`.
    pub replication_policy: ReplicationPolicy,
    /// `replication.factor` for remote topics Strait creates; `None` = the target broker's default.
    pub replication_factor: Option<i16>,
    /// `sync.topic.configs.enabled` (default true).
    pub sync_topic_configs: bool,
    /// `config.properties.exclude` (legacy `config.properties.blacklist`): whole-name match of
    /// topic config names never copied. Defaults to MirrorMaker 2's list.
    pub config_properties_exclude: Regex,
    /// `refresh.topics.enabled` (default true).
    pub refresh_topics_enabled: bool,
    /// `refresh.topics.interval.seconds`: how often source topics are listed again. Default 10 s.
    pub refresh_topics_interval: Duration,
    /// Bound on records read from the source and not yet acknowledged by the target, for the
    /// whole flow. Default 100 000.
    pub max_in_flight_records: usize,
    /// Same bound in bytes (key + value + headers). Default 64 MiB.
    pub max_in_flight_bytes: usize,
    /// How often acknowledged positions are written to sled. Default 100 ms. This bounds the
    /// duplicates after a crash.
    pub position_flush_interval: Duration,
    /// Effective librdkafka properties of this flow's source consumer: source cluster `client`,
    /// then source `consumer`, then flow-level consumer overrides (later wins; in `mm2.properties`
    /// the file-level `consumer.*` / `source.consumer.*` come before the flow's own). Includes
    /// `bootstrap.servers` (always the source cluster's).
    pub consumer: ClientProps,
    /// Effective properties of this flow's target producer (target `client`, target `producer`,
    /// flow-level producer overrides). Includes `bootstrap.servers`.
    pub producer: ClientProps,
    /// Effective properties of the admin client on the source (source `client`, `admin`, flow-level
    /// `source.admin.*`).
    pub source_admin: ClientProps,
    /// Effective properties of the admin client on the target.
    pub target_admin: ClientProps,
}

/// A key Strait read and does not act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredKey {
    pub key: String,
    /// 1-based line in a `.properties` file; `None` for TOML.
    pub line: Option<usize>,
    pub reason: String,
}
