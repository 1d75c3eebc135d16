use std::path::Path;
use std::time::Duration;

use crate::{PositionStore, StorageError};

/// The node's sled database.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
}

impl Store {
    /// Opens (or creates) the database in `dir`. sled flushes its buffers to disk every
    /// `flush_every`: that interval bounds what a crash can lose of the latest writes.
    pub fn open(dir: &Path, flush_every: Duration) -> Result<Self, StorageError> {
        let flush_ms = flush_every.as_millis().clamp(1, u64::MAX as u128) as u64;
        let db = sled::Config::new()
            .path(dir)
            .flush_every_ms(Some(flush_ms))
            .open()
            .map_err(|source| StorageError::Open {
                path: dir.to_owned(),
                source,
            })?;
        Ok(Self { db })
    }

    pub fn positions(&self) -> Result<PositionStore, StorageError> {
        Ok(PositionStore::new(self.db.open_tree("positions")?))
    }

    /// Writes everything buffered to disk, e.g. before a clean exit.
    pub fn flush(&self) -> Result<(), StorageError> {
        self.db.flush()?;
        Ok(())
    }
}
