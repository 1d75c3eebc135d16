//! The validated configuration the rest of Strait runs on, whatever file format it came from.
//!
//! Both loaders (`mm2.properties` and TOML) produce a [`Settings`]; nothing downstream knows which
//! format was used. Every value here has been validated: aliases, flows, regexes and numbers.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;
use strait_coordinator::{ClusterAlias, FlowId, ReplicationPolicy, TopicFilter};

use crate::client_props::{librdkafka_hint, shown_value, LibrdkafkaHint};
use crate::error::{ConfigError, Location};

/// librdkafka client properties (`name -> value`), already translated from Java client names where
/// a translation exists (see the loaders).
pub type ClientProps = BTreeMap<String, String>;

/// Where a client property was set: the key as the file writes it (`A.consumer.fetch.min.bytes`,
/// `clusters.A.consumer."fetch.min.bytes"`, `A.bootstrap.servers` for `bootstrap.servers`) and its
/// line or environment variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyOrigin {
    pub key: String,
    pub at: Location,
}

/// For each librdkafka property of a client, where it was set.
pub type PropertyOrigins = BTreeMap<String, PropertyOrigin>;

/// One of the clients of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowClient {
    Consumer,
    Producer,
    SourceAdmin,
    TargetAdmin,
}

impl fmt::Display for FlowClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Consumer => "source consumer",
            Self::Producer => "target producer",
            Self::SourceAdmin => "source admin",
            Self::TargetAdmin => "target admin",
        })
    }
}

/// Where each property of a flow's clients ([`FlowSettings::consumer`]...) was set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientOrigins {
    pub consumer: PropertyOrigins,
    pub producer: PropertyOrigins,
    pub source_admin: PropertyOrigins,
    pub target_admin: PropertyOrigins,
}

impl ClientOrigins {
    pub fn of(&self, client: FlowClient) -> &PropertyOrigins {
        match client {
            FlowClient::Consumer => &self.consumer,
            FlowClient::Producer => &self.producer,
            FlowClient::SourceAdmin => &self.source_admin,
            FlowClient::TargetAdmin => &self.target_admin,
        }
    }
}

/// Default [`NodeSettings::data_dir`], relative to the configuration file's directory.
pub const DEFAULT_DATA_DIR: &str = "strait-data";
/// Default [`NodeSettings::progress_interval`].
pub const DEFAULT_PROGRESS_INTERVAL: Duration = Duration::from_secs(5);
/// Default [`NodeSettings::offset_trim_interval`].
pub const DEFAULT_OFFSET_TRIM_INTERVAL: Duration = Duration::from_secs(60);
/// Default [`NodeSettings::shutdown_handover_timeout`].
pub const DEFAULT_SHUTDOWN_HANDOVER_TIMEOUT: Duration = Duration::from_secs(10);
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
/// Default [`FlowSettings::transaction_interval`]: a `read_committed` consumer of the target sees
/// a record about this long after the source's (plus the copy itself).
pub const DEFAULT_TRANSACTION_INTERVAL: Duration = Duration::from_millis(200);
/// Smallest accepted [`FlowSettings::transaction_interval`]: below it the commits (a round trip to
/// the transaction coordinator and markers on every partition written) cost more than the records.
pub const MIN_TRANSACTION_INTERVAL: Duration = Duration::from_millis(10);
/// Default [`FlowSettings::transaction_timeout`]: the default `transaction.timeout.ms` of Kafka's
/// producers (librdkafka's and Java's).
pub const DEFAULT_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest accepted [`FlowSettings::transaction_timeout`]: the brokers' default
/// `transaction.max.timeout.ms`; a broker refuses a producer asking for more.
pub const MAX_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// Default [`FlowSettings::transactional_id_prefix`].
pub const DEFAULT_TRANSACTIONAL_ID_PREFIX: &str = "strait";
/// Default [`ClusterMembership::node_id`]: node 1 of a single-node cluster.
pub const DEFAULT_NODE_ID: u64 = 1;
/// The gRPC port of a node when none is given.
pub const DEFAULT_CLUSTER_PORT: u16 = 7070;
/// Default [`ClusterMembership::listen`] when this node's own address is not known (see there).
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(
    Ipv4Addr::new(127, 0, 0, 1),
    DEFAULT_CLUSTER_PORT,
));
/// Default [`ClusterMembership::cluster_id`].
pub const DEFAULT_CLUSTER_ID: &str = "strait";
/// Default [`ClusterMembership::liveness_timeout`].
pub const DEFAULT_LIVENESS_TIMEOUT: Duration = Duration::from_secs(3);
/// Smallest accepted [`ClusterMembership::liveness_timeout`].
pub const MIN_LIVENESS_TIMEOUT: Duration = Duration::from_millis(500);
/// Default [`ClusterMembership::position_interval`].
pub const DEFAULT_POSITION_INTERVAL: Duration = Duration::from_secs(1);
/// Smallest accepted [`ClusterMembership::position_interval`].
pub const MIN_POSITION_INTERVAL: Duration = Duration::from_millis(100);

