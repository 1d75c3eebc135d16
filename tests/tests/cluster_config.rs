//! One configuration for the whole cluster (`node/src/shared_config.rs`): the clusters and flows
//! live in the Raft state under a version. A new cluster takes its first node's file as version 1;
//! a node restarted with a file that changed since its last start proposes it as the next version
//! and every node switches to it (their flows restart, the nodes do not); a node whose file
//! differs but did not change since its last start follows the committed version and says so
//! (`config_note`); nothing flip-flops. A configuration applied through the control API
//! (`strait.v1.Config/ApplyConfig`, `node/src/control/config_api.rs`) becomes the next version the
//! same way; a stale `expected_version`, a malformed text, a dry run and an identical text change
//! nothing.
//!
//! Each test runs two Tansu brokers and 3 nodes; the flow's topics are what changes between
//! versions (`<p>-a.*` in version 1, `<p>-.*` in version 2), so that a topic outside version 1
//! (`<p>-b-x`) shows which version the cluster runs. Restarts are clean (SIGTERM) and happen only
//! once the replicated positions cover everything produced, so the target must hold exact copies:
//! no record missing, none twice.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use strait_proto::v1::config_client::ConfigClient;
use strait_proto::v1::{
    ApplyConfigRequest, ApplyConfigResponse, ConfigChange, GetConfigRequest, GetConfigResponse,
    SettingChange,
};
use strait_tests::cluster::{assignment_of, secs, StraitCluster};
use strait_tests::config::Config;
use strait_tests::data::{self, Record};
use strait_tests::{admin, names, serial, verify, wait, Broker};

/// The flow every test runs, as the Status service names it.
const FLOW: &str = "A->B";
/// Partitions of each source topic: one per node.
const PARTITIONS: i32 = 3;
/// Records per partition in one batch.
const BATCH: u64 = 50;
/// How long the cluster may take to settle after a start, a restart or a new version.
const SETTLE_DEADLINE: Duration = Duration::from_secs(60);
/// How long a node may take to answer with its configuration settled.
const CONFIG_DEADLINE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(100);

/// A source topic and what was produced to it so far, by partition.
struct Topic {
    name: String,
    remote: String,
    sent: Vec<Vec<Record>>,
}

impl Topic {
    fn produce_batch(&mut self, bootstrap: &str, base_ts: i64) {
        let first = self.sent[0].len() as u64;
        let batch = data::produce_generated_range(
            bootstrap,
            &self.name,
            PARTITIONS,
            first..first + BATCH,
            base_ts,
        );
        for (sent, more) in self.sent.iter_mut().zip(batch) {
            sent.extend(more);
        }
    }
}

struct Setup {
    source: Broker,
    target: Broker,
    /// In version 1 and version 2.
    a: Topic,
    /// In version 2 only.
    b: Topic,
    /// The flow's topics of version 2 (version 1 is `base`'s).
    pattern_v2: String,
    /// What every node starts on (version 1).
    base: Config,
    base_ts: i64,
}

fn setup(prefix: &str) -> Setup {
    let (source, target) = Broker::pair();
    let p = names::unique(prefix);
    let topic = |suffix: &str| {
        let name = format!("{p}-{suffix}-x");
        admin::create_topic(source.bootstrap(), &name, PARTITIONS as usize);
        Topic {
            remote: format!("A.{name}"),
            name,
            sent: vec![Vec::new(); PARTITIONS as usize],
        }
    };
    let (a, b) = (topic("a"), topic("b"));
    let base = Config::a_to_b(
        source.bootstrap(),
        target.bootstrap(),
        Path::new("unused: each node gets its own"),
        &[&format!("{p}-a.*")],
    );
    Setup {
        source,
        target,
        a,
        b,
        pattern_v2: format!("{p}-.*"),
        base,
        base_ts: data::base_timestamp(),
    }
}

/// `(config_version, config_note)` of every running node.
type Configs = BTreeMap<u64, (u64, String)>;

fn configs(cluster: &StraitCluster) -> Result<Configs, String> {
    cluster
        .running()
        .into_iter()
        .map(|id| {
            let status = cluster.status(id).map_err(|e| format!("node {id}: {e}"))?;
            Ok((id, (status.config_version, status.config_note)))
        })
        .collect()
}

