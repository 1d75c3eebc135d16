//! Apache Kafka clusters for tests, the demo and the benchmarks: KRaft brokers started from the
//! jars that `scripts/install-kafka.sh` resolves (`~/.cache/strait/kafka-<version>/libs`, or
//! `$KAFKA_LIBS`), each a `java` process on free ports of 127.0.0.1 with a small heap.
//!
//! A cluster of one is a combined broker and controller (`process.roles=broker,controller`); a
//! cluster of three has node 1 as broker and controller and nodes 2 and 3 as brokers only, so any
//! of those two can be stopped while the metadata quorum stays up. Storage is formatted with
//! Kafka's own `kafka.tools.StorageTool format`, one process per node, in parallel.
//!
//! With [`KafkaSpec::sasl`] every broker also listens with SASL_SSL and SASL_PLAINTEXT (mechanisms
//! SCRAM-SHA-512 and PLAIN), on a certificate of a test CA of the cluster's own, and optionally
//! runs Kafka's `StandardAuthorizer`. The PLAINTEXT listener stays: brokers talk to each other on
//! it and the tests' own clients (admin, producers, readers) use it as `User:ANONYMOUS`, a super
//! user, so every fixture works unchanged; what a test checks goes through the SASL listeners.

use std::fs::{self, File};
use std::io::Write as _;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::{die_with_test, signal};
use crate::tls::TestCa;
use crate::{admin, names};

/// How long a Kafka cluster may take from spawning its brokers to answering Metadata with every
/// broker registered (JVM start-up on a loaded 2-core machine takes seconds).
const READY_DEADLINE: Duration = Duration::from_secs(90);
/// Attempts at starting a cluster on free ports (another process may take a port between our
/// probe and the broker's bind).
const PORT_ATTEMPTS: usize = 4;
/// JVM options of every broker unless `STRAIT_KAFKA_JVM_OPTS` replaces them: a small heap, the
/// serial collector (one GC thread on a 2-core machine shared with everything else).
const DEFAULT_JVM_OPTS: &str = "-Xms64m -Xmx512m -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError";

/// What to start.
#[derive(Debug, Clone)]
pub struct KafkaSpec {
    /// Number of brokers (1: combined broker and controller; more: node 1 is also the controller).
    pub brokers: usize,
    /// Fixed client port of broker 1 (the demo's); `None`: free ports.
    pub port: Option<u16>,
    /// Lines added to (or overriding) every broker's `server.properties`.
    pub server_props: Vec<(String, String)>,
    /// SASL_SSL and SASL_PLAINTEXT listeners next to the PLAINTEXT one; `None`: PLAINTEXT only.
    pub sasl: Option<SaslSpec>,
    /// The address the client listeners bind and advertise (and [`KafkaCluster::bootstrap`]
    /// names): one reachable from elsewhere than this host's loopback, e.g. a bridge address
    /// that network namespaces reach ([`crate::netns`]). `None`: `127.0.0.1`. The controller
    /// listener stays on `127.0.0.1`.
    pub host: Option<std::net::Ipv4Addr>,
}

/// The users and the authorizer of a cluster's SASL listeners (see [`KafkaSpec::sasl`]).
#[derive(Debug, Clone, Default)]
pub struct SaslSpec {
    /// `(name, password)` of SCRAM-SHA-512 users, created when the storage is formatted.
    pub scram_users: Vec<(String, String)>,
    /// `(name, password)` of PLAIN users (the listeners' JAAS configuration).
    pub plain_users: Vec<(String, String)>,
    /// Kafka's `StandardAuthorizer` with these super users (names without `User:`) besides
    /// `ANONYMOUS` (the PLAINTEXT listener: brokers and test clients); `None`: no authorizer,
    /// every authenticated user may do everything.
    pub super_users: Option<Vec<String>>,
}

impl SaslSpec {
    /// `name` as a SCRAM-SHA-512 user and as a PLAIN user, with the same password.
    pub fn user(mut self, name: &str, password: &str) -> SaslSpec {
        self.scram_users
            .push((name.to_owned(), password.to_owned()));
        self.plain_users
            .push((name.to_owned(), password.to_owned()));
        self
    }

    /// Turns the authorizer on, with `super_users` as super users.
    pub fn authorizer(mut self, super_users: &[&str]) -> SaslSpec {
        self.super_users = Some(super_users.iter().map(|u| (*u).to_owned()).collect());
        self
    }
}