/// MirrorMaker 2's default `config.properties.exclude`: topic configs never copied to the target.
pub const DEFAULT_CONFIG_PROPERTIES_EXCLUDE: &[&str] = &[
    "follower\\.replication\\.throttled\\.replicas",
    "leader\\.replication\\.throttled\\.replicas",
    "message\\.timestamp\\.difference\\.max\\.ms",
    "message\\.timestamp\\.type",
    "unclean\\.leader\\.election\\.enable",
    "min\\.insync\\.replicas",
];

/// Default [`Mm2Settings::emit_heartbeats_interval`] (MirrorMaker 2's).
pub const DEFAULT_EMIT_HEARTBEATS_INTERVAL: Duration = Duration::from_secs(1);
/// Default [`Mm2Settings::emit_checkpoints_interval`]. MirrorMaker 2's is 60 s: a consumer that
/// fails over resumes up to a minute behind.
pub const DEFAULT_EMIT_CHECKPOINTS_INTERVAL: Duration = Duration::from_secs(5);
/// Default [`Mm2Settings::sync_group_offsets_interval`] (MirrorMaker 2: 60 s).
pub const DEFAULT_SYNC_GROUP_OFFSETS_INTERVAL: Duration = Duration::from_secs(5);
/// MirrorMaker 2's default `offset.lag.max`.
pub const DEFAULT_OFFSET_LAG_MAX: i64 = 100;
/// MirrorMaker 2's default `groups`: every group.
pub const DEFAULT_GROUPS: &[&str] = &[".*"];
/// MirrorMaker 2's default `groups.exclude`.
pub const DEFAULT_GROUPS_EXCLUDE: &[&str] = &["console-consumer-.*", "connect-.*", "__.*"];

/// Where the offset-syncs topic lives (`offset-syncs.topic.location`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OffsetSyncsLocation {
    /// `mm2-offset-syncs.<target>.internal` on the source (MirrorMaker 2's default).
    #[default]
    Source,
    /// `mm2-offset-syncs.<source>.internal` on the target.
    Target,
}

/// A flow's consumer fail-over features, as MirrorMaker 2 names them: heartbeats, offset syncs,
/// checkpoints and group offset sync.
#[derive(Debug, Clone)]
pub struct Mm2Settings {
    /// `emit.heartbeats.enabled` (default true).
    pub emit_heartbeats_enabled: bool,
    /// `emit.heartbeats.interval.seconds` (default 1 s).
    pub emit_heartbeats_interval: Duration,
    /// `emit.checkpoints.enabled` (default true).
    pub emit_checkpoints_enabled: bool,
    /// `emit.checkpoints.interval.seconds`. Default 5 s (MirrorMaker 2: 60 s, honoured when set).
    pub emit_checkpoints_interval: Duration,
    /// `emit.offset-syncs.enabled` (default true).
    pub emit_offset_syncs_enabled: bool,
    /// `offset-syncs.topic.location` (default source).
    pub offset_syncs_location: OffsetSyncsLocation,
    /// `offset.lag.max` (default 100): offset syncs are emitted at least this often in a run.
    pub offset_lag_max: i64,
    /// `groups` / `groups.exclude` (legacy `groups.blacklist`): consumer groups checkpointed.
    pub groups: TopicFilter,
    /// `sync.group.offsets.enabled` (default false).
    pub sync_group_offsets_enabled: bool,
    /// `sync.group.offsets.interval.seconds`. Default 5 s (MirrorMaker 2: 60 s).
    pub sync_group_offsets_interval: Duration,
    /// `heartbeats.topic.replication.factor`; `None` = the target broker's default.
    pub heartbeats_topic_replication_factor: Option<i16>,
    /// `checkpoints.topic.replication.factor`; `None` = the target broker's default.
    pub checkpoints_topic_replication_factor: Option<i16>,
    /// `offset-syncs.topic.replication.factor`; `None` = the broker's default.
    pub offset_syncs_topic_replication_factor: Option<i16>,
}

