//! A Strait cluster under test: several `strait` node processes forming one Raft group, each with
//! its own free cluster port and data dir, observed through the `strait.v1.Status` gRPC service
//! every node serves on its cluster port.
//!
//! Nodes are numbered from 1. Every node runs the same flows (from a base [`Config`]); the
//! fixture only fills in each node's `[cluster]` section. Processes are killed when the cluster
//! is dropped (data dirs removed after). When a test fails, every node's status and log tail are
//! printed and the full logs are copied to `$TMPDIR/strait-cluster-failure-*`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use strait_proto::v1::offsets_client::OffsetsClient;
use strait_proto::v1::status_client::StatusClient;
use strait_proto::v1::{
    GetNodeStatusRequest, GetNodeStatusResponse, SourceOffset, TranslateOffsetsRequest,
};
use tempfile::TempDir;

use crate::config::{ClusterSettings, Config, TlsSettings};
use crate::netns::Net;
use crate::strait::{temp_dir, Launch, Strait, TERMINATE_DEADLINE};
use crate::tls::TestCa;
use crate::{broker, wait};

/// The liveness timeout the fixture configures (the node's default, written explicitly so that
/// tests can derive their bounds from it).
pub const LIVENESS_TIMEOUT: Duration = Duration::from_millis(3000);
/// How often owners propose their replicated positions (the node's default, written explicitly).
pub const POSITION_INTERVAL: Duration = Duration::from_millis(1000);
/// How long one Status call may take (a frozen node accepts the connection and never answers).
const STATUS_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the wait helpers ask the nodes.
const POLL: Duration = Duration::from_millis(100);

/// `(flow, topic, partition)`: one source partition as the Status service names it.
pub type PartitionId = (String, String, i32);

/// One assignment entry as the cluster state has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owned {
    /// 0 = unowned.
    pub owner: u64,
    pub epoch: u64,
    /// The replicated position, -1 while none.
    pub next_source_offset: i64,
}

/// What the cluster agreed on, read from the leader once every node agreed.
#[derive(Debug, Clone)]
pub struct Settled {
    pub leader: u64,
    pub term: u64,
    /// `(node id, address, alive)`, by id.
    pub nodes: Vec<(u64, String, bool)>,
    pub assignment: BTreeMap<PartitionId, Owned>,
}

impl Settled {
    /// Partitions per live owner (nodes without any included when listed in `live`).
    pub fn counts(&self, live: &[u64]) -> BTreeMap<u64, usize> {
        let mut counts: BTreeMap<u64, usize> = live.iter().map(|id| (*id, 0)).collect();
        for owned in self.assignment.values() {
            *counts.entry(owned.owner).or_default() += 1;
        }
        counts
    }

    /// The partitions `node` owns.
    pub fn owned_by(&self, node: u64) -> Vec<PartitionId> {
        self.assignment
            .iter()
            .filter(|(_, o)| o.owner == node)
            .map(|(p, _)| p.clone())
            .collect()
    }
}

/// One node of the cluster.
struct ClusterNode {
    config: Config,
    /// `None` once killed or stopped (until restarted).
    process: Option<Strait>,
    /// Frozen with SIGSTOP (still a process, answers nothing).
    paused: bool,
    /// The command the node runs under (see [`Launch::wrap`]), e.g. its network namespace's.
    wrap: Vec<String>,
    /// Declared after `process` so that the process is gone before the dir is removed.
    _data_dir: TempDir,
}

/// n `strait` nodes forming one cluster. Dropping it kills every node.
pub struct StraitCluster {
    base: Config,
    nodes: BTreeMap<u64, ClusterNode>,
    runtime: tokio::runtime::Runtime,
    /// With TLS: the CA that signs each node's certificate.
    ca: Option<TestCa>,
}

