//! `strait-verify-speed`: how fast `strait verify` compares a copy (benches/README.md, "Verify").
//!
//! Two brokers (source, target), a topic preloaded with `--partitions` × `--records` records of
//! 100 B (no key, no headers), one strait node that copies the backlog (timed, node start
//! included), then `strait verify -o json --max-bytes-per-sec 0` over all of it (timed around the
//! CLI call, once the cluster state's positions cover the whole copy). Prints both rates.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::Value;
use strait_tests::config::Config;
use strait_tests::data::{self, Record, TestProducer};
use strait_tests::strait::{run_cli, temp_dir};
use strait_tests::{admin, names, wait, Broker, Strait};

#[derive(Parser)]
#[command(about = "Measures how fast `strait verify` compares a replicated backlog")]
struct Args {
    /// Partitions of the topic.
    #[arg(long, default_value_t = 4)]
    partitions: i32,
    /// Records per partition (100 B each).
    #[arg(long, default_value_t = 250_000)]
    records: i64,
}

const POLL: Duration = Duration::from_millis(500);

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("strait-verify-speed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    eprintln!("starting the brokers...");
    let source = Broker::start("source");
    let target = Broker::start("target");
    let (src, tgt) = (source.bootstrap(), target.bootstrap());
    let topic = names::unique("vbench");
    let remote = format!("A.{topic}");
    admin::create_topic(src, &topic, args.partitions as usize);
    eprintln!(
        "preloading {} x {} records of 100 B...",
        args.partitions, args.records
    );
    let producer =
        TestProducer::with_props(src, &[("linger.ms", "20"), ("compression.type", "none")]);
    let base_ts = data::base_timestamp();
    for p in 0..args.partitions {
        for seq in 0..args.records {
            let mut value = format!("{p}-{seq}-").into_bytes();
            value.resize(100, b'x');
            let record = Record {
                key: None,
                value: Some(value),
                headers: Vec::new(),
                timestamp: base_ts + seq,
            };
            producer.send(&topic, p, &record);
        }
    }
    producer.flush();

    let data_dir = temp_dir("strait-data-");
    let started = Instant::now();
    let config = Config::a_to_b(src, tgt, data_dir.path(), &[&topic]);
    let strait = Strait::start(&config.toml(), "toml");
    let contact = format!("127.0.0.1:{}", config.cluster_port);
    wait::until(
        "the backlog copied",
        Duration::from_secs(1800),
        POLL,
        || {
            let highs: Vec<i64> = (0..args.partitions)
                .map(|p| high_watermark(tgt, &remote, p))
                .collect();
            if highs.iter().all(|h| *h == args.records) {
                Ok(())
            } else {
                Err(format!("{highs:?}"))
            }
        },
        || strait.log_tail(20),
    );
    let copy_secs = started.elapsed().as_secs_f64();
    let total = args.records * i64::from(args.partitions);

    // The positions in the cluster state trail the copy by about a second: wait until a verify
    // covers everything, then time one.
    wait::until(
        "verify to cover the whole copy",
        Duration::from_secs(120),
        POLL,
        || {
            let (_, report) = verify_json(&contact, &topic)?;
            let ends: Vec<i64> = report["partitions"]
                .as_array()
                .map(|ps| ps.iter().filter_map(|p| p["source_end"].as_i64()).collect())
                .unwrap_or_default();
            if ends.len() == args.partitions as usize && ends.iter().all(|e| *e == args.records) {
                Ok(())
            } else {
                Err(format!("covered {ends:?}"))
            }
        },
        || strait.log_tail(20),
    );
    let started = Instant::now();
    let (code, report) = verify_json(&contact, &topic)?;
    let secs = started.elapsed().as_secs_f64();
    let compared = report["source_records"].as_i64().unwrap_or(0);
    if code != Some(0) || compared != total {
        return Err(format!(
            "verify exited {code:?} having compared {compared} of {total} records:\n{report:#}"
        ));
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "== strait verify speed ({} partitions, 100 B records)",
        args.partitions
    );
    println!(
        "replication: {total} records copied in {copy_secs:.1} s ({:.0} records/s, node start \
         included)",
        total as f64 / copy_secs
    );
    println!(
        "verify: {total} records compared in {secs:.1} s ({:.0} records/s, both sides read)",
        total as f64 / secs
    );
    println!(
        "machine: {} cores, load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load.split_whitespace().next().unwrap_or("?")
    );
    Ok(())
}

/// `strait verify -o json` of `topic`, every byte rate allowed: exit code and report.
fn verify_json(contact: &str, topic: &str) -> Result<(Option<i32>, Value), String> {
    let out = run_cli(&[
        "--contact",
        contact,
        "-o",
        "json",
        "verify",
        "--flow",
        "A->B",
        "--topic",
        topic,
        "--max-bytes-per-sec",
        "0",
    ]);
    let report = serde_json::from_str(&out.stdout).map_err(|e| {
        format!(
            "verify's output is not JSON ({e}), exit {:?}:\n{}{}",
            out.code, out.stdout, out.stderr
        )
    })?;
    Ok((out.code, report))
}

/// The high watermark of `topic`/`partition` (-1 when it cannot be read).
fn high_watermark(bootstrap: &str, topic: &str, partition: i32) -> i64 {
    let consumer: BaseConsumer = admin::client_config(bootstrap)
        .set("group.id", "verify-bench")
        .create()
        .expect("consumer");
    consumer
        .fetch_watermarks(topic, partition, Duration::from_secs(10))
        .map(|(_, high)| high)
        .unwrap_or(-1)
}
