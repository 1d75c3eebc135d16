//! `strait-throughput`: Strait against a raw librdkafka copy (`strait-rawcopy`) on the same data,
//! the same brokers and the same machine. See `benches/README.md`.
//!
//! For each case (record size x partition count) the source topic is preloaded once, then copied
//! three times, each time to a fresh target broker: by the raw copy, by one Strait node, by three.
//! Figures are taken between the moments 10 % and 90 % of the records were acknowledged by the
//! target (start-up and the tail excluded), from samples every 100 ms of the copier's own count
//! (the raw copy's stdout, the nodes' `strait_replication_records_total`) and of `/proc`. Then, at
//! half of Strait's measured maximum rate, the end-to-end latency (target consumer's read time
//! minus the record's producer timestamp) of the raw copy and of one node. The paused-target mode
//! freezes the target broker for a while under load and reports a node's RSS.
//!
//! `--mm2` runs the MirrorMaker 2 comparison instead: per case a backlog preloaded once, then
//! `--rounds` rounds, each copying it with one Strait node, MirrorMaker 2 in dedicated mode (both
//! on the same mm2.properties) and the raw copy, each to a fresh target broker, timed on the
//! target's high watermarks from the first record landed to the last (start-up excluded alike).
//!
//! Every process (brokers, nodes, raw copies, MirrorMaker 2) is a child killed by PID when its run
//! ends, and by the kernel (PR_SET_PDEATHSIG) if this process dies.

use std::io::BufRead as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use strait_bench::mm2::Mm2;
use strait_bench::{mm2, procfs, scrape};
use strait_config::{DEFAULT_MAX_IN_FLIGHT_BYTES, DEFAULT_MAX_IN_FLIGHT_RECORDS};
use strait_tests::broker::free_port;
use strait_tests::config::{ClusterSettings, Config};
use strait_tests::data::TestProducer;
use strait_tests::process::die_with_test;
use strait_tests::strait::temp_dir;
use strait_tests::{admin, names, Broker, Record, Strait};
use tempfile::TempDir;

#[derive(Parser)]
#[command(about = "Strait's throughput, CPU, memory and latency against a raw librdkafka copy")]
struct Args {
    /// Records per case of 100-byte records (default 400,000; 1,000,000 with --exactly-once).
    #[arg(long)]
    records_100: Option<u64>,
    /// Records per case of 1 KB records (default 150,000; 300,000 with --exactly-once).
    #[arg(long)]
    records_1k: Option<u64>,
    /// Record sizes in bytes (key + value + headers).
    #[arg(long, value_delimiter = ',', default_value = "100,1024")]
    sizes: Vec<usize>,
    /// Partition counts (default 1,24; 24 with --exactly-once).
    #[arg(long, value_delimiter = ',')]
    partitions: Option<Vec<i32>>,
    /// Seconds measured at half the maximum rate for the latency figures (after 3 s of warm-up);
    /// 0 skips them (default 10; 30 with --exactly-once).
    #[arg(long)]
    latency_secs: Option<u64>,
    /// Records/s of the latency runs instead of half of Strait's measured rate.
    #[arg(long)]
    latency_rate: Option<u64>,
    /// Seconds the target broker is frozen (SIGSTOP) in the paused-target mode; 0 skips it.
    #[arg(long, default_value_t = 60)]
    pause_secs: u64,
    /// Records per second of 1 KB produced during the paused-target mode.
    #[arg(long, default_value_t = 5_000)]
    pause_rate: u64,
    /// Only the paused-target mode.
    #[arg(long)]
    pause_only: bool,
    /// Longest a copy may take before the run fails.
    #[arg(long, default_value_t = 300)]
    timeout_secs: u64,
    /// The raw copy binary.
    #[arg(long, env = "RAWCOPY_BIN")]
    rawcopy_bin: PathBuf,
    /// The MirrorMaker 2 comparison instead: Strait (1 node) and MirrorMaker 2 (dedicated mode)
    /// on the same mm2.properties, and the raw copy, each copying the preloaded backlog; the
    /// latency and paused-target modes are not run.
    #[arg(long)]
    mm2: bool,
    /// Rounds of the MirrorMaker 2 comparison (each: Strait, MM2, raw copy for every case) or of
    /// the exactly-once comparison (default 3; 2 with --exactly-once).
    #[arg(long)]
    rounds: Option<usize>,
    /// What the MirrorMaker 2 comparison measures: `backlog` (throughput, CPU, RSS of a backlog
    /// copy, with the raw copy), `latency` (end-to-end at `--latency-rate`, default 5,000
    /// records/s, for every case), `pause` (RSS while the target is frozen `--pause-secs`).
    #[arg(long, value_delimiter = ',', default_value = "backlog,latency,pause")]
    mm2_modes: Vec<String>,
    /// Rounds of the paused-target comparison (default: `--rounds`).
    #[arg(long)]
    pause_rounds: Option<usize>,
    /// The cost of exactly-once instead: Strait at-least-once against exactly-once (interleaved,
    /// each copy to a fresh target broker) on the same preloaded backlog, then the end-to-end
    /// latency of both at `--latency-rate` (default 5,000 records/s) read `read_committed`.
    #[arg(long)]
    exactly_once: bool,
    /// With --exactly-once: the flow's `transaction_interval_ms` values. The first is the one of
    /// the backlog copies; the latency is measured at each.
    #[arg(long, value_delimiter = ',', default_value = "200,100")]
    transaction_intervals: Vec<u64>,
    /// With --exactly-once: how many nodes copy (each count its own copies of both modes).
    #[arg(long, value_delimiter = ',', default_value = "1")]
    nodes: Vec<u64>,
}

impl Args {
    fn records_100(&self) -> u64 {
        let default = if self.exactly_once {
            1_000_000
        } else {
            400_000
        };
        self.records_100.unwrap_or(default)
    }

    fn records_1k(&self) -> u64 {
        let default = if self.exactly_once { 300_000 } else { 150_000 };
        self.records_1k.unwrap_or(default)
    }

    fn partitions(&self) -> Vec<i32> {
        let default = if self.exactly_once {
            vec![24]
        } else {
            vec![1, 24]
        };
        self.partitions.clone().unwrap_or(default)
    }

    fn latency_secs(&self) -> u64 {
        let default = if self.exactly_once { 30 } else { 10 };
        self.latency_secs.unwrap_or(default)
    }

    fn rounds(&self) -> usize {
        let default = if self.exactly_once { 2 } else { 3 };
        self.rounds.unwrap_or(default)
    }
}

/// The source consumers' `fetch.wait.max.ms`, Strait's and the raw copy's: Tansu does not wake a
/// waiting Fetch when data arrives.
const FETCH_WAIT_MS: u32 = 10;
/// Sampling interval of counts and `/proc`.
const SAMPLE: Duration = Duration::from_millis(100);

/// One benchmark case.
#[derive(Clone, Copy)]
struct Case {
    size: usize,
    partitions: i32,
    records: u64,
}

/// The cases `--sizes` × `--partitions` ask for, each with its record count.
fn all_cases(args: &Args) -> Vec<Case> {
    let mut cases = Vec::new();
    for &size in &args.sizes {
        for partitions in args.partitions() {
            let records = if size >= 1000 {
                args.records_1k()
            } else {
                args.records_100()
            };
            cases.push(Case {
                size,
                partitions,
                records,
            });
        }
    }
    cases
}

impl std::fmt::Display for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let size = if self.size >= 1024 {
            format!("{}KB", self.size / 1024)
        } else {
            format!("{}B", self.size)
        };
        write!(f, "{size} x {}p", self.partitions)
    }
}