impl StraitCluster {
    /// Starts `n` nodes (ids 1..=n, each on a free 127.0.0.1 port with a new data dir), all
    /// listed as initial voters, each running the flows of `base`. Does not wait for anything:
    /// see [`StraitCluster::wait_settled`].
    pub fn start(n: u64, base: &Config) -> StraitCluster {
        let all: Vec<u64> = (1..=n).collect();
        StraitCluster::start_only(n, base, &all)
    }

    /// [`StraitCluster::start`], but only the nodes in `started` run; the others (configured as
    /// peers, their ports reserved) are started later with [`StraitCluster::restart`].
    pub fn start_only(n: u64, base: &Config, started: &[u64]) -> StraitCluster {
        StraitCluster::start_with(n, base, started, None, None)
    }

    /// [`StraitCluster::start`] with TLS on every node: each gets a certificate of its own signed
    /// by `ca` (for 127.0.0.1), checks the others against `ca` (mutual TLS unless `base` says
    /// otherwise), and the fixture's status calls present the node's own certificate.
    pub fn start_tls(n: u64, base: &Config, ca: TestCa) -> StraitCluster {
        let all: Vec<u64> = (1..=n).collect();
        StraitCluster::start_with(n, base, &all, None, Some(ca))
    }

    /// [`StraitCluster::start`] with each node in its own network namespace of `net` (nodes
    /// 1..=n must be among its hosts): node `id` listens on `net.node_ip(id)` and runs under
    /// `ip netns exec`. The brokers of `base` must be reachable from the namespaces.
    pub fn start_in(net: &Net, n: u64, base: &Config) -> StraitCluster {
        let all: Vec<u64> = (1..=n).collect();
        StraitCluster::start_with(n, base, &all, Some(net), None)
    }

    fn start_with(
        n: u64,
        base: &Config,
        started: &[u64],
        net: Option<&Net>,
        ca: Option<TestCa>,
    ) -> StraitCluster {
        let host = |id: u64| net.map_or(Ipv4Addr::LOCALHOST, |net| net.node_ip(id));
        let ports: Vec<(u64, u16)> = (1..=n).map(|id| (id, broker::free_port())).collect();
        let peers: Vec<String> = ports
            .iter()
            .map(|(id, port)| format!("{id}@{}:{port}", host(*id)))
            .collect();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime for status calls");
        let mut cluster = StraitCluster {
            base: base.clone(),
            nodes: BTreeMap::new(),
            runtime,
            ca,
        };
        for (id, port) in ports {
            let settings = ClusterSettings {
                node_id: Some(id),
                peers: peers.clone(),
                ..cluster.settings()
            };
            let wrap = net.map(|net| net.wrap(id)).unwrap_or_default();
            cluster.launch(id, (host(id), port), wrap, settings, started.contains(&id));
        }
        cluster
    }

    /// The cluster settings every node shares.
    fn settings(&self) -> ClusterSettings {
        ClusterSettings {
            liveness_timeout_ms: Some(LIVENESS_TIMEOUT.as_millis() as u64),
            position_interval_ms: Some(POSITION_INTERVAL.as_millis() as u64),
            ..self.base.cluster.clone()
        }
    }

    fn launch(
        &mut self,
        id: u64,
        (host, port): (Ipv4Addr, u16),
        wrap: Vec<String>,
        mut cluster: ClusterSettings,
        run: bool,
    ) {
        if let (None, Some(ca)) = (&cluster.tls, &self.ca) {
            let files = ca.issue(&format!("node{id}"));
            cluster.tls = Some(TlsSettings {
                cert: files.cert,
                key: files.key,
                ca: ca.ca_file.clone(),
                require_client_cert: self
                    .base
                    .cluster
                    .tls
                    .as_ref()
                    .and_then(|t| t.require_client_cert),
            });
        }
        let data_dir = temp_dir(&format!("strait-node{id}-"));
        let mut config = self.base.clone();
        config.data_dir = data_dir.path().to_owned();
        config.cluster_port = port;
        config.cluster_host = host;
        config.cluster = cluster;
        let launch = Launch {
            wrap: wrap.clone(),
            ..Launch::default()
        };
        let process = run.then(|| Strait::launch(&config.toml(), "toml", &launch));
        self.nodes.insert(
            id,
            ClusterNode {
                config,
                process,
                paused: false,
                wrap,
                _data_dir: data_dir,
            },
        );
    }

