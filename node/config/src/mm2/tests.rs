use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use strait_coordinator::ReplicationPolicy;

use super::parse;
use crate::error::ConfigError;
use crate::model::{ClusterMembership, LogFormat, Peer, Settings};

const FILE: &str = "/etc/strait/mm2.properties";

fn load(text: &str) -> Settings {
    match parse(Path::new(FILE), text, Some(HashMap::new())) {
        Ok(settings) => settings,
        Err(e) => panic!("{e}"),
    }
}

fn error(text: &str) -> String {
    match parse(Path::new(FILE), text, Some(HashMap::new())) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn assert_mentions(msg: &str, parts: &[&str]) {
    for part in parts {
        assert!(msg.contains(part), "{part:?} missing in: {msg}");
    }
}

const BASE: &str = "clusters = A, B\n\
                    A.bootstrap.servers = a:9092\n\
                    B.bootstrap.servers = b:9092\n\
                    A->B.enabled = true\n";

/// Kafka's config/connect-mirror-maker.properties, as shipped.
const CONNECT_MIRROR_MAKER: &str = r#"# Licensed to the Apache Software Foundation (ASF) under A or more
# contributor license agreements.
#
# This is a comma separated host:port pairs for each cluster
# for e.g. "A_host1:9092, A_host2:9092, A_host3:9092"

# specify any number of cluster aliases
clusters = A, B

# connection information for each cluster
# This is a comma separated host:port pairs for each cluster
# for e.g. "A_host1:9092, A_host2:9092, A_host3:9092"
A.bootstrap.servers = A_host1:9092, A_host2:9092, A_host3:9092
B.bootstrap.servers = B_host1:9092, B_host2:9092, B_host3:9092

# enable and configure individual replication flows
A->B.enabled = true

# regex which defines which topics gets replicated. For eg "foo-.*"
A->B.topics = .*

B->A.enabled = true
B->A.topics = .*

# Setting replication factor of newly created remote topics
replication.factor=1

############################# Internal Topic Settings  #############################
# The replication factor for mm2 internal topics "heartbeats", "B.checkpoints.internal" and
# "mm2-offset-syncs.B.internal"
# For anything other than development testing, a value greater than 1 is recommended to ensure availability such as 3.
checkpoints.topic.replication.factor=1
heartbeats.topic.replication.factor=1
offset-syncs.topic.replication.factor=1

# The replication factor for connect internal topics "mm2-configs.B.internal", "mm2-offsets.B.internal" and
# "mm2-status.B.internal"
# For anything other than development testing, a value greater than 1 is recommended to ensure availability such as 3.
offset.storage.replication.factor=1
status.storage.replication.factor=1
config.storage.replication.factor=1

# customize as needed
# replication.policy.separator = _
# sync.topic.acls.enabled = false
# emit.heartbeats.interval.seconds = 5
"#;

#[test]
fn kafkas_connect_mirror_maker_properties_runs_unchanged() {
    let s = load(CONNECT_MIRROR_MAKER);
    assert_eq!(s.file, Path::new(FILE));
    let ids: Vec<String> = s.flows.iter().map(|f| f.id.to_string()).collect();
    assert_eq!(ids, ["A->B", "B->A"]);
    assert_eq!(
        s.clusters[&s.flows[0].id.source].bootstrap_servers,
        "A_host1:9092,A_host2:9092,A_host3:9092"
    );
    for flow in &s.flows {
        assert_eq!(flow.replication_factor, Some(1));
        assert_eq!(flow.topics.include_patterns(), [".*"]);
        assert_eq!(flow.replication_policy, ReplicationPolicy::default());
        assert_eq!(flow.refresh_topics_interval, Duration::from_secs(10));
    }
    assert_eq!(
        s.flows[0].consumer["bootstrap.servers"],
        "A_host1:9092,A_host2:9092,A_host3:9092"
    );
    assert_eq!(
        s.flows[0].producer["bootstrap.servers"],
        "B_host1:9092,B_host2:9092,B_host3:9092"
    );
    let ignored: Vec<(&str, Option<usize>)> =
        s.ignored.iter().map(|i| (i.key.as_str(), i.line)).collect();
    assert_eq!(
        ignored,
        [
            ("offset.storage.replication.factor", Some(39)),
            ("status.storage.replication.factor", Some(40)),
            ("config.storage.replication.factor", Some(41)),
        ]
    );
    assert!(s
        .ignored
        .iter()
        .all(|i| i.reason.contains("not implemented")));
}

#[test]
fn strait_defaults_differ_from_mm2_where_documented() {
    let s = load(BASE);
    let flow = &s.flows[0];
    assert_eq!(
        flow.replication_factor, None,
        "target broker default, not MM2's 2"
    );
    assert_eq!(flow.refresh_topics_interval, Duration::from_secs(10));
    assert_eq!(flow.topics.exclude_patterns().len(), 3);
    assert!(flow.sync_topic_configs);
    assert_eq!(s.node.data_dir, Path::new("/etc/strait/strait-data"));
    assert_eq!(s.node.log_format, LogFormat::Text);
    assert_eq!(s.node.progress_interval, Duration::from_secs(5));
    assert!(s.ignored.is_empty(), "{:?}", s.ignored);
}

#[test]
fn flow_level_keys_override_file_level_keys_for_that_flow_only() {
    let s = load(
        "clusters = A, B, C\n\
         A.bootstrap.servers = a:9092\n\
         B.bootstrap.servers = b:9092\n\
         C.bootstrap.servers = c:9092\n\
         A->B.enabled = true\n\
         A->C.enabled = true\n\
         topics = orders.*\n\
         replication.factor = 3\n\
         strait.max.in.flight.records = 500\n\
         sync.topic.configs.enabled = false\n\
         A->B.topics = payments.*\n\
         A->B.replication.factor = -1\n\
         A->B.strait.max.in.flight.records = 7\n\
         strait.throttle.bytes.per.second = 1048576\n\
         A->C.strait.throttle.bytes.per.second = 0\n\
         A->B.replication.policy.separator = _\n\
         A->B.refresh.topics.interval.seconds = 30\n",
    );
    let ab = &s.flows[0];
    let ac = &s.flows[1];
    assert_eq!(ab.id.to_string(), "A->B");
    assert_eq!(ab.topics.include_patterns(), ["payments.*"]);
    assert_eq!(ac.topics.include_patterns(), ["orders.*"]);
    assert_eq!(ab.replication_factor, None);
    assert_eq!(ac.replication_factor, Some(3));
    assert_eq!(ab.max_in_flight_records, 7);
    assert_eq!(ac.max_in_flight_records, 500);
    assert_eq!(ab.max_bytes_per_second, 1 << 20, "the file level applies");
    assert_eq!(ac.max_bytes_per_second, 0, "A->C's own value wins");
    assert_eq!(ab.max_records_per_second, 0);
    assert!(!ab.sync_topic_configs && !ac.sync_topic_configs);
    assert_eq!(
        ab.replication_policy.remote_topic(&ab.id.source, "orders"),
        "A_orders"
    );
    assert_eq!(
        ac.replication_policy.remote_topic(&ac.id.source, "orders"),
        "A.orders"
    );
    assert_eq!(ab.refresh_topics_interval, Duration::from_secs(30));
    assert_eq!(ac.refresh_topics_interval, Duration::from_secs(10));
}

#[test]
fn client_properties_merge_from_cluster_to_flow() {
    let s = load(&format!(
        "{BASE}\
         security.protocol = SASL_SSL\n\
         sasl.mechanism = PLAIN\n\
         A.client.id = cluster\n\
         A.security.protocol = SSL\n\
         A.consumer.client.id = cluster-consumer\n\
         A.consumer.fetch.min.bytes = 1\n\
         consumer.fetch.min.bytes = 2\n\
         consumer.check.crcs = true\n\
         source.consumer.check.crcs = false\n\
         A->B.consumer.client.id = flow-consumer\n\
         A->B.source.consumer.isolation.level = read_committed\n\
         B.producer.linger.ms = 50\n\
         A->B.target.producer.linger.ms = 7\n\
         producer.max.request.size = 2097152\n\
         A.admin.request.timeout.ms = 1000\n\
         A->B.target.admin.request.timeout.ms = 2000\n\
         admin.retries = 4\n"
    ));
    let a = &s.clusters[&s.flows[0].id.source];
    assert_eq!(a.client["client.id"], "cluster");
    assert_eq!(
        a.client["security.protocol"], "SSL",
        "A.<p> wins over file level"
    );
    assert_eq!(a.client["sasl.mechanism"], "PLAIN");
    assert_eq!(a.consumer["client.id"], "cluster-consumer");
    let b = &s.clusters[&s.flows[0].id.target];
    assert_eq!(
        b.client["security.protocol"], "SASL_SSL",
        "file level reaches B"
    );
    assert_eq!(b.producer["linger.ms"], "50");

    let flow = &s.flows[0];
    let c = &flow.consumer;
    assert_eq!(c["bootstrap.servers"], "a:9092");
    assert_eq!(c["security.protocol"], "SSL");
    assert_eq!(c["sasl.mechanism"], "PLAIN");
    assert_eq!(c["client.id"], "flow-consumer");
    assert_eq!(
        c["fetch.min.bytes"], "2",
        "file-level consumer.* over A.consumer.*"
    );
    assert_eq!(
        c["check.crcs"], "false",
        "source.consumer.* over consumer.*"
    );
    assert_eq!(c["isolation.level"], "read_committed");
    assert!(!c.contains_key("linger.ms"));

    let p = &flow.producer;
    assert_eq!(p["bootstrap.servers"], "b:9092");
    assert_eq!(p["security.protocol"], "SASL_SSL");
    assert_eq!(p["linger.ms"], "7");
    assert_eq!(
        p["message.max.bytes"], "2097152",
        "max.request.size translated"
    );
    assert!(!p.contains_key("client.id"));

    assert_eq!(flow.source_admin["request.timeout.ms"], "1000");
    assert_eq!(flow.source_admin["retries"], "4");
    assert_eq!(flow.source_admin["bootstrap.servers"], "a:9092");
    assert_eq!(flow.target_admin["request.timeout.ms"], "2000");
    assert_eq!(flow.target_admin["retries"], "4");
    assert_eq!(flow.target_admin["bootstrap.servers"], "b:9092");
}

#[test]
fn java_client_properties_are_translated_or_listed() {
    let s = load(&format!(
        "{BASE}\
         A.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule required \\\n\
         \x20   username=\"alice\" password=\"s3cret\";\n\
         A.ssl.truststore.location = /etc/kafka/ca.pem\n\
         A.ssl.truststore.password = changeit\n\
         A.consumer.key.deserializer = org.apache.kafka.common.serialization.ByteArrayDeserializer\n\
         linger.ms = 10\n"
    ));
    let consumer = &s.flows[0].consumer;
    assert_eq!(consumer["sasl.username"], "alice");
    assert_eq!(consumer["sasl.password"], "s3cret");
    assert!(!consumer.contains_key("sasl.jaas.config"));
    assert_eq!(consumer["ssl.ca.location"], "/etc/kafka/ca.pem");
    let reason = |key: &str| {
        s.ignored
            .iter()
            .find(|i| i.key == key)
            .unwrap_or_else(|| panic!("{key} not listed in {:?}", s.ignored))
            .reason
            .clone()
    };
    assert!(reason("A.ssl.truststore.password").contains("PEM truststores"));
    assert!(reason("A.consumer.key.deserializer").contains("raw bytes"));
    assert!(reason("linger.ms").contains("A.producer.linger.ms"));
    let password = s
        .ignored
        .iter()
        .filter(|i| i.key == "A.ssl.truststore.password")
        .count();
    assert_eq!(
        password, 1,
        "listed once, though translated for several clients"
    );
}

#[test]
fn java_truststores_are_refused_with_the_conversion() {
    let msg = error(&format!(
        "{BASE}\
         A.security.protocol = SASL_SSL\n\
         A.ssl.truststore.location = /etc/kafka/truststore.jks\n\
         A.ssl.truststore.password = changeit\n"
    ));
    assert_mentions(
        &msg,
        &[
            &format!("{FILE}:"),
            "`A.ssl.truststore.location`",
            "JKS truststore",
            "keytool -exportcert",
            "ssl.truststore.type = PEM",
        ],
    );
    assert!(!msg.contains("changeit"), "{msg}");
}

#[test]
fn recognised_and_unknown_keys_are_listed_with_their_reason() {
    let s = load(&format!(
        "{BASE}\
         tasks.max = 4\n\
         refresh.groups.interval.seconds = 60\n\
         offset.flush.interval.ms = 1000\n\
         A->B.exactly.once.foo = enabled\n\
         key.converter = org.apache.kafka.connect.converters.ByteArrayConverter\n\
         whatever.this.is = 1\n\
         A->B.whatever = 2\n\
         enabled = true\n\
         C.bootstrap.servers = c:9092\n\
         A->B.linger.ms = 5\n"
    ));
    let listed: Vec<(&str, usize, &str)> = s
        .ignored
        .iter()
        .map(|i| (i.key.as_str(), i.line.unwrap(), i.reason.as_str()))
        .collect();
    let reason = |key: &str| listed.iter().find(|l| l.0 == key).unwrap().2;
    assert!(reason("tasks.max").contains("not implemented"));
    assert!(reason("refresh.groups.interval.seconds").contains("not implemented"));
    assert!(reason("offset.flush.interval.ms").contains("not implemented"));
    assert!(reason("A->B.exactly.once.foo").contains("not implemented"));
    assert!(reason("key.converter").contains("not implemented"));
    assert_eq!(reason("whatever.this.is"), "unknown key");
    assert_eq!(reason("A->B.whatever"), "unknown key");
    assert!(reason("enabled").contains("A->B.enabled"));
    assert!(reason("C.bootstrap.servers").contains("not in `clusters = A, B`"));
    assert!(reason("A->B.linger.ms").contains("A->B.producer.*"));
    assert_eq!(
        listed[0],
        ("tasks.max", 5, reason("tasks.max")),
        "sorted by line"
    );
}

#[test]
fn disabled_flows_are_left_out_with_their_keys_listed() {
    let s = load(&format!(
        "{BASE}B->A.topics = orders\nB->A.enabled = false\n"
    ));
    assert_eq!(s.flows.len(), 1);
    let listed = &s.ignored[0];
    assert_eq!(listed.key, "B->A.topics");
    assert_eq!(listed.line, Some(5));
    assert!(
        listed.reason.contains("B->A is not enabled"),
        "{}",
        listed.reason
    );
}

#[test]
fn legacy_names_and_repeated_keys() {
    let s = load(&format!(
        "{BASE}\
         topics.blacklist = secret.*\n\
         config.properties.blacklist = retention\\\\.ms\n\
         A->B.topics.exclude = x\n\
         A->B.topics.blacklist = y\n\
         replication.factor = 2\n\
         replication.factor = 3\n"
    ));
    let flow = &s.flows[0];
    assert_eq!(
        flow.topics.exclude_patterns(),
        ["x"],
        "flow-level exclude wins"
    );
    assert!(flow.config_properties_exclude.is_match("retention.ms"));
    assert!(!flow
        .config_properties_exclude
        .is_match("min.insync.replicas"));
    assert_eq!(flow.replication_factor, Some(3), "the last value wins");
    let reasons: Vec<(&str, &str)> = s
        .ignored
        .iter()
        .map(|i| (i.key.as_str(), i.reason.as_str()))
        .collect();
    assert!(reasons.contains(&(
        "A->B.topics.blacklist",
        "deprecated name of topics.exclude, which is also set and wins"
    )));
    assert!(reasons.contains(&("replication.factor", "set again on line 10, which wins")));

    let s = load(&format!("{BASE}topics.blacklist = secret.*\n"));
    assert_eq!(s.flows[0].topics.exclude_patterns(), ["secret.*"]);
}

#[test]
fn replication_policies() {
    for (class, identity) in [
        (
            "org.apache.kafka.connect.mirror.DefaultReplicationPolicy",
            false,
        ),
        ("DefaultReplicationPolicy", false),
        (
            "org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
            true,
        ),
        ("IdentityReplicationPolicy", true),
    ] {
        let s = load(&format!("{BASE}replication.policy.class = {class}\n"));
        assert_eq!(
            s.flows[0].replication_policy == ReplicationPolicy::Identity,
            identity,
            "{class}"
        );
    }
    let msg = error(&format!(
        "{BASE}replication.policy.class = com.example.PrefixPolicy\n"
    ));
    assert_mentions(
        &msg,
        &[
            FILE,
            ":5:",
            "replication.policy.class",
            "com.example.PrefixPolicy",
            "IdentityReplicationPolicy",
        ],
    );
    let msg = error(&format!("{BASE}replication.policy.separator =\n"));
    assert_mentions(&msg, &[":5:", "replication.policy.separator", "non-empty"]);
}

#[test]
fn strait_keys() {
    let s = load(&format!(
        "{BASE}\
         strait.data.dir = /var/lib/strait\n\
         strait.log.format = JSON\n\
         strait.progress.interval.seconds = 0\n\
         strait.offset.trim.interval.seconds = 5\n\
         strait.shutdown.handover.timeout.seconds = 20\n\
         strait.max.in.flight.bytes = 1024\n\
         A->B.strait.position.flush.interval.ms = 250\n"
    ));
    assert_eq!(s.node.data_dir, Path::new("/var/lib/strait"));
    assert_eq!(s.node.log_format, LogFormat::Json);
    assert_eq!(s.node.progress_interval, Duration::ZERO);
    assert_eq!(s.node.offset_trim_interval, Duration::from_secs(5));
    assert_eq!(s.node.shutdown_handover_timeout, Duration::from_secs(20));
    assert_eq!(s.flows[0].max_in_flight_bytes, 1024);
    assert_eq!(
        s.flows[0].position_flush_interval,
        Duration::from_millis(250)
    );

    let msg = error(&format!("{BASE}strait.max.inflight = 3\n"));
    assert_mentions(
        &msg,
        &[FILE, ":5:", "strait.max.inflight", "unknown Strait setting"],
    );
    let msg = error(&format!("{BASE}A->B.strait.data.dir = /x\n"));
    assert_mentions(&msg, &[":5:", "A->B.strait.data.dir", "node setting"]);
    let msg = error(&format!("{BASE}A.strait.data.dir = /x\n"));
    assert_mentions(&msg, &[":5:", "A.strait.data.dir", "not per cluster"]);
    let msg = error(&format!("{BASE}strait.log.format = xml\n"));
    assert_mentions(
        &msg,
        &[":5:", "strait.log.format", "\"xml\"", "text or json"],
    );
}

#[test]
fn flow_naming_an_unlisted_cluster_is_an_error() {
    let msg = error(&format!("{BASE}C->B.enabled = true\n"));
    assert_mentions(
        &msg,
        &[
            FILE,
            ":5:",
            "`C->B.enabled`",
            "cluster C",
            "`clusters = A, B`",
        ],
    );
    let msg = error(&format!("{BASE}A->D.topics = x\n"));
    assert_mentions(&msg, &[":5:", "`A->D.topics`", "cluster D"]);
    let msg = error(&format!("{BASE}A->A.enabled = true\n"));
    assert_mentions(&msg, &[":5:", "A->A.enabled", "two different cluster"]);
    let msg = error(&format!("{BASE}A->B = true\n"));
    assert_mentions(&msg, &[":5:", "A->B", "SOURCE->TARGET.<setting>"]);
}

#[test]
fn bad_regex_names_key_line_and_pattern() {
    for key in [
        "topics",
        "topics.exclude",
        "config.properties.exclude",
        "A->B.topics",
    ] {
        let msg = error(&format!("{BASE}{key} = orders.*, bad([\n"));
        assert_mentions(&msg, &[FILE, ":5:", &format!("`{key}`"), "\"bad([\""]);
    }
}

#[test]
fn missing_bootstrap_servers_names_cluster_and_key() {
    let msg = error("clusters = A, B\nA.bootstrap.servers = a:9092\nA->B.enabled = true\n");
    assert_mentions(&msg, &[FILE, "cluster B", "`B.bootstrap.servers`", "A->B"]);
    // A cluster no enabled flow uses may go without.
    let s = load("clusters = A, B, C\nA.bootstrap.servers = a:9092\nB.bootstrap.servers = b\nA->B.enabled = true\n");
    assert_eq!(s.clusters.len(), 2);
    assert!(s.ignored[0]
        .reason
        .contains("cluster C has no C.bootstrap.servers"));
    // A file-level bootstrap.servers is every cluster's fallback.
    let s = load("clusters = A, B\nbootstrap.servers = shared:9092\nA->B.enabled = true\n");
    assert_eq!(s.flows[0].producer["bootstrap.servers"], "shared:9092");
}

#[test]
fn malformed_values_name_key_file_line_value_and_expectation() {
    let cases = [
        (
            "replication.factor = abc",
            "replication.factor",
            "\"abc\"",
            "whole number from 1 to 32767",
        ),
        (
            "replication.factor = 0",
            "replication.factor",
            "\"0\"",
            "or -1",
        ),
        (
            "refresh.topics.interval.seconds = -1",
            "refresh.topics.interval.seconds",
            "\"-1\"",
            "seconds, at least 1",
        ),
        (
            "A->B.enabled = yes please",
            "A->B.enabled",
            "\"yes please\"",
            "true or false",
        ),
        (
            "sync.topic.configs.enabled = 1",
            "sync.topic.configs.enabled",
            "\"1\"",
            "true or false",
        ),
        (
            "strait.max.in.flight.records = 0",
            "strait.max.in.flight.records",
            "\"0\"",
            "at least 1",
        ),
        (
            "strait.position.flush.interval.ms = 1.5",
            "strait.position.flush.interval.ms",
            "\"1.5\"",
            "milliseconds",
        ),
    ];
    for (line, key, value, expected) in cases {
        // BASE has A->B.enabled on line 4: replace it when the case is about that key.
        let text = if key == "A->B.enabled" {
            format!("{}\n{line}\n", BASE.trim_end().rsplit_once('\n').unwrap().0)
        } else {
            format!("{BASE}{line}\n")
        };
        let msg = error(&text);
        let at = if key == "A->B.enabled" { ":4:" } else { ":5:" };
        assert_mentions(&msg, &[FILE, at, &format!("`{key}`"), value, expected]);
    }
}

#[test]
fn no_enabled_flow() {
    let msg = error("clusters = A, B\nA.bootstrap.servers = a\nB.bootstrap.servers = b\n");
    assert_mentions(
        &msg,
        &[FILE, "no flow is enabled: set e.g. A->B.enabled = true"],
    );
    let msg = error("clusters = X, Y\nX->Y.enabled = false\n");
    assert_mentions(&msg, &["set e.g. X->Y.enabled = true"]);
}

#[test]
fn file_structure_errors() {
    let msg = error("A.bootstrap.servers = a\n");
    assert_mentions(&msg, &[FILE, "`clusters` is required", "clusters = A, B"]);
    let msg = error("clusters = A, B\n\n= orphan value\n");
    assert_mentions(&msg, &[&format!("{FILE}:3:"), "no key"]);
    let msg = error("clusters = A, b c\n");
    assert!(matches!(
        parse(Path::new(FILE), "clusters = A, x/y\n", Some(HashMap::new())).unwrap_err(),
        ConfigError::InvalidKey { .. }
    ));
    assert_mentions(&msg, &[":1:", "clusters"]);
    let msg = error("clusters = A, x/y\n");
    assert_mentions(&msg, &[":1:", "`clusters`", "x/y"]);
}

#[test]
fn aliases_with_dots() {
    let s = load(
        "clusters = dc.1, dc.1.b\n\
         dc.1.bootstrap.servers = one:9092\n\
         dc.1.b.bootstrap.servers = two:9092\n\
         dc.1->dc.1.b.enabled = true\n\
         dc.1.b.client.id = longest-alias-wins\n",
    );
    assert_eq!(s.flows[0].id.to_string(), "dc.1->dc.1.b");
    assert_eq!(s.flows[0].producer["bootstrap.servers"], "two:9092");
    assert_eq!(s.flows[0].producer["client.id"], "longest-alias-wins");
    assert!(!s.flows[0].consumer.contains_key("client.id"));
}

fn peer(id: u64, address: &str) -> Peer {
    Peer {
        id,
        address: address.to_owned(),
    }
}

#[test]
fn cluster_defaults_to_a_single_node() {
    let s = load(BASE);
    assert_eq!(s.cluster, ClusterMembership::default());
    assert_eq!(s.cluster.initial_voters(), [peer(1, "127.0.0.1:7070")]);
}

#[test]
fn every_cluster_key() {
    let s = load(&format!(
        "{BASE}\
         strait.cluster.node.id = 2\n\
         strait.cluster.listen = 0.0.0.0:7000\n\
         strait.cluster.advertise = 10.0.0.2:7070\n\
         strait.cluster.peers = 1@10.0.0.1:7070, 2@10.0.0.2:7070, 3@strait-2.strait:7070\n\
         strait.cluster.id = prod-eu\n\
         strait.cluster.liveness.timeout.ms = 10000\n\
         strait.cluster.position.interval.ms = 100\n"
    ));
    let c = &s.cluster;
    assert_eq!(c.node_id, 2);
    assert_eq!(c.listen, "0.0.0.0:7000".parse().unwrap());
    assert_eq!(c.advertise, "10.0.0.2:7070");
    assert_eq!(
        c.peers,
        [
            peer(1, "10.0.0.1:7070"),
            peer(2, "10.0.0.2:7070"),
            peer(3, "strait-2.strait:7070")
        ]
    );
    assert_eq!(c.join, None);
    assert_eq!(c.cluster_id, "prod-eu");
    assert_eq!(c.liveness_timeout, Duration::from_secs(10));
    assert_eq!(c.position_interval, Duration::from_millis(100));
    assert!(s.ignored.is_empty(), "{:?}", s.ignored);
}

#[test]
fn cluster_addresses_follow_this_nodes_peer_address() {
    let c = load(&format!(
        "{BASE}\
         strait.cluster.node.id = 1\n\
         strait.cluster.peers = 1@a:7171,2@b:7171\n"
    ))
    .cluster;
    assert_eq!(c.advertise, "a:7171");
    assert_eq!(c.listen, "0.0.0.0:7171".parse().unwrap());

    let c = load(&format!(
        "{BASE}\
         strait.cluster.node.id = 4\n\
         strait.cluster.advertise = d:7070\n\
         strait.cluster.join = a:7070\n"
    ))
    .cluster;
    assert_eq!(c.join.as_deref(), Some("a:7070"));
    assert_eq!(c.listen, "0.0.0.0:7070".parse().unwrap());
    assert!(c.initial_voters().is_empty());
}

#[test]
fn cluster_values_are_validated_with_their_line() {
    // Each case is appended to BASE, so the key is on line 5 (and 6, 7).
    let cases: &[(&str, &[&str])] = &[
        (
            "strait.cluster.peers = 1@a:7070, 2-b:7070",
            &[
                ":5:",
                "`strait.cluster.peers`",
                "\"2-b:7070\"",
                "ID@HOST:PORT",
            ],
        ),
        (
            "strait.cluster.peers = 1@a",
            &[":5:", "`strait.cluster.peers`", "\"1@a\"", "ID@HOST:PORT"],
        ),
        (
            "strait.cluster.node.id = 0",
            &[
                ":5:",
                "`strait.cluster.node.id`",
                "\"0\"",
                "0 is not a node id",
            ],
        ),
        (
            "strait.cluster.node.id = two",
            &[":5:", "`strait.cluster.node.id`", "\"two\"", "at least 1"],
        ),
        (
            "strait.cluster.peers = 0@a:7070",
            &[":5:", "\"0@a:7070\"", "0 is not a node id"],
        ),
        (
            "strait.cluster.listen = strait-0:7070",
            &[
                ":5:",
                "`strait.cluster.listen`",
                "\"strait-0:7070\"",
                "IP:PORT",
            ],
        ),
        (
            "strait.cluster.advertise = [::]:7070",
            &[
                ":5:",
                "`strait.cluster.advertise`",
                "\"[::]:7070\"",
                "HOST:PORT",
            ],
        ),
        (
            "strait.cluster.join =",
            &[":5:", "`strait.cluster.join`", "\"\"", "HOST:PORT"],
        ),
        (
            "strait.cluster.id = a/b",
            &[":5:", "`strait.cluster.id`", "\"a/b\"", "letters, digits"],
        ),
        (
            "strait.cluster.liveness.timeout.ms = 499",
            &[
                ":5:",
                "`strait.cluster.liveness.timeout.ms`",
                "\"499\"",
                "at least 500",
            ],
        ),
        (
            "strait.cluster.position.interval.ms = 10",
            &[
                ":5:",
                "`strait.cluster.position.interval.ms`",
                "\"10\"",
                "at least 100",
            ],
        ),
        (
            "strait.cluster.liveness = 3000",
            &[
                ":5:",
                "unknown Strait setting",
                "strait.cluster.liveness.timeout.ms",
            ],
        ),
        (
            "A->B.strait.cluster.node.id = 2",
            &[":5:", "A->B.strait.cluster.node.id", "node setting"],
        ),
        (
            "A.strait.cluster.node.id = 2",
            &[":5:", "A.strait.cluster.node.id", "not per cluster"],
        ),
    ];
    for (extra, parts) in cases {
        let msg = error(&format!("{BASE}{extra}\n"));
        assert_mentions(&msg, &[FILE]);
        assert_mentions(&msg, parts);
    }
}

#[test]
fn cluster_values_must_fit_together() {
    let cases: &[(&str, &[&str])] = &[
        (
            "strait.cluster.node.id = 1\n\
             strait.cluster.peers = 1@a:7070, 2@b:7070, 2@c:7070",
            &[
                ":6:",
                "`strait.cluster.peers` = \"1@a:7070, 2@b:7070, 2@c:7070\"",
                "node id 2 is listed twice",
            ],
        ),
        (
            "strait.cluster.node.id = 1\n\
             strait.cluster.peers = 1@a:7070, 2@b:7070, 3@b:7070",
            &[":6:", "address b:7070 is listed twice (nodes 2 and 3)"],
        ),
        (
            "strait.cluster.node.id = 3\n\
             strait.cluster.peers = 1@a:7070, 2@b:7070",
            &[
                ":6:",
                "the peer list does not include this node (id 3, from \
                 `strait.cluster.node.id` (line 5))",
            ],
        ),
        (
            "strait.cluster.peers = 1@a:7070, 2@b:7070\n\
             strait.cluster.node.id = 2\n\
             strait.cluster.advertise = c:7070",
            &[
                ":7:",
                "`strait.cluster.advertise` = \"c:7070\"",
                "is 2@b:7070 in `strait.cluster.peers` (line 5)",
            ],
        ),
        (
            "strait.cluster.node.id = 2\n\
             strait.cluster.peers = 1@a:7070, 2@b:7070\n\
             strait.cluster.join = a:7070",
            &[
                ":7:",
                "`strait.cluster.join` and `strait.cluster.peers` (line 6) are mutually exclusive",
            ],
        ),
        (
            "strait.cluster.peers = 1@a:7070, 2@b:7070",
            &["`strait.cluster.node.id` is required", "several nodes"],
        ),
        (
            "strait.cluster.node.id = 2\n\
             strait.cluster.join = a:7070\n\
             strait.cluster.listen = 0.0.0.0:7070",
            &[":6:", "`strait.cluster.advertise` is required"],
        ),
        (
            // Neither advertise nor listen: the default listen address would be registered.
            "strait.cluster.node.id = 2\n\
             strait.cluster.join = a:7070",
            &[
                ":6:",
                "`strait.cluster.advertise` is required",
                "neither it nor `strait.cluster.listen` is set",
            ],
        ),
        (
            "strait.cluster.node.id = 2\n\
             strait.cluster.advertise = a:7070\n\
             strait.cluster.join = a:7070",
            &[":7:", "this node's own address"],
        ),
    ];
    for (extra, parts) in cases {
        let msg = error(&format!("{BASE}{extra}\n"));
        assert_mentions(&msg, &[FILE]);
        assert_mentions(&msg, parts);
    }
}

#[test]
fn metrics_listen_is_off_by_default_and_validated() {
    assert_eq!(load(BASE).node.metrics_listen, None);
    let s = load(&format!("{BASE}strait.metrics.listen = 0.0.0.0:9464\n"));
    assert_eq!(s.node.metrics_listen, Some("0.0.0.0:9464".parse().unwrap()));
    let msg = error(&format!("{BASE}strait.metrics.listen = :9464\n"));
    assert_mentions(&msg, &["strait.metrics.listen", ":9464", "socket address"]);
}

#[test]
fn consumer_failover_keys_are_read() {
    let defaults = load(BASE);
    let mm2 = &defaults.flows[0].mm2;
    assert!(mm2.emit_heartbeats_enabled && mm2.emit_checkpoints_enabled);
    assert_eq!(mm2.emit_heartbeats_interval, Duration::from_secs(1));
    assert_eq!(mm2.emit_checkpoints_interval, Duration::from_secs(5));
    assert_eq!(
        mm2.offset_syncs_location,
        crate::OffsetSyncsLocation::Source
    );
    assert_eq!(mm2.offset_lag_max, 100);
    assert!(!mm2.sync_group_offsets_enabled);
    assert!(mm2.groups.matches("orders-app"));
    assert!(!mm2.groups.matches("console-consumer-1"));
    assert!(defaults.ignored.is_empty(), "{:?}", defaults.ignored);

    let s = load(&format!(
        "{BASE}emit.heartbeats.interval.seconds = 2\n\
         emit.checkpoints.interval.seconds = 60\n\
         emit.offset-syncs.enabled = false\n\
         offset-syncs.topic.location = target\n\
         offset.lag.max = 0\n\
         groups = app-.*, billing\n\
         groups.blacklist = app-test\n\
         sync.group.offsets.enabled = true\n\
         sync.group.offsets.interval.seconds = 30\n\
         checkpoints.topic.replication.factor = 3\n\
         heartbeats.topic.replication.factor = 1\n\
         offset-syncs.topic.replication.factor = -1\n\
         A->B.emit.heartbeats.enabled = false\n"
    ));
    assert!(s.ignored.is_empty(), "{:?}", s.ignored);
    let mm2 = &s.flows[0].mm2;
    assert!(!mm2.emit_heartbeats_enabled);
    assert_eq!(mm2.emit_heartbeats_interval, Duration::from_secs(2));
    assert_eq!(mm2.emit_checkpoints_interval, Duration::from_secs(60));
    assert!(!mm2.emit_offset_syncs_enabled);
    assert_eq!(
        mm2.offset_syncs_location,
        crate::OffsetSyncsLocation::Target
    );
    assert_eq!(mm2.offset_lag_max, 0);
    assert!(mm2.groups.matches("app-1") && mm2.groups.matches("billing"));
    assert!(!mm2.groups.matches("app-test"), "legacy exclude name");
    assert!(!mm2.groups.matches("other"));
    assert!(mm2.sync_group_offsets_enabled);
    assert_eq!(mm2.sync_group_offsets_interval, Duration::from_secs(30));
    assert_eq!(mm2.checkpoints_topic_replication_factor, Some(3));
    assert_eq!(mm2.heartbeats_topic_replication_factor, Some(1));
    assert_eq!(mm2.offset_syncs_topic_replication_factor, None);
}

#[test]
fn consumer_failover_keys_are_validated() {
    let msg = error(&format!("{BASE}offset-syncs.topic.location = elsewhere\n"));
    assert_mentions(
        &msg,
        &[
            FILE,
            ":5:",
            "offset-syncs.topic.location",
            "source or target",
        ],
    );
    let msg = error(&format!(
        "{BASE}A->B.emit.checkpoints.interval.seconds = 0\n"
    ));
    assert_mentions(&msg, &[FILE, "A->B.emit.checkpoints.interval.seconds"]);
    let msg = error(&format!("{BASE}groups.exclude = (\n"));
    assert_mentions(&msg, &[FILE, "groups.exclude"]);
    let msg = error(&format!("{BASE}offset.lag.max = -2\n"));
    assert_mentions(&msg, &[FILE, "offset.lag.max"]);
}

#[test]
fn client_properties_remember_their_key_and_line() {
    use crate::{FlowClient, Location, PropertyOrigin};
    let s = load(&format!(
        "{BASE}A.consumer.fetch.min.bytes = lots\n\
         B.producer.max.request.size = 2000000\n\
         A->B.source.consumer.client.id = mirror\n\
         client.id = ignored-at-file-level\n\
         sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule required \
         username=\"u\" password=\"hunter2\";\n"
    ));
    let origin = |key: &str, line| PropertyOrigin {
        key: key.to_owned(),
        at: Location::new(FILE, Some(line)),
    };
    let flow = &s.flows[0];
    let consumer = flow.client_origins.of(FlowClient::Consumer);
    assert_eq!(
        consumer["fetch.min.bytes"],
        origin("A.consumer.fetch.min.bytes", 5)
    );
    assert_eq!(
        consumer["client.id"],
        origin("A->B.source.consumer.client.id", 7)
    );
    assert_eq!(
        consumer["bootstrap.servers"],
        origin("A.bootstrap.servers", 2)
    );
    assert_eq!(consumer["sasl.password"], origin("sasl.jaas.config", 9));
    let producer = flow.client_origins.of(FlowClient::Producer);
    assert_eq!(
        producer["message.max.bytes"],
        origin("B.producer.max.request.size", 6)
    );
    assert_eq!(
        producer["bootstrap.servers"],
        origin("B.bootstrap.servers", 3)
    );
    // Every property a client gets has an origin.
    for client in [
        FlowClient::Consumer,
        FlowClient::Producer,
        FlowClient::SourceAdmin,
        FlowClient::TargetAdmin,
    ] {
        let props = match client {
            FlowClient::Consumer => &flow.consumer,
            FlowClient::Producer => &flow.producer,
            FlowClient::SourceAdmin => &flow.source_admin,
            FlowClient::TargetAdmin => &flow.target_admin,
        };
        let named: Vec<&String> = flow.client_origins.of(client).keys().collect();
        assert_eq!(named, props.keys().collect::<Vec<_>>(), "{client}");
    }

    let err = flow.rejected_client_property(
        Path::new(FILE),
        FlowClient::Consumer,
        "fetch.min.bytes",
        "lots",
        "Invalid value \"lots\" for configuration property \"fetch.min.bytes\"",
    );
    assert_eq!(
        err.to_string(),
        "/etc/strait/mm2.properties:5: `A.consumer.fetch.min.bytes` = \"lots\": Invalid value \
         \"lots\" for configuration property \"fetch.min.bytes\" (librdkafka, for the source consumer of flow \
         A->B)"
    );
    let err = flow.rejected_client_property(
        Path::new(FILE),
        FlowClient::Producer,
        "sasl.password",
        "hunter2",
        "Invalid value \"hunter2\" for configuration property \"sasl.password\"",
    );
    assert_eq!(
        err.to_string(),
        "/etc/strait/mm2.properties:9: `sasl.jaas.config` = \"****\": Invalid value \"****\" for \
         configuration property \"sasl.password\" (librdkafka, for the target producer of flow \
         A->B)"
    );
}

#[test]
fn a_relative_data_dir_is_resolved_from_the_files_directory() {
    let s = load(&format!("{BASE}strait.data.dir = data/node1\n"));
    assert_eq!(s.node.data_dir, Path::new("/etc/strait/data/node1"));
    let s = load(&format!("{BASE}strait.cluster.data.dir = ./data\n"));
    assert_eq!(s.node.data_dir, Path::new("/etc/strait/data"));
}

#[test]
fn the_data_dir_may_be_set_as_a_cluster_setting() {
    let s = load(&format!(
        "{BASE}strait.cluster.data.dir = /var/lib/strait\n"
    ));
    assert_eq!(s.node.data_dir, Path::new("/var/lib/strait"));
    let s = load(&format!(
        "{BASE}strait.data.dir = /a\nstrait.cluster.data.dir = /a\n"
    ));
    assert_eq!(s.node.data_dir, Path::new("/a"));
    assert_eq!(
        error(&format!(
            "{BASE}strait.data.dir = /a\nstrait.cluster.data.dir = /b\n"
        )),
        "/etc/strait/mm2.properties:6: `strait.cluster.data.dir` = \"/b\": `strait.data.dir` \
         (line 5) = \"/a\" sets the data dir too: set one of them, or both to the same directory"
    );
    assert_eq!(
        error(&format!("{BASE}A->B.strait.cluster.data.dir = /b\n")),
        "/etc/strait/mm2.properties:5: `A->B.strait.cluster.data.dir`: a node setting: set it \
         once, without a flow prefix (strait.cluster.data.dir)"
    );
}

#[test]
fn a_cluster_of_several_nodes_without_its_own_id_is_warned_about() {
    let peers = "strait.cluster.node.id = 1\n\
                 strait.cluster.peers = 1@a:7070, 2@b:7070\n";
    assert_eq!(
        load(&format!("{BASE}{peers}")).warnings,
        ["strait.cluster.id is not set; this cluster uses the default id \"strait\", like every \
          cluster that sets none: set a distinct id per cluster so a node never joins the wrong \
          cluster"]
    );
    let named = format!("{BASE}{peers}strait.cluster.id = mirror-ab\n");
    assert!(load(&named).warnings.is_empty());
    assert!(load(BASE).warnings.is_empty());
}

// ---- `STRAIT__*` environment overrides (module `env`).

fn with_env(text: &str, vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let env = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    parse(Path::new(FILE), text, Some(env))
}

/// Before, a `.properties` node ignored every `STRAIT__*` variable: a control token given as
/// `STRAIT__CLUSTER__CONTROL_TOKEN` (e.g. from a Kubernetes Secret) left the control API open.
#[test]
fn environment_variables_override_the_file_as_for_toml() {
    let token = "from-the-secret-0123456789";
    let s = with_env(
        &format!("{BASE}strait.cluster.node.id = 1\nstrait.data.dir = /file\n"),
        &[
            ("STRAIT__CLUSTER__CONTROL_TOKEN", token),
            ("STRAIT__CLUSTER__NODE_ID", "3"),
            ("STRAIT__CLUSTER__PEERS", "1@a:7070,2@b:7070,3@c:7070"),
            ("STRAIT__CLUSTER__CLUSTER_ID", "mirror-ab"),
            ("STRAIT__NODE__DATA_DIR", "/env"),
            ("STRAIT__NODE__LOG_FORMAT", "json"),
            ("STRAIT__CLUSTERS__B__BOOTSTRAP_SERVERS", "b2:9092"),
        ],
    )
    .unwrap();
    assert_eq!(s.cluster.control_token.as_deref(), Some(token));
    assert_eq!(s.cluster.node_id, 3, "the variable wins over the file");
    assert_eq!(s.cluster.advertise, "c:7070");
    assert_eq!(s.cluster.cluster_id, "mirror-ab");
    assert_eq!(s.node.data_dir, Path::new("/env"));
    assert_eq!(s.node.log_format, LogFormat::Json);
    let b = &s.clusters[&strait_coordinator::ClusterAlias::new("B").unwrap()];
    assert_eq!(b.bootstrap_servers, "b2:9092");
    assert_eq!(s.flows[0].producer["bootstrap.servers"], "b2:9092");
    assert!(s.ignored.is_empty(), "{:?}", s.ignored);
}

#[test]
fn a_bad_value_from_the_environment_names_the_variable() {
    let error = |vars: &[(&str, &str)]| with_env(BASE, vars).unwrap_err().to_string();
    assert_eq!(
        error(&[("STRAIT__CLUSTER__CONTROL_TOKEN", "hunter2")]),
        format!(
            "environment variable STRAIT__CLUSTER__CONTROL_TOKEN (overriding {FILE}): invalid \
             value \"****\" for `strait.cluster.control.token`: expected 16 to 4096 visible ASCII \
             characters (no spaces): a bearer token for the control API"
        )
    );
    assert_eq!(
        error(&[("STRAIT__CLUSTER__NODE_ID", "0")]),
        format!(
            "environment variable STRAIT__CLUSTER__NODE_ID (overriding {FILE}): invalid value \
             \"0\" for `strait.cluster.node.id`: expected a node id: a whole number, at least 1 (0 \
             is not a node id)"
        )
    );
    // A conflict between a variable and a line names both.
    let msg = with_env(
        &format!("{BASE}strait.cluster.data.dir = /b\n"),
        &[("STRAIT__NODE__DATA_DIR", "/a")],
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        msg,
        format!(
            "{FILE}:5: `strait.cluster.data.dir` = \"/b\": `strait.data.dir` (from \
             STRAIT__NODE__DATA_DIR) = \"/a\" sets the data dir too: set one of them, or both to \
             the same directory"
        )
    );
    // A librdkafka property librdkafka rejects is checked by the node with its origin.
    let s = with_env(
        BASE,
        &[("STRAIT__CLUSTERS__A__CONSUMER__FETCH_MIN_BYTES", "lots")],
    )
    .unwrap();
    let origin = &s.flows[0].client_origins.consumer["fetch.min.bytes"];
    assert_eq!(origin.key, "A.consumer.fetch.min.bytes");
    assert_eq!(
        origin.at.to_string(),
        format!(
            "environment variable STRAIT__CLUSTERS__A__CONSUMER__FETCH_MIN_BYTES (overriding \
             {FILE})"
        )
    );
}

#[test]
fn variables_without_a_properties_key_are_refused_not_ignored() {
    let msg = with_env(BASE, &[("STRAIT__FLOWS__A_TO_B__TOPICS", "orders")])
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with(&format!(
            "environment variable STRAIT__FLOWS__A_TO_B__TOPICS (overriding {FILE}): \
             `flows.a_to_b.topics`: a .properties file's flows are its SOURCE->TARGET.* keys"
        )),
        "{msg}"
    );
    let msg = with_env(BASE, &[("STRAIT__CLUSTER__CONTROLTOKEN", "x")])
        .unwrap_err()
        .to_string();
    assert_mentions(&msg, &["STRAIT__CLUSTER__CONTROLTOKEN", "CONTROL_TOKEN"]);
    // An applied text gets no overrides (it is the whole configuration).
    let applied = crate::load_text(
        Path::new("applied"),
        crate::Format::Properties,
        &format!("{BASE}strait.cluster.node.id = 2\n"),
    )
    .unwrap();
    assert_eq!(applied.cluster.node_id, 2);
}

