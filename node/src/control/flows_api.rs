//! `strait.v1.Flows`: the cluster's flows, paused and resumed.

use std::collections::BTreeMap;

use strait_config::FlowSettings;
use strait_coordinator::state::{ClusterState, Command, Throttle};
use strait_coordinator::{FlowId, ReplicationPolicy};
use strait_proto::v1::flows_server::Flows;
use strait_proto::v1::{
    Flow, FlowTopic, GetFlowRequest, GetFlowResponse, ListFlowsRequest, ListFlowsResponse,
    PauseFlowRequest, PauseFlowResponse, ResumeFlowRequest, ResumeFlowResponse,
    SetFlowThrottleRequest, SetFlowThrottleResponse,
};
use tonic::{Request, Response, Status};

use super::request::{self, applied, unavailable};
use super::Control;

pub struct FlowsApi {
    pub control: Control,
}

/// A flow as the API shows it; `with_topics` adds each topic.
fn flow(settings: &FlowSettings, state: &ClusterState, with_topics: bool) -> Flow {
    let mut topics: BTreeMap<&str, FlowTopic> = BTreeMap::new();
    let mut partitions = 0;
    let mut unowned = 0;
    for (key, info) in state.partitions().filter(|(k, _)| k.flow == settings.id) {
        partitions += 1;
        if info.owner.is_none() {
            unowned += 1;
        }
        let topic = topics.entry(&key.tp.topic).or_insert_with(|| FlowTopic {
            topic: key.tp.topic.clone(),
            remote_topic: info.remote_topic.clone(),
            partitions: 0,
        });
        topic.partitions = topic.partitions.max(key.tp.partition + 1);
    }
    let (policy, separator) = match &settings.replication_policy {
        ReplicationPolicy::Identity => ("identity", String::new()),
        ReplicationPolicy::Default { separator } => ("default", separator.clone()),
    };
    let operator = state.throttle(&settings.id);
    let limit = crate::replication::throttle::cluster_limit(state, settings);
    Flow {
        max_records_per_second: limit.records_per_second,
        max_bytes_per_second: limit.bytes_per_second,
        throttle_source: if operator.is_some() {
            "operator"
        } else {
            "config"
        }
        .to_owned(),
        name: settings.id.to_string(),
        source: settings.id.source.to_string(),
        target: settings.id.target.to_string(),
        paused: state.is_paused(&settings.id),
        topics_include: settings.topics.include_patterns().to_vec(),
        topics_exclude: settings.topics.exclude_patterns().to_vec(),
        replication_policy: policy.to_owned(),
        separator,
        topic_count: topics.len() as u32,
        partition_count: partitions,
        unowned_partitions: unowned,
        topics: if with_topics {
            topics.into_values().collect()
        } else {
            Vec::new()
        },
    }
}

impl FlowsApi {
    async fn set_paused(&self, name: &str, paused: bool) -> Result<Flow, Status> {
        let id: FlowId = request::flow("flow", name)?;
        self.control.flow("flow", &id)?;
        let outcome = self
            .control
            .raft
            .propose(Command::SetFlowPaused {
                flow: id.clone(),
                paused,
            })
            .await
            .map_err(unavailable)?;
        applied(outcome)?;
        let (state, settings) = self.control.flow("flow", &id)?;
        Ok(flow(&settings, &state, false))
    }

    async fn set_throttle(&self, r: SetFlowThrottleRequest) -> Result<Flow, Status> {
        let id: FlowId = request::flow("flow", &r.flow)?;
        if r.clear && (r.max_records_per_second > 0 || r.max_bytes_per_second > 0) {
            return Err(request::invalid(
                "clear",
                "clear gives the flow back to its configured limit: give no rates with it",
            ));
        }
        self.control.flow("flow", &id)?;
        let throttle = (!r.clear).then_some(Throttle {
            records_per_second: r.max_records_per_second,
            bytes_per_second: r.max_bytes_per_second,
        });
        let outcome = self
            .control
            .raft
            .propose(Command::SetFlowThrottle {
                flow: id.clone(),
                throttle,
            })
            .await
            .map_err(unavailable)?;
        applied(outcome)?;
        tracing::info!(flow = %id, ?throttle, "flow rate limit set by an operator");
        let (state, settings) = self.control.flow("flow", &id)?;
        Ok(flow(&settings, &state, false))
    }
}

#[tonic::async_trait]
impl Flows for FlowsApi {
    async fn list_flows(
        &self,
        _request: Request<ListFlowsRequest>,
    ) -> Result<Response<ListFlowsResponse>, Status> {
        let (state, flows) = self.control.flows()?;
        Ok(Response::new(ListFlowsResponse {
            flows: flows.iter().map(|f| flow(f, &state, false)).collect(),
        }))
    }

    async fn get_flow(
        &self,
        request: Request<GetFlowRequest>,
    ) -> Result<Response<GetFlowResponse>, Status> {
        let id = request::flow("flow", &request.into_inner().flow)?;
        let (state, settings) = self.control.flow("flow", &id)?;
        Ok(Response::new(GetFlowResponse {
            flow: Some(flow(&settings, &state, true)),
        }))
    }

    async fn pause_flow(
        &self,
        request: Request<PauseFlowRequest>,
    ) -> Result<Response<PauseFlowResponse>, Status> {
        let flow = self.set_paused(&request.into_inner().flow, true).await?;
        Ok(Response::new(PauseFlowResponse { flow: Some(flow) }))
    }

    async fn resume_flow(
        &self,
        request: Request<ResumeFlowRequest>,
    ) -> Result<Response<ResumeFlowResponse>, Status> {
        let flow = self.set_paused(&request.into_inner().flow, false).await?;
        Ok(Response::new(ResumeFlowResponse { flow: Some(flow) }))
    }

    async fn set_flow_throttle(
        &self,
        request: Request<SetFlowThrottleRequest>,
    ) -> Result<Response<SetFlowThrottleResponse>, Status> {
        let flow = self.set_throttle(request.into_inner()).await?;
        Ok(Response::new(SetFlowThrottleResponse { flow: Some(flow) }))
    }
}