    /// Starts a new node (the next id) that joins the running cluster through node `contact`,
    /// and returns its id.
    pub fn add_node(&mut self, contact: u64) -> u64 {
        self.join_new_node(contact, None)
    }

    /// [`StraitCluster::add_node`] with the given `[cluster.tls]` instead of a certificate from
    /// the cluster's CA (e.g. one from another CA).
    pub fn add_node_with_tls(&mut self, contact: u64, tls: TlsSettings) -> u64 {
        self.join_new_node(contact, Some(tls))
    }

    /// Starts the next id, joining through node `contact`, with `tls` (`None`: the cluster's own).
    fn join_new_node(&mut self, contact: u64, tls: Option<TlsSettings>) -> u64 {
        let id = self.nodes.keys().max().copied().unwrap_or(0) + 1;
        let port = broker::free_port();
        let base = self.settings();
        let settings = ClusterSettings {
            node_id: Some(id),
            join: Some(self.address(contact)),
            advertise: Some(format!("127.0.0.1:{port}")),
            tls: tls.or(base.tls.clone()),
            ..base
        };
        self.launch(id, (Ipv4Addr::LOCALHOST, port), Vec::new(), settings, true);
        id
    }

    /// The TLS a client of node `id` uses: the node's CA, and the node's own certificate as the
    /// client's; `None` without TLS.
    pub fn client_tls(&self, id: u64) -> Option<tonic::transport::ClientTlsConfig> {
        let tls = self.node(id).config.cluster.tls.as_ref()?;
        let identity = crate::tls::CertFiles {
            cert: tls.cert.clone(),
            key: tls.key.clone(),
        };
        Some(crate::tls::client_config(&tls.ca, Some(&identity)))
    }

    fn node(&self, id: u64) -> &ClusterNode {
        self.nodes
            .get(&id)
            .unwrap_or_else(|| panic!("no node {id} in this cluster"))
    }

    fn node_mut(&mut self, id: u64) -> &mut ClusterNode {
        self.nodes
            .get_mut(&id)
            .unwrap_or_else(|| panic!("no node {id} in this cluster"))
    }

    /// Every node id, started or not.
    pub fn ids(&self) -> Vec<u64> {
        self.nodes.keys().copied().collect()
    }

