//! `strait-rawcopy`: the baseline of the throughput benchmark. A plain librdkafka consume → produce
//! loop with Strait's own client settings (`strait_node::kafka::{consumer_config,
//! producer_config}`, the default in-flight bounds) and the same record preservation (partition,
//! key, value, headers, timestamp). No positions, no acknowledgement tracking beyond a count, no
//! bound but librdkafka's queue: what a copy costs with nothing of Strait's around it.
//!
//! Reads every partition of `--topic` from the beginning and writes `--remote-topic` until killed.
//! Prints `acked <records> <bytes>` (key + value + header bytes acknowledged by the target) every
//! 50 ms on stdout.

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use strait_config::{ClientProps, DEFAULT_MAX_IN_FLIGHT_BYTES, DEFAULT_MAX_IN_FLIGHT_RECORDS};

#[derive(Parser)]
#[command(about = "Raw consume → produce copy, the throughput benchmark's baseline")]
struct Args {
    #[arg(long)]
    source: String,
    #[arg(long)]
    target: String,
    #[arg(long)]
    topic: String,
    #[arg(long)]
    remote_topic: String,
    #[arg(long)]
    partitions: i32,
    /// The source consumer's `fetch.wait.max.ms` (the benchmark's Strait nodes get the same).
    #[arg(long, default_value_t = 10)]
    fetch_wait_ms: u32,
}

/// Acknowledged records and bytes.
#[derive(Default)]
struct Counts {
    records: AtomicU64,
    bytes: AtomicU64,
    failed: AtomicU64,
}

struct Context(Arc<Counts>);

impl ClientContext for Context {}

impl ProducerContext for Context {
    type DeliveryOpaque = Box<u64>;

    fn delivery(&self, result: &DeliveryResult<'_>, bytes: Box<u64>) {
        match result {
            Ok(_) => {
                self.0.records.fetch_add(1, Ordering::Relaxed);
                self.0.bytes.fetch_add(*bytes, Ordering::Relaxed);
            }
            Err(_) => {
                self.0.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn props(bootstrap: &str) -> ClientProps {
    [("bootstrap.servers".to_owned(), bootstrap.to_owned())]
        .into_iter()
        .collect()
}

fn main() -> Result<(), String> {
    let args = Args::parse();
    let mut consumer_config = strait_node::kafka::consumer_config(&props(&args.source), "rawcopy");
    consumer_config
        .set("fetch.wait.max.ms", args.fetch_wait_ms.to_string())
        // The baseline does not report lag.
        .set("statistics.interval.ms", "0");
    let consumer: BaseConsumer = consumer_config
        .create()
        .map_err(|e| format!("consumer: {e}"))?;
    let counts = Arc::new(Counts::default());
    let producer: BaseProducer<Context> = strait_node::kafka::producer_config(
        &props(&args.target),
        DEFAULT_MAX_IN_FLIGHT_RECORDS,
        DEFAULT_MAX_IN_FLIGHT_BYTES,
    )
    .create_with_context(Context(counts.clone()))
    .map_err(|e| format!("producer: {e}"))?;
    let mut assignment = TopicPartitionList::new();
    for partition in 0..args.partitions {
        assignment
            .add_partition_offset(&args.topic, partition, Offset::Beginning)
            .map_err(|e| e.to_string())?;
    }
    consumer.assign(&assignment).map_err(|e| e.to_string())?;

    {
        let counts = counts.clone();
        std::thread::spawn(move || loop {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "acked {} {} {}",
                counts.records.load(Ordering::Relaxed),
                counts.bytes.load(Ordering::Relaxed),
                counts.failed.load(Ordering::Relaxed)
            );
            let _ = out.flush();
            drop(out);
            std::thread::sleep(Duration::from_millis(50));
        });
    }

    loop {
        let Some(result) = consumer.poll(Duration::from_millis(100)) else {
            producer.poll(Duration::ZERO);
            continue;
        };
        let message = result.map_err(|e| format!("fetch: {e}"))?;
        let headers = message.headers().map(|h| h.detach());
        let header_bytes: usize = message.headers().map_or(0, |h| {
            h.iter()
                .map(|header| header.key.len() + header.value.map_or(0, <[u8]>::len))
                .sum()
        });
        let bytes = (message.key().map_or(0, <[u8]>::len)
            + message.payload().map_or(0, <[u8]>::len)
            + header_bytes) as u64;
        let mut record: BaseRecord<'_, [u8], [u8], Box<u64>> =
            BaseRecord::with_opaque_to(&args.remote_topic, Box::new(bytes))
                .partition(message.partition());
        if let Some(timestamp) = message.timestamp().to_millis() {
            record = record.timestamp(timestamp);
        }
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        if let Some(payload) = message.payload() {
            record = record.payload(payload);
        }
        if let Some(headers) = headers {
            record = record.headers(headers);
        }
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    producer.poll(Duration::from_millis(5));
                }
                Err((e, _)) => return Err(format!("produce: {e}")),
            }
        }
        producer.poll(Duration::ZERO);
    }
}
