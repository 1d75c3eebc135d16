//! Replicated positions in sled (tree `positions`, key `flow \0 topic \0 partition(be)`, value
//! `next_source_offset(be) last_target_offset(be)`). [`Position`] and [`PartitionKey`] are domain
//! types; this module only encodes them.

use strait_domain::{OffsetRun, PartitionKey, Position};

use crate::{OffsetMapStore, StorageError};

/// `flow \0 topic \0 partition(be)`: flows and topics cannot contain NUL, so keys of one flow sort
/// together and never collide. The flow is written as `SOURCE->TARGET`.
pub(crate) fn encode_key(key: &PartitionKey) -> Vec<u8> {
    let flow = key.flow.to_string();
    let mut bytes = Vec::with_capacity(flow.len() + key.tp.topic.len() + 6);
    bytes.extend_from_slice(flow.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(key.tp.topic.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(&key.tp.partition.to_be_bytes());
    bytes
}

fn decode_key(bytes: &[u8]) -> Result<PartitionKey, StorageError> {
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
    let flow = flow.parse().map_err(|_| corrupt())?;
    let topic = std::str::from_utf8(&names[split + 1..]).map_err(|_| corrupt())?;
    let partition = i32::from_be_bytes(partition.try_into().map_err(|_| corrupt())?);
    Ok(PartitionKey::new(flow, topic, partition))
}

fn encode_position(position: &Position) -> [u8; 16] {
    let mut value = [0u8; 16];
    value[..8].copy_from_slice(&position.next_source_offset.to_be_bytes());
    value[8..].copy_from_slice(&position.last_target_offset.to_be_bytes());
    value
}

fn decode_position(bytes: &[u8]) -> Result<Position, StorageError> {
    let bytes: &[u8; 16] = bytes.try_into().map_err(|_| StorageError::Corrupt {
        what: "position",
        len: bytes.len(),
    })?;
    let (source, target) = bytes.split_at(8);
    Ok(Position {
        next_source_offset: i64::from_be_bytes(source.try_into().expect("8 bytes")),
        last_target_offset: i64::from_be_bytes(target.try_into().expect("8 bytes")),
    })
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
        key: &PartitionKey,
        position: Option<Position>,
        runs: &[OffsetRun],
    ) -> Result<(), StorageError> {
        self.offset_map.apply(key, runs)?;
        if let Some(position) = position {
            self.put(key, position)?;
        }
        Ok(())
    }

    pub fn get(&self, key: &PartitionKey) -> Result<Option<Position>, StorageError> {
        self.tree
            .get(encode_key(key))?
            .map(|v| decode_position(&v))
            .transpose()
    }

    pub fn put(&self, key: &PartitionKey, position: Position) -> Result<(), StorageError> {
        self.tree
            .insert(encode_key(key), &encode_position(&position))?;
        Ok(())
    }

    /// Every stored position, in key order.
    pub fn all(&self) -> Result<Vec<(PartitionKey, Position)>, StorageError> {
        self.tree
            .iter()
            .map(|entry| {
                let (k, v) = entry?;
                Ok((decode_key(&k)?, decode_position(&v)?))
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
        let key = PartitionKey::new("A->B".parse().unwrap(), "orders", 3);
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
        let a = PartitionKey::new("A->B".parse().unwrap(), "x", 1);
        let b = PartitionKey::new("A->B".parse().unwrap(), "x\u{1}", 1);
        assert_ne!(encode_key(&a), encode_key(&b));
        assert_eq!(decode_key(&encode_key(&a)).unwrap(), a);
        assert_eq!(decode_key(&encode_key(&b)).unwrap(), b);
        assert!(decode_key(b"xx").is_err());
        let mut bad_flow = encode_key(&a);
        bad_flow[2] = b'x'; // "A-xB"
        assert!(
            decode_key(&bad_flow).is_err(),
            "a flow that is not SOURCE->TARGET is corrupt"
        );
    }
}
