//! MirrorMaker 2's `mm2.properties` → [`Settings`], so an MM2 user's file runs unchanged.
//!
//! The file is read as Java reads it (see [`crate::properties`]; a repeated key: the last one wins,
//! values are trimmed). Then each key is one of:
//! - `clusters = A, B`: the aliases (required).
//! - `A.bootstrap.servers`; `A.<p>` a client property of every client of A; `A.consumer.<p>`,
//!   `A.producer.<p>`, `A.admin.<p>` for one client type.
//! - `A->B.<key>`: a flow. `A->B.enabled = true` turns it on (default false); any other flow key
//!   overrides the file-level `<key>` for that flow only. A flow naming a cluster not in `clusters`
//!   is an error. Every ordered pair of clusters without an enabled flow still gets heartbeats, as
//!   in MirrorMaker 2 ([`crate::PairHeartbeats`]): of a disabled `B->A.`, the keys
//!   `emit.heartbeats.enabled`, `emit.heartbeats.interval.seconds`,
//!   `heartbeats.topic.replication.factor`, `admin.*` and `target.admin.*` apply.
//! - file-level per-flow settings: `topics`, `topics.exclude` (legacy `topics.blacklist`),
//!   `replication.policy.class`, `replication.policy.separator`, `replication.factor`,
//!   `sync.topic.configs.enabled`, `config.properties.exclude` (legacy `config.properties.blacklist`),
//!   `refresh.topics.enabled`, `refresh.topics.interval.seconds`, and Strait's
//!   `strait.max.in.flight.records`, `strait.max.in.flight.bytes`,
//!   `strait.position.flush.interval.ms`, `strait.transaction.interval.ms`,
//!   `strait.transaction.timeout.ms`, `strait.transactional.id.prefix` (and the rest of the
//!   settings table of module `schema`).
//! - exactly-once: Kafka Connect's `exactly.once.source.support` (`enabled`, `preparing`,
//!   `disabled`), which MirrorMaker 2 reads per target cluster (`B.exactly.once.source.support`:
//!   the flows writing to B); Strait also reads it at the file level and per flow (a flow's own
//!   value, then its target cluster's, then the file level's), with a warning that MirrorMaker 2
//!   would not. `preparing` is listed as having no effect. A connector's `exactly.once.support =
//!   required` (file level or per flow) refuses a flow it covers that is not exactly-once;
//!   `requested` is listed as having no effect.
//! - Strait's node settings (file level only; the node settings table of module `schema`):
//!   `strait.data.dir` (or `strait.cluster.data.dir`), `strait.log.format`,
//!   `strait.progress.interval.seconds`, `strait.metrics.listen`,
//!   `strait.offset.trim.interval.seconds`, `strait.shutdown.handover.timeout.seconds`. Any other
//!   `strait.*` key is an error.
//! - Strait's cluster settings of the node (file level only; see
//!   [`crate::model::ClusterMembership`]): `strait.cluster.node.id`, `strait.cluster.listen`,
//!   `strait.cluster.advertise`, `strait.cluster.peers` (comma-separated `ID@HOST:PORT`),
//!   `strait.cluster.join`, `strait.cluster.id`, `strait.cluster.liveness.timeout.ms`,
//!   `strait.cluster.position.interval.ms`, `strait.cluster.control.token`,
//!   `strait.cluster.health.listen`, `strait.cluster.tls.*`.
//! - `STRAIT__*` environment variables override the file as they override a TOML file, with the
//!   same names and meaning (`STRAIT__CLUSTER__NODE_ID` sets `strait.cluster.node.id`,
//!   `STRAIT__CLUSTER__CONTROL_TOKEN` the control token...; module `env`); what has no
//!   `mm2.properties` key (`STRAIT__FLOWS__*`) is refused, naming the variable.
//! - file-level `security.protocol`, `ssl.*`, `sasl.*`: client properties of every cluster (below
//!   `A.<p>`), as MirrorMaker 2 does; a file-level `bootstrap.servers` is the fallback of clusters
//!   without their own.
//! - client-type scopes for every flow, or one flow with the `A->B.` prefix: `consumer.*` and
//!   `source.consumer.*` (source consumer), `producer.*`, `target.producer.*` and Kafka
//!   Connect's connector override `producer.override.*` (target producer, in that order),
//!   `admin.*` (both admins), `source.admin.*`, `target.admin.*`.
//! - MirrorMaker 2 settings Strait does not act on yet (ACL sync, internal topic settings,
//!   converters, `tasks.max`...) and unknown keys: recorded in [`Settings::ignored`] with the line
//!   and the reason, never dropped silently. An unknown key one or two edits away from a known one
//!   (`A->B.enabeld`, `replcation.factor`, `A->B.consumr.x`) is refused with the known key ("did
//!   you mean"), and so is a client property neither Java clients nor librdkafka know
//!   ([`unknown_client_property`]), as a TOML file's is.
//!
//! Client properties are Java names, translated to librdkafka by [`crate::client_props`]. A flow's
//! source consumer gets, later winning: file-level `security.protocol`/`ssl.*`/`sasl.*`, `A.<p>`,
//! `A.consumer.<p>`, file-level `consumer.<p>`, `source.consumer.<p>`, then `A->B.consumer.<p>`,
//! `A->B.source.consumer.<p>`, and `bootstrap.servers` from `A.bootstrap.servers`. The producer
//! and the admins are built the same way from their scopes.
//!
//! Where Strait differs from MirrorMaker 2's defaults: `replication.factor` unset means the target
//! broker's default (MM2: 2), `refresh.topics.interval.seconds` defaults to 10 (MM2: 600). Values
//! MirrorMaker 2 would silently read as `false` (`A->B.enabled = yes`) are errors here.

mod env;
mod keys;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use strait_coordinator::{ClusterAlias, FlowId};