/// The heartbeats of an ordered pair of clusters without an enabled flow: records keyed
/// `(source, target)` to `heartbeats` on the target, as MirrorMaker 2's heartbeat connector writes
/// them for disabled flows too. Set with the pair's keys (`B->A.emit.heartbeats.enabled`, or a
/// `[flows."B->A"]` table with `enabled = false`), else the file-level ones, else the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairHeartbeats {
    /// The pair (not a running flow).
    pub id: FlowId,
    /// `emit.heartbeats.enabled` (default true).
    pub enabled: bool,
    /// `emit.heartbeats.interval.seconds` (default 1 s).
    pub interval: Duration,
    /// `heartbeats.topic.replication.factor`; `None` = the target broker's default.
    pub topic_replication_factor: Option<i16>,
    /// The target admin client's properties, with `bootstrap.servers`: the producer of the
    /// heartbeats and the admin that creates the topic use them, as an enabled flow's do.
    pub target_admin: ClientProps,
}

/// Everything a node needs to run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The file these settings were loaded from (for messages).
    pub file: PathBuf,
    pub node: NodeSettings,
    /// This node's place in the Raft group of Strait nodes (not a Kafka cluster: those are
    /// `clusters`).
    pub cluster: ClusterMembership,
    /// Every cluster named in the file that has bootstrap servers, by alias (every cluster an
    /// enabled flow uses has them; one that has none and is unused is left out and listed in
    /// `ignored`).
    pub clusters: BTreeMap<ClusterAlias, ClusterSettings>,
    /// The enabled flows, in a stable order (sorted by flow id).
    pub flows: Vec<FlowSettings>,
    /// The heartbeats of every ordered pair of `clusters` that has no enabled flow, sorted by pair
    /// (an enabled flow's are in its [`FlowSettings::mm2`]): MirrorMaker 2 writes heartbeats for
    /// every pair, so a pair's target shows the source is configured and reachable, and a flow
    /// the other way replicates them back.
    pub pair_heartbeats: Vec<PairHeartbeats>,
    /// Keys that were read but are not used by Strait (yet), each with the reason. The node logs each
    /// once as a warning at start-up; `check-config` prints them.
    pub ignored: Vec<IgnoredKey>,
    /// Advice about settings that are valid but risky (a cluster of several nodes without its own
    /// `cluster_id`). The node logs each once as a warning at start-up; `check-config` prints them.
    pub warnings: Vec<String>,
}

/// Settings of this node process. Their keys, defaults and checks are one table (`node_table!` in
/// module `schema`); `NodeSettings::default` is derived from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSettings {
    /// Where sled keeps positions and the Raft log. Absolute once loaded: a relative path in the
    /// file is resolved from the file's directory, one from a `STRAIT__` variable from the working
    /// directory. Default `strait-data` next to the file.
    pub data_dir: PathBuf,
    /// `text` (default) or `json` log lines.
    pub log_format: LogFormat,
    /// How often a progress line is logged; zero turns it off. Default 5 s.
    pub progress_interval: Duration,
    /// Where the Prometheus metrics endpoint (`GET /metrics`) listens; `None` (default): no endpoint.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// How often the node drops the locally stored offset runs below each source partition's log
    /// start offset (one ListOffsets per partition it runs). Default 60 s, at least 1 s.
    pub offset_trim_interval: Duration,
    /// On SIGTERM/SIGINT, how long the node waits for the cluster to take its partitions over
    /// (each released at its final position) before it drains what it still holds and exits.
    /// Zero: no handover, drain at once. Default 10 s, at most 600 s.
    pub shutdown_handover_timeout: Duration,
}

