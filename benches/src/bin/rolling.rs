//! `strait-rolling`: how long partitions stall while a strait cluster is restarted node after node,
//! as a StatefulSet's rolling update does it: SIGTERM a node, wait for its exit, start it again on
//! its data dir, wait until the cluster is balanced and every partition flows, next node (the
//! followers first, the leader last), for a few full rounds.
//!
//! Two brokers (source, target), a topic of 12 partitions under a steady load (2,000 records/s in
//! total; record `seq` of a partition carries the timestamp `base + seq`), a 3-node cluster
//! replicating it. A consumer of the target notes when each record arrives; a partition's **stall**
//! in a restart is the longest time between the arrivals of two consecutive new records (replays do
//! not count as progress) from the SIGTERM until the cluster is steady again with the node back.
//! The same figure over a steady period before the first restart is the baseline (the load's and
//! the fetches' own jitter).
//!
//! Prints one line per restart, then the median and worst stall over every partition and restart,
//! the goal check, and the records produced, lost and replayed.

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use strait_bench::cluster::{Cluster, ClusterSpec};
use strait_bench::load::SteadyLoad;
use strait_bench::steady::{settled, wait_for_topic, Settled, POLL};
use strait_bench::watch::{PartitionSeen, Watcher};
use strait_tests::{admin, data, names, Broker};

#[derive(Parser)]
#[command(
    about = "Measures per-partition stalls during rolling restarts (SIGTERM) of a strait cluster"
)]
struct Args {
    /// Full rolling restarts (each restarts every node once).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Partitions of the source topic.
    #[arg(long, default_value_t = 12)]
    partitions: usize,
    /// Records per second produced to the source topic, in total.
    #[arg(long, default_value_t = 2000)]
    rate: u64,
    /// Nodes of the strait cluster.
    #[arg(long, default_value_t = 3)]
    nodes: u64,
    /// A node not gone this many seconds after SIGTERM is a failure (killed, the run stops).
    #[arg(long, default_value_t = 60)]
    exit_deadline_secs: u64,
    /// How long the cluster may take to be balanced and flowing again after a restart.
    #[arg(long, default_value_t = 90)]
    settle_deadline_secs: u64,
    /// Steady time between the cluster being balanced and flowing, and the next SIGTERM.
    #[arg(long, default_value_t = 2)]
    pause_secs: u64,
    /// Steady time measured before the first restart, for the baseline stall.
    #[arg(long, default_value_t = 10)]
    baseline_secs: u64,
    /// The goal: no partition stalls longer than this many seconds.
    #[arg(long, default_value_t = 1.0)]
    goal_secs: f64,
    /// Keep the work dir (configs, data dirs, every node's log) even when all went well.
    #[arg(long)]
    keep: bool,
}

/// One node's restart and what the partitions saw.
struct Restart {
    round: usize,
    node: u64,
    leader: bool,
    /// The partitions it owned before the SIGTERM (handed over when it stopped).
    owned: Vec<i32>,
    /// The partitions it owns once back (handed back to it after its start).
    back: Vec<i32>,
    /// From SIGTERM until the process was gone.
    exit_secs: f64,
    /// Its log said every partition was handed over (and, for a leader, the leadership).
    handed_over: bool,
    leadership_handed_over: bool,
    /// From the new start until balanced with a new record on every partition.
    back_secs: Option<f64>,
    /// Per partition: the longest stall (seconds) from the SIGTERM until the process was gone
    /// (the handover on stop), and from its start until steady again (the handback).
    stop_stalls: Vec<f64>,
    start_stalls: Vec<f64>,
    replayed: u64,
}

#[derive(Default)]
struct Report {
    restarts: Vec<Restart>,
    /// Per partition: the longest stall in a steady period before the first restart.
    baseline: Vec<f64>,
    build: String,
    produced: u64,
    lost: u64,
    setup: Vec<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(e) = locate_strait() {
        eprintln!("strait-rolling: {e}");
        return ExitCode::from(2);
    }
    let work = match tempfile::Builder::new().prefix("strait-rolling-").tempdir() {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("strait-rolling: creating a work dir: {e}");
            return ExitCode::from(2);
        }
    };
    let mut report = Report::default();
    let outcome =
        std::panic::catch_unwind(AssertUnwindSafe(|| run(&args, work.path(), &mut report)));
    let error = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(panic) => Some(
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "panic".to_owned()),
        ),
    };
    report.print(&args);
    if let Some(e) = &error {
        println!("\nABORTED: {e}");
    }
    if args.keep || error.is_some() || report.lost > 0 {
        let kept = work.keep();
        println!(
            "work dir kept (configs, data, node logs in logs/): {}",
            kept.display()
        );
    }
    if error.is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The `strait` binary: `$STRAIT_BIN`, else `strait` next to this binary.