use crate::assemble::{
    self, bootstrap_servers, check_patterns, flow_settings, parse_policy, split_list,
    ExactlyOnceSupport, FlowClients, FlowValues, Sourced, EXPECT_BOOL, EXPECT_POLICY,
    EXPECT_SEPARATOR,
};
use crate::client_props::{
    is_client_property, overlay, shown_value, translate, unknown_client_property, JavaProp,
    JavaProps,
};
use crate::error::{ConfigError, Location, Place};
use crate::membership::{self, MembershipKeys, MembershipValues};
use crate::model::{
    ClientOrigins, ClientProps, ClusterSettings, IgnoredKey, LogFormat, PropertyOrigin,
    PropertyOrigins, Settings,
};
use crate::properties;
use crate::schema::NodeValues;
use crate::suggest;
use env::ClientTable;
use keys::{
    client_scope, client_scope_prefixes, file_level_keys, flow_level_keys,
    is_cluster_wide_client_key, is_not_implemented, misspelt_flow_key, strait_keys, ClientScope,
    CLUSTER_CLIENT_PREFIXES, CLUSTER_KEYS, CONSUMER_LAYERS, EXACTLY_ONCE_SOURCE_SUPPORT,
    EXACTLY_ONCE_SUPPORT, FLOW_KEYS, NODE_KEYS, NOT_IMPLEMENTED, PAIR_HEARTBEAT_KEYS,
    PRODUCER_LAYERS, SOURCE_ADMIN_LAYERS, STRAIT_CLUSTER_ADVERTISE, STRAIT_CLUSTER_CONTROL_TOKEN,
    STRAIT_CLUSTER_DATA_DIR, STRAIT_CLUSTER_HEALTH_LISTEN, STRAIT_CLUSTER_ID, STRAIT_CLUSTER_JOIN,
    STRAIT_CLUSTER_LISTEN, STRAIT_CLUSTER_LIVENESS_TIMEOUT, STRAIT_CLUSTER_NODE_ID,
    STRAIT_CLUSTER_PEERS, STRAIT_CLUSTER_POSITION_INTERVAL, STRAIT_CLUSTER_TLS_CA,
    STRAIT_CLUSTER_TLS_CERT, STRAIT_CLUSTER_TLS_KEY, STRAIT_CLUSTER_TLS_REQUIRE_CLIENT_CERT,
    STRAIT_CLUSTER_TLS_SERVER_NAME, TARGET_ADMIN_LAYERS, UNKNOWN,
};

/// How the cluster keys are named in messages.
const MEMBERSHIP_KEYS: MembershipKeys = MembershipKeys {
    node_id: STRAIT_CLUSTER_NODE_ID,
    advertise: STRAIT_CLUSTER_ADVERTISE,
    listen: STRAIT_CLUSTER_LISTEN,
    cluster_id: STRAIT_CLUSTER_ID,
    tls_cert: STRAIT_CLUSTER_TLS_CERT,
    tls_key: STRAIT_CLUSTER_TLS_KEY,
    tls_ca: STRAIT_CLUSTER_TLS_CA,
    node_id_hint: "; it can come from the environment (STRAIT__CLUSTER__NODE_ID)",
};

/// Reads a whole `mm2.properties` file (`file` is for messages) with the `STRAIT__*` overrides of
/// `env` (the process environment when `None`; see module `env`).
pub(crate) fn parse(
    file: &Path,
    text: &str,
    env: Option<HashMap<String, String>>,
) -> Result<Settings, ConfigError> {
    Reader::new(file, text, env)?.finish()
}

/// One key of the file, or one a `STRAIT__*` variable sets; its value trimmed.
#[derive(Debug, Clone)]
struct Entry {
    key: String,
    value: String,
    /// Its line, or the variable.
    place: Place,
}

impl Entry {
    fn sourced<T>(&self, value: T) -> Sourced<T> {
        Sourced {
            value,
            key: self.key.clone(),
            place: self.place.clone(),
        }
    }

    fn java_prop(&self) -> JavaProp {
        JavaProp {
            value: self.value.clone(),
            key: self.key.clone(),
            place: self.place.clone(),
            librdkafka: false,
        }
    }

    /// Where it was set, for messages.
    fn at(&self, file: &Path) -> Location {
        Location::at(file, self.place.clone())
    }
}

/// What the file level, or one flow, sets for flows.
#[derive(Debug, Default)]
struct Scope {
    values: FlowValues,
    topics_blacklist: Option<Sourced<Vec<String>>>,
    groups_blacklist: Option<Sourced<Vec<String>>>,
    config_blacklist: Option<Sourced<Vec<String>>>,
    /// Kafka Connect's connector-level `exactly.once.support`.
    exactly_once_support: Option<Sourced<ExactlyOnceSupport>>,
    clients: BTreeMap<ClientScope, JavaProps>,
}

/// What the file sets for one cluster.
#[derive(Debug, Default)]
struct ClusterKeys {
    bootstrap: Option<Sourced<String>>,
    client: JavaProps,
    consumer: JavaProps,
    producer: JavaProps,
    admin: JavaProps,
}

/// A key of a flow, with the flow prefix removed (`rest`).
#[derive(Debug)]
struct FlowEntry {
    rest: String,
    entry: Entry,
}

enum Route {
    /// `A->B.<rest>`: the flow and where `rest` starts in the key.
    Flow(FlowId, usize),
    /// `A.<rest>`.
    Cluster(ClusterAlias, usize),
    File,
}

struct Reader<'f> {
    file: &'f Path,
    aliases: Vec<ClusterAlias>,
    clusters_line: usize,
    node: NodeValues,
    /// `strait.data.dir` and `strait.cluster.data.dir`, the same setting.
    data_dirs: [Option<Sourced<PathBuf>>; 2],
    cluster: MembershipValues,
    top: Scope,
    /// File-level `security.protocol`, `ssl.*`, `sasl.*`: every cluster's clients.
    common: JavaProps,
    /// File-level `bootstrap.servers`, for clusters without their own.
    fallback_bootstrap: Option<Sourced<String>>,
    clusters: BTreeMap<ClusterAlias, ClusterKeys>,
    /// What a cluster's keys set for the flows writing to it (`B.exactly.once.source.support`):
    /// below the flow's own keys, above the file level.
    targets: BTreeMap<ClusterAlias, Scope>,
    flows: BTreeMap<FlowId, Vec<FlowEntry>>,
    ignored: Vec<IgnoredKey>,
    /// Advice about valid settings (see [`Settings::warnings`]).
    warnings: Vec<String>,
}

