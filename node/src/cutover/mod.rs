//! The migration moment of a flow (`strait cutover`): consumer groups moved from the source to the
//! target with exactly translated offsets.
//!
//! Steps, each idempotent so that a cutover interrupted anywhere and run again finishes:
//! 1. check: every group has committed offsets on the flow's topics, and no group has an active
//!    member on the source or the target (refused with the members listed);
//! 2. wait until the source is quiet ([`quiet`]): every partition replicated to its end offset
//!    and nothing changed for the quiet period (a paused flow with records left is resumed);
//! 3. pause the flow (through Raft) and check the source did not move meanwhile (else resume
//!    and wait again);
//! 4. per group: its offsets translated (refused if one does not: below the offset runs kept), a
//!    final MM2 checkpoint per partition and the translated offsets committed into the target
//!    group (with the source commit's metadata, as MM2 does);
//! 5. (in the control API) verify the groups' topics record for record.
//!
//! A dry run does step 1 and reports what step 4 would commit now.

mod quiet;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::ClientConfig;
use strait_config::{ClientProps, FlowSettings};
use strait_coordinator::mm2::{checkpoints_topic, Checkpoint};
use strait_coordinator::state::{ClusterState, Command, PartitionKey};
use strait_coordinator::{FlowId, TopicPartition};
use thiserror::Error;
use tokio::sync::mpsc;

use crate::control::Control;
use crate::offsets::groups::{CommittedOffset, GroupClient};
use crate::offsets::translate::flow_partitions;
use crate::offsets::{translate_offsets, TranslationMethod};

pub use quiet::{Quiet, Snapshot};

/// How long one Kafka request of the cutover may take.
const KAFKA_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the source is looked at while waiting for quiet.
const POLL_EVERY: Duration = Duration::from_millis(500);
/// The quiet period when the request gives none: five position intervals at the default.
pub const DEFAULT_QUIET: Duration = Duration::from_secs(5);

/// A checked cutover request.
#[derive(Debug, Clone)]
pub struct CutoverSpec {
    pub flow: FlowId,
    pub groups: Vec<String>,
    pub quiet: Duration,
    /// `None`: wait for quiet as long as it takes.
    pub max_wait: Option<Duration>,
    pub dry_run: bool,
}

/// What the cutover is doing, for the caller to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepEvent {
    pub step: &'static str,
    pub detail: String,
    pub lag: i64,
}

/// One partition of a group, moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovedPartition {
    pub source: TopicPartition,
    pub remote_topic: String,
    pub source_offset: i64,
    pub target_offset: i64,
    pub method: TranslationMethod,
    pub replication_lag: i64,
    pub source_remaining: i64,
    pub target_remaining: i64,
}

/// One group, moved (or planned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovedGroup {
    pub group: String,
    pub committed: bool,
    pub partitions: Vec<MovedPartition>,
}

/// Where the cutover stands after its last step.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub flow: FlowId,
    pub dry_run: bool,
    pub paused: bool,
    pub groups: Vec<MovedGroup>,
    /// The source topics the groups read (what verification covers).
    pub topics: Vec<String>,
}

/// Why a cutover stopped. Refusals come before anything changed; later errors leave the flow
/// paused (when it was paused) and a second run finishes.
#[derive(Debug, Error)]
pub enum CutoverError {
    #[error("group {group:?} has no committed offsets on {cluster} for the topics flow {flow} replicates")]
    NoCommits {
        group: String,
        cluster: String,
        flow: FlowId,
    },
    #[error("group {group:?} has {count} active member(s) on {cluster}: {members}; stop them first", count = .members.len(), members = .members.join(", "))]
    ActiveMembers {
        group: String,
        cluster: String,
        members: Vec<String>,
    },
    #[error("group {group:?}: offset {offset} of {partition} cannot be translated ({method:?}): the offset map does not cover it")]
    Untranslatable {
        group: String,
        partition: TopicPartition,
        offset: i64,
        method: TranslationMethod,
    },
    #[error("the source of flow {flow} was not quiet within {waited:?} ({lag} record(s) not replicated at the last look); stop the producers, or wait longer (--max-wait, --wait-for-quiet)")]
    NotQuiet {
        flow: FlowId,
        waited: Duration,
        lag: i64,
    },
    #[error("{what}: {source}")]
    Kafka {
        what: String,
        #[source]
        source: KafkaError,
    },
    #[error("{what}: {reason}")]
    Cluster { what: String, reason: String },
    #[error("the caller went away")]
    CallerGone,
}

