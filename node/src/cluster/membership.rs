//! Starting this node's part of the cluster: check that the data dir is this node's, start the Raft
//! task and the gRPC server on their own runtime, and either bootstrap a new cluster from the peer
//! list or join a running one through any member.

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

use super::server::RaftService;
use super::transport::{GrpcTransport, MAX_MESSAGE_BYTES};
use crate::replication::status::NodeStatus;
use strait_proto::v1::cluster_server::ClusterServer;
use strait_proto::v1::config_server::ConfigServer;
use strait_proto::v1::flows_server::FlowsServer;
use strait_proto::v1::offsets_server::OffsetsServer;
use strait_proto::v1::partitions_server::PartitionsServer;
use strait_proto::v1::status_server::StatusServer;

use crate::control::{
    bearer, BearerAuth, ClusterApi, ConfigApi, Control, FlowsApi, OffsetsApi, PartitionsApi,
    StatusApi,
};

/// How long a joining node keeps asking its contact before giving up.
const JOIN_DEADLINE: Duration = Duration::from_secs(60);

#[derive(Debug, Error)]
pub enum ClusterError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(
        "the data dir {} belongs to node {found_node} of cluster {found_cluster:?}, but this node \
         is configured as node {node} of cluster {cluster:?}: refusing to start (use an empty data \
         dir for a new node)", data_dir.display()
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
}

impl RunningCluster {
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

pub fn start(
    settings: Arc<Settings>,
    store: &Store,
    status: NodeStatus,
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

    let restarted = log.is_initialized();
    if !restarted && config.join.is_none() {
        let mut voters: Vec<NodeId> = config.peers.iter().map(|p| p.id).collect();
        if voters.is_empty() {
            voters.push(config.node_id);
        }
        log.bootstrap(&voters)?;
        tracing::info!(?voters, cluster_id = %config.cluster_id, "bootstrapped a new cluster");
    }

    let mut options = RaftOptions::new(config.node_id, config.advertise.clone());
    options.liveness_timeout = config.liveness_timeout;
    let (handle, task) = {
        let _guard = runtime.enter();
        raft::spawn(options, log, transport.clone())?
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
        let address = config.health_listen;
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
        tracing::info!(listen = ?address, "plaintext health service listening");
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
                OffsetsApi { control },
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

    if let (false, Some(contact)) = (restarted, &config.join) {
        runtime.block_on(join(config, contact, &transport, client_tls.as_ref()))?;
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

/// Marks a join failure that retrying cannot fix.
const FATAL: &str = "fatal: ";

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
                .map_err(|e| error_chain(&e))?
                .connect()
                .await
                .map_err(|e| error_chain(&e))?;
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
                .map_err(|status| match status.code() {
                    // Another cluster, this node's id taken by another member, a bad request, or
                    // a missing or wrong control token: retrying cannot help.
                    tonic::Code::FailedPrecondition
                    | tonic::Code::AlreadyExists
                    | tonic::Code::InvalidArgument
                    | tonic::Code::Unauthenticated => format!("{FATAL}{}", status.message()),
                    _ => status.message().to_owned(),
                })
        };
        match attempt.await {
            Ok(response) => {
                for member in response.into_inner().members {
                    transport.set_address(member.node_id, &member.address);
                }
                tracing::info!(%contact, "joined the cluster");
                return Ok(());
            }
            Err(reason) if reason.starts_with(FATAL) || tokio::time::Instant::now() > deadline => {
                return Err(failed(reason.trim_start_matches(FATAL).to_owned()));
            }
            Err(reason) => {
                tracing::warn!(%contact, %reason, "join failed, retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}
