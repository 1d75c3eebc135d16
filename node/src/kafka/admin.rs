//! Topic administration of one cluster: list topics with their partition counts, create remote
//! topics, grow partition counts, read and write topic configs.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::{
    AdminClient, AdminOptions, ConfigSource, NewPartitions, NewTopic, ResourceSpecifier,
    TopicReplication,
};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::ClientConfig;

use super::alter_configs::incremental_set_topic_configs;
use super::context::ReportingContext;

/// A topic as seen in cluster metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceTopic {
    pub name: String,
    pub partitions: i32,
}

/// A topic config entry worth copying: set on the topic itself (Kafka's DYNAMIC_TOPIC_CONFIG), not
/// inherited from broker or built-in defaults, not read-only, not sensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
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

    /// The configs set on `topic` itself (what MirrorMaker 2 copies), minus read-only and sensitive
    /// entries.
    pub async fn topic_overrides(&self, topic: &str) -> Result<Vec<TopicConfigEntry>, KafkaError> {
        let results = self
            .admin
            .describe_configs([&ResourceSpecifier::Topic(topic)], &self.options())
            .await?;
        let mut entries = Vec::new();
        for result in results {
            let resource = result.map_err(KafkaError::AdminOp)?;
            for entry in resource.entries {
                let copyable = entry.source == ConfigSource::DynamicTopic
                    && !entry.is_read_only
                    && !entry.is_sensitive;
                if let (true, Some(value)) = (copyable, entry.value) {
                    entries.push(TopicConfigEntry {
                        name: entry.name,
                        value,
                    });
                }
            }
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    /// Sets `entries` on `topic` with IncrementalAlterConfigs; other configs stay as they are.
    pub async fn set_topic_configs(
        &self,
        topic: &str,
        entries: &[TopicConfigEntry],
    ) -> Result<(), KafkaError> {
        if entries.is_empty() {
            return Ok(());
        }
        let admin = self.admin.clone();
        let topic = topic.to_owned();
        let pairs: Vec<(String, String)> = entries
            .iter()
            .map(|e| (e.name.clone(), e.value.clone()))
            .collect();
        let timeout = self.timeout;
        run_blocking(move || incremental_set_topic_configs(admin.inner(), &topic, &pairs, timeout))
            .await
    }
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
