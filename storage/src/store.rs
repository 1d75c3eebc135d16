use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::{OffsetMapStore, PositionStore, RaftLog, StorageError};

/// The node's sled database.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    /// The Raft log, opened once: its first/last index cache must be shared by every handle.
    raft: Arc<Mutex<Option<RaftLog>>>,
}

/// How long `Store::open` waits for the data dir's lock. sled 0.34 releases it asynchronously
/// after the last handle is dropped (spacejam/sled#1289), so reopening right after closing, in
/// the same process (a restarted actor, a test), can briefly find it still taken.
const LOCK_WAIT: Duration = Duration::from_secs(1);

impl Store {
    /// Opens (or creates) the database in `dir`. sled flushes its buffers to disk every
    /// `flush_every`: that interval bounds what a crash can lose of the latest writes.
    ///
    /// Waits up to a second for the data dir's lock (see `LOCK_WAIT`): a dir another process
    /// holds fails after that second.
    pub fn open(dir: &Path, flush_every: Duration) -> Result<Self, StorageError> {
        let flush_ms = flush_every.as_millis().clamp(1, u64::MAX as u128) as u64;
        let config = sled::Config::new().path(dir).flush_every_ms(Some(flush_ms));
        let started = Instant::now();
        let mut backoff = Duration::from_millis(5);
        let db = loop {
            match config.open() {
                Ok(db) => break db,
                Err(e) if is_lock_taken(&e) && started.elapsed() < LOCK_WAIT => {
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_millis(100));
                }
                Err(source) => {
                    return Err(StorageError::Open {
                        path: dir.to_owned(),
                        source,
                    })
                }
            }
        };
        Ok(Self {
            db,
            raft: Arc::default(),
        })
    }

    pub fn positions(&self) -> Result<PositionStore, StorageError> {
        Ok(PositionStore::new(
            self.db.open_tree("positions")?,
            self.offset_map()?,
        ))
    }

    /// The source → target offset runs of this node's partitions (tree `offset_runs`).
    pub fn offset_map(&self) -> Result<OffsetMapStore, StorageError> {
        Ok(OffsetMapStore::new(self.db.open_tree("offset_runs")?))
    }

    /// The Raft log, hard state, conf state and snapshot (trees `raft_entries` and `raft_meta`).
    /// Every call returns a handle to the same log (clones share their in-memory index cache).
    pub fn raft(&self) -> Result<RaftLog, StorageError> {
        let mut raft = self.raft.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(log) = raft.as_ref() {
            return Ok(log.clone());
        }
        let log = RaftLog::open(
            self.db.open_tree("raft_entries")?,
            self.db.open_tree("raft_meta")?,
        )?;
        *raft = Some(log.clone());
        Ok(log)
    }

    /// Writes everything buffered to disk, e.g. before a clean exit.
    /// A small value this node keeps for itself (e.g. the configuration it last started with).
    pub fn node_meta(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self
            .db
            .open_tree("node_meta")?
            .get(key.as_bytes())?
            .map(|v| v.to_vec()))
    }

    pub fn set_node_meta(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        self.db
            .open_tree("node_meta")?
            .insert(key.as_bytes(), value)?;
        Ok(())
    }

    pub fn flush(&self) -> Result<(), StorageError> {
        self.db.flush()?;
        Ok(())
    }
}

/// sled 0.34 reports a taken lock only through this message (an `io::Error` of kind `Other`).
fn is_lock_taken(e: &sled::Error) -> bool {
    matches!(e, sled::Error::Io(io) if io.to_string().starts_with("could not acquire lock"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_fails_while_the_dir_is_open() {
        let dir = tempfile::tempdir().unwrap();
        let _open = Store::open(dir.path(), Duration::from_millis(100)).unwrap();
        let started = Instant::now();
        let second = Store::open(dir.path(), Duration::from_millis(100));
        assert!(matches!(second, Err(StorageError::Open { .. })));
        assert!(
            started.elapsed() >= LOCK_WAIT,
            "it waited for the lock first"
        );
    }
}
