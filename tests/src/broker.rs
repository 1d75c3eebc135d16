//! A Kafka cluster for a test: a Tansu broker process started on a free port with in-memory
//! storage, or (real Kafka mode, see [`crate::mode`]) an existing cluster given by its address.

use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::process::{die_with_test, signal};
use crate::{admin, mode};

/// How long a Tansu broker may take to answer Metadata after it was spawned.
const READY_DEADLINE: Duration = Duration::from_secs(30);
/// Attempts at finding a free port (another process may take the port between our probe and the
/// broker's bind).
const PORT_ATTEMPTS: usize = 5;

/// One Kafka cluster. Dropping a [`Broker`] that owns a process kills it and waits for it.
pub struct Broker {
    bootstrap: String,
    process: Option<BrokerProcess>,
}

struct BrokerProcess {
    child: Child,
    log: PathBuf,
    paused: AtomicBool,
    /// Holds the log file; removed when the broker is dropped.
    _dir: TempDir,
}

impl Broker {
    /// Starts a Tansu broker (always a process, whatever the mode) whose cluster id is
    /// `cluster_id`, on a free port of 127.0.0.1, and waits until it answers Metadata.
    pub fn start(cluster_id: &str) -> Broker {
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

    /// A cluster the tests do not own (real Kafka mode): no process, [`Broker::pid`] is `None`.
    pub fn external(bootstrap: &str) -> Broker {
        Broker {
            bootstrap: bootstrap.to_owned(),
            process: None,
        }
    }

    /// The source cluster of a test: `STRAIT_TEST_SOURCE_BOOTSTRAP` in real Kafka mode, else a new
    /// Tansu broker with cluster id `source`.
    pub fn source() -> Broker {
        match mode::real_kafka() {
            Some((source, _)) => Broker::external(&source),
            None => Broker::start("source"),
        }
    }

    /// The target cluster of a test: `STRAIT_TEST_TARGET_BOOTSTRAP` in real Kafka mode, else a new
    /// Tansu broker with cluster id `target`.
    pub fn target() -> Broker {
        match mode::real_kafka() {
            Some((_, target)) => Broker::external(&target),
            None => Broker::start("target"),
        }
    }

    /// `(source, target)`.
    pub fn pair() -> (Broker, Broker) {
        (Broker::source(), Broker::target())
    }

    /// `host:port` for `bootstrap.servers`.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// The broker process, when the tests own one.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(|p| p.child.id())
    }

    /// Freezes the broker process (SIGSTOP): connections stay open and nothing is answered, as
    /// during a long GC pause or an overloaded broker. Data is kept.
    pub fn pause(&self) {
        let process = self.owned("pause");
        signal(process.child.id(), libc::SIGSTOP);
        process.paused.store(true, Ordering::SeqCst);
    }

    /// Resumes a paused broker (SIGCONT).
    pub fn resume(&self) {
        let process = self.owned("resume");
        signal(process.child.id(), libc::SIGCONT);
        process.paused.store(false, Ordering::SeqCst);
    }

    /// The broker's stdout and stderr so far (empty for an external cluster).
    pub fn log(&self) -> String {
        self.process
            .as_ref()
            .map(|p| std::fs::read_to_string(&p.log).unwrap_or_default())
            .unwrap_or_default()
    }

    fn owned(&self, what: &str) -> &BrokerProcess {
        self.process.as_ref().unwrap_or_else(|| {
            panic!("cannot {what} {}: not a broker process (real Kafka mode); mark the test #[cfg_attr(real_kafka, ignore = \"...\")]", self.bootstrap)
        })
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(process) = &mut self.process {
            // SIGKILL ends a stopped process too; no SIGCONT needed.
            let _ = process.child.kill();
            let _ = process.child.wait();
        }
    }
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
        process: Some(BrokerProcess {
            child,
            log,
            paused: AtomicBool::new(false),
            _dir: dir,
        }),
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
        let process = broker.process.as_mut().expect("a process");
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
         run scripts/install-tansu.sh, or set STRAIT_TEST_SOURCE_BOOTSTRAP and \
         STRAIT_TEST_TARGET_BOOTSTRAP to test against real Kafka clusters"
    );
}
