//! The `strait` control commands: a thin client over the `strait.v1` API of any node, printing
//! tables by default and the API's responses as JSON with `--output json`.

pub mod cutover;
mod table;
pub mod verify;

use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use std::time::Duration;
use strait_proto::v1::cluster_client::ClusterClient;
use strait_proto::v1::config_client::ConfigClient;
use strait_proto::v1::cutover_client::CutoverClient;
use strait_proto::v1::flows_client::FlowsClient;
use strait_proto::v1::offsets_client::OffsetsClient;
use strait_proto::v1::partitions_client::PartitionsClient;
use strait_proto::v1::status_client::StatusClient;
use strait_proto::v1::status_event::Event;
use strait_proto::v1::verify_client::VerifyClient;
use strait_proto::v1::*;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use table::render;

/// Where and how to reach the cluster; shared by every control command.
#[derive(Args, Debug, Clone)]
pub struct Connection {
    /// Nodes to ask, `host:port` separated by commas, tried in turn: the first that answers is
    /// used. Default: a single node on its default cluster port. The demo's nodes are at
    /// 127.0.0.1:7071,127.0.0.1:7072,127.0.0.1:7073.
    #[arg(
        long,
        global = true,
        env = "STRAIT_CONTACT",
        default_value = DEFAULT_CONTACT,
        value_name = "HOST:PORT[,HOST:PORT...]"
    )]
    pub contact: String,
    /// How long to wait for a node to answer (connect, then each call): `5s`, `1500ms`, `1m`, or
    /// seconds. Calls that wait by design get their waiting on top (`status`'s one-second sample,
    /// a drain's `--wait`, a change's commit through Raft); `watch` applies it to connecting and
    /// to its first event.
    #[arg(
        long,
        global = true,
        env = "STRAIT_TIMEOUT",
        default_value = "5s",
        value_parser = parse_timeout,
        value_name = "DURATION"
    )]
    pub timeout: Duration,
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

/// The contact when none is given: a single node on the default cluster port.
pub const DEFAULT_CONTACT: &str = "127.0.0.1:7070";
/// Where `scripts/demo.sh` runs its three nodes (said when nothing listens at a contact).
const DEMO_CONTACTS: &str = "127.0.0.1:7071,127.0.0.1:7072,127.0.0.1:7073";