impl<'f> Reader<'f> {
    fn new(
        file: &'f Path,
        text: &str,
        env: Option<HashMap<String, String>>,
    ) -> Result<Self, ConfigError> {
        let properties = properties::parse(text).map_err(|e| ConfigError::Syntax {
            at: Location::new(file, Some(e.line)),
            reason: e.reason,
        })?;
        let mut ignored = Vec::new();
        let entries = last_wins(properties, &mut ignored);

        let clusters = entries
            .iter()
            .find(|e| e.key == "clusters")
            .ok_or_else(|| ConfigError::MissingKey {
                at: Location::new(file, None),
                key: "clusters".to_owned(),
                hint: "list the cluster aliases, e.g. clusters = A, B".to_owned(),
            })?;
        // Only the file sets `clusters`: no variable maps to it.
        let clusters_line = clusters.place.line_number().unwrap_or_default();
        let mut aliases = Vec::new();
        for alias in split_list(&clusters.value) {
            let alias = ClusterAlias::new(alias).map_err(|e| ConfigError::InvalidKey {
                at: clusters.at(file),
                key: "clusters".to_owned(),
                reason: e.to_string(),
            })?;
            if !aliases.contains(&alias) {
                aliases.push(alias);
            }
        }
        if aliases.is_empty() {
            return Err(invalid(
                file,
                clusters,
                "a comma-separated list of cluster aliases",
            ));
        }

        let mut reader = Reader {
            file,
            aliases,
            clusters_line,
            node: NodeValues::default(),
            data_dirs: [None, None],
            cluster: MembershipValues::default(),
            top: Scope::default(),
            common: JavaProps::new(),
            fallback_bootstrap: None,
            clusters: BTreeMap::new(),
            targets: BTreeMap::new(),
            flows: BTreeMap::new(),
            ignored,
            warnings: Vec::new(),
        };
        let overrides = env::overrides(file, &reader.aliases, env)?;
        // A variable wins over the file's value of the same key.
        let overridden: Vec<String> = overrides.keys.iter().map(|o| o.key.clone()).collect();
        let entries = entries.into_iter().filter(|e| !overridden.contains(&e.key));
        for entry in entries.chain(overrides.keys) {
            reader.read(entry)?;
        }
        for client in overrides.clients {
            let keys = reader.clusters.entry(client.alias).or_default();
            let layer = match client.table {
                ClientTable::Client => &mut keys.client,
                ClientTable::Consumer => &mut keys.consumer,
                ClientTable::Producer => &mut keys.producer,
                ClientTable::Admin => &mut keys.admin,
            };
            layer.insert(client.name, client.prop);
        }
        Ok(reader)
    }

    fn ignore(&mut self, entry: &Entry, reason: impl Into<String>) {
        self.ignored.push(IgnoredKey {
            key: entry.key.clone(),
            line: entry.place.line_number(),
            reason: reason.into(),
        });
    }

    fn known_clusters(&self) -> String {
        let names: Vec<&str> = self.aliases.iter().map(ClusterAlias::as_str).collect();
        format!("`clusters = {}`", names.join(", "))
    }

    /// The known alias `key` starts with, followed by a dot (the longest, as aliases may contain
    /// dots).
    fn alias_prefix(&self, key: &str) -> Option<ClusterAlias> {
        self.aliases
            .iter()
            .filter(|a| {
                key.strip_prefix(a.as_str())
                    .is_some_and(|rest| rest.starts_with('.'))
            })
            .max_by_key(|a| a.as_str().len())
            .cloned()
    }