impl NodeSettings {
    /// What the file at `file` gets when it sets no node settings: the defaults, with the data
    /// dir resolved next to it as the loaders resolve it.
    pub fn defaults_for(file: &std::path::Path) -> Self {
        Self {
            data_dir: crate::assemble::resolve_path(
                file,
                &crate::Place::File,
                std::path::Path::new(DEFAULT_DATA_DIR),
            ),
            ..Self::default()
        }
    }
}

/// This node's membership of a Strait cluster (the Raft group of nodes), as validated by the loaders:
/// ids non-zero and unique, addresses unique, this node in `peers` when `peers` is given (with
/// `advertise` as its address), `peers` and `join` not both set, timeouts above their minimum.
///
/// Defaults when a value is not set:
/// - `node_id`: 1. It must be set when `peers` lists other nodes or `join` is set (every node of a
///   cluster would otherwise claim id 1).
/// - `advertise`: this node's address in `peers`, else `listen` (as `IP:PORT`).
/// - `listen`: `0.0.0.0:<port>` where `<port>` is the port of this node's own address (its entry in
///   `peers`, or `advertise` when set), so other nodes can reach it; `127.0.0.1:7070` when this
///   node's address is not known (a single-node cluster without `advertise`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterMembership {
    /// This node's id in the Raft group: stable, never 0. Default 1 (a single-node cluster).
    pub node_id: u64,
    /// Where this node's gRPC server listens (Raft transport and, later, the control API). Default
    /// `127.0.0.1:7070`, or `0.0.0.0:<port of this node's own address>` (see above).
    pub listen: SocketAddr,
    /// The address other nodes use to reach this one (`HOST:PORT`, may be a DNS name). Default: this
    /// node's address in `peers`, else `listen`.
    pub advertise: String,
    /// The initial voters when a new cluster is bootstrapped, as written. Empty = a single-node
    /// cluster of this node alone (unless `join` is set). When not empty it includes this node
    /// (same id, address equal to `advertise`); ids are unique and non-zero, addresses unique.
    pub peers: Vec<Peer>,
    /// Instead of bootstrapping: the address (`HOST:PORT`) of any member of a running cluster to join
    /// through. Never set together with a non-empty `peers`.
    pub join: Option<String>,
    /// A name shared by every node of one cluster; a node refuses messages from, and never joins, a
    /// cluster with another id. Default `strait`.
    pub cluster_id: String,
    /// A node not heard from for this long is declared dead and its partitions move; a node cut off
    /// from the leader this long stops writing. Default 3 s; at least 500 ms.
    pub liveness_timeout: Duration,
    /// How often an owner proposes its replicated positions to the cluster. Default 1 s; at least
    /// 100 ms.
    pub position_interval: Duration,
    /// When set, every call to the control API (`strait.v1.*`) must carry `authorization: Bearer
    /// <token>`; the Raft transport, health and reflection stay open. Default: none (open).
    pub control_token: Option<String>,
    /// TLS on the cluster port and on every connection this node opens to another (`[cluster.tls]`).
    /// Default: none (plaintext).
    pub tls: Option<ClusterTls>,
    /// Where a plaintext server answering only `grpc.health.v1` listens, for probes that cannot do
    /// TLS (Kubernetes gRPC probes). Default: none.
    pub health_listen: Option<SocketAddr>,
}

/// `[cluster.tls]`: the cluster port serves TLS only, and this node connects to the others with
/// TLS, presenting its own certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterTls {
    /// This node's certificate chain (PEM), presented as server and as client. Its SANs must
    /// include the names other nodes and clients use to reach it (its `advertise` host).
    pub cert: PemFile,
    /// The private key of `cert` (PEM).
    pub key: PemFile,
    /// The certificates (PEM bundle) other nodes' certificates, server and client, are checked
    /// against. Required: a node must check the peers it talks to.
    pub ca: PemFile,
    /// Whether a client must present a certificate signed by `ca` to connect (mutual TLS). Default
    /// true. When false, clients without a certificate may call the control API (guard it with
    /// `control_token`), but the Raft transport still only accepts certified peers.
    pub require_client_cert: bool,
    /// The name every peer's certificate is checked for, instead of the host of its address (e.g.
    /// one certificate shared by every node). Default: none (each address's host).
    pub server_name: Option<String>,
}

