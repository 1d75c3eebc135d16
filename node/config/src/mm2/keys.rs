//! The `mm2.properties` keys Strait knows, by what it does with them.

/// Reason recorded for MirrorMaker 2 settings Strait reads but does not act on yet.
pub(crate) const NOT_IMPLEMENTED: &str = "MirrorMaker 2 setting, not implemented in Strait yet";
/// Reason recorded for keys neither MirrorMaker 2 nor Strait knows.
pub(crate) const UNKNOWN: &str = "unknown key";

/// Node settings (file level only), from the node settings table (module `schema`).
pub(crate) use crate::schema::NODE_KEYS;

/// Cluster settings of the node (file level only): [`crate::model::ClusterMembership`].
pub(crate) const STRAIT_CLUSTER_NODE_ID: &str = "strait.cluster.node.id";
/// The same setting as `strait.data.dir` (either may be set).
pub(crate) const STRAIT_CLUSTER_DATA_DIR: &str = "strait.cluster.data.dir";
pub(crate) const STRAIT_CLUSTER_LISTEN: &str = "strait.cluster.listen";
pub(crate) const STRAIT_CLUSTER_ADVERTISE: &str = "strait.cluster.advertise";
pub(crate) const STRAIT_CLUSTER_PEERS: &str = "strait.cluster.peers";
pub(crate) const STRAIT_CLUSTER_JOIN: &str = "strait.cluster.join";
pub(crate) const STRAIT_CLUSTER_ID: &str = "strait.cluster.id";
pub(crate) const STRAIT_CLUSTER_LIVENESS_TIMEOUT: &str = "strait.cluster.liveness.timeout.ms";
pub(crate) const STRAIT_CLUSTER_POSITION_INTERVAL: &str = "strait.cluster.position.interval.ms";
pub(crate) const STRAIT_CLUSTER_CONTROL_TOKEN: &str = "strait.cluster.control.token";
pub(crate) const STRAIT_CLUSTER_HEALTH_LISTEN: &str = "strait.cluster.health.listen";
pub(crate) const STRAIT_CLUSTER_TLS_CERT: &str = "strait.cluster.tls.cert";
pub(crate) const STRAIT_CLUSTER_TLS_KEY: &str = "strait.cluster.tls.key";
pub(crate) const STRAIT_CLUSTER_TLS_CA: &str = "strait.cluster.tls.ca";
pub(crate) const STRAIT_CLUSTER_TLS_REQUIRE_CLIENT_CERT: &str =
    "strait.cluster.tls.require.client.cert";
pub(crate) const STRAIT_CLUSTER_TLS_SERVER_NAME: &str = "strait.cluster.tls.server.name";
pub(crate) const CLUSTER_KEYS: &[&str] = &[
    STRAIT_CLUSTER_NODE_ID,
    STRAIT_CLUSTER_DATA_DIR,
    STRAIT_CLUSTER_LISTEN,
    STRAIT_CLUSTER_ADVERTISE,
    STRAIT_CLUSTER_PEERS,
    STRAIT_CLUSTER_JOIN,
    STRAIT_CLUSTER_ID,
    STRAIT_CLUSTER_LIVENESS_TIMEOUT,
    STRAIT_CLUSTER_POSITION_INTERVAL,
    STRAIT_CLUSTER_CONTROL_TOKEN,
    STRAIT_CLUSTER_HEALTH_LISTEN,
    STRAIT_CLUSTER_TLS_CERT,
    STRAIT_CLUSTER_TLS_KEY,
    STRAIT_CLUSTER_TLS_CA,
    STRAIT_CLUSTER_TLS_REQUIRE_CLIENT_CERT,
    STRAIT_CLUSTER_TLS_SERVER_NAME,
];

/// The per-flow keys (file level or `A->B.`): MirrorMaker 2's and Strait's own (`strait.*`), from
/// the settings table (module `schema`).
pub(crate) use crate::schema::{FLOW_KEYS, PAIR_HEARTBEAT_KEYS};

/// Kafka Connect's worker setting that turns exactly-once on (`enabled`) for the flows writing to
/// a cluster (`B.exactly.once.source.support`); Strait reads it at the file level and per flow too.
/// A row of the settings table.
pub(crate) const EXACTLY_ONCE_SOURCE_SUPPORT: &str = "exactly.once.source.support";
/// Kafka Connect's connector setting (`requested` / `required`) that checks a connector runs
/// exactly-once: read by hand (file level or per flow).
pub(crate) const EXACTLY_ONCE_SUPPORT: &str = "exactly.once.support";

