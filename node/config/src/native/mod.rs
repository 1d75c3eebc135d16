//! Strait's native TOML format → [`Settings`], loaded with the `config` crate, every key
//! overridable from the environment (see [`crate::env`]).
//!
//! ```toml
//! [node]
//! data_dir = "strait-data"            # relative: to this file's directory (default strait-data
//!                                     # there); or in [cluster]
//! log_format = "text"                 # text | json
//! progress_interval_secs = 5          # 0 = off
//! metrics_listen = "127.0.0.1:9464"   # IP:PORT of the Prometheus endpoint; default: none
//! offset_trim_interval_secs = 60      # drop local offset runs below the source's log start;
//!                                     # default 60, at least 1
//! shutdown_handover_timeout_secs = 10 # on SIGTERM, hand the partitions to the other nodes for at
//!                                     # most this long, then drain; default 10, 0 to 600 (0: off)
//!
//! [cluster]                           # this node's place in the Strait cluster (Raft group)
//! node_id = 1                         # default 1; required with several peers or join
//! # data_dir = "/var/lib/strait"      # the same as [node] data_dir: set either (or both, equal)
//! listen = "0.0.0.0:7070"             # IP:PORT; default 0.0.0.0:<port of this node's address>,
//!                                     # else 127.0.0.1:7070
//! advertise = "10.0.0.1:7070"         # HOST:PORT; default: this node's peer address, else listen
//! peers = ["1@10.0.0.1:7070", "2@10.0.0.2:7070", "3@10.0.0.3:7070"]  # initial voters; [] = alone
//! # join = "10.0.0.1:7070"            # instead of peers: enter a running cluster through a member
//! cluster_id = "strait"               # default strait
//! liveness_timeout_ms = 3000          # default 3000, at least 500
//! position_interval_ms = 1000         # default 1000, at least 100
//! # control_token = "..."             # bearer token required by the control API; default none
//! # health_listen = "0.0.0.0:7080"    # plaintext grpc.health.v1 only (probes); default none
//!
//! # [cluster.tls]                     # TLS on the cluster port and to other nodes; default off
//! # cert = "/etc/strait/tls/tls.crt"  # this node's certificate chain (PEM); SANs: its address
//! # key = "/etc/strait/tls/tls.key"   # its private key (PEM)
//! # ca = "/etc/strait/tls/ca.crt"     # CA bundle peers' and clients' certificates are checked against
//! # require_client_cert = true        # mutual TLS (default true)
//! # server_name = "strait.internal"   # check peers' certificates for this name; default: their host
//!
//! [clusters.A]
//! bootstrap_servers = "127.0.0.1:19092"   # required for clusters used by an enabled flow
//! [clusters.A.client]                     # librdkafka properties for every client of A
//! "security.protocol" = "plaintext"       # values: strings, integers or booleans
//! [clusters.A.consumer]                   # ... for consumers of A only
//! [clusters.A.producer]                   # ... producers
//! [clusters.A.admin]                      # ... admin clients
//!
//! [flows.a_to_b]                 # any name; without source/target the name must be "A->B"
//! source = "A"
//! target = "B"
//! enabled = true                 # default true
//! topics = [".*"]                # lists of regexes (or one comma-separated string)
//! topics_exclude = [".*[\\-\\.]internal", ".*\\.replica", "__.*"]
//! replication_policy = "default" # default | identity
//! replication_policy_separator = "."
//! replication_factor = 3         # default: the target broker's default
//! sync_topic_configs = true
//! config_properties_exclude = ["min\\.insync\\.replicas"]
//! refresh_topics_enabled = true
//! refresh_topics_interval_secs = 10
//! max_in_flight_records = 100000
//! max_in_flight_bytes = 67108864
//! position_flush_interval_ms = 100
//! exactly_once = false           # default false (at-least-once); see FlowSettings::exactly_once
//! transaction_interval_ms = 200  # exactly-once: commit every N ms (default 200, at least 10)
//! transaction_timeout_ms = 60000 # exactly-once: transaction.timeout.ms (interval to 900000)
//! transactional_id_prefix = "strait"  # exactly-once: start of every transactional id
//! emit_heartbeats_enabled = true       # MirrorMaker 2's fail-over settings, default as there
//! emit_heartbeats_interval_secs = 1
//! [flows.a_to_b.consumer]        # this flow's source consumer
//! [flows.a_to_b.producer]        # its target producer
//! [flows.a_to_b.source_admin]    # its admin clients
//! [flows.a_to_b.target_admin]
//!
//! [flows."B->A"]                 # a disabled flow: only its heartbeats settings apply
//! enabled = false
//! emit_heartbeats_enabled = false
//! ```
//!
//! Every ordered pair of clusters without an enabled flow gets heartbeats, as in MirrorMaker 2
//! ([`crate::PairHeartbeats`]): every `emit_heartbeats_interval_secs` (default 1) a record to
//! `heartbeats` on the target, unless the pair's table (`enabled = false`) sets
//! `emit_heartbeats_enabled = false`; it may also set `emit_heartbeats_interval_secs`,
//! `heartbeats_topic_replication_factor` and a `target_admin` table.
//!
//! The `[cluster]` rules and defaults are [`ClusterMembership`]'s (module `membership`). `peers`
//! may also be one comma-separated string (`STRAIT__CLUSTER__PEERS=1@a:7070,2@b:7070`).
//!
//! Unknown fields are errors. Every error names the key and its line, or the environment variable
//! that set it (module `origins`). Client properties are librdkafka names, passed through unchanged (no
//! Java translation); a flow's client gets its cluster's `client`, then its type table, then the
//! flow's table (later wins), and `bootstrap.servers` from `bootstrap_servers`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use config::{Config, File, FileFormat, Source};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use strait_coordinator::{ClusterAlias, FlowId};