/// Waits until every running node runs configuration `version`, the nodes of `noted` with a
/// note naming that version and the others without a note; returns the notes.
fn wait_version(cluster: &StraitCluster, version: u64, noted: &[u64]) -> Configs {
    wait::until(
        &format!("every node to run configuration version {version}, notes on {noted:?} only"),
        CONFIG_DEADLINE,
        POLL,
        || {
            cluster.assert_running();
            let configs = configs(cluster)?;
            let good = configs.iter().all(|(id, (v, note))| {
                *v == version
                    && if noted.contains(id) {
                        note.contains(&format!("version {version}"))
                    } else {
                        note.is_empty()
                    }
            });
            if good {
                Ok(configs)
            } else {
                Err(format!("{configs:?}"))
            }
        },
        || cluster.describe(),
    )
}

/// Waits until `topic` (all of what was sent to it) is on the target, and checks the copy is
/// exact.
fn assert_replicated(s: &Setup, topic: &Topic) {
    let reader = verify::wait_for_tail(s.target.bootstrap(), &topic.remote, &topic.sent, None);
    verify::assert_same_partitions(&topic.remote, &topic.sent, reader.all());
}

/// Waits until the cluster state holds, for every partition of `topic`, the position after
/// everything sent to it: a clean restart from here replays nothing.
fn wait_positions(cluster: &StraitCluster, topic: &Topic) {
    wait::until(
        &format!(
            "the replicated positions of {} to cover everything sent",
            topic.name
        ),
        SETTLE_DEADLINE,
        POLL,
        || {
            cluster.assert_running();
            for id in cluster.running() {
                let assignment =
                    assignment_of(&cluster.status(id).map_err(|e| format!("node {id}: {e}"))?);
                for (p, sent) in topic.sent.iter().enumerate() {
                    let key = (FLOW.to_owned(), topic.name.clone(), p as i32);
                    let at = assignment.get(&key).map(|o| o.next_source_offset);
                    if at != Some(sent.len() as i64) {
                        return Err(format!("node {id} sees {key:?} at {at:?}"));
                    }
                }
            }
            Ok(())
        },
        || cluster.describe(),
    );
}

/// Starts 3 nodes on the same file and waits until they run version 1 (no notes) with topic `a`'s
/// partitions assigned.
fn start_on_version_1(s: &Setup) -> StraitCluster {
    let started = Instant::now();
    let cluster = StraitCluster::start(3, &s.base);
    cluster.wait_settled(&[1, 2, 3], PARTITIONS as usize, SETTLE_DEADLINE);
    wait_version(&cluster, 1, &[]);
    println!("3 nodes on version 1 after {:.1} s", secs(started));
    cluster
}

/// Restarts node 2 (SIGTERM, then start) on its file with the flow's topics changed to version
/// 2's; waits until every node runs version 2 and the cluster settled on both topics. Nodes 1 and
/// 3, not restarted, must say that their files differ.
fn change_node_2(s: &Setup, cluster: &mut StraitCluster) {
    let started = Instant::now();
    let pids = (cluster.process(1).pid(), cluster.process(3).pid());
    cluster.terminate(2);
    cluster.config_mut(2).flow().topics = vec![s.pattern_v2.clone()];
    cluster.restart(2);
    wait_version(cluster, 2, &[1, 3]);
    let settled = cluster.wait_settled(&[1, 2, 3], 2 * PARTITIONS as usize, SETTLE_DEADLINE);
    println!(
        "node 2 restarted on a changed file: version 2 everywhere, settled after {:.1} s \
         (counts {:?})",
        secs(started),
        settled.counts(&[1, 2, 3])
    );
    assert_eq!(
        (cluster.process(1).pid(), cluster.process(3).pid()),
        pids,
        "nodes 1 and 3 are the processes started at first"
    );
    let log = cluster.process(2).log();
    assert!(
        log.contains("proposed this node's configuration to the cluster"),
        "node 2 proposed its changed file\n{log}"
    );
    for id in [1, 3] {
        let log = cluster.process(id).log();
        assert!(
            log.contains("the cluster configuration changed: restarting the flows"),
            "node {id} switched to version 2 in place\n{}",
            cluster.process(id).log_tail(40)
        );
    }
}

/// Restarts node 1 (SIGTERM, then start) on the file it last started on, which differs from
/// version 2: it must follow version 2, with a note, and propose nothing.
fn restart_node_1_unchanged(s: &Setup, cluster: &mut StraitCluster, what: &str) {
    let started = Instant::now();
    cluster.terminate(1);
    assert_eq!(
        cluster.config(1).flows[0].topics,
        s.base.flows[0].topics,
        "node 1 runs its original file"
    );
    cluster.restart(1);
    let configs = wait_version(cluster, 2, &[1, 3]);
    cluster.wait_settled(&[1, 2, 3], 2 * PARTITIONS as usize, SETTLE_DEADLINE);
    println!(
        "{what}: node 1 follows version 2, settled after {:.1} s; its note: {:?}",
        secs(started),
        configs[&1].1
    );
    let log = cluster.process(1).log();
    assert!(
        !log.contains("proposed this node's configuration"),
        "{what}: node 1 proposed its unchanged file\n{log}"
    );
    assert!(
        log.contains("differs from the cluster's version 2"),
        "{what}: node 1 warns that its file differs\n{log}"
    );
}

