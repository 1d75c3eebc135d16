//! Consumer groups of one cluster, through librdkafka: list them, read their committed offsets and
//! members, and commit offsets on a group's behalf, without ever joining it.
//!
//! rdkafka wraps neither ListConsumerGroupOffsets nor AlterConsumerGroupOffsets, so a consumer
//! client with the group's `group.id` does it: `committed_offsets` is an OffsetFetch, `commit` on a
//! consumer that never subscribed is a "simple" OffsetCommit (generation -1, no member id), which
//! brokers refuse while the group has active members, exactly what group offset sync needs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, DefaultConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use strait_config::ClientProps;
use strait_coordinator::TopicPartition;

/// A group's committed offset of one partition with the commit's metadata string ("" when none).
pub type CommittedOffset = (TopicPartition, i64, String);

/// A consumer group as ListGroups/DescribeGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSummary {
    pub name: String,
    /// The broker's state name (`Empty`, `Stable`, ...; Tansu says `Unknown`).
    pub state: String,
    /// Members currently in the group (DescribeGroups; Tansu lists none).
    pub members: usize,
}

/// Group operations on one cluster. Cheap to clone; keeps one client per group it talks to.
#[derive(Clone)]
pub struct GroupClient {
    props: ClientProps,
    timeout: Duration,
    /// A client without a group of its own, for listing.
    lister: Arc<BaseConsumer>,
    by_group: Arc<Mutex<HashMap<String, Arc<BaseConsumer>>>>,
}

impl GroupClient {
    /// `props`: the cluster's client properties (bootstrap servers, security).
    pub fn new(props: &ClientProps, timeout: Duration) -> Result<Self, KafkaError> {
        let lister = Self::config(props, "strait-group-lister").create()?;
        Ok(Self {
            props: props.clone(),
            timeout,
            lister: Arc::new(lister),
            by_group: Arc::default(),
        })
    }

    fn config(props: &ClientProps, group: &str) -> ClientConfig {
        let mut config = ClientConfig::new();
        for (key, value) in props {
            config.set(key, value);
        }
        config
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false");
        config
    }

    fn for_group(&self, group: &str) -> Result<Arc<BaseConsumer>, KafkaError> {
        let mut clients = self.by_group.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(client) = clients.get(group) {
            return Ok(client.clone());
        }
        let client: BaseConsumer<DefaultConsumerContext> =
            Self::config(&self.props, group).create()?;
        let client = Arc::new(client);
        clients.insert(group.to_owned(), client.clone());
        Ok(client)
    }

    /// Drops the clients of groups not in `keep` (groups that disappeared).
    pub fn retain(&self, keep: &[String]) {
        self.by_group
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|group, _| keep.contains(group));
    }

    /// Every group of the cluster (blocking: call from a blocking task).
    pub fn list(&self) -> Result<Vec<GroupSummary>, KafkaError> {
        let list = self.lister.fetch_group_list(None, self.timeout)?;
        Ok(list.groups().iter().map(summary).collect())
    }

    /// One group as DescribeGroups shows it (blocking).
    pub fn describe(&self, group: &str) -> Result<Option<GroupSummary>, KafkaError> {
        let list = self.lister.fetch_group_list(Some(group), self.timeout)?;
        Ok(list
            .groups()
            .iter()
            .find(|g| g.name() == group)
            .map(summary))
    }

    /// The group's active members as `client.id (host)`, empty when it has none or does not exist
    /// (blocking).
    pub fn members(&self, group: &str) -> Result<Vec<String>, KafkaError> {
        let list = self.lister.fetch_group_list(Some(group), self.timeout)?;
        Ok(list
            .groups()
            .iter()
            .filter(|g| g.name() == group)
            .flat_map(|g| g.members())
            .map(|m| format!("{} ({})", m.client_id(), m.client_host()))
            .collect())
    }

    /// The group's committed offsets on `partitions` (blocking); partitions without a commit are
    /// left out.
    pub fn committed(
        &self,
        group: &str,
        partitions: &[TopicPartition],
    ) -> Result<Vec<(TopicPartition, i64)>, KafkaError> {
        Ok(self
            .committed_with_metadata(group, partitions)?
            .into_iter()
            .map(|(tp, offset, _)| (tp, offset))
            .collect())
    }

    /// As [`committed`](Self::committed), with each commit's metadata string ("" when none): MM2
    /// carries it into the checkpoint and the synced target group.
    pub fn committed_with_metadata(
        &self,
        group: &str,
        partitions: &[TopicPartition],
    ) -> Result<Vec<CommittedOffset>, KafkaError> {
        if partitions.is_empty() {
            return Ok(Vec::new());
        }
        let mut tpl = TopicPartitionList::new();
        for tp in partitions {
            tpl.add_partition(&tp.topic, tp.partition);
        }
        let committed = self
            .for_group(group)?
            .committed_offsets(tpl, self.timeout)?;
        Ok(committed
            .elements()
            .iter()
            .filter(|e| e.error().is_ok())
            .filter_map(|e| match e.offset() {
                Offset::Offset(offset) if offset >= 0 => Some((
                    TopicPartition::new(e.topic(), e.partition()),
                    offset,
                    e.metadata().to_owned(),
                )),
                _ => None,
            })
            .collect())
    }

    /// Commits `offsets` for `group` without joining it (blocking). The broker refuses it while
    /// the group has active members.
    /// Each offset with its metadata string (as the source group committed it).
    pub fn commit(&self, group: &str, offsets: &[CommittedOffset]) -> Result<(), KafkaError> {
        let mut tpl = TopicPartitionList::new();
        for (tp, offset, metadata) in offsets {
            tpl.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(*offset))?;
            if !metadata.is_empty() {
                if let Some(mut element) = tpl.find_partition(&tp.topic, tp.partition) {
                    element.set_metadata(metadata.as_str());
                }
            }
        }
        self.for_group(group)?.commit(&tpl, CommitMode::Sync)
    }
}

fn summary(group: &rdkafka::groups::GroupInfo) -> GroupSummary {
    GroupSummary {
        name: group.name().to_owned(),
        state: group.state().to_owned(),
        members: group.members().len(),
    }
}
