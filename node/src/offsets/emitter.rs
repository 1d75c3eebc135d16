//! The consumer fail-over side of a flow, MirrorMaker 2 compatible: heartbeats, offset syncs,
//! checkpoints and group offset sync. One per flow, active on the Raft leader only (like topic
//! discovery), reading the offset runs every node holds in the cluster state.
//!
//! - Heartbeats: every `emit.heartbeats.interval.seconds`, a record to `heartbeats` on the target.
//!   A pair of clusters without an enabled flow gets them too, as in MirrorMaker 2 ([`run_pair`]).
//! - Offset syncs: at every checkpoint round, the syncs MM2's rule emits for what was replicated
//!   since the last round (planned from the runs), to `mm2-offset-syncs.<target>.internal` on the
//!   source (or `mm2-offset-syncs.<source>.internal` on the target), for MM2 tooling.
//! - Checkpoints: every `emit.checkpoints.interval.seconds`, the committed offsets of the source's
//!   groups matching `groups` / `groups.exclude`, translated exactly, to
//!   `<source>.checkpoints.internal` on the target, with MM2's emission rule.
//! - Group offset sync (`sync.group.offsets.enabled`): the translated offsets are committed to
//!   the target group while it has no active members, never moving it backwards.
//!
//! What it remembers (last sync and last checkpoint per partition) is in memory: a new leader
//! starts over, which re-emits each partition's first sync and each group's current checkpoint.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use strait_config::{ClientProps, FlowSettings, OffsetSyncsLocation, PairHeartbeats};
use strait_coordinator::mm2::{
    checkpoints_topic, offset_syncs_topic, plan_offset_syncs, should_emit_checkpoint, Checkpoint,
    CheckpointOffsets, CodecError, Heartbeat, OffsetSync, SyncPoint, HEARTBEATS_TOPIC,
};
use strait_coordinator::raft::{RaftHandle, RaftRole};
use strait_coordinator::{ClusterAlias, TopicPartition};
use thiserror::Error;

use crate::kafka::{admin_config, ClientRole, ReportingContext, TopicAdmin, TopicConfigEntry};
use crate::offsets::groups::{CommittedOffset, GroupClient};
use crate::offsets::translate::{flow_partitions, translate_offsets, TranslationMethod};

/// How long one admin, group or produce request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How often leadership is checked between rounds.
const TICK: Duration = Duration::from_millis(200);

/// Why a round of the emitter failed (it is retried at the next interval).
#[derive(Debug, Error)]
pub enum EmitError {
    #[error("{what}: {source}")]
    Kafka {
        what: String,
        #[source]
        source: KafkaError,
    },
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("{what}: blocking task failed")]
    Join { what: String },
}

fn kafka(what: impl Into<String>) -> impl FnOnce(KafkaError) -> EmitError {
    let what = what.into();
    move |source| EmitError::Kafka { what, source }
}

/// The Kafka clients of the emitter, created when this node first leads.
struct Clients {
    target_producer: FutureProducer,
    source_producer: FutureProducer,
    source_groups: GroupClient,
    target_groups: GroupClient,
}

/// Runs the emitter of one flow until the future is dropped (with its flow actor).
pub async fn run(settings: Arc<FlowSettings>, raft: RaftHandle) {
    let mut emitter = Emitter::new(settings, raft);
    emitter.run().await;
}

