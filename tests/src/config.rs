//! Strait config files for tests, in the native TOML format and the MirrorMaker 2 properties
//! format.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A node config: clusters and flows.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub progress_interval_secs: u64,
    /// `(alias, bootstrap servers)`.
    pub clusters: Vec<(String, String)>,
    pub flows: Vec<Flow>,
    /// Extra librdkafka properties for every cluster's consumers (TOML only).
    pub consumer_props: Vec<(String, String)>,
    /// `(alias, key, value)`: client properties of every client of a cluster, written as given:
    /// librdkafka names in TOML (`[clusters.A.client]`), Java names in mm2.properties (`A.key`).
    pub client_props: Vec<(String, String, String)>,
    /// The node's gRPC (Raft transport) listen port: a free one, so tests can run side by side.
    pub cluster_port: u16,
    /// The address the node's gRPC server listens on (`[cluster] listen`, with
    /// [`Config::cluster_port`]): `127.0.0.1` unless the node runs in a network namespace of its
    /// own ([`crate::netns`]).
    pub cluster_host: std::net::Ipv4Addr,
    /// This node's place in a Strait cluster (`[cluster]`); the default is a cluster of one.
    pub cluster: ClusterSettings,
    /// `[node] metrics_listen` / `strait.metrics.listen`: the Prometheus endpoint; `None`: none.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Whether the pairs of clusters without a flow write heartbeats (MirrorMaker 2's default).
    /// Off unless set: a source's `heartbeats` would be replicated as one more partition, and
    /// tests count partitions. When off, each such pair is written disabled with
    /// `emit.heartbeats.enabled = false`.
    pub pair_heartbeats: bool,
    /// More `key = value` lines for `[node]`, written as given (TOML only).
    pub node_extra: Vec<String>,
}

/// The `[cluster]` settings beyond `listen` (`<cluster_host>:<cluster_port>`). `None` / empty
/// values are not written, so the node's defaults apply. TOML only: [`Config::properties`]
/// writes just the listen address.
#[derive(Debug, Clone, Default)]
pub struct ClusterSettings {
    pub node_id: Option<u64>,
    /// `ID@HOST:PORT` of every initial voter, this node included.
    pub peers: Vec<String>,
    /// `HOST:PORT` of a member of a running cluster (instead of `peers`).
    pub join: Option<String>,
    /// `HOST:PORT` other nodes reach this one at.
    pub advertise: Option<String>,
    pub cluster_id: Option<String>,
    pub liveness_timeout_ms: Option<u64>,
    pub position_interval_ms: Option<u64>,
    /// `control_token`: the bearer token the control API requires.
    pub control_token: Option<String>,
    /// `health_listen`: the plaintext health server's `IP:PORT`.
    pub health_listen: Option<String>,
    /// `[cluster.tls]`.
    pub tls: Option<TlsSettings>,
}

/// `[cluster.tls]`: this node's certificate and key, the CA, and whether clients need a
/// certificate (`None`: the node's default, yes).
#[derive(Debug, Clone)]
pub struct TlsSettings {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
    pub require_client_cert: Option<bool>,
}

/// One replication flow.
#[derive(Debug, Clone)]
pub struct Flow {
    pub id: String,
    pub source: String,
    pub target: String,
    /// Include regexes.
    pub topics: Vec<String>,
    /// Exclude regexes.
    pub topics_exclude: Vec<String>,
    /// `replication_policy = "identity"` (remote topic keeps the source name).
    pub identity: bool,
    pub replication_factor: i32,
    pub refresh_topics_interval_secs: u64,
    pub max_in_flight_records: usize,
    pub max_in_flight_bytes: usize,
    pub position_flush_interval_ms: u64,
    /// More `key = value` lines for the flow's TOML table, written as given (TOML only).
    pub toml_extra: Vec<String>,
}

impl Flow {
    /// A flow `source -> target` (id `<source><target>` lowercased) replicating `topics`, with the
    /// test defaults: RF from [`crate::mode::replication_factor`], topic refresh every second,
    /// 5000 records / 8 MiB in flight, positions flushed every 100 ms.
    pub fn new(source: &str, target: &str, topics: &[&str]) -> Flow {
        Flow {
            id: format!("{source}{target}").to_lowercase(),
            source: source.to_owned(),
            target: target.to_owned(),
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
            topics_exclude: Vec::new(),
            identity: false,
            replication_factor: crate::mode::replication_factor(),
            refresh_topics_interval_secs: 1,
            max_in_flight_records: 5000,
            max_in_flight_bytes: 8 * 1024 * 1024,
            position_flush_interval_ms: 100,
            toml_extra: Vec::new(),
        }
    }
}