    /// The nodes whose process runs and is not frozen: those that must answer.
    pub fn running(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.process.is_some() && !n.paused)
            .map(|(id, _)| *id)
            .collect()
    }

    /// `<host>:<cluster port>` of node `id` (the host is `127.0.0.1` unless the node runs in a
    /// network namespace).
    pub fn address(&self, id: u64) -> String {
        let config = &self.node(id).config;
        format!("{}:{}", config.cluster_host, config.cluster_port)
    }

    /// The config node `id` runs on.
    pub fn config(&self, id: u64) -> &Config {
        &self.node(id).config
    }

    /// The process of node `id` (panics when it is not started).
    pub fn process(&self, id: u64) -> &Strait {
        self.node(id)
            .process
            .as_ref()
            .unwrap_or_else(|| panic!("node {id} is not running"))
    }

    /// `GetNodeStatus` of node `id` (with the node's control token, when it has one).
    pub fn status(&self, id: u64) -> Result<GetNodeStatusResponse, String> {
        let tls = self.client_tls(id);
        let token = self.node(id).config.cluster.control_token.as_deref();
        self.runtime
            .block_on(get_status(&self.address(id), tls.as_ref(), token))
    }

    /// SIGKILL node `id` and wait for it: a crash.
    pub fn kill9(&mut self, id: u64) {
        let node = self.node_mut(id);
        if let Some(mut process) = node.process.take() {
            process.kill9();
        }
        node.paused = false;
    }

    /// SIGTERM every running node at once, then wait for each; returns the exit statuses by id.
    pub fn terminate_all(&mut self) -> BTreeMap<u64, ExitStatus> {
        for node in self.nodes.values() {
            if let Some(process) = &node.process {
                process.send_signal(libc::SIGTERM);
            }
        }
        let mut statuses = BTreeMap::new();
        for (id, node) in &mut self.nodes {
            if let Some(mut process) = node.process.take() {
                statuses.insert(*id, process.wait_exit(TERMINATE_DEADLINE));
                // The log goes with the Strait value: keep a failing node's tail visible.
                if !statuses[id].success() {
                    eprintln!(
                        "--- node {id} log (exit {}) ---\n{}",
                        statuses[id],
                        process.log_tail(40)
                    );
                }
            }
        }
        statuses
    }

    /// SIGTERM node `id` and wait for its clean exit (drained); panics with its log when it
    /// exits unsuccessfully.
    pub fn terminate(&mut self, id: u64) -> ExitStatus {
        let node = self.node_mut(id);
        let mut process = node
            .process
            .take()
            .unwrap_or_else(|| panic!("node {id} is not running"));
        node.paused = false;
        let status = process.terminate();
        assert!(
            status.success(),
            "node {id} exited with {status} after SIGTERM\n--- its log ---\n{}",
            process.log_tail(60)
        );
        status
    }

    /// Waits (until `deadline`) for node `id` to exit by itself, e.g. after it was removed from the
    /// cluster, and returns its exit status.
    pub fn wait_exit(&mut self, id: u64, deadline: Duration) -> ExitStatus {
        let node = self.node_mut(id);
        let mut process = node
            .process
            .take()
            .unwrap_or_else(|| panic!("node {id} is not running"));
        process.wait_exit(deadline)
    }

    /// [`StraitCluster::wait_exit`], with everything the node logged.
    pub fn wait_exit_log(&mut self, id: u64, deadline: Duration) -> (ExitStatus, String) {
        let node = self.node_mut(id);
        let mut process = node
            .process
            .take()
            .unwrap_or_else(|| panic!("node {id} is not running"));
        let status = process.wait_exit(deadline);
        (status, process.log())
    }

    /// The config node `id` runs on, to change it before a [`StraitCluster::restart`] (the node
    /// then starts on the changed file; its data dir, port and cluster settings stay its own).
    pub fn config_mut(&mut self, id: u64) -> &mut Config {
        &mut self.node_mut(id).config
    }

    /// Starts node `id` again on its config and data dir.
    pub fn restart(&mut self, id: u64) {
        self.restart_with(id, &Launch::default());
    }

    /// [`StraitCluster::restart`], started as `launch` says (config file, working directory,
    /// extra arguments such as `--rejoin`).
    pub fn restart_with(&mut self, id: u64, launch: &Launch) {
        let node = self.node_mut(id);
        assert!(node.process.is_none(), "node {id} is still running");
        let mut launch = launch.clone();
        if launch.wrap.is_empty() {
            launch.wrap = node.wrap.clone();
        }
        node.process = Some(Strait::launch(&node.config.toml(), "toml", &launch));
        node.paused = false;
    }

    /// Freezes node `id` (SIGSTOP): its connections stay open and it answers nothing.
    pub fn pause(&mut self, id: u64) {
        let node = self.node_mut(id);
        node.process
            .as_ref()
            .unwrap_or_else(|| panic!("node {id} is not running"))
            .send_signal(libc::SIGSTOP);
        node.paused = true;
    }

    /// Resumes a frozen node (SIGCONT).
    pub fn resume(&mut self, id: u64) {
        let node = self.node_mut(id);
        node.process
            .as_ref()
            .unwrap_or_else(|| panic!("node {id} is not running"))
            .send_signal(libc::SIGCONT);
        node.paused = false;
    }

    /// Panics (with its log) when a node that should run has exited.
    pub fn assert_running(&self) {
        for (id, node) in &self.nodes {
            if let Some(process) = &node.process {
                if process.has_exited() {
                    panic!(
                        "node {id} exited unexpectedly\n--- its log ({}) ---\n{}",
                        process.log_path().display(),
                        process.log_tail(60)
                    );
                }
            }
        }
    }

    /// One line per running node: what it says about itself and the cluster.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for id in self.running() {
            let _ = match self.status(id) {
                Ok(status) => writeln!(out, "  {}", summary(&status)),
                Err(error) => writeln!(out, "  node {id}: {error}"),
            };
        }
        out
    }

    /// Waits until every running node knows the same leader, which says it leads; returns it.
    pub fn wait_leader(&self, deadline: Duration) -> u64 {
        wait::until(
            "every running node to agree on one leader",
            deadline,
            POLL,
            || {
                self.assert_running();
                self.leader_among(&self.running())
            },
            || self.describe(),
        )
    }

    /// `Ok` with the leader when every node of `asked` names the same one, which is one of them
    /// and says it leads: a leader of `asked` without the others, e.g. on one side of a network
    /// cut (a leader cut off from them may still say it leads, for an election timeout).
    pub fn leader_among(&self, asked: &[u64]) -> Result<u64, String> {
        let mut leaders = BTreeSet::new();
        for &id in asked {
            leaders.insert(
                self.status(id)
                    .map_err(|e| format!("node {id}: {e}"))?
                    .leader_id,
            );
        }
        match leaders.iter().collect::<Vec<_>>()[..] {
            [&leader] if asked.contains(&leader) => {
                let role = self.status(leader).map(|s| s.raft_role).unwrap_or_default();
                if role == "leader" {
                    Ok(leader)
                } else {
                    Err(format!("node {leader} is named leader but says {role:?}"))
                }
            }
            _ => Err(format!("leaders named by {asked:?}: {leaders:?}")),
        }
    }

    /// Waits until the cluster settled on exactly `live` as its live nodes: every running node
    /// agrees on the leader (one of `live`) and on the assignment (owner and epoch of each of
    /// `partitions` partitions, every owner in `live`, live nodes' counts within one of each
    /// other), the leader marks exactly `live` alive, and every node of `live` runs exactly the
    /// partitions it owns, all in state `running`. Returns the leader's view.
    pub fn wait_settled(&self, live: &[u64], partitions: usize, deadline: Duration) -> Settled {
        self.wait_settled_among(&self.running(), live, partitions, deadline)
    }

    /// Waits until node `id` reports every partition it holds `no_quorum` (listed with its lag,
    /// reading nothing); returns the time since `since`.
    pub fn wait_no_quorum(
        &self,
        id: u64,
        since: Instant,
        deadline: Duration,
        context: impl FnOnce() -> String,
    ) -> Duration {
        wait::until(
            &format!("node {id} to report every partition no_quorum"),
            deadline,
            Duration::from_millis(50),
            || self.holds_no_quorum(id).map(|()| since.elapsed()),
            context,
        )
    }

    /// `Ok` when node `id` reports every partition it holds `no_quorum`.
    pub fn holds_no_quorum(&self, id: u64) -> Result<(), String> {
        let status = self.status(id)?;
        let reading: Vec<&str> = status
            .partitions
            .iter()
            .map(|p| p.state.as_str())
            .filter(|state| *state != "no_quorum")
            .collect();
        if reading.is_empty() {
            Ok(())
        } else {
            Err(format!("partitions {reading:?}, role {}", status.raft_role))
        }
    }

    /// [`StraitCluster::wait_settled`], asking only the nodes in `asked` (every one of `live`
    /// among them): for a running node that cannot know the outcome, e.g. one cut off from its
    /// peers by a network fault.
    pub fn wait_settled_among(
        &self,
        asked: &[u64],
        live: &[u64],
        partitions: usize,
        deadline: Duration,
    ) -> Settled {
        self.wait_settled_with(asked, live, live, partitions, deadline)
    }

    /// [`StraitCluster::wait_settled`] with partitions owned by `owners` only (some of `live`),
    /// balanced among them: e.g. while a live node is drained, it holds and runs none.
    pub fn wait_settled_owners(
        &self,
        live: &[u64],
        owners: &[u64],
        partitions: usize,
        deadline: Duration,
    ) -> Settled {
        self.wait_settled_with(&self.running(), live, owners, partitions, deadline)
    }

    fn wait_settled_with(
        &self,
        asked: &[u64],
        live: &[u64],
        owners: &[u64],
        partitions: usize,
        deadline: Duration,
    ) -> Settled {
        let live_set: BTreeSet<u64> = live.iter().copied().collect();
        let owner_set: BTreeSet<u64> = owners.iter().copied().collect();
        let among = if owners == live {
            String::new()
        } else {
            format!(" among {owners:?}")
        };
        wait::until(
            &format!(
                "the cluster to settle on nodes {live:?} owning {partitions} partitions, \
                 balanced{among}"
            ),
            deadline,
            POLL,
            || {
                self.assert_running();
                let mut statuses = BTreeMap::new();
                for &id in asked {
                    let status = self.status(id).map_err(|e| format!("node {id}: {e}"))?;
                    statuses.insert(id, status);
                }
                settled(&statuses, &live_set, &owner_set, partitions)
            },
            || self.describe(),
        )
    }
}

