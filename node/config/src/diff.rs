//! What changes between two versions of the cluster's shared configuration: which flows and
//! Kafka clusters are added, removed or changed, and for a changed one which settings, with their
//! old and new values as TOML. The comparison is of the canonical texts' tables (see
//! [`crate::shared`]), so only what a node would run differently counts; secret client property
//! values are masked.

use std::collections::BTreeMap;

use crate::client_props::{is_secret, SECRET_MASK};
use crate::Settings;

/// The client tables of a flow: their keys are librdkafka properties (some of them secrets).
const CLIENT_TABLES: [&str; 4] = ["consumer", "producer", "source_admin", "target_admin"];

/// What a configuration change does to one flow or one Kafka cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedChange {
    pub item: Item,
    /// A flow's `SOURCE->TARGET` (`SOURCE->TARGET (heartbeats only)` for a pair of clusters
    /// without a flow, see [`crate::PairHeartbeats`]), or a cluster's alias.
    pub name: String,
    pub change: Change,
    /// For [`Change::Changed`]: each setting that differs, by key.
    pub settings: Vec<SettingChange>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Item {
    Flow,
    Cluster,
}

impl Item {
    pub fn as_str(self) -> &'static str {
        match self {
            Item::Flow => "flow",
            Item::Cluster => "cluster",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Added,
    Removed,
    Changed,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Changed => "changed",
        }
    }
}

/// One setting of a changed flow or cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingChange {
    /// As in the canonical TOML, client properties under their table: `topics`,
    /// `consumer.fetch.wait.max.ms`.
    pub key: String,
    /// The value as TOML (`["orders.*"]`, `true`, `"lz4"`); `None` when not set on that side.
    pub old: Option<String>,
    pub new: Option<String>,
}

impl Settings {
    /// What running `newer`'s clusters and flows instead of these changes: flows first, then
    /// clusters, each by name. Empty when both mean the same.
    pub fn shared_changes(&self, newer: &Settings) -> Vec<SharedChange> {
        let (old, new) = (self.shared_table(), newer.shared_table());
        let mut changes = Vec::new();
        for (item, section) in [(Item::Flow, "flows"), (Item::Cluster, "clusters")] {
            let (old, new) = (items(&old, section), items(&new, section));
            let names: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
            for name in names {
                let (change, settings) = match (old.get(name), new.get(name)) {
                    (None, Some(_)) => (Change::Added, Vec::new()),
                    (Some(_), None) => (Change::Removed, Vec::new()),
                    (Some(before), Some(after)) => {
                        let settings = setting_changes(before, after);
                        if settings.is_empty() {
                            continue;
                        }
                        (Change::Changed, settings)
                    }
                    (None, None) => continue,
                };
                changes.push(SharedChange {
                    item,
                    name: name.clone(),
                    change,
                    settings,
                });
            }
        }
        changes
    }
}

/// A setting's value as TOML, and how it is shown (masked when secret).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Value {
    raw: String,
    shown: String,
}

type Flat = BTreeMap<String, Value>;

/// The flows or clusters of a shared table, each flattened to `key -> value`.
fn items(table: &toml::Table, section: &str) -> BTreeMap<String, Flat> {
    let Some(toml::Value::Table(section)) = table.get(section) else {
        return BTreeMap::new();
    };
    section
        .iter()
        .filter_map(|(name, value)| {
            let toml::Value::Table(settings) = value else {
                return None;
            };
            let mut flat = BTreeMap::new();
            flatten("", settings, &mut flat);
            // A pair of clusters without a flow, written for its heartbeats only.
            let name = match settings.get("enabled") {
                Some(toml::Value::Boolean(false)) => format!("{name} (heartbeats only)"),
                _ => name.clone(),
            };
            Some((name, flat))
        })
        .collect()
}

/// `table`'s leaves under dotted keys; secret client property values shown masked.
fn flatten(prefix: &str, table: &toml::Table, out: &mut Flat) {
    for (key, value) in table {
        let path = format!("{prefix}{key}");
        match value {
            toml::Value::Table(inner) => flatten(&format!("{path}."), inner, out),
            value => {
                let in_client_table = CLIENT_TABLES.iter().any(|t| prefix == format!("{t}."));
                let raw = value.to_string();
                let shown = if in_client_table && is_secret(key) {
                    SECRET_MASK.to_owned()
                } else {
                    raw.clone()
                };
                out.insert(path, Value { raw, shown });
            }
        }
    }
}

