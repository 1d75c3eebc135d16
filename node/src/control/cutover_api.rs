//! `strait.v1.Cutover`: a flow's consumer groups moved to the target in one call (the steps are
//! in [`crate::cutover`]), then their topics verified record for record (`strait.v1.Verify` on
//! this node, which asks the partitions' owners).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use strait_proto::v1::cutover_event::Event;
use strait_proto::v1::cutover_server::Cutover;
use strait_proto::v1::verify_event::Event as VerifyEventKind;
use strait_proto::v1::verify_server::Verify;
use strait_proto::v1::{
    CutoverEvent, CutoverReport, CutoverRequest, CutoverStep, GroupCutover, GroupPartitionCutover,
    TopicVerified, VerifyFlowRequest,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status};

use crate::cutover::{self, CutoverError, CutoverSpec, Outcome, StepEvent, DEFAULT_QUIET};
use crate::offsets::TranslationMethod;

use super::{request, Control, VerifyApi};

/// The longest quiet period a request may ask for.
const MAX_QUIET_SECONDS: u32 = 3_600;

pub struct CutoverApi {
    pub control: Control,
}

type Events = mpsc::Sender<Result<CutoverEvent, Status>>;

fn spec(r: &CutoverRequest) -> Result<CutoverSpec, Status> {
    let flow = request::flow("flow", &r.flow)?;
    if r.groups.is_empty() {
        return Err(request::invalid(
            "groups",
            "name at least one consumer group",
        ));
    }
    let mut groups = Vec::new();
    for (i, group) in r.groups.iter().enumerate() {
        let group = group.trim();
        if group.is_empty() {
            return Err(request::invalid(
                &format!("groups[{i}]"),
                "empty group name",
            ));
        }
        if groups.iter().any(|g| g == group) {
            return Err(request::invalid(
                &format!("groups[{i}]"),
                format!("{group:?} is named twice"),
            ));
        }
        groups.push(group.to_owned());
    }
    if r.quiet_seconds > MAX_QUIET_SECONDS {
        return Err(request::invalid(
            "quiet_seconds",
            format!("{} is more than {MAX_QUIET_SECONDS}", r.quiet_seconds),
        ));
    }
    Ok(CutoverSpec {
        flow,
        groups,
        quiet: match r.quiet_seconds {
            0 => DEFAULT_QUIET,
            s => Duration::from_secs(s.into()),
        },
        max_wait: match r.max_wait_seconds {
            0 => None,
            s => Some(Duration::from_secs(s.into())),
        },
        dry_run: r.dry_run,
    })
}

fn status(error: CutoverError) -> Status {
    let message = error.to_string();
    match error {
        CutoverError::NoCommits { .. } => Status::not_found(message),
        CutoverError::ActiveMembers { .. } | CutoverError::Untranslatable { .. } => {
            Status::failed_precondition(message)
        }
        CutoverError::NotQuiet { .. } => Status::deadline_exceeded(message),
        CutoverError::Kafka { .. } | CutoverError::Cluster { .. } => Status::unavailable(message),
        CutoverError::CallerGone => Status::cancelled(message),
    }
}

fn step(event: StepEvent) -> CutoverEvent {
    CutoverEvent {
        event: Some(Event::Step(CutoverStep {
            step: event.step.to_owned(),
            detail: event.detail,
            lag: event.lag,
        })),
    }
}

fn method(method: TranslationMethod) -> &'static str {
    match method {
        TranslationMethod::Exact => "exact",
        TranslationMethod::NextRecord => "next_record",
        TranslationMethod::CaughtUp => "caught_up",
        TranslationMethod::Ahead => "ahead",
        TranslationMethod::Uncovered => "uncovered",
        TranslationMethod::UnknownPartition => "unknown_partition",
    }
}

fn groups(outcome: &Outcome) -> Vec<GroupCutover> {
    outcome
        .groups
        .iter()
        .map(|g| GroupCutover {
            group: g.group.clone(),
            committed: g.committed,
            partitions: g
                .partitions
                .iter()
                .map(|p| GroupPartitionCutover {
                    topic: p.source.topic.clone(),
                    partition: p.source.partition,
                    remote_topic: p.remote_topic.clone(),
                    source_offset: p.source_offset,
                    target_offset: p.target_offset,
                    method: method(p.method).to_owned(),
                    replication_lag: p.replication_lag,
                    source_remaining: p.source_remaining,
                    target_remaining: p.target_remaining,
                })
                .collect(),
        })
        .collect()
}