impl Drop for StraitCluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- cluster status at failure ---\n{}", self.describe());
            // The logs live in temp dirs removed with the processes: keep copies.
            let keep = std::env::temp_dir().join(format!(
                "strait-cluster-failure-{}-{}",
                std::process::id(),
                crate::names::random_u64() & 0xffff
            ));
            if std::fs::create_dir_all(&keep).is_ok() {
                for (id, node) in &self.nodes {
                    if let Some(process) = &node.process {
                        let _ =
                            std::fs::copy(process.log_path(), keep.join(format!("node-{id}.log")));
                    }
                }
                eprintln!("--- node logs kept in {} ---", keep.display());
            }
        }
    }
}

/// `GetNodeStatus` of the node whose cluster port is at `address` (`host:port`), on a runtime of
/// its own: for single nodes outside a [`StraitCluster`].
pub fn status_at(address: &str) -> Result<GetNodeStatusResponse, String> {
    status_with_token(address, None)
}

/// [`status_at`] with `authorization: Bearer <token>`, for a node with a control token.
pub fn status_with_token(
    address: &str,
    token: Option<&str>,
) -> Result<GetNodeStatusResponse, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime for a status call")
        .block_on(get_status(address, None, token))
}

/// One offset translated by the control API: `(source offset, target offset, method)`.
pub type Translated = (i64, i64, String);