/// Three nodes start on one file (version 1: topics `<p>-a.*`): only `A.<p>-a-x` is replicated.
/// Node 2 restarted with its flow's topics changed to `<p>-.*` makes that version 2 on every node,
/// without restarting nodes 1 and 3 (which now note that their files differ): `<p>-b-x` gets
/// replicated, exactly, from its first record, and `<p>-a-x` goes on exactly too.
#[test]
fn a_changed_file_becomes_the_next_version_everywhere() {
    let _heavy = serial::heavy();
    let started = Instant::now();
    let mut s = setup("cfg-change");
    let mut cluster = start_on_version_1(&s);
    let bootstrap = s.source.bootstrap().to_owned();
    s.a.produce_batch(&bootstrap, s.base_ts);
    s.b.produce_batch(&bootstrap, s.base_ts);
    assert_replicated(&s, &s.a);
    let remotes = admin::topic_names_with_prefix(s.target.bootstrap(), "A.");
    assert!(
        !remotes.contains(&s.b.remote),
        "{} is not in version 1 but was replicated (target: {remotes:?})",
        s.b.remote
    );
    wait_positions(&cluster, &s.a);

    change_node_2(&s, &mut cluster);
    let configs = configs(&cluster).expect("statuses");
    println!("notes: {configs:?}");
    s.a.produce_batch(&bootstrap, s.base_ts);
    s.b.produce_batch(&bootstrap, s.base_ts);
    assert_replicated(&s, &s.b);
    assert_replicated(&s, &s.a);
    // Nothing changed meanwhile.
    wait_version(&cluster, 2, &[1, 3]);
    cluster.assert_running();
    println!("done in {:.1} s", secs(started));
}

/// After version 2 came from node 2, node 1 restarted (twice) on its original file, unchanged
/// since its last start, keeps running version 2 (with a note) and proposes nothing: no version 3,
/// no flip back to version 1, and `<p>-b-x` (only in version 2) keeps being replicated exactly.
#[test]
fn a_stale_file_follows_the_cluster_and_never_flip_flops() {
    let _heavy = serial::heavy();
    let started = Instant::now();
    let mut s = setup("cfg-stale");
    let mut cluster = start_on_version_1(&s);
    change_node_2(&s, &mut cluster);
    let bootstrap = s.source.bootstrap().to_owned();
    s.b.produce_batch(&bootstrap, s.base_ts);
    assert_replicated(&s, &s.b);
    wait_positions(&cluster, &s.b);

    for round in ["first restart", "second restart"] {
        restart_node_1_unchanged(&s, &mut cluster, round);
        s.b.produce_batch(&bootstrap, s.base_ts);
        assert_replicated(&s, &s.b);
        wait_positions(&cluster, &s.b);
        // A proposal from node 1 would have made version 3 (versions only grow).
        wait_version(&cluster, 2, &[1, 3]);
    }
    cluster.assert_running();
    println!("done in {:.1} s", secs(started));
}

/// A client of `strait.v1.Config` on one node, on a runtime of its own.
struct ConfigApi {
    runtime: tokio::runtime::Runtime,
    client: ConfigClient<tonic::transport::Channel>,
}

impl ConfigApi {
    fn connect(address: &str) -> ConfigApi {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let client = runtime
            .block_on(ConfigClient::connect(format!("http://{address}")))
            .unwrap_or_else(|e| panic!("cannot reach {address}: {e}"));
        ConfigApi { runtime, client }
    }

    fn apply(&mut self, request: ApplyConfigRequest) -> Result<ApplyConfigResponse, tonic::Status> {
        let mut client = self.client.clone();
        self.runtime
            .block_on(client.apply_config(request))
            .map(tonic::Response::into_inner)
    }

    fn get(&mut self) -> GetConfigResponse {
        let mut client = self.client.clone();
        self.runtime
            .block_on(client.get_config(GetConfigRequest {}))
            .unwrap_or_else(|s| panic!("GetConfig: {:?} {}", s.code(), s.message()))
            .into_inner()
    }

