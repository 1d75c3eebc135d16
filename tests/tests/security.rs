//! Client security against real Apache Kafka brokers: Strait replicating between clusters that
//! authenticate with SASL (SCRAM-SHA-512, PLAIN) over TLS and plaintext, configured the
//! MirrorMaker 2 way and the TOML way, a replicator principal denied READ on one topic, and an
//! exactly-once flow whose target principal has no ACL for its transactional ids.
//!
//! One pair of secured clusters serves every test of this file (started on first use, kept until
//! the test binary exits). Each has SASL_SSL and SASL_PLAINTEXT listeners (certificate from a CA of
//! its own), Kafka's `StandardAuthorizer`, the super user `strait`, and the user `limited`, whose
//! rights the ACL tests set (on the source for the READ test, on the target for the exactly-once
//! one). The tests' own clients use the clusters' PLAINTEXT listener, a super user, to create
//! topics, produce and read back.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use strait_tests::cluster::status_at;
use strait_tests::config::Config;
use strait_tests::data::{self, Record};
use strait_tests::kafka::{acl_command, KafkaCluster, KafkaSpec, SaslSpec};
use strait_tests::strait::{check_config_args, temp_dir};
use strait_tests::verify::{self, wait_for_tail};
use strait_tests::{admin, eos, names, serial, wait, Strait};

const STRAIT_PASSWORD: &str = "strait-secret-1";
const LIMITED_PASSWORD: &str = "limited-secret-2";

/// What the tests need of a secured cluster (the cluster itself lives on another thread).
struct Secured {
    /// PLAINTEXT: the tests' own clients (a super user).
    plain: String,
    sasl_ssl: String,
    sasl_plaintext: String,
    ca: PathBuf,
}

/// The shared `(source, target)` secured clusters, started on first use.
fn secured_pair() -> &'static (Secured, Secured) {
    static PAIR: OnceLock<(Secured, Secured)> = OnceLock::new();
    PAIR.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        // The brokers die with the thread that spawned them: one that never ends.
        std::thread::Builder::new()
            .name("secured-kafka".into())
            .spawn(move || {
                let spec = KafkaSpec::default().with_sasl(
                    SaslSpec::default()
                        .user("strait", STRAIT_PASSWORD)
                        .user("limited", LIMITED_PASSWORD)
                        .authorizer(&["strait"]),
                );
                let started = std::panic::catch_unwind(|| {
                    KafkaCluster::start_all(&[spec.clone(), spec.clone()])
                });
                let Ok(clusters) = started else {
                    let _ = tx.send(None);
                    return;
                };
                let info = |c: &KafkaCluster| Secured {
                    plain: c.bootstrap().to_owned(),
                    sasl_ssl: c.sasl_ssl_bootstrap().to_owned(),
                    sasl_plaintext: c.sasl_plaintext_bootstrap().to_owned(),
                    ca: c.ca_file().to_owned(),
                };
                let _ = tx.send(Some((info(&clusters[0]), info(&clusters[1]))));
                let _keep = clusters;
                loop {
                    std::thread::park();
                }
            })
            .expect("spawning the secured-kafka thread");
        rx.recv()
            .ok()
            .flatten()
            .expect("starting the secured Kafka clusters failed (see the panic above)")
    })
}

/// `topics` (each `partitions` partitions) created on `bootstrap` and filled with `per_partition`
/// generated records each; what was sent, by topic then partition.
fn filled_topics(
    bootstrap: &str,
    topics: &[String],
    partitions: i32,
    per_partition: u64,
) -> Vec<Vec<Vec<Record>>> {
    let base_ts = data::base_timestamp();
    topics
        .iter()
        .map(|topic| {
            admin::create_topic(bootstrap, topic, partitions as usize);
            data::produce_generated(bootstrap, topic, partitions, per_partition, base_ts)
        })
        .collect()
}

/// The MirrorMaker 2 settings of a client of `cluster` as user `user` with SCRAM-SHA-512 over TLS
/// (Java names, as an existing mm2.properties has them).
fn mm2_scram_ssl(config: &mut Config, alias: &str, cluster: &Secured, user: &str, password: &str) {
    let jaas = format!(
        "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"{user}\" \
         password=\"{password}\";"
    );
    config
        .client_prop(alias, "security.protocol", "SASL_SSL")
        .client_prop(alias, "sasl.mechanism", "SCRAM-SHA-512")
        .client_prop(alias, "sasl.jaas.config", &jaas)
        .client_prop(alias, "ssl.truststore.type", "PEM")
        .client_prop(
            alias,
            "ssl.truststore.location",
            &cluster.ca.to_string_lossy(),
        );
}