/// Every `strait.*` key (for the message about an unknown one): node, cluster and flow settings.
pub(crate) fn strait_keys() -> Vec<&'static str> {
    NODE_KEYS
        .iter()
        .chain(CLUSTER_KEYS)
        .chain(FLOW_KEYS)
        .copied()
        .filter(|key| key.starts_with("strait."))
        .collect()
}

/// MirrorMaker 2 (and Connect worker) settings recognised but not acted on: recorded with
/// [`NOT_IMPLEMENTED`].
const NOT_IMPLEMENTED_KEYS: &[&str] = &[
    "add.source.alias.to.metrics",
    "admin.timeout.ms",
    "config.action.reload",
    "config.property.filter.class",
    "config.providers",
    "connector.class",
    "connector.plugin.version",
    "consumer.poll.timeout.ms",
    "dedicated.mode.enable.internal.rest",
    "forwarding.admin.class",
    "group.filter.class",
    "header.converter",
    "heartbeats.replication.enabled",
    "key.converter",
    "metric.names.formats",
    "name",
    "offset.flush.interval.ms",
    "offset.flush.timeout.ms",
    "predicates",
    "replication.policy.internal.topic.separator.enabled",
    "scheduled.rebalance.max.delay.ms",
    "sync.topic.configs.interval.seconds",
    "tasks.max",
    "tasks.max.enforce",
    "topic.filter.class",
    "transaction.boundary",
    "transforms",
    "use.incremental.alter.configs",
    "value.converter",
];

/// Prefixes of recognised, not implemented settings (checked before the client prefixes, so
/// `producer.override.*` is not taken for a producer property).
const NOT_IMPLEMENTED_PREFIXES: &[&str] = &[
    "admin.override.",
    "checkpoints.topic.",
    "config.providers.",
    "config.storage.",
    "consumer.override.",
    "emit.checkpoints.",
    "emit.heartbeats.",
    "emit.offset-syncs.",
    "errors.",
    "exactly.once.",
    "header.converter.",
    "heartbeats.topic.",
    "key.converter.",
    "offset-syncs.",
    "offset.storage.",
    "predicates.",
    "refresh.groups.",
    "source.cluster.",
    "status.storage.",
    "sync.group.offsets.",
    "sync.topic.acls.",
    "target.cluster.",
    "transforms.",
    "value.converter.",
];

/// Whether `key` (without any cluster or flow prefix) is a MirrorMaker 2 setting Strait does not
/// act on yet.
pub(crate) fn is_not_implemented(key: &str) -> bool {
    NOT_IMPLEMENTED_KEYS.contains(&key)
        || NOT_IMPLEMENTED_PREFIXES
            .iter()
            .any(|prefix| key.starts_with(prefix))
}

/// The per-flow setting `key` misspells, when it is under a prefix of settings Strait does not act
/// on (`emit.heartbeats.enbled`) without being one MirrorMaker 2 knows.
pub(crate) fn misspelt_flow_key(key: &str) -> Option<&'static str> {
    if FLOW_KEYS.contains(&key)
        || NOT_IMPLEMENTED_KEYS.contains(&key)
        || key == EXACTLY_ONCE_SUPPORT
    {
        return None;
    }
    let known = FLOW_KEYS.iter().copied().chain([EXACTLY_ONCE_SUPPORT]);
    crate::suggest::closest(key, known)
}

/// Every key known without a prefix at file level (for "did you mean").
pub(crate) fn file_level_keys() -> impl Iterator<Item = &'static str> + Clone {
    ["clusters", "bootstrap.servers", "security.protocol"]
        .into_iter()
        .chain(FLOW_KEYS.iter().copied())
        .chain([EXACTLY_ONCE_SUPPORT])
        .chain(NODE_KEYS.iter().copied())
        .chain(CLUSTER_KEYS.iter().copied())
        .chain(NOT_IMPLEMENTED_KEYS.iter().copied())
}

/// Every key known after a flow's `A->B.` (for "did you mean").
pub(crate) fn flow_level_keys() -> impl Iterator<Item = &'static str> + Clone {
    std::iter::once("enabled")
        .chain(FLOW_KEYS.iter().copied())
        .chain([EXACTLY_ONCE_SUPPORT])
        .chain(NOT_IMPLEMENTED_KEYS.iter().copied())
}

