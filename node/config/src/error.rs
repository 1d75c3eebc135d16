//! Why a configuration file was rejected.
//!
//! Every message starts with where the problem is (`file` or `file:line` for `.properties`), names
//! the key, and says what is wrong or what was expected, so `strait check-config` output can be acted
//! on without reading the code. Secret values are never echoed (see [`crate::client_props`]).

use std::fmt;
use std::io;
use std::path::PathBuf;

use thiserror::Error;

/// Where a problem is: a file, and for `.properties` files the 1-based line of the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: Option<usize>,
}

impl Location {
    pub(crate) fn new(file: impl Into<PathBuf>, line: Option<usize>) -> Self {
        Self {
            file: file.into(),
            line,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}", self.file.display()),
            None => write!(f, "{}", self.file.display()),
        }
    }
}

/// A configuration Strait refuses to run with.
///
/// The OS and `config` crate errors are kept as values (`cause`) and printed in the message; they are
/// not reported as `source()` as well, so error chains do not print them twice.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file cannot be read (missing, permission, not UTF-8...).
    #[error("cannot read {}: {cause}", file.display())]
    Read { file: PathBuf, cause: io::Error },

    /// Neither `.properties` nor `.toml`.
    #[error(
        "{}: unknown configuration format: expected a MirrorMaker 2 `.properties` file or a \
         Strait `.toml` file",
        file.display()
    )]
    UnknownFormat { file: PathBuf },

    /// A line of a `.properties` file that cannot be read as `key = value`.
    #[error("{at}: {reason}")]
    Syntax { at: Location, reason: String },

    /// A required key is absent.
    #[error("{at}: `{key}` is required: {hint}")]
    MissingKey {
        at: Location,
        key: String,
        hint: String,
    },

    /// A flow names a cluster that is not defined.
    #[error("{at}: `{key}` names cluster {alias}, which is not in {defined}")]
    UnknownCluster {
        at: Location,
        key: String,
        alias: String,
        /// What defines clusters, with the known aliases, e.g. "`clusters` (A, B)".
        defined: String,
    },

    /// A pattern of `topics`, `topics.exclude` or `config.properties.exclude` does not compile.
    #[error("{at}: invalid regular expression {pattern:?} in `{key}`: {reason}")]
    InvalidRegex {
        at: Location,
        key: String,
        pattern: String,
        reason: String,
    },

    /// A cluster used by an enabled flow has no bootstrap servers.
    #[error("{at}: cluster {cluster} has no bootstrap servers: set `{key}` (flow {flow} uses it)")]
    MissingBootstrap {
        at: Location,
        cluster: String,
        /// The key to set, e.g. `A.bootstrap.servers` or `clusters.A.bootstrap_servers`.
        key: String,
        flow: String,
    },

    /// A value of the wrong kind or out of range (secret values are masked).
    #[error("{at}: invalid value {value:?} for `{key}`: expected {expected}")]
    InvalidValue {
        at: Location,
        key: String,
        value: String,
        expected: String,
    },

    /// A key that cannot be accepted (an unknown `strait.*` key, a node setting given per flow, a bad
    /// alias or flow name...).
    #[error("{at}: `{key}`: {reason}")]
    InvalidKey {
        at: Location,
        key: String,
        reason: String,
    },

    /// A value that is valid on its own but repeats an item or contradicts another setting (the
    /// cluster settings: a duplicate peer, a peer list without this node, `peers` and `join` both
    /// set...). `reason` names the other setting.
    #[error("{at}: `{key}` = {value:?}: {reason}")]
    Conflict {
        at: Location,
        key: String,
        value: String,
        reason: String,
    },

    /// Nothing to replicate.
    #[error("{at}: no flow is enabled: {hint}")]
    NoEnabledFlow { at: Location, hint: String },

    /// The TOML file does not parse or does not match the expected structure (unknown field, wrong
    /// type); the `config` crate's message names the key.
    #[error("{}: {cause}", file.display())]
    Toml {
        file: PathBuf,
        cause: config::ConfigError,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_shows_the_line_when_known() {
        assert_eq!(
            Location::new("/etc/mm2.properties", Some(12)).to_string(),
            "/etc/mm2.properties:12"
        );
        assert_eq!(
            Location::new("/etc/strait.toml", None).to_string(),
            "/etc/strait.toml"
        );
    }

    #[test]
    fn read_error_names_the_file_and_the_os_error() {
        let err = ConfigError::Read {
            file: "/nope/mm2.properties".into(),
            cause: io::Error::from(io::ErrorKind::NotFound),
        };
        let msg = err.to_string();
        assert!(msg.contains("/nope/mm2.properties"), "{msg}");
        assert!(msg.contains("not found"), "{msg}");
    }
}
