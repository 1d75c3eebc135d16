//! `strait-scale-sim`: the Raft state machine and the leader's assignment planner at scale, with no
//! process, broker or network: commands are encoded as the Raft log carries them and applied with
//! `ClusterState::apply_bytes`, as every node applies them. See benches/README.md, "Scale
//! simulation".
//!
//! 1. The planner: `plan_assignment` time (p50 / max over repeated calls on one state) and its
//!    moves per event (initial assignment, the steady state the leader re-plans every duty tick, a
//!    node death, its return, a new node joining, a drain and its undo, new topics), against the
//!    fewest moves a complete, balanced assignment needs.
//! 2. Position updates: 100 nodes each proposing one `UpdatePositions` per position interval for
//!    every partition it owns, and what the leader spends on them per second.
//! 3. Snapshots: size, encode / decode / clone time at 30,000 partitions with 0 to
//!    `MAX_RUNS_PER_PARTITION` offset runs each, against the largest message a node accepts.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use strait_coordinator::state::{
    plan_assignment, ApplyOutcome, ClusterState, Command, PartitionMove, PositionUpdate, TopicInfo,
    MAX_RUNS_PER_PARTITION,
};
use strait_coordinator::{FlowId, NodeId, OffsetRun, PartitionKey, Position};

/// The largest gRPC message a node sends or accepts, and so the largest snapshot that can reach a
/// follower (node/src/cluster/transport.rs, `MAX_MESSAGE_BYTES`).
const MESSAGE_LIMIT: usize = 256 * 1024 * 1024;
/// Raft's `max_size_per_msg` (coordinator/src/raft/driver.rs): appends are batched up to it; one
/// entry larger than it still goes alone.
const MAX_SIZE_PER_MSG: usize = 1024 * 1024;
/// The default `[cluster] position_interval_ms` (node/config/src/model.rs).
const POSITION_INTERVAL: Duration = Duration::from_secs(1);
/// How often the leader runs its duties, `plan_assignment` among them (coordinator/src/raft/leader.rs).
const DUTY_INTERVAL: Duration = Duration::from_millis(200);
/// Applied entries between two snapshots (`snapshot_every`, coordinator/src/raft/driver.rs).
const SNAPSHOT_EVERY: u64 = 1000;

struct Args {
    /// Only the small planner case and snapshots up to 100 runs.
    quick: bool,
    /// `planner`, `positions` or `snapshots`: that part alone.
    only: Option<String>,
    snapshot_partitions: usize,
    runs: Vec<usize>,
}

fn parse_args() -> Args {
    let mut args = Args {
        quick: false,
        only: None,
        snapshot_partitions: 30_000,
        runs: vec![0, 10, 100, MAX_RUNS_PER_PARTITION],
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => args.quick = true,
            "--only" => args.only = it.next(),
            "--snapshot-partitions" => {
                args.snapshot_partitions = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--snapshot-partitions N")
            }
            "--runs" => {
                args.runs = it
                    .next()
                    .map(|v| {
                        v.split(',')
                            .map(|n| n.parse().expect("--runs 0,10,100"))
                            .collect()
                    })
                    .expect("--runs 0,10,100")
            }
            "-h" | "--help" => {
                println!(
                    "strait-scale-sim [--quick] [--only planner|positions|snapshots] [--snapshot-partitions N] [--runs 0,10,100,1000]"
                );
                std::process::exit(0);
            }
            other => panic!("unknown argument {other:?} (see --help)"),
        }
    }
    if args.quick {
        args.runs.retain(|r| *r <= 100);
    }
    args
}

fn main() {
    let args = parse_args();
    println!(
        "strait-scale-sim: state machine and planner alone (release build: {})",
        !cfg!(debug_assertions)
    );
    println!();
    let sizes: &[(u64, usize)] = if args.quick {
        &[(10, 10_000)]
    } else {
        &[(10, 10_000), (100, 100_000)]
    };
    let run = |part: &str| args.only.as_deref().is_none_or(|only| only == part);
    if run("planner") {
        for (nodes, partitions) in sizes {
            planner(*nodes, *partitions);
        }
    }
    if run("positions") && !args.quick {
        positions(100, 100_000);
    }
    if run("snapshots") {
        snapshots(args.snapshot_partitions, &args.runs);
    }
}

