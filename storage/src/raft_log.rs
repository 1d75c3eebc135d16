//! The Raft log in sled, behind raft-rs's `Storage` trait.
//!
//! Two trees: `raft_entries` maps a big-endian `u64` index to a protobuf `Entry`; `raft_meta` holds
//! the hard state, the conf state, the latest snapshot (metadata and data) and the node identity.
//!
//! The log always starts right after the snapshot: the entries tree holds exactly the indexes
//! `snapshot index + 1 ..= last index` (no snapshot counts as index 0, term 0). Writes that touch
//! both trees (installing or taking a snapshot) go through one sled transaction, so a crash never
//! leaves a snapshot next to entries it replaced, or a hard state pointing past the log.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use protobuf::Message as _;
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};
use raft::{GetEntriesContext, RaftState};
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};

use crate::StorageError;

const HARD_STATE: &[u8] = b"hard_state";
const CONF_STATE: &[u8] = b"conf_state";
const SNAPSHOT: &[u8] = b"snapshot";
const NODE_IDENTITY: &[u8] = b"node_identity";

/// The Raft log, hard state, conf state and latest snapshot of this node. Cheap to clone: clones
/// share the trees and the in-memory cache of the log's bounds.
#[derive(Clone)]
pub struct RaftLog {
    entries: sled::Tree,
    meta: sled::Tree,
    /// Every write holds this lock from its first read to its cache update, so the cache always
    /// describes what is in the trees.
    cache: Arc<Mutex<Cached>>,
}

/// What `first_index`, `last_index`, `term` (at the snapshot) and `is_initialized` answer without
/// touching sled.
#[derive(Debug, Clone, Copy)]
struct Cached {
    snapshot_index: u64,
    snapshot_term: u64,
    /// The last entry's index, `snapshot_index` when the log is empty.
    last_index: u64,
    /// Something (hard state, conf state, an entry or a snapshot) was persisted.
    initialized: bool,
}

impl Cached {
    fn first_index(&self) -> u64 {
        self.snapshot_index + 1
    }
}

impl RaftLog {
    /// Opens the log stored in these trees and checks it starts right after the snapshot.
    pub(crate) fn open(entries: sled::Tree, meta: sled::Tree) -> Result<Self, StorageError> {
        let (snapshot_index, snapshot_term) =
            match get_message::<Snapshot>(&meta, SNAPSHOT, "raft snapshot")? {
                Some(snapshot) => (snapshot.get_metadata().index, snapshot.get_metadata().term),
                None => (0, 0),
            };
        let first = entries
            .first()?
            .map(|(k, _)| decode_index(&k))
            .transpose()?;
        let last = entries.last()?.map(|(k, _)| decode_index(&k)).transpose()?;
        let last_index = match (first, last) {
            (Some(first), Some(last)) => {
                if first != snapshot_index + 1 {
                    return Err(StorageError::Gap {
                        expected: snapshot_index + 1,
                        got: first,
                    });
                }
                last
            }
            _ => snapshot_index,
        };
        let initialized = last.is_some()
            || meta.contains_key(HARD_STATE)?
            || meta.contains_key(CONF_STATE)?
            || meta.contains_key(SNAPSHOT)?;
        Ok(Self {
            entries,
            meta,
            cache: Arc::new(Mutex::new(Cached {
                snapshot_index,
                snapshot_term,
                last_index,
                initialized,
            })),
        })
    }

    /// True once anything was ever persisted (hard state, conf state, entries or snapshot): a
    /// node restarted with its data dir. The node identity does not count.
    pub fn is_initialized(&self) -> bool {
        self.cache().initialized
    }

    /// For a brand-new cluster: stores a conf state with these voters at index 0 (no entry, no
    /// snapshot). Every founding node must bootstrap with the same voters.
    pub fn bootstrap(&self, voters: &[u64]) -> Result<(), StorageError> {
        let mut cache = self.cache();
        if cache.initialized {
            return Err(StorageError::AlreadyInitialized);
        }
        if voters.is_empty() {
            return Err(StorageError::NoVoters);
        }
        let conf_state = ConfState {
            voters: voters.to_vec(),
            ..Default::default()
        };
        self.meta
            .insert(CONF_STATE, encode(&conf_state, "conf state")?)?;
        cache.initialized = true;
        Ok(())
    }