use crate::assemble::{
    self, flow_settings, parse_policy, split_list, FlowClients, FlowValues, Mm2Values, Sourced,
    EXPECT_POLICY, EXPECT_SEPARATOR,
};
use crate::client_props::{is_secret, shown_value};
use crate::env;
use crate::error::{ConfigError, Location};
use crate::membership::{self, MembershipKeys, MembershipValues};
use crate::model::{
    ClientOrigins, ClientProps, ClusterMembership, ClusterSettings, IgnoredKey, NodeSettings,
    PropertyOrigin, PropertyOrigins, Settings,
};
use crate::schema::{codec, flow_table, node_table, Codec, NodeValues};
use crate::suggest;

mod origins;

use origins::Origins;

/// How `[cluster]` keys are named in messages.
const MEMBERSHIP_KEYS: MembershipKeys = MembershipKeys {
    node_id: "cluster.node_id",
    advertise: "cluster.advertise",
    listen: "cluster.listen",
    cluster_id: "cluster.cluster_id",
    tls_cert: "cluster.tls.cert",
    tls_key: "cluster.tls.key",
    tls_ca: "cluster.tls.ca",
    node_id_hint: "; it can come from the environment (STRAIT__CLUSTER__NODE_ID)",
};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    node: RawNode,
    #[serde(default)]
    cluster: RawMembership,
    #[serde(default)]
    clusters: BTreeMap<String, RawCluster>,
    #[serde(default)]
    flows: BTreeMap<String, RawFlow>,
}

/// `[node]`: its fields are the node settings table's (module `schema`).
macro_rules! raw_node {
    (
        fields [$(($field:ident: $raw:ty))*]
        keys [$($keys:tt)*]
        node [$(($f:ident, $c:ty, $d:expr, $t:ident, $k:literal, $label:literal, $show:expr))*]
    ) => {
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct RawNode {
            $($field: Option<$raw>,)*
        }

        impl Assembler<'_> {
            /// The table's node settings `[node]` sets, each checked by its codec, in the
            /// table's order.
            fn node_values(&self, raw: &RawNode) -> Result<NodeValues, ConfigError> {
                Ok(NodeValues {
                    $($f: self.setting::<$c>(&["node", stringify!($t)], raw.$t.clone())?,)*
                })
            }
        }
    };
}

node_table!(raw_node);

/// `[cluster]`: this node in the Strait cluster (not a Kafka cluster: those are `[clusters.*]`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMembership {
    node_id: Option<i64>,
    /// The same setting as `[node] data_dir` (either may be set).
    data_dir: Option<PathBuf>,
    listen: Option<String>,
    advertise: Option<String>,
    peers: Option<PeerList>,
    join: Option<String>,
    cluster_id: Option<String>,
    liveness_timeout_ms: Option<i64>,
    position_interval_ms: Option<i64>,
    control_token: Option<String>,
    health_listen: Option<String>,
    tls: Option<RawTls>,
}

/// `[cluster.tls]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: Option<String>,
    key: Option<String>,
    ca: Option<String>,
    require_client_cert: Option<bool>,
    server_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCluster {
    bootstrap_servers: Option<String>,
    #[serde(default)]
    client: BTreeMap<String, PropValue>,
    #[serde(default)]
    consumer: BTreeMap<String, PropValue>,
    #[serde(default)]
    producer: BTreeMap<String, PropValue>,
    #[serde(default)]
    admin: BTreeMap<String, PropValue>,
}

