use thiserror::Error;

use crate::kafka::ClientRole;

/// Why a node could not start or had to stop.
#[derive(Debug, Error)]
pub enum NodeError {
    #[error(transparent)]
    Config(Box<strait_config::ConfigError>),
    #[error(transparent)]
    Storage(#[from] strait_storage::StorageError),
    /// librdkafka rejected a client configuration (its message names the property).
    #[error("flow {flow}: cannot create the {role}: {source}")]
    Client {
        flow: String,
        role: ClientRole,
        #[source]
        source: rdkafka::error::KafkaError,
    },
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
    #[error(transparent)]
    SharedConfig(Box<crate::shared_config::SharedConfigError>),
    /// The metrics endpoint could not start (e.g. its address is taken).
    #[error("{0}")]
    Metrics(String),
    #[error("cannot start the actor system: {0}")]
    Runtime(#[from] std::io::Error),
}

impl From<strait_config::ConfigError> for NodeError {
    fn from(error: strait_config::ConfigError) -> Self {
        Self::Config(Box::new(error))
    }
}

impl From<crate::shared_config::SharedConfigError> for NodeError {
    fn from(error: crate::shared_config::SharedConfigError) -> Self {
        Self::SharedConfig(Box::new(error))
    }
}

impl NodeError {
    /// Process exit code: 2 for bad input (configuration), 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Config(_) | Self::Client { .. } => 2,
            // The operator must decide: which data dir is the node's, or `--rejoin`.
            Self::Cluster(
                crate::cluster::ClusterError::ForeignDataDir { .. }
                | crate::cluster::ClusterError::LostRaftState { .. }
                | crate::cluster::ClusterError::NotAMember { .. }
                | crate::cluster::ClusterError::Removed(_),
            ) => 2,
            Self::Storage(_)
            | Self::Runtime(_)
            | Self::Cluster(_)
            | Self::SharedConfig(_)
            | Self::Metrics(_) => 1,
        }
    }
}
