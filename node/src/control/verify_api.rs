//! `strait.v1.Verify`: source and target compared record for record, each partition by the node
//! that owns it.
//!
//! The node asked plans the flow's partitions from its applied state, verifies the ones it owns
//! (and unowned ones, or ones whose owner is not alive) and asks every other owner for theirs
//! with `local_only` (a stream each, merged into the caller's). Every node reads its partitions in
//! parallel ([`PARALLEL_PARTITIONS`] at once) under the request's records/s and bytes/s limits.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use strait_coordinator::NodeId;
use strait_proto::v1::verify_client::VerifyClient;
use strait_proto::v1::verify_event::Event;
use strait_proto::v1::verify_server::Verify;
use strait_proto::v1::{
    PartitionVerification, VerifyEvent, VerifyFlowRequest, VerifyMismatch, VerifyPartitionRef,
    VerifyProgress,
};
use tokio::sync::{mpsc, Semaphore};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::verify::{
    verify_partition, PartitionPlan, PartitionReport, Progress, Readers, Throttle, Window,
};

use super::{request, Control};

/// Partitions one node reads at once (two consumers each).
pub const PARALLEL_PARTITIONS: usize = 4;
/// How often a node reports its progress.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

pub struct VerifyApi {
    pub control: Control,
}

type Events = mpsc::Sender<Result<VerifyEvent, Status>>;

#[tonic::async_trait]
impl Verify for VerifyApi {
    type VerifyFlowStream = ReceiverStream<Result<VerifyEvent, Status>>;

