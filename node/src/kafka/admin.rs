//! Topic administration of one cluster: list topics with their partition counts, create remote
//! topics, grow partition counts, read and write topic configs.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::{
    AdminClient, AdminOptions, ConfigEntry, ConfigSource, NewPartitions, NewTopic,
    ResourceSpecifier, TopicReplication,
};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::ClientConfig;

use super::alter_configs::{incremental_alter_topic_configs, ConfigOp};
use super::context::ReportingContext;

/// A topic as seen in cluster metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceTopic {
    pub name: String,
    pub partitions: i32,
}

/// A topic config entry worth copying: set on the topic itself (Kafka's DYNAMIC_TOPIC_CONFIG), not
/// inherited from broker or built-in defaults, not read-only, not sensitive.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TopicConfigEntry {
    pub name: String,
    pub value: String,
}

/// Admin operations on one cluster. Cheap to clone.
#[derive(Clone)]
pub struct TopicAdmin {
    admin: Arc<AdminClient<ReportingContext>>,
    timeout: Duration,
}

impl TopicAdmin {
    pub fn new(
        config: &ClientConfig,
        context: ReportingContext,
        timeout: Duration,
    ) -> Result<Self, KafkaError> {
        let admin = config.create_with_context(context)?;
        Ok(Self {
            admin: Arc::new(admin),
            timeout,
        })
    }

    fn options(&self) -> AdminOptions {
        AdminOptions::new().request_timeout(Some(self.timeout))
    }

    /// Every topic of the cluster with its partition count. Topics whose metadata carries an
    /// error (e.g. being created right now) are left out until the next refresh.
    pub async fn list_topics(&self) -> Result<Vec<SourceTopic>, KafkaError> {
        let admin = self.admin.clone();
        let timeout = self.timeout;
        run_blocking(move || {
            let metadata = admin.inner().fetch_metadata(None, timeout)?;
            Ok(metadata
                .topics()
                .iter()
                .filter(|t| t.error().is_none())
                .map(|t| SourceTopic {
                    name: t.name().to_owned(),
                    partitions: t.partitions().len() as i32,
                })
                .collect())
        })
        .await
    }

    /// Creates `topic`; an already existing topic is not an error (another node, or a previous run,
    /// created it).
    pub async fn create_topic(
        &self,
        topic: &str,
        partitions: i32,
        replication_factor: Option<i16>,
        configs: &[TopicConfigEntry],
    ) -> Result<(), KafkaError> {
        // -1: the broker's default.replication.factor (KIP-464).
        let rf = replication_factor.map_or(-1, i32::from);
        let mut new_topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(rf));
        for entry in configs {
            new_topic = new_topic.set(&entry.name, &entry.value);
        }
        let results = self
            .admin
            .create_topics([&new_topic], &self.options())
            .await?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, code)) => return Err(KafkaError::AdminOp(code)),
            }
        }
        Ok(())
    }

    /// Grows `topic` to `total` partitions.
    pub async fn create_partitions(&self, topic: &str, total: i32) -> Result<(), KafkaError> {
        let request = NewPartitions::new(topic, total.max(0) as usize);
        let results = self
            .admin
            .create_partitions([&request], &self.options())
            .await?;
        for result in results {
            if let Err((_, code)) = result {
                return Err(KafkaError::AdminOp(code));
            }
        }
        Ok(())
    }

    /// The configs set on `topic` itself, minus read-only and sensitive entries (see
    /// [`topic_overrides`]), sorted by name.
    pub async fn topic_overrides(&self, topic: &str) -> Result<Vec<TopicConfigEntry>, KafkaError> {
        let results = self
            .admin
            .describe_configs([&ResourceSpecifier::Topic(topic)], &self.options())
            .await?;
        let mut entries = Vec::new();
        for result in results {
            let resource = result.map_err(KafkaError::AdminOp)?;
            entries.extend(resource.entries);
        }
        Ok(topic_overrides(entries))
    }

    /// Sets and deletes topic configs of `topic` in one IncrementalAlterConfigs request; other
    /// configs stay as they are. Nothing to do, nothing sent.
    pub async fn alter_topic_configs(
        &self,
        topic: &str,
        set: &[TopicConfigEntry],
        delete: &[String],
    ) -> Result<(), KafkaError> {
        let ops: Vec<ConfigOp> = set
            .iter()
            .map(|e| ConfigOp::Set {
                name: e.name.clone(),
                value: e.value.clone(),
            })
            .chain(
                delete
                    .iter()
                    .map(|name| ConfigOp::Delete { name: name.clone() }),
            )
            .collect();
        if ops.is_empty() {
            return Ok(());
        }
        let admin = self.admin.clone();
        let topic = topic.to_owned();
        let timeout = self.timeout;
        run_blocking(move || incremental_alter_topic_configs(admin.inner(), &topic, &ops, timeout))
            .await
    }
}

