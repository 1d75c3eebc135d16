//! Starting this node's part of the cluster: check that the data dir is this node's, start the Raft
//! task and the gRPC server on their own runtime, and either restart from the Raft state in the
//! data dir, bootstrap a new cluster from the peer list, or join a running one through any member.
//! A data dir without Raft state is only bootstrapped or joined once the other nodes confirm this
//! node never took part in their cluster (see [`super::find`]); `--rejoin` removes the old
//! membership, discards the local Raft state, and joins anew.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use strait_config::{ClusterMembership, Settings};
use strait_coordinator::raft::{self, RaftHandle, RaftOptions};
use strait_coordinator::NodeId;
use strait_proto::raft::v1::raft_transport_client::RaftTransportClient;
use strait_proto::raft::v1::raft_transport_server::RaftTransportServer;
use strait_proto::raft::v1::JoinRequest;
use strait_storage::{StorageError, Store};
use thiserror::Error;
use tokio::sync::oneshot;

use super::find::{self, Answer, Finding, ForgetFailed};
use super::server::{HeardFrom, RaftService};
use super::transport::{GrpcTransport, MAX_MESSAGE_BYTES};
use crate::replication::status::NodeStatus;
use strait_proto::v1::cluster_server::ClusterServer;
use strait_proto::v1::config_server::ConfigServer;
use strait_proto::v1::cutover_server::CutoverServer;
use strait_proto::v1::flows_server::FlowsServer;
use strait_proto::v1::offsets_server::OffsetsServer;
use strait_proto::v1::partitions_server::PartitionsServer;
use strait_proto::v1::status_server::StatusServer;
use strait_proto::v1::verify_server::VerifyServer;

use crate::control::{
    bearer, BearerAuth, ClusterApi, ConfigApi, Control, CutoverApi, FlowsApi, OffsetsApi,
    PartitionsApi, StatusApi, VerifyApi,
};

/// How long a joining node keeps asking its contact before giving up.
const JOIN_DEADLINE: Duration = Duration::from_secs(60);

#[derive(Debug, Error)]
pub enum ClusterError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(
        "the data dir {} belongs to node {found_node} of cluster {found_cluster:?}, but this node \
         is configured as node {node} of cluster {cluster:?}: refusing to start. Point data_dir \
         at node {node}'s own data dir (a relative data_dir is read from the config file's \
         directory), or give it an empty one (as a new node, or with --rejoin if cluster \
         {cluster:?} knows node {node}); --rejoin never takes over another node's data dir",
        data_dir.display()
    )]
    ForeignDataDir {
        data_dir: std::path::PathBuf,
        found_node: NodeId,
        found_cluster: String,
        node: NodeId,
        cluster: String,
    },
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot use the TLS certificate or key of [cluster.tls]: {0}")]
    Tls(String),
    #[error("cannot join the cluster through {address}: {reason}")]
    Join { address: String, reason: String },
    /// This node's data dir has no Raft state, yet the running cluster knows it as a member.
    #[error(
        "node {node} has no Raft state in its data dir {}, but cluster {cluster:?} already runs \
         with node {node} as a member ({evidence}; answered by {answered_by}). Starting it as new would \
         forget its term, vote and log: it could vote twice in one term and help elect two \
         leaders. If its data dir is elsewhere, point data_dir at it (a relative data_dir is \
         read from the config file's directory). If its Raft state is lost, start it once with \
         `strait node --config FILE --rejoin`: the cluster removes node {node} and adds it back \
         as a new member",
        data_dir.display()
    )]
    LostRaftState {
        node: NodeId,
        cluster: String,
        data_dir: std::path::PathBuf,
        evidence: String,
        answered_by: String,
    },
    /// This node's data dir has no Raft state, it is configured to bootstrap, and the cluster
    /// already runs without it.
    #[error(
        "node {node} has no Raft state in its data dir {}, and cluster {cluster:?} already runs \
         without it (answered by {answered_by}): bootstrapping from `peers` would not make it a member. Set \
         `join` to a member's address to join as a new node, or start it once with \
         `strait node --config FILE --rejoin`",
        data_dir.display()
    )]
    NotAMember {
        node: NodeId,
        cluster: String,
        data_dir: std::path::PathBuf,
        answered_by: String,
    },
    /// The node was removed from the cluster (`strait leave`, `remove-node`) and started on its
    /// old membership: the message says how to rejoin.
    #[error("refusing to run: {0}")]
    Removed(String),
    /// `--rejoin` could not get the old membership removed.
    #[error("cannot rejoin cluster {cluster:?}: {reason}")]
    Rejoin { cluster: String, reason: String },
    #[error("cannot start raft: {0}")]
    Raft(#[from] ::raft::Error),
    #[error("cannot start the cluster runtime: {0}")]
    Runtime(std::io::Error),
    /// The Raft task ended while the node ran: it can no longer take part in the cluster.
    #[error("the raft task stopped: {0}")]
    RaftStopped(String),
}

