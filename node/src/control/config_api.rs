//! `strait.v1.Config`: the cluster's committed configuration, and applying a new one.
//!
//! A text is read by the same loaders as a file (its errors, with key and line, answered as
//! `InvalidArgument` about `content`), reduced to its canonical shared text (clusters and flows,
//! see `strait_config::shared`), and proposed as the next version with `Command::SetFlowConfig`.
//! The state machine accepts only versions above the committed one, so two changes decided on the
//! same version cannot both get in: the later is `Stale`, answered as `FailedPrecondition` when the
//! caller gave an `expected_version`, and otherwise decided again on the newer version. Every node
//! then sees the new version and restarts its flows on it (`node.rs`).
//!
//! The node settings of a text (`[node]`, `[cluster]`, `strait.data.dir`, `strait.cluster.*`...)
//! are not applied but noted in the answer: they belong to each node's file, and an operator
//! applying the file a node runs on should not have to cut them out first.

use std::path::Path;

use strait_config::{ClusterMembership, Format, NodeSettings, Settings, SharedChange};
use strait_coordinator::state::{ApplyOutcome, Command, FlowConfig};
use strait_proto::v1::config_server::Config;
use strait_proto::v1::{
    ApplyConfigRequest, ApplyConfigResponse, ConfigChange, GetConfigRequest, GetConfigResponse,
    SettingChange,
};
use tonic::{Request, Response, Status};

use super::request::{self, invalid, unavailable};
use super::Control;

/// How often `ApplyConfig` without an expected version decides again when another change got in
/// first.
const ATTEMPTS: usize = 3;

/// What configuration errors name as the file: the request field.
const CONTENT: &str = "content";

pub struct ConfigApi {
    pub control: Control,
}

/// The committed configuration, or `Unavailable` while there is none.
fn committed(control: &Control) -> Result<FlowConfig, Status> {
    control.raft.state().flow_config().cloned().ok_or_else(|| {
        Status::unavailable(
            "the cluster has no configuration yet (no leader has committed one); retry",
        )
    })
}

/// This node's settings running `config`.
fn running(control: &Control, config: &FlowConfig) -> Result<Settings, Status> {
    let text = std::str::from_utf8(&config.settings)
        .map_err(|e| Status::internal(format!("configuration version {}: {e}", config.version)))?;
    control.own.with_shared_config(text).map_err(|e| {
        Status::internal(format!(
            "configuration version {} cannot be read: {e}",
            config.version
        ))
    })
}

/// What in `parsed` is not applied, for the answer's `notes`. Node settings are seen by their
/// values: one written with its default value is not noted (it would not change anything anyway).
fn notes(parsed: &Settings, format: Format) -> Vec<String> {
    let mut notes = Vec::new();
    let defaults = NodeSettings::defaults_for(Path::new(CONTENT));
    if parsed.node != defaults || parsed.cluster != ClusterMembership::default() {
        let keys = match format {
            Format::Toml => "[node] and [cluster]",
            Format::Properties => {
                "strait.data.dir, strait.log.format, strait.metrics.listen, \
                                   strait.progress.interval.seconds and strait.cluster.*"
            }
        };
        notes.push(format!(
            "node settings ({keys}) are not applied: each node keeps its own file's"
        ));
    }
    for ignored in &parsed.ignored {
        let at = ignored
            .line
            .map_or_else(|| CONTENT.to_owned(), |line| format!("{CONTENT}:{line}"));
        notes.push(format!(
            "{at}: `{}` ignored: {}",
            ignored.key, ignored.reason
        ));
    }
    notes
}

fn change(change: SharedChange) -> ConfigChange {
    ConfigChange {
        kind: change.item.as_str().to_owned(),
        name: change.name,
        change: change.change.as_str().to_owned(),
        settings: change
            .settings
            .into_iter()
            .map(|s| SettingChange {
                key: s.key,
                old_value: s.old.unwrap_or_default(),
                new_value: s.new.unwrap_or_default(),
            })
            .collect(),
    }
}

/// A stale `expected_version`.
fn not_expected(expected: u64, current: &FlowConfig) -> Status {
    Status::failed_precondition(format!(
        "expected_version: {expected}, but the cluster's configuration is at version {} (from \
         node {}): nothing applied; look at what changed (GetConfig, `strait config show`) and \
         apply again with expected_version {}",
        current.version, current.origin_node, current.version
    ))
}

#[tonic::async_trait]
impl Config for ConfigApi {
    async fn get_config(
        &self,
        _request: Request<GetConfigRequest>,
    ) -> Result<Response<GetConfigResponse>, Status> {
        let config = committed(&self.control)?;
        let settings = running(&self.control, &config)?;
        Ok(Response::new(GetConfigResponse {
            version: config.version,
            origin_node: config.origin_node,
            content: settings.shared_config_masked(),
            answered_by: self.control.node_id,
        }))
    }

