use std::fmt;
use std::str::FromStr;

use crate::{ClusterAlias, DomainError};

/// One direction of replication: every selected topic of `source` is copied to `target`.
/// Written `A->B`, as in MirrorMaker 2.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlowId {
    pub source: ClusterAlias,
    pub target: ClusterAlias,
}

impl FlowId {
    pub fn new(source: ClusterAlias, target: ClusterAlias) -> Result<Self, DomainError> {
        if source == target {
            return Err(DomainError::InvalidFlow {
                flow: format!("{source}->{target}"),
            });
        }
        Ok(Self { source, target })
    }
}

impl fmt::Display for FlowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}->{}", self.source, self.target)
    }
}

impl FromStr for FlowId {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || DomainError::InvalidFlow { flow: s.to_owned() };
        let (source, target) = s.split_once("->").ok_or_else(invalid)?;
        let source = ClusterAlias::new(source.trim()).map_err(|_| invalid())?;
        let target = ClusterAlias::new(target.trim()).map_err(|_| invalid())?;
        Self::new(source, target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let flow: FlowId = "A->B".parse().unwrap();
        assert_eq!(flow.source.as_str(), "A");
        assert_eq!(flow.target.as_str(), "B");
        assert_eq!(flow.to_string(), "A->B");
    }

    #[test]
    fn rejects_loops_and_garbage() {
        for s in ["A->A", "AB", "->B", "A->", "A->B->C"] {
            assert!(s.parse::<FlowId>().is_err(), "{s:?} accepted");
        }
    }
}