/// A PEM file named by a setting: its path as written, the setting (for messages) and, once read by
/// [`crate::load`], its contents. [`crate::load_text`] does not read it (node settings of an applied
/// text are not used), so `pem` is then empty.
#[derive(Clone, PartialEq, Eq)]
pub struct PemFile {
    pub path: PathBuf,
    /// The key that names it, e.g. `cluster.tls.cert` or `strait.cluster.tls.cert`.
    pub setting: String,
    /// Where it was set.
    pub place: crate::error::Place,
    pub pem: Vec<u8>,
}

impl fmt::Debug for PemFile {
    /// The path and size, never the contents (a private key).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PemFile")
            .field("path", &self.path)
            .field("setting", &self.setting)
            .field("bytes", &self.pem.len())
            .finish()
    }
}

impl ClusterMembership {
    /// The voters a new cluster is bootstrapped with: `peers`, or this node alone (`node_id` at
    /// `advertise`) when `peers` is empty; empty when this node joins a running cluster (`join`).
    pub fn initial_voters(&self) -> Vec<Peer> {
        if self.join.is_some() {
            Vec::new()
        } else if self.peers.is_empty() {
            vec![Peer {
                id: self.node_id,
                address: self.advertise.clone(),
            }]
        } else {
            self.peers.clone()
        }
    }
}

impl Default for ClusterMembership {
    /// A single-node cluster: node 1, listening on and advertising `127.0.0.1:7070`.
    fn default() -> Self {
        Self {
            node_id: DEFAULT_NODE_ID,
            listen: DEFAULT_LISTEN,
            advertise: DEFAULT_LISTEN.to_string(),
            peers: Vec::new(),
            join: None,
            cluster_id: DEFAULT_CLUSTER_ID.to_owned(),
            liveness_timeout: DEFAULT_LIVENESS_TIMEOUT,
            position_interval: DEFAULT_POSITION_INTERVAL,
            control_token: None,
            tls: None,
            health_listen: None,
        }
    }
}

/// One initial voter of a cluster: `ID@HOST:PORT` in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Peer {
    /// The node's id (non-zero).
    pub id: u64,
    /// `HOST:PORT` other nodes reach it at (its `advertise`), as written.
    pub address: String,
}

impl fmt::Display for Peer {
    /// `ID@HOST:PORT`, as in the configuration.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.id, self.address)
    }
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
    /// The flow's rate limit in records per second for the whole cluster (each node applies its
    /// share, in proportion to the flow's partitions it owns); 0, the default: unlimited. An
    /// operator's `strait flows throttle` overrides it at run time.
    pub max_records_per_second: u64,
    /// The same in bytes (key + value + headers) per second; 0, the default: unlimited.
    pub max_bytes_per_second: u64,
    /// Exactly-once replication (TOML `exactly_once`; `mm2.properties`: MirrorMaker 2's
    /// `B.exactly.once.source.support = enabled` for the target cluster B, or Strait's file-level
    /// and per-flow forms of that key). When on, the flow writes to its target in transactions
    /// that carry the source positions they cover, so a `read_committed` consumer of the target
    /// sees every source record exactly once, in order per partition. Default false
    /// (at-least-once). When on, the flow's producer properties do not contradict it (checked at
    /// load): no `enable.idempotence=false`, `acks` all (or -1), no `transactional.id` or
    /// `transaction.timeout.ms` of their own.
    pub exactly_once: bool,
    /// With [`exactly_once`](Self::exactly_once): how often the flow's producers commit their
    /// transaction, i.e. about how late a `read_committed` consumer sees a record. Default
    /// 200 ms; at least 10 ms and at most [`transaction_timeout`](Self::transaction_timeout).
    pub transaction_interval: Duration,
    /// With [`exactly_once`](Self::exactly_once): the producers' `transaction.timeout.ms`, after
    /// which the target's transaction coordinator aborts a transaction its producer neither
    /// committed nor aborted (a node that froze or died mid-transaction). Default 60 s; at least
    /// [`transaction_interval`](Self::transaction_interval), at most 15 minutes (the brokers'
    /// default `transaction.max.timeout.ms`).
    pub transaction_timeout: Duration,
    /// With [`exactly_once`](Self::exactly_once): the start of every transactional id the flow's
    /// producers use (`<prefix>-<source>-<target>-...`, see docs/exactly-once.md), so that
    /// operators can grant a PREFIXED `TransactionalId` ACL. Default `strait`; letters, digits,
    /// `.`, `_` and `-`. Two Strait clusters writing to one target with flows of the same name
    /// need different prefixes.
    pub transactional_id_prefix: String,
    /// Heartbeats, offset syncs, checkpoints and group offset sync.
    pub mm2: Mm2Settings,
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
    /// Where each of those client properties was set, for messages.
    pub client_origins: ClientOrigins,
}