/// A cluster state fed through the Raft log's encoding.
struct Sim {
    state: ClusterState,
    index: u64,
}

impl Sim {
    fn new() -> Self {
        Self {
            state: ClusterState::new(),
            index: 0,
        }
    }

    /// Encodes `command` as a log entry and applies it; the time of the apply (decode included).
    fn apply(&mut self, command: &Command) -> Duration {
        let data = command.encode(self.index + 1);
        self.apply_data(&data)
    }

    fn apply_data(&mut self, data: &[u8]) -> Duration {
        self.index += 1;
        let start = Instant::now();
        let applied = self
            .state
            .apply_bytes(self.index, data)
            .expect("a readable entry");
        let took = start.elapsed();
        assert_eq!(
            applied.outcome,
            ApplyOutcome::Applied,
            "entry {}",
            self.index
        );
        took
    }
}

fn flow(s: &str) -> FlowId {
    s.parse().expect("valid flow")
}

fn register(node: NodeId) -> Command {
    Command::RegisterNode {
        node,
        address: format!("strait-{node}.replication.svc.cluster.local:7070"),
        running: true,
    }
}

/// `partitions` source partitions over two flows (70 % / 30 %), in topics of 1 to 20 partitions
/// with names of a usual length.
fn topic_commands(partitions: usize, first_topic: usize) -> Vec<Command> {
    let sizes = [5usize, 10, 1, 20, 4, 3, 12, 6];
    let mut flows: Vec<(FlowId, usize, Vec<TopicInfo>)> = vec![
        (flow("eu->us"), partitions * 7 / 10, Vec::new()),
        (flow("eu->ap"), partitions - partitions * 7 / 10, Vec::new()),
    ];
    let mut t = first_topic;
    for (_, want, topics) in &mut flows {
        let mut left = *want;
        while left > 0 {
            let n = sizes[t % sizes.len()].min(left);
            let topic = format!("payments.ledger-events-{t:06}");
            topics.push(TopicInfo {
                remote_topic: format!("eu.{topic}"),
                topic,
                partitions: n as i32,
            });
            left -= n;
            t += 1;
        }
    }
    flows
        .into_iter()
        .map(|(flow, _, topics)| Command::SetTopics { flow, topics })
        .collect()
}

/// Assignable nodes' partition counts (0 for those without any).
fn counts(state: &ClusterState) -> BTreeMap<NodeId, usize> {
    let mut counts: BTreeMap<NodeId, usize> = state.assignable_nodes().map(|n| (n, 0)).collect();
    for (_, info) in state.partitions() {
        if let Some(n) = info.owner.and_then(|o| counts.get_mut(&o.node)) {
            *n += 1;
        }
    }
    counts
}

/// The fewest moves any complete, balanced assignment needs: every partition without an
/// assignable owner, plus what assignable nodes hold above the best quotas.
fn fewest_moves(state: &ClusterState) -> usize {
    let counts = counts(state);
    if counts.is_empty() {
        return 0;
    }
    let total = state.partitions().count();
    let (base, extra) = (total / counts.len(), total % counts.len());
    let above = counts.values().filter(|c| **c > base).count();
    let kept: usize = counts.values().map(|c| (*c).min(base)).sum::<usize>() + extra.min(above);
    total - kept
}