/// Client properties from the environment are librdkafka names, as in TOML: not translated, and
/// they win over what the file's Java properties of their cluster translate to; a flow's own
/// properties still win over them.
#[test]
fn client_properties_from_the_environment_are_librdkafka_names() {
    let text = format!(
        "{BASE}A.security.protocol = SASL_SSL\nA.sasl.mechanism = PLAIN\n\
         A.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule required \
         username=\"mirror\" password=\"from-file\";\n\
         A.consumer.fetch.max.wait.ms = 50\nA->B.consumer.fetch.min.bytes = 9\n"
    );
    let s = with_env(
        &text,
        &[
            ("STRAIT__CLUSTERS__A__CLIENT__SASL_PASSWORD", "from-env"),
            // librdkafka's name for Java's fetch.max.wait.ms.
            ("STRAIT__CLUSTERS__A__CONSUMER__FETCH_WAIT_MAX_MS", "10"),
            ("STRAIT__CLUSTERS__A__CONSUMER__FETCH_MIN_BYTES", "1"),
        ],
    )
    .unwrap();
    let consumer = &s.flows[0].consumer;
    assert_eq!(consumer["sasl.username"], "mirror");
    assert_eq!(consumer["sasl.password"], "from-env");
    assert_eq!(consumer["fetch.wait.max.ms"], "10");
    assert_eq!(consumer["fetch.min.bytes"], "9", "the flow's own wins");
    let a = &s.clusters[&strait_coordinator::ClusterAlias::new("A").unwrap()];
    assert_eq!(a.client["sasl.password"], "from-env");
}