    fn route(&self, entry: &Entry) -> Result<Route, ConfigError> {
        let key = entry.key.as_str();
        let Some((source, rest)) = key.split_once("->") else {
            return Ok(match self.alias_prefix(key) {
                Some(alias) => {
                    let start = alias.as_str().len() + 1;
                    Route::Cluster(alias, start)
                }
                None => Route::File,
            });
        };
        let malformed = || ConfigError::InvalidKey {
            at: entry.at(self.file),
            key: key.to_owned(),
            reason: "expected SOURCE->TARGET.<setting>, e.g. A->B.enabled".to_owned(),
        };
        let unknown = |alias: &str| ConfigError::UnknownCluster {
            at: entry.at(self.file),
            key: key.to_owned(),
            alias: alias.to_owned(),
            defined: self.known_clusters(),
        };
        if source.is_empty() {
            return Err(malformed());
        }
        let source = self
            .aliases
            .iter()
            .find(|a| a.as_str() == source)
            .cloned()
            .ok_or_else(|| unknown(source))?;
        let target = match self.alias_prefix(rest) {
            Some(target) => target,
            None if self.aliases.iter().any(|a| a.as_str() == rest) => return Err(malformed()),
            None => match rest.split('.').next() {
                Some(guess) if !guess.is_empty() => return Err(unknown(guess)),
                _ => return Err(malformed()),
            },
        };
        let start = key.len() - rest.len() + target.as_str().len() + 1;
        if start >= key.len() {
            return Err(malformed());
        }
        let id = FlowId::new(source, target).map_err(|e| ConfigError::InvalidKey {
            at: entry.at(self.file),
            key: key.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Route::Flow(id, start))
    }

    fn read(&mut self, entry: Entry) -> Result<(), ConfigError> {
        if entry.key == "clusters" {
            return Ok(());
        }
        match self.route(&entry)? {
            Route::Flow(id, start) => {
                let rest = entry.key[start..].to_owned();
                self.flows
                    .entry(id)
                    .or_default()
                    .push(FlowEntry { rest, entry });
                Ok(())
            }
            Route::Cluster(alias, start) => {
                let rest = entry.key[start..].to_owned();
                self.read_cluster(alias, &rest, &entry)
            }
            Route::File => self.read_file_level(&entry),
        }
    }

    fn read_file_level(&mut self, entry: &Entry) -> Result<(), ConfigError> {
        let key = entry.key.as_str();
        if NODE_KEYS.contains(&key) {
            return self.read_node(entry);
        }
        if CLUSTER_KEYS.contains(&key) {
            return self.read_membership(entry);
        }
        if read_flow_value(self.file, &mut self.top, key, entry)? {
            self.note_exactly_once(key, entry, None);
            return Ok(());
        }
        if key.starts_with("strait.") {
            return Err(unknown_strait_key(self.file, entry));
        }
        if key == "enabled" {
            self.ignore(
                entry,
                "flows are enabled one by one: set e.g. A->B.enabled = true",
            );
        } else if is_not_implemented(key) {
            if let Some(known) = misspelt_flow_key(key) {
                return Err(misspelt(self.file, entry, known));
            }
            self.ignore(entry, NOT_IMPLEMENTED);
        } else if let Some((scope, name)) = client_scope(key) {
            check_client_name(self.file, entry, name, None)?;
            let prop = entry.java_prop();
            self.top
                .clients
                .entry(scope)
                .or_default()
                .insert(name.to_owned(), prop);
        } else if key == "bootstrap.servers" {
            self.fallback_bootstrap = Some(entry.sourced(entry.value.clone()));
        } else if is_cluster_wide_client_key(key) {
            check_client_name(self.file, entry, key, None)?;
            self.common.insert(key.to_owned(), entry.java_prop());
        } else if is_client_property(key) {
            let a = &self.aliases[0];
            let reason = format!(
                "MirrorMaker 2 applies only security.protocol, ssl.* and sasl.* to every cluster: \
                 set it per cluster ({a}.{key}) or per client type ({a}.consumer.{key}, \
                 {a}.producer.{key})"
            );
            self.ignore(entry, reason);
        } else if let Some(alias) = key.strip_suffix(".bootstrap.servers") {
            self.ignore(
                entry,
                format!("cluster {alias} is not in {}", self.known_clusters()),
            );
        } else {
            let suggestion = suggest::closest(key, file_level_keys())
                .map(str::to_owned)
                .or_else(|| suggest::prefix_typo(key, &client_scope_prefixes()));
            if let Some(suggestion) = suggestion {
                return Err(misspelt(self.file, entry, &suggestion));
            }
            self.ignore(entry, UNKNOWN);
        }
        Ok(())
    }

    fn read_node(&mut self, entry: &Entry) -> Result<(), ConfigError> {
        match entry.key.as_str() {
            "strait.data.dir" => self.data_dirs[0] = Some(data_dir(self.file, entry)?),
            // The settings of the node table (module `schema`).
            key => match self.node.read_text(key, &entry.value) {
                Some(read) => read.map_err(|expected| invalid(self.file, entry, expected))?,
                None => unreachable!("{key} is not a node key"),
            },
        }
        Ok(())
    }

    fn read_membership(&mut self, entry: &Entry) -> Result<(), ConfigError> {
        let file = self.file;
        let cluster = &mut self.cluster;
        match entry.key.as_str() {
            STRAIT_CLUSTER_NODE_ID => {
                let id = parsed(file, entry, membership::parse_node_id)?;
                cluster.node_id = Some(entry.sourced(id));
            }
            STRAIT_CLUSTER_DATA_DIR => self.data_dirs[1] = Some(data_dir(file, entry)?),
            STRAIT_CLUSTER_LISTEN => {
                let listen = parsed(file, entry, membership::parse_listen)?;
                cluster.listen = Some(entry.sourced(listen));
            }
            STRAIT_CLUSTER_ADVERTISE => {
                let address = parsed(file, entry, membership::parse_address)?;
                cluster.advertise = Some(entry.sourced(address));
            }
            STRAIT_CLUSTER_PEERS => {
                let peers = membership::parse_peers(&split_list(&entry.value)).map_err(
                    |(item, expected)| ConfigError::InvalidValue {
                        at: entry.at(file),
                        key: entry.key.clone(),
                        value: item,
                        expected: expected.to_owned(),
                    },
                )?;
                cluster.peers = Some(entry.sourced(peers));
            }
            STRAIT_CLUSTER_JOIN => {
                let address = parsed(file, entry, membership::parse_address)?;
                cluster.join = Some(entry.sourced(address));
            }
            STRAIT_CLUSTER_ID => {
                cluster.cluster_id = Some(parsed(file, entry, membership::parse_cluster_id)?);
            }
            STRAIT_CLUSTER_LIVENESS_TIMEOUT => {
                cluster.liveness_timeout = Some(number(
                    file,
                    entry,
                    membership::EXPECT_LIVENESS_TIMEOUT,
                    membership::liveness_timeout,
                )?);
            }
            STRAIT_CLUSTER_POSITION_INTERVAL => {
                cluster.position_interval = Some(number(
                    file,
                    entry,
                    membership::EXPECT_POSITION_INTERVAL,
                    membership::position_interval,
                )?);
            }
            STRAIT_CLUSTER_CONTROL_TOKEN => {
                cluster.control_token = Some(parsed(file, entry, membership::parse_control_token)?);
            }
            STRAIT_CLUSTER_HEALTH_LISTEN => {
                cluster.health_listen = Some(parsed(file, entry, membership::parse_listen)?);
            }
            STRAIT_CLUSTER_TLS_CERT => {
                let path = parsed(file, entry, membership::parse_pem_path)?;
                cluster.tls_cert = Some(entry.sourced(path));
            }
            STRAIT_CLUSTER_TLS_KEY => {
                let path = parsed(file, entry, membership::parse_pem_path)?;
                cluster.tls_key = Some(entry.sourced(path));
            }
            STRAIT_CLUSTER_TLS_CA => {
                let path = parsed(file, entry, membership::parse_pem_path)?;
                cluster.tls_ca = Some(entry.sourced(path));
            }
            STRAIT_CLUSTER_TLS_REQUIRE_CLIENT_CERT => {
                cluster.tls_require_client_cert = Some(parse_bool(file, entry)?);
            }
            STRAIT_CLUSTER_TLS_SERVER_NAME => {
                cluster.tls_server_name = Some(parsed(file, entry, membership::parse_server_name)?);
            }
            other => unreachable!("{other} is not a cluster key"),
        }
        Ok(())
    }

    fn read_cluster(
        &mut self,
        alias: ClusterAlias,
        rest: &str,
        entry: &Entry,
    ) -> Result<(), ConfigError> {
        if rest.starts_with("strait.") {
            return Err(ConfigError::InvalidKey {
                at: entry.at(self.file),
                key: entry.key.clone(),
                reason: "strait.* settings are not per cluster".to_owned(),
            });
        }
        if rest == EXACTLY_ONCE_SOURCE_SUPPORT {
            // MirrorMaker 2's way: a worker setting of the flows writing to the cluster.
            let scope = self.targets.entry(alias.clone()).or_default();
            read_flow_value(self.file, scope, rest, entry)?;
            self.note_exactly_once(rest, entry, Some(&alias));
            return Ok(());
        }
        if FLOW_KEYS.contains(&rest) || rest == "enabled" {
            self.ignore(
                entry,
                format!(
                    "not a per-cluster setting: set `{rest}` for every flow (no prefix) or for \
                     one flow (A->B.{rest})"
                ),
            );
            return Ok(());
        }
        if rest == "bootstrap.servers" {
            let bootstrap = entry.sourced(entry.value.clone());
            self.clusters.entry(alias).or_default().bootstrap = Some(bootstrap);
            return Ok(());
        }
        let client_type = ["consumer.", "producer.", "admin."]
            .iter()
            .find_map(|prefix| Some((*prefix, rest.strip_prefix(prefix)?)));
        match client_type {
            Some((_, "")) => {
                self.ignore(entry, UNKNOWN);
                return Ok(());
            }
            None if is_not_implemented(rest) => {
                // The one per-cluster key of the settings table, misspelt.
                if misspelt_flow_key(rest) == Some(EXACTLY_ONCE_SOURCE_SUPPORT) {
                    let known = format!("{alias}.{EXACTLY_ONCE_SOURCE_SUPPORT}");
                    return Err(misspelt(self.file, entry, &known));
                }
                self.ignore(entry, NOT_IMPLEMENTED);
                return Ok(());
            }
            _ => {}
        }
        let name = client_type.map_or(rest, |(_, name)| name);
        let scope_typo = match client_type {
            None => suggest::prefix_typo(rest, CLUSTER_CLIENT_PREFIXES),
            Some(_) => None,
        };
        let scope_typo = scope_typo.map(|typo| format!("{alias}.{typo}"));
        check_client_name(self.file, entry, name, scope_typo)?;
        let keys = self.clusters.entry(alias).or_default();
        let (layer, name) = match client_type {
            Some(("consumer.", name)) => (&mut keys.consumer, name),
            Some(("producer.", name)) => (&mut keys.producer, name),
            Some((_, name)) => (&mut keys.admin, name),
            None => (&mut keys.client, rest),
        };
        layer.insert(name.to_owned(), entry.java_prop());
        Ok(())
    }

    /// The settings one flow sets, or `None` when it is not enabled: then only its heartbeat keys
    /// and target admin client properties are read (for the pair's heartbeats, which MirrorMaker
    /// 2 writes for disabled flows too); its other keys are recorded as ignored.
    fn read_flow(
        &mut self,
        id: &FlowId,
        entries: Vec<FlowEntry>,
    ) -> Result<(Option<Scope>, Scope), ConfigError> {
        for FlowEntry { rest, entry } in &entries {
            self.check_flow_key(rest, entry)?;
        }
        let enabled = match entries.iter().find(|e| e.rest == "enabled") {
            Some(e) => parse_bool(self.file, &e.entry)?,
            None => false,
        };
        if !enabled {
            let mut pair = Scope::default();
            for FlowEntry { rest, entry } in entries.iter().filter(|e| e.rest != "enabled") {
                if PAIR_HEARTBEAT_KEYS.contains(&rest.as_str()) {
                    read_flow_value(self.file, &mut pair, rest, entry)?;
                    continue;
                }
                if let Some((client, name)) = client_scope(rest) {
                    if TARGET_ADMIN_LAYERS.contains(&client) {
                        pair.clients
                            .entry(client)
                            .or_default()
                            .insert(name.to_owned(), entry.java_prop());
                        continue;
                    }
                }
                self.ignore(
                    entry,
                    format!(
                        "flow {id} is not enabled ({id}.enabled = true turns it on); only its \
                         heartbeat settings apply"
                    ),
                );
            }
            return Ok((None, pair));
        }
        let mut scope = Scope::default();
        for FlowEntry { rest, entry } in entries {
            let rest = rest.as_str();
            if rest == "enabled" {
                continue;
            }
            if read_flow_value(self.file, &mut scope, rest, &entry)? {
                self.note_exactly_once(rest, &entry, None);
                continue;
            }
            if NODE_KEYS.contains(&rest) || CLUSTER_KEYS.contains(&rest) {
                return Err(ConfigError::InvalidKey {
                    at: entry.at(self.file),
                    key: entry.key.clone(),
                    reason: format!("a node setting: set it once, without a flow prefix ({rest})"),
                });
            }
            if rest.starts_with("strait.") {
                return Err(unknown_strait_key(self.file, &entry));
            }
            if is_not_implemented(rest) {
                self.ignore(&entry, NOT_IMPLEMENTED);
            } else if let Some((client, name)) = client_scope(rest) {
                scope
                    .clients
                    .entry(client)
                    .or_default()
                    .insert(name.to_owned(), entry.java_prop());
            } else if is_client_property(rest) {
                self.ignore(
                    &entry,
                    format!(
                        "client properties of a flow go under {id}.consumer.*, {id}.producer.*, \
                         {id}.source.admin.* or {id}.target.admin.* (MirrorMaker 2 ignores them \
                         here too)"
                    ),
                );
            } else {
                self.ignore(&entry, UNKNOWN);
            }
        }
        Ok((Some(scope), Scope::default()))
    }

    /// Refuses a flow's key (`rest`, after `A->B.`) that is a misspelt known key, or a client
    /// property nobody knows; any other unknown key is listed as ignored later.
    fn check_flow_key(&self, rest: &str, entry: &Entry) -> Result<(), ConfigError> {
        let prefix = entry.key.strip_suffix(rest).unwrap_or_default();
        if is_not_implemented(rest) {
            return match misspelt_flow_key(rest) {
                Some(known) => Err(misspelt(self.file, entry, &format!("{prefix}{known}"))),
                None => Ok(()),
            };
        }
        if let Some((_, name)) = client_scope(rest) {
            return check_client_name(self.file, entry, name, None);
        }
        let known = rest == "enabled"
            || FLOW_KEYS.contains(&rest)
            || NODE_KEYS.contains(&rest)
            || CLUSTER_KEYS.contains(&rest)
            || rest.starts_with("strait.")
            || is_client_property(rest);
        if known {
            return Ok(());
        }
        let suggestion = suggest::closest(rest, flow_level_keys())
            .map(str::to_owned)
            .or_else(|| suggest::prefix_typo(rest, &client_scope_prefixes()));
        match suggestion {
            Some(suggestion) => Err(misspelt(self.file, entry, &format!("{prefix}{suggestion}"))),
            None => Ok(()),
        }
    }

    /// What to tell about an `exactly.once.source.support` key (`name`, without its prefix) Strait
    /// read: `preparing`, which has no effect, is listed as ignored; `enabled` outside a cluster
    /// prefix (`target`), which MirrorMaker 2 would not read, is a warning.
    fn note_exactly_once(&mut self, name: &str, entry: &Entry, target: Option<&ClusterAlias>) {
        if name != EXACTLY_ONCE_SOURCE_SUPPORT {
            return;
        }
        if assemble::is_preparing(&entry.value) {
            self.ignore(
                entry,
                "`preparing` is Kafka Connect's first step of a rolling switch to exactly-once; \
                 Strait needs no such step: its flows stay at-least-once until `enabled`",
            );
            return;
        }
        if target.is_some() || assemble::exactly_once_source_support(&entry.value) != Ok(true) {
            return;
        }
        let (flows, example) = match entry.key.strip_suffix(name) {
            Some(prefix) if !prefix.is_empty() => {
                let flow = prefix.trim_end_matches('.');
                let target = flow.rsplit("->").next().unwrap_or("B");
                (format!("flow {flow}"), target.to_owned())
            }
            _ => {
                let example = self.aliases.get(1).unwrap_or(&self.aliases[0]);
                ("every flow".to_owned(), example.to_string())
            }
        };
        let line = entry
            .place
            .line_number()
            .map_or_else(String::new, |line| format!(" (line {line})"));
        self.warnings.push(format!(
            "`{}`{line} = enabled: Strait runs {flows} exactly-once; MirrorMaker 2 reads this key \
             only per target cluster (`{example}.{name}`) and would have run at-least-once",
            entry.key
        ));
    }

    /// Resolves the deprecated aliases of one scope: the new name wins when both are set.
    fn settle(&mut self, scope: &mut Scope) {
        let pairs = [
            (
                &mut scope.values.topics_exclude,
                scope.topics_blacklist.take(),
                "topics.exclude",
            ),
            (
                &mut scope.values.config_properties_exclude,
                scope.config_blacklist.take(),
                "config.properties.exclude",
            ),
            (
                &mut scope.values.mm2.groups_exclude,
                scope.groups_blacklist.take(),
                "groups.exclude",
            ),
        ];
        for (current, legacy, name) in pairs {
            match (current.is_some(), legacy) {
                (false, legacy) => *current = legacy,
                (true, Some(legacy)) => self.ignored.push(IgnoredKey {
                    line: legacy.place.line_number(),
                    key: legacy.key,
                    reason: format!("deprecated name of {name}, which is also set and wins"),
                }),
                (true, None) => {}
            }
        }
    }

    fn bootstrap(&self, alias: &ClusterAlias) -> Option<String> {
        self.clusters
            .get(alias)
            .and_then(|keys| keys.bootstrap.as_ref())
            .or(self.fallback_bootstrap.as_ref())
            .and_then(|s| bootstrap_servers(&s.value))
    }

    fn translate(
        &mut self,
        props: &JavaProps,
        context: &[&JavaProps],
    ) -> Result<ClientProps, ConfigError> {
        let translated = translate(self.file, props, context)?;
        self.ignored.extend(translated.ignored);
        Ok(translated.props)
    }

    /// Where a cluster's `bootstrap.servers` was set: its own key, else the file-level fallback.
    fn bootstrap_origin(&self, keys: &ClusterKeys) -> Option<PropertyOrigin> {
        let key = keys
            .bootstrap
            .as_ref()
            .or(self.fallback_bootstrap.as_ref())?;
        Some(PropertyOrigin {
            key: key.key.clone(),
            at: Location::at(self.file, key.place.clone()),
        })
    }

    /// One client of a flow: its translated properties with `bootstrap.servers`, and where each was
    /// set.
    fn client(
        &mut self,
        bootstrap: &str,
        bootstrap_origin: Option<PropertyOrigin>,
        props: &JavaProps,
    ) -> Result<(ClientProps, PropertyOrigins), ConfigError> {
        let translated = translate(self.file, props, &[])?;
        self.ignored.extend(translated.ignored);
        let mut origins = translated.origins;
        origins.remove("bootstrap.servers");
        origins.extend(bootstrap_origin.map(|o| ("bootstrap.servers".to_owned(), o)));
        let props = assemble::client_props(bootstrap, &[&translated.props]);
        Ok((props, origins))
    }

    fn finish(mut self) -> Result<Settings, ConfigError> {
        let [node_dir, cluster_dir] = std::mem::take(&mut self.data_dirs);
        let node = std::mem::take(&mut self.node).into_settings(assemble::data_dir(
            self.file,
            node_dir,
            cluster_dir,
        )?);
        let warnings = membership::warnings(&self.cluster, &MEMBERSHIP_KEYS);
        let cluster = membership::membership(
            self.file,
            std::mem::take(&mut self.cluster),
            &MEMBERSHIP_KEYS,
        )?;
        let mut top = std::mem::take(&mut self.top);
        self.settle(&mut top);

        let mut enabled = Vec::new();
        let mut pairs = BTreeMap::new();
        for (id, entries) in std::mem::take(&mut self.flows) {
            match self.read_flow(&id, entries)? {
                (Some(mut scope), _) => {
                    self.settle(&mut scope);
                    enabled.push((id, scope));
                }
                (None, pair) => {
                    pairs.insert(id, pair);
                }
            }
        }
        if enabled.is_empty() {
            let source = &self.aliases[0];
            let target = self.aliases.get(1).map_or("B", ClusterAlias::as_str);
            return Err(ConfigError::NoEnabledFlow {
                at: Location::new(self.file, None),
                hint: format!("set e.g. {source}->{target}.enabled = true"),
            });
        }
        for (id, _) in &enabled {
            for alias in [&id.source, &id.target] {
                if self.bootstrap(alias).is_none() {
                    return Err(ConfigError::MissingBootstrap {
                        at: Location::new(self.file, None),
                        cluster: alias.to_string(),
                        key: format!("{alias}.bootstrap.servers"),
                        flow: id.to_string(),
                    });
                }
            }
        }

        let common = std::mem::take(&mut self.common);
        let mut clusters = BTreeMap::new();
        let mut cluster_keys = HashMap::new();
        for alias in self.aliases.clone() {
            let bootstrap = self.bootstrap(&alias);
            let keys = self.clusters.remove(&alias).unwrap_or_default();
            let Some(bootstrap_servers) = bootstrap else {
                self.ignored.push(IgnoredKey {
                    key: "clusters".to_owned(),
                    line: Some(self.clusters_line),
                    reason: format!(
                        "cluster {alias} has no {alias}.bootstrap.servers and no enabled flow \
                         uses it: left out"
                    ),
                });
                continue;
            };
            let client = self.translate(&overlay([&common, &keys.client]), &[])?;
            let lower = [&keys.client, &common];
            let settings = ClusterSettings {
                alias: alias.clone(),
                bootstrap_servers,
                client,
                consumer: self.translate(&keys.consumer, &lower)?,
                producer: self.translate(&keys.producer, &lower)?,
                admin: self.translate(&keys.admin, &lower)?,
            };
            clusters.insert(alias.clone(), settings);
            cluster_keys.insert(alias, keys);
        }

        let mut flows = Vec::new();
        for (id, scope) in enabled {
            let source = &cluster_keys[&id.source];
            let target = &cluster_keys[&id.target];
            let layered = |cluster: [&JavaProps; 2], scopes: &[ClientScope]| {
                let mut layers = vec![&common, cluster[0], cluster[1]];
                for level in [&top, &scope] {
                    layers.extend(scopes.iter().filter_map(|s| level.clients.get(s)));
                }
                overlay(layers)
            };
            let consumer = layered([&source.client, &source.consumer], CONSUMER_LAYERS);
            let producer = layered([&target.client, &target.producer], PRODUCER_LAYERS);
            let source_admin = layered([&source.client, &source.admin], SOURCE_ADMIN_LAYERS);
            let target_admin = layered([&target.client, &target.admin], TARGET_ADMIN_LAYERS);
            let source_bootstrap = &clusters[&id.source].bootstrap_servers;
            let target_bootstrap = &clusters[&id.target].bootstrap_servers;
            let source_origin = self.bootstrap_origin(source);
            let target_origin = self.bootstrap_origin(target);
            let consumer = self.client(source_bootstrap, source_origin.clone(), &consumer)?;
            let producer = self.client(target_bootstrap, target_origin.clone(), &producer)?;
            let source_admin = self.client(source_bootstrap, source_origin, &source_admin)?;
            let target_admin = self.client(target_bootstrap, target_origin, &target_admin)?;
            let clients = FlowClients {
                consumer: consumer.0,
                producer: producer.0,
                source_admin: source_admin.0,
                target_admin: target_admin.0,
                origins: ClientOrigins {
                    consumer: consumer.1,
                    producer: producer.1,
                    source_admin: source_admin.1,
                    target_admin: target_admin.1,
                },
            };
            // The flow's own keys, then its target cluster's, then the file level's.
            let by_target = self.targets.get(&id.target);
            let lower = match by_target {
                Some(target) => target.values.clone().or(&top.values),
                None => top.values.clone(),
            };
            let support = scope
                .exactly_once_support
                .or_else(|| top.exactly_once_support.clone());
            let flow = flow_settings(self.file, id, scope.values.or(&lower), clients)?;
            self.check_exactly_once_support(&flow, support)?;
            flows.push(flow);
        }
        for (alias, target) in std::mem::take(&mut self.targets) {
            let Some(set) = target.values.set_at.get("exactly_once") else {
                continue;
            };
            if !flows.iter().any(|flow| flow.id.target == alias) {
                self.ignored.push(IgnoredKey {
                    key: set.key.clone(),
                    line: set.place.line_number(),
                    reason: format!("no enabled flow writes to cluster {alias}"),
                });
            }
        }

        let mut pair_heartbeats = Vec::new();
        for id in assemble::pairs_without_flow(clusters.keys(), &flows) {
            let pair = pairs.remove(&id).unwrap_or_default();
            let target = &cluster_keys[&id.target];
            let mut layers = vec![&common, &target.client, &target.admin];
            for level in [&top, &pair] {
                layers.extend(
                    TARGET_ADMIN_LAYERS
                        .iter()
                        .filter_map(|s| level.clients.get(s)),
                );
            }
            let target_admin = overlay(layers);
            let origin = self.bootstrap_origin(target);
            let bootstrap = &clusters[&id.target].bootstrap_servers;
            let (target_admin, _) = self.client(bootstrap, origin, &target_admin)?;
            let values = pair.values.or(&top.values);
            pair_heartbeats.push(assemble::pair_heartbeats(id, &values.mm2, target_admin));
        }

        Ok(Settings {
            file: self.file.to_path_buf(),
            node,
            cluster,
            clusters,
            flows,
            pair_heartbeats,
            ignored: assemble::tidy_ignored(self.ignored),
            warnings: warnings.into_iter().chain(self.warnings).collect(),
        })
    }

    /// Kafka Connect's `exactly.once.support` of a flow (its own, else the file level's):
    /// `required` refuses a flow that does not run exactly-once, as Kafka Connect refuses such a
    /// connector; `requested` has no effect and is listed as ignored.
    fn check_exactly_once_support(
        &mut self,
        flow: &crate::FlowSettings,
        support: Option<Sourced<ExactlyOnceSupport>>,
    ) -> Result<(), ConfigError> {
        let Some(support) = support else {
            return Ok(());
        };
        match (support.value, flow.exactly_once) {
            (ExactlyOnceSupport::Required, true) => Ok(()),
            (ExactlyOnceSupport::Required, false) => Err(ConfigError::Conflict {
                at: Location::at(self.file, support.place.clone()),
                key: support.key.clone(),
                value: "required".to_owned(),
                reason: format!(
                    "flow {} runs at-least-once: turn exactly-once on for it with \
                     `{}.{EXACTLY_ONCE_SOURCE_SUPPORT} = enabled`",
                    flow.id, flow.id.target
                ),
            }),
            (ExactlyOnceSupport::Requested, _) => {
                self.ignored.push(IgnoredKey {
                    key: support.key.clone(),
                    line: support.place.line_number(),
                    reason: format!(
                        "a Kafka Connect hint, with no effect: exactly-once is turned on per \
                         target cluster with `{}.{EXACTLY_ONCE_SOURCE_SUPPORT} = enabled`",
                        flow.id.target
                    ),
                });
                Ok(())
            }
        }
    }
}

/// Java's `Properties` keeps the last value of a repeated key; the earlier ones are recorded.
fn last_wins(properties: Vec<properties::Property>, ignored: &mut Vec<IgnoredKey>) -> Vec<Entry> {
    let mut last: HashMap<&str, usize> = HashMap::new();
    for p in &properties {
        last.insert(p.key.as_str(), p.line);
    }
    let mut repeated = Vec::new();
    let mut entries = Vec::new();
    for p in &properties {
        let last_line = last[p.key.as_str()];
        if p.line != last_line {
            repeated.push(IgnoredKey {
                key: p.key.clone(),
                line: Some(p.line),
                reason: format!("set again on line {last_line}, which wins"),
            });
            continue;
        }
        entries.push(Entry {
            key: p.key.clone(),
            value: p.value.trim().to_owned(),
            place: Place::Line(p.line),
        });
    }
    ignored.extend(repeated);
    entries
}

/// Reads `name` (a key without its flow prefix) into `scope` when it is a per-flow setting.
fn read_flow_value(
    file: &Path,
    scope: &mut Scope,
    name: &str,
    entry: &Entry,
) -> Result<bool, ConfigError> {
    let patterns = || -> Result<Sourced<Vec<String>>, ConfigError> {
        let patterns = entry.sourced(split_list(&entry.value));
        check_patterns(file, &patterns)?;
        Ok(patterns)
    };
    let values = &mut scope.values;
    match name {
        "topics" => values.topics = Some(patterns()?),
        "topics.exclude" => values.topics_exclude = Some(patterns()?),
        "topics.blacklist" => scope.topics_blacklist = Some(patterns()?),
        "config.properties.exclude" => values.config_properties_exclude = Some(patterns()?),
        "config.properties.blacklist" => scope.config_blacklist = Some(patterns()?),
        "replication.policy.class" => {
            let policy =
                parse_policy(&entry.value).ok_or_else(|| invalid(file, entry, EXPECT_POLICY))?;
            values.policy = Some(policy);
        }
        "replication.policy.separator" => {
            if entry.value.is_empty() {
                return Err(invalid(file, entry, EXPECT_SEPARATOR));
            }
            values.separator = Some(entry.sourced(entry.value.clone()));
        }
        "groups" => values.mm2.groups = Some(patterns()?),
        "groups.exclude" => values.mm2.groups_exclude = Some(patterns()?),
        "groups.blacklist" => scope.groups_blacklist = Some(patterns()?),
        EXACTLY_ONCE_SUPPORT => {
            let support = parsed(file, entry, assemble::exactly_once_support)?;
            scope.exactly_once_support = Some(entry.sourced(support));
        }
        // The settings of the table (module `schema`).
        _ => match values.read_text(name, &entry.value) {
            Some(read) => {
                read.map_err(|expected| invalid(file, entry, expected))?;
                if let Some(field) = FlowValues::field_of(name) {
                    values.set_at.insert(field, entry.sourced(()));
                }
            }
            None => return Ok(false),
        },
    }
    Ok(true)
}

fn invalid(file: &Path, entry: &Entry, expected: &str) -> ConfigError {
    ConfigError::InvalidValue {
        at: entry.at(file),
        key: entry.key.clone(),
        value: shown_value(&entry.key, &entry.value),
        expected: expected.to_owned(),
    }
}

/// The value read by `parse`, or the error naming the key, line and value.
fn parsed<T>(
    file: &Path,
    entry: &Entry,
    parse: fn(&str) -> Result<T, &'static str>,
) -> Result<T, ConfigError> {
    parse(&entry.value).map_err(|expected| invalid(file, entry, expected))
}

/// A data dir: a non-empty path.
fn data_dir(file: &Path, entry: &Entry) -> Result<Sourced<PathBuf>, ConfigError> {
    if entry.value.is_empty() {
        return Err(invalid(file, entry, assemble::EXPECT_DIRECTORY));
    }
    Ok(entry.sourced(PathBuf::from(&entry.value)))
}

/// `true` / `false`, any case (as Kafka's `ConfigDef` reads booleans).
fn parse_bool(file: &Path, entry: &Entry) -> Result<bool, ConfigError> {
    if entry.value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if entry.value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(invalid(file, entry, EXPECT_BOOL))
    }
}

