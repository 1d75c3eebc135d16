//! `strait-failover`: how long the partitions of a `kill -9`ed node take to flow again.
//!
//! Two Tansu brokers (source, target), a topic of 12 partitions on the source under a steady load
//! (2,000 records/s in total; record `seq` of a partition carries the timestamp `base + seq`), and a
//! 3-node strait cluster replicating it to `A.<topic>` on the target. Twenty rounds, ten kills of a
//! follower and ten of the leader: kill -9 a node (a follower in odd rounds, the leader in even
//! ones) at time T, then watch the target: a
//! partition flows again when the first record *produced after T* arrives there (replays of
//! records already on the target do not count). The figure of a kill is the time from T until
//! every partition the node owned flows again. Then the node is restarted on its data dir, and the
//! next round waits until it is back, the assignment balanced and every partition flowing.
//!
//! Prints one line per kill, then min / median / max and the goal check. A partition that does
//! not flow again within the deadline (30 s) is reported as a failure, not waited for.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use strait_bench::cluster::{Cluster, ClusterSpec};
use strait_bench::load::SteadyLoad;
use strait_bench::steady::{assignment, settled, wait_for_topic, Settled, Statuses, FLOW, POLL};
use strait_bench::watch::{PartitionSeen, Watcher};
use strait_tests::{admin, data, names, Broker};

#[derive(Parser)]
#[command(about = "Measures partition takeover after kill -9 of a node in a 3-node strait cluster")]
struct Args {
    /// Kills (odd rounds kill a follower, even rounds the leader): ten of each by default.
    #[arg(long, default_value_t = 20)]
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
    /// `cluster.liveness_timeout_ms` of the nodes (default: the node's, 3000).
    #[arg(long)]
    liveness_timeout_ms: Option<u64>,
    /// A partition not flowing again this many seconds after the kill is a failure.
    #[arg(long, default_value_t = 30)]
    flow_deadline_secs: u64,
    /// How long the cluster may take to be complete and balanced again after a restart.
    #[arg(long, default_value_t = 90)]
    settle_deadline_secs: u64,
    /// Steady time between the cluster being balanced and flowing, and the next kill.
    #[arg(long, default_value_t = 2)]
    pause_secs: u64,
    /// The goal: every kill's figure at most this many seconds.
    #[arg(long, default_value_t = 5.0)]
    goal_secs: f64,
    /// Keep the work dir (configs, data dirs, every node's log) even when all went well.
    #[arg(long)]
    keep: bool,
}

