//! `strait-failover-mm2`: failover of three MirrorMaker 2 nodes against three Strait nodes under
//! the same steady load. See `benches/README.md`.
//!
//! One source broker for the whole run; every copy of a round gets a fresh target broker and a
//! fresh source topic of 12 partitions under a steady load (2,000 records/s; record `seq` of a
//! partition carries the timestamp `base + seq`). Per round, in this order:
//!
//! 1. three Strait nodes (a Raft cluster, TOML configs, the node's defaults);
//! 2. three MirrorMaker 2 nodes in dedicated mode with `scheduled.rebalance.max.delay.ms`
//!    lowered (`--lowered-delay-ms`, 10 s), as its users tune it;
//! 3. three MirrorMaker 2 nodes with its defaults (the delay is 5 minutes).
//!
//! Each MirrorMaker 2 node runs `MirrorMaker mm2.properties` on the same file but for the port of
//! its internal REST server (`dedicated.mode.enable.internal.rest = true`, without which the nodes
//! of a flow cannot forward task configs to their leader). Once the copy is steady (every
//! partition flowing; for MM2 every source task RUNNING and each of the three workers running
//! some, read from Connect's status and config topics on the target; for Strait the cluster
//! balanced), one node that copies partitions is `kill -9`ed at T. A partition flows again when
//! the first record produced after T arrives on its target partition; the figure of a kill is the
//! time from T until every partition the victim copied flows again. Then the load runs 3 s more
//! and stops, and the target is read to the end: records lost (sequence numbers never read) and
//! duplicated (read more than once).

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use strait_bench::cluster::{Cluster, ClusterSpec};
use strait_bench::load::SteadyLoad;
use strait_bench::mm2::{self, Mm2, SourceTasks};
use strait_bench::procfs;
use strait_bench::steady::{settled, POLL};
use strait_bench::watch::Watcher;
use strait_tests::broker::free_port;
use strait_tests::{admin, data, names, Broker};

#[derive(Parser)]
#[command(about = "Failover: three MirrorMaker 2 nodes against three Strait nodes, kill -9 of one")]
struct Args {
    /// Rounds (each: Strait, MM2 with the lowered delay, MM2 with its defaults).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Rounds that include MM2 with its defaults (each waits its 5-minute delay); the first ones.
    #[arg(long)]
    default_rounds: Option<usize>,
    /// Partitions of the source topic.
    #[arg(long, default_value_t = 12)]
    partitions: usize,
    /// Records per second produced to the source topic, in total.
    #[arg(long, default_value_t = 2000)]
    rate: u64,
    /// MirrorMaker 2's `tasks.max` (at least the node count, so that every node copies some
    /// partitions).
    #[arg(long, default_value_t = 6)]
    tasks: usize,
    /// `scheduled.rebalance.max.delay.ms` of the lowered MM2 variant.
    #[arg(long, default_value_t = 10_000)]
    lowered_delay_ms: u64,
    /// A kill of Strait whose partitions do not all flow again within this is a failure.
    #[arg(long, default_value_t = 60)]
    strait_deadline_secs: u64,
    /// The same for MM2 with the lowered delay.
    #[arg(long, default_value_t = 180)]
    lowered_deadline_secs: u64,
    /// The same for MM2 with its defaults.
    #[arg(long, default_value_t = 600)]
    default_deadline_secs: u64,
    /// How long a copy may take to be steady (MM2: three JVMs starting on a shared machine).
    #[arg(long, default_value_t = 300)]
    steady_deadline_secs: u64,
    /// Which copiers to run: `strait`, `mm2-lowered`, `mm2-defaults`.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "strait,mm2-lowered,mm2-defaults"
    )]
    only: Vec<String>,
    /// Keep the work dir (configs, logs of every node) even when all went well.
    #[arg(long)]
    keep: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Contender {
    Strait,
    Mm2Lowered,
    Mm2Defaults,
}

