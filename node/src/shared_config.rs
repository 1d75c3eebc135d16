//! One configuration for the cluster.
//!
//! The flows (and the clusters they name) live in the Raft state as a versioned entry. The first
//! node of a new cluster proposes its file's; afterwards a node proposes its file only when the file
//! changed since this node last started (a node restarted with an edited file), and otherwise runs
//! the committed version, saying so when its file disagrees. No node runs settings of its own, and
//! two nodes with different files do not flip-flop: the one that did not change follows. When two
//! nodes restart with different edits at once, the first committed wins and the other follows it
//! (its edit is not proposed again until its file changes again).

use std::time::Duration;

use strait_config::{ConfigError, Settings};
use strait_coordinator::raft::{ProposeError, RaftHandle};
use strait_coordinator::state::{ApplyOutcome, Command, FlowConfig};
use strait_coordinator::NodeId;
use strait_storage::Store;

/// The key under which a node keeps the shared configuration of its own file at its last start.
const LAST_OWN_CONFIG: &str = "last_own_config";

/// The configuration a node runs.
pub struct Adopted {
    /// The committed version.
    pub version: u64,
    /// This node's settings with the committed clusters and flows.
    pub settings: Settings,
    /// Set when this node's file disagrees with what it runs.
    pub disagreement: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SharedConfigError {
    #[error("the cluster's configuration version {version} cannot be read: {source}")]
    Unreadable {
        version: u64,
        #[source]
        source: Box<ConfigError>,
    },
    #[error(transparent)]
    Storage(#[from] strait_storage::StorageError),
}

/// Settles which configuration this node runs (see the module docs). Waits (retrying) while the
/// cluster has no leader.
pub async fn adopt(
    raft: &RaftHandle,
    store: &Store,
    node: NodeId,
    own: &Settings,
) -> Result<Adopted, SharedConfigError> {
    let own_text = own.shared_config();
    let last_own = store.node_meta(LAST_OWN_CONFIG)?;
    let file_changed = last_own
        .as_deref()
        .is_some_and(|last| last != own_text.as_bytes());
    let mut proposed = false;
    loop {
        let state = raft.state();
        let committed = state.flow_config().cloned();
        let proposal = match &committed {
            None => Some(1),
            Some(c) if c.settings == own_text.as_bytes() => None,
            Some(c) if file_changed && !proposed => Some(c.version + 1),
            Some(_) => None,
        };
        if let Some(version) = proposal {
            let command = Command::SetFlowConfig(FlowConfig {
                version,
                settings: own_text.clone().into_bytes(),
                origin_node: node,
            });
            match raft.propose(command).await {
                Ok(ApplyOutcome::Applied) => {
                    tracing::info!(version, "proposed this node's configuration to the cluster");
                    proposed = true;
                }
                // Someone else's version got in first: look again.
                Ok(_) => proposed = true,
                Err(ProposeError::NoLeader | ProposeError::Timeout(_)) => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(error) => {
                    tracing::warn!(%error, "configuration proposal failed, retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
            continue;
        }
        let Some(committed) = committed else {
            continue;
        };
        store.set_node_meta(LAST_OWN_CONFIG, own_text.as_bytes())?;
        // Durable now: losing it in a crash would make an unchanged file look changed next time.
        store.flush()?;
        return from_committed(own, &own_text, &committed);
    }
}

/// This node's settings with the clusters and flows of `committed`.
pub fn from_committed(
    own: &Settings,
    own_text: &str,
    committed: &FlowConfig,
) -> Result<Adopted, SharedConfigError> {
    let text = String::from_utf8_lossy(&committed.settings);
    let settings =
        own.with_shared_config(&text)
            .map_err(|source| SharedConfigError::Unreadable {
                version: committed.version,
                source: Box::new(source),
            })?;
    let disagreement = (text != own_text).then(|| {
        format!(
            "the configuration file {} differs from the cluster's version {} (from node {}): \
             running the cluster's version",
            own.file.display(),
            committed.version,
            committed.origin_node
        )
    });
    if let Some(message) = &disagreement {
        tracing::warn!(version = committed.version, "{message}");
    }
    Ok(Adopted {
        version: committed.version,
        settings,
        disagreement,
    })
}
