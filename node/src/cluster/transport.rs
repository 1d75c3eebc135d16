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
use tonic::transport::ClientTlsConfig;

use super::outage::Outage;
use crate::replication::status::NodeStatus;

const QUEUE: usize = 4096;
/// Messages per RPC, at most.
const MAX_BATCH: usize = 256;
/// Bytes per RPC, at most, unless one message alone is larger. Under tonic's default 4 MiB
/// decoding limit, so that a batch of appends (each up to raft's `max_size_per_msg`, 1 MiB) never
/// needs more than any node accepts; only a large snapshot does.
const MAX_BATCH_BYTES: usize = 3 * 1024 * 1024;
/// The largest RPC a node sends or accepts. A snapshot carries the whole cluster state (every
/// partition's offset runs) in one message, far beyond tonic's 4 MiB default; a state larger than
/// this could not reach a follower that needs it.
pub(super) const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;
/// How long an RPC may take, plus its size at [`MIN_THROUGHPUT`].
const RPC_TIMEOUT: Duration = Duration::from_secs(2);
/// Bytes per second an RPC is given time for (a 256 MiB snapshot: 16 s more).
const MIN_THROUGHPUT: usize = 16 * 1024 * 1024;
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
    /// Where the sender tasks publish which peers they cannot reach.
    status: NodeStatus,
    /// TLS to every peer, when the cluster port is TLS.
    tls: Option<ClientTlsConfig>,
}