/// A whole number, then `check`ed (range, unit).
fn number<T>(
    file: &Path,
    entry: &Entry,
    expected: &str,
    check: fn(i64) -> Result<T, &'static str>,
) -> Result<T, ConfigError> {
    let n: i64 = entry
        .value
        .parse()
        .map_err(|_| invalid(file, entry, expected))?;
    check(n).map_err(|expected| invalid(file, entry, expected))
}

pub(crate) fn parse_log_format(value: &str) -> Option<LogFormat> {
    match value.trim().to_ascii_lowercase().as_str() {
        "text" => Some(LogFormat::Text),
        "json" => Some(LogFormat::Json),
        _ => None,
    }
}

fn unknown_strait_key(file: &Path, entry: &Entry) -> ConfigError {
    // `strait.x`, or a flow's `A->B.strait.x`.
    let key = entry.key.as_str();
    let start = match key.starts_with("strait.") {
        true => 0,
        false => key.find(".strait.").map_or(0, |dot| dot + 1),
    };
    let (prefix, name) = key.split_at(start);
    let known = strait_keys();
    let reason = match suggest::closest(name, known.iter().copied()) {
        Some(known) => format!("unknown Strait setting: did you mean `{prefix}{known}`?"),
        None => format!("unknown Strait setting (known: {})", known.join(", ")),
    };
    ConfigError::InvalidKey {
        at: entry.at(file),
        key: entry.key.clone(),
        reason,
    }
}

