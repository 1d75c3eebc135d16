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
use rdkafka::admin::{
    AdminClient, AdminOptions, ConfigEntry, ConfigSource, NewPartitions, NewTopic,
    ResourceSpecifier, TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaResult;
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::{Offset, TopicPartitionList};

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

/// Like [`try_topics`], from a client with `props` on top of [`client_config`] (e.g. the SASL
/// settings of a secured listener).
pub fn try_topics_with(
    bootstrap: &str,
    props: &[(&str, &str)],
    timeout: Duration,
) -> KafkaResult<BTreeMap<String, usize>> {
    let mut config = client_config(bootstrap);
    for (key, value) in props {
        config.set(*key, *value);
    }
    let client: BaseProducer = config.create()?;
    let metadata = client.client().fetch_metadata(None, timeout)?;
    Ok(metadata
        .topics()
        .iter()
        .filter(|t| t.error().is_none())
        .map(|t| (t.name().to_owned(), t.partitions().len()))
        .collect())
}

/// Every topic name of the cluster with its partition count.
pub fn try_topics(bootstrap: &str, timeout: Duration) -> KafkaResult<BTreeMap<String, usize>> {
    try_topics_with(bootstrap, &[], timeout)
}

/// How many brokers the cluster's Metadata lists, `None` when it does not answer.
pub fn broker_count(bootstrap: &str, timeout: Duration) -> Option<usize> {
    let client: BaseProducer = client_config(bootstrap).create().ok()?;
    let metadata = client.client().fetch_metadata(None, timeout).ok()?;
    Some(metadata.brokers().len())
}

/// How many replicas each partition of `topic` has (by partition), from the cluster's Metadata;
/// empty when the topic does not exist.
pub fn replica_counts(bootstrap: &str, topic: &str) -> Vec<usize> {
    let client: BaseProducer = client_config(bootstrap)
        .create()
        .unwrap_or_else(|e| panic!("client for {bootstrap}: {e}"));
    let metadata = client
        .client()
        .fetch_metadata(None, METADATA_TIMEOUT)
        .unwrap_or_else(|e| panic!("metadata of {bootstrap}: {e}"));
    let mut counts: Vec<(i32, usize)> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic)
        .flat_map(|t| t.partitions().iter().map(|p| (p.id(), p.replicas().len())))
        .collect();
    counts.sort_unstable();
    counts.into_iter().map(|(_, n)| n).collect()
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

/// Creates `topic` like [`create_topic`], with `configs` (name, value) set on it.
pub fn create_topic_with_configs(
    bootstrap: &str,
    topic: &str,
    partitions: usize,
    configs: &[(&str, &str)],
) {
    let mut new_topic = NewTopic::new(
        topic,
        i32::try_from(partitions).expect("partition count fits i32"),
        TopicReplication::Fixed(mode::replication_factor()),
    );
    for (name, value) in configs {
        new_topic = new_topic.set(name, value);
    }
    let results = block_on(admin(bootstrap).create_topics([&new_topic], &admin_options()))
        .unwrap_or_else(|e| panic!("creating topic {topic} on {bootstrap}: {e}"));
    for result in results {
        if let Err((name, code)) = result {
            panic!("creating topic {name} on {bootstrap} with {configs:?}: {code}");
        }
    }
    wait_partition_count(bootstrap, topic, partitions);
}

/// Every entry DescribeConfigs returns for `topic`, as the broker labels it.
pub fn describe_topic_configs(bootstrap: &str, topic: &str) -> Vec<ConfigEntry> {
    let results = block_on(
        admin(bootstrap).describe_configs([&ResourceSpecifier::Topic(topic)], &admin_options()),
    )
    .unwrap_or_else(|e| panic!("describing the configs of {topic} on {bootstrap}: {e}"));
    let mut entries = Vec::new();
    for result in results {
        let resource = result
            .unwrap_or_else(|e| panic!("describing the configs of {topic} on {bootstrap}: {e}"));
        entries.extend(resource.entries);
    }
    entries
}

/// The configs set on `topic` itself (name -> value). Real Kafka labels them
/// DYNAMIC_TOPIC_CONFIG among all the topic's configs; Tansu 0.6 lists only the configs set on
/// the topic, each labelled DEFAULT_CONFIG, so there every entry is one.
pub fn topic_overrides(bootstrap: &str, topic: &str) -> BTreeMap<String, String> {
    let real_kafka = mode::is_real_kafka();
    describe_topic_configs(bootstrap, topic)
        .into_iter()
        .filter(|e| !real_kafka || e.source == ConfigSource::DynamicTopic)
        .filter_map(|e| Some((e.name, e.value?)))
        .collect()
}

/// Sets `set` (name, value) and removes `delete` on `topic` with IncrementalAlterConfigs, which
/// both real Kafka and Tansu offer (Tansu lacks the legacy AlterConfigs, the only one the rdkafka
/// crate wraps).
pub fn alter_topic_configs(bootstrap: &str, topic: &str, set: &[(&str, &str)], delete: &[&str]) {
    use rdkafka::bindings as rd;
    use std::ffi::{CStr, CString};

    let client = admin(bootstrap);
    let c = |s: &str| CString::new(s).expect("no NUL byte");
    let c_topic = c(topic);
    let ops: Vec<(CString, rd::rd_kafka_AlterConfigOpType_t, Option<CString>)> = set
        .iter()
        .map(|(name, value)| {
            (
                c(name),
                rd::rd_kafka_AlterConfigOpType_t::RD_KAFKA_ALTER_CONFIG_OP_TYPE_SET,
                Some(c(value)),
            )
        })
        .chain(delete.iter().map(|name| {
            (
                c(name),
                rd::rd_kafka_AlterConfigOpType_t::RD_KAFKA_ALTER_CONFIG_OP_TYPE_DELETE,
                None,
            )
        }))
        .collect();
    let what =
        format!("altering configs of {topic} on {bootstrap} (set {set:?}, delete {delete:?})");
    // SAFETY: every pointer is created here, checked, used while its owner lives and destroyed
    // once; the event is polled on a queue of our own.
    let failure = unsafe {
        let rk = client.inner().native_ptr();
        let resource = rd::rd_kafka_ConfigResource_new(
            rd::rd_kafka_ResourceType_t::RD_KAFKA_RESOURCE_TOPIC,
            c_topic.as_ptr(),
        );
        assert!(!resource.is_null(), "{what}: no config resource");
        for (name, op, value) in &ops {
            let value = value.as_ref().map_or(std::ptr::null(), |v| v.as_ptr());
            let error = rd::rd_kafka_ConfigResource_add_incremental_config(
                resource,
                name.as_ptr(),
                *op,
                value,
            );
            assert!(error.is_null(), "{what}: op on {name:?} refused");
        }
        let options = rd::rd_kafka_AdminOptions_new(
            rk,
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_INCREMENTALALTERCONFIGS,
        );
        let queue = rd::rd_kafka_queue_new(rk);
        let mut resources = [resource];
        rd::rd_kafka_IncrementalAlterConfigs(rk, resources.as_mut_ptr(), 1, options, queue);
        rd::rd_kafka_AdminOptions_destroy(options);
        rd::rd_kafka_ConfigResource_destroy(resource);
        let event = rd::rd_kafka_queue_poll(queue, ADMIN_TIMEOUT.as_millis() as i32);
        let failure = if event.is_null() {
            Some("no answer".to_owned())
        } else if rd::rd_kafka_event_error(event)
            != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
        {
            Some(
                CStr::from_ptr(rd::rd_kafka_event_error_string(event))
                    .to_string_lossy()
                    .into_owned(),
            )
        } else {
            let result = rd::rd_kafka_event_IncrementalAlterConfigs_result(event);
            let mut count = 0;
            let resources =
                rd::rd_kafka_IncrementalAlterConfigs_result_resources(result, &mut count);
            (0..count).find_map(|i| {
                let resource = *resources.add(i);
                let code = rd::rd_kafka_ConfigResource_error(resource);
                (code != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR).then(|| {
                    let detail = rd::rd_kafka_ConfigResource_error_string(resource);
                    let detail = if detail.is_null() {
                        String::new()
                    } else {
                        CStr::from_ptr(detail).to_string_lossy().into_owned()
                    };
                    format!("{code:?}: {detail}")
                })
            })
        };
        if !event.is_null() {
            rd::rd_kafka_event_destroy(event);
        }
        rd::rd_kafka_queue_destroy(queue);
        failure
    };
    if let Some(failure) = failure {
        panic!("{what}: {failure}");
    }
}

/// The offsets `group` committed on partitions `0..partitions` of `topic` (partitions without a
/// committed offset are left out).
pub fn committed_offsets(
    bootstrap: &str,
    group: &str,
    topic: &str,
    partitions: i32,
) -> BTreeMap<i32, i64> {
    let consumer: BaseConsumer = client_config(bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap_or_else(|e| panic!("consumer for {bootstrap}: {e}"));
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    consumer
        .committed_offsets(tpl, METADATA_TIMEOUT)
        .unwrap_or_else(|e| panic!("committed offsets of {group} on {bootstrap}: {e}"))
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some((e.partition(), o)),
            _ => None,
        })
        .collect()
}