impl GrpcTransport {
    pub fn new(
        cluster_id: String,
        from: NodeId,
        runtime: tokio::runtime::Handle,
        status: NodeStatus,
        tls: Option<ClientTlsConfig>,
    ) -> Arc<Self> {
        Arc::new(Self {
            cluster_id,
            from,
            runtime,
            peers: RwLock::default(),
            reports: Arc::default(),
            status,
            tls,
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
        // A new address starts with a clean slate; its sender task reports what it finds.
        self.status.set_peer_unreachable(node, None);
        self.runtime.spawn(deliver(
            Sender {
                cluster_id: self.cluster_id.clone(),
                from: self.from,
                to: node,
                address: address.to_owned(),
                reports: self.reports.clone(),
                status: self.status.clone(),
                tls: self.tls.clone(),
            },
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

/// Serialized messages for one RPC.
#[derive(Default)]
struct Batch {
    messages: Vec<Vec<u8>>,
    bytes: usize,
    /// Whether one of them is a snapshot (its fate is reported).
    snapshot: bool,
}

/// Serializes `messages` into RPCs of at most [`MAX_BATCH_BYTES`]; a larger message goes alone.
fn batches(messages: impl IntoIterator<Item = Message>) -> Vec<Batch> {
    let mut batches: Vec<Batch> = Vec::new();
    for message in messages {
        let bytes = match message.write_to_bytes() {
            Ok(bytes) => bytes,
            Err(error) => {
                // Not expected: raft's messages are proto3, always complete.
                tracing::error!(to = message.to, %error, "cannot serialize a raft message");
                continue;
            }
        };
        let fits = batches
            .last()
            .is_some_and(|b| b.bytes + bytes.len() <= MAX_BATCH_BYTES);
        if !fits {
            batches.push(Batch::default());
        }
        let batch = batches.last_mut().expect("a batch was pushed above");
        batch.bytes += bytes.len();
        batch.snapshot |= is_snapshot(&message);
        batch.messages.push(bytes);
    }
    batches
}

/// A failed RPC's message and its causes ("tcp connect error: ...: Connection refused"), each
/// named once (tonic and hyper repeat theirs down the chain).
fn describe(status: &tonic::Status) -> String {
    let mut message = status.message().to_owned();
    let mut cause = std::error::Error::source(status);
    while let Some(error) = cause {
        let text = error.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        cause = error.source();
    }
    message
}

/// How long an RPC carrying `bytes` may take: long enough for a large snapshot on a slow link.
fn rpc_timeout(bytes: usize) -> Duration {
    RPC_TIMEOUT + Duration::from_secs_f64(bytes as f64 / MIN_THROUGHPUT as f64)
}

/// Who one sender task sends for and to, and where it reports.
struct Sender {
    cluster_id: String,
    from: NodeId,
    to: NodeId,
    address: String,
    reports: Arc<OnceLock<DeliveryReports>>,
    status: NodeStatus,
    tls: Option<ClientTlsConfig>,
}

/// The sender task of one peer: batches what is queued and sends it, reconnecting with backoff.
async fn deliver(sender: Sender, mut queue: mpsc::Receiver<Message>) {
    let Sender {
        cluster_id,
        from,
        to,
        address,
        reports,
        status,
        tls,
    } = sender;
    let channel = match super::tls::endpoint(&address, tls.as_ref()) {
        Ok(endpoint) => endpoint
            .connect_timeout(Duration::from_secs(1))
            .connect_lazy(),
        Err(error) => {
            tracing::error!(to, %address, %error, "invalid raft peer address");
            return;
        }
    };
    let mut client = RaftTransportClient::new(channel).max_encoding_message_size(MAX_MESSAGE_BYTES);
    let mut backoff = Duration::ZERO;
    let mut outage: Option<Outage> = None;
    let mut received = Vec::with_capacity(MAX_BATCH);
    // Ends when the transport replaced or dropped this peer (the queue is closed).
    while queue.recv_many(&mut received, MAX_BATCH).await > 0 {
        let mut batches = batches(received.drain(..)).into_iter();
        while let Some(batch) = batches.next() {
            let snapshot = batch.snapshot;
            let timeout = rpc_timeout(batch.bytes);
            let request = RaftBatch {
                cluster_id: cluster_id.clone(),
                from,
                messages: batch.messages,
            };
            let error = match tokio::time::timeout(timeout, client.send(request)).await {
                Ok(Ok(_)) => {
                    if let Some(outage) = outage.take() {
                        outage.end(&status, to);
                    }
                    backoff = Duration::ZERO;
                    if let Some(reports) = reports.get() {
                        reports.delivered(to, snapshot).await;
                    }
                    continue;
                }
                Ok(Err(status)) => describe(&status),
                Err(_) => format!("no answer within {timeout:?} ({} bytes)", batch.bytes),
            };
            backoff = (backoff * 2).clamp(Duration::from_millis(50), MAX_BACKOFF);
            match &mut outage {
                Some(outage) => outage.failed(&status, to, &error),
                None => outage = Some(Outage::start(&status, to, &address, &error)),
            }
            // The rest of this round goes with the failed batch.
            let lost_snapshot = snapshot || batches.any(|b| b.snapshot);
            report_failed(&reports, to, lost_snapshot).await;
            tokio::time::sleep(backoff).await;
            // What queued up meanwhile is stale: Raft will resend what still matters.
            let mut stale_snapshot = false;
            while let Ok(message) = queue.try_recv() {
                stale_snapshot |= is_snapshot(&message);
            }
            if stale_snapshot {
                report_failed(&reports, to, true).await;
            }
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use raft::eraftpb::{Entry, MessageType, Snapshot};

    use super::*;

    fn append(bytes: usize) -> Message {
        let mut message = Message::default();
        message.set_msg_type(MessageType::MsgAppend);
        let entry = Entry {
            data: vec![7; bytes].into(),
            ..Default::default()
        };
        message.set_entries(vec![entry].into());
        message
    }

    fn snapshot(bytes: usize) -> Message {
        let mut message = Message::default();
        message.set_msg_type(MessageType::MsgSnapshot);
        let mut snapshot = Snapshot::default();
        snapshot.set_data(vec![7; bytes].into());
        message.set_snapshot(snapshot);
        message
    }

    #[test]
    fn batches_are_capped_by_bytes_and_a_large_message_goes_alone() {
        const MIB: usize = 1024 * 1024;
        let small: Vec<Message> = (0..10).map(|_| append(1024)).collect();
        let batches_of_small = batches(small);
        assert_eq!(batches_of_small.len(), 1);
        assert_eq!(batches_of_small[0].messages.len(), 10);
        assert!(!batches_of_small[0].snapshot);

        // 8 appends of 1 MiB: no batch over the cap, none lost.
        let large = batches((0..8).map(|_| append(MIB)));
        assert!(large.iter().all(|b| b.bytes <= MAX_BATCH_BYTES), "capped");
        assert_eq!(large.iter().map(|b| b.messages.len()).sum::<usize>(), 8);

        // A snapshot larger than the cap between appends travels alone, and is marked.
        let mixed = batches([append(10), snapshot(5 * MIB), append(10)]);
        let flags: Vec<(usize, bool)> = mixed
            .iter()
            .map(|b| (b.messages.len(), b.snapshot))
            .collect();
        assert_eq!(flags, [(1, false), (1, true), (1, false)]);
    }
}