    /// Discards the whole Raft state (entries, hard state, conf state, snapshot) in one
    /// transaction, keeping the node identity: for a node that rejoins its cluster as a new
    /// member (`strait node --rejoin`). Afterwards the log is as a new node's.
    pub fn reset(&self) -> Result<(), StorageError> {
        let mut cache = self.cache();
        let mut meta = sled::Batch::default();
        for key in [HARD_STATE, CONF_STATE, SNAPSHOT] {
            meta.remove(key);
        }
        let mut entries = sled::Batch::default();
        for key in self.entries.iter().keys() {
            entries.remove(key?);
        }
        self.write_atomically(&meta, &entries)?;
        *cache = Cached {
            snapshot_index: 0,
            snapshot_term: 0,
            last_index: 0,
            initialized: false,
        };
        Ok(())
    }

    /// Appends entries, replacing any conflicting suffix: the stored entries at and after the
    /// first new index are removed first. The entries must be contiguous and start at most one
    /// past the last stored entry, and not before the first one (compacted entries are
    /// committed and never rewritten).
    pub fn append(&self, entries: &[Entry]) -> Result<(), StorageError> {
        let Some(first) = entries.first() else {
            return Ok(());
        };
        let mut cache = self.cache();
        if first.index < cache.first_index() {
            return Err(StorageError::OverwriteCompacted {
                first_index: cache.first_index(),
                got: first.index,
            });
        }
        if first.index > cache.last_index + 1 {
            return Err(StorageError::Gap {
                expected: cache.last_index + 1,
                got: first.index,
            });
        }
        let mut batch = sled::Batch::default();
        let mut next = first.index;
        for entry in entries {
            if entry.index != next {
                return Err(StorageError::Gap {
                    expected: next,
                    got: entry.index,
                });
            }
            batch.insert(&index_key(entry.index)[..], encode(entry, "raft entry")?);
            next += 1;
        }
        let new_last = next - 1;
        // The old suffix the new entries do not overwrite key by key.
        for index in new_last + 1..=cache.last_index {
            batch.remove(&index_key(index)[..]);
        }
        self.entries.apply_batch(batch)?;
        cache.last_index = new_last;
        cache.initialized = true;
        Ok(())
    }

    pub fn set_hard_state(&self, hs: &HardState) -> Result<(), StorageError> {
        let mut cache = self.cache();
        self.meta.insert(HARD_STATE, encode(hs, "hard state")?)?;
        cache.initialized = true;
        Ok(())
    }

    /// Updates the commit index of the hard state only (after `Ready::committed_entries` or
    /// `LightReady::commit_index`). The commit index never goes back: a lower value is ignored.
    pub fn set_commit(&self, commit: u64) -> Result<(), StorageError> {
        let mut cache = self.cache();
        let mut hs = self.hard_state()?;
        if commit <= hs.commit {
            return Ok(());
        }
        hs.commit = commit;
        self.meta.insert(HARD_STATE, encode(&hs, "hard state")?)?;
        cache.initialized = true;
        Ok(())
    }

    pub fn set_conf_state(&self, cs: &ConfState) -> Result<(), StorageError> {
        let mut cache = self.cache();
        self.meta.insert(CONF_STATE, encode(cs, "conf state")?)?;
        cache.initialized = true;
        Ok(())
    }

    /// Installs a snapshot received from the leader (`Ready::snapshot`): it becomes the stored
    /// snapshot, the log restarts right after it, the conf state becomes the snapshot's and the
    /// hard state's term and commit are raised to at least the snapshot's.
    ///
    /// Every stored entry is dropped, also those after the snapshot's index: raft-rs only hands
    /// out a snapshot whose (index, term) the log does not match, so the log diverged from there.
    /// Fails with `SnapshotOutOfDate` when the snapshot is older than the log's first index.
    pub fn apply_snapshot(&self, snapshot: &Snapshot) -> Result<(), StorageError> {
        let mut cache = self.cache();
        let metadata = snapshot.get_metadata();
        let (index, term) = (metadata.index, metadata.term);
        if index < cache.first_index() {
            return Err(StorageError::SnapshotOutOfDate {
                index,
                first_index: cache.first_index(),
            });
        }
        let mut hs = self.hard_state()?;
        hs.term = hs.term.max(term);
        hs.commit = hs.commit.max(index);

        let mut meta = sled::Batch::default();
        meta.insert(SNAPSHOT, encode(snapshot, "raft snapshot")?);
        meta.insert(HARD_STATE, encode(&hs, "hard state")?);
        meta.insert(CONF_STATE, encode(metadata.get_conf_state(), "conf state")?);
        let mut entries = sled::Batch::default();
        for stale in cache.first_index()..=cache.last_index {
            entries.remove(&index_key(stale)[..]);
        }
        self.write_atomically(&meta, &entries)?;

        *cache = Cached {
            snapshot_index: index,
            snapshot_term: term,
            last_index: index,
            initialized: true,
        };
        Ok(())
    }