fn assert_balanced(state: &ClusterState, event: &str) {
    let counts = counts(state);
    for (key, info) in state.partitions() {
        let owner = info
            .owner
            .unwrap_or_else(|| panic!("{event}: {key} unowned"));
        assert!(
            counts.contains_key(&owner.node),
            "{event}: {key} on {owner:?}"
        );
    }
    let (min, max) = (counts.values().min(), counts.values().max());
    assert!(
        max.zip(min).is_none_or(|(max, min)| max - min <= 1),
        "{event}: unbalanced {counts:?}"
    );
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

/// Times `plan_assignment` on the current state `reps` times (it is pure), applies the plan as the
/// leader would propose it, lets the old owners release, and checks the result is balanced and
/// stable. Prints one table row.
fn plan_event(sim: &mut Sim, event: &str, reps: usize) {
    let needed = fewest_moves(&sim.state);
    let mut times = Vec::with_capacity(reps);
    let mut plan = Vec::new();
    for _ in 0..reps {
        let start = Instant::now();
        plan = plan_assignment(&sim.state);
        times.push(start.elapsed());
    }
    times.sort();
    let data = Command::Assign {
        moves: plan.clone(),
    }
    .encode(0);
    let apply = if plan.is_empty() {
        Duration::ZERO
    } else {
        sim.apply_data(&data)
    };
    // The previous owners, still alive, stop and release (their final positions are elsewhere).
    let releases: Vec<(NodeId, PartitionKey)> = plan
        .iter()
        .filter_map(|m| {
            let info = sim.state.partition(&m.key)?;
            info.releasing.map(|node| (node, m.key.clone()))
        })
        .collect();
    for (node, key) in releases {
        sim.apply(&Command::Release {
            node,
            key,
            position: None,
            runs: Vec::new(),
        });
    }
    assert_balanced(&sim.state, event);
    assert!(
        plan_assignment(&sim.state).is_empty(),
        "{event}: not stable"
    );
    let verdict = if plan.len() == needed {
        "="
    } else {
        "MORE THAN NEEDED"
    };
    println!(
        "| {event:<28} | {:>8} | {:>8} | {:>7} | {:>7} {verdict:<2} | {:>9} | {:>8} |",
        ms(percentile(&times, 0.5)),
        ms(*times.last().expect("reps > 0")),
        plan.len(),
        needed,
        data.len(),
        ms(apply),
    );
}

fn planner(nodes: u64, partitions: usize) {
    println!("## plan_assignment: {nodes} nodes x {partitions} partitions (goal: <= 100 ms, only the moves balance needs)");
    println!();
    println!("| event                        | p50 (ms) | max (ms) |   moves |  needed    | Assign (B) | apply (ms) |");
    println!("|---|---|---|---|---|---|---|");
    let reps = if partitions > 50_000 { 7 } else { 21 };
    let mut sim = Sim::new();
    for node in 1..=nodes {
        sim.apply(&register(node));
    }
    for command in topic_commands(partitions, 0) {
        sim.apply(&command);
    }
    plan_event(&mut sim, "initial assignment", reps);
    plan_event(&mut sim, "steady (every 200 ms duty)", reps);
    let victim = nodes / 2 + 1;
    sim.apply(&Command::SetLiveness {
        node: victim,
        alive: false,
    });
    plan_event(&mut sim, &format!("node {victim} dies"), reps);
    sim.apply(&Command::SetLiveness {
        node: victim,
        alive: true,
    });
    plan_event(&mut sim, &format!("node {victim} alive again"), reps);
    sim.apply(&register(nodes + 1));
    plan_event(&mut sim, &format!("node {} joins", nodes + 1), reps);
    sim.apply(&Command::SetDraining {
        node: 2,
        draining: true,
    });
    plan_event(&mut sim, "node 2 drained", reps);
    sim.apply(&Command::SetDraining {
        node: 2,
        draining: false,
    });
    plan_event(&mut sim, "node 2 undrained", reps);
    // Discovery finds 1 % more partitions: SetTopics carries each flow's full topic list.
    let existing = sim.state.partitions().count();
    let mut grown: BTreeMap<FlowId, Vec<TopicInfo>> = BTreeMap::new();
    for (key, info) in sim.state.partitions() {
        let topics = grown.entry(key.flow.clone()).or_default();
        match topics.last_mut() {
            Some(t) if t.topic == key.tp.topic => t.partitions = key.tp.partition + 1,
            _ => topics.push(TopicInfo {
                topic: key.tp.topic.clone(),
                partitions: key.tp.partition + 1,
                remote_topic: info.remote_topic.clone(),
            }),
        }
    }
    for command in topic_commands(existing / 100, 1_000_000) {
        if let Command::SetTopics { flow, topics } = command {
            grown.entry(flow).or_default().extend(topics);
        }
    }
    let mut set_topics_bytes = 0;
    for (flow, topics) in grown {
        let command = Command::SetTopics { flow, topics };
        set_topics_bytes = set_topics_bytes.max(command.encode(0).len());
        sim.apply(&command);
    }
    plan_event(&mut sim, "+1 % partitions (new topics)", reps);
    println!();
    println!(
        "(moves = the plan's length; needed = the fewest moves any complete, balanced assignment needs; \
         Assign (B) = the encoded entry; the largest SetTopics entry, a flow's full topic list: {set_topics_bytes} B; \
         Raft's max_size_per_msg: {MAX_SIZE_PER_MSG} B)"
    );
    println!();
}

/// One owner's `UpdatePositions` for every partition it owns, each advanced by `step` records in
/// one contiguous run (the run it extends, as `RunRecorder::take` reports it).
fn position_update(state: &ClusterState, node: NodeId, step: i64) -> Command {
    let positions = state
        .owned_by(node)
        .into_iter()
        .map(|(key, owner, position)| {
            let (next, last) = position.map_or((1_000_000_000, 900_000_000), |p| {
                (p.next_source_offset, p.last_target_offset + 1)
            });
            PositionUpdate {
                key,
                epoch: owner.epoch,
                position: Position {
                    next_source_offset: next + step,
                    last_target_offset: last + step - 1,
                },
                runs: vec![OffsetRun {
                    source_start: 1_000_000_000,
                    target_start: 900_000_000,
                    len: next + step - 1_000_000_000,
                }],
            }
        })
        .collect();
    Command::UpdatePositions { node, positions }
}

fn positions(nodes: u64, partitions: usize) {
    println!("## Position updates: {nodes} nodes x {partitions} partitions, every partition moving, one UpdatePositions per node per {} ms", POSITION_INTERVAL.as_millis());
    println!();
    let mut sim = Sim::new();
    for node in 1..=nodes {
        sim.apply(&register(node));
    }
    for command in topic_commands(partitions, 0) {
        sim.apply(&command);
    }
    let plan = plan_assignment(&sim.state);
    sim.apply(&Command::Assign { moves: plan });
    let rounds = 5;
    let (mut build, mut encode, mut apply, mut bytes) =
        (Duration::ZERO, Duration::ZERO, Vec::new(), 0usize);
    for round in 0..rounds {
        for node in 1..=nodes {
            let start = Instant::now();
            let command = position_update(&sim.state, node, 100 + round);
            build += start.elapsed();
            let start = Instant::now();
            let data = command.encode(sim.index + 1);
            encode += start.elapsed();
            bytes = bytes.max(data.len());
            apply.push(sim.apply_data(&data));
        }
    }
    let entries = apply.len() as u32;
    let apply_total: Duration = apply.iter().sum();
    apply.sort();
    let per_second = POSITION_INTERVAL.as_secs_f64().recip() * nodes as f64;
    let apply_per_s = apply_total / entries * per_second as u32;
    let clone = time_clone(&sim.state);
    let snapshot_start = Instant::now();
    let snapshot = sim.state.to_snapshot_bytes();
    let snapshot_encode = snapshot_start.elapsed();
    let steady_start = Instant::now();
    let steady = plan_assignment(&sim.state);
    let steady_plan = steady_start.elapsed();
    assert!(steady.is_empty());
    let duties_per_s = (DUTY_INTERVAL.as_secs_f64().recip()) as u32;
    let snapshots_per_s = per_second / SNAPSHOT_EVERY as f64;
    let fixed = apply_per_s + steady_plan * duties_per_s + snapshot_encode.mul_f64(snapshots_per_s);
    println!(
        "| per entry (one node's {} positions) | value |",
        partitions as u64 / nodes
    );
    println!("|---|---|");
    println!("| entry size | {bytes} B (Raft's max_size_per_msg: {MAX_SIZE_PER_MSG} B) |");
    println!(
        "| encode on the owner (Command::encode) | {} ms (building it from the state: {} ms) |",
        ms(encode / entries),
        ms(build / entries)
    );
    println!(
        "| decode + apply on every node (p50 / max) | {} / {} ms |",
        ms(percentile(&apply, 0.5)),
        ms(*apply.last().expect("entries"))
    );
    println!(
        "| the driver's clone of the whole state, published after each batch of applied entries | {} ms |",
        ms(clone)
    );
    println!(
        "| plan_assignment with nothing to move (every {} ms duty) | {} ms |",
        DUTY_INTERVAL.as_millis(),
        ms(steady_plan)
    );
    println!(
        "| snapshot encode ({} B, every {SNAPSHOT_EVERY} entries = every {:.0} s here) | {} ms |",
        snapshot.len(),
        SNAPSHOT_EVERY as f64 / per_second,
        ms(snapshot_encode)
    );
    println!();
    println!(
        "Leader CPU per second, {per_second:.0} entries/s: apply {} ms + steady plans {} ms + snapshots {} ms = {} ms, \
         plus one state clone per Ready with committed entries: 1 to {per_second:.0} of them, {} to {} ms. \
         That is {:.1} % to {:.1} % of a core (every follower pays the same but the plans). Not simulated: \
         sled writes of the log and the gRPC transport.",
        ms(apply_per_s),
        ms(steady_plan * duties_per_s),
        ms(snapshot_encode.mul_f64(snapshots_per_s)),
        ms(fixed),
        ms(clone),
        ms(clone.mul_f64(per_second)),
        (fixed + clone).as_secs_f64() * 100.0,
        (fixed + clone.mul_f64(per_second)).as_secs_f64() * 100.0,
    );
    println!();
}

fn time_clone(state: &ClusterState) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        let copy = state.clone();
        best = best.min(start.elapsed());
        drop(copy);
    }
    best
}

