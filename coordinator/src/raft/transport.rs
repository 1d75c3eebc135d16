use raft::eraftpb::{Message, MessageType};
use raft::SnapshotStatus;
use tokio::sync::mpsc;

use super::handle::Input;
use crate::NodeId;

/// Delivers Raft messages to other nodes. Sending is fire-and-forget: Raft retries by itself, so a
/// transport may drop messages to an unreachable peer (and should, rather than queue without bound),
/// but it reports what became of them through the [`DeliveryReports`] it was attached to.
pub trait Transport: Send + Sync + 'static {
    /// Where to report deliveries. Called once by [`spawn`](super::spawn), before any `send`.
    fn attach(&self, reports: DeliveryReports);

    fn send(&self, messages: Vec<Message>);
}

/// How a transport tells the Raft task what became of the messages it was given.
///
/// raft-rs stops replicating to a follower it sent a snapshot to until it is told whether the
/// snapshot arrived: a snapshot lost without a report leaves that follower behind (and fenced) for
/// the rest of the leader's term. A failed delivery also moves the follower back to probing, so
/// that the leader does not keep streaming entries the follower will reject.
#[derive(Clone)]
pub struct DeliveryReports {
    /// Weak: a transport holding it does not keep the Raft task running.
    pub(crate) inbox: mpsc::WeakSender<Input>,
}

impl DeliveryReports {
    /// Messages to `to` arrived; `snapshot`: one of them was a snapshot.
    pub async fn delivered(&self, to: NodeId, snapshot: bool) {
        if snapshot {
            self.report(Input::SnapshotStatus {
                to,
                status: SnapshotStatus::Finish,
            })
            .await;
        }
    }

    /// Messages to `to` were not delivered (peer unreachable, RPC refused, dropped from a full or
    /// stale queue); `snapshot`: one of them was a snapshot, which the leader sends again.
    pub async fn failed(&self, to: NodeId, snapshot: bool) {
        if snapshot {
            self.report(Input::SnapshotStatus {
                to,
                status: SnapshotStatus::Failure,
            })
            .await;
        }
        self.report(Input::Unreachable { to }).await;
    }

    async fn report(&self, input: Input) {
        // Gone: the Raft task has stopped, nobody needs the report.
        if let Some(inbox) = self.inbox.upgrade() {
            let _ = inbox.send(input).await;
        }
    }
}

/// Whether `message` carries a snapshot (whose delivery must be reported).
pub fn is_snapshot(message: &Message) -> bool {
    message.get_msg_type() == MessageType::MsgSnapshot
}