fn kafka(what: impl Into<String>) -> impl FnOnce(KafkaError) -> CutoverError {
    let what = what.into();
    move |source| CutoverError::Kafka { what, source }
}

async fn blocking<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> Result<T, CutoverError> + Send + 'static,
) -> Result<T, CutoverError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| CutoverError::Cluster {
            what: what.to_owned(),
            reason: format!("blocking task failed: {e}"),
        })?
}

/// The Kafka clients a cutover uses, made once.
struct Clients {
    source_groups: GroupClient,
    target_groups: GroupClient,
    source: Arc<BaseConsumer>,
    target: Arc<BaseConsumer>,
}

fn consumer(props: &ClientProps) -> Result<BaseConsumer, KafkaError> {
    let mut config = ClientConfig::new();
    for (key, value) in props {
        config.set(key, value);
    }
    config
        .set("group.id", "strait-cutover")
        .set("enable.auto.commit", "false")
        .create()
}

impl Clients {
    fn new(settings: &FlowSettings) -> Result<Self, CutoverError> {
        let s = &settings.source_admin;
        let t = &settings.target_admin;
        Ok(Self {
            source_groups: GroupClient::new(s, KAFKA_TIMEOUT).map_err(kafka("source groups"))?,
            target_groups: GroupClient::new(t, KAFKA_TIMEOUT).map_err(kafka("target groups"))?,
            source: Arc::new(consumer(s).map_err(kafka("source client"))?),
            target: Arc::new(consumer(t).map_err(kafka("target client"))?),
        })
    }
}

