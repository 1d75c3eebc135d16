//! The part of a configuration the whole cluster shares: the clusters and the flows.
//!
//! A Strait cluster runs one configuration, kept in its Raft state. A node turns its own file's
//! clusters and flows into a canonical TOML text ([`Settings::shared_config`]): canonical, so two
//! files that mean the same produce the same text whatever their format (mm2.properties or TOML),
//! key order or comments. Every node then runs the committed text
//! ([`Settings::with_shared_config`]), with its own node and cluster settings.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Serialize;
use strait_coordinator::ReplicationPolicy;

use crate::assemble::MATCH_NOTHING;
use crate::client_props::{is_secret, SECRET_MASK};
use crate::schema::{codec, flow_table, Codec};
use crate::{ClientProps, ConfigError, Settings};

#[derive(Serialize)]
struct SharedFile {
    clusters: BTreeMap<String, SharedCluster>,
    flows: BTreeMap<String, SharedEntry>,
}

/// An enabled flow, or a pair without one (written as a disabled flow: its heartbeats).
#[derive(Serialize)]
#[serde(untagged)]
enum SharedEntry {
    Flow(Box<SharedFlow>),
    Pair(SharedPair),
}

/// [`crate::PairHeartbeats`]: every pair among the text's clusters is written, so that reading
/// the text back resolves the same pairs.
#[derive(Serialize)]
struct SharedPair {
    source: String,
    target: String,
    enabled: bool,
    emit_heartbeats_enabled: bool,
    emit_heartbeats_interval_secs: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    heartbeats_topic_replication_factor: Option<i64>,
    target_admin: ClientProps,
}

#[derive(Serialize)]
struct SharedCluster {
    bootstrap_servers: String,
}

/// An enabled flow as the TOML format writes it: the fields of the settings table (module
/// `schema`) in its order, each omitted when `None`.
macro_rules! shared_flow {
    (
        fields [$(($field:ident: $raw:ty))*]
        keys [$($key:literal)*]
        flow [$(($ff:ident, $fc:ty, $fd:expr, $ft:ident, $fk:literal))*]
        mm2 [$(($mf:ident, $mc:ty, $md:expr, $mt:ident, $mk:literal))*]
        pair [$($pair:tt)*]
    ) => {
        #[derive(Serialize, Default)]
        struct SharedFlow {
            source: String,
            target: String,
            $(
                #[serde(skip_serializing_if = "Option::is_none")]
                $field: Option<$raw>,
            )*
            // Effective client properties (cluster, client type and flow layers already merged),
            // so the text needs no cluster-level client tables.
            consumer: ClientProps,
            producer: ClientProps,
            source_admin: ClientProps,
            target_admin: ClientProps,
        }

        impl SharedFlow {
            /// The values of the table's settings of `flow`, as written.
            fn set_settings(&mut self, flow: &crate::FlowSettings) {
                $(self.$ft = <$fc as Codec>::raw(&flow.$ff);)*
                $(self.$mt = <$mc as Codec>::raw(&flow.mm2.$mf);)*
            }
        }
    };
}

flow_table!(shared_flow);

/// A list of regexes, written as a TOML array.
type Patterns = Vec<String>;

fn to_text(file: &SharedFile) -> String {
    toml::to_string(file).expect("plain maps, strings and numbers always serialize to TOML")
}