#[test]
fn producer_override_is_the_last_layer_of_the_target_producer() {
    let s = load(&format!(
        "{BASE}\
         B.producer.compression.type = gzip\n\
         A->B.target.producer.compression.type = snappy\n\
         A->B.producer.override.compression.type = lz4\n\
         producer.override.linger.ms = 9\n"
    ));
    let p = &s.flows[0].producer;
    assert_eq!(p["compression.type"], "lz4");
    assert_eq!(p["linger.ms"], "9");
    assert!(
        s.ignored.iter().all(|i| !i.key.contains("override")),
        "{:?}",
        s.ignored
    );
}

/// A key one or two edits away from a known one is refused with the key it was meant to be, and
/// the line: before, `A->B.enabeld = true` was reported as "no flow is enabled", and
/// `replcation.factor` and misspelt client properties passed with an "ignored" note.
#[test]
fn misspelt_keys_are_refused_with_the_key_they_were_meant_to_be() {
    let clusters = "clusters = A, B\nA.bootstrap.servers = a:9092\nB.bootstrap.servers = b:9092\n";
    assert_eq!(
        error(&format!("{clusters}A->B.enabeld = true\n")),
        format!("{FILE}:4: `A->B.enabeld`: unknown key: did you mean `A->B.enabled`?")
    );
    let cases = [
        (
            "replcation.factor = 1",
            "`replcation.factor`: unknown key: did you mean `replication.factor`?",
        ),
        (
            "A->B.topcs = orders",
            "`A->B.topcs`: unknown key: did you mean `A->B.topics`?",
        ),
        (
            "B->A.emit.heartbeats.enbled = false",
            "`B->A.emit.heartbeats.enbled`: unknown key: did you mean \
             `B->A.emit.heartbeats.enabled`?",
        ),
        (
            "A->B.consumr.fetch.min.bytes = 1",
            "`A->B.consumr.fetch.min.bytes`: unknown key: did you mean \
             `A->B.consumer.fetch.min.bytes`?",
        ),
        (
            "strait.max.inflight.records = 3",
            "`strait.max.inflight.records`: unknown Strait setting: did you mean \
             `strait.max.in.flight.records`?",
        ),
        (
            "A->B.strait.max.in.flight.record = 3",
            "`A->B.strait.max.in.flight.record`: unknown Strait setting: did you mean \
             `A->B.strait.max.in.flight.records`?",
        ),
        (
            "A.consumer.fetch.min.bytess = 1",
            "`A.consumer.fetch.min.bytess`: unknown client property: did you mean \
             `A.consumer.fetch.min.bytes`?",
        ),
        (
            "A.producer.lingr.ms=5",
            "`A.producer.lingr.ms`: unknown client property: did you mean \
             `A.producer.linger.ms`?",
        ),
        (
            "A.bootstrap.server = a:9092",
            "`A.bootstrap.server`: unknown client property: did you mean \
             `A.bootstrap.servers`?",
        ),
        (
            "A.consumr.fetch.min.bytes = 1",
            "`A.consumr.fetch.min.bytes`: unknown client property: did you mean \
             `A.consumer.fetch.min.bytes`?",
        ),
        (
            "consumer.isolaton.level = read_committed",
            "`consumer.isolaton.level`: unknown client property: did you mean \
             `consumer.isolation.level`?",
        ),
        (
            "sasl.mechansim = PLAIN",
            "`sasl.mechansim`: unknown client property: did you mean `sasl.mechanism`?",
        ),
        (
            "A->B.target.producer.max.request.sise = 1",
            "`A->B.target.producer.max.request.sise`: unknown client property: did you mean \
             `A->B.target.producer.max.request.size` (librdkafka's `message.max.bytes`)?",
        ),
        (
            "B->A.target.admin.request.timout.ms = 1",
            "`B->A.target.admin.request.timout.ms`: unknown client property: did you mean \
             `B->A.target.admin.request.timeout.ms`?",
        ),
    ];
    for (line, expected) in cases {
        assert_eq!(
            error(&format!("{BASE}{line}\n")),
            format!("{FILE}:5: {expected}"),
            "{line}"
        );
    }
}