/// Runs a cutover's steps 1–4, telling `events` what it does. Stops with
/// [`CutoverError::CallerGone`] at the next step when `events` is closed.
pub async fn run(
    control: &Control,
    settings: &FlowSettings,
    spec: &CutoverSpec,
    events: &mpsc::Sender<StepEvent>,
) -> Result<Outcome, CutoverError> {
    let flow = &spec.flow;
    let clients = {
        let settings = settings.clone();
        Arc::new(blocking("creating clients", move || Clients::new(&settings)).await?)
    };
    let say = |step: &'static str, detail: String, lag: i64| {
        let events = events.clone();
        async move {
            events
                .send(StepEvent { step, detail, lag })
                .await
                .map_err(|_| CutoverError::CallerGone)
        }
    };

    // 1. Check.
    let state = control.raft.state();
    let partitions = flow_partitions(&state, flow);
    check_members(&clients, settings, &spec.groups).await?;
    let groups = plan(&clients, &state, settings, &spec.groups, &partitions).await?;
    let topics: Vec<String> = groups
        .iter()
        .flat_map(|(_, offsets)| offsets.iter().map(|(tp, _, _)| tp.topic.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    say(
        "checked",
        format!(
            "{} group(s) on {} topic(s) of {flow}, no active member",
            groups.len(),
            topics.len()
        ),
        0,
    )
    .await?;
    if spec.dry_run {
        let snapshot = look(&clients, &state, flow, &partitions).await?;
        let moved = translate_groups(&clients, &state, flow, &groups, &snapshot, false).await?;
        return Ok(Outcome {
            flow: flow.clone(),
            dry_run: true,
            paused: state.is_paused(flow),
            groups: moved,
            topics,
        });
    }

    // 2 and 3. Quiet, then paused with nothing moved meanwhile.
    let started = Instant::now();
    let mut quiet = Quiet::new(spec.quiet);
    let mut last_lag = -1;
    let snapshot = loop {
        let state = control.raft.state();
        let snapshot = look(&clients, &state, flow, &partitions).await?;
        let lag = snapshot.lag();
        if lag > 0 && state.is_paused(flow) {
            set_paused(control, flow, false).await?;
            say(
                "resumed",
                format!("flow {flow} was paused with {lag} record(s) left: resumed to copy them"),
                lag,
            )
            .await?;
        }
        if quiet.observe(Instant::now(), snapshot.clone()) {
            say(
                "quiet",
                format!("every partition replicated, no change for {:?}", spec.quiet),
                0,
            )
            .await?;
            if !state.is_paused(flow) {
                set_paused(control, flow, true).await?;
            }
            // Anything written between the last look and the pause shows now.
            let after = look(&clients, &control.raft.state(), flow, &partitions).await?;
            if after == snapshot {
                say("paused", format!("flow {flow} paused"), 0).await?;
                break snapshot;
            }
            set_paused(control, flow, false).await?;
            quiet.reset();
            say(
                "resumed",
                format!(
                    "the source of {flow} was written to while pausing: resumed, waiting again"
                ),
                after.lag(),
            )
            .await?;
            continue;
        }
        if lag != last_lag {
            let detail = if lag > 0 {
                format!("waiting for the source of {flow} to be replicated")
            } else {
                format!(
                    "every partition of {flow} replicated; waiting until nothing changes for {:?}",
                    spec.quiet
                )
            };
            say("waiting", detail, lag).await?;
            last_lag = lag;
        } else if events.is_closed() {
            return Err(CutoverError::CallerGone);
        }
        if let Some(max) = spec.max_wait {
            if started.elapsed() >= max {
                return Err(CutoverError::NotQuiet {
                    flow: flow.clone(),
                    waited: max,
                    lag,
                });
            }
        }
        tokio::time::sleep(POLL_EVERY).await;
    };

    // 4. Commit, with the members checked again: one may have started meanwhile.
    check_members(&clients, settings, &spec.groups).await?;
    let state = control.raft.state();
    let moved = translate_groups(&clients, &state, flow, &groups, &snapshot, true).await?;
    let checkpoints = settings.mm2.emit_checkpoints_enabled;
    for (group, (_, committed)) in moved.iter().zip(&groups) {
        if checkpoints {
            write_checkpoints(settings, group, committed).await?;
        }
        let offsets: Vec<CommittedOffset> = group
            .partitions
            .iter()
            .map(|p| {
                let metadata = committed
                    .iter()
                    .find(|(tp, _, _)| *tp == p.source)
                    .map(|(_, _, m)| m.clone())
                    .unwrap_or_default();
                (
                    TopicPartition::new(p.remote_topic.clone(), p.source.partition),
                    p.target_offset,
                    metadata,
                )
            })
            .collect();
        let target_groups = clients.target_groups.clone();
        let name = group.group.clone();
        blocking("committing", move || {
            target_groups
                .commit(&name, &offsets)
                .map_err(kafka(format!("committing group {name:?} on the target")))
        })
        .await?;
        tracing::info!(%flow, group = group.group, partitions = group.partitions.len(),
            "cutover: group committed on the target");
        say(
            "committed",
            format!(
                "group {:?}: {} partition(s) committed on {}",
                group.group,
                group.partitions.len(),
                flow.target
            ),
            0,
        )
        .await?;
    }
    Ok(Outcome {
        flow: flow.clone(),
        dry_run: false,
        paused: true,
        groups: moved,
        topics,
    })
}

async fn set_paused(control: &Control, flow: &FlowId, paused: bool) -> Result<(), CutoverError> {
    let what = if paused { "pausing" } else { "resuming" };
    let outcome = control
        .raft
        .propose(Command::SetFlowPaused {
            flow: flow.clone(),
            paused,
        })
        .await
        .map_err(|e| CutoverError::Cluster {
            what: format!("{what} flow {flow}"),
            reason: e.to_string(),
        })?;
    crate::control::applied(outcome).map_err(|status| CutoverError::Cluster {
        what: format!("{what} flow {flow}"),
        reason: status.message().to_owned(),
    })
}

/// Refuses while a group has an active member on either cluster: its commits would race ours
/// (on the target the broker refuses our commit anyway).
async fn check_members(
    clients: &Arc<Clients>,
    settings: &FlowSettings,
    groups: &[String],
) -> Result<(), CutoverError> {
    let clients = clients.clone();
    let groups = groups.to_vec();
    let (source, target) = (
        settings.id.source.to_string(),
        settings.id.target.to_string(),
    );
    blocking("checking group members", move || {
        for group in &groups {
            for (client, cluster) in [
                (&clients.source_groups, &source),
                (&clients.target_groups, &target),
            ] {
                let members = client
                    .members(group)
                    .map_err(kafka(format!("describing group {group:?} on {cluster}")))?;
                if !members.is_empty() {
                    return Err(CutoverError::ActiveMembers {
                        group: group.clone(),
                        cluster: cluster.clone(),
                        members,
                    });
                }
            }
        }
        Ok(())
    })
    .await
}

/// Each group's committed source offsets on the flow's partitions, checked to translate.
async fn plan(
    clients: &Arc<Clients>,
    state: &ClusterState,
    settings: &FlowSettings,
    groups: &[String],
    partitions: &[TopicPartition],
) -> Result<Vec<(String, Vec<CommittedOffset>)>, CutoverError> {
    let flow = settings.id.clone();
    let committed = {
        let clients = clients.clone();
        let groups = groups.to_vec();
        let partitions = partitions.to_vec();
        let source = flow.source.to_string();
        blocking("reading committed offsets", move || {
            groups
                .into_iter()
                .map(|group| {
                    let offsets = clients
                        .source_groups
                        .committed_with_metadata(&group, &partitions)
                        .map_err(kafka(format!("reading group {group:?} on {source}")))?;
                    Ok((group, offsets))
                })
                .collect::<Result<Vec<_>, CutoverError>>()
        })
        .await?
    };
    for (group, offsets) in &committed {
        if offsets.is_empty() {
            return Err(CutoverError::NoCommits {
                group: group.clone(),
                cluster: flow.source.to_string(),
                flow: flow.clone(),
            });
        }
        // Whether an offset translates is known once the source is quiet and the cluster state
        // holds every run (they reach it a position interval after the copy): checked then, in
        // `translate_groups`. Only a partition the flow does not replicate is refused now.
        let asked: Vec<(TopicPartition, i64)> =
            offsets.iter().map(|(tp, o, _)| (tp.clone(), *o)).collect();
        for answer in translate_offsets(state, &flow, &asked) {
            if answer.method == TranslationMethod::UnknownPartition {
                return Err(CutoverError::Untranslatable {
                    group: group.clone(),
                    partition: answer.source,
                    offset: answer.source_offset,
                    method: answer.method,
                });
            }
        }
    }
    Ok(committed)
}

/// The source end offsets of the flow's partitions with their replicated positions per `state`.
async fn look(
    clients: &Arc<Clients>,
    state: &ClusterState,
    flow: &FlowId,
    partitions: &[TopicPartition],
) -> Result<Snapshot, CutoverError> {
    let replicated: Vec<(TopicPartition, Option<i64>)> = partitions
        .iter()
        .map(|tp| {
            let key = PartitionKey {
                flow: flow.clone(),
                tp: tp.clone(),
            };
            let next = state
                .partition(&key)
                .and_then(|info| info.position)
                .map(|p| p.next_source_offset);
            (tp.clone(), next)
        })
        .collect();
    let clients = clients.clone();
    let source = flow.source.to_string();
    blocking("reading source end offsets", move || {
        let mut snapshot = Snapshot::default();
        for (tp, next) in replicated {
            let (low, high) = clients
                .source
                .fetch_watermarks(&tp.topic, tp.partition, KAFKA_TIMEOUT)
                .map_err(kafka(format!("end offset of {tp} on {source}")))?;
            snapshot
                .partitions
                .insert(tp, (high, next.unwrap_or(low).max(low)));
        }
        Ok(snapshot)
    })
    .await
}

/// Every group's offsets translated (per `state`), with what each side has left to read.
async fn translate_groups(
    clients: &Arc<Clients>,
    state: &ClusterState,
    flow: &FlowId,
    groups: &[(String, Vec<CommittedOffset>)],
    snapshot: &Snapshot,
    committed: bool,
) -> Result<Vec<MovedGroup>, CutoverError> {
    let mut moved = Vec::new();
    let mut remote_partitions = BTreeSet::new();
    for (group, offsets) in groups {
        let asked: Vec<(TopicPartition, i64)> =
            offsets.iter().map(|(tp, o, _)| (tp.clone(), *o)).collect();
        let mut partitions = Vec::new();
        for answer in translate_offsets(state, flow, &asked) {
            let (remote_topic, target_offset) =
                match (answer.remote_topic.clone(), answer.target_offset) {
                    (Some(remote), Some(offset)) => (remote, offset),
                    // A plan shows what does not translate (yet); a cutover refuses it.
                    (Some(remote), None) if !committed => (remote, -1),
                    _ => {
                        return Err(CutoverError::Untranslatable {
                            group: group.clone(),
                            partition: answer.source,
                            offset: answer.source_offset,
                            method: answer.method,
                        })
                    }
                };
            remote_partitions.insert((remote_topic.clone(), answer.source.partition));
            partitions.push(MovedPartition {
                replication_lag: snapshot.partition_lag(&answer.source),
                source_remaining: snapshot
                    .end(&answer.source)
                    .map_or(0, |end| (end - answer.source_offset).max(0)),
                target_remaining: 0,
                source: answer.source,
                remote_topic,
                source_offset: answer.source_offset,
                target_offset,
                method: answer.method,
            });
        }
        moved.push(MovedGroup {
            group: group.clone(),
            committed,
            partitions,
        });
    }
    let target = clients.target.clone();
    let target_name = flow.target.to_string();
    let ends: HashMap<(String, i32), i64> = blocking("reading target end offsets", move || {
        remote_partitions
            .into_iter()
            .map(|(topic, partition)| {
                let (_, high) = target
                    .fetch_watermarks(&topic, partition, KAFKA_TIMEOUT)
                    .map_err(kafka(format!(
                        "end offset of {topic}-{partition} on {target_name}"
                    )))?;
                Ok(((topic, partition), high))
            })
            .collect::<Result<_, CutoverError>>()
    })
    .await?;
    for group in &mut moved {
        for p in &mut group.partitions {
            match ends.get(&(p.remote_topic.clone(), p.source.partition)) {
                Some(end) if p.target_offset >= 0 => {
                    p.target_remaining = (end - p.target_offset).max(0)
                }
                _ => p.target_remaining = -1,
            }
        }
    }
    Ok(moved)
}

/// A final MM2 checkpoint per partition of `group` on `<source>.checkpoints.internal` of the
/// target, so that MM2's tools (`RemoteClusterUtils.translateOffsets`) agree with the commit.
async fn write_checkpoints(
    settings: &FlowSettings,
    group: &MovedGroup,
    committed: &[CommittedOffset],
) -> Result<(), CutoverError> {
    let producer = crate::offsets::emitter::mm2_producer(&settings.target_admin)
        .map_err(kafka("checkpoint producer"))?;
    let topic = checkpoints_topic(settings.id.source.as_str());
    let metadata: BTreeMap<&TopicPartition, &str> = committed
        .iter()
        .map(|(tp, _, m)| (tp, m.as_str()))
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    for p in &group.partitions {
        let checkpoint = Checkpoint {
            group: group.group.clone(),
            topic: p.remote_topic.clone(),
            partition: p.source.partition,
            upstream_offset: p.source_offset,
            downstream_offset: p.target_offset,
            metadata: metadata.get(&p.source).copied().unwrap_or("").to_owned(),
        };
        let codec = |e: strait_coordinator::mm2::CodecError| CutoverError::Cluster {
            what: format!("checkpoint of group {:?}", group.group),
            reason: e.to_string(),
        };
        crate::offsets::emitter::send(
            &producer,
            &topic,
            &checkpoint.encode_key().map_err(codec)?,
            &checkpoint.encode_value().map_err(codec)?,
            now,
        )
        .await
        .map_err(|e| CutoverError::Cluster {
            what: format!("writing the checkpoints of group {:?}", group.group),
            reason: e.to_string(),
        })?;
    }
    Ok(())
}