/// Peak resident memory of this process (VmHWM), in MiB, where /proc says it.
fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

/// A state of `partitions` partitions on 3 nodes, each with `runs` offset runs: fragmented (a
/// compacted source: every run of 5 records is followed by a gap of 2 offsets) at offsets of a
/// long-lived topic.
fn fragmented_state(partitions: usize, runs: usize) -> ClusterState {
    let mut sim = Sim::new();
    for node in 1..=3 {
        sim.apply(&register(node));
    }
    for command in topic_commands(partitions, 0) {
        sim.apply(&command);
    }
    let plan: Vec<PartitionMove> = plan_assignment(&sim.state);
    sim.apply(&Command::Assign { moves: plan });
    let (source_base, target_base) = (4_800_000_000i64, 3_100_000_000i64);
    for node in 1..=3 {
        // In slices, as owners report them: a few hundred partitions' runs per entry.
        let owned = sim.state.owned_by(node);
        for chunk in owned.chunks(200) {
            let positions = chunk
                .iter()
                .enumerate()
                .map(|(i, (key, owner, _))| {
                    let source = source_base + i as i64 * 1_000_003;
                    let target = target_base + i as i64 * 700_001;
                    let runs: Vec<OffsetRun> = (0..runs as i64)
                        .map(|r| OffsetRun {
                            source_start: source + r * 7,
                            target_start: target + r * 5,
                            len: 5,
                        })
                        .collect();
                    PositionUpdate {
                        key: key.clone(),
                        epoch: owner.epoch,
                        position: Position {
                            next_source_offset: source + runs.len() as i64 * 7,
                            last_target_offset: target + runs.len() as i64 * 5 - 1,
                        },
                        runs,
                    }
                })
                .collect();
            sim.apply(&Command::UpdatePositions { node, positions });
        }
    }
    sim.state
}

