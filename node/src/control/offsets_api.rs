//! `strait.v1.Offsets`: translating consumer offsets from the source to the target.

use std::time::Duration;

use strait_coordinator::TopicPartition;
use strait_proto::v1::offsets_server::Offsets;
use strait_proto::v1::{TranslateOffsetsRequest, TranslateOffsetsResponse, TranslatedOffset};
use tonic::{Request, Response, Status};

use crate::offsets::groups::GroupClient;
use crate::offsets::translate::flow_partitions;
use crate::offsets::{translate_offsets, TranslationMethod};

/// How long reading a group's committed offsets on the source may take.
const GROUP_TIMEOUT: Duration = Duration::from_secs(10);

use super::request;
use super::Control;

pub struct OffsetsApi {
    pub control: Control,
}

#[tonic::async_trait]
impl Offsets for OffsetsApi {
    async fn translate_offsets(
        &self,
        request: Request<TranslateOffsetsRequest>,
    ) -> Result<Response<TranslateOffsetsResponse>, Status> {
        let r = request.into_inner();
        let flow = request::flow("flow", &r.flow)?;
        match (r.group.trim().is_empty(), r.offsets.is_empty()) {
            (true, true) => {
                return Err(request::invalid(
                    "group",
                    "name a consumer group, or list offsets",
                ))
            }
            (false, false) => {
                return Err(request::invalid(
                    "offsets",
                    "give either a group or offsets, not both",
                ))
            }
            _ => {}
        }
        for (i, o) in r.offsets.iter().enumerate() {
            request::topic(&format!("offsets[{i}].topic"), &o.topic)?;
            request::partition(&format!("offsets[{i}].partition"), o.partition)?;
            if o.offset < 0 {
                return Err(request::invalid(
                    &format!("offsets[{i}].offset"),
                    format!("{} is negative", o.offset),
                ));
            }
        }
        let (state, settings) = self.control.flow("flow", &flow)?;
        let offsets: Vec<(TopicPartition, i64)> = if r.offsets.is_empty() {
            let group = r.group.trim().to_owned();
            let partitions = flow_partitions(&state, &flow);
            let props = settings.source_admin.clone();
            let asked = group.clone();
            let committed = tokio::task::spawn_blocking(move || {
                GroupClient::new(&props, GROUP_TIMEOUT)?.committed(&asked, &partitions)
            })
            .await
            .map_err(|e| Status::internal(format!("group lookup failed: {e}")))?
            .map_err(|e| {
                Status::unavailable(format!(
                    "cannot read group {group:?}'s committed offsets on {}: {e}",
                    flow.source
                ))
            })?;
            if committed.is_empty() {
                return Err(Status::not_found(format!(
                    "group: {group:?} has no committed offsets on {} for the partitions flow {flow} \
                     replicates",
                    flow.source
                )));
            }
            committed
        } else {
            r.offsets
                .iter()
                .map(|o| (TopicPartition::new(o.topic.clone(), o.partition), o.offset))
                .collect()
        };
        let offsets = translate_offsets(&state, &flow, &offsets)
            .into_iter()
            .map(|t| TranslatedOffset {
                topic: t.source.topic.clone(),
                partition: t.source.partition,
                source_offset: t.source_offset,
                remote_topic: t.remote_topic.unwrap_or_default(),
                target_offset: t.target_offset.unwrap_or(-1),
                exact: matches!(
                    t.method,
                    TranslationMethod::Exact
                        | TranslationMethod::NextRecord
                        | TranslationMethod::CaughtUp
                ),
                method: match t.method {
                    TranslationMethod::Exact => "exact",
                    TranslationMethod::NextRecord => "next_record",
                    TranslationMethod::CaughtUp => "caught_up",
                    TranslationMethod::Ahead => "ahead",
                    TranslationMethod::Uncovered => "uncovered",
                    TranslationMethod::UnknownPartition => "unknown_partition",
                }
                .to_owned(),
            })
            .collect();
        Ok(Response::new(TranslateOffsetsResponse { offsets }))
    }
}
