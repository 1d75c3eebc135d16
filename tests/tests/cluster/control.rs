//! The control API (`strait.v1`) against real clusters, through the generated client: answers
//! match the Raft state, a follower forwards changes, pause keeps positions and resume continues
//! with no gap, drain empties a node, bad requests get the right status codes, a configured token
//! is required, and a change with no leader is `Unavailable`.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Duration;

use strait_proto::v1::cluster_client::ClusterClient;
use strait_proto::v1::flows_client::FlowsClient;
use strait_proto::v1::offsets_client::OffsetsClient;
use strait_proto::v1::partitions_client::PartitionsClient;
use strait_proto::v1::status_client::StatusClient;
use strait_proto::v1::status_event::Event;
use strait_proto::v1::*;
use tonic::transport::Channel;
use tonic::Code;

use super::*;

/// A client of every control service on one node.
struct Api {
    cluster: ClusterClient<Channel>,
    flows: FlowsClient<Channel>,
    partitions: PartitionsClient<Channel>,
    offsets: OffsetsClient<Channel>,
    status: StatusClient<Channel>,
}

impl Api {
    async fn connect(address: &str) -> Api {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
            .expect("an endpoint")
            .connect()
            .await
            .unwrap_or_else(|e| panic!("cannot reach {address}: {e}"));
        Api {
            cluster: ClusterClient::new(channel.clone()),
            flows: FlowsClient::new(channel.clone()),
            partitions: PartitionsClient::new(channel.clone()),
            offsets: OffsetsClient::new(channel.clone()),
            status: StatusClient::new(channel),
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The response of a call that must succeed.
fn ok<T>(
    rt: &tokio::runtime::Runtime,
    what: &str,
    call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> T {
    rt.block_on(call)
        .unwrap_or_else(|s| panic!("{what}: {:?} {}", s.code(), s.message()))
        .into_inner()
}

/// The status code of a call that must fail, and its message.
fn code<T: std::fmt::Debug>(
    rt: &tokio::runtime::Runtime,
    call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> (Code, String) {
    match rt.block_on(call) {
        Ok(response) => panic!("expected an error, got {:?}", response.into_inner()),
        Err(status) => (status.code(), status.message().to_owned()),
    }
}

/// Every page of ListAssignments with `page_size`.
fn all_assignments(
    rt: &tokio::runtime::Runtime,
    api: &mut Api,
    filter: ListAssignmentsRequest,
    page_size: u32,
) -> (Vec<Assignment>, usize) {
    let mut all = Vec::new();
    let mut pages = 0;
    let mut token = String::new();
    loop {
        let page = ok(
            rt,
            "ListAssignments",
            api.partitions.list_assignments(ListAssignmentsRequest {
                page_size,
                page_token: token,
                ..filter.clone()
            }),
        );
        pages += 1;
        assert!(page.assignments.len() <= page_size as usize);
        all.extend(page.assignments);
        if page.next_page_token.is_empty() {
            return (all, pages);
        }
        token = page.next_page_token;
    }
}

fn owners(assignments: &[Assignment]) -> BTreeMap<PartitionId, u64> {
    assignments
        .iter()
        .map(|a| ((a.flow.clone(), a.topic.clone(), a.partition), a.owner))
        .collect()
}

#[test]
fn control_api_drives_a_three_node_cluster() {
    let _heavy = serial::heavy();
    let s = setup("cl-control");
    let mut cluster = StraitCluster::start(3, &s.base);
    let producers = start_load(&s);
    let settled = cluster.wait_settled(&[1, 2, 3], PARTITIONS, SETTLE_DEADLINE);
    let mut target = TargetWatch::new(&s);
    target.wait_growth(&cluster, 100, "before the control calls");
    // Everything goes through a follower: reads answer from its state, changes are forwarded.
    let follower = (1..=3)
        .find(|id| *id != settled.leader)
        .expect("a follower");
    let rt = runtime();
    let mut api = rt.block_on(Api::connect(&cluster.address(follower)));

    // GetCluster: the nodes, their addresses and liveness, one leader.
    let c = ok(
        &rt,
        "GetCluster",
        api.cluster.get_cluster(GetClusterRequest {}),
    );
    assert_eq!(c.answered_by, follower);
    assert_eq!(c.leader_id, settled.leader);
    assert!(c.config_version >= 1);
    let nodes: Vec<(u64, String, bool, bool)> = c
        .nodes
        .iter()
        .map(|n| (n.node_id, n.address.clone(), n.alive, n.draining))
        .collect();
    let expected: Vec<(u64, String, bool, bool)> = (1..=3)
        .map(|id| (id, cluster.address(id), true, false))
        .collect();
    assert_eq!(nodes, expected);
    let roles: Vec<&str> = c.nodes.iter().map(|n| n.role.as_str()).collect();
    assert_eq!(
        roles.iter().filter(|r| **r == "leader").count(),
        1,
        "{roles:?}"
    );
    assert_eq!(
        c.nodes.iter().map(|n| n.partitions).sum::<u32>(),
        PARTITIONS as u32
    );

    // Flows.
    let flows = ok(&rt, "ListFlows", api.flows.list_flows(ListFlowsRequest {}));
    assert_eq!(flows.flows.len(), 1);
    assert_eq!(flows.flows[0].name, FLOW);
    assert_eq!(flows.flows[0].partition_count, PARTITIONS as u32);
    assert!(!flows.flows[0].paused);
    let flow = ok(
        &rt,
        "GetFlow",
        api.flows.get_flow(GetFlowRequest {
            flow: FLOW.to_owned(),
        }),
    )
    .flow
    .expect("a flow");
    let topics: BTreeSet<(String, String, i32)> = flow
        .topics
        .iter()
        .map(|t| (t.topic.clone(), t.remote_topic.clone(), t.partitions))
        .collect();
    let expected: BTreeSet<(String, String, i32)> = s
        .topics
        .iter()
        .map(|t| (t.name.clone(), t.remote.clone(), t.partitions))
        .collect();
    assert_eq!(topics, expected);

    // ListAssignments: pages of 4 add up to the Raft state's assignment; filters work.
    let (all, pages) = all_assignments(&rt, &mut api, ListAssignmentsRequest::default(), 4);
    assert_eq!(pages, 3, "9 partitions in pages of 4");
    let state = cluster.status(follower).expect("status");
    assert_eq!(owners(&all), owners(&state.assignments));
    for node in 1..=3 {
        let (mine, _) = all_assignments(
            &rt,
            &mut api,
            ListAssignmentsRequest {
                node_id: Some(node),
                ..Default::default()
            },
            100,
        );
        assert!(mine.iter().all(|a| a.owner == node));
        assert_eq!(mine.len(), settled.counts(&[1, 2, 3])[&node]);
    }
    let side = &s.topics[1];
    let (of_side, _) = all_assignments(
        &rt,
        &mut api,
        ListAssignmentsRequest {
            topic: side.name.clone(),
            ..Default::default()
        },
        100,
    );
    assert_eq!(of_side.len(), side.partitions as usize);

    // GetLag: every partition, reported by its owner.
    let lag = ok(
        &rt,
        "GetLag",
        api.partitions.get_lag(GetLagRequest::default()),
    );
    assert_eq!(lag.partitions.len(), PARTITIONS);
    assert_eq!(lag.unreported, 0, "{lag:?}");
    assert!(lag
        .partitions
        .iter()
        .all(|p| p.owner != 0 && p.state == "running"));

    // WatchStatus: a snapshot first, then the changes below.
    let mut events = ok(
        &rt,
        "WatchStatus",
        api.status.watch_status(WatchStatusRequest {}),
    );
    let first = rt
        .block_on(events.message())
        .expect("a stream")
        .expect("an event");
    assert!(matches!(first.event, Some(Event::Snapshot(_))), "{first:?}");

    // Pause: every node stops its partitions and keeps them; positions stand still.
    let paused = ok(
        &rt,
        "PauseFlow",
        api.flows.pause_flow(PauseFlowRequest {
            flow: FLOW.to_owned(),
        }),
    );
    assert!(paused.flow.expect("a flow").paused);
    wait::until(
        "every node to stop its partitions",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || {
            // A paused partition stays listed (with its lag), as `paused`, reading nothing.
            for id in 1..=3 {
                let status = cluster.status(id)?;
                let reading: Vec<&str> = status
                    .partitions
                    .iter()
                    .map(|p| p.state.as_str())
                    .filter(|state| *state != "paused")
                    .collect();
                if !reading.is_empty() {
                    return Err(format!("node {id} runs {reading:?}"));
                }
            }
            Ok(())
        },
        || cluster.describe(),
    );
    let event = rt.block_on(async {
        loop {
            let e = events.message().await.expect("a stream").expect("an event");
            if let Some(Event::FlowChanged(f)) = e.event {
                return f;
            }
        }
    });
    assert_eq!(
        (event.flow.as_str(), event.change.as_str()),
        (FLOW, "paused")
    );
    // The final positions reach the state; after that they stay put.
    let positions = |api: &mut Api| -> BTreeMap<PartitionId, i64> {
        all_assignments(&rt, api, ListAssignmentsRequest::default(), 100)
            .0
            .iter()
            .map(|a| {
                (
                    (a.flow.clone(), a.topic.clone(), a.partition),
                    a.next_source_offset,
                )
            })
            .collect()
    };
    let mut previous = positions(&mut api);
    wait::until(
        "the paused positions to settle",
        Duration::from_secs(10),
        Duration::from_millis(500),
        || {
            let now = positions(&mut api);
            let same = now == previous;
            previous = now;
            if same {
                Ok(())
            } else {
                Err("positions still move".to_owned())
            }
        },
        || cluster.describe(),
    );
    let held = positions(&mut api);
    let unchanged =
        owners(&all_assignments(&rt, &mut api, ListAssignmentsRequest::default(), 100).0);
    assert_eq!(unchanged, owners(&all), "a pause moves no partition");
    // Resumed: replication continues where it stopped (checked record by record at the end).
    let resumed = ok(
        &rt,
        "ResumeFlow",
        api.flows.resume_flow(ResumeFlowRequest {
            flow: FLOW.to_owned(),
        }),
    );
    assert!(!resumed.flow.expect("a flow").paused);
    target.wait_growth(&cluster, 100, "after the resume");
    let after = positions(&mut api);
    assert!(held.iter().all(|(k, p)| after[k] >= *p));

    // Drain a node through the follower: it ends up holding nothing; undrain gives it back a share.
    let drained_node = settled.leader;
    let drain = ok(
        &rt,
        "DrainNode",
        api.cluster.drain_node(DrainNodeRequest {
            node_id: drained_node,
            timeout_seconds: 60,
        }),
    );
    assert!(drain.drained, "{drain:?}");
    assert_eq!(drain.remaining_partitions, 0);
    let (left, _) = all_assignments(
        &rt,
        &mut api,
        ListAssignmentsRequest {
            node_id: Some(drained_node),
            ..Default::default()
        },
        100,
    );
    assert!(left.is_empty(), "{left:?}");
    let c = ok(
        &rt,
        "GetCluster",
        api.cluster.get_cluster(GetClusterRequest {}),
    );
    assert!(c
        .nodes
        .iter()
        .any(|n| n.node_id == drained_node && n.draining));
    target.wait_growth(&cluster, 100, "with a node drained");
    ok(
        &rt,
        "UndrainNode",
        api.cluster.undrain_node(UndrainNodeRequest {
            node_id: drained_node,
        }),
    );
    let rebalanced = cluster.wait_settled(&[1, 2, 3], PARTITIONS, SETTLE_DEADLINE);

    // MovePartition: a partition of one node to another.
    let (from, to) = (rebalanced.leader, follower);
    let (key, _) = rebalanced
        .assignment
        .iter()
        .find(|(_, o)| o.owner == from)
        .expect("the leader owns a partition");
    let moved = ok(
        &rt,
        "MovePartition",
        api.partitions.move_partition(MovePartitionRequest {
            flow: key.0.clone(),
            topic: key.1.clone(),
            partition: key.2,
            node_id: to,
        }),
    )
    .assignment
    .expect("an assignment");
    assert_eq!(moved.owner, to);
    target.wait_growth(&cluster, 100, "after the manual move");

    // Bad requests.
    let cases: Vec<(&str, (Code, String), Code, &str)> = vec![
        (
            "PauseFlow with no flow",
            code(&rt, api.flows.pause_flow(PauseFlowRequest::default())),
            Code::InvalidArgument,
            "flow:",
        ),
        (
            "PauseFlow of a malformed flow",
            code(
                &rt,
                api.flows.pause_flow(PauseFlowRequest {
                    flow: "A-B".to_owned(),
                }),
            ),
            Code::InvalidArgument,
            "flow:",
        ),
        (
            "GetFlow of an unknown flow",
            code(
                &rt,
                api.flows.get_flow(GetFlowRequest {
                    flow: "A->C".to_owned(),
                }),
            ),
            Code::NotFound,
            "flow:",
        ),
        (
            "DrainNode of node 0",
            code(&rt, api.cluster.drain_node(DrainNodeRequest::default())),
            Code::InvalidArgument,
            "node_id:",
        ),
        (
            "DrainNode of an unknown node",
            code(
                &rt,
                api.cluster.drain_node(DrainNodeRequest {
                    node_id: 99,
                    timeout_seconds: 1,
                }),
            ),
            Code::NotFound,
            "node_id:",
        ),
        (
            "RemoveNode of an unknown node",
            code(
                &rt,
                api.cluster.remove_node(RemoveNodeRequest { node_id: 99 }),
            ),
            Code::NotFound,
            "node_id:",
        ),
        (
            "AddNode without an address",
            code(
                &rt,
                api.cluster.add_node(AddNodeRequest {
                    node_id: 7,
                    address: "nowhere".to_owned(),
                }),
            ),
            Code::InvalidArgument,
            "address:",
        ),
        (
            "MovePartition of a negative partition",
            code(
                &rt,
                api.partitions.move_partition(MovePartitionRequest {
                    flow: FLOW.to_owned(),
                    topic: key.1.clone(),
                    partition: -1,
                    node_id: 1,
                }),
            ),
            Code::InvalidArgument,
            "partition:",
        ),
        (
            "MovePartition of an unknown partition",
            code(
                &rt,
                api.partitions.move_partition(MovePartitionRequest {
                    flow: FLOW.to_owned(),
                    topic: key.1.clone(),
                    partition: 500,
                    node_id: 1,
                }),
            ),
            Code::NotFound,
            "partition",
        ),
        (
            "ListAssignments with a huge page",
            code(
                &rt,
                api.partitions.list_assignments(ListAssignmentsRequest {
                    page_size: 5000,
                    ..Default::default()
                }),
            ),
            Code::InvalidArgument,
            "page_size:",
        ),
        (
            "ListAssignments of node 0 (no node has it: not a way to say \"every node\")",
            code(
                &rt,
                api.partitions.list_assignments(ListAssignmentsRequest {
                    node_id: Some(0),
                    ..Default::default()
                }),
            ),
            Code::InvalidArgument,
            "node_id:",
        ),
        (
            "ListAssignments with a forged page token",
            code(
                &rt,
                api.partitions.list_assignments(ListAssignmentsRequest {
                    page_token: "garbage".to_owned(),
                    ..Default::default()
                }),
            ),
            Code::InvalidArgument,
            "page_token:",
        ),
        (
            "TranslateOffsets with a negative offset",
            code(
                &rt,
                api.offsets.translate_offsets(TranslateOffsetsRequest {
                    flow: FLOW.to_owned(),
                    group: String::new(),
                    offsets: vec![SourceOffset {
                        topic: key.1.clone(),
                        partition: 0,
                        offset: -5,
                    }],
                }),
            ),
            Code::InvalidArgument,
            "offsets[0].offset:",
        ),
        (
            "TranslateOffsets with neither group nor offsets",
            code(
                &rt,
                api.offsets.translate_offsets(TranslateOffsetsRequest {
                    flow: FLOW.to_owned(),
                    ..Default::default()
                }),
            ),
            Code::InvalidArgument,
            "group:",
        ),
    ];
    let wrong: Vec<String> = cases
        .iter()
        .filter(|(_, (got, message), want, field)| got != want || !message.contains(field))
        .map(|(what, (got, message), want, field)| {
            format!("{what}: got {got:?} {message:?}, want {want:?} naming {field:?}")
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    drop(events);
    // The pause, the drain and the move lost nothing and replayed only what handovers allow.
    stop_and_verify(&s, producers, &cluster, &[1, 2, 3]);
    cluster.terminate_all();
}

/// With `control_token` set, control calls need `authorization: Bearer <token>`; health and
/// reflection stay open (probes and grpcurl listing need no secret). No broker is needed.
#[test]
fn control_calls_need_the_token_when_one_is_set() {
    let data_dir = temp_dir("strait-token-");
    let token = "s3cret-token-0123456789";
    let config = offline_config(
        data_dir.path(),
        ClusterSettings {
            control_token: Some(token.to_owned()),
            ..Default::default()
        },
    );
    let mut node = Strait::start(&config.toml(), "toml");
    assert_token_required(&mut node, config.cluster_port, token);
}

/// A node on an `mm2.properties` file takes its control token from
/// `STRAIT__CLUSTER__CONTROL_TOKEN` as a TOML node does (before, the variable was ignored and the
/// control API stayed open without a word). No broker is needed.
#[test]
fn a_properties_node_takes_its_control_token_from_the_environment() {
    let data_dir = temp_dir("strait-token-mm2-");
    let token = "from-a-secret-0123456789";
    let config = offline_config(data_dir.path(), ClusterSettings::default());
    let text = config.properties();
    assert!(
        !text.contains("control.token"),
        "the file sets no token:\n{text}"
    );
    let mut node = Strait::start_with_env(
        &text,
        "properties",
        &[("STRAIT__CLUSTER__CONTROL_TOKEN", token)],
    );
    assert_token_required(&mut node, config.cluster_port, token);
}

/// Control calls to the node listening on `port` are refused without `token` and with another
/// one, and answered with it; health needs none.
fn assert_token_required(node: &mut Strait, port: u16, token: &str) {
    let address = format!("127.0.0.1:{port}");
    let rt = runtime();
    let channel = rt.block_on(async {
        let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
            .expect("an endpoint");
        let started = std::time::Instant::now();
        loop {
            match endpoint.connect().await {
                Ok(channel) => return channel,
                Err(e) if started.elapsed() > REFUSE_DEADLINE => {
                    panic!("never listened: {e}\n{}", node.log())
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    });
    let mut open = ClusterClient::new(channel.clone());
    let (got, message) = code(&rt, open.get_cluster(GetClusterRequest {}));
    assert_eq!(got, Code::Unauthenticated, "{message}");
    let bearer: tonic::metadata::MetadataValue<_> =
        format!("Bearer {token}").parse().expect("a header value");
    let mut authed =
        ClusterClient::with_interceptor(channel.clone(), move |mut r: tonic::Request<()>| {
            r.metadata_mut().insert("authorization", bearer.clone());
            Ok(r)
        });
    let wrong: tonic::metadata::MetadataValue<_> = "Bearer not-the-token-at-all".parse().unwrap();
    let mut wrong =
        ClusterClient::with_interceptor(channel.clone(), move |mut r: tonic::Request<()>| {
            r.metadata_mut().insert("authorization", wrong.clone());
            Ok(r)
        });
    assert_eq!(
        code(&rt, wrong.get_cluster(GetClusterRequest {})).0,
        Code::Unauthenticated
    );
    let c = ok(
        &rt,
        "GetCluster with the token",
        authed.get_cluster(GetClusterRequest {}),
    );
    assert_eq!(c.answered_by, 1);
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    ok(
        &rt,
        "health without a token",
        health.check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        }),
    );
    node.assert_running();
}

/// AddNode and RemoveNode change the membership. A change needs a committed entry: with two of
/// three nodes gone there is no quorum, and the survivor answers `Unavailable` (after its proposal times out) rather than pretending. Reads
/// still answer from its last state. No broker is needed.
#[test]
fn nodes_added_and_removed_and_no_leader_is_unavailable() {
    let nowhere = format!("127.0.0.1:{}", broker::free_port());
    let base = Config::a_to_b(&nowhere, &nowhere, Path::new("unused"), &["orders"]);
    let mut cluster = StraitCluster::start(3, &base);
    let leader = cluster.wait_leader(Duration::from_secs(30));
    let survivor = (1..=3).find(|id| *id != leader).expect("a follower");
    let rt = runtime();
    let mut api = rt.block_on(Api::connect(&cluster.address(survivor)));
    wait::until(
        "the configuration to be committed",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || {
            let c = rt
                .block_on(api.cluster.get_cluster(GetClusterRequest {}))
                .map_err(|s| s.message().to_owned())?
                .into_inner();
            if c.config_version >= 1 {
                Ok(())
            } else {
                Err("no configuration yet".to_owned())
            }
        },
        || cluster.describe(),
    );
    // AddNode registers a node and makes it a voter (its process would then start with `join`);
    // RemoveNode takes it out again. Four voters with three alive still have a quorum.
    let address = format!("127.0.0.1:{}", broker::free_port());
    let added = ok(
        &rt,
        "AddNode",
        api.cluster.add_node(AddNodeRequest {
            node_id: 4,
            address: address.clone(),
        }),
    );
    let four = added.nodes.iter().find(|n| n.node_id == 4).expect("node 4");
    assert_eq!(
        (four.address.as_str(), four.role.as_str()),
        (address.as_str(), "voter")
    );
    let (got, message) = code(
        &rt,
        api.cluster.add_node(AddNodeRequest {
            node_id: 4,
            address: "127.0.0.1:1".to_owned(),
        }),
    );
    assert_eq!(got, Code::AlreadyExists, "{message}");
    let removed = ok(
        &rt,
        "RemoveNode",
        api.cluster.remove_node(RemoveNodeRequest { node_id: 4 }),
    );
    // It never ran: a voter without partitions; the others stay the voters.
    assert_eq!(
        (removed.partitions_moved, removed.was_voter, removed.voters),
        (0, true, vec![1, 2, 3])
    );
    let c = ok(
        &rt,
        "GetCluster",
        api.cluster.get_cluster(GetClusterRequest {}),
    );
    assert_eq!(
        c.nodes.iter().map(|n| n.node_id).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );

    for id in (1..=3).filter(|id| *id != survivor) {
        cluster.kill9(id);
    }
    let (got, message) = code(
        &rt,
        api.flows.pause_flow(PauseFlowRequest {
            flow: FLOW.to_owned(),
        }),
    );
    assert_eq!(got, Code::Unavailable, "{message}");
    let flows = ok(
        &rt,
        "ListFlows without a leader",
        api.flows.list_flows(ListFlowsRequest {}),
    );
    assert!(!flows.flows[0].paused);
    cluster.terminate_all();
}
