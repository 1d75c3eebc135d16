//! Runs a node: opens the store, joins (or bootstraps) the Raft cluster, starts the actor system
//! and one flow actor per enabled flow, reports progress, and on SIGTERM/SIGINT drains (stop
//! reading, flush, store positions) and exits. A node without cluster settings is a cluster of one.

use std::time::Duration;

use actix::prelude::*;
use strait_config::Settings;
use strait_storage::Store;

use crate::replication::flow::{ClusterView, Drain, FlowActor};
use crate::replication::status::NodeStatus;
use crate::NodeError;

/// Upper bound on a clean shutdown; past it the node exits anyway (positions stored so far hold).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs until SIGTERM or SIGINT. Returns after a clean drain.
pub fn run(settings: Settings) -> Result<(), NodeError> {
    for ignored in &settings.ignored {
        match ignored.line {
            Some(line) => tracing::warn!(key = %ignored.key, line, reason = %ignored.reason,
                file = %settings.file.display(), "configuration key ignored"),
            None => tracing::warn!(key = %ignored.key, reason = %ignored.reason,
                file = %settings.file.display(), "configuration key ignored"),
        }
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
    let cluster = crate::cluster::start(&settings.cluster, &store, status.clone())?;
    let view = ClusterView {
        raft: cluster.raft.clone(),
        node_id: cluster.node_id,
        liveness_timeout: cluster.liveness_timeout,
        position_interval: cluster.position_interval,
    };

    let system = System::new();
    let result = system.block_on(async move {
        let workers = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(1, 4);
        let arbiters: Vec<Arbiter> = (0..workers).map(|_| Arbiter::new()).collect();
        let handles: Vec<ArbiterHandle> = arbiters.iter().map(Arbiter::handle).collect();
        let producer_arbiter = Arbiter::new();

        let mut flows = Vec::new();
        for flow in settings.flows.iter().cloned() {
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
        tracing::info!(flows = flows.len(), data_dir = %settings.node.data_dir.display(),
            workers, "node started");
        if !settings.node.progress_interval.is_zero() {
            actix::spawn(crate::progress::report(
                status.clone(),
                settings.node.progress_interval,
            ));
        }

        let signal = shutdown_signal().await;
        tracing::info!(signal, "draining");
        let drain = futures::future::join_all(flows.iter().map(|flow| flow.send(Drain)));
        if tokio::time::timeout(DRAIN_TIMEOUT, drain).await.is_err() {
            tracing::warn!(timeout_s = DRAIN_TIMEOUT.as_secs(), "drain timed out");
        }
        // Give the final position proposals a moment to commit.
        tokio::time::sleep(Duration::from_millis(300)).await;
        store.flush()?;
        for arbiter in arbiters.iter().chain([&producer_arbiter]) {
            arbiter.stop();
        }
        tracing::info!("stopped");
        Ok::<(), NodeError>(())
    });
    cluster.shutdown();
    result
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