/// Topic configs every Apache Kafka broker lists in its DescribeConfigs answer for every topic,
/// set or not.
const ALWAYS_LISTED_BY_KAFKA: [&str; 5] = [
    "cleanup.policy",
    "compression.type",
    "max.message.bytes",
    "retention.ms",
    "segment.bytes",
];

/// The entries of a topic's DescribeConfigs answer that are set on the topic itself, minus
/// read-only and sensitive ones, sorted by name.
///
/// Kafka lists every topic config and labels the topic's own values DYNAMIC_TOPIC_CONFIG; only
/// those are copied, never a default (built-in or inherited from the broker: each cluster keeps
/// its own). Tansu 0.6 lists only the configs set on the topic but labels each DEFAULT_CONFIG:
/// an answer in which every entry is labelled a default and one of [`ALWAYS_LISTED_BY_KAFKA`] is
/// missing cannot be a Kafka broker's, so there every entry is the topic's own. A Kafka answer
/// never takes that path. (A Tansu topic with all five of those set looks like a Kafka answer
/// without overrides: its configs are then not copied.)
pub fn topic_overrides(entries: Vec<ConfigEntry>) -> Vec<TopicConfigEntry> {
    let lists_only_overrides = entries.iter().all(|e| e.source == ConfigSource::Default)
        && ALWAYS_LISTED_BY_KAFKA
            .iter()
            .any(|name| !entries.iter().any(|e| e.name == *name));
    let mut overrides: Vec<TopicConfigEntry> = entries
        .into_iter()
        .filter(|e| lists_only_overrides || e.source == ConfigSource::DynamicTopic)
        .filter(|e| !e.is_read_only && !e.is_sensitive)
        .filter_map(|e| {
            Some(TopicConfigEntry {
                name: e.name,
                value: e.value?,
            })
        })
        .collect();
    overrides.sort();
    overrides
}

/// Runs a blocking librdkafka call off the actor threads.
async fn run_blocking<T, F>(f: F) -> Result<T, KafkaError>
where
    F: FnOnce() -> Result<T, KafkaError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|join| {
        Err(KafkaError::AdminOpCreation(format!(
            "admin task failed: {join}"
        )))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, value: &str, source: ConfigSource) -> ConfigEntry {
        ConfigEntry {
            name: name.to_owned(),
            value: Some(value.to_owned()),
            is_default: source == ConfigSource::Default,
            source,
            is_read_only: false,
            is_sensitive: false,
        }
    }

    fn copied(entries: Vec<ConfigEntry>) -> Vec<(String, String)> {
        topic_overrides(entries)
            .into_iter()
            .map(|e| (e.name, e.value))
            .collect()
    }

    fn pair(name: &str, value: &str) -> (String, String) {
        (name.to_owned(), value.to_owned())
    }

    /// What Kafka answers for a topic with `retention.ms` and `cleanup.policy` set on it.
    fn kafka_answer() -> Vec<ConfigEntry> {
        vec![
            entry("cleanup.policy", "compact", ConfigSource::DynamicTopic),
            entry("compression.type", "producer", ConfigSource::Default),
            entry("max.message.bytes", "1048588", ConfigSource::Default),
            entry("min.insync.replicas", "2", ConfigSource::StaticBroker),
            entry("retention.ms", "3600000", ConfigSource::DynamicTopic),
            entry("segment.bytes", "1073741824", ConfigSource::DynamicBroker),
            entry(
                "segment.ms",
                "604800000",
                ConfigSource::DynamicDefaultBroker,
            ),
        ]
    }

    #[test]
    fn kafka_answer_copies_only_the_topics_own_values() {
        assert_eq!(
            copied(kafka_answer()),
            vec![
                pair("cleanup.policy", "compact"),
                pair("retention.ms", "3600000")
            ]
        );
    }

    #[test]
    fn kafka_answer_without_overrides_copies_no_default() {
        let defaults: Vec<ConfigEntry> = kafka_answer()
            .into_iter()
            .map(|mut e| {
                e.source = ConfigSource::Default;
                e.is_default = true;
                e
            })
            .collect();
        assert_eq!(copied(defaults), vec![]);
    }

    #[test]
    fn tansu_answer_lists_only_what_is_set_labelled_default() {
        let answer = vec![
            entry("retention.ms", "3600000", ConfigSource::Default),
            entry("cleanup.policy", "compact", ConfigSource::Default),
            entry("min.insync.replicas", "1", ConfigSource::Default),
        ];
        assert_eq!(
            copied(answer),
            vec![
                pair("cleanup.policy", "compact"),
                pair("min.insync.replicas", "1"),
                pair("retention.ms", "3600000")
            ]
        );
        assert_eq!(copied(Vec::new()), vec![]);
    }

    #[test]
    fn read_only_sensitive_and_valueless_entries_are_never_copied() {
        let mut answer = kafka_answer();
        answer[0].is_sensitive = true;
        answer[4].is_read_only = true;
        answer.push(ConfigEntry {
            value: None,
            ..entry("segment.jitter.ms", "", ConfigSource::DynamicTopic)
        });
        assert_eq!(copied(answer), vec![]);
    }
}