impl Contender {
    fn name(self) -> &'static str {
        match self {
            Contender::Strait => "strait, 3 nodes",
            Contender::Mm2Lowered => "mirrormaker 2, 3 nodes, delay lowered",
            Contender::Mm2Defaults => "mirrormaker 2, 3 nodes, defaults",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Contender::Strait => "strait",
            Contender::Mm2Lowered => "mm2-lowered",
            Contender::Mm2Defaults => "mm2-defaults",
        }
    }

    fn deadline(self, args: &Args) -> Duration {
        Duration::from_secs(match self {
            Contender::Strait => args.strait_deadline_secs,
            Contender::Mm2Lowered => args.lowered_deadline_secs,
            Contender::Mm2Defaults => args.default_deadline_secs,
        })
    }
}

/// One kill and what followed.
struct Kill {
    round: usize,
    contender: Contender,
    /// Which node, and what it was (Strait: leader or follower).
    victim: String,
    /// Partition → seconds from T until a record produced after T arrived (`None`: not within
    /// the deadline).
    flowed: BTreeMap<i32, Option<f64>>,
    /// The slowest of the other partitions.
    others: Option<f64>,
    produced: u64,
    lost: u64,
    duplicated: u64,
    /// Observations (MM2: when Connect's status showed the victim's tasks running elsewhere).
    notes: Vec<String>,
}

