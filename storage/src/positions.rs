use crate::{OffsetMapStore, OffsetRun, StorageError};

/// Where replication of one source partition stands: every source offset below
/// `next_source_offset` has been acknowledged by the target (and every one before it), and the
/// last of them landed at `last_target_offset` on the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// The next source offset to read (Kafka's exclusive "committed offset" convention).
    pub next_source_offset: i64,
    /// The target offset of the record at `next_source_offset - 1` (or before it, when that offset
    /// was a gap), `-1` when nothing was written yet.
    pub last_target_offset: i64,
}

/// Identifies a source partition of a flow.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PositionKey {
    pub flow: String,
    pub topic: String,
    pub partition: i32,
}

impl PositionKey {
    pub fn new(flow: impl Into<String>, topic: impl Into<String>, partition: i32) -> Self {
        Self {
            flow: flow.into(),
            topic: topic.into(),
            partition,
        }
    }

    /// `flow \0 topic \0 partition(be)`: flows and topics cannot contain NUL, so keys of one flow sort
    /// together and never collide.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut key = Vec::with_capacity(self.flow.len() + self.topic.len() + 6);
        key.extend_from_slice(self.flow.as_bytes());
        key.push(0);
        key.extend_from_slice(self.topic.as_bytes());
        key.push(0);
        key.extend_from_slice(&self.partition.to_be_bytes());
        key
    }

    fn decode(bytes: &[u8]) -> Result<Self, StorageError> {
        let corrupt = || StorageError::Corrupt {
            what: "position key",
            len: bytes.len(),
        };
        if bytes.len() < 6 {
            return Err(corrupt());
        }
        let (names, partition) = bytes.split_at(bytes.len() - 4);
        let names = names.strip_suffix(&[0]).ok_or_else(corrupt)?;
        let split = names.iter().position(|b| *b == 0).ok_or_else(corrupt)?;
        let flow = std::str::from_utf8(&names[..split]).map_err(|_| corrupt())?;
        let topic = std::str::from_utf8(&names[split + 1..]).map_err(|_| corrupt())?;
        let partition = i32::from_be_bytes(partition.try_into().map_err(|_| corrupt())?);
        Ok(Self::new(flow, topic, partition))
    }
}

impl Position {
    fn encode(&self) -> [u8; 16] {
        let mut value = [0u8; 16];
        value[..8].copy_from_slice(&self.next_source_offset.to_be_bytes());
        value[8..].copy_from_slice(&self.last_target_offset.to_be_bytes());
        value
    }

    fn decode(bytes: &[u8]) -> Result<Self, StorageError> {
        let bytes: &[u8; 16] = bytes.try_into().map_err(|_| StorageError::Corrupt {
            what: "position",
            len: bytes.len(),
        })?;
        let (source, target) = bytes.split_at(8);
        Ok(Self {
            next_source_offset: i64::from_be_bytes(source.try_into().expect("8 bytes")),
            last_target_offset: i64::from_be_bytes(target.try_into().expect("8 bytes")),
        })
    }
}

/// The replicated positions of this node's partitions, with their offset runs.
#[derive(Clone)]
pub struct PositionStore {
    tree: sled::Tree,
    offset_map: OffsetMapStore,
}

impl PositionStore {
    pub(crate) fn new(tree: sled::Tree, offset_map: OffsetMapStore) -> Self {
        Self { tree, offset_map }
    }

    /// The offset runs of the same partitions.
    pub fn offset_map(&self) -> &OffsetMapStore {
        &self.offset_map
    }

    /// Stores the runs acknowledged since the last call, then the position they lead to: runs
    /// first, so that a crash between the two never leaves a position covering unmapped records
    /// (sled recovers a prefix of the writes).
    pub fn put_with_runs(
        &self,
        key: &PositionKey,
        position: Option<Position>,
        runs: &[OffsetRun],
    ) -> Result<(), StorageError> {
        self.offset_map.apply(key, runs)?;
        if let Some(position) = position {
            self.put(key, position)?;
        }
        Ok(())
    }

    pub fn get(&self, key: &PositionKey) -> Result<Option<Position>, StorageError> {
        self.tree
            .get(key.encode())?
            .map(|v| Position::decode(&v))
            .transpose()
    }

    pub fn put(&self, key: &PositionKey, position: Position) -> Result<(), StorageError> {
        self.tree.insert(key.encode(), &position.encode())?;
        Ok(())
    }

    /// Every stored position, in key order.
    pub fn all(&self) -> Result<Vec<(PositionKey, Position)>, StorageError> {
        self.tree
            .iter()
            .map(|entry| {
                let (k, v) = entry?;
                Ok((PositionKey::decode(&k)?, Position::decode(&v)?))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::Store;

    use super::*;

    #[test]
    fn positions_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let key = PositionKey::new("A->B", "orders", 3);
        let pos = Position {
            next_source_offset: 1_000,
            last_target_offset: 997,
        };
        {
            let store = Store::open(dir.path(), Duration::from_millis(100)).unwrap();
            let positions = store.positions().unwrap();
            assert_eq!(positions.get(&key).unwrap(), None);
            positions.put(&key, pos).unwrap();
            store.flush().unwrap();
        }
        let store = Store::open(dir.path(), Duration::from_millis(100)).unwrap();
        let positions = store.positions().unwrap();
        assert_eq!(positions.get(&key).unwrap(), Some(pos));
        assert_eq!(positions.all().unwrap(), vec![(key, pos)]);
    }

    #[test]
    fn keys_round_trip_and_do_not_collide() {
        let a = PositionKey::new("A->B", "x", 1);
        let b = PositionKey::new("A->B", "x\u{1}", 1);
        assert_ne!(a.encode(), b.encode());
        assert_eq!(PositionKey::decode(&a.encode()).unwrap(), a);
        assert_eq!(PositionKey::decode(&b.encode()).unwrap(), b);
        assert!(PositionKey::decode(b"xx").is_err());
    }
}
