//! `strait verify`: proving that the target holds what the source held.
//!
//! Per source partition, the records of the replicated range (or of a time range) are read from
//! the source (read_committed: no transaction markers, no aborted records) and from the remote
//! topic, and merged through the partition's offset runs from the cluster state: every source
//! record must be on the target at the offset its run gives, with the same key, value, headers
//! and timestamp (compared by digest). A target record whose source record is gone (compaction,
//! retention, DeleteRecords after the copy) is counted, not a mismatch; so are the earlier copies
//! of records replayed after a fail-over (the offset map superseded them). Anything else is a
//! mismatch: a source record missing on the target, a changed record, a duplicate, a foreign one.

pub mod compare;
mod reader;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use rdkafka::consumer::Consumer;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use strait_config::FlowSettings;
use strait_coordinator::state::{ClusterState, PartitionKey};
use strait_coordinator::OffsetRun;
use strait_coordinator::{FlowId, NodeId, TopicPartition};
use thiserror::Error;

use compare::{compare, RunMap};
pub use compare::{Counts, Field, Mismatch, MismatchKind};
use reader::{consumer, PartitionReader, Reader, REQUEST_TIMEOUT};

/// Which cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Source,
    Target,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Source => "source",
            Self::Target => "target",
        })
    }
}

/// Why a partition could not be verified (its counts are then partial).
#[derive(Debug, Error)]
pub enum VerifyError {
    #[error("cannot create the {side} consumer: {source}")]
    Client {
        side: Side,
        #[source]
        source: rdkafka::error::KafkaError,
    },
    #[error("cannot read the {side} partition's offsets: {source}")]
    Offsets {
        side: Side,
        #[source]
        source: rdkafka::error::KafkaError,
    },
    #[error("reading the {side} partition at offset {offset}: {source}")]
    Fetch {
        side: Side,
        offset: i64,
        #[source]
        source: rdkafka::error::KafkaError,
    },
    #[error("no record from the {side} partition at offset {offset} for {waited:?}")]
    Stalled {
        side: Side,
        offset: i64,
        waited: Duration,
    },
    #[error("the partition has no replicated position in the cluster state yet")]
    NotReplicated,
    #[error("the verification task failed: {0}")]
    Task(String),
    #[error("cancelled (the caller went away)")]
    Cancelled,
}

impl VerifyError {
    /// Worth running again as is (a broker unreachable for a while); otherwise the configuration
    /// or the cluster state must change first.
    pub fn retriable(&self) -> bool {
        match self {
            Self::Client { .. } | Self::Task(_) => false,
            Self::Offsets { .. } | Self::Fetch { .. } | Self::Stalled { .. } => true,
            Self::NotReplicated | Self::Cancelled => true,
        }
    }
}

/// Only records in this time range (source timestamps, ms since the epoch).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
}

/// A read limit shared by the partitions one node verifies at once: records and bytes per second
/// (`None`: unlimited), enforced by sleeping the readers.
#[derive(Debug)]
pub struct Throttle {
    records_per_second: Option<u64>,
    bytes_per_second: Option<u64>,
    taken: Mutex<(u64, u64)>,
    started: Instant,
}

impl Throttle {
    pub fn new(records_per_second: Option<u64>, bytes_per_second: Option<u64>) -> Self {
        Self {
            records_per_second: records_per_second.filter(|r| *r > 0),
            bytes_per_second: bytes_per_second.filter(|b| *b > 0),
            taken: Mutex::new((0, 0)),
            started: Instant::now(),
        }
    }

    /// Counts `records` and `bytes` read, sleeping while the reads are ahead of the limits.
    pub fn take(&self, records: u64, bytes: u64) {
        if self.records_per_second.is_none() && self.bytes_per_second.is_none() {
            return;
        }
        let (r, b) = {
            let mut taken = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
            taken.0 += records;
            taken.1 += bytes;
            *taken
        };
        let due = |amount: u64, rate: Option<u64>| {
            rate.map_or(Duration::ZERO, |rate| {
                Duration::from_secs_f64(amount as f64 / rate as f64)
            })
        };
        let due = due(r, self.records_per_second).max(due(b, self.bytes_per_second));
        let elapsed = self.started.elapsed();
        if due > elapsed {
            std::thread::sleep(due - elapsed);
        }
    }
}

