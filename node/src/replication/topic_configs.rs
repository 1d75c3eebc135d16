//! How a remote topic's configs follow its source topic's (`sync.topic.configs.enabled`).
//!
//! The remote topic's own configs (its overrides) are made equal to the source topic's, except the
//! names `config.properties.exclude` matches, which Strait never sets, changes or deletes on either
//! side. By default that is MirrorMaker 2's list: `min.insync.replicas`, the replication throttles,
//! `unclean.leader.election.enable`, `message.timestamp.type` and
//! `message.timestamp.difference.max.ms`, which depend on each cluster's size and operation, not on
//! the data. An override set or changed on the source is set on the target; one removed on the
//! source (back to the default) is deleted on the target, so the target's default applies there
//! too.
//!
//! This is what MirrorMaker 2 does since KIP-894 (Kafka 3.5, `use.incremental.alter.configs`):
//! `DefaultConfigPropertyFilter` leaves out the excluded names, and for every other config a
//! source default becomes a DELETE on the target (`use.defaults.from = target`, its default).
//! Before that, MirrorMaker 2 replaced the target's whole config with the legacy AlterConfigs,
//! which dropped removed overrides too. Users expect the remote topic to behave like the source
//! topic: an override left behind on the target (a `retention.ms` the source no longer has, a
//! `cleanup.policy=compact` the source dropped) makes it keep or delete different data. An
//! override set by hand on the remote topic is undone the same way, at the next refresh (MM2
//! undoes it at its next config sync); add its name to `config.properties.exclude` to keep it.
//!
//! Strait differs in two ways: it copies only configs set on the topic itself, never values the
//! source inherits from its broker settings (MM2 copies dynamic broker-level values too), so each
//! cluster keeps its own broker-wide settings; and it writes only when something differs.

use regex::Regex;

use crate::kafka::TopicConfigEntry;

/// What to change on the remote topic.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ConfigChanges {
    /// Set (new or changed value).
    pub set: Vec<TopicConfigEntry>,
    /// Delete (the target's default applies again).
    pub delete: Vec<String>,
}

impl ConfigChanges {
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.delete.is_empty()
    }
}

/// The source overrides the remote topic should have: all but the excluded names.
pub fn copyable(source: Vec<TopicConfigEntry>, exclude: &Regex) -> Vec<TopicConfigEntry> {
    source
        .into_iter()
        .filter(|e| !exclude.is_match(&e.name))
        .collect()
}

/// The changes that make the remote topic's overrides (`target`) equal to `wanted` (from
/// [`copyable`]), never touching an excluded name.
pub fn changes(
    wanted: &[TopicConfigEntry],
    target: &[TopicConfigEntry],
    exclude: &Regex,
) -> ConfigChanges {
    let set = wanted
        .iter()
        .filter(|w| !exclude.is_match(&w.name))
        .filter(|w| !target.contains(w))
        .cloned()
        .collect();
    let delete = target
        .iter()
        .filter(|t| !exclude.is_match(&t.name))
        .filter(|t| !wanted.iter().any(|w| w.name == t.name))
        .map(|t| t.name.clone())
        .collect();
    ConfigChanges { set, delete }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exclude() -> Regex {
        let names = strait_config::DEFAULT_CONFIG_PROPERTIES_EXCLUDE.join("|");
        Regex::new(&format!("^(?:{names})$")).unwrap()
    }

    fn entries(pairs: &[(&str, &str)]) -> Vec<TopicConfigEntry> {
        pairs
            .iter()
            .map(|(name, value)| TopicConfigEntry {
                name: (*name).to_owned(),
                value: (*value).to_owned(),
            })
            .collect()
    }

    #[test]
    fn copyable_leaves_out_excluded_names() {
        let source = entries(&[
            ("cleanup.policy", "compact"),
            ("min.insync.replicas", "2"),
            ("message.timestamp.type", "LogAppendTime"),
            ("retention.ms", "3600000"),
        ]);
        assert_eq!(
            copyable(source, &exclude()),
            entries(&[("cleanup.policy", "compact"), ("retention.ms", "3600000")])
        );
    }

    #[test]
    fn equal_overrides_need_no_write() {
        let both = entries(&[("cleanup.policy", "compact"), ("retention.ms", "3600000")]);
        assert!(changes(&both, &both, &exclude()).is_empty());
        assert!(changes(&[], &[], &exclude()).is_empty());
    }

    #[test]
    fn new_and_changed_are_set_removed_are_deleted() {
        let wanted = entries(&[("cleanup.policy", "compact"), ("retention.ms", "7200000")]);
        let target = entries(&[
            ("retention.ms", "3600000"),
            ("segment.bytes", "1048576"),
            ("max.message.bytes", "2000000"),
        ]);
        assert_eq!(
            changes(&wanted, &target, &exclude()),
            ConfigChanges {
                set: wanted.clone(),
                delete: vec!["segment.bytes".to_owned(), "max.message.bytes".to_owned()],
            }
        );
    }

    #[test]
    fn every_override_removed_on_the_source_is_deleted() {
        let target = entries(&[("cleanup.policy", "compact"), ("retention.ms", "3600000")]);
        assert_eq!(
            changes(&[], &target, &exclude()),
            ConfigChanges {
                set: vec![],
                delete: vec!["cleanup.policy".to_owned(), "retention.ms".to_owned()],
            }
        );
    }

    #[test]
    fn excluded_names_on_the_target_are_never_touched() {
        let target = entries(&[
            ("min.insync.replicas", "2"),
            ("unclean.leader.election.enable", "true"),
            ("retention.ms", "3600000"),
        ]);
        let wanted = entries(&[("retention.ms", "3600000")]);
        assert!(changes(&wanted, &target, &exclude()).is_empty());
        // Even if an excluded name reached `wanted`, it is not written.
        let wanted = entries(&[("min.insync.replicas", "1"), ("retention.ms", "3600000")]);
        assert!(changes(&wanted, &target, &exclude()).is_empty());
    }
}
