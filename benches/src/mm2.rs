//! MirrorMaker 2 in dedicated mode as a child process: `java -cp "$KAFKA_LIBS/*"
//! org.apache.kafka.connect.mirror.MirrorMaker mm2.properties`, with the JVM options Kafka's
//! `bin/connect-mirror-maker.sh` gives it (`STRAIT_MM2_JVM_OPTS` replaces them), its output in a
//! log file. Killed by PID on drop, and by the kernel if the thread that started it ends
//! (`PR_SET_PDEATHSIG`).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use strait_tests::kafka::libs_dir;
use strait_tests::process::die_with_test;
use strait_tests::strait::temp_dir;
use tempfile::TempDir;

/// What `bin/connect-mirror-maker.sh` and `bin/kafka-run-class.sh` of Kafka 4.3 pass to the JVM:
/// `KAFKA_HEAP_OPTS` and `KAFKA_JVM_PERFORMANCE_OPTS`.
pub const DEFAULT_JVM_OPTS: &str = "-Xms256M -Xmx2G -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
     -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
     -XX:MaxInlineLevel=15 -Djava.awt.headless=true";

/// The mm2.properties the MM2 comparison gives both MirrorMaker 2 and Strait: one flow `A->B`
/// of `topic`, `B->A` off, MM2's defaults otherwise (checkpoints, heartbeats, offset syncs),
/// replication factor 1 everywhere (one broker per cluster), no ACL sync (no authorizer),
/// `tasks.max` = the machine's cores. The `strait.*` keys are Strait's (MM2 ignores them).
pub fn properties(
    source: &str,
    target: &str,
    topic: &str,
    tasks: usize,
    strait_data_dir: &Path,
    strait_cluster_port: u16,
) -> String {
    format!(
        "# written by strait-throughput (the MirrorMaker 2 comparison)\n\
         clusters = A, B\n\
         A.bootstrap.servers = {source}\n\
         B.bootstrap.servers = {target}\n\
         A->B.enabled = true\n\
         A->B.topics = {topic}\n\
         B->A.enabled = false\n\
         tasks.max = {tasks}\n\
         replication.factor = 1\n\
         offset-syncs.topic.replication.factor = 1\n\
         checkpoints.topic.replication.factor = 1\n\
         heartbeats.topic.replication.factor = 1\n\
         config.storage.replication.factor = 1\n\
         offset.storage.replication.factor = 1\n\
         status.storage.replication.factor = 1\n\
         sync.topic.acls.enabled = false\n\
         strait.data.dir = {}\n\
         strait.cluster.listen = 127.0.0.1:{strait_cluster_port}\n",
        strait_data_dir.display()
    )
}

/// A running MirrorMaker 2 (dedicated mode). Dropping it kills the JVM (SIGKILL, by PID).
pub struct Mm2 {
    child: Child,
    log: PathBuf,
    _dir: TempDir,
}

impl Mm2 {
    /// Writes `properties` to `mm2.properties` in a new temp dir and starts MirrorMaker 2 on it.
    pub fn start(properties: &str) -> Result<Mm2, String> {
        let dir = temp_dir("strait-bench-mm2-");
        let config = dir.path().join("mm2.properties");
        std::fs::write(&config, properties).map_err(|e| format!("{}: {e}", config.display()))?;
        let log = dir.path().join("mm2.log");
        let out = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let libs = libs_dir();
        let opts =
            std::env::var("STRAIT_MM2_JVM_OPTS").unwrap_or_else(|_| DEFAULT_JVM_OPTS.to_owned());
        let mut command = Command::new(std::env::var_os("JAVA").unwrap_or_else(|| "java".into()));
        command
            .args(opts.split_whitespace())
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                libs.join("log4j2.properties").display()
            ))
            .arg("-cp")
            .arg(format!("{}/*", libs.display()))
            .arg("org.apache.kafka.connect.mirror.MirrorMaker")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let child = die_with_test(&mut command)
            .spawn()
            .map_err(|e| format!("starting MirrorMaker 2 (is Java installed?): {e}"))?;
        Ok(Mm2 {
            child,
            log,
            _dir: dir,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Err` once the process has exited, with its status.
    pub fn alive(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Err(format!("MirrorMaker 2 exited: {status}")),
            _ => Ok(()),
        }
    }

    /// The last `lines` lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Mm2 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