/// How far a node's verification is: shared with its progress reports.
#[derive(Debug, Default)]
pub struct Progress {
    pub records_checked: AtomicU64,
    pub offsets_total: AtomicU64,
    pub offsets_done: AtomicU64,
    /// Set when the caller went away: the readers stop at their next step.
    pub cancelled: AtomicBool,
}

/// What is verified of one partition, from the cluster state.
#[derive(Debug, Clone)]
pub struct PartitionPlan {
    pub flow: FlowId,
    pub tp: TopicPartition,
    pub remote_topic: String,
    /// The owner, `None` while unowned.
    pub owner: Option<NodeId>,
    pub runs: Vec<OffsetRun>,
    /// The replicated position (next source offset), `None` before the first.
    pub next_source_offset: Option<i64>,
}

/// The partitions of `flow` (of `topics`, or all) in the cluster state, sorted.
pub fn plan(state: &ClusterState, flow: &FlowId, topics: &[String]) -> Vec<PartitionPlan> {
    state
        .partitions()
        .filter(|(key, _)| key.flow == *flow)
        .filter(|(key, _)| topics.is_empty() || topics.contains(&key.tp.topic))
        .map(|(key, info)| plan_of(key, info))
        .collect()
}

fn plan_of(key: &PartitionKey, info: &strait_coordinator::state::PartitionInfo) -> PartitionPlan {
    PartitionPlan {
        flow: key.flow.clone(),
        tp: key.tp.clone(),
        remote_topic: info.remote_topic.clone(),
        owner: info.owner.as_ref().map(|o| o.node),
        runs: info.runs.iter().collect(),
        next_source_offset: info.position.map(|p| p.next_source_offset),
    }
}

/// The verdict on one partition.
#[derive(Debug)]
pub struct PartitionReport {
    pub plan: PartitionPlan,
    pub source_start: i64,
    pub source_end: i64,
    pub target_start: i64,
    pub target_end: i64,
    pub source_log_start: i64,
    /// Source offsets from the log start to the first offset run kept (not verifiable).
    pub unmapped_before_start: u64,
    pub counts: Counts,
    pub error: Option<VerifyError>,
}

impl PartitionReport {
    /// A report with nothing verified yet (set `error` to say why).
    pub fn failed(plan: PartitionPlan) -> Self {
        Self::new(plan)
    }

    fn new(plan: PartitionPlan) -> Self {
        Self {
            plan,
            source_start: -1,
            source_end: -1,
            target_start: -1,
            target_end: -1,
            source_log_start: -1,
            unmapped_before_start: 0,
            counts: Counts::default(),
            error: None,
        }
    }
}

/// The client configurations of a flow's two sides, for reading.
#[derive(Clone)]
pub struct Readers {
    pub source: ClientConfig,
    pub target: ClientConfig,
}

impl Readers {
    pub fn new(flow: &FlowSettings) -> Self {
        use crate::kafka::{admin_config, consumer_config, ClientRole};
        Self {
            source: consumer_config(&flow.consumer, &flow.id.to_string()),
            target: admin_config(&flow.target_admin, ClientRole::TargetAdmin),
        }
    }
}

/// Verifies one partition (blocking: run it on a blocking thread).
pub fn verify_partition(
    plan: PartitionPlan,
    readers: &Readers,
    window: Window,
    throttle: &Throttle,
    progress: &Progress,
) -> PartitionReport {
    let mut report = PartitionReport::new(plan);
    if let Err(error) = run(&mut report, readers, window, throttle, progress) {
        report.error = Some(error);
    }
    report
}