/// A key one or two edits away from `suggestion`, a known one: refused, not ignored, so that a
/// typo does not silently leave a setting at its default.
fn misspelt(file: &Path, entry: &Entry, suggestion: &str) -> ConfigError {
    ConfigError::InvalidKey {
        at: entry.at(file),
        key: entry.key.clone(),
        reason: format!("unknown key{}", suggest::did_you_mean(Some(suggestion))),
    }
}

/// Refuses a client property (`name`, the end of the entry's key) that is neither a Java client
/// property Strait knows nor a librdkafka one, as a TOML file's is refused; `scope_typo` is the
/// key with a misspelt client type corrected (`A.consumr.x` → `A.consumer.x`), suggested first.
fn check_client_name(
    file: &Path,
    entry: &Entry,
    name: &str,
    scope_typo: Option<String>,
) -> Result<(), ConfigError> {
    let Some(reason) = unknown_client_property(&entry.key, name) else {
        return Ok(());
    };
    let reason = match scope_typo {
        Some(typo) => format!(
            "unknown client property{}",
            suggest::did_you_mean(Some(&typo))
        ),
        None => reason,
    };
    Err(ConfigError::InvalidKey {
        at: entry.at(file),
        key: entry.key.clone(),
        reason,
    })
}

#[cfg(test)]
mod tests;