/// Unknown client properties are refused wherever they are set, as in a TOML file, even with no
/// known name close to them; MirrorMaker 2 settings Strait does not act on, and unknown keys far
/// from every known one, are still listed as ignored.
#[test]
fn unknown_client_properties_are_refused_and_far_unknown_keys_listed() {
    for line in [
        "A.consumer.no.such.property = 1",
        "A.no.such.property = 1",
        "producer.no.such.property = 1",
        "A->B.source.admin.no.such.property = 1",
        "ssl.no.such.property = 1",
    ] {
        let key = line.split(' ').next().unwrap();
        assert_eq!(
            error(&format!("{BASE}{line}\n")),
            format!(
                "{FILE}:5: `{key}`: unknown client property: neither a Java client property \
                 Strait translates nor a librdkafka property (librdkafka's own names are taken \
                 as they are)"
            ),
        );
    }
    // librdkafka's own names are taken, also those Java clients lack.
    let s = load(&format!(
        "{BASE}A.consumer.queued.max.messages.kbytes = 1024\nB.producer.queue.buffering.max.ms = 5\n"
    ));
    assert_eq!(s.flows[0].consumer["queued.max.messages.kbytes"], "1024");
    assert_eq!(s.flows[0].producer["queue.buffering.max.ms"], "5");

    let s = load(&format!(
        "{BASE}transforms = x\nconfig.providers = file\nA->B.whatever.else = 1\n"
    ));
    let ignored: Vec<(&str, &str)> = s
        .ignored
        .iter()
        .map(|i| (i.key.as_str(), i.reason.as_str()))
        .collect();
    assert_eq!(
        ignored,
        [
            (
                "transforms",
                "MirrorMaker 2 setting, not implemented in Strait yet"
            ),
            (
                "config.providers",
                "MirrorMaker 2 setting, not implemented in Strait yet"
            ),
            ("A->B.whatever.else", "unknown key"),
        ]
    );
}

