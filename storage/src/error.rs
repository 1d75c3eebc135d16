use std::path::PathBuf;

use thiserror::Error;

/// Storage failures. All of them are fatal for the node: a node that cannot persist positions must
/// not replicate, or a restart would replay or skip data.
#[derive(Debug, Error)]
pub enum StorageError {
    #[error("cannot open the data dir {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: sled::Error,
    },
    #[error("storage i/o failed: {0}")]
    Sled(#[from] sled::Error),
    #[error("corrupt {what} record in the store ({len} bytes)")]
    Corrupt { what: &'static str, len: usize },
}