impl Default for KafkaSpec {
    fn default() -> Self {
        KafkaSpec {
            brokers: 1,
            port: None,
            server_props: Vec::new(),
            sasl: None,
            host: None,
        }
    }
}

impl KafkaSpec {
    /// `brokers` brokers on free ports, Kafka's defaults plus the tests' settings.
    pub fn brokers(brokers: usize) -> KafkaSpec {
        KafkaSpec {
            brokers,
            ..KafkaSpec::default()
        }
    }

    /// Adds or overrides one broker setting.
    pub fn with(mut self, key: &str, value: &str) -> KafkaSpec {
        self.server_props.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Adds the SASL listeners, users and authorizer of `sasl`.
    pub fn with_sasl(mut self, sasl: SaslSpec) -> KafkaSpec {
        self.sasl = Some(sasl);
        self
    }

    /// Client listeners on `host` instead of `127.0.0.1` (see [`KafkaSpec::host`]).
    pub fn on_host(mut self, host: std::net::Ipv4Addr) -> KafkaSpec {
        self.host = Some(host);
        self
    }
}

/// A running Apache Kafka cluster. Dropping it kills every broker and removes its data.
pub struct KafkaCluster {
    nodes: Vec<KafkaNode>,
    bootstrap: String,
    /// The SASL listeners and the CA that signed the brokers' certificate, when asked for.
    sasl: Option<SaslListeners>,
    libs: PathBuf,
    /// Data and logs of every node; removed on drop unless kept (see [`KafkaCluster::keep_dir`]).
    dir: Option<tempfile::TempDir>,
}

/// Bootstrap addresses of the SASL listeners and the CA their certificate chains to.
struct SaslListeners {
    ssl_bootstrap: String,
    plaintext_bootstrap: String,
    ca: TestCa,
}

struct KafkaNode {
    id: usize,
    /// The client listeners' address.
    host: std::net::Ipv4Addr,
    port: u16,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

/// One record batch of a partition's log, as `DumpLogSegments` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub base_offset: i64,
    pub last_offset: i64,
    /// The producer that wrote it (-1: not an idempotent or transactional producer).
    pub producer_id: i64,
    /// `none`, `gzip`, `snappy`, `lz4` or `zstd`.
    pub codec: String,
}

impl Batch {
    /// A batch line of `DumpLogSegments` (`key: value` pairs), `None` for any other line.
    fn parse(line: &str) -> Option<Batch> {
        let field = |name: &str| -> Option<&str> {
            line.split(&format!("{name}: "))
                .nth(1)?
                .split_whitespace()
                .next()
        };
        if !line.starts_with("baseOffset: ") {
            return None;
        }
        Some(Batch {
            base_offset: field("baseOffset")?.parse().ok()?,
            last_offset: field("lastOffset")?.parse().ok()?,
            producer_id: field("producerId")?.parse().ok()?,
            codec: field("compresscodec")?.to_ascii_lowercase(),
        })
    }
}

impl KafkaCluster {
    /// Starts a cluster as `spec` says, under a new temporary folder, and waits until every
    /// broker answers. The brokers die with the calling thread (see [`die_with_test`]).
    pub fn start(spec: &KafkaSpec) -> KafkaCluster {
        KafkaCluster::start_all(std::slice::from_ref(spec))
            .pop()
            .expect("one cluster")
    }

    /// Starts one cluster per spec, all at once (JVM start-up overlaps), from the calling thread:
    /// the brokers die with it.
    pub fn start_all(specs: &[KafkaSpec]) -> Vec<KafkaCluster> {
        let libs = libs_dir();
        let mut started: Vec<Option<KafkaCluster>> = specs.iter().map(|_| None).collect();
        let mut last_failure = String::new();
        for attempt in 0..PORT_ATTEMPTS {
            let pending: Vec<usize> = (0..specs.len()).filter(|i| started[*i].is_none()).collect();
            if pending.is_empty() {
                break;
            }
            let prepared: Vec<(usize, Result<KafkaCluster, String>)> = pending
                .iter()
                .map(|i| (*i, prepare(&specs[*i], &libs)))
                .collect();
            let mut launched = Vec::new();
            for (i, cluster) in prepared {
                match cluster.and_then(|mut c| c.spawn_all().map(|()| c)) {
                    Ok(cluster) => launched.push((i, cluster)),
                    Err(failure) => last_failure = failure,
                }
            }
            for (i, mut cluster) in launched {
                let expected = cluster.nodes.len();
                match wait_ready(&mut cluster, expected) {
                    Ok(()) => started[i] = Some(cluster),
                    Err(failure) => last_failure = failure,
                }
            }
            // A fixed port that failed will fail again.
            if attempt == 0
                && specs.iter().any(|s| s.port.is_some())
                && started.iter().any(Option::is_none)
            {
                break;
            }
        }
        started
            .into_iter()
            .map(|c| {
                c.unwrap_or_else(|| {
                    panic!(
                        "could not start Apache Kafka ({}): {last_failure}",
                        libs.display()
                    )
                })
            })
            .collect()
    }