struct Emitter {
    settings: Arc<FlowSettings>,
    raft: RaftHandle,
    clients: Option<Clients>,
    topics_ready: bool,
    /// The last offset sync emitted per source partition.
    last_sync: HashMap<TopicPartition, SyncPoint>,
    /// The last checkpoint emitted per group and source partition.
    last_checkpoint: HashMap<(String, TopicPartition), CheckpointOffsets>,
    next_heartbeat: Instant,
    next_checkpoint: Instant,
    next_group_sync: Instant,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Emitter {
    fn new(settings: Arc<FlowSettings>, raft: RaftHandle) -> Self {
        let now = Instant::now();
        Self {
            settings,
            raft,
            clients: None,
            topics_ready: false,
            last_sync: HashMap::new(),
            last_checkpoint: HashMap::new(),
            next_heartbeat: now,
            next_checkpoint: now,
            next_group_sync: now,
        }
    }

    async fn run(&mut self) {
        let mm2 = self.settings.mm2.clone();
        if !mm2.emit_heartbeats_enabled
            && !mm2.emit_checkpoints_enabled
            && !mm2.emit_offset_syncs_enabled
            && !mm2.sync_group_offsets_enabled
        {
            return;
        }
        let flow = self.settings.id.clone();
        let mut tick = tokio::time::interval(TICK);
        loop {
            tick.tick().await;
            if self.raft.status().role != RaftRole::Leader {
                // A new leader starts over (see the module docs).
                self.last_sync.clear();
                self.last_checkpoint.clear();
                continue;
            }
            if let Err(error) = self.prepare().await {
                tracing::warn!(%flow, %error, "mm2 internal topics not ready, retrying");
                continue;
            }
            let now = Instant::now();
            if mm2.emit_heartbeats_enabled && now >= self.next_heartbeat {
                self.next_heartbeat = now + mm2.emit_heartbeats_interval;
                if let Err(error) = self.heartbeat().await {
                    tracing::warn!(%flow, %error, "heartbeat not written");
                }
            }
            if now >= self.next_checkpoint {
                self.next_checkpoint = now + mm2.emit_checkpoints_interval;
                if mm2.emit_offset_syncs_enabled {
                    if let Err(error) = self.offset_syncs().await {
                        tracing::warn!(%flow, %error, "offset syncs not written");
                    }
                }
                let sync_groups = mm2.sync_group_offsets_enabled && now >= self.next_group_sync;
                if sync_groups {
                    self.next_group_sync = now + mm2.sync_group_offsets_interval;
                }
                if mm2.emit_checkpoints_enabled || sync_groups {
                    let started = Instant::now();
                    let outcome = match self.checkpoints(sync_groups).await {
                        Ok(()) => "ok",
                        Err(error) => {
                            tracing::warn!(%flow, %error, "checkpoints not written");
                            "error"
                        }
                    };
                    // One round: list and read the groups on the source, translate, write the
                    // checkpoints (and sync groups) on the target.
                    metrics::histogram!("strait_checkpoint_round_duration_seconds",
                        "flow" => flow.to_string(), "outcome" => outcome)
                    .record(started.elapsed().as_secs_f64());
                }
            }
        }
    }

    /// Creates the clients and the internal topics (compacted, one partition), once.
    async fn prepare(&mut self) -> Result<(), EmitError> {
        let s = &self.settings;
        let flow = s.id.to_string();
        if self.clients.is_none() {
            let producer = |props: &ClientProps, what: &str| {
                mm2_producer(props).map_err(kafka(format!("flow {flow}: {what}")))
            };
            self.clients = Some(Clients {
                target_producer: producer(&s.target_admin, "target producer for mm2 topics")?,
                source_producer: producer(&s.source_admin, "source producer for offset syncs")?,
                source_groups: GroupClient::new(&s.source_admin, REQUEST_TIMEOUT)
                    .map_err(kafka(format!("flow {flow}: source group client")))?,
                target_groups: GroupClient::new(&s.target_admin, REQUEST_TIMEOUT)
                    .map_err(kafka(format!("flow {flow}: target group client")))?,
            });
        }
        if self.topics_ready {
            return Ok(());
        }
        let admin = |props, role| {
            TopicAdmin::new(
                &admin_config(props, role),
                ReportingContext::new(format!("{flow} mm2")),
                REQUEST_TIMEOUT,
            )
            .map_err(kafka(format!("flow {flow}: {role}")))
        };
        let source_admin = admin(&s.source_admin, ClientRole::SourceAdmin)?;
        let target_admin = admin(&s.target_admin, ClientRole::TargetAdmin)?;
        let compact = [TopicConfigEntry {
            name: "cleanup.policy".to_owned(),
            value: "compact".to_owned(),
        }];
        let mm2 = &s.mm2;
        if mm2.emit_heartbeats_enabled {
            create_heartbeats_topic(&target_admin, mm2.heartbeats_topic_replication_factor).await?;
        }
        if mm2.emit_checkpoints_enabled {
            let topic = checkpoints_topic(s.id.source.as_str());
            target_admin
                .create_topic(
                    &topic,
                    1,
                    mm2.checkpoints_topic_replication_factor,
                    &compact,
                )
                .await
                .map_err(kafka(format!("creating {topic}")))?;
        }
        if mm2.emit_offset_syncs_enabled {
            let (admin, topic) = self.offset_syncs_place(&source_admin, &target_admin);
            admin
                .create_topic(
                    &topic,
                    1,
                    mm2.offset_syncs_topic_replication_factor,
                    &compact,
                )
                .await
                .map_err(kafka(format!("creating {topic}")))?;
        }
        self.topics_ready = true;
        Ok(())
    }

    fn offset_syncs_place<'a, T>(&self, source: &'a T, target: &'a T) -> (&'a T, String) {
        let id = &self.settings.id;
        match self.settings.mm2.offset_syncs_location {
            OffsetSyncsLocation::Source => (source, offset_syncs_topic(id.target.as_str())),
            OffsetSyncsLocation::Target => (target, offset_syncs_topic(id.source.as_str())),
        }
    }