#[tonic::async_trait]
impl Cutover for CutoverApi {
    type CutoverFlowStream = ReceiverStream<Result<CutoverEvent, Status>>;

    async fn cutover_flow(
        &self,
        request: Request<CutoverRequest>,
    ) -> Result<Response<Self::CutoverFlowStream>, Status> {
        let r = request.into_inner();
        let spec = spec(&r)?;
        let (_, settings) = self.control.flow("flow", &spec.flow)?;
        let (tx, rx) = mpsc::channel(64);
        let control = self.control.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            tracing::info!(flow = %spec.flow, groups = ?spec.groups, dry_run = spec.dry_run,
                "cutover started");
            let (steps, mut step_rx) = mpsc::channel(16);
            let forward = {
                let tx = tx.clone();
                tokio::spawn(async move {
                    while let Some(event) = step_rx.recv().await {
                        if tx.send(Ok(step(event))).await.is_err() {
                            break;
                        }
                    }
                })
            };
            let result = cutover::run(&control, &settings, &spec, &steps).await;
            drop(steps);
            let _ = forward.await;
            let outcome = match result {
                Ok(outcome) => outcome,
                Err(error) => {
                    tracing::warn!(flow = %spec.flow, %error, "cutover stopped");
                    let _ = tx.send(Err(status(error))).await;
                    return;
                }
            };
            let verify = !r.skip_verify && !outcome.dry_run;
            let (topics, verified) = if verify {
                match verify_topics(&control, &outcome, r.verify_max_bytes_per_second, &tx).await {
                    Ok(result) => result,
                    Err(status) => {
                        let _ = tx.send(Err(status)).await;
                        return;
                    }
                }
            } else {
                (Vec::new(), true)
            };
            tracing::info!(flow = %spec.flow, verified, seconds = started.elapsed().as_secs_f64(),
                dry_run = outcome.dry_run, "cutover done");
            let report = CutoverReport {
                flow: outcome.flow.to_string(),
                dry_run: outcome.dry_run,
                paused: outcome.paused,
                groups: groups(&outcome),
                topics,
                verified,
                verification_skipped: !verify,
                seconds: started.elapsed().as_secs_f64(),
            };
            let _ = tx
                .send(Ok(CutoverEvent {
                    event: Some(Event::Report(report)),
                }))
                .await;
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

/// The groups' topics verified through `strait.v1.Verify`, summed per topic.
async fn verify_topics(
    control: &Control,
    outcome: &Outcome,
    max_bytes_per_second: u64,
    tx: &Events,
) -> Result<(Vec<TopicVerified>, bool), Status> {
    let say = |s: &'static str, detail: String| {
        tx.send(Ok(step(StepEvent {
            step: s,
            detail,
            lag: 0,
        })))
    };
    let _ = say(
        "verifying",
        format!("verifying {} topic(s)", outcome.topics.len()),
    )
    .await;
    let api = VerifyApi {
        control: control.clone(),
    };
    let mut stream = api
        .verify_flow(Request::new(VerifyFlowRequest {
            flow: outcome.flow.to_string(),
            topics: outcome.topics.clone(),
            since_ms: 0,
            until_ms: 0,
            max_records_per_second: 0,
            max_bytes_per_second,
            local_only: false,
            partitions: Vec::new(),
        }))
        .await?
        .into_inner();
    let mut topics: BTreeMap<String, TopicVerified> = BTreeMap::new();
    while let Some(event) = stream.next().await {
        let Some(VerifyEventKind::Partition(p)) = event?.event else {
            continue;
        };
        let t = topics
            .entry(p.topic.clone())
            .or_insert_with(|| TopicVerified {
                topic: p.topic.clone(),
                remote_topic: p.remote_topic.clone(),
                ..Default::default()
            });
        t.partitions += 1;
        t.source_records += p.source_records;
        t.matched += p.matched;
        t.mismatches += p.mismatches;
        t.unverified_partitions += u32::from(!p.error.is_empty());
    }
    let topics: Vec<TopicVerified> = topics.into_values().collect();
    let verified = topics
        .iter()
        .all(|t| t.mismatches == 0 && t.unverified_partitions == 0);
    let _ = say(
        "verified",
        if verified {
            "every record of the groups' topics is on the target".to_owned()
        } else {
            "verification found mismatches or unverified partitions".to_owned()
        },
    )
    .await;
    Ok((topics, verified))
}