/// Client properties without `bootstrap.servers`, which comes from the cluster.
fn without_bootstrap(props: &ClientProps) -> ClientProps {
    props
        .iter()
        .filter(|(k, _)| k.as_str() != "bootstrap.servers")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The patterns of a whole-name regex built by `assemble::whole_name_regex`, as one pattern that
/// builds the same regex again.
fn patterns_of(regex: &regex::Regex) -> Vec<String> {
    let source = regex.as_str();
    if source == MATCH_NOTHING {
        return Vec::new();
    }
    let inner = source
        .strip_prefix("^(?:")
        .and_then(|s| s.strip_suffix(")$"))
        .unwrap_or(source);
    vec![inner.to_owned()]
}

impl Settings {
    /// The canonical TOML text of this configuration's clusters and flows (see the module docs).
    pub fn shared_config(&self) -> String {
        to_text(&self.shared_file(false))
    }

    /// [`shared_config`](Self::shared_config) with secret client property values (passwords,
    /// JAAS configs, tokens...) replaced by `****`: for showing, not for running.
    pub fn shared_config_masked(&self) -> String {
        to_text(&self.shared_file(true))
    }

    /// The client properties of the flows whose value is the mask of
    /// [`shared_config_masked`](Self::shared_config_masked), as `flow A->B: consumer property
    /// sasl.password`: a masked text given back as a configuration.
    pub fn masked_secrets(&self) -> Vec<String> {
        let mut found = Vec::new();
        for pair in &self.pair_heartbeats {
            for (key, value) in pair.target_admin.iter() {
                if is_secret(key) && value == SECRET_MASK {
                    found.push(format!("pair {}: target_admin property {key}", pair.id));
                }
            }
        }
        for flow in &self.flows {
            let clients = [
                ("consumer", &flow.consumer),
                ("producer", &flow.producer),
                ("source_admin", &flow.source_admin),
                ("target_admin", &flow.target_admin),
            ];
            for (client, props) in clients {
                for (key, value) in props.iter() {
                    if is_secret(key) && value == SECRET_MASK {
                        found.push(format!("flow {}: {client} property {key}", flow.id));
                    }
                }
            }
        }
        found
    }

    /// The clusters and flows as a TOML table (what [`shared_config`](Self::shared_config)
    /// writes), for comparing two configurations key by key.
    pub(crate) fn shared_table(&self) -> toml::Table {
        match toml::Table::try_from(self.shared_file(false)) {
            Ok(table) => table,
            Err(error) => unreachable!("plain maps, strings and numbers: {error}"),
        }
    }

    fn shared_file(&self, mask: bool) -> SharedFile {
        let clients = |props: &ClientProps| {
            let mut props = without_bootstrap(props);
            if mask {
                for (key, value) in props.iter_mut() {
                    if is_secret(key) {
                        *value = SECRET_MASK.to_owned();
                    }
                }
            }
            props
        };
        // The clusters of the flows and of the pairs that write heartbeats.
        let used: std::collections::BTreeSet<&str> = self
            .flows
            .iter()
            .map(|f| &f.id)
            .chain(
                self.pair_heartbeats
                    .iter()
                    .filter(|p| p.enabled)
                    .map(|p| &p.id),
            )
            .flat_map(|id| [id.source.as_str(), id.target.as_str()])
            .collect();
        let clusters = self
            .clusters
            .iter()
            .filter(|(alias, _)| used.contains(alias.as_str()))
            .map(|(alias, cluster)| {
                (
                    alias.to_string(),
                    SharedCluster {
                        bootstrap_servers: cluster.bootstrap_servers.clone(),
                    },
                )
            })
            .collect();
        let pairs = self
            .pair_heartbeats
            .iter()
            .filter(|p| used.contains(p.id.source.as_str()) && used.contains(p.id.target.as_str()))
            .map(|pair| {
                let shared = SharedPair {
                    source: pair.id.source.to_string(),
                    target: pair.id.target.to_string(),
                    enabled: false,
                    emit_heartbeats_enabled: pair.enabled,
                    emit_heartbeats_interval_secs: pair.interval.as_secs(),
                    heartbeats_topic_replication_factor: pair
                        .topic_replication_factor
                        .map(i64::from),
                    target_admin: clients(&pair.target_admin),
                };
                (pair.id.to_string(), SharedEntry::Pair(shared))
            });
        let flows = self
            .flows
            .iter()
            .map(|flow| {
                let (policy, separator) = match &flow.replication_policy {
                    ReplicationPolicy::Default { separator } => {
                        ("default", Some(separator.clone()))
                    }
                    ReplicationPolicy::Identity => ("identity", None),
                };
                let mut shared = SharedFlow {
                    source: flow.id.source.to_string(),
                    target: flow.id.target.to_string(),
                    topics: Some(flow.topics.include_patterns().to_vec()),
                    topics_exclude: Some(flow.topics.exclude_patterns().to_vec()),
                    replication_policy: Some(policy.to_owned()),
                    replication_policy_separator: separator,
                    config_properties_exclude: Some(patterns_of(&flow.config_properties_exclude)),
                    groups: Some(flow.mm2.groups.include_patterns().to_vec()),
                    groups_exclude: Some(flow.mm2.groups.exclude_patterns().to_vec()),
                    consumer: clients(&flow.consumer),
                    producer: clients(&flow.producer),
                    source_admin: clients(&flow.source_admin),
                    target_admin: clients(&flow.target_admin),
                    ..SharedFlow::default()
                };
                shared.set_settings(flow);
                (flow.id.to_string(), SharedEntry::Flow(Box::new(shared)))
            })
            .chain(pairs)
            .collect();
        SharedFile { clusters, flows }
    }

    /// These settings with the clusters and flows of `shared` (a text from
    /// [`shared_config`](Self::shared_config), e.g. the cluster's committed one) instead of this
    /// file's; node and cluster settings stay this node's own.
    pub fn with_shared_config(&self, shared: &str) -> Result<Settings, ConfigError> {
        let origin = Path::new("<cluster configuration>");
        let parsed = crate::native::parse(origin, shared, Some(HashMap::new()))?;
        Ok(Settings {
            file: self.file.clone(),
            node: self.node.clone(),
            cluster: self.cluster.clone(),
            clusters: parsed.clusters,
            flows: parsed.flows,
            pair_heartbeats: parsed.pair_heartbeats,
            ignored: self.ignored.clone(),
            warnings: self.warnings.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use crate::load;

    fn load_text(ext: &str, text: &str) -> crate::Settings {
        let mut file = tempfile::Builder::new().suffix(ext).tempfile().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        load(file.path()).unwrap()
    }

    const PROPERTIES: &str = "clusters = A, B\n\
        A.bootstrap.servers = a:9092\n\
        B.bootstrap.servers = b:9092\n\
        A->B.enabled = true\n\
        A->B.topics = orders.*, payments\n\
        replication.factor = 3\n\
        A.consumer.fetch.wait.max.ms = 10\n\
        B.producer.linger.ms = 7\n";

    const TOML: &str = r#"
[clusters.A]
bootstrap_servers = "a:9092"
[clusters.A.consumer]
"fetch.wait.max.ms" = "10"
[clusters.B]
bootstrap_servers = "b:9092"
[clusters.B.producer]
"linger.ms" = 7
[flows.ab]
source = "A"
target = "B"
topics = ["orders.*", "payments"]
replication_factor = 3
"#;

    #[test]
    fn the_same_meaning_gives_the_same_text_in_either_format() {
        let from_properties = load_text(".properties", PROPERTIES).shared_config();
        let from_toml = load_text(".toml", TOML).shared_config();
        assert_eq!(from_properties, from_toml);
    }

    #[test]
    fn the_exactly_once_settings_are_part_of_the_text_in_either_format() {
        let properties = format!(
            "{PROPERTIES}B.exactly.once.source.support = enabled\n\
             strait.transaction.interval.ms = 50\n\
             A->B.strait.transaction.timeout.ms = 20000\n\
             strait.transactional.id.prefix = eu\n"
        );
        let toml = TOML.replace(
            "replication_factor = 3\n",
            "replication_factor = 3\nexactly_once = true\ntransaction_interval_ms = 50\n\
             transaction_timeout_ms = 20000\ntransactional_id_prefix = \"eu\"\n",
        );
        let from_properties = load_text(".properties", &properties);
        let text = from_properties.shared_config();
        assert_eq!(text, load_text(".toml", &toml).shared_config());
        for line in [
            "exactly_once = true\n",
            "transaction_interval_ms = 50\n",
            "transaction_timeout_ms = 20000\n",
            "transactional_id_prefix = \"eu\"\n",
        ] {
            assert!(text.contains(line), "{line:?} missing in:\n{text}");
        }
        let adopted = from_properties.with_shared_config(&text).unwrap();
        let flow = &adopted.flows[0];
        assert!(flow.exactly_once);
        assert_eq!(flow.transaction_interval.as_millis(), 50);
        assert_eq!(flow.transaction_timeout.as_millis(), 20_000);
        assert_eq!(flow.transactional_id_prefix, "eu");
        assert_eq!(adopted.shared_config(), text);
        // Turning it off is a change of the flow.
        let off = load_text(".properties", PROPERTIES);
        let changes = off.shared_changes(&from_properties);
        let keys: Vec<&str> = changes[0].settings.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "exactly_once",
                "transaction_interval_ms",
                "transaction_timeout_ms",
                "transactional_id_prefix"
            ]
        );
    }

    #[test]
    fn adopting_the_text_reproduces_the_flows_and_is_a_fixed_point() {
        let own = load_text(".toml", TOML);
        let text = own.shared_config();
        let adopted = own.with_shared_config(&text).unwrap();
        assert_eq!(adopted.shared_config(), text);
        let (a, b) = (&own.flows[0], &adopted.flows[0]);
        assert_eq!(a.id, b.id);
        assert_eq!(a.consumer, b.consumer);
        assert_eq!(a.producer, b.producer);
        assert_eq!(a.replication_factor, b.replication_factor);
        assert_eq!(
            a.config_properties_exclude.as_str(),
            b.config_properties_exclude.as_str()
        );
        assert!(b.topics.matches("orders-eu") && !b.topics.matches("payments-eu"));
        assert_eq!(adopted.node, own.node);
    }

    #[test]
    fn a_changed_flow_changes_the_text() {
        let one = load_text(".toml", TOML).shared_config();
        let two = load_text(
            ".toml",
            &TOML.replace("replication_factor = 3", "replication_factor = 2"),
        )
        .shared_config();
        assert_ne!(one, two);
    }

    const PAIRS_PROPERTIES: &str = "clusters = A, B, C\n\
        A.bootstrap.servers = a:9092\n\
        B.bootstrap.servers = b:9092\n\
        C.bootstrap.servers = c:9092\n\
        A->B.enabled = true\n\
        emit.heartbeats.interval.seconds = 5\n\
        B->A.emit.heartbeats.interval.seconds = 2\n\
        B->A.heartbeats.topic.replication.factor = 1\n\
        B->A.target.admin.client.id = hb\n\
        B->A.topics = x\n\
        C->A.emit.heartbeats.enabled = false\n";

    const PAIRS_TOML: &str = r#"
[clusters.A]
bootstrap_servers = "a:9092"
[clusters.B]
bootstrap_servers = "b:9092"
[clusters.C]
bootstrap_servers = "c:9092"
[flows."A->B"]
[flows."B->A"]
enabled = false
topics = ["x"]
emit_heartbeats_interval_secs = 2
heartbeats_topic_replication_factor = 1
[flows."B->A".target_admin]
"client.id" = "hb"
[flows."C->A"]
enabled = false
emit_heartbeats_enabled = false
"#;

    /// `(pair, interval in seconds or None when off, replication factor)`.
    fn pairs(settings: &crate::Settings) -> Vec<(String, Option<u64>, Option<i16>)> {
        settings
            .pair_heartbeats
            .iter()
            .map(|p| {
                let every = p.enabled.then_some(p.interval.as_secs());
                (p.id.to_string(), every, p.topic_replication_factor)
            })
            .collect()
    }

    #[test]
    fn every_pair_without_a_flow_gets_heartbeats_set_by_its_keys_then_the_file_level_ones() {
        let properties = load_text(".properties", PAIRS_PROPERTIES);
        let pair = |id: &str, every, rf| (id.to_owned(), every, rf);
        assert_eq!(
            pairs(&properties),
            [
                pair("A->C", Some(5), None),
                pair("B->A", Some(2), Some(1)),
                pair("B->C", Some(5), None),
                pair("C->A", None, None),
                pair("C->B", Some(5), None),
            ]
        );
        assert_eq!(
            properties.flows[0].mm2.emit_heartbeats_interval.as_secs(),
            5
        );
        let ignored: Vec<&str> = properties.ignored.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(ignored, ["B->A.topics"]);
        let b_to_a = &properties.pair_heartbeats[1];
        assert_eq!(b_to_a.target_admin["client.id"], "hb");
        assert_eq!(b_to_a.target_admin["bootstrap.servers"], "a:9092");
        let described = properties.describe();
        assert!(
            described.contains("  B->A: every 2s to heartbeats on A (replication factor 1)\n"),
            "{described}"
        );
        assert!(described.contains("  C->A: off\n"), "{described}");

        // TOML has no file-level flow settings: a pair's table (enabled = false) or the defaults.
        let toml = load_text(".toml", PAIRS_TOML);
        assert_eq!(
            pairs(&toml),
            [
                pair("A->C", Some(1), None),
                pair("B->A", Some(2), Some(1)),
                pair("B->C", Some(1), None),
                pair("C->A", None, None),
                pair("C->B", Some(1), None),
            ]
        );
        assert_eq!(toml.pair_heartbeats[1], b_to_a.clone());
    }

    #[test]
    fn the_pairs_are_part_of_the_shared_text() {
        for own in [
            load_text(".properties", PAIRS_PROPERTIES),
            load_text(".toml", PAIRS_TOML),
        ] {
            let text = own.shared_config();
            assert!(text.contains("[flows.\"C->A\"]"), "{text}");
            let adopted = own.with_shared_config(&text).unwrap();
            assert_eq!(adopted.pair_heartbeats, own.pair_heartbeats);
            assert_eq!(adopted.shared_config(), text);
        }
        // A cluster only pairs without heartbeats would use is left out, with its pairs.
        let quiet = load_text(
            ".properties",
            &format!("{PROPERTIES}clusters = A, B, C\nC.bootstrap.servers = c:9092\nemit.heartbeats.enabled = false\n"),
        );
        let text = quiet.shared_config();
        assert!(!text.contains("c:9092") && !text.contains("C->"), "{text}");
        let adopted = quiet.with_shared_config(&text).unwrap();
        assert_eq!(pairs(&adopted), [("B->A".to_owned(), None, None)]);
    }
}
