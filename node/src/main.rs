//! `strait`: replicate topics between Kafka clusters.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "strait",
    version,
    about = "Replicates topics between Apache Kafka clusters"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    connection: strait_node::cli::Connection,
}

#[derive(Subcommand)]
enum Command {
    /// Run a node.
    Node {
        /// Configuration file: `.toml` (native) or `.properties` (MirrorMaker 2's mm2.properties).
        #[arg(long, short, env = "STRAIT_CONFIG")]
        config: PathBuf,
        /// Rejoin the running cluster as a new member: the cluster removes this node's old
        /// membership (once it counts the node dead), the Raft state in the data dir is discarded
        /// (positions are kept), and the node joins through the cluster again. For a node whose
        /// Raft state is lost (a new or wiped data dir) and that refused to start for that
        /// reason. Use it once, not in a unit file: every start with it rejoins anew.
        #[arg(long)]
        rejoin: bool,
    },
    /// Validate a configuration and print the flows, topics and remote names it resolves to.
    CheckConfig {
        #[arg(long, short, env = "STRAIT_CONFIG")]
        config: PathBuf,
        /// Do not contact the source clusters to list the topics that would be replicated.
        #[arg(long)]
        offline: bool,
    },
    /// Remove a node from its cluster (asking the member at `--contact`): its partitions move to
    /// the others and it exits. A cluster with a control token requires it (`--token`).
    Leave {
        /// The id of the node to remove.
        #[arg(long)]
        node: u64,
        /// The cluster's id (`cluster.cluster_id`).
        #[arg(long, default_value = "strait")]
        cluster_id: String,
    },
    #[command(flatten)]
    Control(strait_node::cli::ControlCommand),
}

/// What `leave` may wait beyond `--timeout`: the member commits the removal through Raft.
const LEAVE_ALLOWANCE: std::time::Duration = std::time::Duration::from_secs(30);

/// jemalloc for every allocation of the process: Rust's, and librdkafka's too (the unprefixed
/// `malloc`/`free` symbols replace glibc's in this binary). The data path allocates on the actor
/// threads and frees on librdkafka's and the producer's threads (fetched messages, produced
/// records, header lists); glibc's per-arena locks and consolidation made that the largest cost of
/// a 100-byte-record copy (about 40 % of a node's CPU samples, see benches/README.md).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Runs a control command whose exit code tells outcomes apart (`verify`, `cutover`): prints
/// its output and exits with its code, or prints why it could not run and exits with `failed`.
fn exit_coded(
    command: impl std::future::Future<Output = Result<(String, u8), String>>,
    failed: u8,
) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(command) {
        Ok((out, code)) => {
            print!("{out}");
            ExitCode::from(code)
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(failed)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Control(strait_node::cli::ControlCommand::Verify(args)) => {
            return exit_coded(
                strait_node::cli::verify::run(&cli.connection, args),
                strait_node::cli::verify::EXIT_INCOMPLETE,
            );
        }
        Command::Control(strait_node::cli::ControlCommand::Cutover(args)) => {
            return exit_coded(
                strait_node::cli::cutover::run(&cli.connection, args),
                strait_node::cli::cutover::EXIT_NOT_DONE,
            );
        }
        Command::Control(command) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime");
            return match runtime.block_on(strait_node::cli::run(cli.connection, command)) {
                Ok(out) => {
                    print!("{out}");
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("error: {error}");
                    ExitCode::from(1)
                }
            };
        }
        Command::Leave { node, cluster_id } => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime");
            let token = cli.connection.token.clone();
            // Each contact in turn until one answers; a member's refusal is the answer.
            let leave = async {
                let contacts = cli.connection.contacts()?;
                let tls = cli.connection.client_tls()?;
                let limit = cli.connection.timeout + LEAVE_ALLOWANCE;
                let mut failures = Vec::new();
                for contact in &contacts {
                    let asked = strait_node::cluster::request_leave(
                        contact,
                        &cluster_id,
                        node,
                        token.as_deref(),
                        tls.as_ref(),
                    );
                    match tokio::time::timeout(limit, asked).await {
                        Ok(Ok(removed)) => return Ok(removed),
                        Ok(Err(e @ strait_node::cluster::LeaveError::Refused { .. })) => {
                            return Err(e.to_string())
                        }
                        Ok(Err(e)) => failures.push(e.to_string()),
                        Err(_) => failures.push(format!(
                            "no answer from {contact} within {limit:?} (the node may be frozen \
                             or overloaded)"
                        )),
                    }
                }
                Err(failures.join("\n  "))
            };
            return match runtime.block_on(leave) {
                Ok(removed) => {
                    println!("{}", removed.describe(node));
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("error: {error}");
                    ExitCode::from(1)
                }
            };
        }
        Command::Node { config, rejoin } => {
            strait_node::check::load(&config).and_then(|settings| {
                strait_node::telemetry::init(settings.node.log_format);
                strait_node::node::run(settings, strait_node::cluster::StartOptions { rejoin })
            })
        }
        Command::CheckConfig { config, offline } => {
            strait_node::check::load(&config).map(|settings| {
                for warning in &settings.warnings {
                    eprintln!("warning: {warning}");
                }
                print!("{}", strait_node::check::report(&settings, offline))
            })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}
