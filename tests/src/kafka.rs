//! Apache Kafka clusters for tests, the demo and the benchmarks: KRaft brokers started from the
//! jars that `scripts/install-kafka.sh` resolves (`~/.cache/strait/kafka-<version>/libs`, or
//! `$KAFKA_LIBS`), each a `java` process on free ports of 127.0.0.1 with a small heap.
//!
//! A cluster of one is a combined broker and controller (`process.roles=broker,controller`); a
//! cluster of three has node 1 as broker and controller and nodes 2 and 3 as brokers only, so any
//! of those two can be stopped while the metadata quorum stays up. Storage is formatted with
//! Kafka's own `kafka.tools.StorageTool format`, one process per node, in parallel.

use std::fs::{self, File};
use std::io::Write as _;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::{die_with_test, signal};
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
}

impl Default for KafkaSpec {
    fn default() -> Self {
        KafkaSpec {
            brokers: 1,
            port: None,
            server_props: Vec::new(),
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
}

/// A running Apache Kafka cluster. Dropping it kills every broker and removes its data.
pub struct KafkaCluster {
    nodes: Vec<KafkaNode>,
    bootstrap: String,
    libs: PathBuf,
    /// Data and logs of every node; removed on drop unless kept (see [`KafkaCluster::keep_dir`]).
    dir: Option<tempfile::TempDir>,
}

struct KafkaNode {
    id: usize,
    port: u16,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
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
        let dir = self.data_dir(id).join(format!("{topic}-{partition}"));
        let mut segments: Vec<PathBuf> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .collect();
        // Segment names are their zero-padded base offsets.
        segments.sort();
        let mut codecs = Vec::new();
        for segment in segments {
            let mut command = java(&self.libs);
            command
                .args([
                    "-Xmx128m",
                    "org.apache.kafka.tools.DumpLogSegments",
                    "--files",
                ])
                .arg(&segment)
                .stdin(Stdio::null());
            let output = die_with_test(&mut command)
                .output()
                .unwrap_or_else(|e| panic!("running DumpLogSegments: {e}"));
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                output.status.success(),
                "DumpLogSegments {} failed ({}):\n{stdout}{}",
                segment.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
            // One line per batch: "baseOffset: 0 lastOffset: 9 count: 10 ... compresscodec: zstd".
            codecs.extend(stdout.lines().filter_map(|line| {
                let rest = line.split("compresscodec: ").nth(1)?;
                let codec = rest.split_whitespace().next()?;
                Some(codec.to_ascii_lowercase())
            }));
        }
        codecs
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
        if id == 1 {
            set("process.roles", "broker,controller".into());
            set(
                "listeners",
                format!("PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}"),
            );
        } else {
            set("process.roles", "broker".into());
            set("listeners", format!("PLAINTEXT://127.0.0.1:{port}"));
        }
        set(
            "advertised.listeners",
            format!("PLAINTEXT://127.0.0.1:{port}"),
        );
        set(
            "listener.security.protocol.map",
            "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT".into(),
        );
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
            port: *port,
            config,
            log: node_dir.join("kafka.log"),
            child: None,
        });
    }
    format_storage(libs, &cluster_id, &nodes)?;
    Ok(KafkaCluster {
        bootstrap: ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(","),
        nodes,
        libs: libs.to_owned(),
        dir: Some(dir),
    })
}

/// Later lines win, as in Java's `Properties.load`.
fn write_props(path: &Path, props: &[(String, String)]) -> Result<(), String> {
    let mut file = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    for (key, value) in props {
        writeln!(file, "{key}={value}").map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

fn java(libs: &Path) -> Command {
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
fn format_storage(libs: &Path, cluster_id: &str, nodes: &[KafkaNode]) -> Result<(), String> {
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
                .arg(&node.config)
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
            let addr = SocketAddr::from(([127, 0, 0, 1], n.port));
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