/// `--timeout`: `5s`, `1500ms`, `2m`, or a number of seconds.
fn parse_timeout(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a duration such as 5s, 1500ms or 1m"))?;
    let secs = match unit.trim() {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        other => return Err(format!("{text:?}: unknown unit {other:?} (use ms, s or m)")),
    };
    if !(secs > 0.0 && secs <= 3600.0) {
        return Err(format!("{text:?}: must be more than 0 and at most 1 hour"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A contact must be `HOST:PORT` (an IPv6 address in brackets), with a port.
fn check_contact(contact: &str) -> Result<(), String> {
    if contact.contains("://") {
        return Err(format!(
            "--contact {contact}: give HOST:PORT without a scheme, e.g. 127.0.0.1:7071"
        ));
    }
    let (host, port) = match contact.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((host, after)) => (host, after.strip_prefix(':')),
            None => {
                return Err(format!(
                    "--contact {contact}: unclosed [ of an IPv6 address"
                ))
            }
        },
        None => match contact.rsplit_once(':') {
            Some((host, _)) if host.contains(':') => {
                return Err(format!(
                    "--contact {contact}: an IPv6 address goes in brackets, e.g. [{contact}]:7071"
                ))
            }
            Some((host, port)) => (host, Some(port)),
            None => (contact, None),
        },
    };
    if host.is_empty() {
        return Err(format!(
            "--contact {contact}: missing host, e.g. 127.0.0.1{contact}"
        ));
    }
    match port {
        None => Err(format!(
            "--contact {contact}: missing port, e.g. {contact}:7071"
        )),
        Some("") => Err(format!(
            "--contact {contact:?}: missing port after the colon, e.g. {contact}7071"
        )),
        Some(port) => match port.parse::<u16>() {
            Ok(p) if p > 0 => Ok(()),
            _ => Err(format!(
                "--contact {contact}: {port:?} is not a port (1 to 65535)"
            )),
        },
    }
}

/// A `Duration` as people write it: `5s`, `1.5s`, `250ms`.
fn human(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
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
        /// Seconds to wait for the node to hold no partition (default 60, at most 600); the drain
        /// stays in force after it.
        #[arg(long, value_name = "SECONDS")]
        wait: Option<u32>,
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
    /// Prove the copy: compare a flow's source and target record for record (key, value,
    /// headers, timestamp) through the offset map, each partition on the node that owns it. Exit
    /// code 0: verified; 1: mismatches (the first per partition is shown with both offsets); 2:
    /// some partition could not be verified.
    Verify(verify::VerifyArgs),
    /// Move consumer groups from a flow's source to its target in one step (the migration
    /// moment, after the producers were stopped): waits until everything is replicated and the
    /// source is quiet, pauses the flow, commits each group's translated offsets into the target
    /// group, verifies the groups' topics, and prints a report. Every step is idempotent: run it
    /// again after an interruption. Exit code 0: moved and verified; 1: moved, mismatches found;
    /// 2: not moved.
    Cutover(cutover::CutoverArgs),
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
    /// Limit the flow's rate for the whole cluster (every node applies its share, in proportion
    /// to the flow's partitions it owns, within a second); `--clear` gives it back to the limit in
    /// the flow's configuration.
    Throttle {
        flow: String,
        /// Records per second (0: unlimited).
        #[arg(long, default_value_t = 0, value_name = "N")]
        records_per_sec: u64,
        /// Bytes (keys, values, headers) per second (0: unlimited).
        #[arg(long, default_value_t = 0, value_name = "BYTES")]
        bytes_per_sec: u64,
        /// Forget the operator's limit: the configuration's applies again.
        #[arg(long, conflicts_with_all = ["records_per_sec", "bytes_per_sec"])]
        clear: bool,
    },
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
    verify: VerifyClient<Intercepted>,
    cutover: CutoverClient<Intercepted>,
}

impl Connection {
    /// `--contact`'s nodes, each checked to be `HOST:PORT`.
    pub fn contacts(&self) -> Result<Vec<String>, String> {
        let contacts: Vec<String> = self
            .contact
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect();
        if contacts.is_empty() {
            return Err(format!(
                "--contact is empty: give HOST:PORT, e.g. {DEFAULT_CONTACT}, or several \
                 separated by commas"
            ));
        }
        for contact in &contacts {
            check_contact(contact)?;
        }
        Ok(contacts)
    }

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

/// Why a contact could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    /// The connection was refused: nothing listens there.
    Refused,
    /// Connecting failed otherwise (no route, name not resolved, TLS refused...).
    Unreachable(String),
    /// Connected, but no answer came within the deadline.
    NoAnswer(Duration),
    /// Something answered that does not speak `strait.v1`.
    NotStrait(String),
    /// The connection broke during the call.
    Lost(String),
}

impl Failure {
    /// What to tell the user, with what to do about it.
    fn describe(&self, contact: &str) -> String {
        match self {
            Self::Refused => format!(
                "nothing listens on {contact}; is the node running? the demo's nodes are at \
                 {DEMO_CONTACTS} (--contact or STRAIT_CONTACT take several, comma-separated)"
            ),
            Self::Unreachable(reason) => format!("cannot reach {contact}: {reason}"),
            Self::NoAnswer(limit) => format!(
                "no answer from {contact} within {} (the node may be frozen or overloaded); try \
                 another node with --contact a,b,c or raise --timeout",
                human(*limit)
            ),
            Self::NotStrait(detail) => format!(
                "{contact} answered but is not a Strait node ({detail}); give a node's cluster \
                 port (`[cluster] listen`)"
            ),
            Self::Lost(reason) => format!(
                "{contact} closed the connection without a gRPC answer (not a Strait node, or \
                 one stopping): {reason}"
            ),
        }
    }
}

/// A failed connection attempt, from the errors tonic wraps.
fn connect_failure(error: &tonic::transport::Error) -> Failure {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return Failure::Refused;
            }
        }
        source = e.source();
    }
    Failure::Unreachable(crate::cluster::error_chain(error))
}

