//! A cluster of `strait` nodes on this machine: one TOML per node (its node id, the common peer
//! list, its own port and data dir), processes run by the fixtures' [`Strait`], `kill -9` and
//! restart on the same data dir, and each node's `strait.v1.Status/GetNodeStatus` over gRPC.
//!
//! Every node's log is appended to `<work dir>/logs/node-<id>.log` when its process ends (a
//! [`Strait`] removes its own copy on drop), so a kept work dir holds every run of every node.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use strait_proto::v1::status_client::StatusClient;
use strait_proto::v1::{GetNodeStatusRequest, GetNodeStatusResponse};
use strait_tests::broker::free_port;
use strait_tests::config::{ClusterSettings, Config};
use strait_tests::Strait;
use tonic::transport::Endpoint;

/// Deadline of one status call, connection included.
const STATUS_TIMEOUT: Duration = Duration::from_secs(2);

/// One node: its config and, while it runs, its process.
struct Node {
    id: u64,
    port: u16,
    config: PathBuf,
    process: Option<Strait>,
    /// Processes started so far.
    starts: u32,
}

/// The nodes of one cluster. Dropping it kills every running node (SIGKILL, by PID, through
/// [`Strait`]'s own drop) after saving its log.
pub struct Cluster {
    nodes: Vec<Node>,
    logs: PathBuf,
    runtime: tokio::runtime::Runtime,
}

/// What the cluster should replicate.
pub struct ClusterSpec<'a> {
    pub nodes: u64,
    pub source: &'a str,
    pub target: &'a str,
    pub topic: &'a str,
    /// `cluster.liveness_timeout_ms`, `None` for the node's default.
    pub liveness_timeout_ms: Option<u64>,
}

impl Cluster {
    /// Writes the configs under `work_dir` (`node-<id>/strait.toml`, `node-<id>/data`) and
    /// starts every node.
    pub fn start(work_dir: &Path, spec: &ClusterSpec<'_>) -> Result<Cluster, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))?;
        let logs = work_dir.join("logs");
        std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
        let ports: Vec<(u64, u16)> = (1..=spec.nodes).map(|id| (id, free_port())).collect();
        let peers: Vec<String> = ports
            .iter()
            .map(|(id, port)| format!("{id}@127.0.0.1:{port}"))
            .collect();
        let mut nodes = Vec::new();
        for &(id, port) in &ports {
            let dir = work_dir.join(format!("node-{id}"));
            let data = dir.join("data");
            std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
            let mut config = Config::a_to_b(spec.source, spec.target, &data, &[spec.topic]);
            config.cluster_port = port;
            config.cluster = ClusterSettings {
                node_id: Some(id),
                peers: peers.clone(),
                liveness_timeout_ms: spec.liveness_timeout_ms,
                ..ClusterSettings::default()
            };
            let toml = config.toml();
            let path = dir.join("strait.toml");
            std::fs::write(&path, toml).map_err(|e| format!("{}: {e}", path.display()))?;
            nodes.push(Node {
                id,
                port,
                config: path,
                process: None,
                starts: 0,
            });
        }
        let mut cluster = Cluster {
            nodes,
            logs,
            runtime,
        };
        for id in cluster.ids() {
            cluster.start_node(id)?;
        }
        Ok(cluster)
    }

    /// Node ids, ascending.
    pub fn ids(&self) -> Vec<u64> {
        self.nodes.iter().map(|n| n.id).collect()
    }

    /// The PID of a running node.
    pub fn pid(&self, id: u64) -> Option<u32> {
        self.node(id).ok()?.process.as_ref().map(Strait::pid)
    }

    /// The node's gRPC address.
    pub fn address(&self, id: u64) -> Option<String> {
        self.node(id).ok().map(|n| format!("127.0.0.1:{}", n.port))
    }

    /// Starts a node that is not running, on its config and data dir.
    pub fn start_node(&mut self, id: u64) -> Result<(), String> {
        let node = self.node_mut(id)?;
        if node.process.is_some() {
            return Err(format!("node {id} is already running"));
        }
        node.process = Some(Strait::start_file(&node.config));
        node.starts += 1;
        Ok(())
    }