/// Translates the source `offsets` (`(topic, partition, offset)`) of `flow` through the control
/// API of the node at `address` (`TranslateOffsets`, in requests of up to 20,000 offsets: the
/// server takes messages of up to 4 MiB), in order.
pub fn translate_offsets(
    address: &str,
    flow: &str,
    offsets: &[(&str, i32, i64)],
) -> Vec<Translated> {
    offsets
        .chunks(20_000)
        .flat_map(|chunk| translate_chunk(address, flow, chunk))
        .collect()
}

fn translate_chunk(address: &str, flow: &str, offsets: &[(&str, i32, i64)]) -> Vec<Translated> {
    let request = TranslateOffsetsRequest {
        flow: flow.to_owned(),
        group: String::new(),
        offsets: offsets
            .iter()
            .map(|(topic, partition, offset)| SourceOffset {
                topic: (*topic).to_owned(),
                partition: *partition,
                offset: *offset,
            })
            .collect(),
    };
    let response = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime for a translation")
        .block_on(async {
            let mut client = OffsetsClient::new(connect(address, None).await?)
                .max_decoding_message_size(64 << 20);
            client
                .translate_offsets(request)
                .await
                .map_err(|s| format!("{:?}: {}", s.code(), s.message()))
        })
        .unwrap_or_else(|e| panic!("TranslateOffsets at {address}: {e}"))
        .into_inner();
    response
        .offsets
        .into_iter()
        .map(|o| (o.source_offset, o.target_offset, o.method))
        .collect()
}