fn setting_changes(old: &Flat, new: &Flat) -> Vec<SettingChange> {
    let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    keys.into_iter()
        .filter(|key| old.get(*key) != new.get(*key))
        .map(|key| SettingChange {
            key: key.clone(),
            old: old.get(key).map(|v| v.shown.clone()),
            new: new.get(key).map(|v| v.shown.clone()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::{load_text, Format};

    const BASE: &str = r#"
[clusters.A]
bootstrap_servers = "a:9092"
[clusters.B]
bootstrap_servers = "b:9092"
[flows."A->B"]
topics = ["orders.*"]
[flows."A->B".consumer]
"sasl.password" = "hunter2"
"#;

    fn load(text: &str) -> Settings {
        load_text(Path::new("test"), Format::Toml, text).unwrap()
    }

    fn keys(change: &SharedChange) -> Vec<&str> {
        change.settings.iter().map(|s| s.key.as_str()).collect()
    }

    #[test]
    fn the_same_meaning_changes_nothing() {
        let reordered = r#"
[flows."A->B"]
consumer = { "sasl.password" = "hunter2" }
topics = "orders.*"
[clusters.B]
bootstrap_servers = "b:9092"
[clusters.A]
bootstrap_servers = "a:9092"
"#;
        assert_eq!(load(BASE).shared_changes(&load(reordered)), Vec::new());
    }

    #[test]
    fn a_changed_setting_shows_its_old_and_new_values() {
        let new = load(&BASE.replace(r#"["orders.*"]"#, r#"["orders.*", "payments"]"#));
        let changes = load(BASE).shared_changes(&new);
        assert_eq!(changes.len(), 1, "{changes:?}");
        let change = &changes[0];
        assert_eq!(
            (change.item, change.name.as_str(), change.change),
            (Item::Flow, "A->B", Change::Changed)
        );
        assert_eq!(
            change.settings,
            vec![SettingChange {
                key: "topics".to_owned(),
                old: Some(r#"["orders.*"]"#.to_owned()),
                new: Some(r#"["orders.*", "payments"]"#.to_owned()),
            }]
        );
    }

    #[test]
    fn flows_and_clusters_added_and_removed() {
        let new = load(&format!(
            "{}{}",
            BASE.replace("a:9092", "a2:9092"),
            "[clusters.C]\nbootstrap_servers = \"c:9092\"\n[flows.\"A->C\"]\n"
        ));
        let changes = load(BASE).shared_changes(&new);
        let summary: Vec<(&str, &str, &str)> = changes
            .iter()
            .map(|c| (c.item.as_str(), c.name.as_str(), c.change.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                ("flow", "A->C", "added"),
                ("flow", "B->C (heartbeats only)", "added"),
                ("flow", "C->A (heartbeats only)", "added"),
                ("flow", "C->B (heartbeats only)", "added"),
                ("cluster", "A", "changed"),
                ("cluster", "C", "added"),
            ]
        );
        assert_eq!(keys(&changes[4]), ["bootstrap_servers"]);
        let back = new.shared_changes(&load(BASE));
        assert_eq!(back[0].change, Change::Removed);
    }

    #[test]
    fn secret_values_are_masked_and_other_client_properties_shown() {
        let new = load(&format!(
            "{}{}",
            BASE.replace("hunter2", "hunter3"),
            "\"fetch.wait.max.ms\" = 10\n[flows.\"A->B\".producer]\n\"linger.ms\" = 5\n"
        ));
        let changes = load(BASE).shared_changes(&new);
        let settings = &changes[0].settings;
        assert_eq!(
            keys(&changes[0]),
            [
                "consumer.fetch.wait.max.ms",
                "consumer.sasl.password",
                "producer.linger.ms"
            ]
        );
        assert_eq!(settings[0].old, None);
        assert_eq!(settings[0].new.as_deref(), Some(r#""10""#));
        assert_eq!(settings[1].old.as_deref(), Some(SECRET_MASK));
        assert_eq!(settings[1].new.as_deref(), Some(SECRET_MASK));
        let text = format!("{settings:?}");
        assert!(!text.contains("hunter"), "{text}");
    }

    #[test]
    fn a_masked_text_is_recognised_when_given_back() {
        let settings = load(BASE);
        let masked = settings.shared_config_masked();
        assert!(!masked.contains("hunter2"), "{masked}");
        assert!(settings.masked_secrets().is_empty());
        let given_back = load(&masked);
        assert_eq!(
            given_back.masked_secrets(),
            ["flow A->B: consumer property sasl.password"]
        );
    }
}