    /// The status of an `ApplyConfig` that must fail.
    fn refused(&mut self, what: &str, request: ApplyConfigRequest) -> tonic::Status {
        match self.apply(request) {
            Ok(response) => panic!("{what}: expected an error, got {response:?}"),
            Err(status) => {
                println!("{what}: {:?} {}", status.code(), status.message());
                status
            }
        }
    }
}

fn toml_request(content: &str, expected_version: u64, dry_run: bool) -> ApplyConfigRequest {
    ApplyConfigRequest {
        content: content.to_owned(),
        format: "toml".to_owned(),
        expected_version,
        dry_run,
    }
}

/// Every running node's configuration version, as its status says.
fn versions(cluster: &StraitCluster) -> BTreeMap<u64, u64> {
    configs(cluster)
        .expect("statuses")
        .into_iter()
        .map(|(id, (version, _))| (id, version))
        .collect()
}

/// Three nodes run version 1 (topics `<p>-a.*`). Through a follower: a dry run of a text with
/// the flow's topics changed to `<p>-.*` says what would change and changes nothing; a stale
/// `expected_version` is `FailedPrecondition` naming the current version; malformed texts are
/// `InvalidArgument` naming the key (and, for mm2.properties, the line); then the text applied
/// with the right `expected_version` becomes version 2 on every node, which restart their flows in
/// place and note that their files differ: `<p>-b-x` gets replicated exactly from its first
/// record, and `<p>-a-x` goes on exactly. Applying the same text again is `unchanged`.
#[test]
fn a_config_applied_through_a_follower_becomes_the_next_version_everywhere() {
    let _heavy = serial::heavy();
    let started = Instant::now();
    let mut s = setup("cfg-apply");
    let cluster = start_on_version_1(&s);
    let bootstrap = s.source.bootstrap().to_owned();
    s.a.produce_batch(&bootstrap, s.base_ts);
    s.b.produce_batch(&bootstrap, s.base_ts);
    assert_replicated(&s, &s.a);
    let leader = cluster.wait_leader(SETTLE_DEADLINE);
    let follower = *cluster
        .ids()
        .iter()
        .find(|id| **id != leader)
        .expect("a follower");
    let mut api = ConfigApi::connect(&cluster.address(follower));
    let before = api.get();
    assert_eq!(before.version, 1, "{before:?}");
    assert!(
        before
            .content
            .contains(&format!("{}-a.*", names_prefix(&s))),
        "version 1's text has its topics:\n{}",
        before.content
    );

    let mut v2 = s.base.clone();
    v2.flow().topics = vec![s.pattern_v2.clone()];
    let v2 = v2.toml();
    let expected_change = vec![ConfigChange {
        kind: "flow".to_owned(),
        name: FLOW.to_owned(),
        change: "changed".to_owned(),
        settings: vec![SettingChange {
            key: "topics".to_owned(),
            old_value: format!("[\"{}-a.*\"]", names_prefix(&s)),
            new_value: format!("[\"{}\"]", s.pattern_v2),
        }],
    }];

    // A dry run says what would change, and changes nothing.
    let dry = api.apply(toml_request(&v2, 1, true)).expect("the dry run");
    assert!(dry.dry_run && !dry.unchanged, "{dry:?}");
    assert_eq!((dry.version, dry.previous_version), (2, 1), "{dry:?}");
    assert_eq!(dry.changes, expected_change);
    assert!(
        dry.notes.iter().any(|n| n.contains("[node] and [cluster]")),
        "the node settings of the text are noted as not applied: {:?}",
        dry.notes
    );
    assert_eq!(api.get().version, 1, "a dry run makes no version");

    // A stale expected version.
    let stale = api.refused("stale expected_version", toml_request(&v2, 7, false));
    assert_eq!(stale.code(), tonic::Code::FailedPrecondition);
    assert!(
        stale.message().contains("expected_version") && stale.message().contains("version 1"),
        "{}",
        stale.message()
    );

    // Malformed texts name the key, and in mm2.properties the line.
    let bad_toml = v2.replace("max_in_flight_records", "max_in_flight_recordz");
    let bad = api.refused("an unknown TOML key", toml_request(&bad_toml, 0, false));
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert!(
        bad.message().starts_with("content") && bad.message().contains("max_in_flight_recordz"),
        "{}",
        bad.message()
    );
    // A bad value, and a client property librdkafka rejects (it would stop every node's flow):
    // both refused at the edge, naming the key and its line.
    for (what, key, value) in [
        (
            "a bad mm2.properties value",
            "A->B.replication.factor",
            "many",
        ),
        (
            "a client property librdkafka rejects",
            "A.consumer.fetch.min.bytes",
            "lots",
        ),
    ] {
        let content = format!("{}{key} = {value}\n", s.base.properties());
        let line = content.lines().count();
        let bad = api.refused(
            what,
            ApplyConfigRequest {
                content,
                format: "properties".to_owned(),
                ..Default::default()
            },
        );
        assert_eq!(bad.code(), tonic::Code::InvalidArgument);
        assert!(
            bad.message().starts_with(&format!("content:{line}: ")) && bad.message().contains(key),
            "{what}: {}",
            bad.message()
        );
    }
    let bad = api.refused(
        "an unknown format",
        ApplyConfigRequest {
            format: "yaml".to_owned(),
            ..toml_request(&v2, 0, false)
        },
    );
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert!(bad.message().starts_with("format: "), "{}", bad.message());
    assert_eq!(
        versions(&cluster),
        BTreeMap::from([(1, 1), (2, 1), (3, 1)]),
        "nothing refused was applied"
    );
    let remotes = admin::topic_names_with_prefix(s.target.bootstrap(), "A.");
    assert!(
        !remotes.contains(&s.b.remote),
        "{} is not in version 1 but was replicated (target: {remotes:?})",
        s.b.remote
    );
    wait_positions(&cluster, &s.a);

    // Applied for real: version 2 everywhere, flows restarted in place.
    let pids: Vec<u32> = cluster
        .ids()
        .iter()
        .map(|id| cluster.process(*id).pid())
        .collect();
    let applied = api.apply(toml_request(&v2, 1, false)).expect("ApplyConfig");
    assert!(!applied.dry_run && !applied.unchanged, "{applied:?}");
    assert_eq!((applied.version, applied.previous_version), (2, 1));
    assert_eq!(applied.changes, expected_change);
    wait_version(&cluster, 2, &[1, 2, 3]);
    cluster.wait_settled(&[1, 2, 3], 2 * PARTITIONS as usize, SETTLE_DEADLINE);
    println!(
        "version 2 applied through node {follower}: settled after {:.1} s",
        secs(started)
    );
    let after = api.get();
    assert_eq!((after.version, after.origin_node), (2, follower));
    assert!(after.content.contains(&s.pattern_v2), "{}", after.content);
    for id in cluster.ids() {
        let log = cluster.process(id).log();
        assert!(
            log.contains("the cluster configuration changed: restarting the flows"),
            "node {id} switched to version 2 in place\n{}",
            cluster.process(id).log_tail(40)
        );
    }
    let now: Vec<u32> = cluster
        .ids()
        .iter()
        .map(|id| cluster.process(*id).pid())
        .collect();
    assert_eq!(now, pids, "no node process restarted");

    s.a.produce_batch(&bootstrap, s.base_ts);
    s.b.produce_batch(&bootstrap, s.base_ts);
    assert_replicated(&s, &s.b);
    assert_replicated(&s, &s.a);

    // The same text again, from a file through the CLI at another node: no new version.
    let dir = strait_tests::strait::temp_dir("strait-apply-");
    let file = dir.path().join("strait.toml");
    std::fs::write(&file, &v2).expect("writing the config file");
    let leader_address = cluster.address(leader);
    let again = strait_cli(&leader_address, &["config", "apply", "-o", "json"], &file);
    let again: serde_json::Value = serde_json::from_str(&again).expect("JSON");
    assert_eq!(again["unchanged"], true, "{again}");
    assert_eq!(again["version"], 2, "{again}");
    assert_eq!(again["changes"], serde_json::json!([]), "{again}");
    let shown = strait_cli(&leader_address, &["config", "show"], Path::new(""));
    assert!(
        shown.starts_with(&format!(
            "# configuration version 2 (from node {follower}, answered by node {leader})"
        )) && shown.contains(&s.pattern_v2),
        "{shown}"
    );
    wait_version(&cluster, 2, &[1, 2, 3]);
    cluster.assert_running();
    println!("done in {:.1} s", secs(started));
}

/// Runs `strait --contact <address> <args> [file]` and returns its stdout; panics unless it
/// succeeds.
fn strait_cli(address: &str, args: &[&str], file: &Path) -> String {
    let mut command = std::process::Command::new(strait_tests::strait::strait_bin());
    command.args(["--contact", address]).args(args);
    if !file.as_os_str().is_empty() {
        command.arg(file);
    }
    let output = command.output().expect("running strait");
    assert!(
        output.status.success(),
        "strait {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// The `<p>` of a setup's topics (`<p>-a-x`).
fn names_prefix(s: &Setup) -> &str {
    s.a.name.strip_suffix("-a-x").expect("topic a is <p>-a-x")
}
