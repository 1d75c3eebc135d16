//! MirrorMaker 2 in dedicated mode as a child process: `java -cp "$KAFKA_LIBS/*"
//! org.apache.kafka.connect.mirror.MirrorMaker mm2.properties`, with the JVM options Kafka's
//! `bin/connect-mirror-maker.sh` gives it (`STRAIT_MM2_JVM_OPTS` replaces them), its output in a
//! log file. Killed by PID on drop, and by the kernel if the thread that started it ends
//! (`PR_SET_PDEATHSIG`).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use strait_tests::kafka::libs_dir;
use strait_tests::process::die_with_test;
use strait_tests::strait::temp_dir;
use strait_tests::{admin, names};
use tempfile::TempDir;

/// What `bin/connect-mirror-maker.sh` and `bin/kafka-run-class.sh` of Kafka 4.3 pass to the JVM:
/// `KAFKA_HEAP_OPTS` and `KAFKA_JVM_PERFORMANCE_OPTS`.
pub const DEFAULT_JVM_OPTS: &str = "-Xms256M -Xmx2G -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
     -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
     -XX:MaxInlineLevel=15 -Djava.awt.headless=true";

/// The lines every MirrorMaker 2 file of the benchmarks shares: one flow `A->B` of `topic`,
/// `B->A` off, MM2's defaults otherwise (checkpoints, heartbeats, offset syncs), replication
/// factor 1 everywhere (one broker per cluster), no ACL sync (no authorizer), `tasks.max = tasks`.
fn common(source: &str, target: &str, topic: &str, tasks: usize) -> String {
    format!(
        "clusters = A, B\n\
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
         sync.topic.acls.enabled = false\n"
    )
}

/// The mm2.properties the MM2 comparison gives both MirrorMaker 2 and Strait: [`common`] with
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
         {}\
         strait.data.dir = {}\n\
         strait.cluster.listen = 127.0.0.1:{strait_cluster_port}\n",
        common(source, target, topic, tasks),
        strait_data_dir.display()
    )
}

/// The mm2.properties of one node of a multi-node MirrorMaker 2 cluster (the failover
/// comparison): [`common`] with `tasks.max = tasks`, the internal REST server multi-node
/// dedicated mode needs (`dedicated.mode.enable.internal.rest = true`, listening on
/// `127.0.0.1:rest_port`: the only line that differs between the nodes of one machine) and, when
/// given, `B.scheduled.rebalance.max.delay.ms` (Connect's wait for a lost worker to come back before
/// its tasks are reassigned; 300,000 by default).
pub fn node_properties(
    source: &str,
    target: &str,
    topic: &str,
    tasks: usize,
    rest_port: u16,
    rebalance_delay_ms: Option<u64>,
) -> String {
    let mut text = format!(
        "# written by strait-failover-mm2 (one node of a MirrorMaker 2 cluster)\n\
         {}\
         dedicated.mode.enable.internal.rest = true\n\
         listeners = http://127.0.0.1:{rest_port}\n",
        common(source, target, topic, tasks)
    );
    if let Some(ms) = rebalance_delay_ms {
        // A worker setting: MM2 hands a herder the target cluster's `B.`-prefixed keys (a
        // top-level `scheduled.rebalance.max.delay.ms` does not reach the worker).
        text.push_str(&format!("B.scheduled.rebalance.max.delay.ms = {ms}\n"));
    }
    text
}

/// Where MirrorMaker 2's source tasks run, read from Connect's internal topics on the target:
/// the last task configs (`task-MirrorSourceConnector-<n>` in `mm2-configs.*.internal`, their
/// `task.assigned.partitions`) and the last status of each task (`status-task-...` in
/// `mm2-status.*.internal`: state and `worker_id`, which is `host:port/<flow>` of the worker's
/// internal REST server).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceTasks {
    /// Task number → (partitions of the replicated topic, state, worker id).
    pub tasks: BTreeMap<u32, (Vec<i32>, String, String)>,
}