    fn clients(&self) -> &Clients {
        self.clients.as_ref().expect("prepared before use")
    }

    async fn heartbeat(&self) -> Result<(), EmitError> {
        let id = &self.settings.id;
        write_heartbeat(&self.clients().target_producer, &id.source, &id.target).await
    }

    async fn offset_syncs(&mut self) -> Result<(), EmitError> {
        let state = self.raft.state();
        let flow = &self.settings.id;
        let clients = self.clients.as_ref().expect("prepared before use");
        let (producer, topic) =
            self.offset_syncs_place(&clients.source_producer, &clients.target_producer);
        let mut written = 0;
        for (key, info) in state.partitions().filter(|(k, _)| k.flow == *flow) {
            let last = self.last_sync.get(&key.tp).copied();
            let syncs = plan_offset_syncs(last, info.runs.iter(), self.settings.mm2.offset_lag_max);
            for point in &syncs {
                let sync = OffsetSync {
                    topic: key.tp.topic.clone(),
                    partition: key.tp.partition,
                    upstream_offset: point.upstream,
                    downstream_offset: point.downstream,
                };
                send(
                    producer,
                    &topic,
                    &sync.encode_key()?,
                    &sync.encode_value(),
                    now_ms(),
                )
                .await?;
                self.last_sync.insert(key.tp.clone(), *point);
                written += 1;
            }
        }
        if written > 0 {
            tracing::debug!(flow = %flow, topic, syncs = written, "offset syncs written");
        }
        Ok(())
    }