impl Config {
    /// Clusters `A` (source, at `source`) and `B` (target) and one flow `A -> B` replicating
    /// `topics`.
    pub fn a_to_b(source: &str, target: &str, data_dir: &Path, topics: &[&str]) -> Config {
        Config {
            data_dir: data_dir.to_owned(),
            progress_interval_secs: 1,
            clusters: vec![
                ("A".to_owned(), source.to_owned()),
                ("B".to_owned(), target.to_owned()),
            ],
            flows: vec![Flow::new("A", "B", topics)],
            consumer_props: Vec::new(),
            client_props: Vec::new(),
            cluster_port: crate::broker::free_port(),
            cluster_host: std::net::Ipv4Addr::LOCALHOST,
            cluster: ClusterSettings::default(),
            metrics_listen: None,
            pair_heartbeats: false,
            node_extra: Vec::new(),
        }
    }

    /// `(source, target)` of every ordered pair of clusters without a flow, when their heartbeats
    /// are off (see [`Config::pair_heartbeats`]).
    fn quiet_pairs(&self) -> Vec<(&str, &str)> {
        if self.pair_heartbeats {
            return Vec::new();
        }
        let mut pairs = Vec::new();
        for (source, _) in &self.clusters {
            for (target, _) in &self.clusters {
                let has_flow = self
                    .flows
                    .iter()
                    .any(|f| f.source == *source && f.target == *target);
                if source != target && !has_flow {
                    pairs.push((source.as_str(), target.as_str()));
                }
            }
        }
        pairs
    }

    /// Adds a client property for every client of cluster `alias` (see [`Config::client_props`]).
    pub fn client_prop(&mut self, alias: &str, key: &str, value: &str) -> &mut Config {
        self.client_props
            .push((alias.to_owned(), key.to_owned(), value.to_owned()));
        self
    }

