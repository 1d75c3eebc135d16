//! Why a configuration file was rejected.
//!
//! Every message starts with where the problem is (`file:line`, the environment variable that set
//! the value, or the file alone when no line applies), names the key, and says what is wrong or what
//! was expected, so `strait check-config` output can be acted on without reading the code. Secret
//! values are never echoed (see [`crate::client_props`]).

use std::fmt;
use std::io;
use std::path::PathBuf;

use thiserror::Error;

/// Where in a configuration a value was set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Place {
    /// The file as a whole (a key that is missing, or a rule between several keys).
    #[default]
    File,
    /// The 1-based line of the key in the file.
    Line(usize),
    /// The environment variable that overrides the file's value (`STRAIT__...`).
    Env(String),
}

impl Place {
    /// `Line(n)` for `Some(n)`, else `File`.
    pub(crate) fn line(line: Option<usize>) -> Self {
        line.map_or(Place::File, Place::Line)
    }

    /// The line, when the value was set on one.
    pub fn line_number(&self) -> Option<usize> {
        match self {
            Place::Line(line) => Some(*line),
            Place::File | Place::Env(_) => None,
        }
    }
}

/// Where a problem is: a file, and where in it (or in its environment overrides).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub place: Place,
}

impl Location {
    pub(crate) fn new(file: impl Into<PathBuf>, line: Option<usize>) -> Self {
        Self::at(file, Place::line(line))
    }

    pub(crate) fn at(file: impl Into<PathBuf>, place: Place) -> Self {
        Self {
            file: file.into(),
            place,
        }
    }
}

impl fmt::Display for Location {
    /// `file:line`, `environment variable NAME (overriding file)` or `file`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display();
        match &self.place {
            Place::File => write!(f, "{file}"),
            Place::Line(line) => write!(f, "{file}:{line}"),
            Place::Env(variable) => {
                write!(f, "environment variable {variable} (overriding {file})")
            }
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

    /// A line of a `.properties` file that cannot be read as `key = value`, or TOML that does not
    /// parse.
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

    /// A file a setting names (a TLS certificate or key) is missing or cannot be read.
    #[error("{at}: `{key}`: cannot read {}: {cause}", path.display())]
    UnreadableFile {
        at: Location,
        key: String,
        path: PathBuf,
        cause: io::Error,
    },

    /// Nothing to replicate.
    #[error("{at}: no flow is enabled: {hint}")]
    NoEnabledFlow { at: Location, hint: String },

    /// librdkafka rejects a client property (an unknown name, a bad value).
    #[error("{at}: `{key}` = {value:?}: {reason}")]
    ClientProperty {
        at: Location,
        key: String,
        /// As written, masked when secret.
        value: String,
        /// librdkafka's message, and which client of which flow.
        reason: String,
    },

    /// A TOML value of the wrong kind (a string where a number is expected...).
    #[error("{at}: `{key}`: expected {expected}, found {found}")]
    WrongType {
        at: Location,
        key: String,
        /// What was found, e.g. `string "abc"` or `sequence` (secret values are never shown).
        found: String,
        expected: String,
    },

    /// Any other error of the `config` crate reading a TOML file or the environment overrides
    /// (syntax, unknown keys and type errors have their own variants, with the line).
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
        assert_eq!(
            Location::at(
                "/etc/strait.toml",
                Place::Env("STRAIT__CLUSTER__NODE_ID".to_owned())
            )
            .to_string(),
            "environment variable STRAIT__CLUSTER__NODE_ID (overriding /etc/strait.toml)"
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
