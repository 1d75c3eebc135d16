//! Cluster administration for tests: client settings, topic listing, topic creation, partition
//! growth.
//!
//! Topic metadata is always read from the full topic listing, never by asking for one topic: a
//! Metadata request naming an unknown topic with `allow_auto_topic_creation` set creates it (Tansu
//! honours the flag and creates 4 partitions; librdkafka producers set it unless
//! `allow.auto.create.topics=false`), which would race with Strait creating the remote topic.
//! Every test client also sets `allow.auto.create.topics=false`.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::executor::block_on;
use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaResult;
use rdkafka::producer::{BaseProducer, Producer};

use crate::{mode, wait};

/// Timeout of one Metadata request.
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);
/// Timeout of one admin request.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Client settings every test client of the cluster at `bootstrap` starts from.
pub fn client_config(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("allow.auto.create.topics", "false");
    config
}

/// Every topic name of the cluster with its partition count.
pub fn try_topics(bootstrap: &str, timeout: Duration) -> KafkaResult<BTreeMap<String, usize>> {
    let client: BaseProducer = client_config(bootstrap).create()?;
    let metadata = client.client().fetch_metadata(None, timeout)?;
    Ok(metadata
        .topics()
        .iter()
        .filter(|t| t.error().is_none())
        .map(|t| (t.name().to_owned(), t.partitions().len()))
        .collect())
}

/// Every topic name of the cluster.
pub fn try_topic_names(bootstrap: &str, timeout: Duration) -> KafkaResult<Vec<String>> {
    Ok(try_topics(bootstrap, timeout)?.into_keys().collect())
}

/// Every topic name of the cluster with its partition count; panics when the cluster does not
/// answer.
pub fn topics(bootstrap: &str) -> BTreeMap<String, usize> {
    try_topics(bootstrap, METADATA_TIMEOUT)
        .unwrap_or_else(|e| panic!("listing the topics of {bootstrap}: {e}"))
}

/// Every topic name of the cluster starting with `prefix`, sorted.
pub fn topic_names_with_prefix(bootstrap: &str, prefix: &str) -> Vec<String> {
    topics(bootstrap)
        .into_keys()
        .filter(|name| name.starts_with(prefix))
        .collect()
}

/// The partition count of `topic`, `None` when it does not exist.
pub fn partition_count(bootstrap: &str, topic: &str) -> Option<usize> {
    topics(bootstrap).get(topic).copied()
}

fn admin(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    client_config(bootstrap)
        .create()
        .unwrap_or_else(|e| panic!("admin client for {bootstrap}: {e}"))
}

fn admin_options() -> AdminOptions {
    AdminOptions::new()
        .request_timeout(Some(ADMIN_TIMEOUT))
        .operation_timeout(Some(ADMIN_TIMEOUT))
}

/// Creates `topic` with `partitions` partitions (replication factor from
/// [`mode::replication_factor`]) and waits until the topic listing shows it.
pub fn create_topic(bootstrap: &str, topic: &str, partitions: usize) {
    let new_topic = NewTopic::new(
        topic,
        i32::try_from(partitions).expect("partition count fits i32"),
        TopicReplication::Fixed(mode::replication_factor()),
    );
    let results = block_on(admin(bootstrap).create_topics([&new_topic], &admin_options()))
        .unwrap_or_else(|e| panic!("creating topic {topic} on {bootstrap}: {e}"));
    for result in results {
        if let Err((name, code)) = result {
            panic!("creating topic {name} on {bootstrap}: {code}");
        }
    }
    wait_partition_count(bootstrap, topic, partitions);
}

/// Grows `topic` to `total` partitions (CreatePartitions: real Kafka only) and waits until the
/// topic listing shows them.
pub fn add_partitions(bootstrap: &str, topic: &str, total: usize) {
    let new_partitions = NewPartitions::new(topic, total);
    let results = block_on(admin(bootstrap).create_partitions([&new_partitions], &admin_options()))
        .unwrap_or_else(|e| panic!("growing {topic} on {bootstrap} to {total} partitions: {e}"));
    for result in results {
        if let Err((name, code)) = result {
            panic!("growing {name} on {bootstrap} to {total} partitions: {code}");
        }
    }
    wait_partition_count(bootstrap, topic, total);
}

/// Waits until `topic` shows `partitions` partitions in the topic listing.
pub fn wait_partition_count(bootstrap: &str, topic: &str, partitions: usize) {
    wait::until_ok(
        &format!("topic {topic} with {partitions} partitions on {bootstrap}"),
        || {
            let count = try_topics(bootstrap, METADATA_TIMEOUT)
                .map_err(|e| e.to_string())?
                .get(topic)
                .copied();
            match count {
                Some(count) if count == partitions => Ok(()),
                other => Err(format!("partition count {other:?}")),
            }
        },
        String::new,
    );
}
