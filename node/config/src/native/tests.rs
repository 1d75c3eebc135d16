use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use strait_coordinator::ReplicationPolicy;

use super::parse;
use crate::model::{LogFormat, Settings};

const FILE: &str = "/etc/strait/strait.toml";

fn no_env() -> Option<HashMap<String, String>> {
    Some(HashMap::new())
}

fn env(pairs: &[(&str, &str)]) -> Option<HashMap<String, String>> {
    Some(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

fn load_env(text: &str, env: Option<HashMap<String, String>>) -> Settings {
    match parse(Path::new(FILE), text, env) {
        Ok(settings) => settings,
        Err(e) => panic!("{e}"),
    }
}

fn load(text: &str) -> Settings {
    load_env(text, no_env())
}

fn error_env(text: &str, env: Option<HashMap<String, String>>) -> String {
    match parse(Path::new(FILE), text, env) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn error(text: &str) -> String {
    error_env(text, no_env())
}

fn assert_mentions(msg: &str, parts: &[&str]) {
    for part in parts {
        assert!(msg.contains(part), "{part:?} missing in: {msg}");
    }
}

const MINIMAL: &str = r#"
[clusters.A]
bootstrap_servers = "127.0.0.1:19092"

[clusters.B]
bootstrap_servers = "127.0.0.1:19093"

[flows.a_to_b]
source = "A"
target = "B"
"#;

#[test]
fn defaults() {
    let s = load(MINIMAL);
    assert_eq!(s.file, Path::new(FILE));
    assert_eq!(s.node.data_dir, Path::new("./strait-data"));
    assert_eq!(s.node.log_format, LogFormat::Text);
    assert_eq!(s.node.progress_interval, Duration::from_secs(5));
    assert_eq!(s.clusters.len(), 2);
    let flow = &s.flows[0];
    assert_eq!(flow.id.to_string(), "A->B");
    assert_eq!(flow.topics.include_patterns(), [".*"]);
    assert_eq!(
        flow.topics.exclude_patterns(),
        [".*[\\-\\.]internal", ".*\\.replica", "__.*"]
    );
    assert_eq!(flow.replication_policy, ReplicationPolicy::default());
    assert_eq!(flow.replication_factor, None);
    assert!(flow.sync_topic_configs);
    assert!(flow
        .config_properties_exclude
        .is_match("min.insync.replicas"));
    assert!(flow.refresh_topics_enabled);
    assert_eq!(flow.refresh_topics_interval, Duration::from_secs(10));
    assert_eq!(flow.max_in_flight_records, 100_000);
    assert_eq!(flow.max_in_flight_bytes, 64 << 20);
    assert_eq!(flow.position_flush_interval, Duration::from_millis(100));
    assert_eq!(flow.consumer["bootstrap.servers"], "127.0.0.1:19092");
    assert_eq!(flow.producer["bootstrap.servers"], "127.0.0.1:19093");
    assert_eq!(flow.source_admin["bootstrap.servers"], "127.0.0.1:19092");
    assert_eq!(flow.target_admin["bootstrap.servers"], "127.0.0.1:19093");
    assert!(s.ignored.is_empty());
}

#[test]
fn every_setting() {
    let s = load(
        r#"
        [node]
        data_dir = "/var/lib/strait"
        log_format = "json"
        progress_interval_secs = 0

        [clusters.A]
        bootstrap_servers = "a1:9092, a2:9092"
        [clusters.A.client]
        "security.protocol" = "plaintext"
        "client.id" = "all"
        "socket.keepalive.enable" = true
        [clusters.A.consumer]
        "fetch.wait.max.ms" = 10
        "client.id" = "consumer"
        [clusters.A.admin]
        "request.timeout.ms" = 1000

        [clusters.B]
        bootstrap_servers = "b:9092"
        [clusters.B.producer]
        "linger.ms" = 20

        [flows."A->B"]
        topics = ["orders.*", "payments"]
        topics_exclude = []
        replication_policy = "identity"
        replication_factor = 3
        sync_topic_configs = false
        config_properties_exclude = ["retention\\.ms"]
        refresh_topics_enabled = false
        refresh_topics_interval_secs = 60
        max_in_flight_records = 10
        max_in_flight_bytes = 2048
        position_flush_interval_ms = 5
        [flows."A->B".consumer]
        "client.id" = "flow"
        [flows."A->B".producer]
        "linger.ms" = 1
        [flows."A->B".target_admin]
        "request.timeout.ms" = 9
        "#,
    );
    assert_eq!(s.node.data_dir, Path::new("/var/lib/strait"));
    assert_eq!(s.node.log_format, LogFormat::Json);
    assert_eq!(s.node.progress_interval, Duration::ZERO);
    let flow = &s.flows[0];
    assert_eq!(flow.id.to_string(), "A->B");
    assert_eq!(flow.topics.include_patterns(), ["orders.*", "payments"]);
    assert!(flow.topics.exclude_patterns().is_empty());
    assert!(flow.topics.matches("orders-eu") && !flow.topics.matches("refunds"));
    assert_eq!(flow.replication_policy, ReplicationPolicy::Identity);
    assert_eq!(flow.replication_factor, Some(3));
    assert!(!flow.sync_topic_configs);
    assert!(flow.config_properties_exclude.is_match("retention.ms"));
    assert!(!flow.refresh_topics_enabled);
    assert_eq!(flow.refresh_topics_interval, Duration::from_secs(60));
    assert_eq!(flow.max_in_flight_records, 10);
    assert_eq!(flow.max_in_flight_bytes, 2048);
    assert_eq!(flow.position_flush_interval, Duration::from_millis(5));

    // Client properties: cluster client < client type < flow (later wins).
    let c = &flow.consumer;
    assert_eq!(c["bootstrap.servers"], "a1:9092,a2:9092");
    assert_eq!(c["security.protocol"], "plaintext");
    assert_eq!(c["socket.keepalive.enable"], "true");
    assert_eq!(c["fetch.wait.max.ms"], "10");
    assert_eq!(c["client.id"], "flow");
    assert_eq!(flow.producer["linger.ms"], "1");
    assert!(!flow.producer.contains_key("client.id"));
    assert_eq!(flow.source_admin["request.timeout.ms"], "1000");
    assert_eq!(flow.source_admin["client.id"], "all");
    assert_eq!(flow.target_admin["request.timeout.ms"], "9");
    let a = &s.clusters[&flow.id.source];
    assert_eq!(a.consumer["client.id"], "consumer");
    assert_eq!(a.client.len(), 3);
}

#[test]
fn environment_overrides_reach_upper_case_aliases() {
    let s = load_env(
        MINIMAL,
        env(&[
            ("STRAIT__CLUSTERS__A__BOOTSTRAP_SERVERS", "override:9092"),
            ("STRAIT__FLOWS__A_TO_B__REPLICATION_FACTOR", "3"),
            ("STRAIT__FLOWS__A_TO_B__TOPICS", "orders.*, payments"),
            ("STRAIT__FLOWS__A_TO_B__SYNC_TOPIC_CONFIGS", "false"),
            ("STRAIT__CLUSTERS__A__CLIENT__SASL_PASSWORD", "from-env"),
            ("STRAIT__NODE__LOG_FORMAT", "json"),
            ("NOT_STRAIT__NODE__LOG_FORMAT", "xml"),
        ]),
    );
    assert_eq!(s.clusters.len(), 2, "no second cluster `a`");
    let flow = &s.flows[0];
    assert_eq!(flow.consumer["bootstrap.servers"], "override:9092");
    assert_eq!(flow.consumer["sasl.password"], "from-env");
    assert_eq!(flow.replication_factor, Some(3));
    assert_eq!(flow.topics.include_patterns(), ["orders.*", "payments"]);
    assert!(!flow.sync_topic_configs);
    assert_eq!(s.node.log_format, LogFormat::Json);
}

#[test]
fn environment_values_are_validated_like_the_file() {
    let msg = error_env(
        MINIMAL,
        env(&[("STRAIT__FLOWS__A_TO_B__REPLICATION_FACTOR", "three")]),
    );
    assert_mentions(&msg, &[FILE, "flows.a_to_b.replication_factor", "three"]);
    let msg = error_env(
        MINIMAL,
        env(&[("STRAIT__FLOWS__A_TO_B__REFRESH_TOPICS_INTERVAL_SECS", "-1")]),
    );
    assert_mentions(
        &msg,
        &[
            FILE,
            "`flows.a_to_b.refresh_topics_interval_secs`",
            "\"-1\"",
            "at least 1",
        ],
    );
}

#[test]
fn flows_named_after_their_clusters() {
    let s = load(
        r#"
        [clusters.A]
        bootstrap_servers = "a:1"
        [clusters.B]
        bootstrap_servers = "b:1"
        [flows."A->B"]
        [flows."B->A"]
        replication_factor = -1
        "#,
    );
    let ids: Vec<String> = s.flows.iter().map(|f| f.id.to_string()).collect();
    assert_eq!(ids, ["A->B", "B->A"]);

    let msg = error(&format!("{MINIMAL}\n[flows.other]\nsource = \"A\"\n"));
    assert_mentions(&msg, &[FILE, "flows.other.target", "source and target"]);
    let msg = error(&format!("{MINIMAL}\n[flows.misc]\n"));
    assert_mentions(&msg, &["flows.misc", "SOURCE->TARGET"]);
    let msg = error(&format!("{MINIMAL}\n[flows.\"A->B\"]\n"));
    assert_mentions(&msg, &["flows.a_to_b", "A->B", "already defined"]);
}

#[test]
fn unknown_fields_are_errors_naming_the_key() {
    let cases = [
        // Appended to MINIMAL, whose last table is [flows.a_to_b].
        (
            "replication_factr = 3\n",
            "replication_factr",
            "flows.a_to_b",
        ),
        ("[node]\ndatadir = \"/x\"\n", "datadir", "node"),
        (
            "[clusters.C]\nbootstrap = \"x\"\n",
            "bootstrap",
            "clusters.C",
        ),
        ("[nodes]\n", "nodes", ""),
    ];
    for (extra, field, table) in cases {
        let msg = error(&format!("{MINIMAL}{extra}"));
        assert_mentions(&msg, &[FILE, "unknown field", &format!("`{field}`"), table]);
    }
}

#[test]
fn type_errors_name_the_key() {
    let msg = error(&format!("{MINIMAL}replication_factor = \"abc\"\n"));
    assert_mentions(&msg, &[FILE, "flows.a_to_b.replication_factor"]);
    let msg = error(&format!("{MINIMAL}enabled = \"yes please\"\n"));
    assert_mentions(&msg, &[FILE, "flows.a_to_b.enabled"]);
    let msg = error(&format!("{MINIMAL}topics = 3\n"));
    assert_mentions(&msg, &[FILE, "flows.a_to_b.topics"]);
    let msg = error("[node]\nlog_format = \"xml\"\n");
    assert_mentions(
        &msg,
        &[FILE, "`node.log_format`", "\"xml\"", "text or json"],
    );
    let msg = error(&format!("{MINIMAL}replication_policy = \"prefix\"\n"));
    assert_mentions(&msg, &["`flows.a_to_b.replication_policy`", "\"prefix\""]);
    let msg = error(&format!("{MINIMAL}max_in_flight_records = 0\n"));
    assert_mentions(
        &msg,
        &["`flows.a_to_b.max_in_flight_records`", "at least 1"],
    );
    let msg = error("[clusters.A\n");
    assert_mentions(&msg, &[FILE]);
}

#[test]
fn bad_regex_names_key_and_pattern() {
    let msg = error(&format!("{MINIMAL}topics_exclude = [\"ok\", \"bad([\"]\n"));
    assert_mentions(&msg, &[FILE, "`flows.a_to_b.topics_exclude`", "\"bad([\""]);
}

#[test]
fn unknown_cluster_and_missing_bootstrap() {
    let msg = error(&format!(
        "{MINIMAL}\n[flows.c_to_b]\nsource = \"C\"\ntarget = \"B\"\n"
    ));
    assert_mentions(
        &msg,
        &[FILE, "`flows.c_to_b.source`", "cluster C", "(A, B)"],
    );
    let msg = error("[clusters.A]\nbootstrap_servers = \"a\"\n[clusters.B]\n[flows.\"A->B\"]\n");
    assert_mentions(
        &msg,
        &[FILE, "cluster B", "`clusters.B.bootstrap_servers`", "A->B"],
    );
    // Not needed when no enabled flow uses the cluster.
    let s = load(&format!(
        "{MINIMAL}\n[clusters.C]\n[flows.\"A->C\"]\nenabled = false\n"
    ));
    assert_eq!(s.clusters.len(), 2);
    let reasons: Vec<&str> = s.ignored.iter().map(|i| i.reason.as_str()).collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("cluster C has no bootstrap_servers")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("A->C is disabled")),
        "{reasons:?}"
    );
}

#[test]
fn no_enabled_flow() {
    let msg = error("[clusters.A]\nbootstrap_servers = \"a\"\n");
    assert_mentions(&msg, &[FILE, "no flow is enabled", "[flows."]);
    let msg = error(&format!("{MINIMAL}enabled = false\n"));
    assert_mentions(&msg, &["no flow is enabled"]);
}

#[test]
fn bootstrap_servers_in_a_client_table_is_listed_not_used() {
    let s = load(&format!(
        "{MINIMAL}\n[clusters.A.client]\n\"bootstrap.servers\" = \"elsewhere:1\"\n"
    ));
    assert_eq!(s.flows[0].consumer["bootstrap.servers"], "127.0.0.1:19092");
    assert!(s.ignored[0].key.contains("bootstrap.servers"));
}