/// Every setting of Kafka 4.3.1's MirrorMaker 2 connectors (`MirrorSourceConfig`,
/// `MirrorCheckpointConfig`, `MirrorHeartbeatConfig`) is read or listed as not implemented, never
/// refused as a typo nor reported as unknown, at file level and for a flow.
#[test]
fn every_mm2_connector_setting_of_kafka_4_3_is_known() {
    for name in MM2_CONNECTOR_SETTINGS_4_3.split_whitespace() {
        for key in [name.to_owned(), format!("A->B.{name}")] {
            let text = format!("{BASE}{key} = 1\n");
            let s = match parse(Path::new(FILE), &text, Some(HashMap::new())) {
                Ok(s) => s,
                // Read, and the value `1` is not valid for it: a known key.
                Err(e) if !e.to_string().contains("did you mean") => continue,
                Err(e) => panic!("{key}: {e}"),
            };
            assert!(
                s.ignored.iter().all(|i| i.reason != "unknown key"),
                "{key}: {:?}",
                s.ignored
            );
        }
    }
}

/// The `ConfigDef` names of Kafka 4.3.1's `MirrorSourceConfig`, `MirrorCheckpointConfig` and
/// `MirrorHeartbeatConfig` that are not client properties, as printed by a small Java program.
const MM2_CONNECTOR_SETTINGS_4_3: &str = "\
    admin.timeout.ms checkpoints.topic.replication.factor config.action.reload \
    config.properties.exclude config.property.filter.class connector.class \
    connector.plugin.version consumer.poll.timeout.ms emit.checkpoints.enabled \
    emit.checkpoints.interval.seconds emit.heartbeats.enabled emit.heartbeats.interval.seconds \
    emit.offset-syncs.enabled enabled errors.log.enable errors.log.include.messages \
    errors.retry.delay.max.ms errors.retry.timeout errors.tolerance forwarding.admin.class \
    group.filter.class groups groups.exclude header.converter header.converter.plugin.version \
    heartbeats.replication.enabled heartbeats.topic.replication.factor key.converter \
    key.converter.plugin.version metric.names.formats name offset-syncs.topic.location \
    offset-syncs.topic.replication.factor offset.lag.max predicates refresh.groups.enabled \
    refresh.groups.interval.seconds refresh.topics.enabled refresh.topics.interval.seconds \
    replication.factor replication.policy.class \
    replication.policy.internal.topic.separator.enabled replication.policy.separator \
    source.cluster.alias sync.group.offsets.enabled sync.group.offsets.interval.seconds \
    sync.topic.acls.enabled sync.topic.acls.interval.seconds sync.topic.configs.enabled \
    sync.topic.configs.interval.seconds target.cluster.alias tasks.max tasks.max.enforce \
    topic.filter.class topics topics.exclude transforms value.converter \
    value.converter.plugin.version";