impl SourceTasks {
    /// Partitions of `topic` whose task is RUNNING on the worker listening on `rest_port`.
    pub fn partitions_of(&self, rest_port: u16) -> Vec<i32> {
        let mark = format!(":{rest_port}/");
        let mut partitions: Vec<i32> = self
            .tasks
            .values()
            .filter(|(_, state, worker)| state == "RUNNING" && worker.contains(&mark))
            .flat_map(|(p, _, _)| p.iter().copied())
            .collect();
        partitions.sort_unstable();
        partitions
    }

    /// Partitions covered by a RUNNING task.
    pub fn running(&self) -> usize {
        self.tasks
            .values()
            .filter(|(_, state, _)| state == "RUNNING")
            .map(|(p, _, _)| p.len())
            .sum()
    }
}

/// Reads [`SourceTasks`] of `topic` from the target's internal topics.
pub fn source_tasks(target: &str, topic: &str) -> Result<SourceTasks, String> {
    let names =
        admin::try_topic_names(target, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    let find = |prefix: &str| {
        names
            .iter()
            .find(|n| n.starts_with(prefix) && n.ends_with(".internal"))
            .cloned()
            .ok_or_else(|| format!("no {prefix}*.internal topic on the target yet"))
    };
    let configs = read_to_end(target, &find("mm2-configs.")?)?;
    let statuses = read_to_end(target, &find("mm2-status.")?)?;
    let json = |bytes: &Option<Vec<u8>>| -> Option<serde_json::Value> {
        serde_json::from_slice(bytes.as_deref()?).ok()
    };
    // The task count of the last commit of the connector's task configs.
    let count = configs
        .get("commit-MirrorSourceConnector")
        .and_then(json)
        .and_then(|v| v.get("tasks")?.as_u64())
        .ok_or("no task configs of MirrorSourceConnector committed yet")?;
    let mut tasks = BTreeMap::new();
    for task in 0..count as u32 {
        let config = configs
            .get(&format!("task-MirrorSourceConnector-{task}"))
            .and_then(json)
            .ok_or_else(|| format!("no config of task {task}"))?;
        let assigned = config
            .pointer("/properties/task.assigned.partitions")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let partitions = assigned
            .split(',')
            .filter_map(|tp| {
                let (t, p) = tp.trim().rsplit_once('-')?;
                (t == topic).then(|| p.parse().ok()).flatten()
            })
            .collect();
        let status = statuses
            .get(&format!("status-task-MirrorSourceConnector-{task}"))
            .and_then(json);
        let field = |name: &str| {
            status
                .as_ref()
                .and_then(|s| s.get(name)?.as_str().map(str::to_owned))
                .unwrap_or_default()
        };
        tasks.insert(task, (partitions, field("state"), field("worker_id")));
    }
    Ok(SourceTasks { tasks })
}

/// The last value of every key of `topic` (all partitions, read to their high watermarks).
fn read_to_end(bootstrap: &str, topic: &str) -> Result<BTreeMap<String, Option<Vec<u8>>>, String> {
    let consumer: BaseConsumer = admin::client_config(bootstrap)
        .set("group.id", names::unique("strait-bench-mm2-internal"))
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "10")
        .create()
        .map_err(|e| e.to_string())?;
    let partitions = admin::partition_count(bootstrap, topic).ok_or("no partitions")?;
    let mut assignment = TopicPartitionList::new();
    let mut remaining = BTreeMap::new();
    for partition in 0..partitions as i32 {
        let (_, high) = consumer
            .fetch_watermarks(topic, partition, Duration::from_secs(5))
            .map_err(|e| format!("{topic}: {e}"))?;
        if high > 0 {
            remaining.insert(partition, high);
            assignment
                .add_partition_offset(topic, partition, Offset::Beginning)
                .map_err(|e| e.to_string())?;
        }
    }
    let mut last = BTreeMap::new();
    if remaining.is_empty() {
        return Ok(last);
    }
    consumer.assign(&assignment).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !remaining.is_empty() {
        if Instant::now() > deadline {
            return Err(format!("{topic} not read to its end within 20 s"));
        }
        let Some(result) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = result.map_err(|e| format!("{topic}: {e}"))?;
        if let Some(key) = message.key() {
            last.insert(
                String::from_utf8_lossy(key).into_owned(),
                message.payload().map(<[u8]>::to_vec),
            );
        }
        if remaining
            .get(&message.partition())
            .is_some_and(|high| message.offset() + 1 >= *high)
        {
            remaining.remove(&message.partition());
        }
    }
    Ok(last)
}

