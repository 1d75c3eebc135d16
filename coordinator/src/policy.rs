use crate::{ClusterAlias, DomainError};

/// MirrorMaker 2's heartbeats topic.
const HEARTBEATS: &str = "heartbeats";

/// MirrorMaker 2's identity policy treats names ending in `heartbeats` as heartbeats topics.
fn looks_like_heartbeats(topic: &str) -> bool {
    topic.ends_with(HEARTBEATS)
}

/// How remote topics are named, as MirrorMaker 2's `replication.policy.class` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicationPolicy {
    /// `DefaultReplicationPolicy`: `<source alias><separator><topic>`, e.g. `A.orders`.
    Default { separator: String },
    /// `IdentityReplicationPolicy`: the same name on both sides. Cannot detect cycles by name.
    Identity,
}

impl Default for ReplicationPolicy {
    fn default() -> Self {
        Self::Default {
            separator: ".".to_owned(),
        }
    }
}

impl ReplicationPolicy {
    pub fn default_with_separator(separator: impl Into<String>) -> Result<Self, DomainError> {
        let separator = separator.into();
        if separator.is_empty() {
            return Err(DomainError::EmptySeparator { separator });
        }
        Ok(Self::Default { separator })
    }

    /// The name `topic` of cluster `source` gets on the target. Heartbeats topics are prefixed
    /// even under the identity policy (as MirrorMaker 2 does), so `A.heartbeats` says where they
    /// came from.
    pub fn remote_topic(&self, source: &ClusterAlias, topic: &str) -> String {
        match self {
            Self::Default { separator } => format!("{source}{separator}{topic}"),
            Self::Identity if looks_like_heartbeats(topic) => format!("{source}.{topic}"),
            Self::Identity => topic.to_owned(),
        }
    }

    /// Whether `topic` is a heartbeats topic (`heartbeats`, `A.heartbeats`, `B.A.heartbeats`...):
    /// MirrorMaker 2 replicates those whatever the topic filter, which is how a cluster shows
    /// which clusters reach it.
    pub fn is_heartbeats_topic(&self, topic: &str) -> bool {
        let mut current = topic;
        while let Some(upstream) = self.upstream_topic(current) {
            current = upstream;
        }
        current == HEARTBEATS
    }

    /// The cluster a remote topic came from (`A` for `A.orders`), if its name says so.
    pub fn topic_source<'t>(&self, topic: &'t str) -> Option<&'t str> {
        self.split(topic).map(|(source, _)| source)
    }

    /// The name of `topic` one hop upstream (`orders` for `A.orders`).
    pub fn upstream_topic<'t>(&self, topic: &'t str) -> Option<&'t str> {
        self.split(topic).map(|(_, rest)| rest)
    }

    fn split<'t>(&self, topic: &'t str) -> Option<(&'t str, &'t str)> {
        let separator = match self {
            Self::Default { separator } => separator.as_str(),
            // Only heartbeats topics carry their source under the identity policy.
            Self::Identity if looks_like_heartbeats(topic) => ".",
            Self::Identity => return None,
        };
        let (source, rest) = topic.split_once(separator)?;
        (!source.is_empty() && !rest.is_empty()).then_some((source, rest))
    }

    /// MirrorMaker 2's cycle rule: walk the topic's upstream chain; if any hop came from `target`,
    /// sending it to `target` would close a cycle (`B.orders` on A is never sent back to B).
    pub fn would_cycle(&self, topic: &str, target: &ClusterAlias) -> bool {
        let mut current = topic;
        while let Some(source) = self.topic_source(current) {
            if source == target.as_str() {
                return true;
            }
            match self.upstream_topic(current) {
                Some(upstream) => current = upstream,
                None => break,
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alias(s: &str) -> ClusterAlias {
        ClusterAlias::new(s).unwrap()
    }

    #[test]
    fn default_policy_prefixes_the_source_alias() {
        let p = ReplicationPolicy::default();
        assert_eq!(p.remote_topic(&alias("A"), "orders"), "A.orders");
        assert_eq!(p.topic_source("A.orders"), Some("A"));
        assert_eq!(p.upstream_topic("A.orders"), Some("orders"));
        assert_eq!(p.topic_source("orders"), None);
    }

    #[test]
    fn custom_separator() {
        let p = ReplicationPolicy::default_with_separator("__").unwrap();
        assert_eq!(p.remote_topic(&alias("A"), "orders"), "A__orders");
        assert_eq!(p.topic_source("A__orders"), Some("A"));
        assert!(ReplicationPolicy::default_with_separator("").is_err());
    }

    #[test]
    fn identity_keeps_names() {
        let p = ReplicationPolicy::Identity;
        assert_eq!(p.remote_topic(&alias("A"), "orders"), "orders");
        assert!(!p.would_cycle("B.orders", &alias("B")));
    }

    #[test]
    fn heartbeats_topics_are_recognised_and_named_under_both_policies() {
        let d = ReplicationPolicy::default();
        assert!(d.is_heartbeats_topic("heartbeats"));
        assert!(d.is_heartbeats_topic("A.heartbeats"));
        assert!(d.is_heartbeats_topic("B.A.heartbeats"));
        assert!(!d.is_heartbeats_topic("A.orders"));
        assert!(!d.is_heartbeats_topic("myheartbeats"));
        assert!(d.would_cycle("B.heartbeats", &alias("B")));
        let i = ReplicationPolicy::Identity;
        assert_eq!(i.remote_topic(&alias("A"), "heartbeats"), "A.heartbeats");
        assert_eq!(
            i.remote_topic(&alias("B"), "A.heartbeats"),
            "B.A.heartbeats"
        );
        assert!(i.is_heartbeats_topic("A.heartbeats"));
        assert!(i.would_cycle("B.heartbeats", &alias("B")));
        assert_eq!(i.remote_topic(&alias("A"), "orders"), "orders");
    }

    #[test]
    fn cycles_are_detected_through_every_hop() {
        let p = ReplicationPolicy::default();
        assert!(p.would_cycle("B.orders", &alias("B")));
        assert!(p.would_cycle("C.B.orders", &alias("B")));
        assert!(!p.would_cycle("C.orders", &alias("B")));
        assert!(!p.would_cycle("orders", &alias("B")));
    }
}
