//! A Kafka cluster for a test: an Apache Kafka cluster started by the test ([`crate::kafka`]), a
//! shared one (see [`crate::mode`]), or a Tansu broker process (the fallback, in-memory storage).

use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::kafka::{KafkaCluster, KafkaSpec};
use crate::mode::BrokerKind;
use crate::process::{die_with_test, signal};
use crate::{admin, mode};

/// How long a Tansu broker may take to answer Metadata after it was spawned.
const READY_DEADLINE: Duration = Duration::from_secs(30);
/// Attempts at finding a free port (another process may take the port between our probe and the
/// broker's bind).
const PORT_ATTEMPTS: usize = 5;

/// One Kafka cluster. Dropping a [`Broker`] that owns its processes kills them and waits for them.
pub struct Broker {
    bootstrap: String,
    process: Option<Owned>,
}

enum Owned {
    Tansu(BrokerProcess),
    Kafka(Box<KafkaCluster>),
}

struct BrokerProcess {
    child: Child,
    log: PathBuf,
    paused: AtomicBool,
    /// Holds the log file; removed when the broker is dropped.
    _dir: TempDir,
}

impl Broker {
    /// Starts a cluster of this test's own (Apache Kafka, one broker; Tansu with cluster id
    /// `cluster_id` when `STRAIT_TEST_BROKER=tansu`) on free ports of 127.0.0.1, and waits until
    /// it answers Metadata. For tests that stop, freeze or cut their broker.
    pub fn start(cluster_id: &str) -> Broker {
        match mode::broker_kind() {
            BrokerKind::Kafka => Broker::start_kafka(&KafkaSpec::default()),
            BrokerKind::Tansu => Broker::start_tansu(cluster_id),
        }
    }

    /// Starts an Apache Kafka cluster as `spec` says (e.g. three brokers, or broker settings of
    /// its own), whatever `STRAIT_TEST_BROKER` says.
    pub fn start_kafka(spec: &KafkaSpec) -> Broker {
        let cluster = KafkaCluster::start(spec);
        Broker {
            bootstrap: cluster.bootstrap().to_owned(),
            process: Some(Owned::Kafka(Box::new(cluster))),
        }
    }

    /// Starts one Apache Kafka cluster per spec, all at once (JVM start-ups overlap).
    pub fn start_kafka_all(specs: &[KafkaSpec]) -> Vec<Broker> {
        KafkaCluster::start_all(specs)
            .into_iter()
            .map(|cluster| Broker {
                bootstrap: cluster.bootstrap().to_owned(),
                process: Some(Owned::Kafka(Box::new(cluster))),
            })
            .collect()
    }

    /// Starts a Tansu broker process whose cluster id is `cluster_id`.
    pub fn start_tansu(cluster_id: &str) -> Broker {
        let bin = tansu_bin();
        let mut last_failure = String::new();
        for _ in 0..PORT_ATTEMPTS {
            match try_start(&bin, cluster_id) {
                Ok(broker) => return broker,
                Err(failure) => last_failure = failure,
            }
        }
        panic!(
            "could not start tansu ({}) after {PORT_ATTEMPTS} attempts: {last_failure}",
            bin.display()
        );
    }

    /// A cluster the test does not own: no process, [`Broker::pid`] is `None`.
    pub fn external(bootstrap: &str) -> Broker {
        Broker {
            bootstrap: bootstrap.to_owned(),
            process: None,
        }
    }

    /// The source cluster of a test that needs no broker of its own: the shared source cluster
    /// (see [`crate::mode`]), or a new Tansu broker with cluster id `source`.
    pub fn source() -> Broker {
        match shared_pair() {
            Some((source, _)) => Broker::external(&source),
            None => Broker::start_tansu("source"),
        }
    }

    /// The target cluster of a test that needs no broker of its own: the shared target cluster,
    /// or a new Tansu broker with cluster id `target`.
    pub fn target() -> Broker {
        match shared_pair() {
            Some((_, target)) => Broker::external(&target),
            None => Broker::start_tansu("target"),
        }
    }

    /// `(source, target)`: the shared clusters.
    pub fn pair() -> (Broker, Broker) {
        (Broker::source(), Broker::target())
    }