/// A channel to `address` (`host:port`), with TLS when `tls` is given.
pub async fn connect(
    address: &str,
    tls: Option<&tonic::transport::ClientTlsConfig>,
) -> Result<tonic::transport::Channel, String> {
    let endpoint = match tls {
        None => tonic::transport::Endpoint::from_shared(format!("http://{address}")),
        Some(tls) => tonic::transport::Endpoint::from_shared(format!("https://{address}"))
            .and_then(|e| e.tls_config(tls.clone())),
    }
    .map_err(|e| format!("{address}: {e}"))?;
    endpoint
        .connect()
        .await
        .map_err(|e| format!("connecting to {address}: {e:?}"))
}

async fn get_status(
    address: &str,
    tls: Option<&tonic::transport::ClientTlsConfig>,
    token: Option<&str>,
) -> Result<GetNodeStatusResponse, String> {
    let call = async {
        let mut client = StatusClient::new(connect(address, tls).await?);
        let mut request = tonic::Request::new(GetNodeStatusRequest {});
        if let Some(token) = token {
            let value = format!("Bearer {token}")
                .parse()
                .map_err(|e| format!("token: {e}"))?;
            request.metadata_mut().insert("authorization", value);
        }
        client
            .get_node_status(request)
            .await
            .map(tonic::Response::into_inner)
            .map_err(|s| format!("{:?}: {}", s.code(), s.message()))
    };
    match tokio::time::timeout(STATUS_TIMEOUT, call).await {
        Ok(result) => result,
        Err(_) => Err(format!("{address}: no answer within {STATUS_TIMEOUT:?}")),
    }
}

fn partition_id(flow: &str, topic: &str, partition: i32) -> PartitionId {
    (flow.to_owned(), topic.to_owned(), partition)
}

/// MirrorMaker 2's heartbeats topics (`heartbeats`, `<alias>.heartbeats`), which flows replicate
/// whatever their topic filter says.
pub fn is_heartbeats_topic(topic: &str) -> bool {
    topic == "heartbeats" || topic.ends_with(".heartbeats")
}

/// The assignment a node reports.
pub fn assignment_of(status: &GetNodeStatusResponse) -> BTreeMap<PartitionId, Owned> {
    status
        .assignments
        .iter()
        .map(|a| {
            (
                partition_id(&a.flow, &a.topic, a.partition),
                Owned {
                    owner: a.owner,
                    epoch: a.epoch,
                    next_source_offset: a.next_source_offset,
                },
            )
        })
        .collect()
}

/// The partitions a node reports running, with their state.
pub fn running_of(status: &GetNodeStatusResponse) -> BTreeMap<PartitionId, String> {
    status
        .partitions
        .iter()
        .map(|p| {
            (
                partition_id(&p.flow, &p.topic, p.partition),
                p.state.clone(),
            )
        })
        .collect()
}