fn locate_strait() -> Result<(), String> {
    if std::env::var_os("STRAIT_BIN").is_some_and(|b| !b.is_empty()) {
        return Ok(());
    }
    let exe = std::env::current_exe().map_err(|e| format!("path of this binary: {e}"))?;
    let bin = exe.with_file_name("strait");
    if !bin.is_file() {
        return Err(format!(
            "no strait binary at {}: build it (`cargo build --bin strait`) or set STRAIT_BIN",
            bin.display()
        ));
    }
    // Single-threaded still: nothing reads the environment concurrently.
    std::env::set_var("STRAIT_BIN", &bin);
    Ok(())
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn max(values: &[f64]) -> f64 {
    values.iter().copied().fold(0.0, f64::max)
}

impl Restart {
    /// The longest stall of each partition over the whole restart.
    fn stalls(&self) -> Vec<f64> {
        self.stop_stalls
            .iter()
            .zip(&self.start_stalls)
            .map(|(a, b)| a.max(*b))
            .collect()
    }

    fn line(&self) -> String {
        let worst = |stalls: &[f64], of: &dyn Fn(i32) -> bool| {
            stalls
                .iter()
                .enumerate()
                .filter(|(p, _)| of(*p as i32))
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map_or("-".to_owned(), |(p, s)| format!("{s:.2} s (p{p})"))
        };
        let moved = |p: i32| self.owned.contains(&p) || self.back.contains(&p);
        format!(
            "round {} node {} ({}): exited {:.2} s after SIGTERM{}{}; back, balanced and flowing {}\n    \
             stop: its partitions {:?} worst {}, the others worst {}; start: partitions handed back \
             {:?} worst {}, the others worst {}; {} replayed",
            self.round,
            self.node,
            if self.leader { "leader" } else { "follower" },
            self.exit_secs,
            if self.handed_over { ", partitions handed over" } else { ", NO HANDOVER" },
            if self.leadership_handed_over { ", leadership handed over" } else { "" },
            self.back_secs
                .map_or("never".to_owned(), |s| format!("{s:.2} s after its start")),
            self.owned,
            worst(&self.stop_stalls, &|p| self.owned.contains(&p)),
            worst(&self.stop_stalls, &|p| !self.owned.contains(&p)),
            self.back,
            worst(&self.start_stalls, &|p| self.back.contains(&p)),
            worst(&self.start_stalls, &|p| !moved(p)),
            self.replayed
        )
    }
}

impl Report {
    fn print(&self, args: &Args) {
        println!();
        println!("== strait rolling restart: per-partition stalls while nodes restart (SIGTERM)");
        for line in &self.setup {
            println!("{line}");
        }
        if !self.baseline.is_empty() {
            println!(
                "baseline (steady, {} s before the first restart): stall median {:.2} s, worst {:.2} s",
                args.baseline_secs,
                median(&self.baseline),
                max(&self.baseline)
            );
        }
        for restart in &self.restarts {
            println!("{}", restart.line());
        }
        println!();
        let all: Vec<f64> = self.restarts.iter().flat_map(Restart::stalls).collect();
        let moved: Vec<f64> = self
            .restarts
            .iter()
            .flat_map(|r| {
                let stop = r.owned.iter().map(|p| r.stop_stalls[*p as usize]);
                let start = r.back.iter().map(|p| r.start_stalls[*p as usize]);
                stop.chain(start).collect::<Vec<_>>()
            })
            .collect();
        if all.is_empty() {
            println!("no restart measured");
        } else {
            let worst_per_restart: Vec<f64> =
                self.restarts.iter().map(|r| max(&r.stalls())).collect();
            let exits: Vec<f64> = self.restarts.iter().map(|r| r.exit_secs).collect();
            println!(
                "restarts: {} ({} handed over, {} leaders); exit after SIGTERM median {:.2} s, max {:.2} s",
                self.restarts.len(),
                self.restarts.iter().filter(|r| r.handed_over).count(),
                self.restarts.iter().filter(|r| r.leader).count(),
                median(&exits),
                max(&exits)
            );
            println!(
                "stall per partition and restart ({}): median {:.2} s, worst {:.2} s; worst per \
                 restart: median {:.2} s",
                all.len(),
                median(&all),
                max(&all),
                median(&worst_per_restart)
            );
            println!(
                "stall of each moved partition in its move ({}: handed over on a stop, handed back \
                 after a start): median {:.2} s, worst {:.2} s",
                moved.len(),
                median(&moved),
                max(&moved)
            );
            let worst = max(&all);
            println!(
                "goal (no partition idle > {:.1} s): {}",
                args.goal_secs,
                if worst <= args.goal_secs {
                    format!("met (worst {worst:.2} s)")
                } else {
                    format!("NOT met (worst {worst:.2} s)")
                }
            );
        }
        println!(
            "records: {} produced, {} lost on the target, {} replayed",
            self.produced,
            self.lost,
            self.restarts.iter().map(|r| r.replayed).sum::<u64>()
        );
        println!("machine: {}", machine(&self.build, args));
    }
}

fn machine(build: &str, args: &Args) -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_default();
    format!(
        "{cores} cores shared by both brokers, the load generator ({} records/s), the target \
         watcher and the {} strait nodes ({build}); load average at the end {load}",
        args.rate, args.nodes
    )
}