/// The cluster side of a running node. Dropping it stops the Raft task and the gRPC server.
pub struct RunningCluster {
    pub raft: RaftHandle,
    pub node_id: NodeId,
    pub liveness_timeout: Duration,
    pub position_interval: Duration,
    runtime: Option<tokio::runtime::Runtime>,
    /// Why the Raft task ended, sent if it does while the runtime runs.
    raft_stopped: Option<oneshot::Receiver<ClusterError>>,
    /// For asking the others whether this node is still a member.
    membership: ClusterMembership,
    client_tls: Option<tonic::transport::ClientTlsConfig>,
}

impl RunningCluster {
    /// Resolves once this node is known to be removed from the cluster (see
    /// [`removal`](super::removal)): it must then stop.
    pub fn removal(&self) -> impl Future<Output = super::Removal> + Send + 'static {
        super::removal::watch(
            self.raft.clone(),
            self.membership.clone(),
            self.client_tls.clone(),
        )
    }

    /// Resolves if the Raft task ends while the node runs (a fatal error: it could not persist, or
    /// could not read what the others applied), with why. The node must then exit: it would run
    /// fenced, and keep its partitions in the cluster's eyes, for as long as it lives. Never
    /// resolves when taken twice, or once the cluster is shut down.
    pub fn raft_stopped(&mut self) -> impl Future<Output = ClusterError> + Send + 'static {
        let stopped = self.raft_stopped.take();
        async move {
            match stopped {
                Some(stopped) => match stopped.await {
                    Ok(error) => error,
                    Err(_) => std::future::pending().await,
                },
                None => std::future::pending().await,
            }
        }
    }

    /// Stops the Raft task and the server without waiting for in-flight RPCs.
    pub fn shutdown(mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

impl Drop for RunningCluster {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// How this node takes its place in the cluster.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StartOptions {
    /// `strait node --rejoin`: have the cluster remove this node's old membership, discard the
    /// Raft state in the data dir, and join again as a new member.
    pub rejoin: bool,
}

pub fn start(
    settings: Arc<Settings>,
    store: &Store,
    status: NodeStatus,
    options: StartOptions,
) -> Result<RunningCluster, ClusterError> {
    let config: &ClusterMembership = &settings.cluster;
    let data_dir = settings.node.data_dir.as_path();
    let log = store.raft()?;
    match log.node_identity()? {
        Some((node, cluster)) if node != config.node_id || cluster != config.cluster_id => {
            return Err(ClusterError::ForeignDataDir {
                data_dir: data_dir.to_owned(),
                found_node: node,
                found_cluster: cluster,
                node: config.node_id,
                cluster: config.cluster_id.clone(),
            });
        }
        Some(_) => {}
        None => log.set_node_identity(config.node_id, &config.cluster_id)?,
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("strait-cluster")
        .enable_all()
        .build()
        .map_err(ClusterError::Runtime)?;
    let client_tls = config.tls.as_ref().map(super::tls::node_client_config);
    let transport = GrpcTransport::new(
        config.cluster_id.clone(),
        config.node_id,
        runtime.handle().clone(),
        status.clone(),
        client_tls.clone(),
    );
    for peer in &config.peers {
        transport.set_address(peer.id, &peer.address);
    }

    // Where this node joins through, when it joins rather than restarts or bootstraps.
    let tls = client_tls.as_ref();
    let join_contact = if options.rejoin {
        let contact = runtime.block_on(forget_old_membership(config, tls))?;
        let (term, vote, commit, last_index) = raft_summary(&log)?;
        log.reset()?;
        log.sync()?;
        tracing::warn!(term, vote, commit, last_index, data_dir = %data_dir.display(),
            "--rejoin: discarded this node's raft state; joining as a new member");
        Some(contact)
    } else if log.is_initialized() {
        let (term, vote, commit, last_index) = raft_summary(&log)?;
        tracing::info!(term, vote, commit, last_index, data_dir = %data_dir.display(),
            "restarting from this node's raft state");
        None
    } else if let Some(contact) = &config.join {
        let contact_id = runtime.block_on(check_new_joiner(config, contact, data_dir, tls))?;
        // This node learns the others' addresses from the join's answer, which needs a quorum:
        // where it is one of two voters (an operator added it), the contact's leader can only
        // win one with this node's vote, which must reach it.
        transport.set_address(contact_id, contact);
        Some(contact.clone())
    } else {
        runtime.block_on(check_new_founder(config, data_dir, tls))?;
        let mut voters: Vec<NodeId> = config.peers.iter().map(|p| p.id).collect();
        if voters.is_empty() {
            voters.push(config.node_id);
        }
        log.bootstrap(&voters)?;
        tracing::info!(?voters, cluster_id = %config.cluster_id, "bootstrapped a new cluster");
        None
    };

    let mut raft_options = RaftOptions::new(config.node_id, config.advertise.clone());
    raft_options.liveness_timeout = config.liveness_timeout;
    let (handle, task) = {
        let _guard = runtime.enter();
        raft::spawn(raft_options, log, transport.clone())?
    };
    let (stopped_tx, raft_stopped) = oneshot::channel();
    runtime.spawn(async move {
        let reason = match task.await {
            Ok(Ok(())) => "every handle on it was dropped".to_owned(),
            Ok(Err(error)) => error.to_string(),
            Err(error) if error.is_cancelled() => return,
            Err(error) => format!("it panicked: {error}"),
        };
        let _ = stopped_tx.send(ClusterError::RaftStopped(reason));
    });

    let mut server = tonic::transport::Server::builder();
    if let Some(tls) = &config.tls {
        server = server
            .tls_config(super::tls::server_config(tls))
            .map_err(|e| ClusterError::Tls(error_chain(&e)))?;
    }
    let health_listener = match config.health_listen {
        None => None,
        Some(address) => Some(
            runtime
                .block_on(tokio::net::TcpListener::bind(address))
                .map_err(|source| ClusterError::Listen { address, source })?,
        ),
    };

    // The server must answer before a join: the leader talks to a new voter right away.
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(config.listen))
        .map_err(|source| ClusterError::Listen {
            address: config.listen,
            source,
        })?;
    let auth = BearerAuth::new(config.control_token.as_deref());
    let service = RaftService {
        cluster_id: config.cluster_id.clone(),
        raft: handle.clone(),
        auth: auth.clone(),
        require_peer_cert: config.tls.is_some(),
        liveness_timeout: config.liveness_timeout,
        heard: HeardFrom::default(),
    };
    let control = Control {
        raft: handle.clone(),
        node_id: config.node_id,
        cluster_id: config.cluster_id.clone(),
        own: settings.clone(),
        status,
        token: config.control_token.clone(),
        peers: Default::default(),
        peer_tls: client_tls.clone(),
    };
    // Server reflection (v1, and v1alpha for grpcurl 1.8) so that grpcurl needs no .proto files.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(strait_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection()
        .build_v1()
        .expect("the embedded descriptor sets are valid");
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .expect("the embedded descriptor sets are valid");
    let (health, health_service) = tonic_health::server::health_reporter();
    runtime.spawn(report_health(
        health,
        handle.clone(),
        config.liveness_timeout,
    ));
    if let Some(listener) = health_listener {
        let address = listener.local_addr().ok().or(config.health_listen);
        let health_service = health_service.clone();
        runtime.spawn(async move {
            let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
            if let Err(error) = tonic::transport::Server::builder()
                .add_service(health_service)
                .serve_with_incoming(incoming)
                .await
            {
                tracing::error!(%error, "health server stopped");
            }
        });
        if let Some(address) = address {
            tracing::info!(listen = %address, "plaintext health service listening");
        }
    }
    runtime.spawn(async move {
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        if let Err(error) = server
            .add_service(
                RaftTransportServer::new(service).max_decoding_message_size(MAX_MESSAGE_BYTES),
            )
            .add_service(StatusServer::with_interceptor(
                StatusApi {
                    control: control.clone(),
                },
                auth.clone(),
            ))
            .add_service(ClusterServer::with_interceptor(
                ClusterApi {
                    control: control.clone(),
                },
                auth.clone(),
            ))
            .add_service(ConfigServer::with_interceptor(
                ConfigApi {
                    control: control.clone(),
                },
                auth.clone(),
            ))
            .add_service(FlowsServer::with_interceptor(
                FlowsApi {
                    control: control.clone(),
                },
                auth.clone(),
            ))
            .add_service(PartitionsServer::with_interceptor(
                PartitionsApi {
                    control: control.clone(),
                },
                auth.clone(),
            ))
            .add_service(OffsetsServer::with_interceptor(
                OffsetsApi {
                    control: control.clone(),
                },
                auth.clone(),
            ))
            .add_service(VerifyServer::with_interceptor(
                VerifyApi {
                    control: control.clone(),
                },
                auth.clone(),
            ))
            .add_service(CutoverServer::with_interceptor(
                CutoverApi { control },
                auth,
            ))
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .serve_with_incoming(incoming)
            .await
        {
            tracing::error!(%error, "grpc server stopped");
        }
    });
    tracing::info!(node_id = config.node_id, listen = %config.listen,
        advertise = %config.advertise, tls = config.tls.is_some(), "cluster transport listening");

    if let Some(contact) = &join_contact {
        runtime.block_on(join(config, contact, &transport, client_tls.as_ref()))?;
        if options.rejoin {
            tracing::info!(%contact, node_id = config.node_id, "rejoined the cluster as a new member");
        }
    }

    // Keep peer addresses in step with the cluster state (nodes register their addresses).
    let mut states = handle.watch_state();
    let addresses = transport.clone();
    runtime.spawn(async move {
        loop {
            let state = states.borrow_and_update().clone();
            for (node, info) in state.nodes() {
                addresses.set_address(*node, &info.address);
            }
            if states.changed().await.is_err() {
                return;
            }
        }
    });

    Ok(RunningCluster {
        raft: handle,
        node_id: config.node_id,
        liveness_timeout: config.liveness_timeout,
        position_interval: config.position_interval,
        runtime: Some(runtime),
        raft_stopped: Some(raft_stopped),
        membership: config.clone(),
        client_tls,
    })
}

/// `grpc.health.v1.Health`: SERVING (overall and for `strait.v1.Status`) while this node holds its
/// lease in the cluster (its state confirmed current by a quorum), NOT_SERVING otherwise: what a
/// readiness probe wants.
async fn report_health(
    health: tonic_health::server::HealthReporter,
    raft: RaftHandle,
    lease: Duration,
) {
    use tonic_health::ServingStatus;
    let mut last = None;
    let mut ticker = tokio::time::interval(Duration::from_millis(500));
    loop {
        ticker.tick().await;
        let serving = raft.status().has_quorum_contact(lease);
        if last == Some(serving) {
            continue;
        }
        last = Some(serving);
        let status = if serving {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        health.set_service_status("", status).await;
        health
            .set_service_status(
                <StatusServer<StatusApi> as tonic::server::NamedService>::NAME,
                status,
            )
            .await;
    }
}

/// `(term, vote, commit, last index)` of the stored Raft state, for the log.
fn raft_summary(log: &strait_storage::RaftLog) -> Result<(u64, u64, u64, u64), ClusterError> {
    use ::raft::Storage as _;
    let state = log.initial_state()?;
    let hard = state.hard_state;
    Ok((hard.term, hard.vote, hard.commit, log.last_index()?))
}

/// The other nodes of the peer list, by address.
fn other_peers(config: &ClusterMembership) -> Vec<String> {
    config
        .peers
        .iter()
        .filter(|peer| peer.id != config.node_id)
        .map(|peer| peer.address.clone())
        .collect()
}

/// Before this node bootstraps from `peers` with no Raft state: asks the other peers, once and
/// at once, whether their cluster already knows it. A node of a cluster starting fresh finds
/// nobody (or founders that never heard from it) and bootstraps; one the cluster knows as a
/// member refuses to start. When nobody answers, it cannot tell, and bootstraps.
async fn check_new_founder(
    config: &ClusterMembership,
    data_dir: &std::path::Path,
    tls: Option<&tonic::transport::ClientTlsConfig>,
) -> Result<(), ClusterError> {
    let others = other_peers(config);
    if others.is_empty() {
        return Ok(());
    }
    let answers = find::ask_all(&others, config, tls).await;
    for (address, answer) in others.iter().zip(&answers) {
        match answer {
            Answer::Seen(seen) => tracing::info!(%address, peer = seen.node, term = seen.term,
                commit = seen.commit, "a peer answered before the bootstrap"),
            Answer::OtherCluster(reason) => {
                tracing::warn!(%address, %reason, "a configured peer belongs to another cluster")
            }
            Answer::Silent(reason) => {
                tracing::debug!(%address, %reason, "a peer did not answer before the bootstrap")
            }
        }
    }
    match find::judge(config.node_id, &answers) {
        Finding::Unknown => Ok(()),
        Finding::Member { seen, evidence } => {
            Err(lost_raft_state(config, data_dir, &seen, evidence))
        }
        Finding::Outsider { seen } => Err(ClusterError::NotAMember {
            node: config.node_id,
            cluster: config.cluster_id.clone(),
            data_dir: data_dir.to_owned(),
            answered_by: seen.to_string(),
        }),
    }
}

/// A cluster that answered counts this node as a member (`Finding::Member`): the node lost its
/// Raft state.
fn lost_raft_state(
    config: &ClusterMembership,
    data_dir: &std::path::Path,
    seen: &find::Seen,
    evidence: String,
) -> ClusterError {
    ClusterError::LostRaftState {
        node: config.node_id,
        cluster: config.cluster_id.clone(),
        data_dir: data_dir.to_owned(),
        evidence,
        answered_by: seen.to_string(),
    }
}

/// Before this node joins through `contact` with no Raft state: the contact must answer (within
/// the join deadline), and must not know this node as a member already. Returns the contact's
/// node id.
async fn check_new_joiner(
    config: &ClusterMembership,
    contact: &str,
    data_dir: &std::path::Path,
    tls: Option<&tonic::transport::ClientTlsConfig>,
) -> Result<NodeId, ClusterError> {
    let failed = |reason: String| ClusterError::Join {
        address: contact.to_owned(),
        reason,
    };
    let deadline = tokio::time::Instant::now() + JOIN_DEADLINE;
    let mut backoff = Duration::from_millis(200);
    let seen = loop {
        match find::ask(contact, config, tls).await {
            Answer::Seen(seen) => break seen,
            Answer::OtherCluster(reason) => return Err(failed(reason)),
            Answer::Silent(reason) if tokio::time::Instant::now() > deadline => {
                return Err(failed(reason))
            }
            Answer::Silent(reason) => {
                // The first step of joining: the same line as a failed join attempt.
                tracing::warn!(%contact, %reason, "join failed, retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    };
    // Another node runs under this id: joining would take over its address and traffic.
    if let Some(address) = seen
        .registered_at
        .as_ref()
        .filter(|a| **a != config.advertise)
    {
        let conflict = super::members::MemberConflict::IdTaken {
            node: config.node_id,
            address: address.clone(),
        };
        return Err(failed(conflict.to_string()));
    }
    let contact_id = seen.node;
    match find::judge(config.node_id, &[Answer::Seen(seen)]) {
        Finding::Member { seen, evidence } => {
            Err(lost_raft_state(config, data_dir, &seen, evidence))
        }
        Finding::Unknown | Finding::Outsider { .. } => Ok(contact_id),
    }
}

/// `--rejoin`: asks the members (the join contact, else the other peers, in turn) to remove this
/// node's old membership, until one did or it was not a member, and returns that member's address
/// to join through. Retries while the cluster still counts this node alive (the leader declares
/// it dead one liveness timeout after its last message), up to the join deadline.
async fn forget_old_membership(
    config: &ClusterMembership,
    tls: Option<&tonic::transport::ClientTlsConfig>,
) -> Result<String, ClusterError> {
    let failed = |reason: String| ClusterError::Rejoin {
        cluster: config.cluster_id.clone(),
        reason,
    };
    let contacts: Vec<String> = match &config.join {
        Some(contact) => vec![contact.clone()],
        None => other_peers(config),
    };
    if contacts.is_empty() {
        return Err(failed(
            "there is no other node to rejoin through: set [cluster] peers (with the other nodes) \
             or join"
                .to_owned(),
        ));
    }
    let deadline = tokio::time::Instant::now() + JOIN_DEADLINE;
    let mut backoff = Duration::from_millis(200);
    loop {
        let mut reasons = Vec::new();
        for contact in &contacts {
            match find::forget(contact, config, tls).await {
                Ok(removed) => {
                    tracing::info!(%contact, removed, node_id = config.node_id,
                        "the cluster forgot this node's old membership");
                    return Ok(contact.clone());
                }
                Err(ForgetFailed::Fatal(reason)) => {
                    return Err(failed(format!("{contact}: {reason}")))
                }
                Err(ForgetFailed::Retry(reason)) => reasons.push(format!("{contact}: {reason}")),
            }
        }
        let reasons = reasons.join("; ");
        if tokio::time::Instant::now() > deadline {
            return Err(failed(format!(
                "no member removed node {} within {JOIN_DEADLINE:?} ({reasons})",
                config.node_id
            )));
        }
        tracing::warn!(reasons = %reasons, "--rejoin: the old membership is not removed yet, retrying");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// Why one join attempt failed, and whether another attempt can help.
#[derive(Debug)]
enum JoinAttemptError {
    /// The contact cannot be reached or is not ready (no leader yet, ...): retried with backoff.
    Retriable(String),
    /// Another cluster, this node's id taken by another member, a bad request, or a missing or
    /// wrong control token: retrying cannot help.
    Fatal(String),
}

impl JoinAttemptError {
    fn retriable(reason: String) -> Self {
        Self::Retriable(reason)
    }

    fn from_status(status: tonic::Status) -> Self {
        match status.code() {
            tonic::Code::FailedPrecondition
            | tonic::Code::AlreadyExists
            | tonic::Code::InvalidArgument
            | tonic::Code::Unauthenticated => Self::Fatal(status.message().to_owned()),
            _ => Self::Retriable(status.message().to_owned()),
        }
    }
}

/// An error with its causes ("transport error: connection refused"), as tonic's own Display
/// only names the outermost.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

async fn join(
    config: &ClusterMembership,
    contact: &str,
    transport: &Arc<GrpcTransport>,
    tls: Option<&tonic::transport::ClientTlsConfig>,
) -> Result<(), ClusterError> {
    let failed = |reason: String| ClusterError::Join {
        address: contact.to_owned(),
        reason,
    };
    let deadline = tokio::time::Instant::now() + JOIN_DEADLINE;
    let mut backoff = Duration::from_millis(200);
    loop {
        let attempt = async {
            let channel = super::tls::endpoint(contact, tls)
                .map_err(|e| JoinAttemptError::retriable(error_chain(&e)))?
                .connect()
                .await
                .map_err(|e| JoinAttemptError::retriable(error_chain(&e)))?;
            let mut client = RaftTransportClient::new(channel);
            // Every node of a cluster shares its control token: a joining node sends its own.
            let mut request = tonic::Request::new(JoinRequest {
                cluster_id: config.cluster_id.clone(),
                node_id: config.node_id,
                address: config.advertise.clone(),
            });
            if let Some(token) = config.control_token.as_deref().and_then(bearer) {
                request.metadata_mut().insert("authorization", token);
            }
            client
                .join(request)
                .await
                .map_err(JoinAttemptError::from_status)
        };
        match attempt.await {
            Ok(response) => {
                for member in response.into_inner().members {
                    transport.set_address(member.node_id, &member.address);
                }
                tracing::info!(%contact, "joined the cluster");
                return Ok(());
            }
            Err(JoinAttemptError::Fatal(reason)) => return Err(failed(reason)),
            Err(JoinAttemptError::Retriable(reason)) if tokio::time::Instant::now() > deadline => {
                return Err(failed(reason));
            }
            Err(JoinAttemptError::Retriable(reason)) => {
                tracing::warn!(%contact, %reason, "join failed, retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}