/// Whether `text` holds `secret` as a token of its own (not inside a longer word: a one-letter
/// password is in every sentence, and must not hide librdkafka's reason). An apostrophe belongs
/// to its word (`Strait's`); librdkafka quotes values with double quotes.
fn shows_token(text: &str, secret: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_' || c == '\'';
    text.match_indices(secret).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + secret.len()..].chars().next();
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

impl FlowSettings {
    /// The error for a property of one of this flow's clients that librdkafka rejects (an unknown
    /// name, a bad value): it names the key as the file writes it and where it was set (`file` when
    /// Strait set the property itself). `value` is masked in `reason` when the property is a secret.
    pub fn rejected_client_property(
        &self,
        file: &Path,
        client: FlowClient,
        property: &str,
        value: &str,
        reason: &str,
    ) -> ConfigError {
        let (key, at) = match self.client_origins.of(client).get(property) {
            Some(origin) => (origin.key.clone(), origin.at.clone()),
            None => (property.to_owned(), Location::new(file, None)),
        };
        let shown = shown_value(property, value);
        let mut reason = reason.to_owned();
        if shown != value && !value.is_empty() {
            // librdkafka quotes the value; drop the whole message if it shows it some other way.
            reason = reason.replace(&format!("\"{value}\""), &format!("\"{shown}\""));
            if shows_token(&reason, value) {
                reason = "librdkafka rejects the value (not shown: a secret)".to_owned();
            }
        }
        let mut reason = format!(
            "{reason} (librdkafka, for the {client} of flow {})",
            self.id
        );
        // librdkafka knows `sasl.jaas.config` only to refuse it ("not supported").
        if reason.starts_with("No such configuration property") || property == "sasl.jaas.config" {
            match librdkafka_hint(property) {
                // The key as written, with the name corrected (`clusters.A.producer."linger.ms"`).
                Some(LibrdkafkaHint::Typo(known)) => {
                    let suggestion = match key.rfind(property) {
                        Some(at) => format!("{}{known}{}", &key[..at], &key[at + property.len()..]),
                        None => known.to_owned(),
                    };
                    reason.push_str(&format!(": did you mean `{suggestion}`?"));
                }
                Some(LibrdkafkaHint::Text(text)) => reason.push_str(&format!(": {text}")),
                None => {}
            }
        }
        ConfigError::ClientProperty {
            at,
            key,
            value: shown,
            reason,
        }
    }
}

/// A key Strait read and does not act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredKey {
    pub key: String,
    /// The key's 1-based line; `None` when it has none (a TOML value set from the environment).
    pub line: Option<usize>,
    pub reason: String,
}

#[cfg(test)]
mod secret_tests {
    use super::shows_token;

    #[test]
    fn a_secret_is_found_as_a_token_not_inside_words() {
        assert!(shows_token("bad value hunter2 for x", "hunter2"));
        assert!(shows_token("value=hunter2", "hunter2"));
        assert!(!shows_token("not supported in this build", "s"));
        assert!(!shows_token("Strait's librdkafka", "s"));
        assert!(shows_token("got s here", "s"));
    }
}