/// Record `seq` of a case: 12-byte key, one 11-byte header, the value filling up to `size`.
fn record(size: usize, seq: u64, timestamp: i64) -> Record {
    let key = format!("key-{:08}", seq % 100_000_000).into_bytes();
    let headers = vec![("seq".to_owned(), Some(seq.to_be_bytes().to_vec()))];
    let value_len = size.saturating_sub(key.len() + 3 + 8);
    let value = (0..value_len)
        .map(|i| b'a' + ((seq as usize + i) % 26) as u8)
        .collect();
    Record {
        key: Some(key),
        value: Some(value),
        headers,
        timestamp,
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn preload(source: &str, topic: &str, case: Case) {
    let started = Instant::now();
    admin::create_topic(source, topic, case.partitions as usize);
    let producer = TestProducer::new(source);
    let base = now_ms() - 3_600_000;
    for seq in 0..case.records {
        let partition = (seq % case.partitions as u64) as i32;
        producer.send(topic, partition, &record(case.size, seq, base + seq as i64));
    }
    producer.flush();
    eprintln!(
        "  preloaded {} records of {} B to {topic} in {:.1} s",
        case.records,
        case.size,
        started.elapsed().as_secs_f64()
    );
}

/// What copies: the raw copy or Strait nodes.
enum Copier {
    Raw {
        child: Child,
        /// (records, bytes, failed) acknowledged, from its stdout.
        counts: Arc<Mutex<(u64, u64, u64)>>,
    },
    Strait {
        nodes: Vec<Strait>,
        metrics: Vec<SocketAddr>,
        _data: Vec<TempDir>,
    },
    /// MirrorMaker 2 in dedicated mode (the MM2 comparison only: counted on the target).
    Mm2(Mm2),
}

impl Copier {
    fn raw(args: &Args, source: &str, target: &str, topic: &str, partitions: i32) -> Copier {
        let remote = format!("raw.{topic}");
        admin::create_topic(target, &remote, partitions as usize);
        let mut command = Command::new(&args.rawcopy_bin);
        die_with_test(&mut command)
            .args(["--source", source, "--target", target, "--topic", topic])
            .args(["--remote-topic", &remote])
            .args(["--partitions", &partitions.to_string()])
            .args(["--fetch-wait-ms", &FETCH_WAIT_MS.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {}: {e}", args.rawcopy_bin.display()));
        let counts = Arc::new(Mutex::new((0, 0, 0)));
        let stdout = child.stdout.take().expect("piped stdout");
        {
            let counts = counts.clone();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    let fields: Vec<u64> = line
                        .split_whitespace()
                        .skip(1)
                        .filter_map(|v| v.parse().ok())
                        .collect();
                    if let [records, bytes, failed] = fields[..] {
                        *counts.lock().unwrap_or_else(|p| p.into_inner()) =
                            (records, bytes, failed);
                    }
                }
            });
        }
        Copier::Raw { child, counts }
    }

    /// `nodes` Strait nodes (one: a cluster of one) replicating `topic` with the default
    /// in-flight bounds, and `flow_extra` lines in the flow's TOML table (e.g. the exactly-once
    /// mode's keys).
    fn strait(
        nodes: u64,
        source: &str,
        target: &str,
        topic: &str,
        flow_extra: &[String],
    ) -> Copier {
        let ports: Vec<(u64, u16)> = (1..=nodes).map(|id| (id, free_port())).collect();
        let peers: Vec<String> = ports
            .iter()
            .map(|(id, port)| format!("{id}@127.0.0.1:{port}"))
            .collect();
        let mut running = Vec::new();
        let mut metrics = Vec::new();
        let mut data = Vec::new();
        for &(id, port) in &ports {
            let dir = temp_dir("strait-bench-data-");
            let mut config = Config::a_to_b(source, target, dir.path(), &[topic]);
            config.progress_interval_secs = 5;
            config.cluster_port = port;
            if nodes > 1 {
                config.cluster = ClusterSettings {
                    node_id: Some(id),
                    peers: peers.clone(),
                    ..ClusterSettings::default()
                };
            }
            let addr: SocketAddr = format!("127.0.0.1:{}", free_port())
                .parse()
                .expect("an address");
            config.metrics_listen = Some(addr);
            config.flow().max_in_flight_records = DEFAULT_MAX_IN_FLIGHT_RECORDS;
            config.flow().max_in_flight_bytes = DEFAULT_MAX_IN_FLIGHT_BYTES;
            config.flow().toml_extra = flow_extra.to_vec();
            running.push(Strait::start(&config.toml(), "toml"));
            metrics.push(addr);
            data.push(dir);
        }
        Copier::Strait {
            nodes: running,
            metrics,
            _data: data,
        }
    }

    /// One Strait node on an mm2.properties (the MM2 comparison: counted on the target, no
    /// metrics endpoint).
    fn strait_properties(properties: &str, data: TempDir) -> Copier {
        Copier::Strait {
            nodes: vec![Strait::start(properties, "properties")],
            metrics: Vec::new(),
            _data: vec![data],
        }
    }

    fn pids(&self) -> Vec<u32> {
        match self {
            Copier::Raw { child, .. } => vec![child.id()],
            Copier::Strait { nodes, .. } => nodes.iter().map(Strait::pid).collect(),
            Copier::Mm2(mm2) => vec![mm2.pid()],
        }
    }

    /// Records and bytes the target acknowledged so far (and, of Strait nodes, their
    /// transactions and records in flight).
    fn acked(&self) -> Result<Counts, String> {
        match self {
            Copier::Raw { counts, .. } => {
                let (records, bytes, failed) = *counts.lock().unwrap_or_else(|p| p.into_inner());
                if failed > 0 {
                    return Err(format!("the raw copy failed {failed} deliveries"));
                }
                Ok(Counts {
                    records,
                    bytes,
                    ..Counts::default()
                })
            }
            Copier::Strait { metrics, .. } => {
                let mut total = Counts::default();
                for addr in metrics {
                    // A node not serving yet has acknowledged nothing.
                    if let Ok(body) = scrape::scrape(*addr) {
                        total.records +=
                            scrape::sum(&body, "strait_replication_records_total") as u64;
                        total.bytes += scrape::sum(&body, "strait_replication_bytes_total") as u64;
                        total.commits +=
                            scrape::sum(&body, "strait_transactions_committed_total") as u64;
                        total.aborts +=
                            scrape::sum(&body, "strait_transactions_aborted_total") as u64;
                        total.commit_s +=
                            scrape::sum(&body, "strait_transactions_commit_seconds_sum");
                        total.in_flight_records +=
                            scrape::sum(&body, "strait_replication_in_flight_records") as u64;
                    }
                }
                Ok(total)
            }
            Copier::Mm2(_) => Err("MirrorMaker 2 is counted on the target".to_owned()),
        }
    }

    /// The in-flight bytes of every node (Strait only).
    fn in_flight_bytes(&self) -> u64 {
        match self {
            Copier::Raw { .. } | Copier::Mm2(_) => 0,
            Copier::Strait { metrics, .. } => metrics
                .iter()
                .filter_map(|addr| scrape::scrape(*addr).ok())
                .map(|body| scrape::sum(&body, "strait_replication_in_flight_bytes") as u64)
                .sum(),
        }
    }

    fn alive(&mut self) -> Result<(), String> {
        match self {
            Copier::Raw { child, .. } => match child.try_wait() {
                Ok(Some(status)) => Err(format!("the raw copy exited: {status}")),
                _ => Ok(()),
            },
            Copier::Strait { nodes, .. } => {
                for node in nodes.iter_mut() {
                    if let Some(status) = node.try_exit() {
                        return Err(format!(
                            "strait node {} exited ({status}):\n{}",
                            node.pid(),
                            node.log_tail(30)
                        ));
                    }
                }
                Ok(())
            }
            Copier::Mm2(mm2) => mm2
                .alive()
                .map_err(|e| format!("{e}:\n{}", mm2.log_tail(40))),
        }
    }

    fn log_tail(&self) -> String {
        match self {
            Copier::Raw { .. } => String::new(),
            Copier::Mm2(mm2) => format!("--- MirrorMaker 2:\n{}", mm2.log_tail(40)),
            Copier::Strait { nodes, .. } => nodes
                .iter()
                .map(|n| format!("--- node {}:\n{}", n.pid(), n.log_tail(20)))
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

impl Drop for Copier {
    fn drop(&mut self) {
        if let Copier::Raw { child, .. } = self {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Strait nodes are killed by PID by their own drop.
    }
}

/// What a copier counted so far.
#[derive(Clone, Copy, Default)]
struct Counts {
    /// Records and bytes acknowledged by the target.
    records: u64,
    bytes: u64,
    /// Strait's transactions committed and aborted, the seconds the commits took (each from the
    /// end of the interval to the commit's answer), and the records in flight now (exactly-once
    /// holds them until their transaction commits).
    commits: u64,
    aborts: u64,
    commit_s: f64,
    in_flight_records: u64,
}

/// One sample of a copy.
#[derive(Clone, Copy)]
struct Sample {
    at: Instant,
    records: u64,
    bytes: u64,
    txn: Counts,
    copier_cpu: Duration,
    source_cpu: Duration,
    target_cpu: Duration,
    machine_busy: Duration,
    machine_total: Duration,
}

fn cpu_sum(pids: &[u32]) -> Duration {
    pids.iter().filter_map(|pid| procfs::cpu_time(*pid)).sum()
}

fn take_sample(copier: &Copier, brokers: (u32, u32)) -> Result<Sample, String> {
    let txn = copier.acked()?;
    let (machine_busy, machine_total) = procfs::machine_cpu().unwrap_or_default();
    Ok(Sample {
        at: Instant::now(),
        records: txn.records,
        bytes: txn.bytes,
        txn,
        copier_cpu: cpu_sum(&copier.pids()),
        source_cpu: procfs::cpu_time(brokers.0).unwrap_or_default(),
        target_cpu: procfs::cpu_time(brokers.1).unwrap_or_default(),
        machine_busy,
        machine_total,
    })
}

/// The figures of one copy.
#[derive(Clone, Default)]
struct Figures {
    records_per_s: f64,
    mb_per_s: f64,
    cpu_s_per_gb: f64,
    /// Cores used during the window.
    copier_cores: f64,
    source_cores: f64,
    target_cores: f64,
    machine_cores: f64,
    /// VmHWM of each copier process, KiB.
    peak_rss_kib: Vec<u64>,
    window_s: f64,
    /// Transactions committed per second (all nodes), their mean commit time, transactions
    /// aborted, and the most records in flight in one sample, over the window.
    commits_per_s: f64,
    commit_ms: f64,
    aborts: u64,
    max_in_flight_records: u64,
}

impl Figures {
    /// Which resource limits the figure (a judgement from the CPU figures, printed with them).
    fn ceiling(&self) -> String {
        let cores = procfs::cores() as f64;
        if self.machine_cores >= 0.9 * cores {
            let others =
                self.machine_cores - self.copier_cores - self.source_cores - self.target_cores;
            let mut users = [
                ("copier", self.copier_cores),
                ("source broker", self.source_cores),
                ("target broker", self.target_cores),
                ("rest (harness, other processes)", others),
            ];
            users.sort_by(|a, b| b.1.total_cmp(&a.1));
            format!("CPU: all {cores:.0} cores busy, most by the {}", users[0].0)
        } else if self.copier_cores >= 0.9 {
            "CPU: the copier's busiest thread(s), cores not all busy".to_owned()
        } else {
            "not CPU: round trips to the brokers (cores idle part of the time)".to_owned()
        }
    }
}

/// Waits until the copier acknowledged `expected` records, sampling all along; the figures over
/// the 10 % → 90 % window.
fn measure(
    copier: &mut Copier,
    expected: u64,
    brokers: (u32, u32),
    timeout: Duration,
) -> Result<Figures, String> {
    let started = Instant::now();
    let mut samples: Vec<Sample> = Vec::new();
    loop {
        copier.alive()?;
        let sample = take_sample(copier, brokers)?;
        samples.push(sample);
        if sample.records >= expected {
            break;
        }
        if started.elapsed() > timeout {
            return Err(format!(
                "{} of {expected} records copied after {timeout:?}\n{}",
                sample.records,
                copier.log_tail()
            ));
        }
        std::thread::sleep(SAMPLE);
    }
    let first = samples
        .iter()
        .find(|s| s.records >= expected / 10)
        .copied()
        .ok_or("no sample")?;
    let last = samples
        .iter()
        .find(|s| s.records >= expected * 9 / 10)
        .copied()
        .ok_or("no sample")?;
    let dt = (last.at - first.at).as_secs_f64();
    if dt <= 0.0 {
        return Err(format!(
            "the copy was too fast to measure ({expected} records within one {SAMPLE:?} sample): use more records"
        ));
    }
    let bytes = (last.bytes - first.bytes) as f64;
    let cores = |a: Duration, b: Duration| (b - a).as_secs_f64() / dt;
    let machine_share = (last.machine_busy - first.machine_busy).as_secs_f64()
        / (last.machine_total - first.machine_total)
            .as_secs_f64()
            .max(1e-9);
    Ok(Figures {
        records_per_s: (last.records - first.records) as f64 / dt,
        mb_per_s: bytes / dt / 1e6,
        cpu_s_per_gb: (last.copier_cpu - first.copier_cpu).as_secs_f64() / (bytes / 1e9),
        copier_cores: cores(first.copier_cpu, last.copier_cpu),
        source_cores: cores(first.source_cpu, last.source_cpu),
        target_cores: cores(first.target_cpu, last.target_cpu),
        machine_cores: machine_share * procfs::cores() as f64,
        peak_rss_kib: copier
            .pids()
            .iter()
            .filter_map(|pid| procfs::peak_rss_kib(*pid))
            .collect(),
        window_s: dt,
        commits_per_s: (last.txn.commits - first.txn.commits) as f64 / dt,
        commit_ms: if last.txn.commits > first.txn.commits {
            (last.txn.commit_s - first.txn.commit_s) * 1000.0
                / (last.txn.commits - first.txn.commits) as f64
        } else {
            0.0
        },
        aborts: last.txn.aborts,
        max_in_flight_records: samples
            .iter()
            .filter(|s| s.at >= first.at && s.at <= last.at)
            .map(|s| s.txn.in_flight_records)
            .max()
            .unwrap_or(0),
    })
}

/// The load of a latency run: `rate` records/s, `secs` measured after `warmup`.
#[derive(Clone, Copy)]
struct Pace {
    rate: u64,
    secs: u64,
    warmup: Duration,
}

/// Latency percentiles, milliseconds.
#[derive(Clone, Copy, Default)]
struct Latency {
    rate: u64,
    p50: f64,
    p99: f64,
    max: f64,
    samples: usize,
}

/// Produces `rate` records/s to `topic` (timestamps = send time); a consumer of `remote` on the
/// target notes, for each record sent after the warm-up, its read time minus its timestamp. The
/// warm-up is `warmup` from the first record arriving on the target (a copier that starts its copy late,
/// as MirrorMaker 2's tasks do after its remote topic exists, is measured once it copies); then
/// `secs` are measured.
fn latency(
    source: &str,
    target: &str,
    topic: &str,
    remote: &str,
    case: Case,
    pace: Pace,
) -> Result<Latency, String> {
    let Pace { rate, secs, warmup } = pace;
    let deadline = Instant::now() + Duration::from_secs(60);
    while admin::partition_count(target, remote) != Some(case.partitions as usize) {
        if Instant::now() > deadline {
            return Err(format!("{remote} not created on the target"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // read_committed: what a consumer of an exactly-once flow's target sees (records once their
    // transaction committed); for an at-least-once copier the same as read_uncommitted.
    let consumer: BaseConsumer = admin::client_config(target)
        .set("group.id", names::unique("strait-bench-latency"))
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("fetch.wait.max.ms", FETCH_WAIT_MS.to_string())
        .create()
        .map_err(|e| e.to_string())?;
    let mut assignment = TopicPartitionList::new();
    for partition in 0..case.partitions {
        assignment
            .add_partition_offset(remote, partition, Offset::Beginning)
            .map_err(|e| e.to_string())?;
    }
    consumer.assign(&assignment).map_err(|e| e.to_string())?;
    let measure_from = Arc::new(AtomicU64::new(u64::MAX));
    let measured_sent = Arc::new(AtomicU64::new(0));
    let load_done = Arc::new(AtomicBool::new(false));
    let arrived = Arc::new(AtomicBool::new(false));
    let reader = {
        let (measure_from, measured_sent, load_done, arrived) = (
            measure_from.clone(),
            measured_sent.clone(),
            load_done.clone(),
            arrived.clone(),
        );
        std::thread::spawn(move || {
            let mut latencies: Vec<f64> = Vec::new();
            let mut idle_since = Instant::now();
            loop {
                let done = load_done.load(Ordering::SeqCst);
                if done && latencies.len() as u64 >= measured_sent.load(Ordering::SeqCst) {
                    break;
                }
                if done && idle_since.elapsed() > Duration::from_secs(15) {
                    break;
                }
                if let Some(Ok(message)) = consumer.poll(Duration::from_millis(50)) {
                    let read = now_ms();
                    idle_since = Instant::now();
                    arrived.store(true, Ordering::SeqCst);
                    if let Some(ts) = message.timestamp().to_millis() {
                        if ts as u64 >= measure_from.load(Ordering::SeqCst) {
                            latencies.push((read - ts) as f64);
                        }
                    }
                }
            }
            latencies
        })
    };
    let producer = TestProducer::with_props(source, &[("linger.ms", "0")]);
    let started = Instant::now();
    let mut sent: u64 = 0;
    let mut measured: u64 = 0;
    // When the first record arrived, and when measuring started.
    let (mut first_arrival, mut measuring) = (None, None);
    while measuring.is_none_or(|m: Instant| m.elapsed() < Duration::from_secs(secs)) {
        if first_arrival.is_none() && arrived.load(Ordering::SeqCst) {
            first_arrival = Some(Instant::now());
        }
        if first_arrival.is_none() && started.elapsed() > Duration::from_secs(120) {
            load_done.store(true, Ordering::SeqCst);
            return Err(format!("no record arrived on {remote} within 120 s"));
        }
        if measuring.is_none() && first_arrival.is_some_and(|f| f.elapsed() >= warmup) {
            measuring = Some(Instant::now());
            measure_from.store(now_ms() as u64, Ordering::SeqCst);
        }
        let due = (started.elapsed().as_secs_f64() * rate as f64) as u64;
        while sent < due {
            let partition = (sent % case.partitions as u64) as i32;
            let ts = now_ms();
            producer.send(topic, partition, &record(case.size, sent, ts));
            if ts as u64 >= measure_from.load(Ordering::SeqCst) {
                measured += 1;
            }
            sent += 1;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    producer.flush();
    measured_sent.store(measured, Ordering::SeqCst);
    load_done.store(true, Ordering::SeqCst);
    let mut latencies = reader.join().map_err(|_| "latency reader panicked")?;
    if (latencies.len() as u64) < measured {
        return Err(format!(
            "only {} of {measured} records sent after the warm-up arrived",
            latencies.len()
        ));
    }
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    Ok(Latency {
        rate,
        p50: at(0.5),
        p99: at(0.99),
        max: at(1.0),
        samples: latencies.len(),
    })
}

struct CaseResult {
    case: Case,
    raw: Figures,
    one: Figures,
    three: Figures,
    latency_raw: Option<Latency>,
    latency_one: Option<Latency>,
}

fn run_case(args: &Args, source: &Broker, case: Case) -> Result<CaseResult, String> {
    eprintln!("case {case}: {} records", case.records);
    let topic = names::unique(&format!("bench-{}b-{}p", case.size, case.partitions));
    preload(source.bootstrap(), &topic, case);
    let timeout = Duration::from_secs(args.timeout_secs);
    let source_pid = source.pid().ok_or("the source is not a broker process")?;
    let copy = |name: &str, make: &dyn Fn(&Broker) -> Copier| -> Result<Figures, String> {
        let target = Broker::start("target");
        let pids = (source_pid, target.pid().ok_or("no target pid")?);
        let mut copier = make(&target);
        let figures = measure(&mut copier, case.records, pids, timeout)?;
        eprintln!(
            "  {name}: {:.0} records/s, {:.1} MB/s, {:.1} CPU s/GB ({:.1} s window)",
            figures.records_per_s, figures.mb_per_s, figures.cpu_s_per_gb, figures.window_s
        );
        Ok(figures)
    };
    let raw = copy("raw copy", &|target| {
        Copier::raw(
            args,
            source.bootstrap(),
            target.bootstrap(),
            &topic,
            case.partitions,
        )
    })?;
    let one = copy("strait, 1 node", &|target| {
        Copier::strait(1, source.bootstrap(), target.bootstrap(), &topic, &[])
    })?;
    let three = copy("strait, 3 nodes", &|target| {
        Copier::strait(3, source.bootstrap(), target.bootstrap(), &topic, &[])
    })?;
    let (mut latency_raw, mut latency_one) = (None, None);
    if args.latency_secs() > 0 {
        let rate = args
            .latency_rate
            .unwrap_or((one.records_per_s / 2.0).round() as u64);
        for raw_copy in [true, false] {
            let target = Broker::start("target");
            let lat_topic = names::unique(&format!("lat-{}b-{}p", case.size, case.partitions));
            admin::create_topic(source.bootstrap(), &lat_topic, case.partitions as usize);
            let (copier, remote) = if raw_copy {
                (
                    Copier::raw(
                        args,
                        source.bootstrap(),
                        target.bootstrap(),
                        &lat_topic,
                        case.partitions,
                    ),
                    format!("raw.{lat_topic}"),
                )
            } else {
                (
                    Copier::strait(1, source.bootstrap(), target.bootstrap(), &lat_topic, &[]),
                    format!("A.{lat_topic}"),
                )
            };
            let measured = latency(
                source.bootstrap(),
                target.bootstrap(),
                &lat_topic,
                &remote,
                case,
                Pace {
                    rate,
                    secs: args.latency_secs(),
                    warmup: Duration::from_secs(3),
                },
            )
            .map_err(|e| format!("{e}\n{}", copier.log_tail()))?;
            eprintln!(
                "  latency at {rate} records/s, {}: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} records)",
                if raw_copy { "raw copy" } else { "strait, 1 node" },
                measured.p50,
                measured.p99,
                measured.max,
                measured.samples
            );
            if raw_copy {
                latency_raw = Some(measured);
            } else {
                latency_one = Some(measured);
            }
            drop(copier);
        }
    }
    Ok(CaseResult {
        case,
        raw,
        one,
        three,
        latency_raw,
        latency_one,
    })
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn print_results(results: &[CaseResult]) {
    println!();
    println!(
        "machine: {} cores (shared by both brokers, the copier and this harness)",
        procfs::cores()
    );
    println!(
        "{:<10} {:<16} {:>10} {:>7} {:>9} {:>13} {:>22}  ceiling",
        "case",
        "copier",
        "records/s",
        "MB/s",
        "CPU s/GB",
        "peak RSS MiB",
        "cores copier/src/tgt/all"
    );
    for r in results {
        for (name, f) in [
            ("raw copy", &r.raw),
            ("strait 1 node", &r.one),
            ("strait 3 nodes", &r.three),
        ] {
            let rss: Vec<String> = f
                .peak_rss_kib
                .iter()
                .map(|k| format!("{:.0}", mib(*k)))
                .collect();
            println!(
                "{:<10} {:<16} {:>10.0} {:>7.1} {:>9.1} {:>13} {:>22}  {}",
                r.case.to_string(),
                name,
                f.records_per_s,
                f.mb_per_s,
                f.cpu_s_per_gb,
                rss.join("/"),
                format!(
                    "{:.2}/{:.2}/{:.2}/{:.2}",
                    f.copier_cores, f.source_cores, f.target_cores, f.machine_cores
                ),
                f.ceiling()
            );
        }
    }
    println!();
    println!(
        "{:<10} {:>22} {:>22} {:>18}   latency p50/p99 ms at half of strait's max rate: raw | strait",
        "case", "strait/raw throughput", "strait/raw CPU per GB", "3 nodes/1 node"
    );
    for r in results {
        let latency = match (r.latency_raw, r.latency_one) {
            (Some(raw), Some(one)) => format!(
                "{} rec/s: {:.0}/{:.0} | {:.0}/{:.0}",
                raw.rate, raw.p50, raw.p99, one.p50, one.p99
            ),
            _ => "not measured".to_owned(),
        };
        println!(
            "{:<10} {:>22.2} {:>22.2} {:>18.2}   {latency}",
            r.case.to_string(),
            r.one.records_per_s / r.raw.records_per_s,
            r.one.cpu_s_per_gb / r.raw.cpu_s_per_gb,
            r.three.records_per_s / r.one.records_per_s,
        );
    }
    println!();
    let all = |f: &dyn Fn(&CaseResult) -> bool| results.iter().all(f);
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!(
        "goal strait 1 node >= 0.9 x raw throughput: {}",
        verdict(all(&|r| r.one.records_per_s >= 0.9 * r.raw.records_per_s))
    );
    println!(
        "goal strait CPU per GB <= 1.1 x raw: {}",
        verdict(all(&|r| r.one.cpu_s_per_gb <= 1.1 * r.raw.cpu_s_per_gb))
    );
    println!(
        "goal 3 nodes >= 0.9 x 1 node: {}",
        verdict(all(&|r| r.three.records_per_s >= 0.9 * r.one.records_per_s))
    );
    if results.iter().any(|r| r.latency_one.is_some()) {
        println!(
            "goal p99 <= 50 ms at half load: {}",
            verdict(all(&|r| r.latency_one.is_none_or(|l| l.p99 <= 50.0)))
        );
    }
}

/// What the paused-target mode measured of one copier.
struct Pause {
    /// RSS MiB: the maximum while warming up, just before the pause, the maximum of each quarter
    /// of the pause, just after 30 s of catch-up and the maximum over them; the process's peak
    /// (VmHWM).
    warm_max: f64,
    before: f64,
    during: Vec<f64>,
    after: f64,
    after_max: f64,
    peak: f64,
    paused_for: f64,
    /// Largest in-flight bytes seen (Strait only).
    max_in_flight: u64,
    produced: u64,
    replicated: u64,
}

impl Pause {
    fn during_max(&self) -> f64 {
        self.during.iter().copied().fold(0.0, f64::max)
    }
}

/// The paused-target mode: one node (or, with `mm2`, MirrorMaker 2 on the comparison's
/// mm2.properties) under a steady load of 1 KB records; the target frozen for `pause_secs`; the
/// copier's RSS before, during and after, and whether it catches up (counted on the target).
fn paused_target(args: &Args, source: &Broker, mm2: bool) -> Result<Pause, String> {
    let case = Case {
        size: 1024,
        partitions: 24,
        records: 0,
    };
    let target = Broker::start("target");
    let topic = names::unique("pause");
    admin::create_topic(source.bootstrap(), &topic, case.partitions as usize);
    let data = temp_dir("strait-bench-data-");
    let copier = if mm2 {
        Copier::Mm2(Mm2::start(&mm2::properties(
            source.bootstrap(),
            target.bootstrap(),
            &topic,
            procfs::cores(),
            data.path(),
            free_port(),
        ))?)
    } else {
        Copier::strait(1, source.bootstrap(), target.bootstrap(), &topic, &[])
    };
    let pid = copier.pids()[0];
    let remote = format!("A.{topic}");
    let deadline = Instant::now() + Duration::from_secs(120);
    while admin::partition_count(target.bootstrap(), &remote) != Some(case.partitions as usize) {
        if Instant::now() > deadline {
            return Err(format!("{remote} not created\n{}", copier.log_tail()));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let consumer: BaseConsumer = admin::client_config(target.bootstrap())
        .create()
        .map_err(|e| format!("a consumer of the target: {e}"))?;
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let load = {
        let (stop, sent) = (stop.clone(), sent.clone());
        let (source, topic, rate) = (
            source.bootstrap().to_owned(),
            topic.clone(),
            args.pause_rate,
        );
        std::thread::spawn(move || {
            let producer = TestProducer::new(&source);
            let started = Instant::now();
            let mut n: u64 = 0;
            while !stop.load(Ordering::SeqCst) {
                let due = (started.elapsed().as_secs_f64() * rate as f64) as u64;
                while n < due {
                    let partition = (n % case.partitions as u64) as i32;
                    producer.send(&topic, partition, &record(case.size, n, now_ms()));
                    n += 1;
                }
                sent.store(n, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(2));
            }
            producer.flush();
            sent.store(n, Ordering::SeqCst);
        })
    };
    let rss = || procfs::rss_kib(pid).unwrap_or(0);
    let watch = |secs: u64| -> (u64, u64) {
        // (max RSS, max in-flight bytes) over `secs`.
        let until = Instant::now() + Duration::from_secs(secs);
        let (mut max_rss, mut max_in_flight) = (0, 0);
        while Instant::now() < until {
            max_rss = max_rss.max(rss());
            max_in_flight = max_in_flight.max(copier.in_flight_bytes());
            std::thread::sleep(Duration::from_millis(500));
        }
        (max_rss, max_in_flight)
    };
    // Copying (MirrorMaker 2's tasks start a while after its remote topic exists), then 15 s.
    let deadline = Instant::now() + Duration::from_secs(120);
    while landed(&consumer, &remote, case.partitions).unwrap_or(0) == 0 {
        if Instant::now() > deadline {
            stop.store(true, Ordering::SeqCst);
            return Err(format!("nothing copied to {remote}\n{}", copier.log_tail()));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let (warm_max, _) = watch(15);
    let before = rss();
    target.pause();
    let paused_at = Instant::now();
    let mut during = Vec::new();
    let mut max_in_flight = 0;
    for _ in 0..4 {
        let (max_rss, in_flight) = watch(args.pause_secs / 4);
        during.push(mib(max_rss));
        max_in_flight = max_in_flight.max(in_flight);
    }
    target.resume();
    let paused_for = paused_at.elapsed().as_secs_f64();
    let (after_max, _) = watch(30);
    let after = rss();
    let peak = procfs::peak_rss_kib(pid).unwrap_or(0);
    stop.store(true, Ordering::SeqCst);
    load.join().map_err(|_| "load thread panicked")?;
    let produced = sent.load(Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut replicated = landed(&consumer, &remote, case.partitions).unwrap_or(0);
    while replicated < produced && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        replicated = landed(&consumer, &remote, case.partitions).unwrap_or(0);
    }
    Ok(Pause {
        warm_max: mib(warm_max),
        before: mib(before),
        during,
        after: mib(after),
        after_max: mib(after_max),
        peak: mib(procfs::peak_rss_kib(pid).unwrap_or(peak)),
        paused_for,
        max_in_flight,
        produced,
        replicated,
    })
}

fn print_pause(pause: &Pause) {
    let during: Vec<String> = pause.during.iter().map(|m| format!("{m:.0}")).collect();
    println!(
        "  RSS MiB: before {:.0} (max while warming up {:.0}); during the {:.0} s pause, max per quarter: {}; after {:.0} (max over the 30 s after resume {:.0})",
        pause.before,
        pause.warm_max,
        pause.paused_for,
        during.join(" / "),
        pause.after,
        pause.after_max
    );
    println!(
        "  in flight max during the pause: {:.1} MiB (bound: {:.0} MiB); peak RSS (VmHWM) {:.0} MiB",
        pause.max_in_flight as f64 / 1048576.0,
        DEFAULT_MAX_IN_FLIGHT_BYTES as f64 / 1048576.0,
        pause.peak
    );
    println!(
        "  records produced {}, replicated {}{}",
        pause.produced,
        pause.replicated,
        if pause.replicated >= pause.produced {
            " (caught up)"
        } else {
            " (NOT caught up within 180 s)"
        }
    );
}

// ---- The MirrorMaker 2 comparison (`--mm2`) ----

/// The copiers of the MM2 comparison, in the order each round runs them.
#[derive(Clone, Copy, PartialEq)]
enum Contender {
    Strait,
    Mm2,
    Raw,
}

impl Contender {
    const ALL: [Contender; 3] = [Contender::Strait, Contender::Mm2, Contender::Raw];

    fn name(self) -> &'static str {
        match self {
            Contender::Strait => "strait 1 node",
            Contender::Mm2 => "mirrormaker 2",
            Contender::Raw => "raw copy",
        }
    }
}

/// One copy of a backlog, timed on the target: from the first sample where a record of it had
/// landed on the target until the sample where all had (JVM and node start-up excluded alike).
#[derive(Clone, Copy, Default)]
struct Backlog {
    /// Process start until the first record landed.
    start_s: f64,
    /// First record landed until caught up.
    copy_s: f64,
    records_per_s: f64,
    mb_per_s: f64,
    /// CPU seconds of the copier during the copy, and from its start to caught up.
    cpu_copy_s: f64,
    cpu_total_s: f64,
    cpu_s_per_gb: f64,
    /// Cores the whole machine used during the copy.
    machine_cores: f64,
    peak_rss_mib: f64,
}

/// The records on `topic` of the target (sum of the high watermarks), `None` while the topic
/// or one of its partitions is not there.
fn landed(consumer: &BaseConsumer, topic: &str, partitions: i32) -> Option<u64> {
    let mut sum = 0;
    for partition in 0..partitions {
        let (_, high) = consumer
            .fetch_watermarks(topic, partition, Duration::from_secs(2))
            .ok()?;
        sum += high.max(0) as u64;
    }
    Some(sum)
}

/// Starts `contender` on a fresh target broker and times its copy of the backlog of `case`
/// preloaded on `topic`.
fn copy_backlog(
    args: &Args,
    source: &Broker,
    topic: &str,
    case: Case,
    contender: Contender,
) -> Result<Backlog, String> {
    let target = Broker::start("target");
    let remote = match contender {
        Contender::Raw => format!("raw.{topic}"),
        Contender::Strait | Contender::Mm2 => format!("A.{topic}"),
    };
    let data = temp_dir("strait-bench-data-");
    let properties = mm2::properties(
        source.bootstrap(),
        target.bootstrap(),
        topic,
        procfs::cores(),
        data.path(),
        free_port(),
    );
    let consumer: BaseConsumer = admin::client_config(target.bootstrap())
        .create()
        .map_err(|e| format!("a consumer of the target: {e}"))?;
    let started = Instant::now();
    let mut copier = match contender {
        Contender::Strait => Copier::strait_properties(&properties, data),
        Contender::Mm2 => Copier::Mm2(Mm2::start(&properties)?),
        Contender::Raw => Copier::raw(
            args,
            source.bootstrap(),
            target.bootstrap(),
            topic,
            case.partitions,
        ),
    };
    let timeout = Duration::from_secs(args.timeout_secs);
    let pids = copier.pids();
    // (at, records landed, copier CPU, machine busy, machine total) of the first sample with
    // records on the target.
    let mut first: Option<(Instant, u64, Duration, Duration, Duration)> = None;
    let mut topic_seen = false;
    loop {
        copier.alive()?;
        if !topic_seen {
            topic_seen = admin::try_topics(target.bootstrap(), Duration::from_secs(5))
                .is_ok_and(|t| t.get(&remote).copied() == Some(case.partitions as usize));
        }
        let count = if topic_seen {
            landed(&consumer, &remote, case.partitions)
        } else {
            None
        };
        let at = Instant::now();
        let cpu = cpu_sum(&pids);
        let (busy, total) = procfs::machine_cpu().unwrap_or_default();
        if let Some(records) = count.filter(|n| *n > 0) {
            if first.is_none() {
                first = Some((at, records, cpu, busy, total));
            }
            if records >= case.records {
                let (t0, r0, cpu0, busy0, total0) = first.expect("set above");
                let copy_s = (at - t0).as_secs_f64();
                if copy_s <= 0.0 || records <= r0 {
                    return Err(format!(
                        "{} copied {} records within one {SAMPLE:?} sample: use more records",
                        contender.name(),
                        case.records
                    ));
                }
                let copied = (records - r0) as f64;
                let bytes = copied * case.size as f64;
                let cpu_copy_s = (cpu - cpu0).as_secs_f64();
                let machine_share =
                    (busy - busy0).as_secs_f64() / (total - total0).as_secs_f64().max(1e-9);
                return Ok(Backlog {
                    start_s: (t0 - started).as_secs_f64(),
                    copy_s,
                    records_per_s: copied / copy_s,
                    mb_per_s: bytes / copy_s / 1e6,
                    cpu_copy_s,
                    cpu_total_s: cpu.as_secs_f64(),
                    cpu_s_per_gb: cpu_copy_s / (bytes / 1e9),
                    machine_cores: machine_share * procfs::cores() as f64,
                    peak_rss_mib: pids
                        .iter()
                        .filter_map(|pid| procfs::peak_rss_kib(*pid))
                        .map(mib)
                        .sum(),
                });
            }
        }
        if started.elapsed() > timeout {
            return Err(format!(
                "{}: {count:?} of {} records on {remote} after {timeout:?}\n{}",
                contender.name(),
                case.records,
                copier.log_tail()
            ));
        }
        std::thread::sleep(SAMPLE);
    }
}

/// Median, min and max of `values` (not empty).
fn spread(values: &[f64]) -> (f64, f64, f64) {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    (median, sorted[0], sorted[n - 1])
}

/// `median (min–max)` with `decimals`; the median alone for one round.
fn show(values: &[f64], decimals: usize) -> String {
    let (median, min, max) = spread(values);
    if values.len() == 1 {
        format!("{median:.decimals$}")
    } else {
        format!("{median:.decimals$} ({min:.decimals$}–{max:.decimals$})")
    }
}

/// The runs of one case: per contender, one [`Backlog`] per round.
struct Versus {
    case: Case,
    runs: Vec<(Contender, Vec<Backlog>)>,
}

impl Versus {
    fn of(&self, contender: Contender) -> &[Backlog] {
        self.runs
            .iter()
            .find(|(c, _)| *c == contender)
            .map_or(&[], |(_, runs)| runs.as_slice())
    }

    fn median(&self, contender: Contender, figure: fn(&Backlog) -> f64) -> f64 {
        let values: Vec<f64> = self.of(contender).iter().map(figure).collect();
        spread(&values).0
    }
}

fn versus_mm2(args: &Args, source: &Broker) -> Result<(), String> {
    let modes: Vec<&str> = args.mm2_modes.iter().map(String::as_str).collect();
    if let Some(bad) = modes
        .iter()
        .find(|m| !["backlog", "latency", "pause"].contains(m))
    {
        return Err(format!("--mm2-modes: unknown mode {bad}"));
    }
    if modes.contains(&"backlog") {
        versus_mm2_backlog(args, source)?;
    }
    if modes.contains(&"latency") && args.latency_secs() > 0 {
        versus_mm2_latency(args, source)?;
    }
    if modes.contains(&"pause") && args.pause_secs > 0 {
        versus_mm2_pause(args, source)?;
    }
    Ok(())
}

/// End-to-end latency of Strait (1 node) and MirrorMaker 2 on the same mm2.properties at a fixed
/// rate, `--rounds` interleaved rounds per case, each copy to a fresh target broker and topic.
fn versus_mm2_latency(args: &Args, source: &Broker) -> Result<(), String> {
    let load_at_start = procfs::load_average();
    let rate = args.latency_rate.unwrap_or(5_000);
    let contenders = [Contender::Strait, Contender::Mm2];
    let cases = all_cases(args);
    // (case, contender) → one latency per round.
    let mut results: Vec<(Case, Contender, Vec<Latency>)> = Vec::new();
    for case in &cases {
        for contender in contenders {
            results.push((*case, contender, Vec::new()));
        }
    }
    for round in 1..=args.rounds() {
        for (case, contender, runs) in &mut results {
            let target = Broker::start("target");
            let topic = names::unique(&format!("lat-{}b-{}p", case.size, case.partitions));
            admin::create_topic(source.bootstrap(), &topic, case.partitions as usize);
            let data = temp_dir("strait-bench-data-");
            let properties = mm2::properties(
                source.bootstrap(),
                target.bootstrap(),
                &topic,
                procfs::cores(),
                data.path(),
                free_port(),
            );
            let copier = match contender {
                Contender::Mm2 => Copier::Mm2(Mm2::start(&properties)?),
                _ => Copier::strait_properties(&properties, data),
            };
            // MM2 copies what was produced before its tasks ran in a burst: a longer warm-up.
            let warmup = Duration::from_secs(10);
            let measured = latency(
                source.bootstrap(),
                target.bootstrap(),
                &topic,
                &format!("A.{topic}"),
                *case,
                Pace {
                    rate,
                    secs: args.latency_secs(),
                    warmup,
                },
            )
            .map_err(|e| format!("{e}\n{}", copier.log_tail()))?;
            eprintln!(
                "  round {round}, latency {case} at {rate} records/s, {}: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} records); load {}",
                contender.name(),
                measured.p50,
                measured.p99,
                measured.max,
                measured.samples,
                procfs::load_average()
            );
            runs.push(measured);
            drop(copier);
        }
    }
    println!();
    println!(
        "End-to-end latency at {rate} records/s (producer timestamp to a target consumer's read, \
         {} s measured after 10 s of warm-up from the first record arriving): {} round(s), median \
         (min–max); load average {load_at_start} at the start, {} at the end",
        args.latency_secs(),
        args.rounds(),
        procfs::load_average()
    );
    println!();
    println!("| case | copier | p50 ms | p99 ms | max ms |");
    println!("|---|---|---:|---:|---:|");
    for (case, contender, runs) in &results {
        let col = |f: fn(&Latency) -> f64| show(&runs.iter().map(f).collect::<Vec<_>>(), 0);
        println!(
            "| {case} | {} | {} | {} | {} |",
            contender.name(),
            col(|l| l.p50),
            col(|l| l.p99),
            col(|l| l.max)
        );
    }
    println!();
    println!("| case | strait/MM2 p50 | strait/MM2 p99 |");
    println!("|---|---:|---:|");
    for case in &cases {
        let median = |c: Contender, f: fn(&Latency) -> f64| {
            let runs = results
                .iter()
                .find(|(k, x, _)| k.size == case.size && k.partitions == case.partitions && *x == c)
                .map(|(_, _, r)| r.iter().map(f).collect::<Vec<_>>())
                .unwrap_or_default();
            spread(&runs).0
        };
        println!(
            "| {case} | {:.2} | {:.2} |",
            median(Contender::Strait, |l| l.p50) / median(Contender::Mm2, |l| l.p50),
            median(Contender::Strait, |l| l.p99) / median(Contender::Mm2, |l| l.p99)
        );
    }
    Ok(())
}

/// RSS of Strait (1 node) and MirrorMaker 2 while the target is frozen, interleaved rounds.
fn versus_mm2_pause(args: &Args, source: &Broker) -> Result<(), String> {
    let load_at_start = procfs::load_average();
    let rounds = args.pause_rounds.unwrap_or(args.rounds());
    let mut results: Vec<(Contender, Vec<Pause>)> = vec![
        (Contender::Strait, Vec::new()),
        (Contender::Mm2, Vec::new()),
    ];
    for round in 1..=rounds {
        for (contender, runs) in &mut results {
            let pause = paused_target(args, source, *contender == Contender::Mm2)?;
            eprintln!(
                "  round {round}, paused target, {}: RSS MiB before {:.0}, max during the pause {:.0}, after {:.0}, peak {:.0}; {} of {} replicated; load {}",
                contender.name(),
                pause.before,
                pause.during_max(),
                pause.after,
                pause.peak,
                pause.replicated,
                pause.produced,
                procfs::load_average()
            );
            runs.push(pause);
        }
    }
    println!();
    println!(
        "Paused target: 1KB x 24p at {} records/s, the target broker SIGSTOPped for {} s after 15 s \
         of copying; {rounds} round(s), median (min–max); load average {load_at_start} at the \
         start, {} at the end",
        args.pause_rate,
        args.pause_secs,
        procfs::load_average()
    );
    println!();
    println!(
        "| copier | RSS MiB before | max during the pause | max in the 30 s after | peak (VmHWM) | caught up |"
    );
    println!("|---|---:|---:|---:|---:|---|");
    for (contender, runs) in &results {
        let col = |f: fn(&Pause) -> f64| show(&runs.iter().map(f).collect::<Vec<_>>(), 0);
        let caught_up = runs.iter().filter(|p| p.replicated >= p.produced).count();
        println!(
            "| {} | {} | {} | {} | {} | {caught_up} of {} |",
            contender.name(),
            col(|p| p.before),
            col(Pause::during_max),
            col(|p| p.after_max),
            col(|p| p.peak),
            runs.len()
        );
    }
    let median = |c: Contender, f: fn(&Pause) -> f64| {
        let values: Vec<f64> = results
            .iter()
            .find(|(x, _)| *x == c)
            .map(|(_, r)| r.iter().map(f).collect())
            .unwrap_or_default();
        spread(&values).0
    };
    println!();
    println!(
        "strait/MM2 RSS during the pause: {:.2}; peak: {:.2}",
        median(Contender::Strait, Pause::during_max) / median(Contender::Mm2, Pause::during_max),
        median(Contender::Strait, |p| p.peak) / median(Contender::Mm2, |p| p.peak)
    );
    Ok(())
}

/// Throughput, CPU and RSS of a backlog copy: Strait, MM2 and the raw copy, interleaved rounds.
fn versus_mm2_backlog(args: &Args, source: &Broker) -> Result<(), String> {
    let load_at_start = procfs::load_average();
    let mut cases = Vec::new();
    for case in all_cases(args) {
        let topic = names::unique(&format!("mm2-{}b-{}p", case.size, case.partitions));
        preload(source.bootstrap(), &topic, case);
        cases.push((
            topic,
            Versus {
                case,
                runs: Contender::ALL.iter().map(|c| (*c, Vec::new())).collect(),
            },
        ));
    }
    for round in 1..=args.rounds() {
        for (topic, versus) in &mut cases {
            for (contender, runs) in &mut versus.runs {
                let run = copy_backlog(args, source, topic, versus.case, *contender)?;
                eprintln!(
                    "  round {round}, {}, {}: start {:.1} s, copy {:.2} s, {:.0} records/s, {:.1} MB/s, \
                     {:.1} CPU s ({:.1} s/GB), peak RSS {:.0} MiB; machine {:.2} cores busy, load {}",
                    versus.case,
                    contender.name(),
                    run.start_s,
                    run.copy_s,
                    run.records_per_s,
                    run.mb_per_s,
                    run.cpu_copy_s,
                    run.cpu_s_per_gb,
                    run.peak_rss_mib,
                    run.machine_cores,
                    procfs::load_average()
                );
                runs.push(run);
            }
        }
    }
    let results: Vec<Versus> = cases.into_iter().map(|(_, v)| v).collect();
    print_versus(args, &results, &load_at_start);
    Ok(())
}

fn print_versus(args: &Args, results: &[Versus], load_at_start: &str) {
    println!();
    println!(
        "Strait against MirrorMaker 2 (dedicated mode, same mm2.properties) and the raw copy: {} \
         round(s), median (min–max); machine: {} cores shared by both brokers, the copier and this \
         harness; load average (1/5/15 min) {load_at_start} at the start, {} at the end",
        args.rounds(),
        procfs::cores(),
        procfs::load_average()
    );
    println!(
        "start s: process start to the first record on the target; copy s: from then to the last \
         (records/s, MB/s, CPU s and CPU s/GB over that window); CPU s from start: the process's \
         whole CPU time until caught up"
    );
    println!();
    println!(
        "| case | copier | records | start s | copy s | records/s | MB/s | CPU s | CPU s from start | CPU s/GB | peak RSS MiB | machine cores busy |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in results {
        for (contender, runs) in &r.runs {
            let col = |figure: fn(&Backlog) -> f64, decimals: usize| {
                show(&runs.iter().map(figure).collect::<Vec<_>>(), decimals)
            };
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.case,
                contender.name(),
                r.case.records,
                col(|b| b.start_s, 1),
                col(|b| b.copy_s, 2),
                col(|b| b.records_per_s, 0),
                col(|b| b.mb_per_s, 1),
                col(|b| b.cpu_copy_s, 1),
                col(|b| b.cpu_total_s, 1),
                col(|b| b.cpu_s_per_gb, 1),
                col(|b| b.peak_rss_mib, 0),
                col(|b| b.machine_cores, 2),
            );
        }
    }
    println!();
    println!(
        "| case | strait/MM2 throughput | strait/MM2 CPU per GB | strait/MM2 peak RSS | raw/MM2 throughput |"
    );
    println!("|---|---:|---:|---:|---:|");
    let ratio = |r: &Versus, a: Contender, figure: fn(&Backlog) -> f64| {
        r.median(a, figure) / r.median(Contender::Mm2, figure)
    };
    for r in results {
        println!(
            "| {} | {:.2} | {:.2} | {:.2} | {:.2} |",
            r.case,
            ratio(r, Contender::Strait, |b| b.records_per_s),
            ratio(r, Contender::Strait, |b| b.cpu_s_per_gb),
            ratio(r, Contender::Strait, |b| b.peak_rss_mib),
            ratio(r, Contender::Raw, |b| b.records_per_s),
        );
    }
    println!();
    let all = |f: &dyn Fn(&Versus) -> bool| results.iter().all(f);
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!(
        "goal throughput >= 2 x MM2: {}",
        verdict(all(
            &|r| ratio(r, Contender::Strait, |b| b.records_per_s) >= 2.0
        ))
    );
    println!(
        "goal CPU per GB <= 0.5 x MM2: {}",
        verdict(all(
            &|r| ratio(r, Contender::Strait, |b| b.cpu_s_per_gb) <= 0.5
        ))
    );
    println!(
        "goal peak RSS <= 0.25 x MM2: {}",
        verdict(all(
            &|r| ratio(r, Contender::Strait, |b| b.peak_rss_mib) <= 0.25
        ))
    );
}

// ---- The cost of exactly-once (`--exactly-once`) ----

/// How a Strait flow delivers: at-least-once (the default) or exactly-once with this
/// `transaction_interval_ms`.
#[derive(Clone, Copy, PartialEq)]
enum Guarantee {
    AtLeastOnce,
    ExactlyOnce { interval_ms: u64 },
}

impl Guarantee {
    /// The flow's TOML lines of the mode.
    fn flow_toml(self) -> Vec<String> {
        match self {
            Guarantee::AtLeastOnce => Vec::new(),
            Guarantee::ExactlyOnce { interval_ms } => vec![
                "exactly_once = true".to_owned(),
                format!("transaction_interval_ms = {interval_ms}"),
            ],
        }
    }

    fn name(self) -> String {
        match self {
            Guarantee::AtLeastOnce => "at-least-once".to_owned(),
            Guarantee::ExactlyOnce { interval_ms } => format!("exactly-once {interval_ms} ms"),
        }
    }
}

/// The backlog copies of one case by `nodes` nodes in one delivery mode, one per round.
struct ModeRuns {
    case: Case,
    nodes: u64,
    delivery: Guarantee,
    runs: Vec<Figures>,
}

/// The latency runs of one case in one delivery mode, one per round.
struct ModeLatency {
    case: Case,
    delivery: Guarantee,
    runs: Vec<Latency>,
}

/// Median of `figure` over `runs` (not empty).
fn median_of<T>(runs: &[T], figure: impl Fn(&T) -> f64) -> f64 {
    spread(&runs.iter().map(figure).collect::<Vec<_>>()).0
}

/// At-least-once against exactly-once Strait on the same backlog (interleaved, the order
/// alternating between rounds, each copy to a fresh target broker), then the latency of both at a
/// fixed rate.
fn exactly_once_cost(args: &Args, source: &Broker) -> Result<(), String> {
    let load_at_start = procfs::load_average();
    let started = Instant::now();
    let interval_ms = *args
        .transaction_intervals
        .first()
        .ok_or("--transaction-intervals: at least one interval")?;
    let eos = Guarantee::ExactlyOnce { interval_ms };
    let timeout = Duration::from_secs(args.timeout_secs);
    let source_pid = source.pid().ok_or("the source is not a broker process")?;
    let cases = all_cases(args);
    let mut topics = Vec::new();
    let mut copies: Vec<ModeRuns> = Vec::new();
    for case in &cases {
        let topic = names::unique(&format!("eos-{}b-{}p", case.size, case.partitions));
        preload(source.bootstrap(), &topic, *case);
        topics.push(topic);
        for &nodes in &args.nodes {
            for delivery in [Guarantee::AtLeastOnce, eos] {
                copies.push(ModeRuns {
                    case: *case,
                    nodes,
                    delivery,
                    runs: Vec::new(),
                });
            }
        }
    }
    let rounds = args.rounds();
    for round in 1..=rounds {
        // Odd rounds at-least-once first, even rounds exactly-once first: a drift of the
        // machine's load within a round does not favour one mode.
        let mut order: Vec<usize> = (0..copies.len()).collect();
        if round % 2 == 0 {
            for pair in order.chunks_mut(2) {
                pair.reverse();
            }
        }
        for i in order {
            let run = &mut copies[i];
            let case_index = cases
                .iter()
                .position(|c| c.size == run.case.size && c.partitions == run.case.partitions)
                .expect("a case");
            let topic = &topics[case_index];
            let target = Broker::start("target");
            let pids = (source_pid, target.pid().ok_or("no target pid")?);
            let mut copier = Copier::strait(
                run.nodes,
                source.bootstrap(),
                target.bootstrap(),
                topic,
                &run.delivery.flow_toml(),
            );
            let figures = measure(&mut copier, run.case.records, pids, timeout)?;
            eprintln!(
                "  round {round}, {}, {} node(s), {}: {:.0} records/s, {:.1} MB/s, {:.1} CPU s/GB, \
                 peak RSS {:.0} MiB, {:.1} commits/s of {:.0} ms, {} aborted, max {} in flight \
                 ({:.1} s window); cores node {:.2} target {:.2} machine {:.2}; load {}",
                run.case,
                run.nodes,
                run.delivery.name(),
                figures.records_per_s,
                figures.mb_per_s,
                figures.cpu_s_per_gb,
                figures.peak_rss_kib.iter().map(|k| mib(*k)).sum::<f64>(),
                figures.commits_per_s,
                figures.commit_ms,
                figures.aborts,
                figures.max_in_flight_records,
                figures.window_s,
                figures.copier_cores,
                figures.target_cores,
                figures.machine_cores,
                procfs::load_average()
            );
            run.runs.push(figures);
            drop(copier);
        }
    }
    let backlog_load = procfs::load_average();
    // Latency: one node, every case, at-least-once and exactly-once at each interval.
    let rate = args.latency_rate.unwrap_or(5_000);
    let mut latencies: Vec<ModeLatency> = Vec::new();
    if args.latency_secs() > 0 {
        for case in &cases {
            let mut modes = vec![Guarantee::AtLeastOnce];
            modes.extend(
                args.transaction_intervals
                    .iter()
                    .map(|&interval_ms| Guarantee::ExactlyOnce { interval_ms }),
            );
            for delivery in modes {
                latencies.push(ModeLatency {
                    case: *case,
                    delivery,
                    runs: Vec::new(),
                });
            }
        }
        for round in 1..=rounds {
            let mut order: Vec<usize> = (0..latencies.len()).collect();
            if round % 2 == 0 {
                order.reverse();
            }
            for i in order {
                let run = &mut latencies[i];
                let case = run.case;
                let target = Broker::start("target");
                let topic = names::unique(&format!("eos-lat-{}b-{}p", case.size, case.partitions));
                admin::create_topic(source.bootstrap(), &topic, case.partitions as usize);
                let copier = Copier::strait(
                    1,
                    source.bootstrap(),
                    target.bootstrap(),
                    &topic,
                    &run.delivery.flow_toml(),
                );
                let measured = latency(
                    source.bootstrap(),
                    target.bootstrap(),
                    &topic,
                    &format!("A.{topic}"),
                    case,
                    Pace {
                        rate,
                        secs: args.latency_secs(),
                        warmup: Duration::from_secs(5),
                    },
                )
                .map_err(|e| format!("{e}\n{}", copier.log_tail()))?;
                eprintln!(
                    "  round {round}, latency {case} at {rate} records/s, {}: p50 {:.0} ms, p99 {:.0} \
                     ms, max {:.0} ms ({} records); load {}",
                    run.delivery.name(),
                    measured.p50,
                    measured.p99,
                    measured.max,
                    measured.samples,
                    procfs::load_average()
                );
                run.runs.push(measured);
                drop(copier);
            }
        }
    }
    print_exactly_once(
        args,
        &copies,
        &latencies,
        [&load_at_start, &backlog_load, &procfs::load_average()],
        started.elapsed(),
    );
    Ok(())
}

fn print_exactly_once(
    args: &Args,
    copies: &[ModeRuns],
    latencies: &[ModeLatency],
    loads: [&str; 3],
    took: Duration,
) {
    let rounds = args.rounds();
    println!();
    println!(
        "Exactly-once against at-least-once (Strait, same backlog, interleaved): {rounds} round(s), \
         median (min–max); transaction_interval_ms {} for the backlog copies; machine: {} cores \
         shared by both brokers, the nodes and this harness; load average (1/5/15 min) {} at the \
         start, {} after the backlog copies, {} at the end; {:.1} min",
        args.transaction_intervals.first().copied().unwrap_or(0),
        procfs::cores(),
        loads[0],
        loads[1],
        loads[2],
        took.as_secs_f64() / 60.0
    );
    println!(
        "Figures over the window from 10 % to 90 % of the records acknowledged (exactly-once: \
         committed), sampled every 100 ms; CPU s/GB of the node process(es); commits/s and the \
         mean commit time from strait_transactions_committed_total / _commit_seconds; in flight: \
         the most records read and not yet acknowledged in one sample (bound 100,000)."
    );
    println!();
    println!(
        "| case | nodes | mode | records | records/s | MB/s | CPU s/GB | peak RSS MiB | commits/s | commit ms | max in flight | cores node/target/all |"
    );
    println!("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for c in copies {
        let col = |figure: fn(&Figures) -> f64, decimals: usize| {
            show(&c.runs.iter().map(figure).collect::<Vec<_>>(), decimals)
        };
        let eos = matches!(c.delivery, Guarantee::ExactlyOnce { .. });
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.2}/{:.2}/{:.2} |",
            c.case,
            c.nodes,
            c.delivery.name(),
            c.case.records,
            col(|f| f.records_per_s, 0),
            col(|f| f.mb_per_s, 1),
            col(|f| f.cpu_s_per_gb, 1),
            col(|f| f.peak_rss_kib.iter().map(|k| mib(*k)).sum(), 0),
            if eos {
                col(|f| f.commits_per_s, 1)
            } else {
                "–".to_owned()
            },
            if eos {
                col(|f| f.commit_ms, 0)
            } else {
                "–".to_owned()
            },
            col(|f| f.max_in_flight_records as f64, 0),
            median_of(&c.runs, |f| f.copier_cores),
            median_of(&c.runs, |f| f.target_cores),
            median_of(&c.runs, |f| f.machine_cores),
        );
    }
    let aborted: u64 = copies.iter().flat_map(|c| &c.runs).map(|f| f.aborts).sum();
    if aborted > 0 {
        println!();
        println!("transactions aborted during the copies: {aborted}");
    }
    let latency_of = |case: Case, delivery: Guarantee| {
        latencies
            .iter()
            .find(|l| {
                l.case.size == case.size
                    && l.case.partitions == case.partitions
                    && l.delivery == delivery
            })
            .filter(|l| !l.runs.is_empty())
    };
    if !latencies.is_empty() {
        println!();
        println!(
            "End-to-end latency at {} records/s, 1 node (producer timestamp to a read_committed \
             consumer's read of the target, {} s measured after 5 s of warm-up from the first \
             record arriving):",
            args.latency_rate.unwrap_or(5_000),
            args.latency_secs()
        );
        println!();
        println!("| case | mode | p50 ms | p99 ms | max ms | p99 / interval |");
        println!("|---|---|---:|---:|---:|---:|");
        for l in latencies {
            let col = |f: fn(&Latency) -> f64| show(&l.runs.iter().map(f).collect::<Vec<_>>(), 0);
            let per_interval = match l.delivery {
                Guarantee::ExactlyOnce { interval_ms } => {
                    format!("{:.2}", median_of(&l.runs, |x| x.p99) / interval_ms as f64)
                }
                Guarantee::AtLeastOnce => "–".to_owned(),
            };
            println!(
                "| {} | {} | {} | {} | {} | {per_interval} |",
                l.case,
                l.delivery.name(),
                col(|x| x.p50),
                col(|x| x.p99),
                col(|x| x.max)
            );
        }
    }
    println!();
    println!("| case | nodes | EOS/ALO records/s | MB/s | CPU s/GB | peak RSS | p50 | p99 |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let mut throughput_met = true;
    for pair in copies.chunks(2) {
        let [alo, eos] = pair else { continue };
        let ratio = |figure: fn(&Figures) -> f64| {
            median_of(&eos.runs, figure) / median_of(&alo.runs, figure)
        };
        let records = ratio(|f| f.records_per_s);
        throughput_met &= records >= 0.8;
        let latency_ratio = |figure: fn(&Latency) -> f64| match (
            latency_of(alo.case, Guarantee::AtLeastOnce),
            latency_of(eos.case, eos.delivery),
        ) {
            (Some(a), Some(e)) if eos.nodes == 1 => format!(
                "{:.2}",
                median_of(&e.runs, figure) / median_of(&a.runs, figure)
            ),
            _ => "–".to_owned(),
        };
        println!(
            "| {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} |",
            alo.case,
            alo.nodes,
            records,
            ratio(|f| f.mb_per_s),
            ratio(|f| f.cpu_s_per_gb),
            ratio(|f| f.peak_rss_kib.iter().map(|k| mib(*k)).sum()),
            latency_ratio(|l| l.p50),
            latency_ratio(|l| l.p99),
        );
    }
    println!();
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!(
        "goal exactly-once >= 0.8 x at-least-once throughput: {}",
        verdict(throughput_met)
    );
    for l in latencies {
        if let Guarantee::ExactlyOnce { interval_ms } = l.delivery {
            let p99 = median_of(&l.runs, |x| x.p99);
            println!(
                "goal p99 <= 2 x the commit interval ({}, {interval_ms} ms): p99 {p99:.0} ms, {}",
                l.case,
                verdict(p99 <= 2.0 * interval_ms as f64)
            );
        }
    }
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let source = Broker::start("source");
    let mut results = Vec::new();
    let mut run = || -> Result<(), String> {
        if args.mm2 {
            return versus_mm2(&args, &source);
        }
        if args.exactly_once {
            return exactly_once_cost(&args, &source);
        }
        if !args.pause_only {
            for case in all_cases(&args) {
                results.push(run_case(&args, &source, case)?);
            }
            print_results(&results);
        }
        if args.pause_secs > 0 {
            println!();
            println!(
                "paused-target mode: 1KB x 24p, {} records/s, target frozen for {} s",
                args.pause_rate, args.pause_secs
            );
            print_pause(&paused_target(&args, &source, false)?);
        }
        Ok(())
    };
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("benchmark failed: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