/// A failed call that never reached a Strait service: the connection broke, or what answered does
/// not speak gRPC (an HTTP/1 server, a Kafka broker). `None` for a status a server sent, which is
/// the answer to show.
fn transport_failure(status: &tonic::Status) -> Option<Failure> {
    // Statuses decoded from a server's answer carry no source; tonic's own (transport, h2
    // protocol, decoding) do.
    let source = std::error::Error::source(status)?;
    let mut chain = status.message().to_owned();
    let mut next = Some(source);
    while let Some(e) = next {
        let text = e.to_string();
        if !chain.contains(&text) {
            chain.push_str(": ");
            chain.push_str(&text);
        }
        next = e.source();
    }
    let lower = chain.to_lowercase();
    let broke = [
        "connection reset",
        "broken pipe",
        "connection closed",
        "unexpected eof",
    ]
    .iter()
    .any(|s| lower.contains(s));
    if broke && !lower.contains("protocol") && !lower.contains("frame") {
        Some(Failure::Lost(chain))
    } else {
        Some(Failure::NotStrait(chain))
    }
}

/// The status's code and message, as the error to print.
fn failed(status: tonic::Status) -> String {
    format!("{:?}: {}", status.code(), status.message())
}

/// Waiting a node's work adds to `--timeout`: its own proposal timeout for a change committed
/// through Raft, and the time it gives other nodes for their status (lag).
const COMMIT_ALLOWANCE: Duration = Duration::from_secs(5);
const FAN_OUT_ALLOWANCE: Duration = Duration::from_secs(3);
/// A membership change commits two entries (registration or removal, and the voter change).
const MEMBERSHIP_ALLOWANCE: Duration = Duration::from_secs(15);
/// `translate --group` reads the group's offsets from the source cluster (10 s at most).
const GROUP_ALLOWANCE: Duration = Duration::from_secs(10);
/// A drain's default wait, as the node applies it (`DrainNode.timeout_seconds` 0).
const DRAIN_WAIT_DEFAULT: u32 = 60;

/// Calls on the contact in use, each within `--timeout` (plus what the call waits by design).
#[derive(Clone)]
struct Deadline {
    contact: String,
    timeout: Duration,
}