    /// Two clusters of this test's own, started at once: for tests whose flows write to both
    /// (B->A flows and pair heartbeats put a `heartbeats` topic on the source, which every other
    /// test's flow would then replicate) or that stop their brokers.
    pub fn own_pair() -> (Broker, Broker) {
        match mode::broker_kind() {
            BrokerKind::Kafka => {
                let mut clusters =
                    KafkaCluster::start_all(&[KafkaSpec::default(), KafkaSpec::default()]);
                let target = clusters.pop().expect("two clusters");
                let source = clusters.pop().expect("two clusters");
                let own = |cluster: KafkaCluster| Broker {
                    bootstrap: cluster.bootstrap().to_owned(),
                    process: Some(Owned::Kafka(Box::new(cluster))),
                };
                (own(source), own(target))
            }
            BrokerKind::Tansu => (Broker::start_tansu("source"), Broker::start_tansu("target")),
        }
    }

    /// `host:port` for `bootstrap.servers` (every broker of the cluster, comma-separated).
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// The broker process (the first broker of an Apache Kafka cluster), when the test owns one.
    pub fn pid(&self) -> Option<u32> {
        match self.process.as_ref()? {
            Owned::Tansu(p) => Some(p.child.id()),
            Owned::Kafka(cluster) => cluster.pids().first().copied(),
        }
    }

    /// The Apache Kafka cluster this test owns, to stop and start single brokers.
    pub fn kafka(&mut self) -> &mut KafkaCluster {
        match self.process.as_mut() {
            Some(Owned::Kafka(cluster)) => cluster,
            _ => panic!(
                "{} is not an Apache Kafka cluster of this test",
                self.bootstrap
            ),
        }
    }

    /// Freezes the broker processes (SIGSTOP): connections stay open and nothing is answered, as
    /// during a long GC pause or an overloaded broker. Data is kept.
    pub fn pause(&self) {
        match self.owned("pause") {
            Owned::Tansu(process) => {
                signal(process.child.id(), libc::SIGSTOP);
                process.paused.store(true, Ordering::SeqCst);
            }
            Owned::Kafka(cluster) => cluster.signal_all(libc::SIGSTOP),
        }
    }

    /// Resumes paused broker processes (SIGCONT).
    pub fn resume(&self) {
        match self.owned("resume") {
            Owned::Tansu(process) => {
                signal(process.child.id(), libc::SIGCONT);
                process.paused.store(false, Ordering::SeqCst);
            }
            Owned::Kafka(cluster) => cluster.signal_all(libc::SIGCONT),
        }
    }

    /// The broker's output so far (empty for a cluster the test does not own).
    pub fn log(&self) -> String {
        match &self.process {
            Some(Owned::Tansu(p)) => std::fs::read_to_string(&p.log).unwrap_or_default(),
            Some(Owned::Kafka(cluster)) => cluster.log(),
            None => String::new(),
        }
    }

    fn owned(&self, what: &str) -> &Owned {
        self.process.as_ref().unwrap_or_else(|| {
            panic!(
                "cannot {what} {}: a shared cluster; start one of the test's own with Broker::start",
                self.bootstrap
            )
        })
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(Owned::Tansu(process)) = &mut self.process {
            // SIGKILL ends a stopped process too; no SIGCONT needed.
            let _ = process.child.kill();
            let _ = process.child.wait();
        }
        // A KafkaCluster kills its brokers when dropped.
    }
}

/// The shared `(source, target)` bootstrap addresses: the environment's, else (Apache Kafka) a
/// pair this test binary starts on first use and keeps until it exits; `None` on Tansu, where
/// each test starts its own pair.
fn shared_pair() -> Option<(String, String)> {
    if let Some(pair) = mode::shared_clusters() {
        return Some(pair);
    }
    if mode::broker_kind() == BrokerKind::Tansu {
        return None;
    }
    static PAIR: OnceLock<(String, String)> = OnceLock::new();
    Some(PAIR.get_or_init(start_shared_pair).clone())
}

/// Starts two Kafka clusters on a thread that never ends: the brokers die with their spawning
/// thread (`PR_SET_PDEATHSIG`), so they live as long as the test binary and no longer.
fn start_shared_pair() -> (String, String) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("shared-kafka".into())
        .spawn(move || {
            let started = std::panic::catch_unwind(|| {
                KafkaCluster::start_all(&[KafkaSpec::default(), KafkaSpec::default()])
            });
            match started {
                Ok(mut clusters) => {
                    let _ = tx.send(Ok((
                        clusters[0].bootstrap().to_owned(),
                        clusters[1].bootstrap().to_owned(),
                    )));
                    // Keep both clusters for the life of the process; their folders are removed
                    // when it exits (this thread's drops never run).
                    for cluster in &mut clusters {
                        remove_at_exit(cluster.keep_dir());
                    }
                    let _keep = clusters;
                    loop {
                        std::thread::park();
                    }
                }
                Err(_) => {
                    let _ = tx.send(Err(()));
                }
            }
        })
        .expect("spawning the shared-kafka thread");
    rx.recv()
        .ok()
        .and_then(Result::ok)
        .expect("starting the shared Apache Kafka clusters failed (see the panic above)")
}