    /// Compaction: the state machine has applied `index` and `data` is its serialized state at
    /// that index. Stores them as the current snapshot, with the term of `index` and the stored
    /// conf state (so call it with the last applied index, once that index's conf changes are
    /// stored), and deletes the entries up to `index`.
    ///
    /// Applied entries are committed: the hard state's commit is raised to `index` if it lags
    /// (raft-rs refuses to restart with a commit index below the snapshot). Compacting to or
    /// below the current snapshot does nothing; past the last entry is an error.
    pub fn compact(&self, index: u64, data: Vec<u8>) -> Result<(), StorageError> {
        let mut cache = self.cache();
        if index <= cache.snapshot_index {
            return Ok(());
        }
        if index > cache.last_index {
            return Err(StorageError::CompactBeyondLog {
                index,
                last_index: cache.last_index,
            });
        }
        let term = self.read_entry(index)?.term;
        let mut snapshot = Snapshot {
            data: data.into(),
            ..Default::default()
        };
        let metadata = snapshot.mut_metadata();
        metadata.index = index;
        metadata.term = term;
        metadata.set_conf_state(self.conf_state()?);

        let mut meta = sled::Batch::default();
        meta.insert(SNAPSHOT, encode(&snapshot, "raft snapshot")?);
        let mut hs = self.hard_state()?;
        if hs.commit < index {
            hs.commit = index;
            meta.insert(HARD_STATE, encode(&hs, "hard state")?);
        }
        let mut entries = sled::Batch::default();
        for compacted in cache.first_index()..=index {
            entries.remove(&index_key(compacted)[..]);
        }
        self.write_atomically(&meta, &entries)?;

        cache.snapshot_index = index;
        cache.snapshot_term = term;
        cache.initialized = true;
        Ok(())
    }

    /// Flushes everything written so far to disk (the whole sled database). The Raft loop calls
    /// it before sending messages that require persistence.
    pub fn sync(&self) -> Result<(), StorageError> {
        self.meta.flush()?;
        Ok(())
    }

    /// The stored snapshot (metadata and data), if any.
    pub fn latest_snapshot(&self) -> Result<Option<Snapshot>, StorageError> {
        get_message(&self.meta, SNAPSHOT, "raft snapshot")
    }

    /// The node id and cluster id this data dir belongs to, once set.
    pub fn node_identity(&self) -> Result<Option<(u64, String)>, StorageError> {
        let Some(value) = self.meta.get(NODE_IDENTITY)? else {
            return Ok(None);
        };
        let corrupt = || StorageError::Corrupt {
            what: "node identity",
            len: value.len(),
        };
        if value.len() < 8 {
            return Err(corrupt());
        }
        let (node_id, cluster_id) = value.split_at(8);
        let node_id = u64::from_be_bytes(node_id.try_into().map_err(|_| corrupt())?);
        let cluster_id = std::str::from_utf8(cluster_id).map_err(|_| corrupt())?;
        Ok(Some((node_id, cluster_id.to_owned())))
    }

    /// Records (or replaces) the node id and cluster id this data dir belongs to.
    pub fn set_node_identity(&self, node_id: u64, cluster_id: &str) -> Result<(), StorageError> {
        let mut value = Vec::with_capacity(8 + cluster_id.len());
        value.extend_from_slice(&node_id.to_be_bytes());
        value.extend_from_slice(cluster_id.as_bytes());
        self.meta.insert(NODE_IDENTITY, value)?;
        Ok(())
    }

    fn cache(&self) -> MutexGuard<'_, Cached> {
        // The cache is only updated after a successful write and never left half-updated, so a
        // panic elsewhere while holding the lock leaves it valid.
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn hard_state(&self) -> Result<HardState, StorageError> {
        Ok(get_message(&self.meta, HARD_STATE, "hard state")?.unwrap_or_default())
    }

    fn conf_state(&self) -> Result<ConfState, StorageError> {
        Ok(get_message(&self.meta, CONF_STATE, "conf state")?.unwrap_or_default())
    }

    fn read_entry(&self, index: u64) -> Result<Entry, StorageError> {
        let value = self
            .entries
            .get(index_key(index))?
            .ok_or(StorageError::MissingEntry { index })?;
        let entry: Entry = decode(&value, "raft entry")?;
        debug_assert_eq!(entry.index, index, "raft entry stored under another index");
        Ok(entry)
    }