/// `[flows.<name>]`: its fields are the settings table's (module `schema`), between the flow's
/// clusters and its client tables.
macro_rules! raw_flow {
    (
        fields [$(($field:ident: $raw:ty))*]
        keys [$($key:literal)*]
        flow [$(($ff:ident, $fc:ty, $fd:expr, $ft:ident, $fk:literal))*]
        mm2 [$(($mf:ident, $mc:ty, $md:expr, $mt:ident, $mk:literal))*]
        pair [$(($pf:ident, $pc:ty, $pd:expr, $pt:ident, $pk:literal))*]
    ) => {
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct RawFlow {
            source: Option<String>,
            target: Option<String>,
            enabled: Option<bool>,
            $($field: Option<$raw>,)*
            #[serde(default)]
            consumer: BTreeMap<String, PropValue>,
            #[serde(default)]
            producer: BTreeMap<String, PropValue>,
            #[serde(default)]
            source_admin: BTreeMap<String, PropValue>,
            #[serde(default)]
            target_admin: BTreeMap<String, PropValue>,
        }

        impl RawFlow {
            /// Whether the table sets anything a disabled flow does not use (all but its
            /// heartbeat settings and `target_admin`).
            fn sets_more_than_heartbeats(&self) -> bool {
                let pair = [$(stringify!($pt)),*];
                let set = [$((stringify!($field), self.$field.is_some())),*];
                set.iter().any(|(field, set)| *set && !pair.contains(field))
                    || !self.consumer.is_empty()
                    || !self.producer.is_empty()
                    || !self.source_admin.is_empty()
            }
        }

        impl Assembler<'_> {
            /// The table's settings a flow's table sets, each checked by its codec.
            fn settings(
                &self,
                name: &str,
                flow: &RawFlow,
                values: &mut FlowValues,
            ) -> Result<(), ConfigError> {
                $(values.$ff =
                    self.setting::<$fc>(&["flows", name, stringify!($ft)], flow.$ft.clone())?;)*
                $(values.mm2.$mf =
                    self.setting::<$mc>(&["flows", name, stringify!($mt)], flow.$mt.clone())?;)*
                let set = [
                    $((stringify!($ff), stringify!($ft), flow.$ft.is_some()),)*
                    $((stringify!($mf), stringify!($mt), flow.$mt.is_some()),)*
                ];
                for (field, key, _) in set.into_iter().filter(|(_, _, set)| *set) {
                    values.set_at.insert(field, self.sourced(&["flows", name, key], ()));
                }
                Ok(())
            }

            /// The heartbeat settings of a disabled flow's table, the only ones read there.
            fn pair_values(&self, name: &str, flow: &RawFlow) -> Result<Mm2Values, ConfigError> {
                let mut values = Mm2Values::default();
                $(values.$pf =
                    self.setting::<$pc>(&["flows", name, stringify!($pt)], flow.$pt.clone())?;)*
                Ok(values)
            }
        }
    };
}

flow_table!(raw_flow);

/// A librdkafka property value: TOML strings, integers, floats and booleans are all accepted.
#[derive(Debug, Clone, PartialEq)]
struct PropValue(String);

