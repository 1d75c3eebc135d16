//! `strait-loadgen`: writes keyed records with headers to a topic at a steady rate, for the demo and
//! the benchmarks. Prints a line every few seconds with what it wrote.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::ClientConfig;

#[derive(Parser)]
#[command(about = "Writes records to a Kafka topic at a steady rate")]
struct Args {
    #[arg(long, default_value = "127.0.0.1:19092")]
    bootstrap: String,
    #[arg(long, default_value = "orders")]
    topic: String,
    /// Partitions of the topic if it has to be created.
    #[arg(long, default_value_t = 3)]
    partitions: i32,
    /// Records per second (0: as fast as possible).
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// Value size in bytes.
    #[arg(long, default_value_t = 100)]
    size: usize,
    /// Stop after this many records (0: run until killed).
    #[arg(long, default_value_t = 0)]
    count: u64,
    /// Seconds between progress lines (0: none).
    #[arg(long, default_value_t = 5)]
    report_secs: u64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &args.bootstrap);

    let admin: AdminClient<DefaultClientContext> = config.create()?;
    let topic = NewTopic::new(&args.topic, args.partitions, TopicReplication::Fixed(1));
    // An existing topic is fine: its result is ignored.
    let _ = futures::executor::block_on(admin.create_topics([&topic], &AdminOptions::new()))?;

    let producer: ThreadedProducer<DefaultProducerContext> = config
        .clone()
        .set("linger.ms", "5")
        .set("enable.idempotence", "true")
        .create()?;
    let value = vec![b'x'; args.size];
    let started = Instant::now();
    let mut last_report = Instant::now();
    let mut sent: u64 = 0;
    loop {
        if args.count > 0 && sent >= args.count {
            break;
        }
        if args.rate > 0 {
            let due = Duration::from_secs_f64(sent as f64 / args.rate as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait.min(Duration::from_millis(50)));
                continue;
            }
        }
        let key = format!("key-{}", sent % 1000);
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64;
        let seq = sent.to_string();
        let headers = OwnedHeaders::new().insert(Header {
            key: "seq",
            value: Some(seq.as_bytes()),
        });
        let record = BaseRecord::to(&args.topic)
            .key(&key)
            .payload(&value)
            .headers(headers)
            .timestamp(now_ms);
        match producer.send(record) {
            Ok(()) => sent += 1,
            Err((_, _)) => std::thread::sleep(Duration::from_millis(10)),
        }
        if args.report_secs > 0 && last_report.elapsed() >= Duration::from_secs(args.report_secs) {
            last_report = Instant::now();
            println!(
                "loadgen: {sent} records written to {} ({:.0}/s)",
                args.topic,
                sent as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    producer.flush(Duration::from_secs(30))?;
    println!("loadgen: done, {sent} records written to {}", args.topic);
    Ok(())
}
