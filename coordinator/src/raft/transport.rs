use raft::eraftpb::Message;

/// Delivers Raft messages to other nodes. Sending is fire-and-forget: Raft retries by itself, so a
/// transport may drop messages to an unreachable peer (and should, rather than queue without bound).
pub trait Transport: Send + Sync + 'static {
    fn send(&self, messages: Vec<Message>);
}