    /// `host:port` of every broker, comma-separated, for `bootstrap.servers`.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// `host:port` of every broker's SASL_SSL listener (SCRAM-SHA-512 and PLAIN, TLS with a
    /// certificate of [`Self::ca_file`] valid for `127.0.0.1` and `localhost`).
    pub fn sasl_ssl_bootstrap(&self) -> &str {
        &self.sasl_listeners().ssl_bootstrap
    }

    /// `host:port` of every broker's SASL_PLAINTEXT listener (SCRAM-SHA-512 and PLAIN).
    pub fn sasl_plaintext_bootstrap(&self) -> &str {
        &self.sasl_listeners().plaintext_bootstrap
    }

    /// The PEM file of the CA the SASL_SSL listeners' certificate chains to.
    pub fn ca_file(&self) -> &Path {
        &self.sasl_listeners().ca.ca_file
    }

    /// Grants or denies access: see [`acl_command`].
    pub fn acl(&self, args: &[&str]) {
        acl_command(&self.bootstrap, args);
    }

    fn sasl_listeners(&self) -> &SaslListeners {
        self.sasl.as_ref().unwrap_or_else(|| {
            panic!(
                "the Kafka cluster at {} has no SASL listeners (KafkaSpec::with_sasl)",
                self.bootstrap
            )
        })
    }

    /// Process ids of the running brokers.
    pub fn pids(&self) -> Vec<u32> {
        self.nodes
            .iter()
            .filter_map(|n| n.child.as_ref().map(Child::id))
            .collect()
    }

    /// Number of brokers (running or not).
    pub fn size(&self) -> usize {
        self.nodes.len()
    }

    /// Sends `sig` to every running broker (SIGSTOP freezes the cluster, SIGCONT resumes it).
    pub fn signal_all(&self, sig: libc::c_int) {
        for pid in self.pids() {
            signal(pid, sig);
        }
    }