fn run(args: &Args, work: &Path, report: &mut Report) -> Result<(), String> {
    report.build = strait_bench::strait_build();
    eprintln!("starting the brokers...");
    // Declared first, dropped last: the nodes go before the brokers.
    let source = Broker::start("source");
    let target = Broker::start("target");
    let topic = names::unique("rolling");
    let remote = format!("A.{topic}");
    admin::create_topic(source.bootstrap(), &topic, args.partitions);
    let base_ts = data::base_timestamp();
    let load = SteadyLoad::start(
        source.bootstrap(),
        &topic,
        args.partitions,
        args.rate,
        base_ts,
    );
    eprintln!("starting {} strait nodes...", args.nodes);
    let mut cluster = Cluster::start(
        work,
        &ClusterSpec {
            nodes: args.nodes,
            source: source.bootstrap(),
            target: target.bootstrap(),
            topic: &topic,
            liveness_timeout_ms: None,
        },
    )?;
    report.setup.push(format!(
        "source {} topic {topic} ({} partitions, {} records/s), target {} topic {remote}, {} nodes, \
         work dir {}",
        source.bootstrap(),
        args.partitions,
        args.rate,
        target.bootstrap(),
        args.nodes,
        work.display()
    ));
    wait_for_topic(target.bootstrap(), &remote, args.partitions, &mut cluster)?;
    let watcher = Watcher::start(target.bootstrap(), &remote, args.partitions, base_ts, 10)?;
    eprintln!("waiting for the cluster to be balanced and every partition flowing...");
    settle(args, &topic, &mut cluster, &load, &watcher)?;
    watcher.reset_gaps();
    std::thread::sleep(Duration::from_secs(args.baseline_secs));
    report.baseline = stalls(&watcher.snapshot());

    let mut result = Ok(());
    'rounds: for round in 1..=args.rounds {
        let leader = settled(&cluster.statuses(&cluster.ids()), &topic, args.partitions)?.leader;
        let mut order: Vec<u64> = cluster.ids().into_iter().filter(|n| *n != leader).collect();
        order.push(leader);
        for node in order {
            match restart(args, round, node, &topic, &mut cluster, &load, &watcher) {
                Ok((restart, error)) => {
                    eprintln!("{}", restart.line());
                    report.restarts.push(restart);
                    if let Some(e) = error {
                        result = Err(format!("round {round}, node {node}: {e}"));
                        break 'rounds;
                    }
                }
                Err(e) => {
                    result = Err(format!("round {round}, node {node}: {e}"));
                    break 'rounds;
                }
            }
        }
    }
    report.produced = load.total();
    report.lost = watcher.snapshot().iter().map(PartitionSeen::lost).sum();
    let (foreign, last_error) = watcher.anomalies();
    if foreign > 0 {
        report.setup.push(format!(
            "{foreign} records on the target were not the load's"
        ));
    }
    if let Some(e) = last_error {
        report
            .setup
            .push(format!("last error of the target watcher: {e}"));
    }
    drop(watcher);
    drop(cluster);
    drop(load);
    drop((source, target));
    result
}

