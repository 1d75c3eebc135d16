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
}

#[derive(Subcommand)]
enum Command {
    /// Run a node.
    Node {
        /// Configuration file: `.toml` (native) or `.properties` (MirrorMaker 2's mm2.properties).
        #[arg(long, short, env = "STRAIT_CONFIG")]
        config: PathBuf,
    },
    /// Validate a configuration and print the flows, topics and remote names it resolves to.
    CheckConfig {
        #[arg(long, short, env = "STRAIT_CONFIG")]
        config: PathBuf,
        /// Do not contact the source clusters to list the topics that would be replicated.
        #[arg(long)]
        offline: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Node { config } => strait_config::load(&config)
            .map_err(strait_node::NodeError::from)
            .and_then(|settings| {
                strait_node::telemetry::init(settings.node.log_format);
                strait_node::node::run(settings)
            }),
        Command::CheckConfig { config, offline } => strait_config::load(&config)
            .map(|settings| print!("{}", strait_node::check::report(&settings, offline)))
            .map_err(strait_node::NodeError::from),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}
