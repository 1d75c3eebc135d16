//! Runs a node: opens the store, joins (or bootstraps) the Raft cluster, starts the actor system
//! and one flow actor per enabled flow (and the heartbeats of the pairs of clusters without one),
//! reports progress, and on SIGTERM/SIGINT hands its partitions to the other nodes (see
//! [`crate::handover`]), drains what is left (stop reading, flush, store positions) and exits. A
//! node without cluster settings is a cluster of one.

use std::time::Duration;

use actix::prelude::*;
use strait_config::Settings;
use strait_storage::Store;

use crate::replication::flow::{ClusterView, Drain, FlowActor, Shutdown};
use crate::replication::status::NodeStatus;
use crate::shared_config;
use crate::NodeError;

/// Upper bound on a clean shutdown; past it the node exits anyway (positions stored so far hold).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a node looks for a new committed configuration version.
const CONFIG_CHECK_INTERVAL: Duration = Duration::from_millis(500);
/// How long a removed node keeps its Raft task running after its drain, until it has applied its
/// removal from the voters: until then the others may still need its vote to commit that removal
/// (a cluster of two voters needs both).
const REMOVAL_GRACE: Duration = Duration::from_secs(5);
/// Why a removed node stops (logged like a signal's name).
const REMOVED: &str = "removed from the cluster";