    /// Translates the committed offsets of every selected source group; writes the checkpoints
    /// MM2's rule lets through and, with `sync_groups`, commits them to the target groups.
    async fn checkpoints(&mut self, sync_groups: bool) -> Result<(), EmitError> {
        let state = self.raft.state();
        let flow = self.settings.id.clone();
        let partitions = flow_partitions(&state, &flow);
        if partitions.is_empty() {
            return Ok(());
        }
        let source_groups = self.clients().source_groups.clone();
        let filter = self.settings.mm2.groups.clone();
        let listed = blocking("listing source groups", move || {
            let groups = source_groups.list()?;
            let names: Vec<String> = groups
                .into_iter()
                .map(|g| g.name)
                .filter(|name| filter.matches(name))
                .collect();
            source_groups.retain(&names);
            let mut committed = Vec::new();
            for name in names {
                let offsets = source_groups.committed_with_metadata(&name, &partitions)?;
                // MM2 only considers groups with commits on replicated topics.
                if !offsets.is_empty() {
                    committed.push((name, offsets));
                }
            }
            Ok(committed)
        })
        .await?;
        let topic = checkpoints_topic(flow.source.as_str());
        let mut written = 0;
        let mut to_sync = Vec::new();
        for (group, committed) in listed {
            let offsets: Vec<(TopicPartition, i64)> = committed
                .iter()
                .map(|(tp, offset, _)| (tp.clone(), *offset))
                .collect();
            // MM2 carries the source commit's metadata into the checkpoint and the synced group.
            let metadata: HashMap<&TopicPartition, &str> = committed
                .iter()
                .map(|(tp, _, metadata)| (tp, metadata.as_str()))
                .collect();
            let mut translated = Vec::new();
            for answer in translate_offsets(&state, &flow, &offsets) {
                let (Some(remote), Some(downstream)) = (answer.remote_topic, answer.target_offset)
                else {
                    continue;
                };
                debug_assert!(!matches!(
                    answer.method,
                    TranslationMethod::Uncovered | TranslationMethod::UnknownPartition
                ));
                let next = CheckpointOffsets {
                    upstream: answer.source_offset,
                    downstream,
                };
                let metadata = metadata
                    .get(&answer.source)
                    .copied()
                    .unwrap_or_default()
                    .to_owned();
                translated.push((
                    TopicPartition::new(remote.clone(), answer.source.partition),
                    downstream,
                    metadata.clone(),
                ));
                let key = (group.clone(), answer.source.clone());
                if !self.settings.mm2.emit_checkpoints_enabled
                    || !should_emit_checkpoint(self.last_checkpoint.get(&key).copied(), next)
                {
                    continue;
                }
                let checkpoint = Checkpoint {
                    group: group.clone(),
                    topic: remote,
                    partition: answer.source.partition,
                    upstream_offset: next.upstream,
                    downstream_offset: next.downstream,
                    metadata,
                };
                send(
                    &self.clients().target_producer,
                    &topic,
                    &checkpoint.encode_key()?,
                    &checkpoint.encode_value()?,
                    now_ms(),
                )
                .await?;
                tracing::debug!(%flow, group, partition = %answer.source,
                    upstream = next.upstream, downstream = next.downstream,
                    method = ?answer.method, "checkpoint");
                self.last_checkpoint.insert(key, next);
                written += 1;
                metrics::counter!("strait_checkpoint_records_total", "flow" => flow.to_string())
                    .increment(1);
            }
            if !translated.is_empty() {
                to_sync.push((group, translated));
            }
        }
        if written > 0 {
            tracing::info!(%flow, topic, checkpoints = written, "checkpoints written");
        }
        if sync_groups {
            self.sync_groups(to_sync).await?;
        }
        Ok(())
    }

    /// Commits translated offsets to the target groups: only groups with no active member
    /// there, only offsets ahead of what the group has.
    async fn sync_groups(
        &self,
        groups: Vec<(String, Vec<CommittedOffset>)>,
    ) -> Result<(), EmitError> {
        let target_groups = self.clients().target_groups.clone();
        let flow = self.settings.id.clone();
        blocking("syncing target groups", move || {
            for (group, offsets) in groups {
                if let Some(described) = target_groups.describe(&group)? {
                    if described.members > 0 {
                        // INFO, as the synced and refused cases: an operator asking why a
                        // group's offsets do not move on the target finds the reason.
                        tracing::info!(%flow, group, members = described.members,
                            "target group has active members: not synced");
                        continue;
                    }
                }
                let remote: Vec<TopicPartition> =
                    offsets.iter().map(|(tp, _, _)| tp.clone()).collect();
                let current: HashMap<TopicPartition, i64> = target_groups
                    .committed(&group, &remote)?
                    .into_iter()
                    .collect();
                let forward: Vec<CommittedOffset> = offsets
                    .into_iter()
                    .filter(|(tp, offset, _)| current.get(tp).is_none_or(|c| offset > c))
                    .collect();
                if forward.is_empty() {
                    continue;
                }
                match target_groups.commit(&group, &forward) {
                    Ok(()) => tracing::info!(%flow, group, partitions = forward.len(),
                        "target group offsets synced"),
                    // The broker refuses while members are active (e.g. UNKNOWN_MEMBER_ID):
                    // exactly the case to leave alone.
                    Err(error) => tracing::info!(%flow, group, %error,
                        "target group offsets not synced (active group?)"),
                }
            }
            Ok(())
        })
        .await
    }
}