impl Deadline {
    /// The response of a call, or what to print: the node's status, or why it did not answer.
    async fn within<T>(
        &self,
        extra: Duration,
        call: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, String> {
        let limit = self.timeout + extra;
        match tokio::time::timeout(limit, call).await {
            Ok(Ok(response)) => Ok(response.into_inner()),
            // The node answered the first call: a transport failure now is a broken connection.
            Ok(Err(status)) => Err(match transport_failure(&status) {
                Some(_) => broken(&self.contact, &status),
                None => failed(status),
            }),
            Err(_) => Err(Failure::NoAnswer(limit).describe(&self.contact)),
        }
    }

    /// A read: answered from the node's state at once.
    async fn read<T>(
        &self,
        call: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, String> {
        self.within(Duration::ZERO, call).await
    }

    /// A change: answered once committed through Raft.
    async fn change<T>(
        &self,
        call: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, String> {
        self.within(COMMIT_ALLOWANCE, call).await
    }
}

/// The node in use: its clients, the deadline of calls to it, and its first answer.
struct Session {
    clients: Clients,
    deadline: Deadline,
    cluster: GetClusterResponse,
}

/// The clients of one contact, once it answered `GetCluster` within the deadline (a frozen node
/// or a port that is not Strait's is found out here, before any change is sent).
async fn open(
    connection: &Connection,
    contact: &str,
    tls: Option<&tonic::transport::ClientTlsConfig>,
    token: &Token,
) -> Result<Session, Refusal> {
    let timeout = connection.timeout;
    let endpoint = crate::cluster::tls::endpoint(contact, tls)
        .map_err(|e| Refusal::Next(Failure::Unreachable(crate::cluster::error_chain(&e))))?
        .connect_timeout(timeout)
        // A node that stops answering (frozen, or gone without closing the connection) fails
        // the calls under way, and `watch` reconnects.
        .http2_keep_alive_interval(KEEP_ALIVE)
        .keep_alive_timeout(timeout)
        .keep_alive_while_idle(true);
    let channel = match tokio::time::timeout(timeout, endpoint.connect()).await {
        Ok(Ok(channel)) => channel,
        Ok(Err(e)) => return Err(Refusal::Next(connect_failure(&e))),
        Err(_) => return Err(Refusal::Next(Failure::NoAnswer(timeout))),
    };
    let mut clients = Clients {
        cluster: ClusterClient::with_interceptor(channel.clone(), token.clone()),
        config: ConfigClient::with_interceptor(channel.clone(), token.clone()),
        flows: FlowsClient::with_interceptor(channel.clone(), token.clone()),
        partitions: PartitionsClient::with_interceptor(channel.clone(), token.clone()),
        offsets: OffsetsClient::with_interceptor(channel.clone(), token.clone()),
        status: StatusClient::with_interceptor(channel.clone(), token.clone()),
        verify: VerifyClient::with_interceptor(channel.clone(), token.clone()),
        cutover: CutoverClient::with_interceptor(channel, token.clone()),
    };
    let probe = clients.cluster.get_cluster(GetClusterRequest {});
    let cluster = match tokio::time::timeout(timeout, probe).await {
        Ok(Ok(response)) => response.into_inner(),
        Ok(Err(status)) if status.code() == tonic::Code::Unimplemented => {
            let mut detail = "no strait.v1.Cluster service".to_owned();
            if !status.message().is_empty() {
                detail = format!("{detail}: {}", status.message());
            }
            return Err(Refusal::Next(Failure::NotStrait(detail)));
        }
        Ok(Err(status)) => {
            return Err(match transport_failure(&status) {
                Some(failure) => Refusal::Next(failure),
                // A Strait node's refusal (a missing token...): the answer every node would give.
                None => Refusal::Final(failed(status)),
            });
        }
        Err(_) => return Err(Refusal::Next(Failure::NoAnswer(timeout))),
    };
    Ok(Session {
        clients,
        deadline: Deadline {
            contact: contact.to_owned(),
            timeout,
        },
        cluster,
    })
}

/// Why a contact is not used: try the next one, or stop with this answer.
enum Refusal {
    Next(Failure),
    Final(String),
}

/// The first of `--contact`'s nodes that answers `GetCluster`, tried in turn from `first` (and
/// around), or every contact's failure.
async fn connect(connection: &Connection, first: usize) -> Result<(Session, usize), String> {
    let contacts = connection.contacts()?;
    let tls = connection.client_tls()?;
    let token = Token(
        connection
            .token
            .as_ref()
            .map(|t| format!("Bearer {t}").parse())
            .transpose()
            .map_err(|_| "--token: not a valid header value".to_owned())?,
    );
    let mut failures = Vec::new();
    for i in (0..contacts.len()).map(|i| (first + i) % contacts.len()) {
        let contact = &contacts[i];
        match open(connection, contact, tls.as_ref(), &token).await {
            Ok(session) => return Ok((session, i)),
            Err(Refusal::Final(answer)) => return Err(answer),
            Err(Refusal::Next(failure)) => failures.push((contact.as_str(), failure)),
        }
    }
    Err(all_failed(&failures))
}

/// Why no contact could be used: the one failure, or a line per contact.
fn all_failed(failures: &[(&str, Failure)]) -> String {
    match failures {
        [(contact, failure)] => failure.describe(contact),
        _ => {
            let mut out = format!("none of the {} contacts answered:", failures.len());
            for (contact, failure) in failures {
                out.push_str("\n  ");
                out.push_str(&failure.describe(contact));
            }
            out
        }
    }
}

/// How often an idle connection is checked with an HTTP/2 ping.
const KEEP_ALIVE: Duration = Duration::from_secs(5);

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
    let as_json = connection.output == Output::Json;
    if let ControlCommand::Watch = command {
        return watch(&connection, as_json).await;
    }
    let (session, _) = connect(&connection, 0).await?;
    let Session {
        clients: mut c,
        deadline: d,
        cluster: probed,
    } = session;
    match command {
        ControlCommand::Status => {
            let cluster = probed;
            let flows = d.read(c.flows.list_flows(ListFlowsRequest {})).await?;
            let first = d
                .within(
                    FAN_OUT_ALLOWANCE,
                    c.partitions.get_lag(GetLagRequest::default()),
                )
                .await?;
            // The catch-up rate: how far the positions moved in a second.
            let window = std::time::Duration::from_secs(1);
            tokio::time::sleep(window).await;
            let lag = d
                .within(
                    FAN_OUT_ALLOWANCE,
                    c.partitions.get_lag(GetLagRequest::default()),
                )
                .await?;
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
            out.push_str(&quorum_line(&cluster));
            out.push_str(&nodes_table(&cluster.nodes));
            let node = d
                .read(c.status.get_node_status(GetNodeStatusRequest {}))
                .await?;
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
                    let no_quorum = !cluster.quorum || lags.iter().any(|p| p.state == "no_quorum");
                    // A paused flow, or one whose owners lost the quorum, does not catch up.
                    let eta = if f.paused {
                        "paused".to_owned()
                    } else if no_quorum {
                        "no quorum".to_owned()
                    } else {
                        crate::progress::eta_secs(
                            behind as u64,
                            moved.max(0) as f64 / window.as_secs_f64(),
                            unknown,
                        )
                    };
                    vec![
                        f.name.clone(),
                        if f.paused {
                            "paused"
                        } else if no_quorum {
                            "no quorum"
                        } else {
                            "running"
                        }
                        .to_owned(),
                        f.topic_count.to_string(),
                        f.partition_count.to_string(),
                        f.unowned_partitions.to_string(),
                        records_behind(behind, known, unknown),
                        millis(worst),
                        throttle_text(f),
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
                    "RATE LIMIT",
                    "CATCH-UP ETA",
                ],
                &rows,
            ));
            out.push_str(&skipped_lines(&lag.partitions));
            Ok(out)
        }
        ControlCommand::Nodes => {
            let cluster = probed;
            if as_json {
                return Ok(json(&cluster));
            }
            Ok(quorum_line(&cluster) + &nodes_table(&cluster.nodes))
        }
        ControlCommand::Flows { action } => match action.unwrap_or(FlowAction::List) {
            FlowAction::List => {
                let flows = d.read(c.flows.list_flows(ListFlowsRequest {})).await?;
                if as_json {
                    return Ok(json(&flows));
                }
                Ok(flows_table(&flows.flows))
            }
            FlowAction::Get { flow } => {
                let response = d.read(c.flows.get_flow(GetFlowRequest { flow })).await?;
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
                let response = d
                    .change(c.flows.pause_flow(PauseFlowRequest { flow: flow.clone() }))
                    .await?;
                if as_json {
                    return Ok(json(&response));
                }
                Ok(format!("flow {flow} paused\n"))
            }
            FlowAction::Resume { flow } => {
                let response = d
                    .change(
                        c.flows
                            .resume_flow(ResumeFlowRequest { flow: flow.clone() }),
                    )
                    .await?;
                if as_json {
                    return Ok(json(&response));
                }
                Ok(format!("flow {flow} resumed\n"))
            }
            FlowAction::Throttle {
                flow,
                records_per_sec,
                bytes_per_sec,
                clear,
            } => {
                let response = d
                    .change(c.flows.set_flow_throttle(SetFlowThrottleRequest {
                        flow: flow.clone(),
                        max_records_per_second: records_per_sec,
                        max_bytes_per_second: bytes_per_sec,
                        clear,
                    }))
                    .await?;
                if as_json {
                    return Ok(json(&response));
                }
                let f = response.flow.unwrap_or_default();
                Ok(format!(
                    "flow {flow}: rate limit {} ({})\n",
                    throttle_text(&f),
                    f.throttle_source
                ))
            }
        },
        ControlCommand::Assignments { flow, topic, node } => {
            if node == Some(0) {
                return Err("--node 0: node ids start at 1 (no node is 0)".to_owned());
            }
            let mut all = Vec::new();
            let mut page_token = String::new();
            loop {
                let page = d
                    .read(c.partitions.list_assignments(ListAssignmentsRequest {
                        flow: flow.clone().unwrap_or_default(),
                        topic: topic.clone().unwrap_or_default(),
                        node_id: node,
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
            let lag = d
                .within(
                    FAN_OUT_ALLOWANCE,
                    c.partitions.get_lag(GetLagRequest {
                        flow: flow.unwrap_or_default(),
                        topic: topic.unwrap_or_default(),
                    }),
                )
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
        ControlCommand::Drain { node, wait } => {
            let wait = wait.unwrap_or(DRAIN_WAIT_DEFAULT);
            let response = d
                .within(
                    COMMIT_ALLOWANCE + Duration::from_secs(wait.into()),
                    c.cluster.drain_node(DrainNodeRequest {
                        node_id: node,
                        timeout_seconds: wait,
                    }),
                )
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
            let response = d
                .change(c.cluster.undrain_node(UndrainNodeRequest { node_id: node }))
                .await?;
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
            let response = d
                .change(c.partitions.move_partition(MovePartitionRequest {
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
            let response = d
                .within(
                    MEMBERSHIP_ALLOWANCE,
                    c.cluster.add_node(AddNodeRequest {
                        node_id: node,
                        address,
                    }),
                )
                .await?;
            if as_json {
                return Ok(json(&response));
            }
            Ok(nodes_table(&response.nodes))
        }
        ControlCommand::RemoveNode { node } => {
            let response = d
                .within(
                    MEMBERSHIP_ALLOWANCE,
                    c.cluster.remove_node(RemoveNodeRequest { node_id: node }),
                )
                .await?;
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
            let response = d
                .within(
                    GROUP_ALLOWANCE,
                    c.offsets.translate_offsets(TranslateOffsetsRequest {
                        flow,
                        group: group.unwrap_or_default(),
                        offsets,
                    }),
                )
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
            let response = d.read(c.config.get_config(GetConfigRequest {})).await?;
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
            let response = d
                .change(c.config.apply_config(ApplyConfigRequest {
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
        ControlCommand::Watch => unreachable!("handled above"),
        ControlCommand::Verify(args) => {
            // Normally run through `verify::run` (its exit code tells mismatches apart).
            match verify::run(&connection, args).await? {
                (out, 0) => Ok(out),
                (out, _) => Err(out),
            }
        }
        ControlCommand::Cutover(args) => {
            // Normally run through `cutover::run` (its exit code tells mismatches apart).
            match cutover::run(&connection, args).await? {
                (out, 0) => Ok(out),
                (out, _) => Err(out),
            }
        }
    }
}

/// Backoff between reconnection rounds of `watch`.
const WATCH_BACKOFF_MIN: Duration = Duration::from_millis(250);
const WATCH_BACKOFF_MAX: Duration = Duration::from_secs(5);

/// `watch`: prints events as they come, until interrupted. When its node stops answering (or its
/// stream breaks), one line on stderr says so and it reconnects, to the next contact first and
/// around (the same one once it is back), with backoff; the new stream starts with a snapshot.
/// `--timeout` bounds connecting and the first event, not the stream.
async fn watch(connection: &Connection, as_json: bool) -> Result<String, String> {
    use std::io::Write;
    let contacts = connection.contacts()?;
    let mut next = 0;
    let mut backoff = WATCH_BACKOFF_MIN;
    // Whether a stream ran before: the first failure to connect is the command's error.
    let mut lost: Option<String> = None;
    loop {
        let attempt = async {
            let (session, at) = connect(connection, next).await?;
            let Session {
                clients: mut c,
                deadline: d,
                ..
            } = session;
            let mut stream = d.read(c.status.watch_status(WatchStatusRequest {})).await?;
            let first = match tokio::time::timeout(d.timeout, stream.message()).await {
                Ok(Ok(Some(event))) => event,
                Ok(Ok(None)) => return Err(format!("{}: the stream ended at once", d.contact)),
                Ok(Err(status)) => return Err(describe_stream_error(&d.contact, status)),
                Err(_) => return Err(Failure::NoAnswer(d.timeout).describe(&d.contact)),
            };
            Ok((stream, first, d.contact, at))
        };
        match attempt.await {
            Ok((mut stream, first, contact, at)) => {
                if lost.take().is_some() {
                    eprintln!("watch: reconnected to {contact}");
                }
                backoff = WATCH_BACKOFF_MIN;
                let mut stdout = std::io::stdout();
                let mut event = Some(first);
                let ended = loop {
                    if let Some(event) = event.take() {
                        let line = if as_json {
                            serde_json::to_string(&event).expect("events serialize")
                        } else {
                            describe_event(&event)
                        };
                        if writeln!(stdout, "{line}")
                            .and_then(|()| stdout.flush())
                            .is_err()
                        {
                            // Nobody reads any more (a closed pipe).
                            return Ok(String::new());
                        }
                    }
                    match stream.message().await {
                        Ok(Some(e)) => event = Some(e),
                        Ok(None) => break format!("{contact} ended the stream"),
                        Err(status) => break describe_stream_error(&contact, status),
                    }
                };
                // The next contact first: the one that failed may be gone for a while.
                next = at + 1;
                eprintln!(
                    "watch: lost {contact} ({ended}); reconnecting{}",
                    if contacts.len() > 1 {
                        format!(" (trying {})", contacts.join(","))
                    } else {
                        String::new()
                    }
                );
                lost = Some(ended);
            }
            Err(error) if lost.is_none() => return Err(error),
            Err(_) => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(WATCH_BACKOFF_MAX);
            }
        }
    }
}

/// Why a stream broke, for the reconnection line.
fn describe_stream_error(contact: &str, status: tonic::Status) -> String {
    match transport_failure(&status) {
        Some(_) => broken(contact, &status),
        None => format!("{contact}: {}", failed(status)),
    }
}

/// A connection to a node that had answered broke (it stopped, or froze past the keep-alive).
fn broken(contact: &str, status: &tonic::Status) -> String {
    format!(
        "the connection to {contact} broke: {} (the node may have stopped; try again, or another \
         node with --contact a,b,c)",
        status.message()
    )
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
    for p in node.partitions.iter().filter(|p| p.stalled_ms > 0) {
        out.push_str(&format!(
            "node {}: {} {}-{} at position {}: {}\n",
            node.node_id,
            p.flow,
            p.topic,
            p.partition,
            offset(p.next_source_offset),
            p.last_error
        ));
    }
    for p in node
        .partitions
        .iter()
        .filter(|p| p.state == "backing_off" && p.stalled_ms == 0)
    {
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

/// "no quorum: ..." when the answering node's state is not confirmed current: the liveness and
/// the leader it shows are as of the last confirmation. Empty with a quorum.
fn quorum_line(cluster: &GetClusterResponse) -> String {
    if cluster.quorum {
        return String::new();
    }
    if cluster.confirmed_ms_ago < 0 {
        return format!(
            "no quorum: no leader has confirmed node {}'s state since it started; the liveness \
             shown may be stale\n",
            cluster.answered_by
        );
    }
    format!(
        "no quorum: leader last heard {}s ago; the liveness shown is as of then\n",
        cluster.confirmed_ms_ago / 1000
    )
}

/// A flow's records behind: the sum when every partition's lag is known, a lower bound when
/// some are not, `unknown` when none is (never 0 for lags nobody knows).
fn records_behind(behind: i64, known: usize, unknown: usize) -> String {
    match (known, unknown) {
        (_, 0) => behind.to_string(),
        (0, _) => "unknown".to_owned(),
        _ => format!("at least {behind}"),
    }
}

fn nodes_table(nodes: &[ClusterNode]) -> String {
    let rows: Vec<Vec<String>> = nodes
        .iter()
        .map(|n| {
            vec![
                n.node_id.to_string(),
                n.address.clone(),
                n.role.clone(),
                if !n.heard {
                    // Registered (add-node, a join) and not started yet: the leader presumes
                    // it alive for one liveness timeout, but nobody has heard from it.
                    "registered"
                } else if n.alive {
                    "alive"
                } else {
                    "dead"
                }
                .to_owned(),
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

/// `2000 records/s, 1048576 bytes/s`, or `unlimited`.
fn throttle_text(f: &Flow) -> String {
    let mut parts = Vec::new();
    if f.max_records_per_second > 0 {
        parts.push(format!("{} records/s", f.max_records_per_second));
    }
    if f.max_bytes_per_second > 0 {
        parts.push(format!("{} bytes/s", f.max_bytes_per_second));
    }
    if parts.is_empty() {
        "unlimited".to_owned()
    } else {
        parts.join(", ")
    }
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
                throttle_text(f),
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
            "RATE LIMIT",
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

    fn connection(contact: &str) -> Connection {
        Connection {
            contact: contact.to_owned(),
            timeout: Duration::from_secs(5),
            token: None,
            tls_ca: None,
            tls_cert: None,
            tls_key: None,
            output: Output::Table,
        }
    }

    #[test]
    fn contacts_are_a_list_of_host_port() {
        assert_eq!(
            connection(" 127.0.0.1:7071, node-2:7072 ,[::1]:7073")
                .contacts()
                .unwrap(),
            vec!["127.0.0.1:7071", "node-2:7072", "[::1]:7073"]
        );
        let error = |c: &str| connection(c).contacts().unwrap_err();
        assert_eq!(
            error("127.0.0.1"),
            "--contact 127.0.0.1: missing port, e.g. 127.0.0.1:7071"
        );
        assert!(error("a:7071,b").starts_with("--contact b: missing port"));
        assert!(error("127.0.0.1:").contains("missing port"));
        assert!(error("a:0").contains("not a port"));
        assert!(error("a:99999").contains("not a port"));
        assert!(error("http://a:7071").contains("without a scheme"));
        assert!(error("::1:7071").contains("in brackets"));
        assert!(error(" , ").starts_with("--contact is empty"));
    }

    #[test]
    fn timeouts_parse_with_units() {
        assert_eq!(parse_timeout("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_timeout("7").unwrap(), Duration::from_secs(7));
        assert_eq!(
            parse_timeout("1500ms").unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(parse_timeout("2m").unwrap(), Duration::from_secs(120));
        for bad in ["", "0s", "5h", "x", "-1"] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
        assert_eq!(human(Duration::from_secs(5)), "5s");
        assert_eq!(human(Duration::from_millis(1500)), "1.5s");
        assert_eq!(human(Duration::from_millis(250)), "250ms");
    }

    #[test]
    fn a_servers_status_is_its_answer_not_a_transport_failure() {
        assert_eq!(
            transport_failure(&tonic::Status::unauthenticated("missing control token")),
            None
        );
        assert_eq!(
            Failure::NoAnswer(Duration::from_secs(5)).describe("127.0.0.1:7071"),
            "no answer from 127.0.0.1:7071 within 5s (the node may be frozen or overloaded); \
             try another node with --contact a,b,c or raise --timeout"
        );
    }

    #[test]
    fn unknown_lag_is_never_shown_as_zero() {
        assert_eq!(records_behind(0, 0, 3), "unknown");
        assert_eq!(records_behind(40, 2, 1), "at least 40");
        assert_eq!(records_behind(40, 3, 0), "40");
        let mut cluster = GetClusterResponse {
            answered_by: 2,
            quorum: false,
            confirmed_ms_ago: 12_400,
            ..Default::default()
        };
        assert_eq!(
            quorum_line(&cluster),
            "no quorum: leader last heard 12s ago; the liveness shown is as of then\n"
        );
        cluster.confirmed_ms_ago = -1;
        assert!(quorum_line(&cluster).contains("since it started"));
        cluster.quorum = true;
        assert_eq!(quorum_line(&cluster), "");
    }

    #[test]
    fn a_node_never_heard_from_is_registered_not_alive() {
        let node = |heard, alive| ClusterNode {
            node_id: 4,
            address: "127.0.0.1:7074".to_owned(),
            alive,
            heard,
            role: "voter".to_owned(),
            ..Default::default()
        };
        assert!(nodes_table(&[node(false, true)]).contains("voter  registered"));
        assert!(nodes_table(&[node(true, true)]).contains("voter  alive"));
        assert!(nodes_table(&[node(true, false)]).contains("voter  dead"));
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