    /// Applies both batches in one transaction: all of it survives a crash, or none.
    fn write_atomically(
        &self,
        meta: &sled::Batch,
        entries: &sled::Batch,
    ) -> Result<(), StorageError> {
        (&self.meta, &self.entries)
            .transaction(|(meta_tx, entries_tx)| {
                meta_tx.apply_batch(meta)?;
                entries_tx.apply_batch(entries)?;
                Ok::<_, ConflictableTransactionError<Infallible>>(())
            })
            .map_err(|e| match e {
                TransactionError::Storage(e) => StorageError::Sled(e),
                TransactionError::Abort(never) => match never {},
            })
    }
}

impl raft::Storage for RaftLog {
    fn initial_state(&self) -> raft::Result<RaftState> {
        let _cache = self.cache(); // both read from one consistent state
        Ok(RaftState::new(self.hard_state()?, self.conf_state()?))
    }

    /// Entries `[low, high)`, at most `max_size` bytes of them but always at least one.
    /// `high` past the last entry + 1 is `Unavailable` (raft-rs's `MemStorage` panics).
    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        let max_size = max_size.into();
        let cache = self.cache();
        if low < cache.first_index() {
            return Err(raft::Error::Store(raft::StorageError::Compacted));
        }
        if high > cache.last_index + 1 || low > high {
            return Err(raft::Error::Store(raft::StorageError::Unavailable));
        }
        let mut entries = Vec::with_capacity((high - low).min(1024) as usize);
        let mut size = 0u64;
        let mut over_limit = false;
        for item in self.entries.range(index_key(low)..index_key(high)) {
            let (key, value) = item.map_err(StorageError::from)?;
            let expected = low + entries.len() as u64;
            if decode_index(&key)? != expected {
                return Err(StorageError::MissingEntry { index: expected }.into());
            }
            let entry: Entry = decode(&value, "raft entry")?;
            size += u64::from(entry.compute_size());
            entries.push(entry);
            // The entry that crosses the limit is the one `limit_size` drops (unless it is the
            // first): nothing after it can be returned, stop reading.
            if max_size.is_some_and(|max| size > max) {
                over_limit = true;
                break;
            }
        }
        let read_to = low + entries.len() as u64;
        if !over_limit && read_to < high {
            return Err(StorageError::MissingEntry { index: read_to }.into());
        }
        raft::util::limit_size(&mut entries, max_size);
        Ok(entries)
    }

    /// The term at `idx`, in `[first_index - 1, last_index]` (the snapshot's term at
    /// `first_index - 1`); `Compacted` below, `Unavailable` above.
    fn term(&self, idx: u64) -> raft::Result<u64> {
        let cache = self.cache();
        if idx == cache.snapshot_index {
            return Ok(cache.snapshot_term);
        }
        if idx < cache.first_index() {
            return Err(raft::Error::Store(raft::StorageError::Compacted));
        }
        if idx > cache.last_index {
            return Err(raft::Error::Store(raft::StorageError::Unavailable));
        }
        Ok(self.read_entry(idx)?.term)
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.cache().first_index())
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.cache().last_index)
    }

    /// The stored snapshot. `SnapshotTemporarilyUnavailable` when there is none yet (nothing was
    /// compacted, so raft-rs has entries to send instead) or it is older than `request_index`:
    /// raft-rs retries later, after the state machine compacted again.
    fn snapshot(&self, request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        match self.latest_snapshot()? {
            Some(snapshot) if snapshot.get_metadata().index >= request_index => Ok(snapshot),
            _ => Err(raft::Error::Store(
                raft::StorageError::SnapshotTemporarilyUnavailable,
            )),
        }
    }
}

/// Entry keys are big-endian so sled's byte order is index order.
fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

fn decode_index(key: &[u8]) -> Result<u64, StorageError> {
    let key: [u8; 8] = key.try_into().map_err(|_| StorageError::Corrupt {
        what: "raft entry key",
        len: key.len(),
    })?;
    Ok(u64::from_be_bytes(key))
}

fn encode(message: &impl protobuf::Message, what: &'static str) -> Result<Vec<u8>, StorageError> {
    message
        .write_to_bytes()
        .map_err(|source| StorageError::Encode { what, source })
}

fn decode<M: protobuf::Message>(bytes: &[u8], what: &'static str) -> Result<M, StorageError> {
    M::parse_from_bytes(bytes).map_err(|source| StorageError::Decode { what, source })
}

fn get_message<M: protobuf::Message>(
    tree: &sled::Tree,
    key: &[u8],
    what: &'static str,
) -> Result<Option<M>, StorageError> {
    tree.get(key)?.map(|v| decode(&v, what)).transpose()
}

#[cfg(test)]
mod tests;