    async fn verify_flow(
        &self,
        request: Request<VerifyFlowRequest>,
    ) -> Result<Response<Self::VerifyFlowStream>, Status> {
        let r = request.into_inner();
        let flow = request::flow("flow", &r.flow)?;
        let mut topics = Vec::new();
        for (i, topic) in r.topics.iter().enumerate() {
            topics.push(request::topic(&format!("topics[{i}]"), topic)?);
        }
        let window = window(&r)?;
        let (state, settings) = self.control.flow("flow", &flow)?;
        let mut plans = crate::verify::plan(&state, &flow, &topics);
        for topic in &topics {
            if !plans.iter().any(|p| &p.tp.topic == topic) {
                return Err(Status::not_found(format!(
                    "topics: flow {flow} replicates no topic {topic:?} (yet)"
                )));
            }
        }
        let me = self.control.node_id;
        let mut remote: BTreeMap<NodeId, Vec<PartitionPlan>> = BTreeMap::new();
        if r.local_only {
            let asked: Vec<(String, i32)> = r
                .partitions
                .iter()
                .map(|p| (p.topic.clone(), p.partition))
                .collect();
            plans.retain(|p| asked.contains(&(p.tp.topic.clone(), p.tp.partition)));
        } else {
            let mut local = Vec::new();
            for plan in plans {
                match plan.owner {
                    Some(owner) if owner != me && state.is_live(owner) => {
                        remote.entry(owner).or_default().push(plan)
                    }
                    _ => local.push(plan),
                }
            }
            plans = local;
        }
        let (tx, rx) = mpsc::channel(256);
        let readers = Readers::new(&settings);
        let throttle = Arc::new(Throttle::new(
            Some(r.max_records_per_second),
            Some(r.max_bytes_per_second),
        ));
        tracing::info!(%flow, local = plans.len(), remote_nodes = remote.len(),
            records_per_second = r.max_records_per_second,
            bytes_per_second = r.max_bytes_per_second, "verification started");
        for (node, plans) in remote {
            let address = state
                .node(node)
                .map(|n| n.address.clone())
                .unwrap_or_default();
            let forwarded = VerifyFlowRequest {
                local_only: true,
                partitions: plans
                    .iter()
                    .map(|p| VerifyPartitionRef {
                        topic: p.tp.topic.clone(),
                        partition: p.tp.partition,
                    })
                    .collect(),
                ..r.clone()
            };
            tokio::spawn(ask_owner(
                self.control.clone(),
                node,
                address,
                forwarded,
                plans,
                tx.clone(),
            ));
        }
        tokio::spawn(verify_here(me, plans, readers, window, throttle, tx));
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

fn window(r: &VerifyFlowRequest) -> Result<Window, Status> {
    if r.since_ms < 0 {
        return Err(request::invalid("since_ms", "must not be negative"));
    }
    if r.until_ms < 0 {
        return Err(request::invalid("until_ms", "must not be negative"));
    }
    if r.since_ms > 0 && r.until_ms > 0 && r.until_ms <= r.since_ms {
        return Err(request::invalid("until_ms", "must be after since_ms"));
    }
    Ok(Window {
        since_ms: (r.since_ms > 0).then_some(r.since_ms),
        until_ms: (r.until_ms > 0).then_some(r.until_ms),
    })
}

/// Verifies `plans` on this node, [`PARALLEL_PARTITIONS`] at a time, reporting progress.
async fn verify_here(
    me: NodeId,
    plans: Vec<PartitionPlan>,
    readers: Readers,
    window: Window,
    throttle: Arc<Throttle>,
    tx: Events,
) {
    if plans.is_empty() {
        return;
    }
    let progress = Arc::new(Progress::default());
    let slots = Arc::new(Semaphore::new(PARALLEL_PARTITIONS));
    let mut tasks = tokio::task::JoinSet::new();
    for plan in plans {
        let (readers, throttle, progress, slots) = (
            readers.clone(),
            throttle.clone(),
            progress.clone(),
            slots.clone(),
        );
        tasks.spawn(async move {
            let Ok(_slot) = slots.acquire_owned().await else {
                return None;
            };
            let fallback = plan.clone();
            match tokio::task::spawn_blocking(move || {
                verify_partition(plan, &readers, window, &throttle, &progress)
            })
            .await
            {
                Ok(report) => Some(report),
                Err(e) => {
                    let mut report = PartitionReport::failed(fallback);
                    report.error = Some(crate::verify::VerifyError::Task(e.to_string()));
                    Some(report)
                }
            }
        });
    }
    let mut tick = tokio::time::interval(PROGRESS_EVERY);
    let progress_event = |progress: &Progress| VerifyEvent {
        event: Some(Event::Progress(VerifyProgress {
            node_id: me,
            records_checked: progress.records_checked.load(Ordering::Relaxed),
            offsets_total: progress.offsets_total.load(Ordering::Relaxed),
            offsets_done: progress.offsets_done.load(Ordering::Relaxed),
        })),
    };
    loop {
        tokio::select! {
            _ = tx.closed() => {
                progress.cancelled.store(true, Ordering::Relaxed);
                return;
            }
            _ = tick.tick() => {
                if tx.send(Ok(progress_event(&progress))).await.is_err() {
                    progress.cancelled.store(true, Ordering::Relaxed);
                    return;
                }
            }
            done = tasks.join_next() => {
                let Some(done) = done else { break };
                let Ok(Some(report)) = done else { continue };
                log_report(&report);
                let event = VerifyEvent { event: Some(Event::Partition(to_proto(me, &report))) };
                if tx.send(Ok(event)).await.is_err() {
                    progress.cancelled.store(true, Ordering::Relaxed);
                    return;
                }
            }
        }
    }
    let _ = tx.send(Ok(progress_event(&progress))).await;
}

fn log_report(report: &PartitionReport) {
    let plan = &report.plan;
    let c = &report.counts;
    match &report.error {
        Some(error) => tracing::warn!(flow = %plan.flow, partition = %plan.tp, %error,
            retriable = error.retriable(), "partition not verified"),
        None => tracing::info!(flow = %plan.flow, partition = %plan.tp,
            source_start = report.source_start, source_end = report.source_end,
            records = c.source_records, matched = c.matched, mismatches = c.mismatches,
            source_gone = c.source_gone, replayed = c.replayed, "partition verified"),
    }
}

/// Asks `node` to verify `plans` and forwards its events; when it cannot, each of its partitions
/// is reported unverified with the reason.
async fn ask_owner(
    control: Control,
    node: NodeId,
    address: String,
    forwarded: VerifyFlowRequest,
    plans: Vec<PartitionPlan>,
    tx: Events,
) {
    let mut seen: Vec<(String, i32)> = Vec::new();
    let failure = match stream_from(&control, node, &address, forwarded, &tx, &mut seen).await {
        Ok(()) => "the node ended its stream without it".to_owned(),
        Err(e) => e,
    };
    for plan in plans {
        if seen.contains(&(plan.tp.topic.clone(), plan.tp.partition)) {
            continue;
        }
        let mut report = PartitionReport::failed(plan);
        report.error = Some(crate::verify::VerifyError::Task(format!(
            "node {node} at {address}: {failure}"
        )));
        let event = VerifyEvent {
            event: Some(Event::Partition(to_proto(node, &report))),
        };
        if tx.send(Ok(event)).await.is_err() {
            return;
        }
    }
}

async fn stream_from(
    control: &Control,
    node: NodeId,
    address: &str,
    forwarded: VerifyFlowRequest,
    tx: &Events,
    seen: &mut Vec<(String, i32)>,
) -> Result<(), String> {
    let channel = control
        .peer_channel(node, address)
        .map_err(|s| s.message().to_owned())?;
    let mut request = Request::new(forwarded);
    if let Some(token) = &control.token {
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|_| "the control token is not a header value".to_owned())?;
        request.metadata_mut().insert("authorization", value);
    }
    let mut stream = VerifyClient::new(channel)
        .verify_flow(request)
        .await
        .map_err(|s| s.message().to_owned())?
        .into_inner();
    loop {
        match stream.message().await {
            Ok(Some(event)) => {
                if let Some(Event::Partition(p)) = &event.event {
                    seen.push((p.topic.clone(), p.partition));
                }
                if tx.send(Ok(event)).await.is_err() {
                    return Ok(());
                }
            }
            Ok(None) => return Ok(()),
            Err(status) => return Err(status.message().to_owned()),
        }
    }
}

fn to_proto(node: NodeId, report: &PartitionReport) -> PartitionVerification {
    let c = &report.counts;
    let plan = &report.plan;
    PartitionVerification {
        flow: plan.flow.to_string(),
        topic: plan.tp.topic.clone(),
        partition: plan.tp.partition,
        remote_topic: plan.remote_topic.clone(),
        node_id: node,
        source_start: report.source_start,
        source_end: report.source_end,
        target_start: report.target_start,
        target_end: report.target_end,
        source_records: c.source_records,
        matched: c.matched,
        source_gone: c.source_gone,
        replayed: c.replayed,
        unmapped_before_start: report.unmapped_before_start,
        mismatches: c.mismatches,
        first_mismatch: c.first_mismatch.as_ref().map(|m| VerifyMismatch {
            kind: m.kind.as_str().to_owned(),
            source_offset: m.source_offset.unwrap_or(-1),
            target_offset: m.target_offset.unwrap_or(-1),
            fields: m.fields.iter().map(|f| f.as_str().to_owned()).collect(),
            source_timestamp_ms: m.source_timestamp_ms.unwrap_or(-1),
            target_timestamp_ms: m.target_timestamp_ms.unwrap_or(-1),
        }),
        error: report
            .error
            .as_ref()
            .map(|e| e.to_string())
            .unwrap_or_default(),
        source_log_start: report.source_log_start,
    }
}