#[test]
fn node_variables_set_the_node_settings_added_later() {
    let s = with_env(
        BASE,
        &[
            ("STRAIT__NODE__OFFSET_TRIM_INTERVAL_SECS", "7"),
            ("STRAIT__NODE__SHUTDOWN_HANDOVER_TIMEOUT_SECS", "0"),
        ],
    )
    .unwrap();
    assert_eq!(s.node.offset_trim_interval, Duration::from_secs(7));
    assert_eq!(s.node.shutdown_handover_timeout, Duration::ZERO);
    let err = with_env(
        BASE,
        &[("STRAIT__NODE__SHUTDOWN_HANDOVER_TIMEOUT_SECS", "601")],
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("STRAIT__NODE__SHUTDOWN_HANDOVER_TIMEOUT_SECS")
            && err.contains("from 0 to 600"),
        "{err}"
    );
}

/// Three clusters and three flows, two of them writing to B.
const TO_B_AND_C: &str = "clusters = A, B, C\n\
                          A.bootstrap.servers = a:9092\n\
                          B.bootstrap.servers = b:9092\n\
                          C.bootstrap.servers = c:9092\n\
                          A->B.enabled = true\n\
                          A->C.enabled = true\n\
                          C->B.enabled = true\n";

/// The flows of `s` that run exactly-once.
fn exactly_once_flows(s: &Settings) -> Vec<String> {
    s.flows
        .iter()
        .filter(|f| f.exactly_once)
        .map(|f| f.id.to_string())
        .collect()
}

