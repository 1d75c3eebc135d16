//! The `strait` control commands: a thin client over the `strait.v1` API of any node, printing
//! tables by default and the API's responses as JSON with `--output json`.

mod table;

use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use strait_proto::v1::cluster_client::ClusterClient;
use strait_proto::v1::config_client::ConfigClient;
use strait_proto::v1::flows_client::FlowsClient;
use strait_proto::v1::offsets_client::OffsetsClient;
use strait_proto::v1::partitions_client::PartitionsClient;
use strait_proto::v1::status_client::StatusClient;
use strait_proto::v1::status_event::Event;
use strait_proto::v1::*;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use table::render;

/// Where and how to reach the cluster; shared by every control command.
#[derive(Args, Debug, Clone)]
pub struct Connection {
    /// Any node's cluster address (`host:port`).
    #[arg(
        long,
        global = true,
        env = "STRAIT_CONTACT",
        default_value = "127.0.0.1:7070"
    )]
    pub contact: String,
    /// The control API's bearer token, when the cluster requires one (`cluster.control_token`).
    #[arg(
        long,
        global = true,
        env = "STRAIT_CONTROL_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// Connect with TLS, checking the node's certificate against this CA bundle (PEM): for a
    /// cluster port with `[cluster.tls]`.
    #[arg(long, global = true, env = "STRAIT_TLS_CA", value_name = "FILE")]
    pub tls_ca: Option<std::path::PathBuf>,
    /// The client certificate (PEM) to present, when the cluster requires one (mutual TLS).
    #[arg(
        long,
        global = true,
        env = "STRAIT_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The private key (PEM) of `--tls-cert`.
    #[arg(
        long,
        global = true,
        env = "STRAIT_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<std::path::PathBuf>,
    /// `table` for people, `json` for scripts (the API's response, field names as in the protos).
    #[arg(long, short, global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Table,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum ControlCommand {
    /// The cluster at a glance: leader, nodes, flows, lag and catch-up ETA (takes a second: the
    /// ETA comes from how far the positions move in it).
    Status,
    /// The nodes with their address, liveness, role and partition count.
    Nodes,
    /// List, show, pause or resume flows.
    Flows {
        #[command(subcommand)]
        action: Option<FlowAction>,
    },
    /// Which node replicates which partition.
    Assignments {
        #[arg(long)]
        flow: Option<String>,
        #[arg(long)]
        topic: Option<String>,
        #[arg(long)]
        node: Option<u64>,
    },
    /// Per partition: source end offset, replicated position, offset lag, time lag.
    Lag {
        #[arg(long)]
        flow: Option<String>,
        #[arg(long)]
        topic: Option<String>,
    },
    /// Move every partition off a node, and wait until it holds none.
    Drain {
        node: u64,
        /// Seconds to wait (default 60, at most 600); the drain stays in force after it.
        #[arg(long)]
        timeout: Option<u32>,
    },
    /// Give a drained node partitions again.
    Undrain { node: u64 },
    /// Move one partition to a node.
    Move {
        #[arg(long)]
        flow: String,
        #[arg(long)]
        topic: String,
        #[arg(long)]
        partition: i32,
        #[arg(long)]
        node: u64,
    },
    /// Register a node and make it a voter (then start it with `join`).
    AddNode {
        #[arg(long)]
        node: u64,
        /// Its cluster address, `host:port`.
        #[arg(long)]
        address: String,
    },
    /// Remove a node: its partitions move to the others.
    RemoveNode { node: u64 },
    /// Translate a consumer group's (or explicit) source offsets to target offsets.
    Translate {
        #[arg(long)]
        flow: String,
        #[arg(long, required_unless_present = "offset")]
        group: Option<String>,
        /// `TOPIC:PARTITION:OFFSET`, repeatable.
        #[arg(long)]
        offset: Vec<String>,
    },
    /// Print status changes as they happen (until interrupted).
    Watch,
    /// Show the cluster's configuration (its clusters and flows), or apply a new one.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Subcommand, Debug)]
