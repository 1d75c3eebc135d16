use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use strait_coordinator::ReplicationPolicy;

use super::parse;
use crate::env::test_env as env;
use crate::model::{ClusterMembership, LogFormat, Peer, Settings};

const FILE: &str = "/etc/strait/strait.toml";

fn no_env() -> Option<HashMap<String, String>> {
    Some(HashMap::new())
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
    assert_eq!(s.node.data_dir, Path::new("/etc/strait/strait-data"));
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
        max_records_per_sec = 2000
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
    assert_eq!(flow.max_records_per_second, 2_000);
    assert_eq!(flow.max_bytes_per_second, 0, "unlimited by default");

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

/// The line of MINIMAL's last key (`target = "B"`); what tests append starts on the next.
const MINIMAL_LAST_LINE: usize = 10;

#[test]
fn shutdown_handover_timeout_defaults_to_ten_seconds_and_is_at_most_ten_minutes() {
    assert_eq!(
        load(MINIMAL).node.shutdown_handover_timeout,
        Duration::from_secs(10)
    );
    for (value, secs) in [(0, 0), (3, 3), (600, 600)] {
        let s = load(&format!(
            "[node]\nshutdown_handover_timeout_secs = {value}\n{MINIMAL}"
        ));
        assert_eq!(s.node.shutdown_handover_timeout, Duration::from_secs(secs));
    }
    for value in ["-1", "601", "\"ten\""] {
        let msg = error(&format!(
            "[node]\nshutdown_handover_timeout_secs = {value}\n{MINIMAL}"
        ));
        assert!(
            msg.contains(":2:") && msg.contains("node.shutdown_handover_timeout_secs"),
            "{value}: {msg}"
        );
    }
}

#[test]
fn offset_trim_interval_defaults_to_a_minute_and_is_at_least_a_second() {
    assert_eq!(
        load(MINIMAL).node.offset_trim_interval,
        Duration::from_secs(60)
    );
    let s = load(&format!("[node]\noffset_trim_interval_secs = 2\n{MINIMAL}"));
    assert_eq!(s.node.offset_trim_interval, Duration::from_secs(2));
    let msg = error(&format!("[node]\noffset_trim_interval_secs = 0\n{MINIMAL}"));
    assert_mentions(
        &msg,
        &[":2:", "node.offset_trim_interval_secs", "at least 1"],
    );
}

#[test]
fn unknown_fields_are_errors_naming_the_key_and_line() {
    // One or two edits from a known key: that key is suggested.
    assert_eq!(
        error(&format!("{MINIMAL}replication_factr = 3\n")),
        "/etc/strait/strait.toml:11: `flows.a_to_b.replication_factr`: unknown key: did you mean \
         `flows.a_to_b.replication_factor`?"
    );
    assert_eq!(
        error(&format!("{MINIMAL}[node]\ndatadir = \"/x\"\n")),
        "/etc/strait/strait.toml:12: `node.datadir`: unknown key: did you mean `node.data_dir`?"
    );
    assert_eq!(
        error(&format!("{MINIMAL}[nodes]\n")),
        "/etc/strait/strait.toml:11: `nodes`: unknown key: did you mean `node`?"
    );
    // Else the keys expected there are listed.
    assert!(
        error(&format!("{MINIMAL}[clusters.C]\nbootstrap = \"x\"\n")).starts_with(
            "/etc/strait/strait.toml:12: `clusters.C.bootstrap`: unknown key, expected "
        )
    );
    assert_eq!(
        error(&format!("{MINIMAL}[node]\nwhatever = 1\n")),
        "/etc/strait/strait.toml:12: `node.whatever`: unknown key, expected one of `data_dir`, \
         `log_format`, `progress_interval_secs`, `metrics_listen`, `offset_trim_interval_secs`, \
         `shutdown_handover_timeout_secs`"
    );
    // From the environment: the variable, not a line.
    assert_eq!(
        error_env(MINIMAL, env(&[("STRAIT__FLOWS__A_TO_B__TOPIC", "x")])),
        "environment variable STRAIT__FLOWS__A_TO_B__TOPIC (overriding \
         /etc/strait/strait.toml): `flows.a_to_b.topic`: unknown key: did you mean \
         `flows.a_to_b.topics`?"
    );
}

#[test]
fn type_errors_name_the_key_and_line() {
    let line = MINIMAL_LAST_LINE + 1;
    let cases = [
        (
            "replication_factor = \"abc\"",
            "`flows.a_to_b.replication_factor`: expected an integer, found string \"abc\"",
        ),
        (
            "enabled = \"yes please\"",
            "`flows.a_to_b.enabled`: expected a boolean, found string \"yes please\"",
        ),
        (
            "topics = 3",
            "`flows.a_to_b.topics`: expected a list of regular expressions, or a \
             comma-separated string, found integer 3",
        ),
        (
            "[flows.a_to_b.consumer]\n\"fetch.min.bytes\" = [1]",
            "`flows.a_to_b.consumer.fetch.min.bytes`: expected a string, a number or a boolean, \
             found an array",
        ),
        (
            "[clusters.A.client]\n\"sasl.password\" = [\"hunter2\"]",
            "`clusters.A.client.sasl.password`: expected a string, a number or a boolean, found \
             an array",
        ),
        (
            "log_format = \"xml\"",
            "`flows.a_to_b.log_format`: unknown key, expected one of `source`, `target`, \
             `enabled`, `topics`, `topics_exclude`, `replication_policy`, \
             `replication_policy_separator`, `replication_factor`, `sync_topic_configs`, \
             `config_properties_exclude`, `refresh_topics_enabled`, \
             `refresh_topics_interval_secs`, `max_in_flight_records`, `max_in_flight_bytes`, \
             `position_flush_interval_ms`, `max_records_per_sec`, `max_bytes_per_sec`, \
             `exactly_once`, `transaction_interval_ms`, `transaction_timeout_ms`, \
             `transactional_id_prefix`, `emit_heartbeats_enabled`, \
             `emit_heartbeats_interval_secs`, `emit_checkpoints_enabled`, \
             `emit_checkpoints_interval_secs`, `emit_offset_syncs_enabled`, \
             `offset_syncs_topic_location`, `offset_lag_max`, `groups`, `groups_exclude`, \
             `sync_group_offsets_enabled`, `sync_group_offsets_interval_secs`, \
             `heartbeats_topic_replication_factor`, `checkpoints_topic_replication_factor`, \
             `offset_syncs_topic_replication_factor`, `consumer`, `producer`, `source_admin`, \
             `target_admin`",
        ),
    ];
    for (extra, expected) in cases {
        let key_line = line + extra.matches('\n').count();
        assert_eq!(
            error(&format!("{MINIMAL}{extra}\n")),
            format!("{FILE}:{key_line}: {expected}"),
            "{extra}"
        );
    }
}

#[test]
fn bad_values_name_the_key_and_line() {
    let line = MINIMAL_LAST_LINE + 1;
    let cases = [
        (
            "replication_policy = \"prefix\"",
            "invalid value \"prefix\" for `flows.a_to_b.replication_policy`: expected \
             DefaultReplicationPolicy or IdentityReplicationPolicy \
             (org.apache.kafka.connect.mirror.*); other policy classes cannot run in Strait",
        ),
        (
            "max_in_flight_records = 0",
            "invalid value \"0\" for `flows.a_to_b.max_in_flight_records`: expected a whole \
             number, at least 1",
        ),
        (
            "max_bytes_per_sec = -5",
            "invalid value \"-5\" for `flows.a_to_b.max_bytes_per_sec`: expected a whole \
             number per second, 0 for unlimited",
        ),
        (
            "topics_exclude = [\"ok\", \"bad([\"]",
            "invalid regular expression \"bad([\" in `flows.a_to_b.topics_exclude`: unclosed \
             character class",
        ),
    ];
    for (extra, expected) in cases {
        assert_eq!(
            error(&format!("{MINIMAL}{extra}\n")),
            format!("{FILE}:{line}: {expected}"),
            "{extra}"
        );
    }
    // Secrets are not shown.
    assert_eq!(
        error(&format!(
            "{MINIMAL}[cluster]\ncontrol_token = \"hunter2\"\n"
        )),
        format!(
            "{FILE}:12: invalid value \"****\" for `cluster.control_token`: expected 16 to 4096 \
             visible ASCII characters (no spaces): a bearer token for the control API"
        )
    );
    assert_eq!(
        error("# strait\n\n[node]\nlog_format = \"xml\"\n"),
        format!("{FILE}:4: invalid value \"xml\" for `node.log_format`: expected text or json")
    );
    assert_eq!(
        error(&format!(
            "{MINIMAL}\n[flows.c_to_b]\nsource = \"C\"\ntarget = \"B\"\n"
        )),
        format!(
            "{FILE}:13: `flows.c_to_b.source` names cluster C, which is not in the [clusters.*] \
             tables (A, B)"
        )
    );
    // A missing key: the table it belongs in.
    assert_eq!(
        error(&format!("{MINIMAL}\n[flows.other]\nsource = \"A\"\n")),
        format!(
            "{FILE}:12: `flows.other.target` is required: a flow sets both source and target, or \
             neither (then its name is \"SOURCE->TARGET\")"
        )
    );
    assert_eq!(
        error("[clusters.A]\nbootstrap_servers = \"a\"\n[clusters.B]\n[flows.\"A->B\"]\n"),
        format!(
            "{FILE}:3: cluster B has no bootstrap servers: set `clusters.B.bootstrap_servers` \
             (flow A->B uses it)"
        )
    );
}

#[test]
fn syntax_errors_name_the_line() {
    assert_eq!(
        error(&format!("{MINIMAL}[clusters.A\n")),
        format!("{FILE}:11: invalid TOML: unclosed table, expected `]`")
    );
    assert_eq!(
        error("[node]\ndata_dir = = \"x\"\n"),
        format!("{FILE}:2: invalid TOML: extra `=`, expected nothing")
    );
}

#[test]
fn values_from_the_environment_name_the_variable() {
    let via = |variable: &str| format!("environment variable {variable} (overriding {FILE})");
    let var = "STRAIT__FLOWS__A_TO_B__REPLICATION_FACTOR";
    assert_eq!(
        error_env(MINIMAL, env(&[(var, "three")])),
        format!(
            "{}: `flows.a_to_b.replication_factor`: expected an integer, found string \"three\"",
            via(var)
        )
    );
    // The environment wins over the file's line.
    let text = format!("{MINIMAL}replication_factor = 3\n");
    assert_eq!(
        error_env(&text, env(&[(var, "0")])),
        format!(
            "{}: invalid value \"0\" for `flows.a_to_b.replication_factor`: expected a whole \
             number from 1 to 32767, or -1 for the target broker's default",
            via(var)
        )
    );
    let var = "STRAIT__FLOWS__A_TO_B__TOPICS";
    assert_eq!(
        error_env(MINIMAL, env(&[(var, "ok, bad([")])),
        format!(
            "{}: invalid regular expression \"bad([\" in `flows.a_to_b.topics`: unclosed \
             character class",
            via(var)
        )
    );
    let var = "STRAIT__CLUSTER__NODE_ID";
    let text = with_cluster("peers = [\"1@a:7070\", \"2@b:7070\"]");
    assert_eq!(
        error_env(&text, env(&[(var, "3")])),
        format!(
            "{FILE}:13: `cluster.peers` = \"1@a:7070, 2@b:7070\": the peer list does not include \
             this node (id 3, from `cluster.node_id` (from {var})): list every initial voter, this \
             node included, or set this node's id to one of 1, 2"
        )
    );
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

/// MINIMAL with a `[cluster]` table.
fn with_cluster(section: &str) -> String {
    format!("{MINIMAL}\n[cluster]\n{section}\n")
}

fn peer(id: u64, address: &str) -> Peer {
    Peer {
        id,
        address: address.to_owned(),
    }
}

#[test]
fn cluster_defaults_to_a_single_node() {
    let s = load(MINIMAL);
    assert_eq!(s.cluster, ClusterMembership::default());
    assert_eq!(s.cluster.node_id, 1);
    assert_eq!(s.cluster.listen, "127.0.0.1:7070".parse().unwrap());
    assert_eq!(s.cluster.advertise, "127.0.0.1:7070");
    assert!(s.cluster.peers.is_empty());
    assert_eq!(s.cluster.join, None);
    assert_eq!(s.cluster.cluster_id, "strait");
    assert_eq!(s.cluster.liveness_timeout, Duration::from_secs(3));
    assert_eq!(s.cluster.position_interval, Duration::from_secs(1));
    assert_eq!(s.cluster.initial_voters(), [peer(1, "127.0.0.1:7070")]);
    // An empty table is the same.
    assert_eq!(
        load(&with_cluster("")).cluster,
        ClusterMembership::default()
    );
}

#[test]
fn every_cluster_setting() {
    let s = load(&with_cluster(
        r#"
        node_id = 2
        listen = "10.0.0.2:7000"
        advertise = "10.0.0.2:7070"
        peers = ["1@10.0.0.1:7070", "2@10.0.0.2:7070", "3@[fd00::3]:7070"]
        cluster_id = "prod-eu"
        liveness_timeout_ms = 500
        position_interval_ms = 100
        "#,
    ));
    let c = &s.cluster;
    assert_eq!(c.node_id, 2);
    assert_eq!(c.listen, "10.0.0.2:7000".parse().unwrap());
    assert_eq!(c.advertise, "10.0.0.2:7070");
    assert_eq!(
        c.peers,
        [
            peer(1, "10.0.0.1:7070"),
            peer(2, "10.0.0.2:7070"),
            peer(3, "[fd00::3]:7070")
        ]
    );
    assert_eq!(c.initial_voters(), c.peers);
    assert_eq!(c.join, None);
    assert_eq!(c.cluster_id, "prod-eu");
    assert_eq!(c.liveness_timeout, Duration::from_millis(500));
    assert_eq!(c.position_interval, Duration::from_millis(100));
}

#[test]
fn advertise_and_listen_follow_this_nodes_peer_address() {
    let c = load(&with_cluster(
        "node_id = 3\npeers = \"1@strait-0.strait:7071, 2@strait-1.strait:7071, 3@strait-2.strait:7071\"",
    ))
    .cluster;
    assert_eq!(c.advertise, "strait-2.strait:7071");
    assert_eq!(c.listen, "0.0.0.0:7071".parse().unwrap());
    assert_eq!(c.peers.len(), 3);

    // Explicit advertise (the same address, any case) and listen are kept.
    let c = load(&with_cluster(
        "node_id = 1\nadvertise = \"A:7070\"\nlisten = \"127.0.0.1:9000\"\npeers = [\"1@a:7070\", \"2@b:7070\"]",
    ))
    .cluster;
    assert_eq!(c.advertise, "A:7070");
    assert_eq!(c.listen, "127.0.0.1:9000".parse().unwrap());

    // Without peers, listen follows an explicit advertise; advertise follows an explicit listen.
    let c = load(&with_cluster("advertise = \"node.example:7443\"")).cluster;
    assert_eq!(c.listen, "0.0.0.0:7443".parse().unwrap());
    let c = load(&with_cluster("listen = \"10.1.2.3:7000\"")).cluster;
    assert_eq!(c.advertise, "10.1.2.3:7000");

    // A one-node peer list may rely on the default id.
    let c = load(&with_cluster("peers = [\"1@solo:7070\"]")).cluster;
    assert_eq!((c.node_id, c.advertise.as_str()), (1, "solo:7070"));
}

#[test]
fn joining_a_running_cluster() {
    let c = load(&with_cluster(
        "node_id = 4\nadvertise = \"10.0.0.4:7070\"\njoin = \"10.0.0.1:7070\"",
    ))
    .cluster;
    assert_eq!(c.join.as_deref(), Some("10.0.0.1:7070"));
    assert!(c.peers.is_empty());
    assert!(c.initial_voters().is_empty());
    assert_eq!(c.listen, "0.0.0.0:7070".parse().unwrap());

    // Advertise may come from a specific listen address.
    let c = load(&with_cluster(
        "node_id = 4\nlisten = \"10.0.0.4:7070\"\njoin = \"10.0.0.1:7070\"\npeers = []",
    ))
    .cluster;
    assert_eq!(c.advertise, "10.0.0.4:7070");
}

#[test]
fn cluster_values_are_validated() {
    let cases: &[(&str, &[&str])] = &[
        // Peer syntax: the message shows the bad item.
        (
            "peers = [\"1@a:7070\", \"2@b\"]",
            &["`cluster.peers`", "\"2@b\"", "ID@HOST:PORT"],
        ),
        (
            "peers = [\"a:7070\"]",
            &["`cluster.peers`", "\"a:7070\"", "ID@HOST:PORT"],
        ),
        (
            "peers = \"x@a:7070\"",
            &["`cluster.peers`", "\"x@a:7070\"", "ID@HOST:PORT"],
        ),
        (
            "peers = [\"1@0.0.0.0:7070\"]",
            &["`cluster.peers`", "\"1@0.0.0.0:7070\"", "not 0.0.0.0"],
        ),
        // Node id 0.
        (
            "node_id = 0",
            &["`cluster.node_id`", "\"0\"", "0 is not a node id"],
        ),
        (
            "node_id = -2",
            &["`cluster.node_id`", "\"-2\"", "at least 1"],
        ),
        (
            "peers = [\"0@a:7070\"]",
            &["`cluster.peers`", "\"0@a:7070\"", "0 is not a node id"],
        ),
        // Addresses.
        (
            "listen = \"localhost:7070\"",
            &["`cluster.listen`", "\"localhost:7070\"", "IP:PORT"],
        ),
        (
            "listen = \"7070\"",
            &["`cluster.listen`", "\"7070\"", "IP:PORT"],
        ),
        (
            "listen = \"0.0.0.0:0\"",
            &["`cluster.listen`", "\"0.0.0.0:0\"", "port 1 to 65535"],
        ),
        (
            "advertise = \"0.0.0.0:7070\"",
            &["`cluster.advertise`", "\"0.0.0.0:7070\"", "HOST:PORT"],
        ),
        (
            "advertise = \"strait-0\"",
            &["`cluster.advertise`", "\"strait-0\"", "HOST:PORT"],
        ),
        (
            "node_id = 2\nadvertise = \"b:7070\"\njoin = \"a\"",
            &["`cluster.join`", "\"a\"", "HOST:PORT"],
        ),
        // Cluster id.
        (
            "cluster_id = \"\"",
            &["`cluster.cluster_id`", "\"\"", "1 to 255 letters"],
        ),
        (
            "cluster_id = \"my cluster\"",
            &["`cluster.cluster_id`", "\"my cluster\""],
        ),
        // Timeouts below their minimum.
        (
            "liveness_timeout_ms = 499",
            &["`cluster.liveness_timeout_ms`", "\"499\"", "at least 500"],
        ),
        (
            "position_interval_ms = 99",
            &["`cluster.position_interval_ms`", "\"99\"", "at least 100"],
        ),
        (
            "position_interval_ms = -1",
            &["`cluster.position_interval_ms`", "\"-1\"", "at least 100"],
        ),
        // Type errors and unknown keys (the `config` crate's messages).
        ("node_id = \"two\"", &["cluster.node_id"]),
        ("peers = 3", &["cluster.peers"]),
        ("node = 1", &["`cluster.node`: unknown key"]),
        (
            "liveness_timeout = 3000",
            &["`cluster.liveness_timeout`: unknown key"],
        ),
    ];
    for (section, parts) in cases {
        let msg = error(&with_cluster(section));
        assert_mentions(&msg, &[FILE]);
        assert_mentions(&msg, parts);
    }
}

#[test]
fn cluster_values_must_fit_together() {
    let cases: &[(&str, &[&str])] = &[
        (
            "node_id = 1\npeers = [\"1@a:7070\", \"2@b:7070\", \"2@c:7070\"]",
            &[
                "`cluster.peers` = \"1@a:7070, 2@b:7070, 2@c:7070\"",
                "node id 2 is listed twice (2@b:7070 and 2@c:7070)",
            ],
        ),
        (
            "node_id = 1\npeers = [\"1@a:7070\", \"2@b:7070\", \"3@B:7070\"]",
            &[
                "`cluster.peers`",
                "address B:7070 is listed twice (nodes 2 and 3)",
            ],
        ),
        (
            "node_id = 3\npeers = [\"1@a:7070\", \"2@b:7070\"]",
            &[
                "`cluster.peers` = \"1@a:7070, 2@b:7070\"",
                "the peer list does not include this node (id 3, from `cluster.node_id` (line 13))",
                "one of 1, 2",
            ],
        ),
        (
            "peers = [\"2@b:7070\"]",
            &[
                "the peer list does not include this node (id 1",
                "the default: `cluster.node_id` is not set",
            ],
        ),
        (
            "node_id = 2\nadvertise = \"10.0.0.2:7070\"\npeers = [\"1@a:7070\", \"2@b:7070\"]",
            &[
                "`cluster.advertise` = \"10.0.0.2:7070\"",
                "this node (id 2) is 2@b:7070 in `cluster.peers`",
                "peer address b:7070",
            ],
        ),
        (
            "node_id = 2\npeers = [\"1@a:7070\", \"2@b:7070\"]\njoin = \"a:7070\"",
            &[
                "`cluster.join` = \"a:7070\"",
                "`cluster.join` and `cluster.peers` (line 14) are mutually exclusive",
            ],
        ),
        (
            "peers = [\"1@a:7070\", \"2@b:7070\"]",
            &[
                "`cluster.node_id` is required",
                "the peer list has several nodes",
                "STRAIT__CLUSTER__NODE_ID",
            ],
        ),
        (
            "advertise = \"b:7070\"\njoin = \"a:7070\"",
            &[
                "`cluster.node_id` is required",
                "`cluster.join` (line 14) is set",
            ],
        ),
        (
            "node_id = 2\njoin = \"a:7070\"\nlisten = \"0.0.0.0:7070\"",
            &[
                "`cluster.advertise` is required",
                "the listen address 0.0.0.0:7070 is a wildcard, not one it can use",
            ],
        ),
        (
            // Neither advertise nor listen: the default listen address would be registered,
            // and the node would stay dead in the cluster with no error.
            "node_id = 2\njoin = \"a:7070\"",
            &[
                "`cluster.advertise` is required",
                "neither it nor `cluster.listen` is set",
            ],
        ),
        (
            "node_id = 2\njoin = \"B:7070\"\nadvertise = \"b:7070\"",
            &["`cluster.join` = \"B:7070\"", "this node's own address"],
        ),
    ];
    for (section, parts) in cases {
        let msg = error(&with_cluster(section));
        assert_mentions(&msg, &[FILE]);
        assert_mentions(&msg, parts);
    }
}

const STATEFUL_SET: &str = r#"
[cluster]
peers = ["1@strait-0.strait:7070", "2@strait-1.strait:7070", "3@strait-2.strait:7070"]
"#;

#[test]
fn node_id_and_peers_from_the_environment() {
    // The same file on every node; each node's id comes from its environment.
    let text = format!("{MINIMAL}{STATEFUL_SET}");
    let c = load_env(&text, env(&[("STRAIT__CLUSTER__NODE_ID", "2")])).cluster;
    assert_eq!(c.node_id, 2);
    assert_eq!(c.advertise, "strait-1.strait:7070");
    assert_eq!(c.listen, "0.0.0.0:7070".parse().unwrap());
    assert_eq!(c.peers.len(), 3);

    // Peers from the environment, comma-separated, replace the file's list.
    let c = load_env(
        &text,
        env(&[
            ("STRAIT__CLUSTER__NODE_ID", "5"),
            ("STRAIT__CLUSTER__PEERS", "4@d:7070, 5@e:7071"),
        ]),
    )
    .cluster;
    assert_eq!(c.peers, [peer(4, "d:7070"), peer(5, "e:7071")]);
    assert_eq!(c.advertise, "e:7071");

    // An empty PEERS clears the file's list, so a new node can join instead.
    let c = load_env(
        &text,
        env(&[
            ("STRAIT__CLUSTER__NODE_ID", "4"),
            ("STRAIT__CLUSTER__PEERS", ""),
            ("STRAIT__CLUSTER__JOIN", "strait-0.strait:7070"),
            ("STRAIT__CLUSTER__ADVERTISE", "strait-3.strait:7070"),
        ]),
    )
    .cluster;
    assert!(c.peers.is_empty());
    assert_eq!(c.join.as_deref(), Some("strait-0.strait:7070"));

    // Environment values are validated like the file's.
    let msg = error_env(&text, env(&[("STRAIT__CLUSTER__NODE_ID", "0")]));
    assert_mentions(
        &msg,
        &[FILE, "`cluster.node_id`", "\"0\"", "0 is not a node id"],
    );
    let msg = error_env(&text, env(&[("STRAIT__CLUSTER__NODE_ID", "7")]));
    assert_mentions(&msg, &["the peer list does not include this node (id 7"]);
    let msg = error_env(
        &text,
        env(&[("STRAIT__CLUSTER__PEERS", "1@a:7070,2@a:7070")]),
    );
    assert_mentions(&msg, &["address a:7070 is listed twice"]);
    let msg = error_env(
        &text,
        env(&[("STRAIT__CLUSTER__PEERS", "1@a:7070;2@b:7070")]),
    );
    assert_mentions(&msg, &["`cluster.peers`", "\"1@a:7070;2@b:7070\""]);
}

#[test]
fn the_whole_cluster_section_from_the_environment() {
    // No [cluster] table in the file at all.
    let c = load_env(
        MINIMAL,
        env(&[
            ("STRAIT__CLUSTER__NODE_ID", "3"),
            ("STRAIT__CLUSTER__ADVERTISE", "10.0.0.3:7070"),
            (
                "STRAIT__CLUSTER__PEERS",
                "1@10.0.0.1:7070,2@10.0.0.2:7070,3@10.0.0.3:7070",
            ),
            ("STRAIT__CLUSTER__LISTEN", "10.0.0.3:7070"),
            ("STRAIT__CLUSTER__CLUSTER_ID", "blue"),
            ("STRAIT__CLUSTER__LIVENESS_TIMEOUT_MS", "6000"),
            ("STRAIT__CLUSTER__POSITION_INTERVAL_MS", "250"),
        ]),
    )
    .cluster;
    assert_eq!(c.node_id, 3);
    assert_eq!(c.advertise, "10.0.0.3:7070");
    assert_eq!(c.listen, "10.0.0.3:7070".parse().unwrap());
    assert_eq!(c.peers.len(), 3);
    assert_eq!(c.cluster_id, "blue");
    assert_eq!(c.liveness_timeout, Duration::from_secs(6));
    assert_eq!(c.position_interval, Duration::from_millis(250));

    // NODE_ID and ADVERTISE alone (a single node that others may join later).
    let c = load_env(
        MINIMAL,
        env(&[
            ("STRAIT__CLUSTER__NODE_ID", "7"),
            ("STRAIT__CLUSTER__ADVERTISE", "strait-6.strait.ns.svc:7070"),
        ]),
    )
    .cluster;
    assert_eq!(c.node_id, 7);
    assert_eq!(c.advertise, "strait-6.strait.ns.svc:7070");
    assert_eq!(c.listen, "0.0.0.0:7070".parse().unwrap());
    assert_eq!(c.initial_voters(), [peer(7, "strait-6.strait.ns.svc:7070")]);

    let msg = error_env(
        MINIMAL,
        env(&[("STRAIT__CLUSTER__LIVENESS_TIMEOUT_MS", "100")]),
    );
    assert_mentions(
        &msg,
        &["`cluster.liveness_timeout_ms`", "\"100\"", "at least 500"],
    );
}

#[test]
fn metrics_listen_is_off_by_default_and_validated() {
    assert_eq!(load(MINIMAL).node.metrics_listen, None);
    let s = load(&format!(
        "[node]\nmetrics_listen = \"127.0.0.1:9464\"\n{MINIMAL}"
    ));
    assert_eq!(
        s.node.metrics_listen,
        Some("127.0.0.1:9464".parse().unwrap())
    );
    let msg = error(&format!(
        "[node]\nmetrics_listen = \"localhost\"\n{MINIMAL}"
    ));
    assert_mentions(
        &msg,
        &["node.metrics_listen", "localhost", "socket address"],
    );
}

#[test]
fn consumer_failover_keys() {
    let s = load(&format!(
        "{MINIMAL}emit_checkpoints_interval_secs = 60\n\
         offset_syncs_topic_location = \"target\"\n\
         groups = [\"app-.*\"]\n\
         groups_exclude = \"app-test\"\n\
         sync_group_offsets_enabled = true\n\
         checkpoints_topic_replication_factor = 3\n"
    ));
    let mm2 = &s.flows[0].mm2;
    assert_eq!(mm2.emit_checkpoints_interval, Duration::from_secs(60));
    assert_eq!(
        mm2.offset_syncs_location,
        crate::OffsetSyncsLocation::Target
    );
    assert!(mm2.groups.matches("app-1") && !mm2.groups.matches("app-test"));
    assert!(mm2.sync_group_offsets_enabled);
    assert_eq!(mm2.checkpoints_topic_replication_factor, Some(3));
    assert_eq!(mm2.emit_heartbeats_interval, Duration::from_secs(1));

    let msg = error(&format!("{MINIMAL}offset_syncs_topic_location = \"up\"\n"));
    assert_mentions(
        &msg,
        &[
            FILE,
            "flows.a_to_b.offset_syncs_topic_location",
            "source or target",
        ],
    );
    let msg = error(&format!("{MINIMAL}emit_heartbeats_interval_secs = 0\n"));
    assert_mentions(&msg, &[FILE, "flows.a_to_b.emit_heartbeats_interval_secs"]);
}

#[test]
fn client_properties_remember_their_key_and_line() {
    use crate::{FlowClient, Location, Place, PropertyOrigin};
    let text = format!(
        "{MINIMAL}\n[clusters.A.client]\n\"client.id\" = \"a\"\n\"fetch.min.bytes\" = 1\n\
         [clusters.A.consumer]\n\"fetch.min.bytes\" = \"lots\"\n\
         [flows.a_to_b.producer]\n\"linger.ms\" = 7\n"
    );
    let s = load_env(
        &text,
        env(&[("STRAIT__CLUSTERS__A__CLIENT__CLIENT_ID", "from-env")]),
    );
    let origin = |key: &str, place| PropertyOrigin {
        key: key.to_owned(),
        at: Location::at(FILE, place),
    };
    let flow = &s.flows[0];
    let consumer = flow.client_origins.of(FlowClient::Consumer);
    assert_eq!(
        consumer["fetch.min.bytes"],
        origin("clusters.A.consumer.\"fetch.min.bytes\"", Place::Line(16))
    );
    assert_eq!(
        consumer["client.id"],
        origin(
            "clusters.A.client.\"client.id\"",
            Place::Env("STRAIT__CLUSTERS__A__CLIENT__CLIENT_ID".to_owned())
        )
    );
    assert_eq!(
        consumer["bootstrap.servers"],
        origin("clusters.A.bootstrap_servers", Place::Line(3))
    );
    let producer = flow.client_origins.of(FlowClient::Producer);
    assert_eq!(
        producer["linger.ms"],
        origin("flows.a_to_b.producer.\"linger.ms\"", Place::Line(18))
    );
    assert_eq!(
        producer.keys().collect::<Vec<_>>(),
        flow.producer.keys().collect::<Vec<_>>()
    );
    let err = flow.rejected_client_property(
        Path::new(FILE),
        FlowClient::Consumer,
        "fetch.min.bytes",
        "lots",
        "Invalid value \"lots\" for configuration property \"fetch.min.bytes\"",
    );
    assert_eq!(
        err.to_string(),
        "/etc/strait/strait.toml:16: `clusters.A.consumer.\"fetch.min.bytes\"` = \"lots\": \
         Invalid value \"lots\" for configuration property \"fetch.min.bytes\" (librdkafka, for the source \
         consumer of flow A->B)"
    );
}

#[test]
fn a_relative_data_dir_is_resolved_from_the_files_directory_and_from_env_the_working_one() {
    let s = load(&format!("{MINIMAL}[node]\ndata_dir = \"data/node1\"\n"));
    assert_eq!(s.node.data_dir, Path::new("/etc/strait/data/node1"));
    let s = load(&format!(
        "{MINIMAL}[cluster]\ndata_dir = \"../lib/strait\"\n"
    ));
    assert_eq!(s.node.data_dir, Path::new("/etc/strait/../lib/strait"));
    let s = load_env(MINIMAL, env(&[("STRAIT__NODE__DATA_DIR", "from-env")]));
    assert_eq!(
        s.node.data_dir,
        std::env::current_dir().unwrap().join("from-env")
    );
}

#[test]
fn the_data_dir_may_be_set_in_cluster() {
    let s = load(&format!(
        "{MINIMAL}[cluster]\ndata_dir = \"/var/lib/strait\"\n"
    ));
    assert_eq!(s.node.data_dir, Path::new("/var/lib/strait"));
    let both = format!("{MINIMAL}[node]\ndata_dir = \"/a\"\n[cluster]\ndata_dir = \"/a\"\n");
    assert_eq!(load(&both).node.data_dir, Path::new("/a"));
    let s = load_env(MINIMAL, env(&[("STRAIT__CLUSTER__DATA_DIR", "/from/env")]));
    assert_eq!(s.node.data_dir, Path::new("/from/env"));

    let differ = format!("{MINIMAL}[node]\ndata_dir = \"/a\"\n[cluster]\ndata_dir = \"/b\"\n");
    assert_eq!(
        error(&differ),
        format!(
            "{FILE}:14: `cluster.data_dir` = \"/b\": `node.data_dir` (line 12) = \"/a\" sets the \
             data dir too: set one of them, or both to the same directory"
        )
    );
    assert_eq!(
        error(&format!("{MINIMAL}[cluster]\ndata_dir = \"\"\n")),
        format!("{FILE}:12: invalid value \"\" for `cluster.data_dir`: expected a directory path")
    );
}

#[test]
fn a_cluster_of_several_nodes_without_its_own_id_is_warned_about() {
    let warning = "cluster.cluster_id is not set; this cluster uses the default id \"strait\", \
                   like every cluster that sets none: set a distinct id per cluster so a node \
                   never joins the wrong cluster";
    let three = "node_id = 1\npeers = [\"1@a:7070\", \"2@b:7070\", \"3@c:7070\"]";
    assert_eq!(load(&with_cluster(three)).warnings, [warning]);
    let join = "node_id = 4\nadvertise = \"d:7070\"\njoin = \"a:7070\"";
    assert_eq!(load(&with_cluster(join)).warnings, [warning]);
    let named = format!("{three}\ncluster_id = \"mirror-eu\"");
    assert!(load(&with_cluster(&named)).warnings.is_empty());
    // Set from the environment counts as set.
    let s = load_env(
        &with_cluster(three),
        env(&[("STRAIT__CLUSTER__CLUSTER_ID", "mirror-eu")]),
    );
    assert!(s.warnings.is_empty());
    // A cluster of one cannot join the wrong cluster.
    assert!(load(MINIMAL).warnings.is_empty());
    assert!(load(&with_cluster("peers = [\"1@a:7070\"]"))
        .warnings
        .is_empty());
}

#[test]
fn exactly_once_settings() {
    let flow = &load(MINIMAL).flows[0];
    assert!(!flow.exactly_once, "at-least-once by default");
    assert_eq!(flow.transaction_interval, Duration::from_millis(200));
    assert_eq!(flow.transaction_timeout, Duration::from_secs(60));
    assert_eq!(flow.transactional_id_prefix, "strait");

    let flow = &load(&format!(
        "{MINIMAL}exactly_once = true\ntransaction_interval_ms = 500\n\
         transaction_timeout_ms = 900000\ntransactional_id_prefix = \"mirror.eu-1\"\n\
         [clusters.B.producer]\n\"acks\" = \"all\"\n\"enable.idempotence\" = true\n"
    ))
    .flows[0];
    assert!(flow.exactly_once);
    assert_eq!(flow.transaction_interval, Duration::from_millis(500));
    assert_eq!(flow.transaction_timeout, Duration::from_secs(15 * 60));
    assert_eq!(flow.transactional_id_prefix, "mirror.eu-1");

    let from_env = load_env(
        MINIMAL,
        env(&[
            ("STRAIT__FLOWS__A_TO_B__EXACTLY_ONCE", "true"),
            ("STRAIT__FLOWS__A_TO_B__TRANSACTION_INTERVAL_MS", "20"),
        ]),
    );
    assert!(from_env.flows[0].exactly_once);
    assert_eq!(
        from_env.flows[0].transaction_interval,
        Duration::from_millis(20)
    );
}

#[test]
fn bad_exactly_once_settings_name_the_key_and_line() {
    let line = MINIMAL_LAST_LINE + 1;
    let cases = [
        (
            "exactly_once = \"enabled\"",
            line,
            "`flows.a_to_b.exactly_once`: expected a boolean, found string \"enabled\"",
        ),
        (
            "transaction_interval_ms = 9",
            line,
            "invalid value \"9\" for `flows.a_to_b.transaction_interval_ms`: expected a whole \
             number of milliseconds, at least 10",
        ),
        (
            "transaction_timeout_ms = 900001",
            line,
            "invalid value \"900001\" for `flows.a_to_b.transaction_timeout_ms`: expected a \
             whole number of milliseconds from 10 to 900000 (15 minutes: the brokers' default \
             transaction.max.timeout.ms)",
        ),
        (
            "transactional_id_prefix = \"strait eu\"",
            line,
            "invalid value \"strait eu\" for `flows.a_to_b.transactional_id_prefix`: expected a \
             non-empty prefix of letters, digits, '.', '_' and '-'",
        ),
        (
            "transactional_id_prefix = \"\"",
            line,
            "invalid value \"\" for `flows.a_to_b.transactional_id_prefix`: expected a \
             non-empty prefix of letters, digits, '.', '_' and '-'",
        ),
        (
            "transaction_timeout_ms = 1000\ntransaction_interval_ms = 1500",
            line + 1,
            "`flows.a_to_b.transaction_interval_ms` = \"1500\": longer than the transaction \
             timeout, 1000 ms (`flows.a_to_b.transaction_timeout_ms` (line 11)): the target \
             aborts a transaction still open after its timeout",
        ),
        (
            "exactly_once = true\n[clusters.B.producer]\n\"acks\" = 1",
            line + 2,
            "`clusters.B.producer.\"acks\"` = \"1\": contradicts the exactly-once mode of flow \
             A->B (`flows.a_to_b.exactly_once` (line 11) turns it on): the transactional \
             producer waits for all in-sync replicas: remove it, or set it to all",
        ),
        (
            "exactly_once = true\n[flows.a_to_b.producer]\n\"transactional.id\" = \"x\"",
            line + 2,
            "`flows.a_to_b.producer.\"transactional.id\"` = \"x\": contradicts the exactly-once \
             mode of flow A->B (`flows.a_to_b.exactly_once` (line 11) turns it on): Strait \
             gives the flow's producers their transactional ids: set their prefix instead \
             (`transactional_id_prefix`; mm2: `strait.transactional.id.prefix`)",
        ),
        (
            "exactly_once = true\n[flows.a_to_b.producer]\n\"enable.idempotence\" = false",
            line + 2,
            "`flows.a_to_b.producer.\"enable.idempotence\"` = \"false\": contradicts the \
             exactly-once mode of flow A->B (`flows.a_to_b.exactly_once` (line 11) turns it \
             on): the transactional producer is idempotent: remove it, or set it to true",
        ),
    ];
    for (extra, key_line, expected) in cases {
        assert_eq!(
            error(&format!("{MINIMAL}{extra}\n")),
            format!("{FILE}:{key_line}: {expected}"),
            "{extra}"
        );
    }
    // From the environment: the variable is named.
    let var = "STRAIT__FLOWS__A_TO_B__TRANSACTION_TIMEOUT_MS";
    assert_eq!(
        error_env(MINIMAL, env(&[(var, "150")])),
        format!(
            "environment variable {var} (overriding {FILE}): \
             `flows.a_to_b.transaction_timeout_ms` = \"150\": shorter than the transaction \
             interval, 200 ms (the default): the target would abort transactions before they \
             are committed"
        )
    );
}