#[test]
fn exactly_once_is_off_by_default_with_its_transaction_defaults() {
    let flow = &load(BASE).flows[0];
    assert!(!flow.exactly_once);
    assert_eq!(flow.transaction_interval, Duration::from_millis(200));
    assert_eq!(flow.transaction_timeout, Duration::from_secs(60));
    assert_eq!(flow.transactional_id_prefix, "strait");
}

/// MirrorMaker 2's form: `B.exactly.once.source.support = enabled` turns exactly-once on for
/// the flows writing to B (Kafka Connect reads the value in any case).
#[test]
fn exactly_once_is_enabled_per_target_cluster_as_in_mirrormaker_2() {
    let s = load(&format!(
        "{TO_B_AND_C}B.exactly.once.source.support = Enabled\n"
    ));
    assert_eq!(exactly_once_flows(&s), ["A->B", "C->B"]);
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    assert!(s.ignored.is_empty(), "{:?}", s.ignored);

    // A cluster no enabled flow writes to: listed, not silently dropped.
    let s = load(&format!("{BASE}A.exactly.once.source.support = enabled\n"));
    assert_eq!(exactly_once_flows(&s), Vec::<String>::new());
    let ignored: Vec<(&str, Option<usize>, &str)> = s
        .ignored
        .iter()
        .map(|i| (i.key.as_str(), i.line, i.reason.as_str()))
        .collect();
    assert_eq!(
        ignored,
        [(
            "A.exactly.once.source.support",
            Some(5),
            "no enabled flow writes to cluster A"
        )]
    );
}

/// Strait also reads the key at the file level (every flow) and per flow (which wins over its
/// target cluster's, which wins over the file level's), with a warning: MirrorMaker 2 reads it
/// per target cluster only.
#[test]
fn exactly_once_at_the_file_level_and_per_flow_is_layered_and_warned_about() {
    let s = load(&format!(
        "{TO_B_AND_C}exactly.once.source.support = enabled\n"
    ));
    assert_eq!(exactly_once_flows(&s), ["A->B", "A->C", "C->B"]);
    assert_eq!(
        s.warnings,
        [
            "`exactly.once.source.support` (line 8) = enabled: Strait runs every flow \
          exactly-once; MirrorMaker 2 reads this key only per target cluster \
          (`B.exactly.once.source.support`) and would have run at-least-once"
        ]
    );

    let s = load(&format!(
        "{TO_B_AND_C}exactly.once.source.support = enabled\n\
         C.exactly.once.source.support = disabled\n\
         B.exactly.once.source.support = enabled\n\
         C->B.exactly.once.source.support = disabled\n"
    ));
    assert_eq!(exactly_once_flows(&s), ["A->B"]);

    let s = load(&format!(
        "{TO_B_AND_C}A->C.exactly.once.source.support = enabled\n"
    ));
    assert_eq!(exactly_once_flows(&s), ["A->C"]);
    assert_eq!(s.warnings.len(), 1);
    assert_mentions(
        &s.warnings[0],
        &[
            "`A->C.exactly.once.source.support` (line 8) = enabled: Strait runs flow A->C \
             exactly-once",
            "(`C.exactly.once.source.support`)",
        ],
    );
}

/// `preparing` (Kafka Connect's first step of a rolling switch) and `disabled` leave the flows
/// at-least-once; `preparing` is listed as having no effect.
#[test]
fn preparing_and_disabled_leave_exactly_once_off() {
    let s = load(&format!(
        "{TO_B_AND_C}B.exactly.once.source.support = preparing\n\
         C.exactly.once.source.support = disabled\n"
    ));
    assert_eq!(exactly_once_flows(&s), Vec::<String>::new());
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    let ignored: Vec<(&str, Option<usize>)> =
        s.ignored.iter().map(|i| (i.key.as_str(), i.line)).collect();
    assert_eq!(ignored, [("B.exactly.once.source.support", Some(8))]);
    assert_mentions(
        &s.ignored[0].reason,
        &["`preparing`", "stay at-least-once until `enabled`"],
    );
}

