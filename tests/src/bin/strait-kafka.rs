//! `strait-kafka`: starts Apache Kafka clusters for the scripts (`scripts/test.sh` shares two with
//! every test, `scripts/demo.sh` runs its two) and keeps them until SIGTERM or SIGINT, then stops
//! every broker by its PID and removes the clusters' data.
//!
//! Usage: `strait-kafka [--brokers N] NAME[:PORT]...`. Prints `NAME=BOOTSTRAP` per cluster, then
//! `ready`. A cluster given a PORT has its first broker's client listener on it (the demo's fixed
//! addresses); the others use free ports. The jars come from `scripts/install-kafka.sh`
//! (`KAFKA_LIBS` to point elsewhere); `STRAIT_KAFKA_JVM_OPTS` replaces the brokers' JVM options.

use std::io::Write as _;

use strait_tests::kafka::{KafkaCluster, KafkaSpec};

fn main() {
    let mut brokers = 1;
    let mut names = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--brokers" => {
                brokers = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n >= 1)
                    .unwrap_or_else(|| usage("--brokers needs a number of at least 1"));
            }
            "-h" | "--help" => usage(""),
            name if !name.starts_with('-') => names.push(name.to_owned()),
            other => usage(&format!("unknown option {other}")),
        }
    }
    if names.is_empty() {
        usage("name at least one cluster");
    }
    let specs: Vec<(String, KafkaSpec)> = names
        .iter()
        .map(|arg| {
            let (name, port) =
                match arg.split_once(':') {
                    Some((name, port)) => (
                        name,
                        Some(port.parse::<u16>().unwrap_or_else(|_| {
                            usage(&format!("{arg}: the port must be a number"))
                        })),
                    ),
                    None => (arg.as_str(), None),
                };
            let spec = KafkaSpec {
                brokers,
                port,
                ..KafkaSpec::default()
            };
            (name.to_owned(), spec)
        })
        .collect();
    // All at once: each start is a few seconds of JVM start-up. From this thread, which lives
    // until the end: the brokers die with it.
    let all: Vec<KafkaSpec> = specs.iter().map(|(_, spec)| spec.clone()).collect();
    let clusters: Vec<(String, KafkaCluster)> = specs
        .into_iter()
        .map(|(name, _)| name)
        .zip(KafkaCluster::start_all(&all))
        .collect();
    let mut out = std::io::stdout().lock();
    for (name, cluster) in &clusters {
        let _ = writeln!(out, "{name}={}", cluster.bootstrap());
    }
    let _ = writeln!(out, "ready");
    let _ = out.flush();
    drop(out);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
        let mut hup = signal(SignalKind::hangup()).expect("SIGHUP handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
            _ = hup.recv() => {}
        }
    });
    // Dropping a cluster kills its brokers and removes its folder.
    drop(clusters);
}

fn usage(problem: &str) -> ! {
    if !problem.is_empty() {
        eprintln!("strait-kafka: {problem}");
    }
    eprintln!("usage: strait-kafka [--brokers N] NAME[:PORT]...");
    std::process::exit(2);
}