pub enum ConfigAction {
    /// The committed version, the node it came from, and its clusters and flows as TOML (secret
    /// values masked).
    Show,
    /// Make a configuration file's clusters and flows the cluster's next version; every node
    /// switches to it. Its node settings are not applied (each node keeps its own).
    Apply {
        /// A `.toml` or `.properties` (mm2.properties) file.
        file: std::path::PathBuf,
        /// Apply only if the committed version is still this one (see `strait config show`).
        #[arg(long)]
        expected_version: Option<u64>,
        /// Check the file and print what would change, without applying it.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum FlowAction {
    /// Every flow (the default).
    List,
    /// One flow with its topics.
    Get { flow: String },
    /// Stop reading the flow; partitions keep their owners and positions.
    Pause { flow: String },
    /// Continue a paused flow where it stopped.
    Resume { flow: String },
}

/// Adds the bearer token to every call.
#[derive(Clone)]
struct Token(Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>);

impl tonic::service::Interceptor for Token {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

type Intercepted = InterceptedService<Channel, Token>;

struct Clients {
    cluster: ClusterClient<Intercepted>,
    config: ConfigClient<Intercepted>,
    flows: FlowsClient<Intercepted>,
    partitions: PartitionsClient<Intercepted>,
    offsets: OffsetsClient<Intercepted>,
    status: StatusClient<Intercepted>,
}

impl Connection {
    /// The TLS to connect with: none without `--tls-ca`; a client certificate with `--tls-cert`.
    pub fn client_tls(&self) -> Result<Option<tonic::transport::ClientTlsConfig>, String> {
        let read = |flag: &str, path: &std::path::Path| {
            std::fs::read(path).map_err(|e| format!("{flag} {}: {e}", path.display()))
        };
        let Some(ca) = &self.tls_ca else {
            if self.tls_cert.is_some() {
                return Err(
                    "--tls-cert needs --tls-ca (the CA the node's certificate is checked \
                            against)"
                        .to_owned(),
                );
            }
            return Ok(None);
        };
        let ca = read("--tls-ca", ca)?;
        let identity = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some((read("--tls-cert", cert)?, read("--tls-key", key)?)),
            _ => None,
        };
        Ok(Some(crate::cluster::tls::client_config(
            &ca,
            identity
                .as_ref()
                .map(|(cert, key)| (cert.as_slice(), key.as_slice())),
            None,
        )))
    }
}

async fn connect(connection: &Connection) -> Result<Clients, String> {
    let tls = connection.client_tls()?;
    let endpoint = crate::cluster::tls::endpoint(&connection.contact, tls.as_ref())
        .map_err(|e| {
            format!(
                "--contact {:?}: {}",
                connection.contact,
                crate::cluster::error_chain(&e)
            )
        })?
        .connect_timeout(std::time::Duration::from_secs(5));
    let channel = endpoint.connect().await.map_err(|e| {
        format!(
            "cannot reach {}: {}",
            connection.contact,
            crate::cluster::error_chain(&e)
        )
    })?;
    let token = Token(
        connection
            .token
            .as_ref()
            .map(|t| format!("Bearer {t}").parse())
            .transpose()
            .map_err(|_| "--token: not a valid header value".to_owned())?,
    );
    Ok(Clients {
        cluster: ClusterClient::with_interceptor(channel.clone(), token.clone()),
        config: ConfigClient::with_interceptor(channel.clone(), token.clone()),
        flows: FlowsClient::with_interceptor(channel.clone(), token.clone()),
        partitions: PartitionsClient::with_interceptor(channel.clone(), token.clone()),
        offsets: OffsetsClient::with_interceptor(channel.clone(), token.clone()),
        status: StatusClient::with_interceptor(channel, token),
    })
}

fn failed(status: tonic::Status) -> String {
    format!("{:?}: {}", status.code(), status.message())
}

/// The response of a call, or its status as the error to print.
async fn answer<T>(
    call: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Result<T, String> {
    call.await.map(tonic::Response::into_inner).map_err(failed)
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).expect("API responses serialize") + "\n"
}

fn offset(n: i64) -> String {
    if n < 0 {
        "-".to_owned()
    } else {
        n.to_string()
    }
}

fn millis(n: i64) -> String {
    match n {
        n if n < 0 => "-".to_owned(),
        n if n < 1000 => format!("{n}ms"),
        n => format!("{:.1}s", n as f64 / 1000.0),
    }
}

fn owner(n: u64) -> String {
    if n == 0 {
        "-".to_owned()
    } else {
        n.to_string()
    }
}

/// Runs one control command and returns what to print.
pub async fn run(connection: Connection, command: ControlCommand) -> Result<String, String> {
    let mut c = connect(&connection).await?;
    let as_json = connection.output == Output::Json;
    match command {
        ControlCommand::Status => {
            let cluster = answer(c.cluster.get_cluster(GetClusterRequest {})).await?;
            let flows = answer(c.flows.list_flows(ListFlowsRequest {})).await?;
            let first = answer(c.partitions.get_lag(GetLagRequest::default())).await?;
            // The catch-up rate: how far the positions moved in a second.
            let window = std::time::Duration::from_secs(1);
            tokio::time::sleep(window).await;
            let lag = answer(c.partitions.get_lag(GetLagRequest::default())).await?;
            if as_json {
                #[derive(Serialize)]
                struct StatusOut {
                    cluster: GetClusterResponse,
                    flows: ListFlowsResponse,
                    lag: GetLagResponse,
                }
                return Ok(json(&StatusOut {
                    cluster,
                    flows,
                    lag,
                }));
            }
            let mut out = format!(
                "cluster {}: leader {}, term {}, commit {}, config version {} (answered by node {})\n\n",
                cluster.cluster_id,
                owner(cluster.leader_id),
                cluster.term,
                cluster.commit_index,
                cluster.config_version,
                cluster.answered_by
            );
            out.push_str(&nodes_table(&cluster.nodes));
            let node = answer(c.status.get_node_status(GetNodeStatusRequest {})).await?;
            out.push_str(&node_problems(&node));
            out.push('\n');
            let rows: Vec<Vec<String>> = flows
                .flows
                .iter()
                .map(|f| {
                    let lags: Vec<&PartitionLag> =
                        lag.partitions.iter().filter(|p| p.flow == f.name).collect();
                    let known = lags.iter().filter(|p| p.offset_lag >= 0).count();
                    let behind: i64 = lags.iter().map(|p| p.offset_lag.max(0)).sum();
                    let worst = lags.iter().map(|p| p.time_lag_ms).max().unwrap_or(-1);
                    let moved: i64 = lags
                        .iter()
                        .filter_map(|p| {
                            let before = first.partitions.iter().find(|b| {
                                (&b.topic, b.partition) == (&p.topic, p.partition)
                                    && b.flow == p.flow
                            })?;
                            (before.next_source_offset >= 0 && p.next_source_offset >= 0)
                                .then(|| p.next_source_offset - before.next_source_offset)
                        })
                        .sum();
                    let unknown = lags.iter().filter(|p| p.offset_lag < 0).count();
                    let eta = crate::progress::eta_secs(
                        behind as u64,
                        moved.max(0) as f64 / window.as_secs_f64(),
                        unknown,
                    );
                    vec![
                        f.name.clone(),
                        if f.paused { "paused" } else { "running" }.to_owned(),
                        f.topic_count.to_string(),
                        f.partition_count.to_string(),
                        f.unowned_partitions.to_string(),
                        if known == 0 && !lags.is_empty() {
                            "-".to_owned()
                        } else {
                            behind.to_string()
                        },
                        millis(worst),
                        eta,
                    ]
                })
                .collect();
            out.push_str(&render(
                &[
                    "FLOW",
                    "STATE",
                    "TOPICS",
                    "PARTITIONS",
                    "UNOWNED",
                    "RECORDS BEHIND",
                    "MAX TIME LAG",
                    "CATCH-UP ETA",
                ],
                &rows,
            ));
            out.push_str(&skipped_lines(&lag.partitions));
            Ok(out)
        }
        ControlCommand::Nodes => {
            let cluster = answer(c.cluster.get_cluster(GetClusterRequest {})).await?;
            if as_json {
                return Ok(json(&cluster));
            }
            Ok(nodes_table(&cluster.nodes))
        }
        ControlCommand::Flows { action } => match action.unwrap_or(FlowAction::List) {
            FlowAction::List => {
                let flows = answer(c.flows.list_flows(ListFlowsRequest {})).await?;
                if as_json {
                    return Ok(json(&flows));
                }
                Ok(flows_table(&flows.flows))
            }
            FlowAction::Get { flow } => {
                let response = answer(c.flows.get_flow(GetFlowRequest { flow })).await?;
                if as_json {
                    return Ok(json(&response));
                }
                let flow = response.flow.unwrap_or_default();
                let mut out = flows_table(std::slice::from_ref(&flow));
                out.push('\n');
                let rows: Vec<Vec<String>> = flow
                    .topics
                    .iter()
                    .map(|t| {
                        vec![
                            t.topic.clone(),
                            t.remote_topic.clone(),
                            t.partitions.to_string(),
                        ]
                    })
                    .collect();
                out.push_str(&render(&["TOPIC", "REMOTE TOPIC", "PARTITIONS"], &rows));
                Ok(out)
            }
            FlowAction::Pause { flow } => {
                let response =
                    answer(c.flows.pause_flow(PauseFlowRequest { flow: flow.clone() })).await?;
                if as_json {
                    return Ok(json(&response));
                }
                Ok(format!("flow {flow} paused\n"))
            }
            FlowAction::Resume { flow } => {
                let response = answer(
                    c.flows
                        .resume_flow(ResumeFlowRequest { flow: flow.clone() }),
                )
                .await?;
                if as_json {
                    return Ok(json(&response));
                }
                Ok(format!("flow {flow} resumed\n"))
            }
        },
        ControlCommand::Assignments { flow, topic, node } => {
            let mut all = Vec::new();
            let mut page_token = String::new();
            loop {
                let page = answer(c.partitions.list_assignments(ListAssignmentsRequest {
                    flow: flow.clone().unwrap_or_default(),
                    topic: topic.clone().unwrap_or_default(),
                    node_id: node.unwrap_or(0),
                    page_size: 1000,
                    page_token,
                }))
                .await?;
                all.extend(page.assignments);
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            if as_json {
                return Ok(json(&ListAssignmentsResponse {
                    assignments: all,
                    next_page_token: String::new(),
                }));
            }
            let rows: Vec<Vec<String>> = all
                .iter()
                .map(|a| {
                    vec![
                        a.flow.clone(),
                        a.topic.clone(),
                        a.partition.to_string(),
                        a.remote_topic.clone(),
                        owner(a.owner),
                        a.epoch.to_string(),
                        offset(a.next_source_offset),
                        owner(a.releasing),
                    ]
                })
                .collect();
            Ok(render(
                &[
                    "FLOW",
                    "TOPIC",
                    "PARTITION",
                    "REMOTE TOPIC",
                    "OWNER",
                    "EPOCH",
                    "POSITION",
                    "RELEASING",
                ],
                &rows,
            ))
        }
        ControlCommand::Lag { flow, topic } => {
            let lag = answer(c.partitions.get_lag(GetLagRequest {
                flow: flow.unwrap_or_default(),
                topic: topic.unwrap_or_default(),
            }))
            .await?;
            if as_json {
                return Ok(json(&lag));
            }
            let rows: Vec<Vec<String>> = lag
                .partitions
                .iter()
                .map(|p| {
                    vec![
                        p.flow.clone(),
                        p.topic.clone(),
                        p.partition.to_string(),
                        owner(p.owner),
                        offset(p.source_end_offset),
                        offset(p.next_source_offset),
                        offset(p.offset_lag),
                        millis(p.time_lag_ms),
                        p.state.clone(),
                    ]
                })
                .collect();
            let mut out = render(
                &[
                    "FLOW",
                    "TOPIC",
                    "PARTITION",
                    "OWNER",
                    "END",
                    "POSITION",
                    "LAG",
                    "TIME LAG",
                    "STATE",
                ],
                &rows,
            );
            out.push_str(&format!(
                "\ntotal: {} records behind{}\n",
                lag.total_offset_lag,
                if lag.unreported > 0 {
                    format!(" ({} partitions unreported)", lag.unreported)
                } else {
                    String::new()
                }
            ));
            out.push_str(&skipped_lines(&lag.partitions));
            Ok(out)
        }
        ControlCommand::Drain { node, timeout } => {
            let response = answer(c.cluster.drain_node(DrainNodeRequest {
                node_id: node,
                timeout_seconds: timeout.unwrap_or(0),
            }))
            .await?;
            if as_json {
                return Ok(json(&response));
            }
            if response.drained {
                Ok(format!(
                    "node {node} drained ({} partitions moved away)\n",
                    response.held_at_start
                ))
            } else {
                Err(format!(
                    "node {node} still holds {} partitions (the drain stays in force; check \
                     `strait assignments --node {node}`)",
                    response.remaining_partitions
                ))
            }
        }
        ControlCommand::Undrain { node } => {
            let response =
                answer(c.cluster.undrain_node(UndrainNodeRequest { node_id: node })).await?;
            if as_json {
                return Ok(json(&response));
            }
            Ok(format!("node {node} takes partitions again\n"))
        }
        ControlCommand::Move {
            flow,
            topic,
            partition,
            node,
        } => {
            let response = answer(c.partitions.move_partition(MovePartitionRequest {
                flow,
                topic,
                partition,
                node_id: node,
            }))
            .await?;
            if as_json {
                return Ok(json(&response));
            }
            let a = response.assignment.unwrap_or_default();
            Ok(format!(
                "{} {}-{} now on node {} (epoch {})\n",
                a.flow, a.topic, a.partition, a.owner, a.epoch
            ))
        }
        ControlCommand::AddNode { node, address } => {
            let response = answer(c.cluster.add_node(AddNodeRequest {
                node_id: node,
                address,
            }))
            .await?;
            if as_json {
                return Ok(json(&response));
            }
            Ok(nodes_table(&response.nodes))
        }
        ControlCommand::RemoveNode { node } => {
            let response =
                answer(c.cluster.remove_node(RemoveNodeRequest { node_id: node })).await?;
            if as_json {
                return Ok(json(&response));
            }
            let removed = crate::cluster::Removed {
                partitions_moved: usize::try_from(response.partitions_moved).unwrap_or(usize::MAX),
                was_voter: response.was_voter,
                voters: response.voters,
                moved_to: response.moved_to,
            };
            Ok(format!("{}\n", removed.describe(node)))
        }
        ControlCommand::Translate {
            flow,
            group,
            offset: offsets,
        } => {
            let offsets = offsets
                .iter()
                .map(|o| parse_source_offset(o))
                .collect::<Result<Vec<_>, _>>()?;
            let response = answer(c.offsets.translate_offsets(TranslateOffsetsRequest {
                flow,
                group: group.unwrap_or_default(),
                offsets,
            }))
            .await?;
            if as_json {
                return Ok(json(&response));
            }
            let rows: Vec<Vec<String>> = response
                .offsets
                .iter()
                .map(|o| {
                    vec![
                        o.topic.clone(),
                        o.partition.to_string(),
                        o.source_offset.to_string(),
                        o.remote_topic.clone(),
                        offset(o.target_offset),
                        o.method.clone(),
                    ]
                })
                .collect();
            Ok(render(
                &[
                    "TOPIC",
                    "PARTITION",
                    "SOURCE OFFSET",
                    "REMOTE TOPIC",
                    "TARGET OFFSET",
                    "HOW",
                ],
                &rows,
            ))
        }
        ControlCommand::Config {
            action: ConfigAction::Show,
        } => {
            let response = answer(c.config.get_config(GetConfigRequest {})).await?;
            if as_json {
                return Ok(json(&response));
            }
            Ok(format!(
                "# configuration version {} (from node {}, answered by node {}); secret values \
                 masked\n{}",
                response.version, response.origin_node, response.answered_by, response.content
            ))
        }
        ControlCommand::Config {
            action:
                ConfigAction::Apply {
                    file,
                    expected_version,
                    dry_run,
                },
        } => {
            let (format, content) = read_config(&file)?;
            let response = answer(c.config.apply_config(ApplyConfigRequest {
                content,
                format: format.to_owned(),
                expected_version: expected_version.unwrap_or(0),
                dry_run,
            }))
            .await?;
            if as_json {
                return Ok(json(&response));
            }
            Ok(applied_config(&response))
        }
        ControlCommand::Watch => {
            let mut stream = answer(c.status.watch_status(WatchStatusRequest {})).await?;
            use std::io::Write;
            let mut stdout = std::io::stdout();
            while let Some(event) = stream.message().await.map_err(failed)? {
                let line = if as_json {
                    serde_json::to_string(&event).expect("events serialize")
                } else {
                    describe_event(&event)
                };
                let _ = writeln!(stdout, "{line}");
                let _ = stdout.flush();
            }
            Ok(String::new())
        }
    }
}

/// A configuration file's format (by its extension, as the node reads it) and text (a
/// `.properties` file that is not UTF-8 read as ISO-8859-1, as Java does).
fn read_config(file: &std::path::Path) -> Result<(&'static str, String), String> {
    let format = match strait_config::Format::of_path(file) {
        Some(strait_config::Format::Toml) => "toml",
        Some(strait_config::Format::Properties) => "properties",
        None => {
            return Err(format!(
                "{}: expected a `.toml` or `.properties` (mm2.properties) file",
                file.display()
            ))
        }
    };
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) if format == "properties" => e.into_bytes().iter().map(|&b| char::from(b)).collect(),
        Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
    };
    Ok((format, text))
}