    fn client_props_of<'a>(&'a self, alias: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.client_props
            .iter()
            .filter(move |(a, _, _)| a == alias)
            .map(|(_, k, v)| (k.as_str(), v.as_str()))
    }

    /// The first flow, to adjust it.
    pub fn flow(&mut self) -> &mut Flow {
        self.flows.first_mut().expect("a flow")
    }

    /// The native TOML format. Source consumers get `fetch.wait.max.ms = 10` (Tansu does not
    /// wake a waiting Fetch when data arrives).
    pub fn toml(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "[node]");
        let _ = writeln!(
            out,
            "data_dir = {}",
            quote(&self.data_dir.to_string_lossy())
        );
        let _ = writeln!(
            out,
            "progress_interval_secs = {}",
            self.progress_interval_secs
        );
        if let Some(addr) = self.metrics_listen {
            let _ = writeln!(out, "metrics_listen = \"{addr}\"");
        }
        for line in &self.node_extra {
            let _ = writeln!(out, "{line}");
        }
        let _ = writeln!(out, "\n[cluster]");
        let _ = writeln!(
            out,
            "listen = \"{}:{}\"",
            self.cluster_host, self.cluster_port
        );
        let cluster = &self.cluster;
        if let Some(id) = cluster.node_id {
            let _ = writeln!(out, "node_id = {id}");
        }
        if !cluster.peers.is_empty() {
            let _ = writeln!(out, "peers = {}", array(&cluster.peers));
        }
        if let Some(join) = &cluster.join {
            let _ = writeln!(out, "join = {}", quote(join));
        }
        if let Some(advertise) = &cluster.advertise {
            let _ = writeln!(out, "advertise = {}", quote(advertise));
        }
        if let Some(id) = &cluster.cluster_id {
            let _ = writeln!(out, "cluster_id = {}", quote(id));
        }
        if let Some(ms) = cluster.liveness_timeout_ms {
            let _ = writeln!(out, "liveness_timeout_ms = {ms}");
        }
        if let Some(ms) = cluster.position_interval_ms {
            let _ = writeln!(out, "position_interval_ms = {ms}");
        }
        if let Some(token) = &cluster.control_token {
            let _ = writeln!(out, "control_token = {}", quote(token));
        }
        if let Some(address) = &cluster.health_listen {
            let _ = writeln!(out, "health_listen = {}", quote(address));
        }
        if let Some(tls) = &cluster.tls {
            let _ = writeln!(out, "[cluster.tls]");
            let _ = writeln!(out, "cert = {}", quote(&tls.cert.to_string_lossy()));
            let _ = writeln!(out, "key = {}", quote(&tls.key.to_string_lossy()));
            let _ = writeln!(out, "ca = {}", quote(&tls.ca.to_string_lossy()));
            if let Some(require) = tls.require_client_cert {
                let _ = writeln!(out, "require_client_cert = {require}");
            }
        }
        for (alias, bootstrap) in &self.clusters {
            let _ = writeln!(out, "\n[clusters.{alias}]");
            let _ = writeln!(out, "bootstrap_servers = {}", quote(bootstrap));
            let mut client = self.client_props_of(alias).peekable();
            if client.peek().is_some() {
                let _ = writeln!(out, "[clusters.{alias}.client]");
            }
            for (key, value) in client {
                let _ = writeln!(out, "{} = {}", quote(key), quote(value));
            }
            let _ = writeln!(out, "[clusters.{alias}.consumer]");
            let _ = writeln!(out, "\"fetch.wait.max.ms\" = \"10\"");
            for (key, value) in &self.consumer_props {
                let _ = writeln!(out, "{} = {}", quote(key), quote(value));
            }
        }
        for flow in &self.flows {
            let _ = writeln!(out, "\n[flows.{}]", flow.id);
            let _ = writeln!(out, "source = {}", quote(&flow.source));
            let _ = writeln!(out, "target = {}", quote(&flow.target));
            let _ = writeln!(out, "topics = {}", array(&flow.topics));
            let _ = writeln!(out, "topics_exclude = {}", array(&flow.topics_exclude));
            if flow.identity {
                let _ = writeln!(out, "replication_policy = \"identity\"");
            }
            let _ = writeln!(out, "replication_factor = {}", flow.replication_factor);
            let _ = writeln!(
                out,
                "refresh_topics_interval_secs = {}",
                flow.refresh_topics_interval_secs
            );
            let _ = writeln!(
                out,
                "max_in_flight_records = {}",
                flow.max_in_flight_records
            );
            let _ = writeln!(out, "max_in_flight_bytes = {}", flow.max_in_flight_bytes);
            let _ = writeln!(
                out,
                "position_flush_interval_ms = {}",
                flow.position_flush_interval_ms
            );
            for line in &flow.toml_extra {
                let _ = writeln!(out, "{line}");
            }
        }
        for (source, target) in self.quiet_pairs() {
            let _ = writeln!(out, "\n[flows.\"{source}->{target}\"]");
            let _ = writeln!(out, "enabled = false");
            let _ = writeln!(out, "emit_heartbeats_enabled = false");
        }
        out
    }

    /// The MirrorMaker 2 `mm2.properties` format (only the keys MirrorMaker 2 knows, plus
    /// `strait.data.dir`).
    pub fn properties(&self) -> String {
        let mut out = String::new();
        let aliases: Vec<&str> = self.clusters.iter().map(|(a, _)| a.as_str()).collect();
        let _ = writeln!(out, "# written by strait-tests");
        let _ = writeln!(out, "clusters = {}", aliases.join(", "));
        for (alias, bootstrap) in &self.clusters {
            let _ = writeln!(out, "{alias}.bootstrap.servers = {bootstrap}");
            for (key, value) in self.client_props_of(alias) {
                let _ = writeln!(out, "{alias}.{key} = {value}");
            }
        }
        let _ = writeln!(out, "strait.data.dir = {}", self.data_dir.display());
        let _ = writeln!(
            out,
            "strait.cluster.listen = {}:{}",
            self.cluster_host, self.cluster_port
        );
        if let Some(addr) = self.metrics_listen {
            let _ = writeln!(out, "strait.metrics.listen = {addr}");
        }
        for flow in &self.flows {
            let name = format!("{}->{}", flow.source, flow.target);
            let _ = writeln!(out, "{name}.enabled = true");
            let _ = writeln!(out, "{name}.topics = {}", flow.topics.join(", "));
            if !flow.topics_exclude.is_empty() {
                let _ = writeln!(
                    out,
                    "{name}.topics.exclude = {}",
                    flow.topics_exclude.join(", ")
                );
            }
            if flow.identity {
                let _ = writeln!(
                    out,
                    "{name}.replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy"
                );
            }
            let _ = writeln!(
                out,
                "{name}.replication.factor = {}",
                flow.replication_factor
            );
            let _ = writeln!(
                out,
                "{name}.refresh.topics.interval.seconds = {}",
                flow.refresh_topics_interval_secs
            );
        }
        for (source, target) in self.quiet_pairs() {
            let _ = writeln!(out, "{source}->{target}.emit.heartbeats.enabled = false");
        }
        out
    }
}

/// A TOML basic string.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn array(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| quote(i)).collect();
    format!("[{}]", quoted.join(", "))
}