/// The SASL listeners refuse a wrong password and accept the right one: the tests below go
/// through authentication for real.
#[test]
#[cfg_attr(tansu, ignore = "SASL needs Apache Kafka")]
fn sasl_listeners_authenticate() {
    let (source, _) = secured_pair();
    let ca = source.ca.to_string_lossy().into_owned();
    let scram = |password: &str| {
        admin::try_topics_with(
            &source.sasl_ssl,
            &[
                ("security.protocol", "sasl_ssl"),
                ("sasl.mechanism", "SCRAM-SHA-512"),
                ("sasl.username", "strait"),
                ("sasl.password", password),
                ("ssl.ca.location", &ca),
            ],
            Duration::from_secs(10),
        )
    };
    // The SASL listeners may answer a moment after the PLAINTEXT one the fixture waits for.
    wait::until(
        "the right SCRAM password accepted",
        Duration::from_secs(60),
        Duration::from_millis(500),
        || scram(STRAIT_PASSWORD).map_err(|e| e.to_string()),
        String::new,
    );
    // librdkafka reports the refused authentication to the client's log; the request itself
    // fails with the broken connection.
    assert!(scram("wrong").is_err(), "a wrong SCRAM password is refused");
    let plain = admin::try_topics_with(
        &source.sasl_plaintext,
        &[
            ("security.protocol", "sasl_plaintext"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.username", "limited"),
            ("sasl.password", "wrong"),
        ],
        Duration::from_secs(10),
    );
    assert!(plain.is_err(), "a wrong PLAIN password is refused");
    // Without the CA the broker's certificate is not trusted.
    let untrusted = admin::try_topics_with(
        &source.sasl_ssl,
        &[
            ("security.protocol", "sasl_ssl"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("sasl.username", "strait"),
            ("sasl.password", STRAIT_PASSWORD),
        ],
        Duration::from_secs(10),
    );
    assert!(
        untrusted.is_err(),
        "a certificate of an unknown CA is refused"
    );
}

/// An mm2.properties as MirrorMaker 2 users write it for SCRAM-SHA-512 over TLS
/// (`security.protocol`, `sasl.mechanism`, `sasl.jaas.config` with ScramLoginModule, a PEM
/// truststore), unchanged: `check-config` lists the source topics through the SASL_SSL listener,
/// and the node replicates 2 topics x 2 partitions record for record.
#[test]
#[cfg_attr(tansu, ignore = "SASL needs Apache Kafka")]
fn mm2_scram_sha_512_over_tls_record_for_record() {
    let _heavy = serial::heavy();
    let (source, target) = secured_pair();
    let prefix = names::unique("scram");
    let topics = vec![format!("{prefix}-t0"), format!("{prefix}-t1")];
    let sent = filled_topics(&source.plain, &topics, 2, 500);
    let data_dir = temp_dir("strait-data-");
    let mut config = Config::a_to_b(
        &source.sasl_ssl,
        &target.sasl_ssl,
        data_dir.path(),
        &[&format!("{prefix}-.*")],
    );
    mm2_scram_ssl(&mut config, "A", source, "strait", STRAIT_PASSWORD);
    mm2_scram_ssl(&mut config, "B", target, "strait", STRAIT_PASSWORD);

    let dir = temp_dir("strait-config-");
    let path = dir.path().join("mm2.properties");
    std::fs::write(&path, config.properties()).expect("writing mm2.properties");
    let check = check_config_args(&path, &[], &[]);
    assert_eq!(check.code, Some(0), "check-config: {check:?}");
    for topic in &topics {
        assert!(
            check
                .stdout
                .contains(&format!("{topic} (2 partitions) -> A.{topic}")),
            "check-config lists {topic} read through SASL_SSL:\n{}",
            check.stdout
        );
    }
    assert!(
        !check.stdout.contains("secret-1") && !check.stderr.contains("secret-1"),
        "the password is never shown: {check:?}"
    );

    let strait = Strait::start_file(&path);
    for (topic, sent) in topics.iter().zip(&sent) {
        let remote = format!("A.{topic}");
        let reader = wait_for_tail(&target.plain, &remote, sent, Some(&strait));
        verify::assert_same_partitions(&remote, sent, reader.all());
    }
}

/// The native format with librdkafka's names: PLAIN over TLS (`[clusters.X.client]`
/// `security.protocol = sasl_ssl`, `sasl.mechanism = PLAIN`, `sasl.username` / `sasl.password`,
/// `ssl.ca.location`); one topic of 3 partitions record for record.
#[test]
#[cfg_attr(tansu, ignore = "SASL needs Apache Kafka")]
fn toml_plain_over_tls_record_for_record() {
    let _heavy = serial::heavy();
    let (source, target) = secured_pair();
    let topic = names::unique("plain");
    let sent = filled_topics(&source.plain, std::slice::from_ref(&topic), 3, 400);
    let data_dir = temp_dir("strait-data-");
    let mut config = Config::a_to_b(
        &source.sasl_ssl,
        &target.sasl_ssl,
        data_dir.path(),
        &[&topic],
    );
    for (alias, cluster) in [("A", source), ("B", target)] {
        config
            .client_prop(alias, "security.protocol", "sasl_ssl")
            .client_prop(alias, "sasl.mechanism", "PLAIN")
            .client_prop(alias, "sasl.username", "strait")
            .client_prop(alias, "sasl.password", STRAIT_PASSWORD)
            .client_prop(alias, "ssl.ca.location", &cluster.ca.to_string_lossy());
    }
    let strait = Strait::start(&config.toml(), "toml");
    let remote = format!("A.{topic}");
    let reader = wait_for_tail(&target.plain, &remote, &sent[0], Some(&strait));
    verify::assert_same_partitions(&remote, &sent[0], reader.all());
}

/// The replicator's principal (`limited`, SCRAM-SHA-512 over SASL_PLAINTEXT) may do everything on
/// the source except READ one of three topics (a DENY ACL; DESCRIBE stays allowed, so the topic
/// is discovered and its remote topic created). The two others replicate record for record; the
/// denied topic's partitions back off with the authorization error in the node's status, a log
/// line naming the topic and the missing permission, and a metric per topic; nothing of it
/// reaches the target. Once the DENY is removed, it catches up record for record too.
#[test]
#[cfg_attr(tansu, ignore = "ACLs need Apache Kafka (Tansu has none)")]
fn read_denied_on_one_topic_the_others_flow() {
    let _heavy = serial::heavy();
    let (source, target) = secured_pair();
    let prefix = names::unique("acl");
    let topics: Vec<String> = ["ok0", "denied", "ok1"]
        .iter()
        .map(|t| format!("{prefix}-{t}"))
        .collect();
    let denied = &topics[1];
    let sent = filled_topics(&source.plain, &topics, 2, 300);
    // Everything on everything for `limited`, but READ on the denied topic.
    acl_command(
        &source.plain,
        &[
            "--add",
            "--allow-principal",
            "User:limited",
            "--operation",
            "All",
            "--topic",
            "*",
            "--group",
            "*",
            "--cluster",
        ],
    );
    let deny = [
        "--deny-principal",
        "User:limited",
        "--operation",
        "Read",
        "--topic",
        denied.as_str(),
    ];
    acl_command(&source.plain, &[&["--add"][..], &deny[..]].concat());

    let data_dir = temp_dir("strait-data-");
    let mut config = Config::a_to_b(
        &source.sasl_plaintext,
        &target.sasl_ssl,
        data_dir.path(),
        &[&format!("{prefix}-.*")],
    );
    let metrics = std::net::SocketAddr::from(([127, 0, 0, 1], strait_tests::broker::free_port()));
    config.metrics_listen = Some(metrics);
    config
        .client_prop("A", "security.protocol", "sasl_plaintext")
        .client_prop("A", "sasl.mechanism", "SCRAM-SHA-512")
        .client_prop("A", "sasl.username", "limited")
        .client_prop("A", "sasl.password", LIMITED_PASSWORD)
        .client_prop("B", "security.protocol", "sasl_ssl")
        .client_prop("B", "sasl.mechanism", "SCRAM-SHA-512")
        .client_prop("B", "sasl.username", "strait")
        .client_prop("B", "sasl.password", STRAIT_PASSWORD)
        .client_prop("B", "ssl.ca.location", &target.ca.to_string_lossy());
    let mut strait = Strait::start(&config.toml(), "toml");

    for (topic, sent) in topics.iter().zip(&sent) {
        if topic == denied {
            continue;
        }
        let remote = format!("A.{topic}");
        let reader = wait_for_tail(&target.plain, &remote, sent, Some(&strait));
        verify::assert_same_partitions(&remote, sent, reader.all());
    }

    // The denied topic: discovered (DESCRIBE is allowed), each partition backing off with the
    // authorization error.
    let status_address = format!("127.0.0.1:{}", config.cluster_port);
    wait::until_ok(
        &format!("both partitions of {denied} backing off with an authorization error"),
        || {
            let status = status_at(&status_address)?;
            let failing: Vec<_> = status
                .partitions
                .iter()
                .filter(|p| &p.topic == denied)
                .map(|p| (p.partition, p.state.clone(), p.last_error.clone()))
                .collect();
            let all_denied = failing.len() == 2
                && failing.iter().all(|(_, state, error)| {
                    state == "backing_off" && error.contains("authorization")
                });
            if all_denied {
                Ok(())
            } else {
                Err(format!("{failing:?}"))
            }
        },
        || strait.log_tail(30),
    );
    let log = strait.log();
    let line = log
        .lines()
        .find(|l| l.contains(denied.as_str()) && l.contains("READ"))
        .unwrap_or_else(|| panic!("no log line names {denied} and READ:\n{log}"));
    assert!(
        line.contains("limited") || line.contains("principal"),
        "{line}"
    );
    let body = http_get(metrics, "/metrics");
    let series =
        format!("strait_consumer_authorization_errors_total{{flow=\"A->B\",topic=\"{denied}\"}}");
    assert!(body.contains(&series), "{series} in:\n{body}");
    // Nothing of the denied topic reached the target, and the others did not stop.
    let remote_denied = format!("A.{denied}");
    assert_eq!(
        verify::read_topic(&target.plain, &remote_denied),
        vec![Vec::<Record>::new(), Vec::new()]
    );
    strait.assert_running();

    // Fixed on the broker: the next attempt (at most one fatal backoff later) reads it.
    acl_command(
        &source.plain,
        &[&["--remove", "--force"][..], &deny[..]].concat(),
    );
    let reader = wait::until(
        &format!("{remote_denied} caught up after READ was granted"),
        Duration::from_secs(150),
        Duration::from_secs(1),
        || {
            let got = verify::read_topic(&target.plain, &remote_denied);
            if got.iter().map(Vec::len).sum::<usize>() >= 600 {
                Ok(got)
            } else {
                Err(format!(
                    "{:?}",
                    got.iter().map(Vec::len).collect::<Vec<_>>()
                ))
            }
        },
        || strait.log_tail(30),
    );
    verify::assert_same_partitions(&remote_denied, &sent[1], &reader);
}

/// An exactly-once flow whose target principal (`limited`, SCRAM-SHA-512 over TLS) may do
/// everything on topics and READ the positions group `strait-eos.` (PREFIXED), but has no
/// `TransactionalId` ACL: `init_transactions` is refused, so every partition of the flow backs off
/// with the refusal naming the transactional id in its status, the node logs the ERROR line naming
/// it, and nothing reaches the remote topic (not even an aborted record). Once WRITE and DESCRIBE
/// on the PREFIXED `TransactionalId` `strait-` are granted, the partitions (after their backoff)
/// replicate record for record, read `read_committed`, with their positions committed in
/// the group: the ACLs docs/exactly-once.md lists are enough.
#[test]
#[cfg_attr(tansu, ignore = "ACLs need Apache Kafka (Tansu has none)")]
fn exactly_once_without_transactional_id_acl_is_refused_with_the_reason() {
    let _heavy = serial::heavy();
    let started = std::time::Instant::now();
    let (source, target) = secured_pair();
    let topic = names::unique("eos-acl");
    let remote = format!("A.{topic}");
    let sent = filled_topics(&source.plain, std::slice::from_ref(&topic), 2, 300);
    let sent = &sent[0];
    // On the target: everything on topics (the remote topic is created, configured, written) and
    // READ on the positions group, but no TransactionalId ACL.
    acl_command(
        &target.plain,
        &[
            "--add",
            "--allow-principal",
            "User:limited",
            "--operation",
            "All",
            "--topic",
            "*",
        ],
    );
    acl_command(
        &target.plain,
        &[
            "--add",
            "--allow-principal",
            "User:limited",
            "--operation",
            "Read",
            "--group",
            "strait-eos.",
            "--resource-pattern-type",
            "prefixed",
        ],
    );

    let data_dir = temp_dir("strait-data-");
    let mut config = Config::a_to_b(
        &source.sasl_ssl,
        &target.sasl_ssl,
        data_dir.path(),
        &[&topic],
    );
    config
        .flow()
        .toml_extra
        .push("exactly_once = true".to_owned());
    for (alias, cluster, user, password) in [
        ("A", source, "strait", STRAIT_PASSWORD),
        ("B", target, "limited", LIMITED_PASSWORD),
    ] {
        config
            .client_prop(alias, "security.protocol", "sasl_ssl")
            .client_prop(alias, "sasl.mechanism", "SCRAM-SHA-512")
            .client_prop(alias, "sasl.username", user)
            .client_prop(alias, "sasl.password", password)
            .client_prop(alias, "ssl.ca.location", &cluster.ca.to_string_lossy());
    }
    let mut strait = Strait::start(&config.toml(), "toml");

    let status_address = format!("127.0.0.1:{}", config.cluster_port);
    let (node, errors) = wait::until_ok(
        &format!("both partitions of {topic} backing off with the transactions refusal"),
        || {
            let status = status_at(&status_address)?;
            let failing: Vec<_> = status
                .partitions
                .iter()
                .filter(|p| p.topic == topic)
                .map(|p| (p.partition, p.state.clone(), p.last_error.clone()))
                .collect();
            let refused = failing.len() == 2
                && failing.iter().all(|(_, state, error)| {
                    state == "backing_off" && error.starts_with("the target refuses transactions")
                });
            if refused {
                Ok((status.node_id, failing))
            } else {
                Err(format!("{failing:?}"))
            }
        },
        || strait.log_tail(30),
    );
    let id = format!("strait-A-B-{node}");
    println!(
        "refused after {:.1} s: {errors:?}",
        started.elapsed().as_secs_f64()
    );
    for (partition, _, error) in &errors {
        assert_eq!(
            error,
            &format!(
                "the target refuses transactions: the principal may not use transactional id \
                 {id} (grant WRITE and DESCRIBE on the PREFIXED TransactionalId strait-A-B-, see \
                 docs/exactly-once.md)"
            ),
            "partition {partition}"
        );
    }
    let log = strait.log();
    let line = log
        .lines()
        .find(|l| l.contains("the target does not accept this node's transactions"))
        .unwrap_or_else(|| panic!("no ERROR line about the refused transactions:\n{log}"));
    assert!(
        line.contains("ERROR") && line.contains(&id),
        "the line is an ERROR naming {id}: {line}"
    );
    // Nothing reached the remote topic, not even records of an aborted transaction.
    verify::wait_for_topic(&target.plain, &remote, 2, Some(&strait));
    assert_eq!(eos::records_in_log(&target.plain, &remote, 2), vec![0, 0]);
    strait.assert_running();

    // Granted: the committer's next `init_transactions` succeeds (it asks again after at most
    // 16 s), the partitions start again after their backoff and replicate everything exactly.
    acl_command(
        &target.plain,
        &[
            "--add",
            "--allow-principal",
            "User:limited",
            "--operation",
            "Write",
            "--operation",
            "Describe",
            "--transactional-id",
            "strait-",
            "--resource-pattern-type",
            "prefixed",
        ],
    );
    let granted = std::time::Instant::now();
    let refusals = strait
        .log()
        .matches("the target does not accept this node's transactions")
        .count();
    println!("the node logged {refusals} refusals before the grant");
    let reader = wait_for_tail(&target.plain, &remote, sent, Some(&strait));
    println!(
        "caught up {:.1} s after the grant; test took {:.1} s",
        granted.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    verify::assert_same_partitions(&remote, sent, reader.all());
    let read = reader.into_records();
    let report = eos::check(sent, &read);
    assert!(report.exact(), "{report}");
    assert_eq!(
        eos::records_in_log(&target.plain, &remote, 2),
        vec![300, 300]
    );
    wait::until_ok(
        "the positions committed in group strait-eos.A-B to be the source's ends",
        || {
            let committed = admin::committed_offsets(&target.plain, "strait-eos.A-B", &remote, 2);
            let want = [(0, 300), (1, 300)].into_iter().collect();
            if committed == want {
                Ok(())
            } else {
                Err(format!("{committed:?}"))
            }
        },
        || strait.log_tail(30),
    );
    strait.assert_running();
}

/// `GET path` on `addr`, the response body.
fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connecting to the metrics port");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("request");
    let mut out = String::new();
    stream.read_to_string(&mut out).expect("response");
    out
}