/// A running MirrorMaker 2 (dedicated mode). Dropping it kills the JVM (SIGKILL, by PID).
pub struct Mm2 {
    child: Child,
    log: PathBuf,
    _dir: TempDir,
}

impl Mm2 {
    /// Writes `properties` to `mm2.properties` in a new temp dir and starts MirrorMaker 2 on it,
    /// logging at WARN (Kafka's `log4j2.properties` of the install).
    pub fn start(properties: &str) -> Result<Mm2, String> {
        Mm2::start_logging(properties, None)
    }

    /// [`Mm2::start`] logging at `level` (e.g. `INFO`) instead, when given.
    pub fn start_logging(properties: &str, level: Option<&str>) -> Result<Mm2, String> {
        let dir = temp_dir("strait-bench-mm2-");
        let config = dir.path().join("mm2.properties");
        std::fs::write(&config, properties).map_err(|e| format!("{}: {e}", config.display()))?;
        let log = dir.path().join("mm2.log");
        let out = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let libs = libs_dir();
        let opts =
            std::env::var("STRAIT_MM2_JVM_OPTS").unwrap_or_else(|_| DEFAULT_JVM_OPTS.to_owned());
        let log_config = match level {
            None => libs.join("log4j2.properties"),
            Some(level) => {
                let path = dir.path().join("log4j2.properties");
                let text = format!(
                    "rootLogger.level = {level}\n\
                     rootLogger.appenderRef.stdout.ref = STDOUT\n\
                     appender.stdout.type = Console\n\
                     appender.stdout.name = STDOUT\n\
                     appender.stdout.layout.type = PatternLayout\n\
                     appender.stdout.layout.pattern = [%d] %p %m (%c)%n\n"
                );
                std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
                path
            }
        };
        let mut command = Command::new(std::env::var_os("JAVA").unwrap_or_else(|| "java".into()));
        command
            .args(opts.split_whitespace())
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                log_config.display()
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

    /// `kill -9`, waiting for the process to be gone.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Its whole log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The port of the REST URL of the `A->B` herder's group leader, from the last assignment
    /// this node logged (INFO: `... groupId=A-mm2] Joined group ... leaderUrl='http://host:port/...'`).
    pub fn leader_port(&self) -> Option<u16> {
        let log = self.log();
        let line = log
            .lines()
            .rev()
            .find(|l| l.contains("groupId=A-mm2") && l.contains("leaderUrl='"))?;
        let url = line.split("leaderUrl='").nth(1)?;
        let authority = url.split("://").nth(1)?.split(['/', '\'']).next()?;
        authority.rsplit(':').next()?.parse().ok()
    }

    /// `scheduled.rebalance.max.delay.ms` of the `A->B` herder's worker, from the
    /// `DistributedConfig values` it logged (INFO).
    pub fn rebalance_delay(&self) -> Option<String> {
        let log = self.log();
        log.split("DistributedConfig values:")
            .skip(1)
            .map(|block| block.split("\n[").next().unwrap_or_default())
            .find(|block| block.contains("group.id = A-mm2"))?
            .lines()
            .find(|l| {
                l.trim_start()
                    .starts_with("scheduled.rebalance.max.delay.ms = ")
            })
            .map(|l| l.trim().to_owned())
    }

    /// The path of its log.
    pub fn log_path(&self) -> &Path {
        &self.log
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
