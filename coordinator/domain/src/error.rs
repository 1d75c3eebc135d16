use thiserror::Error;

/// Invalid domain values: a bad alias, a bad flow name, a bad regular expression.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DomainError {
    #[error("invalid cluster alias {alias:?}: {reason}")]
    InvalidAlias { alias: String, reason: &'static str },
    #[error("invalid flow {flow:?}: expected SOURCE->TARGET with two different cluster aliases")]
    InvalidFlow { flow: String },
    #[error("invalid regular expression {pattern:?}: {reason}")]
    InvalidRegex { pattern: String, reason: String },
    #[error("invalid replication policy separator {separator:?}: it must not be empty")]
    EmptySeparator { separator: String },
}