impl Kill {
    /// Seconds until every partition of the victim flowed again; `None` if one did not.
    fn figure(&self) -> Option<f64> {
        self.flowed
            .values()
            .try_fold(0.0_f64, |max, t| t.map(|t| max.max(t)))
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if std::env::var_os("STRAIT_BIN").is_none_or(|b| b.is_empty()) {
        let bin = std::env::current_exe()
            .map(|exe| exe.with_file_name("strait"))
            .unwrap_or_default();
        // Single-threaded still: nothing reads the environment concurrently.
        std::env::set_var("STRAIT_BIN", &bin);
    }
    let work = match tempfile::Builder::new()
        .prefix("strait-failover-mm2-")
        .tempdir()
    {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("strait-failover-mm2: creating a work dir: {e}");
            return ExitCode::from(2);
        }
    };
    let load_at_start = procfs::load_average();
    let mut kills = Vec::new();
    let outcome =
        std::panic::catch_unwind(AssertUnwindSafe(|| run(&args, work.path(), &mut kills)));
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
    print_report(&args, &kills, &load_at_start);
    if let Some(e) = &error {
        println!("\nABORTED: {e}");
    }
    if args.keep || error.is_some() || kills.iter().any(|k| k.figure().is_none()) {
        let kept = work.keep();
        println!("work dir kept (configs, node logs): {}", kept.display());
    }
    if error.is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn run(args: &Args, work: &Path, kills: &mut Vec<Kill>) -> Result<(), String> {
    eprintln!("starting the source broker...");
    let source = Broker::start("source");
    let default_rounds = args.default_rounds.unwrap_or(args.rounds);
    for round in 1..=args.rounds {
        let mut contenders = vec![Contender::Strait, Contender::Mm2Lowered];
        if round <= default_rounds {
            contenders.push(Contender::Mm2Defaults);
        }
        for contender in contenders {
            if !args.only.iter().any(|o| o == contender.key()) {
                continue;
            }
            let dir = work.join(format!("round-{round}-{contender:?}"));
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            eprintln!("round {round}: {}", contender.name());
            let kill = kill_once(args, &source, &dir, round, contender)?;
            eprintln!("  {}", describe(&kill));
            kills.push(kill);
        }
    }
    Ok(())
}

/// The copiers of one kill.
enum Copiers {
    Strait(Cluster),
    /// The MM2 nodes with the ports of their internal REST servers; `None` once killed.
    Mm2(Vec<(u16, Option<Mm2>)>, std::path::PathBuf),
}

impl Copiers {
    fn check_alive(&mut self) -> Result<(), String> {
        match self {
            Copiers::Strait(cluster) => match cluster.crashed().first() {
                Some((id, log)) => Err(format!("strait node {id} exited: {log}")),
                None => Ok(()),
            },
            Copiers::Mm2(nodes, _) => {
                for (port, node) in nodes.iter_mut() {
                    if let Some(node) = node {
                        node.alive()
                            .map_err(|e| format!("MM2 node :{port}: {e}\n{}", node.log_tail(40)))?;
                    }
                }
                Ok(())
            }
        }
    }
}

impl Drop for Copiers {
    /// MM2 logs are copied to the round's dir (the processes' own temp dirs go with them).
    fn drop(&mut self) {
        if let Copiers::Mm2(nodes, dir) = self {
            for (i, (_, node)) in nodes.iter_mut().enumerate() {
                if let Some(mut node) = node.take() {
                    node.kill9();
                    let _ = std::fs::write(dir.join(format!("mm2-node-{}.log", i + 1)), node.log());
                }
            }
        }
    }
}

fn kill_once(
    args: &Args,
    source: &Broker,
    dir: &Path,
    round: usize,
    contender: Contender,
) -> Result<Kill, String> {
    let target = Broker::start("target");
    let topic = names::unique("fo-mm2");
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
    let mut copiers = match contender {
        Contender::Strait => Copiers::Strait(Cluster::start(
            dir,
            &ClusterSpec {
                nodes: 3,
                source: source.bootstrap(),
                target: target.bootstrap(),
                topic: &topic,
                liveness_timeout_ms: None,
            },
        )?),
        Contender::Mm2Lowered | Contender::Mm2Defaults => {
            let delay = (contender == Contender::Mm2Lowered).then_some(args.lowered_delay_ms);
            let mut nodes = Vec::new();
            for i in 1..=3 {
                let port = free_port();
                let properties = mm2::node_properties(
                    source.bootstrap(),
                    target.bootstrap(),
                    &topic,
                    args.tasks,
                    port,
                    delay,
                );
                let path = dir.join(format!("mm2-node-{i}.properties"));
                std::fs::write(&path, &properties)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                nodes.push((port, Some(Mm2::start_logging(&properties, Some("INFO"))?)));
            }
            Copiers::Mm2(nodes, dir.to_owned())
        }
    };
    // The remote topic, then the watcher.
    let steady_deadline = Instant::now() + Duration::from_secs(args.steady_deadline_secs);
    while admin::partition_count(target.bootstrap(), &remote) != Some(args.partitions) {
        copiers.check_alive()?;
        if Instant::now() > steady_deadline {
            return Err(format!(
                "{}: {remote} not created on the target",
                contender.name()
            ));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let watcher = Watcher::start(target.bootstrap(), &remote, args.partitions, base_ts, 10)?;
    // Steady: the copy spread over the three nodes, every partition flowing.
    let (victim, victim_partitions, victim_index) = loop {
        copiers.check_alive()?;
        if Instant::now() > steady_deadline {
            return Err(format!(
                "{}: not steady within {} s: {}",
                contender.name(),
                args.steady_deadline_secs,
                describe_spread(&copiers, target.bootstrap(), &topic, args.partitions)
            ));
        }
        let picked = pick_victim(&copiers, target.bootstrap(), &topic, args.partitions, round);
        let Ok(picked) = picked else {
            std::thread::sleep(Duration::from_secs(1));
            continue;
        };
        // Every partition flowing: a record produced from now on arrives everywhere.
        watcher.arm(&load.produced());
        let flowing_by = Instant::now() + Duration::from_secs(10);
        while watcher.arrivals().iter().any(Option::is_none) && Instant::now() < flowing_by {
            std::thread::sleep(POLL);
        }
        if watcher.arrivals().iter().any(Option::is_none) {
            continue;
        }
        // The same spread a moment later (MM2's workers join one after another and rebalance).
        std::thread::sleep(Duration::from_secs(3));
        if pick_victim(&copiers, target.bootstrap(), &topic, args.partitions, round).as_ref()
            == Ok(&picked)
        {
            break picked;
        }
    };
    let spread = describe_spread(&copiers, target.bootstrap(), &topic, args.partitions);
    eprintln!(
        "  steady {:.0} s after the start; kill -9 of {victim}: {spread}",
        (Instant::now() + Duration::from_secs(args.steady_deadline_secs))
            .saturating_duration_since(steady_deadline)
            .as_secs_f64()
    );
    // The kill: thresholds read before it, the arrivals armed after it (a record the victim wrote
    // just before dying does not count as flowing again).
    let thresholds = load.produced();
    let killed_at = Instant::now();
    match &mut copiers {
        Copiers::Strait(cluster) => cluster.kill9(victim_index as u64)?,
        Copiers::Mm2(nodes, dir) => {
            if let Some(mut node) = nodes[victim_index - 1].1.take() {
                node.kill9();
                let path = dir.join(format!("mm2-node-{victim_index}.log"));
                let _ = std::fs::write(path, node.log());
            }
        }
    }
    watcher.arm(&thresholds);
    let mut notes = vec![spread];
    let deadline = killed_at + contender.deadline(args);
    let mut reassigned_noted = false;
    let mut last_status_poll = Instant::now();
    while watcher
        .arrivals()
        .iter()
        .enumerate()
        .any(|(p, a)| a.is_none() && victim_partitions.contains(&(p as i32)))
        && Instant::now() < deadline
    {
        copiers.check_alive()?;
        if let Copiers::Mm2(nodes, _) = &copiers {
            if !reassigned_noted && last_status_poll.elapsed() >= Duration::from_secs(2) {
                last_status_poll = Instant::now();
                let victim_port = nodes[victim_index - 1].0;
                if let Ok(tasks) = mm2::source_tasks(target.bootstrap(), &topic) {
                    let on_victim = tasks.partitions_of(victim_port);
                    if on_victim.is_empty() && tasks.running() == args.partitions {
                        notes.push(format!(
                            "Connect's status showed the victim's tasks RUNNING on another worker by {:.1} s",
                            killed_at.elapsed().as_secs_f64()
                        ));
                        reassigned_noted = true;
                    }
                }
            }
        }
        std::thread::sleep(POLL);
    }
    let arrivals = watcher.arrivals();
    let since =
        |a: &Option<Instant>| a.map(|t| t.saturating_duration_since(killed_at).as_secs_f64());
    let flowed: BTreeMap<i32, Option<f64>> = victim_partitions
        .iter()
        .map(|p| (*p, since(&arrivals[*p as usize])))
        .collect();
    let others = arrivals
        .iter()
        .enumerate()
        .filter(|(p, _)| !victim_partitions.contains(&(*p as i32)))
        .map(|(_, a)| since(a))
        .try_fold(0.0_f64, |max, t| t.map(|t| max.max(t)));
    // Read everything back: 3 s more load, then every record produced must arrive.
    std::thread::sleep(Duration::from_secs(3));
    let produced_by_partition = {
        let counts = load.produced();
        load.stop();
        counts
    };
    let produced: u64 = produced_by_partition.iter().sum();
    let drain_deadline = Instant::now() + Duration::from_secs(120);
    let complete = |seen: &[strait_bench::watch::PartitionSeen]| {
        seen.iter()
            .zip(&produced_by_partition)
            .all(|(s, n)| s.max_seq.map_or(*n == 0, |m| m + 1 >= *n) && s.missing.is_empty())
    };
    while !complete(&watcher.snapshot()) && Instant::now() < drain_deadline {
        std::thread::sleep(Duration::from_millis(250));
    }
    // Records still arriving late (e.g. MM2 replaying from its last offset flush).
    std::thread::sleep(Duration::from_secs(2));
    let seen = watcher.snapshot();
    let lost: u64 = seen
        .iter()
        .zip(&produced_by_partition)
        .map(|(s, n)| s.lost() + n.saturating_sub(s.max_seq.map_or(0, |m| m + 1)))
        .sum();
    let duplicated: u64 = seen.iter().map(|s| s.replays).sum();
    if !complete(&seen) {
        notes.push("NOT every record arrived within 120 s of the load's end".to_owned());
    }
    if let Copiers::Mm2(nodes, _) = &copiers {
        if let Some(line) = nodes
            .iter()
            .find_map(|(_, n)| n.as_ref().and_then(Mm2::rebalance_delay))
        {
            notes.push(format!("the A->B workers' {line}"));
        }
    }
    drop(watcher);
    drop(copiers);
    drop(target);
    Ok(Kill {
        round,
        contender,
        victim,
        flowed,
        others,
        produced,
        lost,
        duplicated,
        notes,
    })
}

/// (description, partitions, node index 1..=3) of the node to kill, once the copy is spread over
/// the three nodes: a follower in odd rounds (Strait: rotating; MM2: the one copying the most
/// partitions), the leader in even ones.
fn pick_victim(
    copiers: &Copiers,
    target: &str,
    topic: &str,
    partitions: usize,
    round: usize,
) -> Result<(String, Vec<i32>, usize), String> {
    match copiers {
        Copiers::Strait(cluster) => {
            let settled = settled(&cluster.statuses(&cluster.ids()), topic, partitions)?;
            let followers: Vec<u64> = cluster
                .ids()
                .into_iter()
                .filter(|id| *id != settled.leader)
                .collect();
            let id = if kill_leader(round) {
                settled.leader
            } else {
                followers[(round / 2) % followers.len()]
            };
            let owned: Vec<i32> = settled
                .owners
                .iter()
                .filter(|(_, o)| **o == id)
                .map(|(p, _)| *p)
                .collect();
            let role = if settled.leader == id {
                "leader"
            } else {
                "follower"
            };
            Ok((format!("node {id} ({role})"), owned, id as usize))
        }
        Copiers::Mm2(nodes, _) => {
            let tasks = mm2::source_tasks(target, topic)?;
            if tasks.running() != partitions {
                return Err(format!("{} partitions in RUNNING tasks", tasks.running()));
            }
            let per_node: Vec<Vec<i32>> = nodes
                .iter()
                .map(|(port, _)| tasks.partitions_of(*port))
                .collect();
            if per_node.iter().any(Vec::is_empty) {
                return Err(format!("not every worker copies: {per_node:?}"));
            }
            // The Connect group's leader, as the live nodes last logged it.
            let leaders: Vec<u16> = nodes
                .iter()
                .filter_map(|(_, n)| n.as_ref().and_then(Mm2::leader_port))
                .collect();
            let Some(&leader) = leaders.first() else {
                return Err("no group leader logged yet".to_owned());
            };
            if leaders.iter().any(|l| *l != leader) {
                return Err(format!("nodes disagree on the leader: {leaders:?}"));
            }
            let leader_index = nodes
                .iter()
                .position(|(port, _)| *port == leader)
                .ok_or_else(|| format!("leader :{leader} is none of the nodes"))?;
            let index = if kill_leader(round) {
                leader_index
            } else {
                // The follower copying the most partitions.
                (0..3)
                    .filter(|i| *i != leader_index)
                    .max_by_key(|i| per_node[*i].len())
                    .unwrap_or(0)
            };
            let role = if index == leader_index {
                "leader"
            } else {
                "follower"
            };
            Ok((
                format!(
                    "node {} ({role}; REST :{}, tasks {})",
                    index + 1,
                    nodes[index].0,
                    tasks_on(&tasks, nodes[index].0)
                ),
                per_node[index].clone(),
                index + 1,
            ))
        }
    }
}

/// Odd rounds kill a follower, even rounds the leader (Strait's Raft leader, the Connect group
/// leader of MM2's `A->B` herder).
fn kill_leader(round: usize) -> bool {
    round.is_multiple_of(2)
}

fn tasks_on(tasks: &SourceTasks, port: u16) -> String {
    let mark = format!(":{port}/");
    tasks
        .tasks
        .iter()
        .filter(|(_, (_, _, worker))| worker.contains(&mark))
        .map(|(n, _)| n.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Which node copies which partitions, as far as known.
fn describe_spread(copiers: &Copiers, target: &str, topic: &str, partitions: usize) -> String {
    match copiers {
        Copiers::Strait(cluster) => {
            match settled(&cluster.statuses(&cluster.ids()), topic, partitions) {
                Ok(s) => {
                    let mut by_node: BTreeMap<u64, Vec<i32>> = BTreeMap::new();
                    for (p, o) in &s.owners {
                        by_node.entry(*o).or_default().push(*p);
                    }
                    format!("strait leader {}, partitions by node {by_node:?}", s.leader)
                }
                Err(e) => format!("strait cluster not settled: {e}"),
            }
        }
        Copiers::Mm2(nodes, _) => match mm2::source_tasks(target, topic) {
            Ok(tasks) => {
                let spread: Vec<String> = nodes
                    .iter()
                    .enumerate()
                    .map(|(i, (port, _))| {
                        format!(
                            "node {} tasks [{}] partitions {:?}",
                            i + 1,
                            tasks_on(&tasks, *port),
                            tasks.partitions_of(*port)
                        )
                    })
                    .collect();
                let states: Vec<String> = tasks
                    .tasks
                    .iter()
                    .map(|(n, (_, state, worker))| format!("{n}: {state} on {worker}"))
                    .collect();
                format!("MM2 {}; tasks {}", spread.join(", "), states.join(", "))
            }
            Err(e) => format!("MM2 source tasks unknown: {e}"),
        },
    }
}

fn describe(kill: &Kill) -> String {
    let per_partition: Vec<String> = kill
        .flowed
        .iter()
        .map(|(p, t)| match t {
            Some(t) => format!("p{p} {t:.2}"),
            None => format!("p{p} NOT"),
        })
        .collect();
    format!(
        "round {}, {}: kill -9 of {} ({} partitions): {}\n    {}; other partitions: {}; {} produced, {} lost, {} duplicated\n    {}",
        kill.round,
        kill.contender.name(),
        kill.victim,
        kill.flowed.len(),
        kill.figure()
            .map_or("FAILED (not all flowing again within the deadline)".to_owned(), |f| format!("{f:.2} s")),
        per_partition.join(", "),
        kill.others.map_or("NOT all flowing".to_owned(), |t| format!("{t:.2} s")),
        kill.produced,
        kill.lost,
        kill.duplicated,
        kill.notes.join("\n    ")
    )
}

fn spread(values: &[f64]) -> Option<(f64, f64, f64)> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    Some((median, sorted[0], sorted[n - 1]))
}

fn print_report(args: &Args, kills: &[Kill], load_at_start: &str) {
    println!();
    for kill in kills {
        println!("{}", describe(kill));
    }
    println!();
    println!(
        "Failover, kill -9 of one of three nodes: {} partitions, {} records/s; machine: {} cores \
         shared by both brokers, the load, the watcher and the three nodes (and other work); load \
         average {load_at_start} at the start, {} at the end; strait: {}; MM2 tasks.max = {}, \
         lowered scheduled.rebalance.max.delay.ms = {}",
        args.partitions,
        args.rate,
        procfs::cores(),
        procfs::load_average(),
        strait_bench::strait_build(),
        args.tasks,
        args.lowered_delay_ms
    );
    println!();
    println!(
        "| copier | node killed | kills | victim's partitions flowing again, s: median (min–max) | other partitions, max s | records produced | lost | duplicated |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    let mut medians = BTreeMap::new();
    for contender in [
        Contender::Strait,
        Contender::Mm2Lowered,
        Contender::Mm2Defaults,
    ] {
        for role in ["follower", "leader"] {
            let of: Vec<&Kill> = kills
                .iter()
                .filter(|k| k.contender == contender && k.victim.contains(role))
                .collect();
            if of.is_empty() {
                continue;
            }
            let figures: Vec<f64> = of.iter().filter_map(|k| k.figure()).collect();
            let failed = of.len() - figures.len();
            let shown = match spread(&figures) {
                Some((median, min, max)) => {
                    medians.insert((contender, role), median);
                    format!("{median:.2} ({min:.2}–{max:.2})")
                }
                None => "none flowed again".to_owned(),
            };
            let others = of.iter().filter_map(|k| k.others).fold(0.0_f64, f64::max);
            println!(
                "| {} | {role} | {}{} | {shown} | {others:.2} | {} | {} | {} |",
                contender.name(),
                of.len(),
                if failed > 0 {
                    format!(" ({failed} FAILED)")
                } else {
                    String::new()
                },
                of.iter().map(|k| k.produced).sum::<u64>(),
                of.iter().map(|k| k.lost).sum::<u64>(),
                of.iter().map(|k| k.duplicated).sum::<u64>(),
            );
        }
    }
    println!();
    for role in ["follower", "leader"] {
        let Some(strait) = medians.get(&(Contender::Strait, role)) else {
            continue;
        };
        for (contender, label) in [
            (Contender::Mm2Defaults, "MM2 defaults / strait"),
            (Contender::Mm2Lowered, "MM2 delay lowered / strait"),
        ] {
            if let Some(mm2) = medians.get(&(contender, role)) {
                println!("{label}, {role} killed (medians): {:.1}x", mm2 / strait);
            }
        }
    }
    if let (Some(strait), Some(mm2)) = (
        medians.get(&(Contender::Strait, "follower")),
        medians.get(&(Contender::Mm2Defaults, "follower")),
    ) {
        println!(
            "goal strait >= 30x faster than MM2 with defaults (follower kills): {}",
            if mm2 / strait >= 30.0 {
                "met"
            } else {
                "MISSED"
            }
        );
    }
}
