use std::collections::BTreeMap;

use crate::{FlowId, TopicPartition};

/// A node's stable identity in a Strait cluster.
pub type NodeId = u64;

/// Who replicates a source partition, and since when. The epoch grows with every move, so a node
/// that still holds an older epoch knows it has been fenced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub node: NodeId,
    pub epoch: u64,
}

/// The partition → node map of one cluster. On a single node every discovered partition belongs to
/// that node; the Raft leader will compute a balanced, sticky one for many.
#[derive(Debug, Clone, Default)]
pub struct Assignment {
    owners: BTreeMap<(FlowId, TopicPartition), Owner>,
}

impl Assignment {
    /// Assigns to `node` every partition in `partitions` that has no owner yet; existing owners stay.
    pub fn assign_unowned<'a>(
        &mut self,
        node: NodeId,
        partitions: impl IntoIterator<Item = (&'a FlowId, &'a TopicPartition)>,
    ) -> Vec<(FlowId, TopicPartition)> {
        let mut added = Vec::new();
        for (flow, tp) in partitions {
            let key = (flow.clone(), tp.clone());
            if !self.owners.contains_key(&key) {
                self.owners.insert(key.clone(), Owner { node, epoch: 1 });
                added.push(key);
            }
        }
        added
    }

    pub fn owner(&self, flow: &FlowId, tp: &TopicPartition) -> Option<Owner> {
        self.owners.get(&(flow.clone(), tp.clone())).copied()
    }

    pub fn owned_by(&self, node: NodeId) -> impl Iterator<Item = &(FlowId, TopicPartition)> {
        self.owners
            .iter()
            .filter(move |(_, owner)| owner.node == node)
            .map(|(key, _)| key)
    }

    pub fn len(&self) -> usize {
        self.owners.len()
    }

    pub fn is_empty(&self) -> bool {
        self.owners.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assigning_is_sticky_and_idempotent() {
        let flow: FlowId = "A->B".parse().unwrap();
        let tps = [TopicPartition::new("t", 0), TopicPartition::new("t", 1)];
        let mut a = Assignment::default();
        let added = a.assign_unowned(1, tps.iter().map(|tp| (&flow, tp)));
        assert_eq!(added.len(), 2);
        let again = a.assign_unowned(2, tps.iter().map(|tp| (&flow, tp)));
        assert!(again.is_empty());
        assert_eq!(a.owner(&flow, &tps[0]).unwrap().node, 1);
        assert_eq!(a.owned_by(1).count(), 2);
    }
}