/// What `config apply` did, for people.
fn applied_config(response: &ApplyConfigResponse) -> String {
    let (version, previous) = (response.version, response.previous_version);
    let mut out = if response.unchanged {
        format!("unchanged: the cluster's configuration version {version} already means the same\n")
    } else if response.dry_run {
        format!("dry run: would make configuration version {version} (now {previous}), nothing applied\n")
    } else {
        format!(
            "configuration version {version} applied (was {previous}): every node switches to it\n"
        )
    };
    if !response.changes.is_empty() {
        let rows: Vec<Vec<String>> = response
            .changes
            .iter()
            .flat_map(|c| {
                let item = vec![c.kind.clone(), c.name.clone(), c.change.clone()];
                if c.settings.is_empty() {
                    return vec![[item, vec![String::new(); 3]].concat()];
                }
                c.settings
                    .iter()
                    .map(|s| {
                        let value = |v: &str| {
                            if v.is_empty() {
                                "-".to_owned()
                            } else {
                                v.to_owned()
                            }
                        };
                        [
                            item.clone(),
                            vec![s.key.clone(), value(&s.old_value), value(&s.new_value)],
                        ]
                        .concat()
                    })
                    .collect()
            })
            .collect();
        out.push('\n');
        out.push_str(&render(
            &["KIND", "NAME", "CHANGE", "SETTING", "OLD", "NEW"],
            &rows,
        ));
    }
    for note in &response.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    out
}