fn stalls(seen: &[PartitionSeen]) -> Vec<f64> {
    seen.iter().map(|s| s.max_gap.as_secs_f64()).collect()
}

/// Waits until the cluster is [`settled`] and a record produced after that arrived on every
/// partition; returns when that was, after a pause of `args.pause_secs`.
fn settle(
    args: &Args,
    topic: &str,
    cluster: &mut Cluster,
    load: &SteadyLoad,
    watcher: &Watcher,
) -> Result<(Settled, Instant), String> {
    let deadline = Instant::now() + Duration::from_secs(args.settle_deadline_secs);
    loop {
        if let Some((id, log)) = cluster.crashed().first() {
            return Err(format!("node {id} exited: {log}"));
        }
        let last = match settled(&cluster.statuses(&cluster.ids()), topic, args.partitions) {
            Ok(_) => break,
            Err(state) => state,
        };
        if Instant::now() > deadline {
            return Err(format!(
                "cluster not balanced within {} s; last state: {last}",
                args.settle_deadline_secs
            ));
        }
        std::thread::sleep(POLL);
    }
    let thresholds: Vec<u64> = load.produced().iter().map(|n| n + 1).collect();
    watcher.arm(&thresholds);
    let flowing = loop {
        let arrivals = watcher.arrivals();
        if arrivals.iter().all(Option::is_some) {
            break arrivals
                .into_iter()
                .flatten()
                .max()
                .unwrap_or_else(Instant::now);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "balanced, but not every partition flowing within {} s",
                args.settle_deadline_secs
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    std::thread::sleep(Duration::from_secs(args.pause_secs));
    let after = settled(&cluster.statuses(&cluster.ids()), topic, args.partitions)
        .map_err(|e| format!("balanced, then not any more: {e}"))?;
    Ok((after, flowing))
}

/// Restarts `node` and measures; an error after the measurement (the cluster not steady again)
/// comes back beside it.
fn restart(
    args: &Args,
    round: usize,
    node: u64,
    topic: &str,
    cluster: &mut Cluster,
    load: &SteadyLoad,
    watcher: &Watcher,
) -> Result<(Restart, Option<String>), String> {
    let before = settled(&cluster.statuses(&cluster.ids()), topic, args.partitions)?;
    let owned: Vec<i32> = before
        .owners
        .iter()
        .filter(|(_, owner)| **owner == node)
        .map(|(p, _)| *p)
        .collect();
    let leader = before.leader == node;
    eprintln!(
        "round {round}: SIGTERM node {node} ({}, pid {}, partitions {owned:?})",
        if leader { "leader" } else { "follower" },
        cluster.pid(node).unwrap_or(0)
    );
    let seen_before = watcher.snapshot();
    watcher.reset_gaps();
    let t = Instant::now();
    let (status, log) = cluster.terminate(node, Duration::from_secs(args.exit_deadline_secs))?;
    let exit_secs = t.elapsed().as_secs_f64();
    if !status.success() {
        return Err(format!("node {node} exited with {status} after SIGTERM"));
    }
    let stop_stalls = stalls(&watcher.snapshot());
    watcher.reset_gaps();
    let started = Instant::now();
    cluster.start_node(node)?;
    let back = settle(args, topic, cluster, load, watcher);
    let seen_after = watcher.snapshot();
    let owners_after: Vec<i32> = back.as_ref().map_or_else(
        |_| Vec::new(),
        |(s, _)| {
            s.owners
                .iter()
                .filter(|(_, o)| **o == node)
                .map(|(p, _)| *p)
                .collect()
        },
    );
    let restart = Restart {
        round,
        node,
        leader,
        owned,
        back: owners_after,
        exit_secs,
        handed_over: log.contains("partitions handed over"),
        leadership_handed_over: log.contains("handed the Raft leadership over"),
        back_secs: back
            .as_ref()
            .ok()
            .map(|(_, flowing)| flowing.duration_since(started).as_secs_f64()),
        stop_stalls,
        start_stalls: stalls(&seen_after),
        replayed: seen_before
            .iter()
            .zip(&seen_after)
            .map(|(b, a)| a.replays - b.replays)
            .sum(),
    };
    Ok((restart, back.err()))
}