fn run(
    report: &mut PartitionReport,
    readers: &Readers,
    window: Window,
    throttle: &Throttle,
    progress: &Progress,
) -> Result<(), VerifyError> {
    let plan = report.plan.clone();
    let map = RunMap::new(plan.runs.clone());
    let (Some(position), Some(first)) = (plan.next_source_offset, map.runs().first().copied())
    else {
        if plan.next_source_offset.is_some() {
            // A position and no runs: nothing was written (only gaps so far).
            return Ok(());
        }
        return Err(VerifyError::NotReplicated);
    };
    let source = consumer(Side::Source, readers.source.clone())?;
    let (log_start, high) = source
        .fetch_watermarks(&plan.tp.topic, plan.tp.partition, REQUEST_TIMEOUT)
        .map_err(|source| VerifyError::Offsets {
            side: Side::Source,
            source,
        })?;
    report.source_log_start = log_start;
    report.unmapped_before_start = (first.source_start - log_start).max(0) as u64;
    let mut start = first.source_start.max(log_start);
    let mut end = position.min(high);
    if let Some(since) = window.since_ms {
        if let Some(offset) = offset_for_time(&source, &plan.tp, since)? {
            start = start.max(offset);
        } else {
            start = end;
        }
    }
    if let Some(until) = window.until_ms {
        if let Some(offset) = offset_for_time(&source, &plan.tp, until)? {
            end = end.min(offset);
        }
    }
    end = end.max(start);
    report.source_start = start;
    report.source_end = end;
    progress
        .offsets_total
        .fetch_add((end - start) as u64, Ordering::Relaxed);
    let Some((target_start, target_end)) = map.target_range(start, end) else {
        // Nothing mapped in the range: every source record in it is missing.
        report.target_start = -1;
        report.target_end = -1;
        let mut source = PartitionReader::open(
            Side::Source,
            source,
            &plan.tp.topic,
            plan.tp.partition,
            start,
            end,
        )?;
        let mut none = std::iter::empty().peekable();
        return compare(&map, &mut source, &mut none, &mut report.counts, |_, _| {
            Ok(())
        });
    };
    report.target_start = target_start;
    report.target_end = target_end;
    let target = consumer(Side::Target, readers.target.clone())?;
    let (target_low, _) = target
        .fetch_watermarks(&plan.remote_topic, plan.tp.partition, REQUEST_TIMEOUT)
        .map_err(|source| VerifyError::Offsets {
            side: Side::Target,
            source,
        })?;
    let mut source_reader = PartitionReader::open(
        Side::Source,
        source,
        &plan.tp.topic,
        plan.tp.partition,
        start,
        end,
    )?;
    let mut target_reader = PartitionReader::open(
        Side::Target,
        target,
        &plan.remote_topic,
        plan.tp.partition,
        target_start.max(target_low),
        target_end,
    )?;
    // Throttle and progress in steps, not per record.
    const STEP: u64 = 256;
    let mut pending = (0u64, 0u64);
    let mut last_done = start;
    let result = compare(
        &map,
        &mut source_reader,
        &mut target_reader,
        &mut report.counts,
        |counts, bytes| {
            pending.0 += 1;
            pending.1 += bytes as u64;
            if pending.0 >= STEP {
                if progress.cancelled.load(Ordering::Relaxed) {
                    return Err(VerifyError::Cancelled);
                }
                throttle.take(pending.0, pending.1);
                progress
                    .records_checked
                    .fetch_add(pending.0, Ordering::Relaxed);
                let done = counts.source_offsets_done + 1;
                progress
                    .offsets_done
                    .fetch_add((done - last_done).max(0) as u64, Ordering::Relaxed);
                last_done = done.max(last_done);
                pending = (0, 0);
            }
            Ok(())
        },
    );
    progress
        .records_checked
        .fetch_add(pending.0, Ordering::Relaxed);
    progress
        .offsets_done
        .fetch_add((end - last_done).max(0) as u64, Ordering::Relaxed);
    result
}

/// The first source offset whose timestamp is at or after `ms`, `None` past the end.
fn offset_for_time(
    consumer: &Reader,
    tp: &TopicPartition,
    ms: i64,
) -> Result<Option<i64>, VerifyError> {
    let mut list = TopicPartitionList::new();
    let offsets_error = |source| VerifyError::Offsets {
        side: Side::Source,
        source,
    };
    list.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(ms))
        .map_err(offsets_error)?;
    let answer = consumer
        .offsets_for_times(list, REQUEST_TIMEOUT)
        .map_err(offsets_error)?;
    let offset = answer
        .find_partition(&tp.topic, tp.partition)
        .map(|e| e.offset());
    Ok(match offset {
        Some(Offset::Offset(o)) if o >= 0 => Some(o),
        _ => None,
    })
}