fn parse_source_offset(text: &str) -> Result<SourceOffset, String> {
    let bad = || format!("--offset {text:?}: expected TOPIC:PARTITION:OFFSET");
    let mut parts = text.rsplitn(3, ':');
    let (Some(offset), Some(partition), Some(topic)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    Ok(SourceOffset {
        topic: topic.to_owned(),
        partition: partition.parse().map_err(|_| bad())?,
        offset: offset.parse().map_err(|_| bad())?,
    })
}

/// One line per partition whose owner passed over source records without replicating them.
fn skipped_lines(partitions: &[PartitionLag]) -> String {
    let mut out = String::new();
    for p in partitions.iter().filter(|p| p.records_skipped > 0) {
        out.push_str(&format!(
            "{} {}-{}: {} source records skipped, never replicated (last: offsets {}..{}, \
             deleted from the source before they were copied)\n",
            p.flow, p.topic, p.partition, p.records_skipped, p.skipped_from, p.skipped_to
        ));
    }
    if !out.is_empty() {
        out.insert(0, '\n');
    }
    out
}

/// What the answering node reports against itself: peers it cannot reach, a configuration file
/// that differs from the cluster's version. Empty when there is nothing to say.
fn node_problems(node: &GetNodeStatusResponse) -> String {
    let mut out = String::new();
    for peer in &node.unreachable_peers {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
            .saturating_sub(peer.since_unix_ms)
            / 1000;
        out.push_str(&format!(
            "node {} cannot reach node {} at {} for {since} s ({} failed deliveries): {}\n",
            node.node_id, peer.node_id, peer.address, peer.failures, peer.last_error
        ));
    }
    if !node.config_note.is_empty() {
        out.push_str(&format!("node {}: {}\n", node.node_id, node.config_note));
    }
    for p in node.partitions.iter().filter(|p| p.state == "backing_off") {
        out.push_str(&format!(
            "node {}: {} {}-{} backing off after {} restarts at position {}: {}\n",
            node.node_id,
            p.flow,
            p.topic,
            p.partition,
            p.restarts,
            offset(p.next_source_offset),
            p.last_error
        ));
    }
    out
}

fn nodes_table(nodes: &[ClusterNode]) -> String {
    let rows: Vec<Vec<String>> = nodes
        .iter()
        .map(|n| {
            vec![
                n.node_id.to_string(),
                n.address.clone(),
                n.role.clone(),
                if n.alive { "alive" } else { "dead" }.to_owned(),
                if n.draining { "yes" } else { "no" }.to_owned(),
                n.partitions.to_string(),
            ]
        })
        .collect();
    render(
        &[
            "NODE",
            "ADDRESS",
            "ROLE",
            "LIVENESS",
            "DRAINING",
            "PARTITIONS",
        ],
        &rows,
    )
}

fn flows_table(flows: &[Flow]) -> String {
    let rows: Vec<Vec<String>> = flows
        .iter()
        .map(|f| {
            vec![
                f.name.clone(),
                if f.paused { "paused" } else { "running" }.to_owned(),
                f.topics_include.join(","),
                f.topic_count.to_string(),
                f.partition_count.to_string(),
                f.unowned_partitions.to_string(),
            ]
        })
        .collect();
    render(
        &[
            "FLOW",
            "STATE",
            "TOPICS",
            "TOPIC COUNT",
            "PARTITIONS",
            "UNOWNED",
        ],
        &rows,
    )
}

fn describe_event(event: &StatusEvent) -> String {
    let what = match &event.event {
        Some(Event::Snapshot(s)) => format!(
            "snapshot: node {} ({}), leader {}, {} nodes, {} partitions",
            s.node_id,
            s.raft_role,
            owner(s.leader_id),
            s.nodes.len(),
            s.assignments.len()
        ),
        Some(Event::LeaderChanged(l)) => {
            format!("leader is now {} (term {})", owner(l.leader_id), l.term)
        }
        Some(Event::NodeChanged(n)) => format!("node {} {} ({})", n.node_id, n.change, n.address),
        Some(Event::AssignmentChanged(a)) => format!(
            "{} {}-{} moved {} -> {} (epoch {})",
            a.flow,
            a.topic,
            a.partition,
            owner(a.from_node),
            owner(a.to_node),
            a.epoch
        ),
        Some(Event::FlowChanged(f)) => format!("flow {} {}", f.flow, f.change),
        Some(Event::PartitionError(e)) if e.error.is_empty() => format!(
            "{} {}-{} on node {}: error cleared",
            e.flow, e.topic, e.partition, e.node_id
        ),
        Some(Event::PartitionError(e)) => format!(
            "{} {}-{} on node {}: {}",
            e.flow, e.topic, e.partition, e.node_id, e.error
        ),
        Some(Event::ConfigChanged(c)) => format!(
            "configuration version {} (from node {})",
            c.version, c.origin_node
        ),
        None => "unknown event".to_owned(),
    };
    format!("[{}] {what}", event.applied_index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_applied_configuration_lists_each_changed_setting() {
        let response = ApplyConfigResponse {
            version: 3,
            previous_version: 2,
            changes: vec![
                ConfigChange {
                    kind: "flow".to_owned(),
                    name: "A->B".to_owned(),
                    change: "changed".to_owned(),
                    settings: vec![SettingChange {
                        key: "topics".to_owned(),
                        old_value: r#"["a"]"#.to_owned(),
                        new_value: r#"["a", "b"]"#.to_owned(),
                    }],
                },
                ConfigChange {
                    kind: "flow".to_owned(),
                    name: "B->A".to_owned(),
                    change: "added".to_owned(),
                    settings: Vec::new(),
                },
            ],
            notes: vec!["node settings ([node] and [cluster]) are not applied".to_owned()],
            ..Default::default()
        };
        let out = applied_config(&response);
        assert!(
            out.starts_with("configuration version 3 applied (was 2)"),
            "{out}"
        );
        assert!(
            out.contains(r#"flow  A->B  changed  topics   ["a"]  ["a", "b"]"#),
            "{out}"
        );
        assert!(out.contains("flow  B->A  added\n"), "{out}");
        assert!(out.ends_with("note: node settings ([node] and [cluster]) are not applied\n"));
        let unchanged = applied_config(&ApplyConfigResponse {
            version: 2,
            previous_version: 2,
            unchanged: true,
            ..Default::default()
        });
        assert!(unchanged.starts_with("unchanged:"), "{unchanged}");
    }

    #[test]
    fn source_offsets_parse() {
        let o = parse_source_offset("orders.v1:3:42").unwrap();
        assert_eq!(
            (o.topic.as_str(), o.partition, o.offset),
            ("orders.v1", 3, 42)
        );
        assert!(parse_source_offset("orders:x:1").is_err());
        assert!(parse_source_offset("orders:1").is_err());
    }
}