fn snapshots(partitions: usize, runs: &[usize]) {
    println!("## Snapshots: {partitions} partitions, fragmented offset runs (limit: {MESSAGE_LIMIT} B, the largest message a node accepts; MAX_RUNS_PER_PARTITION = {MAX_RUNS_PER_PARTITION})");
    println!();
    println!("| runs / partition | snapshot (MiB) | B / partition | encode (ms) | decode (ms) | clone (ms) | % of limit | partitions at the limit | peak RSS (MiB) |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for &r in runs {
        let state = fragmented_state(partitions, r);
        let start = Instant::now();
        let bytes = state.to_snapshot_bytes();
        let encode = start.elapsed();
        let start = Instant::now();
        let decoded = ClusterState::from_snapshot_bytes(&bytes).expect("a valid snapshot");
        let decode = start.elapsed();
        assert!(decoded == state, "the snapshot round-trips");
        drop(decoded);
        let clone = time_clone(&state);
        let per_partition = bytes.len() as f64 / partitions as f64;
        println!(
            "| {r} | {:.1} | {:.0} | {} | {} | {} | {:.1} % | {:.0} | {} |",
            bytes.len() as f64 / (1024.0 * 1024.0),
            per_partition,
            ms(encode),
            ms(decode),
            ms(clone),
            bytes.len() as f64 * 100.0 / MESSAGE_LIMIT as f64,
            MESSAGE_LIMIT as f64 / per_partition,
            peak_rss_mib().map_or("?".to_owned(), |m| m.to_string()),
        );
    }
    println!();
}