/// The client-type scopes of file-level and per-flow keys (`consumer.`, `source.admin.`...).
pub(crate) fn client_scope_prefixes() -> Vec<&'static str> {
    CLIENT_SCOPES.iter().map(|(prefix, _)| *prefix).collect()
}

/// The client-type scopes of a cluster's keys (`A.consumer.*`...).
pub(crate) const CLUSTER_CLIENT_PREFIXES: &[&str] = &["consumer.", "producer.", "admin."];

/// Client-type scopes of file-level and per-flow keys, and which of a flow's clients each reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ClientScope {
    /// `consumer.*`: the source consumer.
    Consumer,
    /// `source.consumer.*`: the source consumer (applied after `consumer.*`).
    SourceConsumer,
    /// `producer.*`: the target producer.
    Producer,
    /// `target.producer.*`: the target producer (applied after `producer.*`).
    TargetProducer,
    /// `producer.override.*`: Kafka Connect's connector-level override of the target producer
    /// (applied last, as Connect applies it over the worker's `producer.*`).
    ProducerOverride,
    /// `admin.*`: both admin clients.
    Admin,
    /// `source.admin.*`.
    SourceAdmin,
    /// `target.admin.*`.
    TargetAdmin,
}

const CLIENT_SCOPES: &[(&str, ClientScope)] = &[
    ("consumer.", ClientScope::Consumer),
    ("source.consumer.", ClientScope::SourceConsumer),
    // Before `producer.`, which would take `override.<p>` for a property name.
    ("producer.override.", ClientScope::ProducerOverride),
    ("producer.", ClientScope::Producer),
    ("target.producer.", ClientScope::TargetProducer),
    ("admin.", ClientScope::Admin),
    ("source.admin.", ClientScope::SourceAdmin),
    ("target.admin.", ClientScope::TargetAdmin),
];

/// Layers of a flow's clients, lowest first, among the scopes of one level (file or flow).
pub(crate) const CONSUMER_LAYERS: &[ClientScope] =
    &[ClientScope::Consumer, ClientScope::SourceConsumer];
pub(crate) const PRODUCER_LAYERS: &[ClientScope] = &[
    ClientScope::Producer,
    ClientScope::TargetProducer,
    ClientScope::ProducerOverride,
];
pub(crate) const SOURCE_ADMIN_LAYERS: &[ClientScope] =
    &[ClientScope::Admin, ClientScope::SourceAdmin];
pub(crate) const TARGET_ADMIN_LAYERS: &[ClientScope] =
    &[ClientScope::Admin, ClientScope::TargetAdmin];

/// `consumer.fetch.min.bytes` → (Consumer, `fetch.min.bytes`).
pub(crate) fn client_scope(key: &str) -> Option<(ClientScope, &str)> {
    CLIENT_SCOPES.iter().find_map(|(prefix, scope)| {
        key.strip_prefix(prefix)
            .filter(|name| !name.is_empty())
            .map(|name| (*scope, name))
    })
}

/// The client properties MirrorMaker 2 applies to every cluster when set without a prefix
/// (its `CLIENT_CONFIG_DEF`: security protocol, SSL and SASL settings).
pub(crate) fn is_cluster_wide_client_key(key: &str) -> bool {
    key == "security.protocol" || key.starts_with("ssl.") || key.starts_with("sasl.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognised_settings() {
        for key in [
            "tasks.max",
            "offset.storage.replication.factor",
            "refresh.groups.interval.seconds",
            "consumer.poll.timeout.ms",
            "key.converter.schemas.enable",
        ] {
            assert!(is_not_implemented(key), "{key}");
        }
        for key in [
            "topics",
            "groups",
            "offset.lag.max",
            "replication.factor",
            "consumer.fetch.min.bytes",
            "linger.ms",
        ] {
            assert!(!is_not_implemented(key), "{key}");
        }
    }

    #[test]
    fn client_scopes() {
        assert_eq!(
            client_scope("consumer.fetch.min.bytes"),
            Some((ClientScope::Consumer, "fetch.min.bytes"))
        );
        assert_eq!(
            client_scope("source.consumer.isolation.level"),
            Some((ClientScope::SourceConsumer, "isolation.level"))
        );
        assert_eq!(
            client_scope("target.admin.request.timeout.ms"),
            Some((ClientScope::TargetAdmin, "request.timeout.ms"))
        );
        assert_eq!(
            client_scope("producer.override.compression.type"),
            Some((ClientScope::ProducerOverride, "compression.type"))
        );
        assert_eq!(client_scope("consumer."), None);
        assert_eq!(client_scope("topics"), None);
    }
}