    /// `kill -9` of a running node; waits for the process to be gone. Returns its exit status
    /// text.
    pub fn kill9(&mut self, id: u64) -> Result<(), String> {
        let logs = self.logs.clone();
        let node = self.node_mut(id)?;
        let mut process = node
            .process
            .take()
            .ok_or_else(|| format!("node {id} is not running"))?;
        process.kill9();
        save_log(&logs, node.id, node.starts, &process);
        Ok(())
    }

    /// SIGTERM to a running node, then waits (at most `deadline`) for it to exit; returns its
    /// exit status and its log.
    pub fn terminate(
        &mut self,
        id: u64,
        deadline: Duration,
    ) -> Result<(ExitStatus, String), String> {
        let logs = self.logs.clone();
        let node = self.node_mut(id)?;
        let mut process = node
            .process
            .take()
            .ok_or_else(|| format!("node {id} is not running"))?;
        process.send_signal(libc::SIGTERM);
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = process.try_exit() {
                break status;
            }
            if started.elapsed() > deadline {
                process.kill9();
                save_log(&logs, node.id, node.starts, &process);
                return Err(format!(
                    "node {id} did not exit within {deadline:?} of SIGTERM"
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        save_log(&logs, node.id, node.starts, &process);
        Ok((status, process.log()))
    }

    /// Nodes whose process has exited on its own (a crash), with the end of their log.
    pub fn crashed(&mut self) -> Vec<(u64, String)> {
        let mut crashed = Vec::new();
        for node in &mut self.nodes {
            if let Some(process) = &mut node.process {
                if let Some(status) = process.try_exit() {
                    crashed.push((node.id, format!("{status}\n{}", process.log_tail(30))));
                }
            }
        }
        crashed
    }

    /// `GetNodeStatus` of one node.
    pub fn status(&self, id: u64) -> Result<GetNodeStatusResponse, String> {
        let port = self.node(id)?.port;
        self.runtime.block_on(async move {
            let call = async {
                let channel = Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
                    .map_err(|e| e.to_string())?
                    .connect_timeout(STATUS_TIMEOUT)
                    .timeout(STATUS_TIMEOUT)
                    .connect()
                    .await
                    .map_err(|e| format!("connecting: {e}"))?;
                StatusClient::new(channel)
                    .get_node_status(GetNodeStatusRequest {})
                    .await
                    .map(tonic::Response::into_inner)
                    .map_err(|e| format!("{:?}: {}", e.code(), e.message()))
            };
            tokio::time::timeout(STATUS_TIMEOUT, call)
                .await
                .unwrap_or_else(|_| Err(format!("no answer within {STATUS_TIMEOUT:?}")))
        })
    }

    /// `GetNodeStatus` of the given nodes.
    pub fn statuses(&self, ids: &[u64]) -> BTreeMap<u64, Result<GetNodeStatusResponse, String>> {
        ids.iter().map(|&id| (id, self.status(id))).collect()
    }

    fn node(&self, id: u64) -> Result<&Node, String> {
        self.nodes
            .iter()
            .find(|n| n.id == id)
            .ok_or_else(|| format!("no node {id}"))
    }

    fn node_mut(&mut self, id: u64) -> Result<&mut Node, String> {
        self.nodes
            .iter_mut()
            .find(|n| n.id == id)
            .ok_or_else(|| format!("no node {id}"))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut process) = node.process.take() {
                process.kill9();
                save_log(&self.logs, node.id, node.starts, &process);
            }
        }
    }
}

/// Appends a finished process's log to `<logs>/node-<id>.log`.
fn save_log(logs: &Path, id: u64, start: u32, process: &Strait) {
    let path = logs.join(format!("node-{id}.log"));
    let result = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| {
            writeln!(
                file,
                "===== node {id}, start {start}, pid {} =====",
                process.pid()
            )?;
            file.write_all(process.log().as_bytes())
        });
    if let Err(e) = result {
        eprintln!("saving the log of node {id} to {}: {e}", path.display());
    }
}
