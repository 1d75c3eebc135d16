//! Raft messages to other nodes over gRPC: one bounded queue and one sender task per peer, a
//! channel per peer reused for every batch, reconnection with backoff. A full queue drops messages
//! (Raft retries), so a dead peer never makes memory grow. Every batch that was not delivered, and
//! every snapshot either way, is reported to the Raft task: raft-rs waits for that report before it
//! replicates to a follower it sent a snapshot to.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use protobuf::Message as _;
use raft::eraftpb::Message;
use strait_coordinator::raft::{is_snapshot, DeliveryReports, Transport};
use strait_coordinator::NodeId;
use strait_proto::raft::v1::raft_transport_client::RaftTransportClient;
use strait_proto::raft::v1::RaftBatch;
use tokio::sync::mpsc;

const QUEUE: usize = 4096;
const MAX_BATCH: usize = 256;
const MAX_BACKOFF: Duration = Duration::from_secs(2);

struct Peer {
    address: String,
    queue: mpsc::Sender<Message>,
}

/// See the module docs.
pub struct GrpcTransport {
    cluster_id: String,
    from: NodeId,
    runtime: tokio::runtime::Handle,
    peers: RwLock<HashMap<NodeId, Peer>>,
    /// Set when the Raft task starts; shared with the sender tasks.
    reports: Arc<OnceLock<DeliveryReports>>,
}

impl GrpcTransport {
    pub fn new(cluster_id: String, from: NodeId, runtime: tokio::runtime::Handle) -> Arc<Self> {
        Arc::new(Self {
            cluster_id,
            from,
            runtime,
            peers: RwLock::default(),
            reports: Arc::default(),
        })
    }

    /// Where to reach `node`; a changed address replaces the peer's connection.
    pub fn set_address(&self, node: NodeId, address: &str) {
        if node == self.from {
            return;
        }
        let mut peers = self.peers.write().unwrap_or_else(|e| e.into_inner());
        if peers.get(&node).is_some_and(|p| p.address == address) {
            return;
        }
        let (queue, rx) = mpsc::channel(QUEUE);
        self.runtime.spawn(deliver(
            self.cluster_id.clone(),
            self.from,
            node,
            address.to_owned(),
            rx,
            self.reports.clone(),
        ));
        peers.insert(
            node,
            Peer {
                address: address.to_owned(),
                queue,
            },
        );
    }
}

impl Transport for GrpcTransport {
    fn attach(&self, reports: DeliveryReports) {
        let _ = self.reports.set(reports);
    }

    fn send(&self, messages: Vec<Message>) {
        // By peer: whether a snapshot was among the messages dropped.
        let mut dropped: HashMap<NodeId, bool> = HashMap::new();
        {
            let peers = self.peers.read().unwrap_or_else(|e| e.into_inner());
            for message in messages {
                let (to, snapshot) = (message.to, is_snapshot(&message));
                let queued = match peers.get(&to) {
                    // Full (peer slow or down) or closed: drop, Raft sends again once told.
                    Some(peer) => peer.queue.try_send(message).is_ok(),
                    None => {
                        tracing::debug!(to, "no address for raft peer yet");
                        false
                    }
                };
                if !queued {
                    *dropped.entry(to).or_default() |= snapshot;
                }
            }
        }
        if dropped.is_empty() {
            return;
        }
        let reports = self.reports.clone();
        self.runtime.spawn(async move {
            for (to, snapshot) in dropped {
                report_failed(&reports, to, snapshot).await;
            }
        });
    }
}

async fn report_failed(reports: &OnceLock<DeliveryReports>, to: NodeId, snapshot: bool) {
    if let Some(reports) = reports.get() {
        reports.failed(to, snapshot).await;
    }
}

/// The sender task of one peer: batches what is queued and sends it, reconnecting with backoff.
async fn deliver(
    cluster_id: String,
    from: NodeId,
    to: NodeId,
    address: String,
    mut queue: mpsc::Receiver<Message>,
    reports: Arc<OnceLock<DeliveryReports>>,
) {
    let endpoint = format!("http://{address}");
    let channel = match tonic::transport::Endpoint::from_shared(endpoint) {
        Ok(endpoint) => endpoint
            .connect_timeout(Duration::from_secs(1))
            .timeout(Duration::from_secs(2))
            .connect_lazy(),
        Err(error) => {
            tracing::error!(to, %address, %error, "invalid raft peer address");
            return;
        }
    };
    let mut client = RaftTransportClient::new(channel);
    let mut backoff = Duration::ZERO;
    let mut reachable = true;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // Ends when the transport replaced or dropped this peer (the queue is closed).
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let snapshot = batch.iter().any(is_snapshot);
        let messages: Vec<Vec<u8>> = batch
            .drain(..)
            .filter_map(|m| m.write_to_bytes().ok())
            .collect();
        let request = RaftBatch {
            cluster_id: cluster_id.clone(),
            from,
            messages,
        };
        match client.send(request).await {
            Ok(_) => {
                if !reachable {
                    tracing::info!(to, %address, "raft peer reachable again");
                }
                reachable = true;
                backoff = Duration::ZERO;
                if let Some(reports) = reports.get() {
                    reports.delivered(to, snapshot).await;
                }
            }
            Err(status) => {
                backoff = (backoff * 2).clamp(Duration::from_millis(50), MAX_BACKOFF);
                if reachable {
                    // Once per outage, not once per retry.
                    tracing::warn!(to, %address, error = %status.message(),
                        "raft peer unreachable, retrying with backoff");
                }
                reachable = false;
                report_failed(&reports, to, snapshot).await;
                tokio::time::sleep(backoff).await;
                // What queued up meanwhile is stale: Raft will resend what still matters.
                let mut stale_snapshot = false;
                while let Ok(message) = queue.try_recv() {
                    stale_snapshot |= is_snapshot(&message);
                }
                if stale_snapshot {
                    report_failed(&reports, to, true).await;
                }
            }
        }
    }
}