/// `Ok` with the leader's view when `statuses` (of every running node) show a settled cluster:
/// `live` alive, every partition owned by one of `owners` (balanced among them).
fn settled(
    statuses: &BTreeMap<u64, GetNodeStatusResponse>,
    live: &BTreeSet<u64>,
    owners: &BTreeSet<u64>,
    partitions: usize,
) -> Result<Settled, String> {
    let leaders: BTreeSet<u64> = statuses.values().map(|s| s.leader_id).collect();
    let leader = match leaders.iter().collect::<Vec<_>>()[..] {
        [&leader] if leader != 0 => leader,
        _ => return Err(format!("leaders named: {leaders:?}")),
    };
    if !live.contains(&leader) {
        return Err(format!("the leader {leader} is not one of {live:?}"));
    }
    let lead = statuses
        .get(&leader)
        .ok_or_else(|| format!("the leader {leader} is not running"))?;
    if lead.raft_role != "leader" {
        return Err(format!("node {leader} says {:?}", lead.raft_role));
    }
    let alive: BTreeSet<u64> = lead
        .nodes
        .iter()
        .filter(|n| n.alive)
        .map(|n| n.node_id)
        .collect();
    if &alive != live {
        return Err(format!("the leader marks {alive:?} alive"));
    }
    let assignment = assignment_of(lead);
    // The test's own partitions: a shared source cluster may hold a `heartbeats` topic written
    // by another test, which every flow replicates (as MirrorMaker 2 does) and balances like any
    // other partition.
    let own = assignment
        .keys()
        .filter(|p| !is_heartbeats_topic(&p.1))
        .count();
    if own != partitions {
        return Err(format!(
            "{own} partitions known (besides heartbeats), not {partitions}"
        ));
    }
    let mut counts: BTreeMap<u64, usize> = owners.iter().map(|id| (*id, 0)).collect();
    for (partition, owned) in &assignment {
        match counts.get_mut(&owned.owner) {
            Some(count) => *count += 1,
            None => return Err(format!("{partition:?} is owned by {}", owned.owner)),
        }
    }
    let (min, max) = (
        counts.values().min().copied().unwrap_or(0),
        counts.values().max().copied().unwrap_or(0),
    );
    if max - min > 1 {
        return Err(format!("unbalanced: {counts:?}"));
    }
    let owners = |a: &BTreeMap<PartitionId, Owned>| -> BTreeMap<PartitionId, (u64, u64)> {
        a.iter()
            .map(|(p, o)| (p.clone(), (o.owner, o.epoch)))
            .collect()
    };
    let agreed = owners(&assignment);
    for (id, status) in statuses {
        if owners(&assignment_of(status)) != agreed {
            return Err(format!(
                "node {id} sees another assignment (applied {} vs the leader's {})",
                status.applied_index, lead.applied_index
            ));
        }
        if !live.contains(id) {
            continue;
        }
        let running = running_of(status);
        let mine: BTreeSet<&PartitionId> = assignment
            .iter()
            .filter(|(_, o)| o.owner == *id)
            .map(|(p, _)| p)
            .collect();
        let runs: BTreeSet<&PartitionId> = running.keys().collect();
        if mine != runs {
            return Err(format!(
                "node {id} owns {} partitions but runs {} ({running:?})",
                mine.len(),
                runs.len()
            ));
        }
        if let Some((p, state)) = running.iter().find(|(_, s)| *s != "running") {
            return Err(format!("node {id}: {p:?} is {state}"));
        }
    }
    Ok(Settled {
        leader,
        term: lead.term,
        nodes: lead
            .nodes
            .iter()
            .map(|n| (n.node_id, n.address.clone(), n.alive))
            .collect(),
        assignment,
    })
}

/// One line about a node's status.
pub fn summary(status: &GetNodeStatusResponse) -> String {
    let nodes: Vec<String> = status
        .nodes
        .iter()
        .map(|n| format!("{}{}", n.node_id, if n.alive { "" } else { " dead" }))
        .collect();
    let mut owners: BTreeMap<u64, usize> = BTreeMap::new();
    for a in &status.assignments {
        *owners.entry(a.owner).or_default() += 1;
    }
    let states: BTreeMap<&str, usize> =
        status
            .partitions
            .iter()
            .fold(BTreeMap::new(), |mut states, p| {
                *states.entry(p.state.as_str()).or_default() += 1;
                states
            });
    format!(
        "node {}: {} (leader {}, term {}, commit {}, applied {}); nodes [{}]; owners {owners:?}; \
         runs {states:?}",
        status.node_id,
        status.raft_role,
        status.leader_id,
        status.term,
        status.commit_index,
        status.applied_index,
        nodes.join(", ")
    )
}

/// Seconds since `since`, for reports.
pub fn secs(since: Instant) -> f64 {
    since.elapsed().as_secs_f64()
}