/// Partitions that several nodes ran at the same time, with those nodes.
type Overlaps = BTreeMap<i32, BTreeSet<u64>>;

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(e) = locate_strait() {
        eprintln!("strait-failover: {e}");
        return ExitCode::from(2);
    }
    let work = match tempfile::Builder::new()
        .prefix("strait-failover-")
        .tempdir()
    {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("strait-failover: creating a work dir: {e}");
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
    let failures = report.kills.iter().any(|k| k.figure().is_none());
    if args.keep || error.is_some() || failures || report.lost > 0 || report.crashes > 0 {
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

/// The `strait` binary: `$STRAIT_BIN`, else `strait` next to this binary (the fixtures look for
/// it elsewhere: next to test binaries).
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

/// One kill and what followed.
struct Kill {
    round: usize,
    leader: bool,
    node: u64,
    /// Partition → seconds from the kill until a record produced after it arrived (`None`: not
    /// within the deadline).
    flowing: BTreeMap<i32, Option<f64>>,
    /// Same for the partitions the node did not own (they should not notice).
    others_max: Option<f64>,
    others_failed: usize,
    new_leader: Option<(u64, f64)>,
    declared_dead: Option<f64>,
    reassigned: Option<f64>,
    /// Duplicates written to the target between the kill and the end of the wait.
    replayed: u64,
    /// Seconds from the restart until the cluster was balanced and every partition flowing.
    rejoined: Option<f64>,
    /// Duplicates written while the restarted node took its share back.
    rejoin_replayed: u64,
    /// Partitions seen running on several nodes at once (status polled every 100 ms), from the
    /// kill until the cluster was steady again.
    overlaps: Overlaps,
}

impl Kill {
    /// Seconds until every partition of the node flowed again; `None` when one did not.
    fn figure(&self) -> Option<f64> {
        self.flowing
            .values()
            .try_fold(0.0_f64, |max, t| t.map(|t| max.max(t)))
    }
}

#[derive(Default)]
struct Report {
    kills: Vec<Kill>,
    build: String,
    produced: u64,
    lost: u64,
    crashes: usize,
    setup: Vec<String>,
}

impl Report {
    fn print(&self, args: &Args) {
        println!();
        println!("== strait failover: partition takeover after kill -9 of a node");
        for line in &self.setup {
            println!("{line}");
        }
        let figures: Vec<f64> = self.kills.iter().filter_map(Kill::figure).collect();
        let failed = self.kills.len() - figures.len();
        for kill in &self.kills {
            println!("{}", kill.line());
        }
        println!();
        if self.kills.is_empty() {
            println!("no kill measured");
        } else {
            println!(
                "all kills ({}): {}",
                self.kills.len(),
                stats(&figures, failed, args.flow_deadline_secs)
            );
            for (name, leader) in [("follower kills", false), ("leader kills", true)] {
                let of: Vec<&Kill> = self.kills.iter().filter(|k| k.leader == leader).collect();
                let figures: Vec<f64> = of.iter().filter_map(|k| k.figure()).collect();
                if !of.is_empty() {
                    println!(
                        "{name} ({}): {}",
                        of.len(),
                        stats(&figures, of.len() - figures.len(), args.flow_deadline_secs)
                    );
                }
            }
            let max = figures.iter().copied().fold(0.0_f64, f64::max);
            let met = failed == 0 && max <= args.goal_secs;
            println!(
                "goal (max <= {:.0} s): {}",
                args.goal_secs,
                if met {
                    format!("met (max {max:.2} s)")
                } else if failed > 0 {
                    format!(
                        "NOT met ({failed} kill(s) not flowing again within {} s)",
                        args.flow_deadline_secs
                    )
                } else {
                    format!("NOT met (max {max:.2} s)")
                }
            );
        }
        println!(
            "records: {} produced, {} lost on the target, {} replayed after kills, {} replayed while restarted nodes took their share back",
            self.produced,
            self.lost,
            self.kills.iter().map(|k| k.replayed).sum::<u64>(),
            self.kills.iter().map(|k| k.rejoin_replayed).sum::<u64>(),
        );
        let doubled = self.kills.iter().filter(|k| !k.overlaps.is_empty()).count();
        if doubled > 0 {
            println!(
                "rounds in which a partition ran on two nodes at once (status polled every 100 ms): {doubled}"
            );
        }
        if self.crashes > 0 {
            println!("nodes that exited on their own: {}", self.crashes);
        }
        println!("machine: {}", machine(&self.build, args));
    }
}

impl Kill {
    fn line(&self) -> String {
        let role = if self.leader { "leader" } else { "follower" };
        let figure = match self.figure() {
            Some(t) => format!("{t:.2} s"),
            None => {
                let stuck: Vec<String> = self
                    .flowing
                    .iter()
                    .filter(|(_, t)| t.is_none())
                    .map(|(p, _)| p.to_string())
                    .collect();
                format!("FAILED (partitions {} not flowing again)", stuck.join(", "))
            }
        };
        let mut details = Vec::new();
        let per: Vec<String> = self
            .flowing
            .iter()
            .map(|(p, t)| match t {
                Some(t) => format!("p{p} {t:.2}"),
                None => format!("p{p} -"),
            })
            .collect();
        details.push(per.join(", "));
        if let Some((node, t)) = self.new_leader {
            details.push(format!("new leader {node} seen at {t:.2} s"));
        }
        if let Some(t) = self.declared_dead {
            details.push(format!("declared dead at {t:.2} s"));
        }
        if let Some(t) = self.reassigned {
            details.push(format!("reassigned at {t:.2} s"));
        }
        match (self.others_max, self.others_failed) {
            (_, n) if n > 0 => details.push(format!("{n} other partition(s) stalled")),
            (Some(t), _) => details.push(format!("other partitions: {t:.2} s")),
            (None, _) => {}
        }
        details.push(format!("{} replayed", self.replayed));
        if !self.overlaps.is_empty() {
            details.push(describe_overlaps(&self.overlaps));
        }
        match self.rejoined {
            Some(t) => details.push(format!(
                "restarted node back, balanced and all flowing after {t:.1} s ({} replayed)",
                self.rejoin_replayed
            )),
            None => details.push("restarted node not back".to_owned()),
        }
        format!(
            "kill {} ({role}, node {}, {} partitions): {figure}\n    {}",
            self.round,
            self.node,
            self.flowing.len(),
            details.join("; ")
        )
    }
}

fn describe_overlaps(overlaps: &Overlaps) -> String {
    let each: Vec<String> = overlaps
        .iter()
        .map(|(p, nodes)| format!("p{p} by nodes {nodes:?}"))
        .collect();
    format!("RUN BY TWO NODES AT ONCE: {}", each.join(", "))
}

fn stats(figures: &[f64], failed: usize, deadline: u64) -> String {
    let mut sorted = figures.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut out = if sorted.is_empty() {
        "no figure".to_owned()
    } else {
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        format!(
            "min {:.2} s, median {median:.2} s, max {:.2} s",
            sorted[0],
            sorted[n - 1]
        )
    };
    if failed > 0 {
        out.push_str(&format!(", {failed} failed (> {deadline} s)"));
    }
    out
}

fn machine(build: &str, args: &Args) -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU".to_owned(), |(_, m)| m.trim().to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_default();
    format!(
        "{cores} cores ({model}), {mem_gib:.1} GiB, shared by both Tansu brokers, the load \
         generator ({} records/s), the target watcher and the {} strait nodes ({build}); load \
         average at the end {load}",
        args.rate, args.nodes
    )
}

fn run(args: &Args, work: &Path, report: &mut Report) -> Result<(), String> {
    report.build = strait_bench::strait_build();
    eprintln!("starting the brokers...");
    // Declared first, dropped last: the nodes go before the brokers.
    let source = Broker::start("source");
    let target = Broker::start("target");
    let topic = names::unique("failover");
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
            liveness_timeout_ms: args.liveness_timeout_ms,
        },
    )?;
    report.setup.push(format!(
        "source {} topic {topic} ({} partitions, {} records/s), target {} topic {remote}, {} nodes ({}), work dir {}",
        source.bootstrap(),
        args.partitions,
        args.rate,
        target.bootstrap(),
        args.nodes,
        cluster
            .ids()
            .iter()
            .map(|id| format!("{id}: gRPC {}", cluster.address(*id).unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(", "),
        work.display()
    ));
    wait_for_topic(target.bootstrap(), &remote, args.partitions, &mut cluster)?;
    let watcher = Watcher::start(target.bootstrap(), &remote, args.partitions, base_ts, 10)?;
    eprintln!("waiting for the cluster to be balanced and every partition flowing...");
    let started = Instant::now();
    let mut overlaps = Overlaps::new();
    settle(args, &topic, &mut cluster, &load, &watcher, &mut overlaps)?;
    if !overlaps.is_empty() {
        report
            .setup
            .push(format!("at start, {}", describe_overlaps(&overlaps)));
    }
    report.setup.push(format!(
        "cluster balanced and flowing {:.1} s after start",
        started.elapsed().as_secs_f64()
    ));

    let mut result = Ok(());
    for round in 1..=args.rounds {
        let (kill, error) = match kill_round(args, round, &topic, &mut cluster, &load, &watcher) {
            Ok(measured) => measured,
            Err(e) => {
                result = Err(format!("round {round}: {e}"));
                break;
            }
        };
        eprintln!("{}", kill.line());
        report.kills.push(kill);
        if let Some(e) = error {
            result = Err(format!("round {round}: {e}"));
            break;
        }
        if let Err(e) = check_crashes(&mut cluster, report) {
            result = Err(format!("round {round}: {e}"));
            break;
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
    if !watcher.running() {
        report
            .setup
            .push("the target watcher stopped early".to_owned());
    }
    drop(watcher);
    drop(cluster);
    drop(load);
    drop((source, target));
    result
}

fn check_crashes(cluster: &mut Cluster, report: &mut Report) -> Result<(), String> {
    let crashed = cluster.crashed();
    report.crashes += crashed.len();
    match crashed.first() {
        None => Ok(()),
        Some((id, log)) => Err(format!("node {id} exited on its own: {log}")),
    }
}

/// Adds to `seen` the partitions of `topic` that several nodes run (in any state: a draining
/// partition still writes) according to their own status.
fn note_overlaps(polled: &Statuses, topic: &str, seen: &mut Overlaps) {
    let mut runners: Overlaps = BTreeMap::new();
    for status in polled.values().flatten() {
        for p in &status.partitions {
            if p.flow == FLOW && p.topic == topic {
                runners
                    .entry(p.partition)
                    .or_default()
                    .insert(status.node_id);
            }
        }
    }
    for (partition, nodes) in runners {
        if nodes.len() > 1 {
            seen.entry(partition).or_default().extend(nodes);
        }
    }
}

/// Waits until the cluster is [`settled`] and a record produced after that arrived on every
/// partition of the target, then pauses for `args.pause_secs`.
fn settle(
    args: &Args,
    topic: &str,
    cluster: &mut Cluster,
    load: &SteadyLoad,
    watcher: &Watcher,
    overlaps: &mut Overlaps,
) -> Result<Settled, String> {
    let deadline = Instant::now() + Duration::from_secs(args.settle_deadline_secs);
    let balanced = loop {
        if let Some((id, log)) = cluster.crashed().first() {
            return Err(format!("node {id} exited: {log}"));
        }
        let polled = cluster.statuses(&cluster.ids());
        note_overlaps(&polled, topic, overlaps);
        let last = match settled(&polled, topic, args.partitions) {
            Ok(settled) => break settled,
            Err(state) => state,
        };
        if Instant::now() > deadline {
            return Err(format!(
                "cluster not balanced within {} s; last state: {last}",
                args.settle_deadline_secs
            ));
        }
        std::thread::sleep(POLL);
    };
    let thresholds: Vec<u64> = load.produced().iter().map(|n| n + 1).collect();
    watcher.arm(&thresholds);
    loop {
        let arrivals = watcher.arrivals();
        if arrivals.iter().all(Option::is_some) {
            break;
        }
        if Instant::now() > deadline {
            let stuck: Vec<usize> = arrivals
                .iter()
                .enumerate()
                .filter(|(_, a)| a.is_none())
                .map(|(p, _)| p)
                .collect();
            return Err(format!(
                "balanced, but partitions {stuck:?} not flowing within {} s",
                args.settle_deadline_secs
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_secs(args.pause_secs));
    // Still the same after the pause (no move in between).
    let polled = cluster.statuses(&cluster.ids());
    note_overlaps(&polled, topic, overlaps);
    let after = settled(&polled, topic, args.partitions)
        .map_err(|e| format!("balanced, then not any more: {e}"))?;
    if after.owners != balanced.owners || after.leader != balanced.leader {
        return Err("the assignment or the leader changed while steady".to_owned());
    }
    Ok(after)
}

fn kill_round(
    args: &Args,
    round: usize,
    topic: &str,
    cluster: &mut Cluster,
    load: &SteadyLoad,
    watcher: &Watcher,
) -> Result<(Kill, Option<String>), String> {
    let before = settled(&cluster.statuses(&cluster.ids()), topic, args.partitions)?;
    let mut overlaps = Overlaps::new();
    let kill_leader = round.is_multiple_of(2);
    let victim = if kill_leader {
        before.leader
    } else {
        let followers: Vec<u64> = cluster
            .ids()
            .into_iter()
            .filter(|id| *id != before.leader)
            .collect();
        followers[(round / 2) % followers.len()]
    };
    let owned: Vec<i32> = before
        .owners
        .iter()
        .filter(|(_, owner)| **owner == victim)
        .map(|(p, _)| *p)
        .collect();
    let survivors: Vec<u64> = cluster
        .ids()
        .into_iter()
        .filter(|id| *id != victim)
        .collect();
    let seen_before = watcher.snapshot();
    eprintln!(
        "round {round}: kill -9 node {victim} ({}, pid {}, partitions {owned:?})",
        if kill_leader { "leader" } else { "follower" },
        cluster.pid(victim).unwrap_or(0)
    );

    let t = Instant::now();
    cluster.kill9(victim)?;
    // Anything above these was handed to the producer after the kill.
    let thresholds: Vec<u64> = load.produced().iter().map(|n| n + 1).collect();
    watcher.arm(&thresholds);
    for (p, seen) in seen_before.iter().enumerate() {
        if seen.max_seq.is_some_and(|max| max >= thresholds[p]) {
            return Err(format!(
                "partition {p}: seq {:?} on the target before the kill, above the {} produced",
                seen.max_seq, thresholds[p]
            ));
        }
    }

    let deadline = t + Duration::from_secs(args.flow_deadline_secs);
    let mut new_leader = None;
    let mut declared_dead = None;
    let mut reassigned = None;
    let mut next_poll = Instant::now();
    let arrivals = loop {
        let arrivals = watcher.arrivals();
        let all_flowing = arrivals.iter().all(Option::is_some);
        if (all_flowing && reassigned.is_some()) || Instant::now() > deadline {
            break arrivals;
        }
        if Instant::now() >= next_poll {
            next_poll = Instant::now() + POLL;
            let polled = cluster.statuses(&survivors);
            note_overlaps(&polled, topic, &mut overlaps);
            for status in polled.into_values().flatten() {
                let at = t.elapsed().as_secs_f64();
                if status.raft_role != "leader" {
                    continue;
                }
                if kill_leader && new_leader.is_none() {
                    new_leader = Some((status.node_id, at));
                }
                if declared_dead.is_none()
                    && status.nodes.iter().any(|n| n.node_id == victim && !n.alive)
                {
                    declared_dead = Some(at);
                }
                let now_owned = assignment(&status, topic);
                if reassigned.is_none()
                    && owned.iter().all(|p| {
                        now_owned
                            .get(p)
                            .is_some_and(|(owner, _)| *owner != victim && *owner != 0)
                    })
                {
                    reassigned = Some(at);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let secs = |p: usize| arrivals[p].map(|a| a.duration_since(t).as_secs_f64());
    let flowing: BTreeMap<i32, Option<f64>> = owned
        .iter()
        .map(|p| (*p, secs(usize::try_from(*p).expect("partition >= 0"))))
        .collect();
    let others: Vec<Option<f64>> = (0..args.partitions)
        .filter(|p| !owned.contains(&(i32::try_from(*p).expect("partition fits i32"))))
        .map(secs)
        .collect();
    let seen_after = watcher.snapshot();
    let replayed = replays(&seen_before, &seen_after);

    let restarted = Instant::now();
    cluster.start_node(victim)?;
    let rejoined = settle(args, topic, cluster, load, watcher, &mut overlaps)
        .map(|_| restarted.elapsed().as_secs_f64() - args.pause_secs as f64);
    let rejoin_replayed = replays(&seen_after, &watcher.snapshot());
    let kill = Kill {
        round,
        leader: kill_leader,
        node: victim,
        flowing,
        others_max: others.iter().flatten().copied().reduce(f64::max),
        others_failed: others.iter().filter(|o| o.is_none()).count(),
        new_leader,
        declared_dead,
        reassigned,
        replayed,
        rejoined: rejoined.as_ref().ok().copied(),
        rejoin_replayed,
        overlaps,
    };
    // After a failed restart the kill is still reported, then the rounds stop: the next one
    // would not start from a steady cluster.
    let error = rejoined
        .err()
        .map(|e| format!("after restarting node {victim}: {e}"));
    Ok((kill, error))
}

fn replays(before: &[PartitionSeen], after: &[PartitionSeen]) -> u64 {
    before
        .iter()
        .zip(after)
        .map(|(b, a)| a.replays - b.replays)
        .sum()
}