    /// Kills broker `id` (1-based; SIGKILL) and waits for it: its data stays, [`Self::start_broker`]
    /// brings it back.
    pub fn kill_broker(&mut self, id: usize) {
        let node = self.node_mut(id);
        if let Some(mut child) = node.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts broker `id` again on its old ports and data, and waits until the cluster answers
    /// Metadata with every running broker.
    pub fn start_broker(&mut self, id: usize) {
        let libs = self.libs.clone();
        let node = self.node_mut(id);
        assert!(node.child.is_none(), "broker {id} is running");
        node.child =
            Some(spawn_broker(&libs, &node.config, &node.log).unwrap_or_else(|e| panic!("{e}")));
        let expected = self.nodes.iter().filter(|n| n.child.is_some()).count();
        if let Err(e) = wait_ready(self, expected) {
            panic!("{e}");
        }
    }

    /// The output of every broker so far, each headed by its id.
    pub fn log(&self) -> String {
        let mut out = String::new();
        for node in &self.nodes {
            let text = fs::read_to_string(&node.log).unwrap_or_default();
            out.push_str(&format!(
                "--- kafka broker {} ({}):\n{text}",
                node.id,
                node.log.display()
            ));
        }
        out
    }

    /// Broker `id`'s log directory (`log.dirs`): `<topic>-<partition>/` folders of segments.
    pub fn data_dir(&self, id: usize) -> PathBuf {
        let node = self
            .nodes
            .iter()
            .find(|n| n.id == id)
            .unwrap_or_else(|| panic!("no Kafka broker {id}"));
        node.config
            .parent()
            .expect("a broker's config is in its folder")
            .join("data")
    }

    /// The compression codec of every record batch of `topic`/`partition` in broker `id`'s
    /// segments, in offset order, as Kafka's own `DumpLogSegments` reads them from disk
    /// (`none`, `gzip`, `snappy`, `lz4`, `zstd`). The active segment is read while the broker
    /// runs: batches the broker acknowledged are in it (the page cache serves them).
    pub fn batch_codecs(&self, id: usize, topic: &str, partition: i32) -> Vec<String> {
        self.batches(id, &[(topic, partition)])
            .remove(0)
            .into_iter()
            .map(|b| b.codec)
            .collect()
    }

    /// Every record batch of each `(topic, partition)` in broker `id`'s segments, in offset
    /// order, as `DumpLogSegments` reads them from disk (one JVM for all of them): which producer
    /// wrote which offsets. See [`KafkaCluster::batch_codecs`] about the active segment.
    pub fn batches(&self, id: usize, partitions: &[(&str, i32)]) -> Vec<Vec<Batch>> {
        // Segment names are their zero-padded base offsets: sorted, they are in offset order.
        let segments: Vec<Vec<PathBuf>> = partitions
            .iter()
            .map(|(topic, partition)| {
                let dir = self.data_dir(id).join(format!("{topic}-{partition}"));
                let mut segments: Vec<PathBuf> = fs::read_dir(&dir)
                    .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "log"))
                    .collect();
                segments.sort();
                segments
            })
            .collect();
        let files: Vec<String> = segments
            .iter()
            .flatten()
            .map(|p| p.display().to_string())
            .collect();
        if files.is_empty() {
            return partitions.iter().map(|_| Vec::new()).collect();
        }
        let mut command = java(&self.libs);
        command
            .args([
                "-Xmx256m",
                "org.apache.kafka.tools.DumpLogSegments",
                "--files",
            ])
            .arg(files.join(","))
            .stdin(Stdio::null());
        let output = die_with_test(&mut command)
            .output()
            .unwrap_or_else(|e| panic!("running DumpLogSegments: {e}"));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "DumpLogSegments {files:?} failed ({}):\n{stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        // "Dumping <file>" heads each file's batches, one line per batch: "baseOffset: 0
        // lastOffset: 9 count: 10 ... producerId: 0 ... compresscodec: zstd ...".
        let mut by_file: std::collections::HashMap<String, Vec<Batch>> = Default::default();
        let mut current: Option<String> = None;
        for line in stdout.lines() {
            if let Some(file) = line.strip_prefix("Dumping ") {
                current = Some(file.trim().to_owned());
                continue;
            }
            let (Some(file), Some(batch)) = (&current, Batch::parse(line)) else {
                continue;
            };
            by_file.entry(file.clone()).or_default().push(batch);
        }
        segments
            .iter()
            .map(|segments| {
                segments
                    .iter()
                    .flat_map(|p| by_file.remove(&p.display().to_string()).unwrap_or_default())
                    .collect()
            })
            .collect()
    }

    /// Keeps the cluster's folder when the cluster is dropped (for a process that outlives the
    /// test, like `strait-kafka`); returns its path.
    pub fn keep_dir(&mut self) -> PathBuf {
        self.dir.take().map(|d| d.keep()).unwrap_or_default()
    }

    fn spawn_all(&mut self) -> Result<(), String> {
        for node in &mut self.nodes {
            node.child = Some(spawn_broker(&self.libs, &node.config, &node.log)?);
        }
        Ok(())
    }

    fn node_mut(&mut self, id: usize) -> &mut KafkaNode {
        self.nodes
            .iter_mut()
            .find(|n| n.id == id)
            .unwrap_or_else(|| panic!("no Kafka broker {id}"))
    }
}

impl Drop for KafkaCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                // SIGKILL also ends a stopped (SIGSTOP) process.
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Grants or denies access on the cluster whose PLAINTEXT listener is at `bootstrap` (the tests'
/// super user `ANONYMOUS`) with Kafka's own `AclCommand`: `args` follow `--bootstrap-server`, e.g.
/// `["--add", "--allow-principal", "User:strait", "--operation", "All", "--topic", "*"]`.
/// Returns when the command did (the ACL is in the metadata log; brokers apply it within
/// moments).
pub fn acl_command(bootstrap: &str, args: &[&str]) {
    let mut command = java(&libs_dir());
    command
        .args(["-Xmx128m", "org.apache.kafka.tools.AclCommand"])
        .args(["--bootstrap-server", bootstrap])
        .args(args)
        .stdin(Stdio::null());
    let output = die_with_test(&mut command)
        .output()
        .unwrap_or_else(|e| panic!("running AclCommand (is Java installed?): {e}"));
    assert!(
        output.status.success(),
        "AclCommand {args:?} on {bootstrap} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The folder of the Kafka jars: `$KAFKA_LIBS`, else the one `scripts/install-kafka.sh` fills.
pub fn libs_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KAFKA_LIBS").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        assert!(
            dir.join("log4j2.properties").is_file(),
            "KAFKA_LIBS={} holds no Kafka install (run scripts/install-kafka.sh)",
            dir.display()
        );
        return dir;
    }
    installed_libs().unwrap_or_else(|| {
        panic!(
            "Apache Kafka's jars were not found (KAFKA_LIBS, ~/.cache/strait/kafka-*/libs): run \
             scripts/install-kafka.sh"
        )
    })
}