/// A producer for MM2's internal topics, with the client properties of `props` (a target or
/// source admin's): every record acknowledged by all replicas, sent at once, no topic created.
pub(crate) fn mm2_producer(props: &ClientProps) -> Result<FutureProducer, KafkaError> {
    let mut config = ClientConfig::new();
    for (key, value) in props {
        config.set(key, value);
    }
    config
        .set("acks", "all")
        .set("allow.auto.create.topics", "false")
        .set("linger.ms", "0");
    config.create::<FutureProducer>()
}

/// Creates `heartbeats` (compacted, one partition) where `admin` points, unless it exists.
async fn create_heartbeats_topic(
    admin: &TopicAdmin,
    replication_factor: Option<i16>,
) -> Result<(), EmitError> {
    let compact = [TopicConfigEntry {
        name: "cleanup.policy".to_owned(),
        value: "compact".to_owned(),
    }];
    admin
        .create_topic(HEARTBEATS_TOPIC, 1, replication_factor, &compact)
        .await
        .map_err(kafka(format!("creating {HEARTBEATS_TOPIC}")))
}

/// Writes one heartbeat of the pair `source -> target` (to the target's `heartbeats`, where
/// `producer` points), stamped now.
async fn write_heartbeat(
    producer: &FutureProducer,
    source: &ClusterAlias,
    target: &ClusterAlias,
) -> Result<(), EmitError> {
    let now = now_ms();
    let heartbeat = Heartbeat {
        source_alias: source.to_string(),
        target_alias: target.to_string(),
        timestamp_ms: now,
    };
    send(
        producer,
        HEARTBEATS_TOPIC,
        &heartbeat.encode_key()?,
        &heartbeat.encode_value(),
        now,
    )
    .await
}

/// Writes one record to an MM2 internal topic, waiting for the broker's acknowledgement.
pub(crate) async fn send(
    producer: &FutureProducer,
    topic: &str,
    key: &[u8],
    value: &[u8],
    timestamp: i64,
) -> Result<(), EmitError> {
    let record = FutureRecord::to(topic)
        .key(key)
        .payload(value)
        .timestamp(timestamp);
    producer
        .send(record, REQUEST_TIMEOUT)
        .await
        .map(|_| ())
        .map_err(|(error, _)| kafka(format!("writing to {topic}"))(error))
}

/// Runs the heartbeats of a pair of clusters without an enabled flow until the future is dropped
/// (at a configuration change or shutdown): like a flow's, on the Raft leader only, every
/// `interval`, to `heartbeats` on the pair's target, created first.
pub async fn run_pair(pair: Arc<PairHeartbeats>, raft: RaftHandle) {
    if !pair.enabled {
        return;
    }
    let id = &pair.id;
    let mut producer = None;
    let mut topic_ready = false;
    let mut next = Instant::now();
    let mut tick = tokio::time::interval(TICK);
    loop {
        tick.tick().await;
        if raft.status().role != RaftRole::Leader || Instant::now() < next {
            continue;
        }
        next = Instant::now() + pair.interval;
        if producer.is_none() {
            match mm2_producer(&pair.target_admin) {
                Ok(created) => producer = Some(created),
                Err(error) => {
                    tracing::warn!(pair = %id, %error, "heartbeats producer not created");
                    continue;
                }
            }
        }
        if !topic_ready {
            let created = async {
                let admin = TopicAdmin::new(
                    &admin_config(&pair.target_admin, ClientRole::TargetAdmin),
                    ReportingContext::new(format!("{id} heartbeats")),
                    REQUEST_TIMEOUT,
                )
                .map_err(kafka(format!("pair {id}: target admin")))?;
                create_heartbeats_topic(&admin, pair.topic_replication_factor).await
            };
            match created.await {
                Ok(()) => topic_ready = true,
                Err(error) => {
                    tracing::warn!(pair = %id, %error, "heartbeats topic not ready, retrying");
                    continue;
                }
            }
        }
        let producer = producer.as_ref().expect("created above");
        if let Err(error) = write_heartbeat(producer, &id.source, &id.target).await {
            tracing::warn!(pair = %id, %error, "heartbeat not written");
        }
    }
}

async fn blocking<T, F>(what: &str, f: F) -> Result<T, EmitError>
where
    F: FnOnce() -> Result<T, KafkaError> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(kafka(what)),
        Err(_) => Err(EmitError::Join {
            what: what.to_owned(),
        }),
    }
}
