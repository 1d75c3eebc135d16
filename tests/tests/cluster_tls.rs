//! TLS and mutual TLS on the cluster port: three nodes with certificates from a CA generated at
//! test time elect a leader and replicate record for record; the control API answers a client
//! holding a certificate of that CA, and refuses a plaintext client, a TLS client without a
//! certificate and one with a certificate of another CA; a node with a certificate of another CA
//! cannot join; a restarted node's plaintext `health_listen` answers SERVING.

use std::path::Path;
use std::time::Duration;

use strait_proto::v1::cluster_client::ClusterClient;
use strait_proto::v1::GetClusterRequest;
use strait_tests::cluster::{connect, StraitCluster};
use strait_tests::config::{Config, TlsSettings};
use strait_tests::tls::{client_config, TestCa};
use strait_tests::{admin, broker, names, serial, verify, wait, Broker};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

const SETTLE_DEADLINE: Duration = Duration::from_secs(60);
const PARTITIONS: i32 = 3;

/// `GetCluster` at `address` with `tls`: the node ids it lists, or why the call failed.
async fn get_cluster(
    address: &str,
    tls: Option<&tonic::transport::ClientTlsConfig>,
) -> Result<Vec<u64>, String> {
    let call = async {
        let mut client = ClusterClient::new(connect(address, tls).await?);
        let response = client
            .get_cluster(GetClusterRequest {})
            .await
            .map_err(|s| format!("{:?}: {}", s.code(), s.message()))?;
        Ok(response
            .into_inner()
            .nodes
            .iter()
            .map(|n| n.node_id)
            .collect())
    };
    tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .unwrap_or_else(|_| Err("no answer within 5 s".to_owned()))
}

#[test]
fn a_mutual_tls_cluster_replicates_and_refuses_strangers() {
    let _heavy = serial::heavy();
    let (source, target) = Broker::pair();
    let topic = names::unique("tls");
    admin::create_topic(source.bootstrap(), &topic, PARTITIONS as usize);
    let base = Config::a_to_b(
        source.bootstrap(),
        target.bootstrap(),
        Path::new("unused: each node gets its own"),
        &[&topic],
    );
    let ca = TestCa::new("strait-test-ca");
    let ca_file = ca.ca_file.clone();
    let client_cert = ca.issue("operator");
    let mut cluster = StraitCluster::start_tls(3, &base, ca);
    let leader = cluster.wait_leader(Duration::from_secs(30));
    let settled = cluster.wait_settled(&[1, 2, 3], PARTITIONS as usize, SETTLE_DEADLINE);
    assert_eq!(settled.leader, leader);

    // Replicated record for record, the Raft traffic all over mutual TLS.
    let sent = strait_tests::data::produce_generated(
        source.bootstrap(),
        &topic,
        PARTITIONS,
        200,
        strait_tests::data::base_timestamp(),
    );
    let remote = format!("A.{topic}");
    let reader = verify::wait_for_tail(target.bootstrap(), &remote, &sent, None);
    verify::assert_same_partitions(&remote, &sent, reader.all());

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let address = cluster.address(leader);
    // The control API over TLS, with a client certificate of the cluster's CA.
    let operator = client_config(&ca_file, Some(&client_cert));
    let nodes = runtime
        .block_on(get_cluster(&address, Some(&operator)))
        .expect("a client with a certificate of the cluster's CA is served");
    assert_eq!(nodes, vec![1, 2, 3]);

    // The `strait` CLI over TLS: with the CA and a client certificate, and refused without.
    let cli = |args: &[&str]| {
        std::process::Command::new(strait_tests::strait::strait_bin())
            .args(["--contact", &address])
            .args(args)
            .args(["nodes", "-o", "json"])
            .env_remove("STRAIT_TLS_CA")
            .env_remove("STRAIT_TLS_CERT")
            .env_remove("STRAIT_TLS_KEY")
            .output()
            .expect("running strait")
    };
    let (ca_arg, cert_arg, key_arg) = (
        ca_file.to_string_lossy().into_owned(),
        client_cert.cert.to_string_lossy().into_owned(),
        client_cert.key.to_string_lossy().into_owned(),
    );
    let with_tls = cli(&[
        "--tls-ca",
        &ca_arg,
        "--tls-cert",
        &cert_arg,
        "--tls-key",
        &key_arg,
    ]);
    assert!(
        with_tls.status.success(),
        "strait nodes over TLS: {}",
        String::from_utf8_lossy(&with_tls.stderr)
    );
    let without = cli(&[]);
    assert!(
        !without.status.success(),
        "strait nodes in plaintext succeeded"
    );

    // Refused: plaintext, TLS without a client certificate, a certificate of another CA.
    let plaintext = runtime.block_on(get_cluster(&address, None));
    assert!(plaintext.is_err(), "plaintext served: {plaintext:?}");
    let anonymous = client_config(&ca_file, None);
    let no_cert = runtime.block_on(get_cluster(&address, Some(&anonymous)));
    assert!(
        no_cert.is_err(),
        "a client without a certificate served: {no_cert:?}"
    );
    let other_ca = TestCa::new("another-ca");
    let stranger_cert = other_ca.issue("stranger");
    let stranger = client_config(&ca_file, Some(&stranger_cert));
    let foreign = runtime.block_on(get_cluster(&address, Some(&stranger)));
    assert!(
        foreign.is_err(),
        "a certificate of another CA served: {foreign:?}"
    );

    // A node whose certificate another CA signed cannot join: the cluster never lists it.
    let rogue_cert = other_ca.issue("rogue");
    let rogue = cluster.add_node_with_tls(
        leader,
        TlsSettings {
            cert: rogue_cert.cert,
            key: rogue_cert.key,
            ca: ca_file.clone(),
            require_client_cert: None,
        },
    );
    wait::until(
        "the rogue node's join to be refused",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || {
            let log = cluster.process(rogue).log();
            if log.contains("join failed") {
                Ok(())
            } else {
                Err(cluster.process(rogue).log_tail(5))
            }
        },
        || cluster.process(rogue).log_tail(20),
    );
    for id in 1..=3 {
        let tls = cluster.client_tls(id);
        let nodes = runtime
            .block_on(get_cluster(&cluster.address(id), tls.as_ref()))
            .expect("GetCluster");
        assert_eq!(nodes, vec![1, 2, 3], "node {id} lists the rogue node");
    }
    cluster.kill9(rogue);

    // A restarted node serves plaintext health on health_listen, and rejoins over TLS.
    cluster.terminate(1);
    let health_port = broker::free_port();
    cluster.config_mut(1).cluster.health_listen = Some(format!("127.0.0.1:{health_port}"));
    cluster.restart(1);
    cluster.wait_settled(&[1, 2, 3], PARTITIONS as usize, SETTLE_DEADLINE);
    let health_address = format!("127.0.0.1:{health_port}");
    wait::until(
        "the plaintext health server to answer SERVING",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || {
            runtime.block_on(async {
                let mut client = HealthClient::new(connect(&health_address, None).await?);
                let status = client
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
                    .map_err(|s| s.to_string())?
                    .into_inner()
                    .status();
                match status {
                    ServingStatus::Serving => Ok(()),
                    other => Err(format!("{other:?}")),
                }
            })
        },
        || cluster.describe(),
    );
    cluster.assert_running();
}