/// The newest folder `scripts/install-kafka.sh` completed, if any.
pub fn installed_libs() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("KAFKA_LIBS").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let cache = PathBuf::from(std::env::var_os("HOME")?).join(".cache/strait");
    let mut found: Vec<PathBuf> = fs::read_dir(cache)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("kafka-"))
        })
        .map(|p| p.join("libs"))
        .filter(|libs| complete(libs))
        .collect();
    found.sort();
    found.pop()
}

fn complete(libs: &Path) -> bool {
    fs::read_dir(libs).is_ok_and(|entries| {
        entries
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().starts_with(".complete-"))
    })
}

/// A new KRaft cluster id: 16 random bytes, URL-safe base64 without padding (Kafka's `Uuid`).
fn cluster_uuid() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&names::random_u64().to_le_bytes());
    bytes[8..].copy_from_slice(&names::random_u64().to_le_bytes());
    let mut bits = 0u32;
    let mut held = 0;
    let mut out = String::with_capacity(22);
    for byte in bytes {
        bits = (bits << 8) | u32::from(byte);
        held += 8;
        while held >= 6 {
            held -= 6;
            out.push(ALPHABET[((bits >> held) & 63) as usize] as char);
        }
    }
    out.push(ALPHABET[((bits << (6 - held)) & 63) as usize] as char);
    out
}