impl<'de> Deserialize<'de> for PropValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = PropValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, a number or a boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PropValue, E> {
                Ok(PropValue(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PropValue, E> {
                Ok(PropValue(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<PropValue, E> {
                Ok(PropValue(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<PropValue, E> {
                Ok(PropValue(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<PropValue, E> {
                Ok(PropValue(v.to_string()))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A list of regexes: a TOML array, or one comma-separated string (as environment overrides and
/// `mm2.properties` write them).
#[derive(Debug, Clone, PartialEq)]
struct Patterns(Vec<String>);

impl<'de> Deserialize<'de> for Patterns {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(ListVisitor(
                "a list of regular expressions, or a comma-separated string",
            ))
            .map(Patterns)
    }
}

/// `ID@HOST:PORT` strings: a TOML array, or one comma-separated string.
#[derive(Debug, Clone, PartialEq)]
struct PeerList(Vec<String>);

impl<'de> Deserialize<'de> for PeerList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(ListVisitor(
                "a list of \"ID@HOST:PORT\" strings, or a comma-separated string",
            ))
            .map(PeerList)
    }
}

/// A list of strings, or one comma-separated string; the argument says what is expected.
struct ListVisitor(&'static str);

impl<'de> Visitor<'de> for ListVisitor {
    type Value = Vec<String>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<String>, E> {
        Ok(split_list(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<String>()? {
            items.push(item);
        }
        Ok(items)
    }
}

/// Reads a TOML file's text with environment overrides from `env` (the process environment when
/// `None`).
pub(crate) fn parse(
    file: &Path,
    text: &str,
    env: Option<HashMap<String, String>>,
) -> Result<Settings, ConfigError> {
    let toml_error = |cause| ConfigError::Toml {
        file: file.to_path_buf(),
        cause,
    };
    let mut origins = Origins::parse(text).map_err(|e| ConfigError::Syntax {
        at: Location::new(file, Some(e.line)),
        reason: format!("invalid TOML: {}", e.reason),
    })?;
    let source = File::from_str(text, FileFormat::Toml);
    let file_tree = source.collect().map_err(toml_error)?;
    let overrides = env::overrides(file, &file_tree, env)?;
    for (path, variable) in overrides.variables() {
        origins.set_by_variable(path.clone(), variable.clone());
    }
    let assembler = Assembler {
        file,
        origins,
        ignored: Vec::new(),
    };
    let raw: RawFile = Config::builder()
        .add_source(source)
        .add_source(overrides)
        .build()
        .and_then(Config::try_deserialize)
        .map_err(|cause| assembler.config_error(cause))?;
    assembler.assemble(raw)
}

/// `a.b.c`, as keys are named in messages.
fn dotted(path: &[&str]) -> String {
    path.join(".")
}

/// What a type error found, in TOML's words, from serde's or the `config` crate's description
/// (`64-bit integer `3``, `string "x"`, `sequence`...); a secret value is not shown.
fn found(description: &str, secret: bool) -> String {
    let text = description
        .replace("64-bit ", "")
        .replace("128-bit ", "")
        .replace("unsigned ", "")
        .replace("floating point", "float")
        .replace('`', "");
    match text.as_str() {
        "sequence" => return "an array".to_owned(),
        "map" => return "a table".to_owned(),
        "unit value" => return "nothing".to_owned(),
        _ => {}
    }
    match text.split_once(' ') {
        Some((kind, _)) if secret => format!("a {kind}"),
        _ => text,
    }
}

struct Assembler<'f> {
    file: &'f Path,
    origins: Origins,
    ignored: Vec<IgnoredKey>,
}

impl<'f> Assembler<'f> {
    /// The file alone, for problems no key stands for.
    fn at_file(&self) -> Location {
        Location::new(self.file, None)
    }

    /// Where the key at `path` was set.
    fn at(&self, path: &[&str]) -> Location {
        Location::at(self.file, self.origins.place(path))
    }

    /// A value and where it was set, for messages.
    fn sourced<T>(&self, path: &[&str], value: T) -> Sourced<T> {
        Sourced {
            value,
            key: dotted(path),
            place: self.origins.place(path),
        }
    }

    /// A key Strait reads and does not use.
    fn ignore(&mut self, path: &[&str], key: String, reason: String) {
        let line = self.origins.place(path).line_number();
        self.ignored.push(IgnoredKey { key, line, reason });
    }

    /// A value that does not parse (a secret one is not shown).
    fn invalid(&self, path: &[&str], value: impl fmt::Display, expected: &str) -> ConfigError {
        let name = path.last().copied().unwrap_or_default();
        ConfigError::InvalidValue {
            at: self.at(path),
            key: dotted(path),
            value: shown_value(name, &value.to_string()),
            expected: expected.to_owned(),
        }
    }

    fn number<T>(
        &self,
        path: &[&str],
        value: Option<i64>,
        check: fn(i64) -> Result<T, &'static str>,
    ) -> Result<Option<T>, ConfigError> {
        value
            .map(|n| check(n).map_err(|expected| self.invalid(path, n, expected)))
            .transpose()
    }

    /// An error of the `config` crate deserializing the file and its overrides, with the key's
    /// place: a value of the wrong type, or an unknown key.
    fn config_error(&self, cause: config::ConfigError) -> ConfigError {
        let (key, inner) = match &cause {
            config::ConfigError::Type {
                unexpected,
                expected,
                key: Some(key),
                ..
            } => {
                let path = self.origins.path_of(key);
                let path: Vec<&str> = path.iter().map(String::as_str).collect();
                let secret = path.last().is_some_and(|name| is_secret(name));
                return ConfigError::WrongType {
                    at: self.at(&path),
                    key: dotted(&path),
                    found: found(&unexpected.to_string(), secret),
                    expected: (*expected).to_owned(),
                };
            }
            config::ConfigError::At { error, key, .. } => (key.as_deref(), error.as_ref()),
            other => (None, other),
        };
        let config::ConfigError::Message(message) = inner else {
            return ConfigError::Toml {
                file: self.file.to_path_buf(),
                cause,
            };
        };
        let mut path = key.map(|k| self.origins.path_of(k)).unwrap_or_default();
        if let Some(rest) = message.strip_prefix("unknown field `") {
            let Some((field, rest)) = rest.split_once('`') else {
                return ConfigError::Toml {
                    file: self.file.to_path_buf(),
                    cause,
                };
            };
            // serde lists the fields it expected: ", expected one of `a`, `b`" (or "`a` or `b`").
            let expected = rest.split('`').skip(1).step_by(2);
            let suggestion = suggest::closest(field, expected).map(|known| {
                let mut corrected: Vec<&str> = path.iter().map(String::as_str).collect();
                corrected.push(known);
                dotted(&corrected)
            });
            path.push(field.to_owned());
            let path: Vec<&str> = path.iter().map(String::as_str).collect();
            let reason = match suggestion {
                Some(suggestion) => format!("unknown key: did you mean `{suggestion}`?"),
                None => format!("unknown key{rest}"),
            };
            return ConfigError::InvalidKey {
                at: self.at(&path),
                key: dotted(&path),
                reason,
            };
        }
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        // serde's "invalid type: integer `3`, expected a list of ...", from our own visitors.
        let kind = message
            .strip_prefix("invalid type: ")
            .or_else(|| message.strip_prefix("invalid value: "))
            .and_then(|rest| rest.split_once(", expected "));
        match kind {
            Some((what, expected)) if !path.is_empty() => {
                let secret = path.last().is_some_and(|name| is_secret(name));
                ConfigError::WrongType {
                    at: self.at(&path),
                    key: dotted(&path),
                    found: found(what, secret),
                    expected: expected.to_owned(),
                }
            }
            _ if !path.is_empty() => ConfigError::InvalidKey {
                at: self.at(&path),
                key: dotted(&path),
                reason: message.clone(),
            },
            _ => ConfigError::Toml {
                file: self.file.to_path_buf(),
                cause,
            },
        }
    }

    fn assemble(mut self, mut raw: RawFile) -> Result<Settings, ConfigError> {
        let cluster_data_dir = raw.cluster.data_dir.take();
        let node = self.node(raw.node, cluster_data_dir)?;
        let (cluster, warnings) = self.membership(raw.cluster)?;

        let mut flows_by_id: BTreeMap<FlowId, (String, RawFlow)> = BTreeMap::new();
        for (name, flow) in raw.flows {
            let id = self.flow_id(&name, &flow, &raw.clusters)?;
            if let Some((other, _)) = flows_by_id.get(&id) {
                return Err(ConfigError::InvalidKey {
                    at: self.at(&["flows", &name]),
                    key: format!("flows.{name}"),
                    reason: format!("flow {id} is already defined by [flows.{other}]"),
                });
            }
            flows_by_id.insert(id, (name, flow));
        }
        let mut enabled = Vec::new();
        let mut disabled = BTreeMap::new();
        for (id, (name, flow)) in flows_by_id {
            if flow.enabled.unwrap_or(true) {
                enabled.push((id, name, flow));
            } else {
                if flow.sets_more_than_heartbeats() {
                    self.ignore(
                        &["flows", &name, "enabled"],
                        format!("flows.{name}"),
                        format!(
                            "flow {id} is disabled (enabled = false): only its heartbeat settings \
                             apply"
                        ),
                    );
                }
                disabled.insert(id, (name, flow));
            }
        }
        if enabled.is_empty() {
            return Err(ConfigError::NoEnabledFlow {
                at: self.at_file(),
                hint: "add a [flows.<name>] table with source and target (flows are enabled by \
                       default), e.g. [flows.a_to_b] source = \"A\" target = \"B\""
                    .to_owned(),
            });
        }
        for (id, _, _) in &enabled {
            for alias in [&id.source, &id.target] {
                let has_bootstrap = raw
                    .clusters
                    .get(alias.as_str())
                    .and_then(|c| c.bootstrap_servers.as_deref())
                    .and_then(assemble::bootstrap_servers)
                    .is_some();
                if !has_bootstrap {
                    return Err(ConfigError::MissingBootstrap {
                        at: self.at(&["clusters", alias.as_str(), "bootstrap_servers"]),
                        cluster: alias.to_string(),
                        key: format!("clusters.{alias}.bootstrap_servers"),
                        flow: id.to_string(),
                    });
                }
            }
        }

        let mut clusters = BTreeMap::new();
        for (name, raw_cluster) in &raw.clusters {
            let alias = self.alias(name)?;
            let bootstrap = raw_cluster
                .bootstrap_servers
                .as_deref()
                .and_then(assemble::bootstrap_servers);
            let Some(bootstrap_servers) = bootstrap else {
                self.ignore(
                    &["clusters", name],
                    format!("clusters.{name}"),
                    format!(
                        "cluster {name} has no bootstrap_servers and no enabled flow uses it: left out"
                    ),
                );
                continue;
            };
            let table = |t: &'static str| ["clusters", name.as_str(), t];
            let settings = ClusterSettings {
                alias: alias.clone(),
                bootstrap_servers,
                client: self.props(&table("client"), &raw_cluster.client),
                consumer: self.props(&table("consumer"), &raw_cluster.consumer),
                producer: self.props(&table("producer"), &raw_cluster.producer),
                admin: self.props(&table("admin"), &raw_cluster.admin),
            };
            clusters.insert(alias, settings);
        }

        let mut flows = Vec::new();
        for (id, name, flow) in enabled {
            let source = &clusters[&id.source];
            let target = &clusters[&id.target];
            let table = |t: &'static str| ["flows", name.as_str(), t];
            let flow_consumer = self.props(&table("consumer"), &flow.consumer);
            let flow_producer = self.props(&table("producer"), &flow.producer);
            let flow_source_admin = self.props(&table("source_admin"), &flow.source_admin);
            let flow_target_admin = self.props(&table("target_admin"), &flow.target_admin);
            let consumer = assemble::client_props(
                &source.bootstrap_servers,
                &[&source.client, &source.consumer, &flow_consumer],
            );
            let producer = assemble::client_props(
                &target.bootstrap_servers,
                &[&target.client, &target.producer, &flow_producer],
            );
            let source_admin = assemble::client_props(
                &source.bootstrap_servers,
                &[&source.client, &source.admin, &flow_source_admin],
            );
            let target_admin = assemble::client_props(
                &target.bootstrap_servers,
                &[&target.client, &target.admin, &flow_target_admin],
            );
            let (s, t) = (id.source.as_str(), id.target.as_str());
            let origins = ClientOrigins {
                consumer: self.origins(
                    &consumer,
                    s,
                    &[("clusters", s, "consumer"), ("flows", &name, "consumer")],
                ),
                producer: self.origins(
                    &producer,
                    t,
                    &[("clusters", t, "producer"), ("flows", &name, "producer")],
                ),
                source_admin: self.origins(
                    &source_admin,
                    s,
                    &[("clusters", s, "admin"), ("flows", &name, "source_admin")],
                ),
                target_admin: self.origins(
                    &target_admin,
                    t,
                    &[("clusters", t, "admin"), ("flows", &name, "target_admin")],
                ),
            };
            let clients = FlowClients {
                consumer,
                producer,
                source_admin,
                target_admin,
                origins,
            };
            let values = self.flow_values(&name, &flow)?;
            flows.push(flow_settings(self.file, id, values, clients)?);
        }

        let mut pair_heartbeats = Vec::new();
        for id in assemble::pairs_without_flow(clusters.keys(), &flows) {
            let target = &clusters[&id.target];
            let (values, flow_target_admin) = match disabled.remove(&id) {
                Some((name, flow)) => {
                    let admin = self.props(&["flows", &name, "target_admin"], &flow.target_admin);
                    (self.pair_values(&name, &flow)?, admin)
                }
                None => (Mm2Values::default(), ClientProps::new()),
            };
            let target_admin = assemble::client_props(
                &target.bootstrap_servers,
                &[&target.client, &target.admin, &flow_target_admin],
            );
            pair_heartbeats.push(assemble::pair_heartbeats(id, &values, target_admin));
        }
        // Disabled flows of a cluster without bootstrap servers: no heartbeats either.
        for (id, (name, _)) in disabled {
            self.ignore(
                &["flows", &name, "enabled"],
                format!("flows.{name}"),
                format!("flow {id} is disabled (enabled = false)"),
            );
        }

        Ok(Settings {
            file: self.file.to_path_buf(),
            node,
            cluster,
            clusters,
            flows,
            pair_heartbeats,
            ignored: assemble::tidy_ignored(self.ignored),
            warnings,
        })
    }

    /// `[node]`, and the data dir `[cluster]` may set instead.
    fn node(
        &self,
        raw: RawNode,
        cluster_data_dir: Option<PathBuf>,
    ) -> Result<NodeSettings, ConfigError> {
        let data_dir = |table, dir: Option<PathBuf>| {
            let path = [table, "data_dir"];
            match dir {
                Some(dir) if dir.as_os_str().is_empty() => {
                    Err(self.invalid(&path, "", assemble::EXPECT_DIRECTORY))
                }
                dir => Ok(dir.map(|dir| self.sourced(&path, dir))),
            }
        };
        let data_dir = assemble::data_dir(
            self.file,
            data_dir("node", raw.data_dir.clone())?,
            data_dir("cluster", cluster_data_dir)?,
        )?;
        Ok(self.node_values(&raw)?.into_settings(data_dir))
    }

    /// `[cluster]`: each value parsed, then the rules between them; and advice about them.
    fn membership(
        &self,
        raw: RawMembership,
    ) -> Result<(ClusterMembership, Vec<String>), ConfigError> {
        let peers = match raw.peers {
            None => None,
            Some(PeerList(items)) => Some(self.sourced(
                &["cluster", "peers"],
                membership::parse_peers(&items).map_err(|(item, expected)| {
                    self.invalid(&["cluster", "peers"], item, expected)
                })?,
            )),
        };
        let values = MembershipValues {
            node_id: self
                .number(&["cluster", "node_id"], raw.node_id, membership::node_id)?
                .map(|id| self.sourced(&["cluster", "node_id"], id)),
            listen: self.text("listen", raw.listen, membership::parse_listen)?,
            advertise: self.text("advertise", raw.advertise, membership::parse_address)?,
            peers,
            join: self.text("join", raw.join, membership::parse_address)?,
            cluster_id: self
                .text("cluster_id", raw.cluster_id, membership::parse_cluster_id)?
                .map(|s| s.value),
            liveness_timeout: self.number(
                &["cluster", "liveness_timeout_ms"],
                raw.liveness_timeout_ms,
                membership::liveness_timeout,
            )?,
            position_interval: self.number(
                &["cluster", "position_interval_ms"],
                raw.position_interval_ms,
                membership::position_interval,
            )?,
            control_token: self
                .text(
                    "control_token",
                    raw.control_token,
                    membership::parse_control_token,
                )?
                .map(|s| s.value),
            ..MembershipValues::default()
        };
        let tls = raw.tls.unwrap_or_default();
        let values = MembershipValues {
            health_listen: self
                .text("health_listen", raw.health_listen, membership::parse_listen)?
                .map(|s| s.value),
            tls_cert: self.tls_text("cert", tls.cert, membership::parse_pem_path)?,
            tls_key: self.tls_text("key", tls.key, membership::parse_pem_path)?,
            tls_ca: self.tls_text("ca", tls.ca, membership::parse_pem_path)?,
            tls_require_client_cert: tls.require_client_cert,
            tls_server_name: self
                .tls_text(
                    "server_name",
                    tls.server_name,
                    membership::parse_server_name,
                )?
                .map(|s| s.value),
            ..values
        };
        let warnings = membership::warnings(&values, &MEMBERSHIP_KEYS);
        let cluster = membership::membership(self.file, values, &MEMBERSHIP_KEYS)?;
        Ok((cluster, warnings))
    }

    /// A `[cluster.tls]` string value, parsed.
    fn tls_text<T>(
        &self,
        field: &str,
        value: Option<String>,
        parse: fn(&str) -> Result<T, &'static str>,
    ) -> Result<Option<Sourced<T>>, ConfigError> {
        self.parsed(&["cluster", "tls", field], value, parse)
    }

    /// A `[cluster]` string value, parsed.
    fn text<T>(
        &self,
        field: &str,
        value: Option<String>,
        parse: fn(&str) -> Result<T, &'static str>,
    ) -> Result<Option<Sourced<T>>, ConfigError> {
        self.parsed(&["cluster", field], value, parse)
    }

    /// The string value at `path`, parsed; an error names the key and where it was set.
    fn parsed<T>(
        &self,
        path: &[&str],
        value: Option<String>,
        parse: fn(&str) -> Result<T, &'static str>,
    ) -> Result<Option<Sourced<T>>, ConfigError> {
        value
            .map(|v| {
                parse(&v)
                    .map(|parsed| self.sourced(path, parsed))
                    .map_err(|expected| self.invalid(path, &v, expected))
            })
            .transpose()
    }

    fn alias(&self, name: &str) -> Result<ClusterAlias, ConfigError> {
        ClusterAlias::new(name).map_err(|e| ConfigError::InvalidKey {
            at: self.at(&["clusters", name]),
            key: format!("clusters.{name}"),
            reason: e.to_string(),
        })
    }

    /// `source`/`target`, or the table name read as `A->B`; both clusters must have a table.
    fn flow_id(
        &self,
        name: &str,
        flow: &RawFlow,
        clusters: &BTreeMap<String, RawCluster>,
    ) -> Result<FlowId, ConfigError> {
        let (source, target) = match (&flow.source, &flow.target) {
            (Some(source), Some(target)) => (source.clone(), target.clone()),
            (None, None) => match name.split_once("->") {
                Some((s, t)) => (s.trim().to_owned(), t.trim().to_owned()),
                None => {
                    return Err(ConfigError::InvalidKey {
                        at: self.at(&["flows", name]),
                        key: format!("flows.{name}"),
                        reason: "set source and target, or name the flow \"SOURCE->TARGET\" \
                                 ([flows.\"A->B\"])"
                            .to_owned(),
                    })
                }
            },
            (Some(_), None) | (None, Some(_)) => {
                let missing = if flow.source.is_none() {
                    "source"
                } else {
                    "target"
                };
                return Err(ConfigError::MissingKey {
                    at: self.at(&["flows", name]),
                    key: format!("flows.{name}.{missing}"),
                    hint: "a flow sets both source and target, or neither (then its name is \
                           \"SOURCE->TARGET\")"
                        .to_owned(),
                });
            }
        };
        let known = || {
            let names: Vec<&str> = clusters.keys().map(String::as_str).collect();
            format!("the [clusters.*] tables ({})", names.join(", "))
        };
        for (field, alias) in [("source", &source), ("target", &target)] {
            if !clusters.contains_key(alias) {
                let path = if flow.source.is_some() {
                    vec!["flows", name, field]
                } else {
                    vec!["flows", name]
                };
                return Err(ConfigError::UnknownCluster {
                    at: self.at(&path),
                    key: dotted(&path),
                    alias: alias.clone(),
                    defined: known(),
                });
            }
        }
        let source = self.alias(&source)?;
        let target = self.alias(&target)?;
        FlowId::new(source, target).map_err(|e| ConfigError::InvalidKey {
            at: self.at(&["flows", name]),
            key: format!("flows.{name}"),
            reason: e.to_string(),
        })
    }

    /// The librdkafka properties of the table at `table`, as written; `bootstrap.servers` there is
    /// recorded as ignored (it is the cluster's `bootstrap_servers`).
    fn props(&mut self, table: &[&str], raw: &BTreeMap<String, PropValue>) -> ClientProps {
        let mut props = ClientProps::new();
        for (name, PropValue(value)) in raw {
            if name == "bootstrap.servers" {
                let path: Vec<&str> = table.iter().copied().chain([name.as_str()]).collect();
                self.ignore(
                    &path,
                    format!("{}.\"{name}\"", dotted(table)),
                    "bootstrap servers are set with clusters.<alias>.bootstrap_servers".to_owned(),
                );
                continue;
            }
            props.insert(name.clone(), value.clone());
        }
        props
    }

    /// Where each of a flow client's `props` was set: `bootstrap.servers` by `cluster`'s
    /// `bootstrap_servers`, the others by the last of its `client` table and `tables` (lowest first)
    /// that has them.
    fn origins(
        &self,
        props: &ClientProps,
        cluster: &str,
        tables: &[(&str, &str, &str)],
    ) -> PropertyOrigins {
        let client = ("clusters", cluster, "client");
        let tables: Vec<[&str; 3]> = std::iter::once(client)
            .chain(tables.iter().copied())
            .map(|(a, b, c)| [a, b, c])
            .collect();
        props
            .keys()
            .map(|name| {
                let origin = if name == "bootstrap.servers" {
                    let path = ["clusters", cluster, "bootstrap_servers"];
                    PropertyOrigin {
                        key: dotted(&path),
                        at: self.at(&path),
                    }
                } else {
                    let table = tables
                        .iter()
                        .rev()
                        .find(|table| self.origins.has(&[table[0], table[1], table[2], name]))
                        .unwrap_or(&tables[0]);
                    PropertyOrigin {
                        key: format!("{}.\"{name}\"", dotted(table)),
                        at: self.at(&[table[0], table[1], table[2], name]),
                    }
                };
                (name.clone(), origin)
            })
            .collect()
    }

    fn flow_values(&self, name: &str, flow: &RawFlow) -> Result<FlowValues, ConfigError> {
        let path = |field| ["flows", name, field];
        let patterns = |field: &'static str, p: Option<Patterns>| {
            p.map(|Patterns(value)| self.sourced(&path(field), value))
        };
        let policy = match &flow.replication_policy {
            None => None,
            Some(p) => Some(
                parse_policy(p)
                    .ok_or_else(|| self.invalid(&path("replication_policy"), p, EXPECT_POLICY))?,
            ),
        };
        let separator = match flow.replication_policy_separator.clone() {
            Some(sep) if sep.is_empty() => {
                return Err(self.invalid(
                    &path("replication_policy_separator"),
                    "",
                    EXPECT_SEPARATOR,
                ))
            }
            other => other.map(|value| self.sourced(&path("replication_policy_separator"), value)),
        };
        let mut values = FlowValues {
            topics: patterns("topics", flow.topics.clone()),
            topics_exclude: patterns("topics_exclude", flow.topics_exclude.clone()),
            policy,
            separator,
            config_properties_exclude: patterns(
                "config_properties_exclude",
                flow.config_properties_exclude.clone(),
            ),
            mm2: Mm2Values {
                groups: patterns("groups", flow.groups.clone()),
                groups_exclude: patterns("groups_exclude", flow.groups_exclude.clone()),
                ..Mm2Values::default()
            },
            ..FlowValues::default()
        };
        self.settings(name, flow, &mut values)?;
        Ok(values)
    }

    /// A value of the settings table (module `schema`), checked by its codec; an error names
    /// the key and where it was set.
    fn setting<C: Codec>(
        &self,
        path: &[&str],
        raw: Option<C::Raw>,
    ) -> Result<Option<C::Value>, ConfigError> {
        raw.map(|raw| {
            let shown = raw.to_string();
            C::parse(raw).map_err(|expected| self.invalid(path, shown, expected))
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests;