/// Removes `dir` when the process exits normally (the test harness ends with `exit`, which runs
/// `atexit` handlers; the brokers using it die then too, by their death signal).
fn remove_at_exit(dir: PathBuf) {
    static DIRS: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    static REGISTER: std::sync::Once = std::sync::Once::new();
    extern "C" fn remove_all() {
        if let Ok(dirs) = DIRS.lock() {
            for dir in dirs.iter() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
    DIRS.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(dir);
    // SAFETY: atexit(3) only stores the function pointer; `remove_all` touches nothing but a
    // static and the file system.
    REGISTER.call_once(|| unsafe {
        libc::atexit(remove_all);
    });
}

fn try_start(bin: &Path, cluster_id: &str) -> Result<Broker, String> {
    let port = free_port();
    let url = format!("tcp://127.0.0.1:{port}");
    let dir = tempfile::Builder::new()
        .prefix("strait-tansu-")
        .tempdir()
        .map_err(|e| format!("temp dir: {e}"))?;
    let log = dir.path().join("tansu.log");
    let out = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("{}: {e}", log.display()))?;
    let mut command = Command::new(bin);
    let child = die_with_test(&mut command)
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ])
        .args([
            "--storage-engine",
            "memory://tansu/",
            "--cluster-id",
            cluster_id,
        ])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("spawning {}: {e}", bin.display()))?;
    let mut broker = Broker {
        bootstrap: format!("127.0.0.1:{port}"),
        process: Some(Owned::Tansu(BrokerProcess {
            child,
            log,
            paused: AtomicBool::new(false),
            _dir: dir,
        })),
    };
    wait_ready(&mut broker)?;
    Ok(broker)
}

/// Waits until the broker accepts TCP connections, then until it answers Metadata. Fails early
/// when the process exits (typically: the port was taken).
fn wait_ready(broker: &mut Broker) -> Result<(), String> {
    let started = Instant::now();
    let addr: SocketAddr = broker.bootstrap.parse().expect("127.0.0.1:port");
    loop {
        let Some(Owned::Tansu(process)) = broker.process.as_mut() else {
            unreachable!("a Tansu process")
        };
        if let Ok(Some(status)) = process.child.try_wait() {
            let log = std::fs::read_to_string(&process.log).unwrap_or_default();
            return Err(format!(
                "tansu exited ({status}) while starting on {addr}; log:\n{log}"
            ));
        }
        if started.elapsed() > READY_DEADLINE {
            let log = std::fs::read_to_string(&process.log).unwrap_or_default();
            return Err(format!(
                "tansu on {addr} not ready after {READY_DEADLINE:?}; log:\n{log}"
            ));
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
            && admin::try_topic_names(&broker.bootstrap, Duration::from_secs(2)).is_ok()
        {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A port nobody listens on right now (bind port 0, read it, release it).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// The Tansu binary: `$TANSU_BIN`, else `tansu` on `PATH`, else `~/.cache/strait/bin/tansu`.
pub fn tansu_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("TANSU_BIN").filter(|b| !b.is_empty()) {
        let bin = PathBuf::from(bin);
        assert!(bin.is_file(), "TANSU_BIN={} does not exist", bin.display());
        return bin;
    }
    if let Some(path) = std::env::var_os("PATH") {
        if let Some(bin) = std::env::split_paths(&path)
            .map(|dir| dir.join("tansu"))
            .find(|candidate| candidate.is_file())
        {
            return bin;
        }
    }
    if let Some(home) = std::env::var_os("HOME") {
        let bin = PathBuf::from(home).join(".cache/strait/bin/tansu");
        if bin.is_file() {
            return bin;
        }
    }
    panic!(
        "the Tansu broker binary was not found (TANSU_BIN, `tansu` on PATH, ~/.cache/strait/bin/tansu): \
         run scripts/install-tansu.sh, or unset STRAIT_TEST_BROKER to test against Apache Kafka"
    );
}