/// Writes every node's configuration under a new temporary folder and formats its storage.
fn prepare(spec: &KafkaSpec, libs: &Path) -> Result<KafkaCluster, String> {
    assert!(spec.brokers >= 1, "a Kafka cluster needs a broker");
    let dir = tempfile::Builder::new()
        .prefix("strait-kafka-")
        .tempdir()
        .map_err(|e| format!("temp dir for a Kafka cluster: {e}"))?;
    let controller_port = crate::broker::free_port();
    let ports: Vec<u16> = (0..spec.brokers)
        .map(|i| match (i, spec.port) {
            (0, Some(port)) => port,
            _ => crate::broker::free_port(),
        })
        .collect();
    let cluster_id = cluster_uuid();
    let replication = spec.brokers.min(3);
    // Per broker: (SASL_SSL port, SASL_PLAINTEXT port), when asked for.
    let sasl_ports: Vec<(u16, u16)> = match spec.sasl {
        Some(_) => (0..spec.brokers)
            .map(|_| (crate::broker::free_port(), crate::broker::free_port()))
            .collect(),
        None => Vec::new(),
    };
    let ca = spec.sasl.as_ref().map(|_| TestCa::new("kafka"));
    let host = spec.host.unwrap_or(std::net::Ipv4Addr::LOCALHOST);
    let mut nodes = Vec::new();
    for (index, port) in ports.iter().enumerate() {
        let id = index + 1;
        let node_dir = dir.path().join(format!("broker-{id}"));
        fs::create_dir_all(&node_dir).map_err(|e| format!("{}: {e}", node_dir.display()))?;
        let mut props: Vec<(String, String)> = Vec::new();
        let mut set = |k: &str, v: String| props.push((k.to_owned(), v));
        set("node.id", id.to_string());
        set(
            "controller.quorum.voters",
            format!("1@127.0.0.1:{controller_port}"),
        );
        set("controller.listener.names", "CONTROLLER".into());
        set("inter.broker.listener.name", "PLAINTEXT".into());
        let mut advertised = format!("PLAINTEXT://{host}:{port}");
        let mut protocols = "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT".to_owned();
        if let (Some(sasl), Some(&(ssl_port, plain_port)), Some(ca)) =
            (&spec.sasl, sasl_ports.get(index), &ca)
        {
            advertised.push_str(&format!(
                ",SASL_SSL://{host}:{ssl_port},SASL_PLAINTEXT://{host}:{plain_port}"
            ));
            protocols.push_str(",SASL_SSL:SASL_SSL,SASL_PLAINTEXT:SASL_PLAINTEXT");
            for (key, value) in sasl_props(sasl, ca, id) {
                set(&key, value);
            }
        }
        if id == 1 {
            set("process.roles", "broker,controller".into());
            set(
                "listeners",
                format!("{advertised},CONTROLLER://127.0.0.1:{controller_port}"),
            );
        } else {
            set("process.roles", "broker".into());
            set("listeners", advertised.clone());
        }
        set("advertised.listeners", advertised);
        set("listener.security.protocol.map", protocols);
        set("log.dirs", node_dir.join("data").display().to_string());
        set("offsets.topic.replication.factor", replication.to_string());
        set("offsets.topic.num.partitions", "10".into());
        set(
            "transaction.state.log.replication.factor",
            replication.to_string(),
        );
        set("transaction.state.log.min.isr", "1".into());
        set("transaction.state.log.num.partitions", "10".into());
        set(
            "share.coordinator.state.topic.replication.factor",
            replication.to_string(),
        );
        set("share.coordinator.state.topic.min.isr", "1".into());
        set("group.initial.rebalance.delay.ms", "0".into());
        // Retention and compaction act within seconds (Kafka's defaults wait minutes), so the
        // tests of trimmed and compacted sources see them happen.
        set("log.retention.check.interval.ms", "1000".into());
        set("log.cleaner.backoff.ms", "500".into());
        set("log.initial.task.delay.ms", "0".into());
        for (key, value) in &spec.server_props {
            set(key, value.clone());
        }
        let config = node_dir.join("server.properties");
        write_props(&config, &props)?;
        nodes.push(KafkaNode {
            id,
            host,
            port: *port,
            config,
            log: node_dir.join("kafka.log"),
            child: None,
        });
    }
    let scram_users = spec
        .sasl
        .as_ref()
        .map_or(&[][..], |s| s.scram_users.as_slice());
    format_storage(libs, &cluster_id, &nodes, scram_users)?;
    let list = |ports: &mut dyn Iterator<Item = u16>| {
        ports
            .map(|p| format!("{host}:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let sasl = ca.map(|ca| SaslListeners {
        ssl_bootstrap: list(&mut sasl_ports.iter().map(|p| p.0)),
        plaintext_bootstrap: list(&mut sasl_ports.iter().map(|p| p.1)),
        ca,
    });
    Ok(KafkaCluster {
        bootstrap: list(&mut ports.iter().copied()),
        sasl,
        nodes,
        libs: libs.to_owned(),
        dir: Some(dir),
    })
}

/// The broker settings of the SASL listeners: mechanisms, users, the certificate (inline PEM,
/// which Kafka reads with `ssl.keystore.type=PEM` and no password for an unencrypted key) and the
/// authorizer.
fn sasl_props(sasl: &SaslSpec, ca: &TestCa, id: usize) -> Vec<(String, String)> {
    let cert = ca.issue(&format!("broker-{id}"));
    let read = |path: &Path| {
        fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            // One property line: Java's Properties.load turns `\n` back into a line break.
            .replace('\n', "\\n")
    };
    let plain_users: String = sasl
        .plain_users
        .iter()
        .map(|(name, password)| format!(" user_{name}=\"{password}\""))
        .collect();
    let mut out: Vec<(String, String)> = [
        ("sasl.enabled.mechanisms", "SCRAM-SHA-512,PLAIN".to_owned()),
        ("ssl.keystore.type", "PEM".to_owned()),
        ("ssl.keystore.certificate.chain", read(&cert.cert)),
        ("ssl.keystore.key", read(&cert.key)),
        ("ssl.client.auth", "none".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for listener in ["sasl_ssl", "sasl_plaintext"] {
        out.push((
            format!("listener.name.{listener}.scram-sha-512.sasl.jaas.config"),
            "org.apache.kafka.common.security.scram.ScramLoginModule required;".to_owned(),
        ));
        out.push((
            format!("listener.name.{listener}.plain.sasl.jaas.config"),
            format!(
                "org.apache.kafka.common.security.plain.PlainLoginModule required{plain_users};"
            ),
        ));
    }
    if let Some(super_users) = &sasl.super_users {
        out.push((
            "authorizer.class.name".to_owned(),
            "org.apache.kafka.metadata.authorizer.StandardAuthorizer".to_owned(),
        ));
        let users: Vec<String> = std::iter::once("ANONYMOUS")
            .chain(super_users.iter().map(String::as_str))
            .map(|u| format!("User:{u}"))
            .collect();
        out.push(("super.users".to_owned(), users.join(";")));
    }
    out
}

/// Later lines win, as in Java's `Properties.load`.
fn write_props(path: &Path, props: &[(String, String)]) -> Result<(), String> {
    let mut file = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    for (key, value) in props {
        writeln!(file, "{key}={value}").map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// A `java` command with the Kafka jars of `libs` on its class path and the tests' JVM options.
pub(crate) fn java(libs: &Path) -> Command {
    let mut command = Command::new(std::env::var_os("JAVA").unwrap_or_else(|| "java".into()));
    let opts =
        std::env::var("STRAIT_KAFKA_JVM_OPTS").unwrap_or_else(|_| DEFAULT_JVM_OPTS.to_owned());
    command
        .args(opts.split_whitespace())
        .arg(format!(
            "-Dlog4j2.configurationFile={}",
            libs.join("log4j2.properties").display()
        ))
        .arg("-cp")
        .arg(format!("{}/*", libs.display()));
    command
}

/// `StorageTool format` for every node, in parallel (each is a JVM start, ~2 s).
/// `scram_users` become SCRAM-SHA-512 credentials in the cluster's first metadata.
fn format_storage(
    libs: &Path,
    cluster_id: &str,
    nodes: &[KafkaNode],
    scram_users: &[(String, String)],
) -> Result<(), String> {
    let runs: Vec<_> = nodes
        .iter()
        .map(|node| {
            let mut command = java(libs);
            command
                .args([
                    "-Xmx128m",
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    cluster_id,
                    "-c",
                ])
                .arg(&node.config);
            for (name, password) in scram_users {
                command
                    .arg("--add-scram")
                    .arg(format!("SCRAM-SHA-512=[name={name},password={password}]"));
            }
            command
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            die_with_test(&mut command)
                .spawn()
                .map_err(|e| format!("running java (is Java installed?): {e}"))
        })
        .collect::<Result<_, _>>()?;
    for (node, run) in nodes.iter().zip(runs) {
        let output = run
            .wait_with_output()
            .map_err(|e| format!("waiting for StorageTool: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "formatting broker {}'s storage failed ({}):\n{}{}",
                node.id,
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    }
    Ok(())
}

fn spawn_broker(libs: &Path, config: &Path, log: &Path) -> Result<Child, String> {
    let out = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("{}: {e}", log.display()))?;
    let mut command = java(libs);
    command.arg("kafka.Kafka").arg(config);
    die_with_test(&mut command)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("running java (is Java installed?): {e}"))
}

/// Waits until every running broker accepts connections and the cluster's Metadata lists
/// `expected` brokers. Fails early when a broker exits (typically: its port was taken).
fn wait_ready(cluster: &mut KafkaCluster, expected: usize) -> Result<(), String> {
    let started = Instant::now();
    loop {
        for node in &mut cluster.nodes {
            if let Some(child) = node.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    let log = fs::read_to_string(&node.log).unwrap_or_default();
                    return Err(format!(
                        "Kafka broker {} exited ({status}) while starting on port {}; log:\n{log}",
                        node.id, node.port
                    ));
                }
            }
        }
        if started.elapsed() > READY_DEADLINE {
            return Err(format!(
                "Kafka at {} not ready after {READY_DEADLINE:?}; logs:\n{}",
                cluster.bootstrap,
                cluster.log()
            ));
        }
        let all_listen = cluster.nodes.iter().filter(|n| n.child.is_some()).all(|n| {
            let addr = SocketAddr::from((n.host, n.port));
            TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
        });
        if all_listen
            && admin::broker_count(&cluster.bootstrap, Duration::from_secs(5)) == Some(expected)
        {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_ids_are_22_url_safe_characters_ending_in_a_16_byte_boundary() {
        for _ in 0..100 {
            let id = cluster_uuid();
            assert_eq!(id.len(), 22, "{id}");
            assert!(id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            // 128 bits in 22 characters: the last one carries 2 bits, the rest zero.
            assert!("AQgw".contains(id.chars().last().unwrap()), "{id}");
        }
    }
}
