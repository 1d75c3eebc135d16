//! Topic discovery and remote-topic administration, run by the Raft leader's flow actor: which
//! source topics the flow selects, their remote topics created, grown and configured like the
//! source's, and the result as the `SetTopics` the cluster should apply.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use rdkafka::error::KafkaError;
use strait_config::FlowSettings;
use strait_coordinator::state::{ClusterState, Command, TopicInfo};
use strait_coordinator::FlowId;
use thiserror::Error;

use crate::kafka::{TopicAdmin, TopicConfigEntry};
use crate::replication::status::NodeStatus;
use crate::replication::topic_configs;
use crate::replication::topics::{select_topics, SelectedTopic};

/// What went wrong preparing topics; shown in the node's status per topic (or for the flow, `*`,
/// when the topics could not be listed) and retried at the next refresh.
#[derive(Debug, Clone, Error)]
pub enum TopicError {
    #[error("cannot list {cluster} topics: {source}")]
    List {
        cluster: &'static str,
        #[source]
        source: KafkaError,
    },
    #[error("cannot read the source topic's configs: {0}")]
    SourceConfigs(#[source] KafkaError),
    #[error("cannot create remote topic {remote}: {source}")]
    Create {
        remote: String,
        #[source]
        source: KafkaError,
    },
    /// Replication goes on over the partitions both sides have.
    #[error("remote topic has {existing} partitions, source {wanted}: {source}")]
    Grow {
        existing: i32,
        wanted: i32,
        #[source]
        source: KafkaError,
    },
    #[error("cannot read the configs of {remote}: {source}")]
    TargetConfigs {
        remote: String,
        #[source]
        source: KafkaError,
    },
    #[error("cannot sync configs of {remote}: {source}")]
    SyncConfigs {
        remote: String,
        #[source]
        source: KafkaError,
    },
}

/// One or more problems of a topic, shown as one line.
#[derive(Debug, Clone)]
pub struct Problems(Vec<TopicError>);

impl std::fmt::Display for Problems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// One topic discovery pass, run off the actor with clones of what it needs.
pub struct RefreshJob {
    settings: Arc<FlowSettings>,
    source_admin: TopicAdmin,
    target_admin: TopicAdmin,
    /// Remote topics the cluster has replicated into (a position is stored for a partition).
    replicated: HashSet<String>,
}

pub struct RefreshOutcome {
    /// Source topics whose remote topic is ready, with the partition count both sides have.
    ready: Vec<TopicInfo>,
    /// Per topic: what to show (an error that keeps the remote topic from being ready, or
    /// problems that do not stop replication), or `None` to clear an earlier one.
    topic_errors: Vec<(String, Option<Problems>)>,
    listing_error: Option<TopicError>,
}

impl RefreshOutcome {
    /// Shows the errors of this pass in the node's status (and clears the earlier ones it no
    /// longer has); `false` when the topics could not even be listed.
    pub fn report(&self, status: &NodeStatus, flow: &FlowId) -> bool {
        if let Some(error) = &self.listing_error {
            tracing::warn!(%flow, %error, "topic refresh failed, retrying at the next interval");
            status.set_topic_error(flow, "*", Some(error.to_string()));
            return false;
        }
        status.set_topic_error(flow, "*", None);
        for (topic, error) in &self.topic_errors {
            status.set_topic_error(flow, topic, error.as_ref().map(ToString::to_string));
        }
        true
    }

    /// The `SetTopics` to propose, if the discovered topics differ from what the cluster has. A
    /// topic whose remote could not be prepared this time keeps what the cluster has: a transient
    /// admin error must not stop its replication.
    pub fn publication(self, state: &ClusterState, flow: &FlowId) -> Option<Command> {
        let mut current: BTreeMap<String, TopicInfo> = BTreeMap::new();
        for (key, info) in state.partitions().filter(|(k, _)| k.flow == *flow) {
            let entry = current.entry(key.tp.topic.clone()).or_insert(TopicInfo {
                topic: key.tp.topic.clone(),
                partitions: 0,
                remote_topic: info.remote_topic.clone(),
            });
            entry.partitions = entry.partitions.max(key.tp.partition + 1);
        }
        let mut topics: BTreeMap<String, TopicInfo> = self
            .ready
            .into_iter()
            .map(|t| (t.topic.clone(), t))
            .collect();
        for (topic, error) in &self.topic_errors {
            if let (Some(_), Some(known)) = (error, current.get(topic)) {
                topics.entry(topic.clone()).or_insert_with(|| known.clone());
            }
        }
        (topics != current).then(|| Command::SetTopics {
            flow: flow.clone(),
            topics: topics.into_values().collect(),
        })
    }
}

impl RefreshJob {
    pub fn new(
        settings: Arc<FlowSettings>,
        source_admin: TopicAdmin,
        target_admin: TopicAdmin,
        state: &ClusterState,
    ) -> Self {
        let replicated = state
            .partitions()
            .filter(|(key, info)| key.flow == settings.id && info.position.is_some())
            .map(|(_, info)| info.remote_topic.clone())
            .collect();
        Self {
            settings,
            source_admin,
            target_admin,
            replicated,
        }
    }