    async fn apply_config(
        &self,
        request: Request<ApplyConfigRequest>,
    ) -> Result<Response<ApplyConfigResponse>, Status> {
        let r = request.into_inner();
        let format = request::config_format("format", &r.format)?;
        if r.content.trim().is_empty() {
            return Err(invalid(
                CONTENT,
                "must not be empty (the text of a configuration file)",
            ));
        }
        let parsed = strait_config::load_text(Path::new(CONTENT), format, &r.content)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        // As at a node's start: a client property librdkafka rejects would stop every node's flow.
        crate::kafka::check_client_properties(&parsed)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let masked = parsed.masked_secrets();
        if !masked.is_empty() {
            return Err(invalid(
                CONTENT,
                format!(
                    "{} reads `****`, the mask GetConfig shows: give the secret itself",
                    masked.join(", ")
                ),
            ));
        }
        let text = parsed.shared_config();
        // What every node will run: it must read back (it does, the loaders wrote it).
        let next = self
            .control
            .own
            .with_shared_config(&text)
            .map_err(|e| Status::internal(format!("the canonical configuration: {e}")))?;
        let notes = notes(&parsed, format);

        for _ in 0..ATTEMPTS {
            let current = committed(&self.control)?;
            if r.expected_version != 0 && r.expected_version != current.version {
                return Err(not_expected(r.expected_version, &current));
            }
            let unchanged = current.settings == text.as_bytes();
            let changes = if unchanged {
                Vec::new()
            } else {
                running(&self.control, &current)?.shared_changes(&next)
            };
            let answer = |version| ApplyConfigResponse {
                version,
                previous_version: current.version,
                unchanged,
                dry_run: r.dry_run,
                changes: changes.iter().cloned().map(change).collect(),
                notes: notes.clone(),
            };
            if unchanged {
                return Ok(Response::new(answer(current.version)));
            }
            let version = current.version + 1;
            if r.dry_run {
                return Ok(Response::new(answer(version)));
            }
            let outcome = self
                .control
                .raft
                .propose(Command::SetFlowConfig(FlowConfig {
                    version,
                    settings: text.clone().into_bytes(),
                    origin_node: self.control.node_id,
                }))
                .await
                .map_err(unavailable)?;
            match outcome {
                ApplyOutcome::Applied => {
                    tracing::info!(
                        version,
                        changes = changes.len(),
                        "applied a configuration given through the control API"
                    );
                    return Ok(Response::new(answer(version)));
                }
                // Another version got in since `current` was read.
                ApplyOutcome::Stale(_) if r.expected_version != 0 => {
                    return Err(not_expected(r.expected_version, &committed(&self.control)?));
                }
                ApplyOutcome::Stale(_) => continue,
                // Only version 0 is rejected, and a configuration is one value: bugs.
                ApplyOutcome::Rejected(reason) => {
                    return Err(Status::internal(format!(
                        "the configuration was rejected: {reason}"
                    )))
                }
                ApplyOutcome::Partial { .. } => {
                    return Err(Status::internal("a configuration cannot apply in part"))
                }
            }
        }
        Err(Status::aborted(format!(
            "the configuration changed {ATTEMPTS} times while this one was being applied; retry"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(format: Format, text: &str) -> Settings {
        strait_config::load_text(Path::new(CONTENT), format, text).unwrap()
    }

    const FLOWS: &str = "[clusters.A]\nbootstrap_servers = \"a:9092\"\n\
                         [clusters.B]\nbootstrap_servers = \"b:9092\"\n[flows.\"A->B\"]\n";

    #[test]
    fn node_settings_and_ignored_keys_are_noted() {
        assert_eq!(
            notes(&load(Format::Toml, FLOWS), Format::Toml),
            Vec::<String>::new()
        );

        let with_node = format!("[node]\ndata_dir = \"/var/lib/strait\"\n{FLOWS}");
        let noted = notes(&load(Format::Toml, &with_node), Format::Toml);
        assert_eq!(noted.len(), 1, "{noted:?}");
        assert!(noted[0].contains("[node] and [cluster]"), "{noted:?}");

        let properties = "clusters = A, B\nA.bootstrap.servers = a\nB.bootstrap.servers = b\n\
                          A->B.enabled = true\nstrait.cluster.listen = 0.0.0.0:7071\n\
                          tasks.max = 4\n";
        let noted = notes(&load(Format::Properties, properties), Format::Properties);
        assert!(noted[0].contains("strait.cluster.*"), "{noted:?}");
        assert!(
            noted
                .iter()
                .any(|n| n.starts_with("content:6: `tasks.max` ignored")),
            "{noted:?}"
        );
    }
}