#[test]
fn a_bad_exactly_once_value_names_the_key_file_and_line() {
    for key in [
        "B.exactly.once.source.support",
        "exactly.once.source.support",
        "A->B.exactly.once.source.support",
    ] {
        assert_eq!(
            error(&format!("{BASE}{key} = true\n")),
            format!(
                "{FILE}:5: invalid value \"true\" for `{key}`: expected enabled, preparing or \
                 disabled (Kafka Connect's exactly.once.source.support)"
            )
        );
    }
    assert_eq!(
        error(&format!("{BASE}B.exactly.once.source.suport = enabled\n")),
        format!(
            "{FILE}:5: `B.exactly.once.source.suport`: unknown key: did you mean \
             `B.exactly.once.source.support`?"
        )
    );
}

/// Kafka Connect's connector-level `exactly.once.support`: `required` is a check, as Connect
/// refuses a connector that cannot run exactly-once; `requested` has no effect.
#[test]
fn exactly_once_support_required_is_checked_requested_listed() {
    assert_eq!(
        error(&format!("{BASE}A->B.exactly.once.support = required\n")),
        format!(
            "{FILE}:5: `A->B.exactly.once.support` = \"required\": flow A->B runs \
             at-least-once: turn exactly-once on for it with \
             `B.exactly.once.source.support = enabled`"
        )
    );
    let s = load(&format!(
        "{BASE}exactly.once.support = REQUIRED\nB.exactly.once.source.support = enabled\n"
    ));
    assert!(s.flows[0].exactly_once);
    assert!(s.ignored.is_empty(), "{:?}", s.ignored);

    let s = load(&format!("{BASE}exactly.once.support = requested\n"));
    assert!(!s.flows[0].exactly_once);
    assert_eq!(s.ignored.len(), 1);
    assert_eq!(s.ignored[0].key, "exactly.once.support");
    assert_mentions(
        &s.ignored[0].reason,
        &["no effect", "`B.exactly.once.source.support = enabled`"],
    );

    assert_eq!(
        error(&format!("{BASE}exactly.once.support = always\n")),
        format!(
            "{FILE}:5: invalid value \"always\" for `exactly.once.support`: expected requested \
             or required (Kafka Connect's exactly.once.support)"
        )
    );
    assert_eq!(
        error(&format!("{BASE}A->B.exactly.once.suport = required\n")),
        format!(
            "{FILE}:5: `A->B.exactly.once.suport`: unknown key: did you mean \
             `A->B.exactly.once.support`?"
        )
    );
}

#[test]
fn transaction_settings_are_read_at_the_file_level_and_per_flow() {
    let s = load(&format!(
        "{TO_B_AND_C}B.exactly.once.source.support = enabled\n\
         strait.transaction.interval.ms = 50\n\
         strait.transaction.timeout.ms = 30000\n\
         strait.transactional.id.prefix = mirror.eu_1\n\
         C->B.strait.transaction.interval.ms = 1000\n\
         C->B.strait.transactional.id.prefix = mirror-c\n"
    ));
    let flow = |id: &str| s.flows.iter().find(|f| f.id.to_string() == id).unwrap();
    let a_b = flow("A->B");
    assert!(a_b.exactly_once);
    assert_eq!(a_b.transaction_interval, Duration::from_millis(50));
    assert_eq!(a_b.transaction_timeout, Duration::from_secs(30));
    assert_eq!(a_b.transactional_id_prefix, "mirror.eu_1");
    let c_b = flow("C->B");
    assert_eq!(c_b.transaction_interval, Duration::from_secs(1));
    assert_eq!(c_b.transaction_timeout, Duration::from_secs(30));
    assert_eq!(c_b.transactional_id_prefix, "mirror-c");
    assert!(!flow("A->C").exactly_once);
    assert_eq!(
        error(&format!("{BASE}strait.transaction.intreval.ms = 50\n")),
        format!(
            "{FILE}:5: `strait.transaction.intreval.ms`: unknown Strait setting: did you mean \
             `strait.transaction.interval.ms`?"
        )
    );
}

#[test]
fn bad_transaction_settings_name_the_key_file_and_line() {
    let cases = [
        (
            "strait.transaction.interval.ms = 9",
            "invalid value \"9\" for `strait.transaction.interval.ms`: expected a whole number \
             of milliseconds, at least 10",
        ),
        (
            "A->B.strait.transaction.timeout.ms = 900001",
            "invalid value \"900001\" for `A->B.strait.transaction.timeout.ms`: expected a \
             whole number of milliseconds from 10 to 900000 (15 minutes: the brokers' default \
             transaction.max.timeout.ms)",
        ),
        (
            "strait.transactional.id.prefix = mirror/eu",
            "invalid value \"mirror/eu\" for `strait.transactional.id.prefix`: expected a \
             non-empty prefix of letters, digits, '.', '_' and '-'",
        ),
        (
            "A->B.strait.transactional.id.prefix =",
            "invalid value \"\" for `A->B.strait.transactional.id.prefix`: expected a \
             non-empty prefix of letters, digits, '.', '_' and '-'",
        ),
        (
            "strait.transaction.interval.ms = 2000\nstrait.transaction.timeout.ms = 1000",
            "`strait.transaction.interval.ms` = \"2000\": longer than the transaction timeout, \
             1000 ms (`strait.transaction.timeout.ms` (line 6)): the target aborts a \
             transaction still open after its timeout",
        ),
        (
            "A->B.strait.transaction.timeout.ms = 100",
            "`A->B.strait.transaction.timeout.ms` = \"100\": shorter than the transaction \
             interval, 200 ms (the default): the target would abort transactions before they \
             are committed",
        ),
    ];
    for (lines, expected) in cases {
        assert_eq!(
            error(&format!("{BASE}{lines}\n")),
            format!("{FILE}:5: {expected}"),
            "{lines}"
        );
    }
}

/// With exactly-once on, a producer property that contradicts it is refused, naming its key
/// and line and where exactly-once was turned on; with it off, Strait overrides them.
#[test]
fn producer_properties_that_contradict_exactly_once_are_refused() {
    let on = "B.exactly.once.source.support = enabled\n";
    let cases = [
        (
            "B.producer.enable.idempotence = false",
            "`B.producer.enable.idempotence` = \"false\": contradicts the exactly-once mode of \
             flow A->B (`B.exactly.once.source.support` (line 5) turns it on): the \
             transactional producer is idempotent: remove it, or set it to true",
        ),
        (
            "A->B.producer.acks = 1",
            "`A->B.producer.acks` = \"1\": contradicts the exactly-once mode of flow A->B \
             (`B.exactly.once.source.support` (line 5) turns it on): the transactional \
             producer waits for all in-sync replicas: remove it, or set it to all",
        ),
        (
            "producer.override.transactional.id = mm2-tx",
            "`producer.override.transactional.id` = \"mm2-tx\": contradicts the exactly-once \
             mode of flow A->B (`B.exactly.once.source.support` (line 5) turns it on): Strait \
             gives the flow's producers their transactional ids: set their prefix instead \
             (`transactional_id_prefix`; mm2: `strait.transactional.id.prefix`)",
        ),
        (
            "A->B.target.producer.transaction.timeout.ms = 5000",
            "`A->B.target.producer.transaction.timeout.ms` = \"5000\": contradicts the \
             exactly-once mode of flow A->B (`B.exactly.once.source.support` (line 5) turns it \
             on): set the flow's transaction timeout instead (`transaction_timeout_ms`; mm2: \
             `strait.transaction.timeout.ms`), which Strait gives its producers",
        ),
    ];
    for (line, expected) in cases {
        assert_eq!(
            error(&format!("{BASE}{on}{line}\n")),
            format!("{FILE}:6: {expected}"),
            "{line}"
        );
        // At-least-once: accepted (the node forces idempotence and acks=all itself).
        load(&format!("{BASE}{line}\n"));
    }
    // What agrees with it is accepted.
    let s = load(&format!(
        "{BASE}{on}B.producer.acks = -1\nB.producer.enable.idempotence = true\n"
    ));
    assert!(s.flows[0].exactly_once);
}

#[test]
fn the_summary_shows_the_exactly_once_mode() {
    let s = load(&format!(
        "{TO_B_AND_C}B.exactly.once.source.support = enabled\n\
         strait.transactional.id.prefix = eu\n"
    ));
    let out = s.describe();
    assert_mentions(
        &out,
        &[
            "  A->B:\n",
            "    exactly-once:       on: transactions committed every 200ms (timeout 1m), \
             transactional ids eu-*\n",
            "    exactly-once:       off (at-least-once)\n",
        ],
    );
}