    pub async fn run(self) -> RefreshOutcome {
        let mut outcome = RefreshOutcome {
            ready: Vec::new(),
            topic_errors: Vec::new(),
            listing_error: None,
        };
        let source_topics = match self.source_admin.list_topics().await {
            Ok(topics) => topics,
            Err(error) => {
                outcome.listing_error = Some(TopicError::List {
                    cluster: "source",
                    source: error,
                });
                return outcome;
            }
        };
        let target_topics: HashMap<String, i32> = match self.target_admin.list_topics().await {
            Ok(topics) => topics.into_iter().map(|t| (t.name, t.partitions)).collect(),
            Err(error) => {
                outcome.listing_error = Some(TopicError::List {
                    cluster: "target",
                    source: error,
                });
                return outcome;
            }
        };
        for selected in select_topics(&self.settings, &source_topics) {
            let existing = target_topics.get(&selected.remote).copied();
            match self.prepare_remote(&selected, existing).await {
                Ok((target_partitions, warning)) => {
                    outcome
                        .topic_errors
                        .push((selected.source.name.clone(), warning));
                    outcome.ready.push(TopicInfo {
                        topic: selected.source.name.clone(),
                        partitions: selected.source.partitions.min(target_partitions),
                        remote_topic: selected.remote.clone(),
                    });
                }
                Err(error) => {
                    tracing::warn!(flow = %self.settings.id, topic = %selected.source.name,
                        remote = %selected.remote, %error, "remote topic not ready");
                    outcome
                        .topic_errors
                        .push((selected.source.name.clone(), Some(Problems(vec![error]))));
                }
            }
        }
        outcome
    }

    /// Makes sure the remote topic exists with enough partitions and the source's configs; returns
    /// its partition count and a problem to show in status that does not stop replication.
    async fn prepare_remote(
        &self,
        selected: &SelectedTopic,
        existing: Option<i32>,
    ) -> Result<(i32, Option<Problems>), TopicError> {
        let flow = &self.settings.id;
        let exclude = &self.settings.config_properties_exclude;
        let configs = if self.settings.sync_topic_configs {
            Some(
                self.source_admin
                    .topic_overrides(&selected.source.name)
                    .await
                    .map(|source| topic_configs::copyable(source, exclude))
                    .map_err(TopicError::SourceConfigs),
            )
        } else {
            None
        };
        let partitions = selected.source.partitions;
        let mut warnings = Vec::new();
        let target_partitions = match existing {
            None => {
                // Never created without the source's configs: created `delete` instead of
                // `compact`, say, the remote topic would drop records the source keeps.
                let configs = configs.transpose()?.unwrap_or_default();
                self.target_admin
                    .create_topic(
                        &selected.remote,
                        partitions,
                        self.settings.replication_factor,
                        &configs,
                    )
                    .await
                    .map_err(|source| TopicError::Create {
                        remote: selected.remote.clone(),
                        source,
                    })?;
                if self.replicated.contains(&selected.remote) {
                    tracing::warn!(%flow, topic = %selected.source.name,
                        remote = %selected.remote, partitions,
                        "remote topic was deleted on the target: created it again; replication \
                         continues from the stored positions, records replicated before the \
                         deletion are not copied again");
                } else {
                    tracing::info!(%flow, topic = %selected.source.name,
                        remote = %selected.remote, partitions, configs = configs.len(),
                        "created remote topic");
                }
                return Ok((partitions, None));
            }
            Some(existing) if existing < partitions => {
                match self
                    .target_admin
                    .create_partitions(&selected.remote, partitions)
                    .await
                {
                    Ok(()) => {
                        tracing::info!(%flow, remote = %selected.remote, from = existing,
                            to = partitions, "grew remote topic");
                        partitions
                    }
                    Err(error) => {
                        // Replicate what fits; the rest waits (and shows in status).
                        tracing::warn!(%flow, remote = %selected.remote, %error, existing,
                            source_partitions = partitions, "cannot grow remote topic");
                        warnings.push(TopicError::Grow {
                            existing,
                            wanted: partitions,
                            source: error,
                        });
                        existing
                    }
                }
            }
            Some(existing) => existing,
        };
        // Configs that cannot be synced now are retried at the next refresh; replication goes on.
        if let Some(wanted) = configs {
            let synced = match wanted {
                Ok(wanted) => self.sync_configs(&selected.remote, &wanted).await,
                Err(error) => Err(error),
            };
            if let Err(error) = synced {
                tracing::warn!(%flow, remote = %selected.remote, %error, "topic configs not synced");
                warnings.push(error);
            }
        }
        let warning = (!warnings.is_empty()).then_some(Problems(warnings));
        Ok((target_partitions, warning))
    }

    /// Makes the existing remote topic's overrides follow the source's (see
    /// [`topic_configs`]); writes only when they differ.
    async fn sync_configs(
        &self,
        remote: &str,
        wanted: &[TopicConfigEntry],
    ) -> Result<(), TopicError> {
        let target = self
            .target_admin
            .topic_overrides(remote)
            .await
            .map_err(|source| TopicError::TargetConfigs {
                remote: remote.to_owned(),
                source,
            })?;
        let changes =
            topic_configs::changes(wanted, &target, &self.settings.config_properties_exclude);
        if changes.is_empty() {
            return Ok(());
        }
        self.target_admin
            .alter_topic_configs(remote, &changes.set, &changes.delete)
            .await
            .map_err(|source| TopicError::SyncConfigs {
                remote: remote.to_owned(),
                source,
            })?;
        let set: Vec<&str> = changes.set.iter().map(|e| e.name.as_str()).collect();
        tracing::info!(flow = %self.settings.id, %remote, ?set, deleted = ?changes.delete,
            "synced topic configs");
        Ok(())
    }
}
