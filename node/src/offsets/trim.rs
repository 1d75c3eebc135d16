//! Trimming the local offset runs with the source's retention: runs wholly below a partition's
//! log start offset describe records that no consumer can be at any more.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::Consumer;
use strait_coordinator::PartitionKey;
use strait_coordinator::{FlowId, TopicPartition};
use strait_storage::PositionStore;

use crate::replication::partition::SourceConsumer;

const WATERMARK_TIMEOUT: Duration = Duration::from_secs(10);

/// Drops, for each of `partitions`, the stored runs below the source's log start offset
/// (ListOffsets earliest). Runs on a blocking thread; failures are logged and retried next time.
pub async fn trim_local_runs(
    flow: FlowId,
    consumer: Arc<SourceConsumer>,
    positions: PositionStore,
    partitions: Vec<TopicPartition>,
) {
    let job = move || {
        for tp in partitions {
            let low = match consumer.fetch_watermarks(&tp.topic, tp.partition, WATERMARK_TIMEOUT) {
                Ok((low, _)) => low,
                Err(error) => {
                    tracing::debug!(%flow, partition = %tp, %error, "no log start offset: runs not trimmed");
                    continue;
                }
            };
            let key = PartitionKey {
                flow: flow.clone(),
                tp: tp.clone(),
            };
            match positions.offset_map().trim(&key, low) {
                Ok(0) => {}
                Ok(dropped) => {
                    tracing::info!(%flow, partition = %tp, below = low, dropped, "offset runs trimmed")
                }
                Err(error) => {
                    tracing::warn!(%flow, partition = %tp, %error, "cannot trim offset runs")
                }
            }
        }
    };
    if tokio::task::spawn_blocking(job).await.is_err() {
        tracing::warn!("offset run trimming task failed");
    }
}
