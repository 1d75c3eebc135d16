use std::fmt;

use crate::DomainError;

/// The name a Kafka cluster goes by in the configuration (`A`, `us-east`, `primary`).
///
/// It prefixes remote topic names under the default replication policy (`A.orders`), so it may not
/// be empty, contain whitespace, `->` or characters Kafka forbids in topic names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClusterAlias(String);

impl ClusterAlias {
    pub fn new(alias: impl Into<String>) -> Result<Self, DomainError> {
        let alias = alias.into();
        let reason = if alias.is_empty() {
            Some("it is empty")
        } else if alias.contains("->") {
            Some("it contains \"->\"")
        } else if !alias
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            Some("only ASCII letters, digits, '_', '-' and '.' are allowed")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(DomainError::InvalidAlias { alias, reason }),
            None => Ok(Self(alias)),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClusterAlias {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_usual_aliases() {
        for alias in ["A", "us-east-1", "primary_dc", "dc.1"] {
            assert_eq!(ClusterAlias::new(alias).unwrap().as_str(), alias);
        }
    }

    #[test]
    fn rejects_bad_aliases() {
        for alias in ["", "A->B", "a b", "x/y"] {
            assert!(ClusterAlias::new(alias).is_err(), "{alias:?} accepted");
        }
    }
}