/// DeleteRecords: the log start of `topic`/`partition` becomes `before`.
pub fn delete_records(bootstrap: &str, topic: &str, partition: i32, before: i64) {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(before))
        .expect("offset");
    let result = block_on(admin(bootstrap).delete_records(&tpl, &admin_options()))
        .unwrap_or_else(|e| panic!("DeleteRecords {topic}/{partition} before {before}: {e}"));
    for element in result.elements() {
        if let Err(e) = element.error() {
            panic!("DeleteRecords {topic}/{partition} before {before}: {e}");
        }
    }
}

/// Deletes the remote topic `topic`, which must hold records, and waits until the deletion took:
/// the cluster at `bootstrap` no longer lists it, or lists it again with every partition empty. A
/// running Strait's topic discovery (paused flows included) creates a missing remote topic at
/// its next refresh, which can come before any poll here sees the gap.
pub fn delete_remote_topic(bootstrap: &str, topic: &str) {
    request_delete(bootstrap, topic);
    let consumer: BaseConsumer = client_config(bootstrap)
        .set("group.id", "strait-tests-watermarks")
        .create()
        .unwrap_or_else(|e| panic!("consumer for {bootstrap}: {e}"));
    wait::until(
        &format!("{topic} gone from {bootstrap} or created again empty"),
        Duration::from_secs(60),
        Duration::from_millis(200),
        || match partition_count(bootstrap, topic) {
            None => Ok(()),
            Some(n) => {
                let mut ends = Vec::with_capacity(n);
                for p in 0..n as i32 {
                    let (_, high) = consumer
                        .fetch_watermarks(topic, p, METADATA_TIMEOUT)
                        .map_err(|e| format!("{n} partitions, watermarks of {p}: {e}"))?;
                    ends.push(high);
                }
                if ends.iter().all(|&h| h == 0) {
                    Ok(())
                } else {
                    Err(format!("{n} partitions ending at {ends:?}"))
                }
            }
        },
        String::new,
    );
}

fn request_delete(bootstrap: &str, topic: &str) {
    let results = block_on(admin(bootstrap).delete_topics(&[topic], &admin_options()))
        .unwrap_or_else(|e| panic!("deleting {topic} on {bootstrap}: {e}"));
    for result in results {
        if let Err((name, code)) = result {
            panic!("deleting {name} on {bootstrap}: {code}");
        }
    }
}

/// Deletes `topic` and waits until the cluster at `bootstrap` no longer lists it.
pub fn delete_topic(bootstrap: &str, topic: &str) {
    request_delete(bootstrap, topic);
    wait::until(
        &format!("{topic} gone from {bootstrap}"),
        Duration::from_secs(60),
        Duration::from_millis(200),
        || match partition_count(bootstrap, topic) {
            None => Ok(()),
            Some(n) => Err(format!("{n} partitions")),
        },
        String::new,
    );
}
