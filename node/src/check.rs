//! `strait check-config`: validate a configuration, print what it resolves to, and (unless offline)
//! list the source topics each flow would replicate right now, with their remote names.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use strait_config::Settings;

use crate::kafka::{check_client_properties, consumer_config, SourceTopic};
use crate::replication::topics::select_topics;
use crate::NodeError;

/// How long each source cluster gets to answer a metadata request.
const METADATA_TIMEOUT: Duration = Duration::from_secs(5);

/// Loads a configuration as `strait node` and `strait check-config` both do:
/// [`strait_config::load`], then every client property of every flow checked by librdkafka (see
/// [`check_client_properties`]), so a bad one fails both before anything starts.
pub fn load(path: &Path) -> Result<Settings, NodeError> {
    let settings = strait_config::load(path)?;
    check_client_properties(&settings).map_err(NodeError::Config)?;
    Ok(settings)
}

/// The report printed by `check-config`.
pub fn report(settings: &Settings, offline: bool) -> String {
    let mut out = settings.describe();
    if offline {
        return out;
    }
    for flow in &settings.flows {
        let _ = writeln!(out, "\nTopics {} replicates now:", flow.id);
        match source_topics(flow) {
            Ok(topics) => {
                let selected = select_topics(flow, &topics);
                if selected.is_empty() {
                    let _ = writeln!(out, "  (none of the {} source topics match)", topics.len());
                }
                for topic in selected {
                    let _ = writeln!(
                        out,
                        "  {} ({} partitions) -> {}",
                        topic.source.name, topic.source.partitions, topic.remote
                    );
                }
            }
            Err(error) => {
                let _ = writeln!(
                    out,
                    "  (source cluster {} not reachable: {error}; the configuration itself is valid)",
                    flow.id.source
                );
            }
        }
    }
    out
}

fn source_topics(flow: &strait_config::FlowSettings) -> Result<Vec<SourceTopic>, String> {
    let mut config = consumer_config(&flow.consumer, &flow.id.to_string());
    config.set("log_level", "0");
    let consumer: BaseConsumer = config.create().map_err(|e| e.to_string())?;
    let metadata = consumer
        .fetch_metadata(None, METADATA_TIMEOUT)
        .map_err(|e| e.to_string())?;
    Ok(metadata
        .topics()
        .iter()
        .filter(|t| t.error().is_none())
        .map(|t| SourceTopic {
            name: t.name().to_owned(),
            partitions: t.partitions().len() as i32,
        })
        .collect())
}