/// Runs until SIGTERM or SIGINT. Returns after a clean drain. `options` say how the node takes
/// its place in the cluster (e.g. `--rejoin`).
pub fn run(settings: Settings, options: crate::cluster::StartOptions) -> Result<(), NodeError> {
    for ignored in &settings.ignored {
        match ignored.line {
            Some(line) => tracing::warn!(key = %ignored.key, line, reason = %ignored.reason,
                file = %settings.file.display(), "configuration key ignored"),
            None => tracing::warn!(key = %ignored.key, reason = %ignored.reason,
                file = %settings.file.display(), "configuration key ignored"),
        }
    }
    for warning in &settings.warnings {
        tracing::warn!(file = %settings.file.display(), "{warning}");
    }
    let flush_every = settings
        .flows
        .iter()
        .map(|f| f.position_flush_interval)
        .min()
        .unwrap_or(Duration::from_millis(100));
    std::fs::create_dir_all(&settings.node.data_dir)?;
    let store = Store::open(&settings.node.data_dir, flush_every)?;
    let positions = store.positions()?;
    let status = NodeStatus::default();
    if let Some(addr) = settings.node.metrics_listen {
        // Before any runtime exists here: the exporter gets a thread and runtime of its own.
        crate::metrics::install(addr).map_err(NodeError::Metrics)?;
        tracing::info!(%addr, "metrics at http://{addr}/metrics");
    }
    let mut cluster = crate::cluster::start(
        std::sync::Arc::new(settings.clone()),
        &store,
        status.clone(),
        options,
    )?;
    if settings.node.metrics_listen.is_some() {
        crate::metrics::spawn_sampler(status.clone(), cluster.raft.clone())?;
    }
    let view = ClusterView {
        raft: cluster.raft.clone(),
        node_id: cluster.node_id,
        liveness_timeout: cluster.liveness_timeout,
        position_interval: cluster.position_interval,
        offset_trim_interval: settings.node.offset_trim_interval,
    };

    let raft_stopped = cluster.raft_stopped();
    let removal = cluster.removal();
    let config_file = settings.file.clone();

    let system = System::new();
    let result = system.block_on(async move {
        let workers = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(1, 4);
        let arbiters: Vec<Arbiter> = (0..workers).map(|_| Arbiter::new()).collect();
        let handles: Vec<ArbiterHandle> = arbiters.iter().map(Arbiter::handle).collect();
        let producer_arbiter = Arbiter::new();
        if !settings.node.progress_interval.is_zero() {
            actix::spawn(crate::progress::report(
                view.node_id,
                status.clone(),
                settings.node.progress_interval,
            ));
        }
        actix::spawn(crate::replication::stall::watch(status.clone()));
        let mut signal = std::pin::pin!(shutdown_signal());
        let mut raft_stopped = std::pin::pin!(raft_stopped);
        let mut removal = std::pin::pin!(removal);
        // No drain: positions cannot reach the cluster any more, and the node must stop writing.
        let fail = |error: crate::cluster::ClusterError| {
            tracing::error!(%error, "exiting");
            Err(NodeError::from(error))
        };

        // The cluster's one configuration: wait for it (a new cluster takes this file's).
        let adopt = shared_config::adopt(&view.raft, &store, view.node_id, &settings);
        let mut adopted = tokio::select! {
            adopted = adopt => adopted?,
            signal = &mut signal => {
                tracing::info!(signal, "stopped before the cluster configuration was settled");
                return Ok(());
            }
            error = &mut raft_stopped => return fail(error),
            // Started on the membership of a node the cluster removed: refuse, with how to rejoin.
            removal = &mut removal => {
                let hint = removal.rejoin_hint(view.node_id, &config_file);
                leave_the_voters(&view.raft, view.node_id).await;
                return fail(crate::cluster::ClusterError::Removed(hint));
            }
        };
        status.set_config(adopted.version, adopted.disagreement.clone());
        let start_flows =
            |adopted: &shared_config::Adopted| -> Result<Vec<Addr<FlowActor>>, NodeError> {
                let mut flows = Vec::new();
                for flow in adopted.settings.flows.iter().cloned() {
                    let actor = FlowActor::new(
                        flow,
                        view.clone(),
                        positions.clone(),
                        status.clone(),
                        handles.clone(),
                        &producer_arbiter.handle(),
                    )?;
                    flows.push(actor.start());
                }
                Ok(flows)
            };
        // Heartbeats of the pairs without a flow (written while this node leads).
        let start_pairs = |adopted: &shared_config::Adopted| -> Vec<tokio::task::JoinHandle<()>> {
            adopted
                .settings
                .pair_heartbeats
                .iter()
                .filter(|pair| pair.enabled)
                .map(|pair| {
                    let pair = std::sync::Arc::new(pair.clone());
                    actix::spawn(crate::offsets::emitter::run_pair(pair, view.raft.clone()))
                })
                .collect()
        };
        let mut flows = start_flows(&adopted)?;
        let mut pairs = start_pairs(&adopted);
        tracing::info!(flows = flows.len(), heartbeat_pairs = pairs.len(),
            config_version = adopted.version,
            data_dir = %settings.node.data_dir.display(), workers, "node started");

        let own_text = settings.shared_config();
        let mut config_check = tokio::time::interval(CONFIG_CHECK_INTERVAL);
        let mut refused = None;
        let signal = loop {
            tokio::select! {
                signal = &mut signal => break signal,
                error = &mut raft_stopped => return fail(error),
                // Removed from the cluster (strait leave): drain and exit like on SIGTERM.
                removal = &mut removal => {
                    let hint = removal.rejoin_hint(view.node_id, &config_file);
                    if removal.before_this_start() {
                        // Removed before it started: it should not have started; exit as refused.
                        refused = Some(hint);
                    } else {
                        tracing::warn!("{hint}");
                    }
                    break REMOVED;
                }
                _ = config_check.tick() => {
                    let state = view.raft.state();
                    let Some(committed) = state.flow_config() else { continue };
                    if committed.version == adopted.version {
                        continue;
                    }
                    let next = match shared_config::from_committed(&settings, &own_text, committed) {
                        Ok(next) => next,
                        Err(error) => {
                            // Keep running what runs rather than stop (e.g. a newer node's format).
                            tracing::error!(%error, "cannot run the new cluster configuration");
                            adopted.version = committed.version;
                            status.set_config(adopted.version, Some(error.to_string()));
                            continue;
                        }
                    };
                    tracing::info!(from = adopted.version, to = committed.version,
                        "the cluster configuration changed: restarting the flows");
                    drain(&flows).await;
                    for flow in &flows {
                        let _ = flow.send(Shutdown).await;
                    }
                    for pair in pairs.drain(..) {
                        pair.abort();
                    }
                    adopted = next;
                    status.set_config(adopted.version, adopted.disagreement.clone());
                    flows = start_flows(&adopted)?;
                    pairs = start_pairs(&adopted);
                }
            }
        };
        // A planned stop: the other nodes take the partitions over (each released at its final
        // position) while this one still runs. A node removed from the cluster has nothing to
        // hand over; a second signal cuts the handover short.
        if signal != REMOVED {
            let handover = crate::handover::hand_over(
                &view.raft,
                view.node_id,
                view.liveness_timeout,
                settings.node.shutdown_handover_timeout,
            );
            tokio::select! {
                outcome = handover => match outcome {
                    crate::handover::HandoverOutcome::HandedOver { partitions } => {
                        tracing::info!(signal, partitions, "partitions handed over")
                    }
                    crate::handover::HandoverOutcome::Skipped { reason, held } => {
                        tracing::info!(signal, reason, held, "no handover: draining what is held")
                    }
                    crate::handover::HandoverOutcome::TimedOut { held } => {
                        tracing::warn!(signal, held,
                            timeout_s = settings.node.shutdown_handover_timeout.as_secs(),
                            "handover timed out: draining what is still held")
                    }
                },
                again = shutdown_signal() => {
                    tracing::warn!(signal = again, "second signal: handover cut short");
                }
                error = &mut raft_stopped => return fail(error),
            }
        }
        tracing::info!(signal, "draining");
        for pair in pairs.drain(..) {
            pair.abort();
        }
        drain(&flows).await;
        // Give the final position proposals a moment to commit.
        tokio::time::sleep(Duration::from_millis(300)).await;
        store.flush()?;
        // Removed before it started, it is no voter any more in the cluster's eyes: no grace.
        if signal == REMOVED && refused.is_none() {
            leave_the_voters(&view.raft, view.node_id).await;
        }
        for arbiter in arbiters.iter().chain([&producer_arbiter]) {
            arbiter.stop();
        }
        if let Some(hint) = refused {
            return fail(crate::cluster::ClusterError::Removed(hint));
        }
        tracing::info!("stopped");
        Ok::<(), NodeError>(())
    });
    cluster.shutdown();
    // Everything that matters is stored by now (positions flushed, the Raft runtime stopped).
    // Dropping the actix runtime would wait for its blocking tasks, e.g. a metadata request to an
    // unreachable broker with a 30 s timeout: leave them to the process exit instead.
    std::mem::forget(system);
    result
}

/// Keeps the Raft task running until this removed node has applied its removal from the voters,
/// at most [`REMOVAL_GRACE`]: the cluster may need its vote to commit that removal.
async fn leave_the_voters(raft: &strait_coordinator::raft::RaftHandle, node: u64) {
    let mut statuses = raft.watch_status();
    let left = statuses.wait_for(|status| !status.voters.contains(&node));
    if tokio::time::timeout(REMOVAL_GRACE, left).await.is_err() {
        tracing::warn!(
            timeout_s = REMOVAL_GRACE.as_secs(),
            "leaving without having seen this node's removal from the voters applied"
        );
    }
}

/// Drains every flow, within [`DRAIN_TIMEOUT`].
async fn drain(flows: &[Addr<FlowActor>]) {
    let drain = futures::future::join_all(flows.iter().map(|flow| flow.send(Drain)));
    if tokio::time::timeout(DRAIN_TIMEOUT, drain).await.is_err() {
        tracing::warn!(timeout_s = DRAIN_TIMEOUT.as_secs(), "drain timed out");
    }
}

async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers the node can only be killed; run until then.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}
