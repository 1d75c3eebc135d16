//! Raft messages to other nodes over gRPC: one bounded queue and one sender task per peer, a
//! channel per peer reused for every batch, reconnection with backoff. A full queue drops messages
//! (Raft retries), so a dead peer never makes memory grow.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use protobuf::Message as _;
use raft::eraftpb::Message;
use strait_coordinator::raft::Transport;
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
}

impl GrpcTransport {
    pub fn new(cluster_id: String, from: NodeId, runtime: tokio::runtime::Handle) -> Arc<Self> {
        Arc::new(Self {
            cluster_id,
            from,
            runtime,
            peers: RwLock::default(),
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
    fn send(&self, messages: Vec<Message>) {
        let peers = self.peers.read().unwrap_or_else(|e| e.into_inner());
        for message in messages {
            match peers.get(&message.to) {
                Some(peer) => {
                    // Full (peer slow or down) or closed: drop, Raft sends again.
                    let _ = peer.queue.try_send(message);
                }
                None => tracing::debug!(to = message.to, "no address for raft peer yet"),
            }
        }
    }
}

/// The sender task of one peer: batches what is queued and sends it, reconnecting with backoff.
async fn deliver(
    cluster_id: String,
    from: NodeId,
    to: NodeId,
    address: String,
    mut queue: mpsc::Receiver<Message>,
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
            }
            Err(status) => {
                backoff = (backoff * 2).clamp(Duration::from_millis(50), MAX_BACKOFF);
                if reachable {
                    // Once per outage, not once per retry.
                    tracing::warn!(to, %address, error = %status.message(),
                        "raft peer unreachable, retrying with backoff");
                }
                reachable = false;
                tokio::time::sleep(backoff).await;
                // What queued up meanwhile is stale: Raft will resend what still matters.
                while queue.try_recv().is_ok() {}
            }
        }
    }
}
