//! Deterministic test records and producers that write them to the source cluster.
//!
//! Every generated record of a partition has a distinct timestamp (`base + seq`), so a record is
//! identified by its content alone: comparators can tell a replayed record from a new one without
//! offsets, which differ between source and target anyway.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;

use crate::admin;

/// One Kafka record as the tests see it: what replication must preserve.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Record {
    pub key: Option<Vec<u8>>,
    /// `None` is a tombstone.
    pub value: Option<Vec<u8>>,
    /// In order; keys may repeat and values may be null.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// CreateTime, milliseconds since the epoch.
    pub timestamp: i64,
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn bytes(b: &Option<Vec<u8>>) -> String {
            match b {
                None => "null".to_owned(),
                Some(b) if b.len() > 40 => {
                    format!(
                        "{:?}..({} bytes)",
                        String::from_utf8_lossy(&b[..40]),
                        b.len()
                    )
                }
                Some(b) => format!("{:?}", String::from_utf8_lossy(b)),
            }
        }
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(k, v)| format!("{k}={}", bytes(v)))
            .collect();
        write!(
            f,
            "Record {{ ts: {}, key: {}, value: {}, headers: [{}] }}",
            self.timestamp,
            bytes(&self.key),
            bytes(&self.value),
            headers.join(", ")
        )
    }
}

/// A timestamp base for generated records: one hour ago, in whole seconds. Recent enough that a
/// real Kafka's retention never deletes the records during a test, explicit so that timestamp
/// preservation is checked.
pub fn base_timestamp() -> i64 {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis();
    let now_ms = i64::try_from(now_ms).expect("timestamp fits i64");
    (now_ms - 3_600_000) / 1000 * 1000
}

/// Record number `seq` of `partition`: keys (some null, some empty), values (some null =
/// tombstones, some empty, some binary, variable lengths), headers (none, several, duplicate keys,
/// null and empty values), timestamp `base_ts + seq`.
pub fn generate(partition: i32, seq: u64, base_ts: i64) -> Record {
    let key = match seq % 10 {
        3 | 7 => None,
        5 if seq % 20 == 5 => Some(Vec::new()),
        _ => Some(format!("key-{}", seq % 1000).into_bytes()),
    };
    let value = match seq % 13 {
        4 => None,
        9 => Some(Vec::new()),
        11 => Some(
            (0..=255u8)
                .cycle()
                .skip((seq % 256) as usize)
                .take(300)
                .collect(),
        ),
        _ => {
            let mut v = format!("value p{partition} #{seq} ").into_bytes();
            v.extend(std::iter::repeat_n(
                b'a' + (seq % 26) as u8,
                (seq % 200) as usize,
            ));
            Some(v)
        }
    };
    let headers = match seq % 6 {
        0 => Vec::new(),
        1 => vec![
            ("h1".to_owned(), Some(b"first".to_vec())),
            ("h2".to_owned(), Some(b"second".to_vec())),
            ("h1".to_owned(), Some(b"third".to_vec())),
        ],
        2 => vec![
            ("null".to_owned(), None),
            ("empty".to_owned(), Some(Vec::new())),
        ],
        3 => vec![("seq".to_owned(), Some(seq.to_be_bytes().to_vec()))],
        4 => vec![
            ("dup".to_owned(), None),
            ("dup".to_owned(), Some(b"x".to_vec())),
            ("dup".to_owned(), None),
            ("other".to_owned(), Some(vec![0, 255, 0])),
        ],
        _ => vec![("p".to_owned(), Some(partition.to_string().into_bytes()))],
    };
    Record {
        key,
        value,
        headers,
        timestamp: base_ts + i64::try_from(seq).expect("seq fits i64"),
    }
}

/// [`generate`] with `pad` more bytes appended to the value (when it is not null): bulk for
/// memory tests.
pub fn generate_padded(partition: i32, seq: u64, base_ts: i64, pad: usize) -> Record {
    let mut record = generate(partition, seq, base_ts);
    if let Some(value) = &mut record.value {
        value.extend(std::iter::repeat_n(b'0' + (seq % 10) as u8, pad));
    }
    record
}

/// Records `seqs` of `partition`, see [`generate`].
pub fn generate_range(partition: i32, seqs: std::ops::Range<u64>, base_ts: i64) -> Vec<Record> {
    seqs.map(|seq| generate(partition, seq, base_ts)).collect()
}

/// Counts delivery failures of a test producer.
#[derive(Default)]
pub struct DeliveryContext {
    failures: AtomicU64,
    first_failure: Mutex<Option<String>>,
}

impl ClientContext for DeliveryContext {}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((error, _)) = result {
            self.failures.fetch_add(1, Ordering::SeqCst);
            let mut first = self.first_failure.lock().unwrap_or_else(|p| p.into_inner());
            first.get_or_insert_with(|| error.to_string());
        }
    }
}

/// An idempotent producer (no duplicates, order kept per partition, even on retries) for test
/// data.
pub struct TestProducer {
    bootstrap: String,
    producer: BaseProducer<DeliveryContext>,
}

impl TestProducer {
    pub fn new(bootstrap: &str) -> TestProducer {
        TestProducer::with_props(bootstrap, &[])
    }

    /// A producer with librdkafka properties of its own on top of the defaults, e.g.
    /// `batch.num.messages = 1`, which keeps Tansu's high watermark exact (see the test broker's
    /// quirks).
    pub fn with_props(bootstrap: &str, props: &[(&str, &str)]) -> TestProducer {
        let mut config = admin::client_config(bootstrap);
        config
            .set("enable.idempotence", "true")
            .set("linger.ms", "5")
            .set("message.timeout.ms", "180000")
            .set("queue.buffering.max.messages", "200000");
        for (key, value) in props {
            config.set(*key, *value);
        }
        let producer = config
            .create_with_context(DeliveryContext::default())
            .unwrap_or_else(|e| panic!("producer for {bootstrap}: {e}"));
        TestProducer {
            bootstrap: bootstrap.to_owned(),
            producer,
        }
    }

    /// A transactional producer (`transactional.id` = `transactional_id`), its transactions
    /// initialised: [`TestProducer::begin`] before sending, then [`TestProducer::commit`] or
    /// [`TestProducer::abort`].
    pub fn transactional(bootstrap: &str, transactional_id: &str) -> TestProducer {
        let producer = TestProducer::with_props(
            bootstrap,
            &[
                ("transactional.id", transactional_id),
                // Within the transaction timeout (librdkafka's default: 60 s).
                ("message.timeout.ms", "60000"),
            ],
        );
        producer
            .producer
            .init_transactions(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("init_transactions on {bootstrap}: {e}"));
        producer
    }

    /// Begins a transaction.
    pub fn begin(&self) {
        self.producer
            .begin_transaction()
            .unwrap_or_else(|e| panic!("begin_transaction on {}: {e}", self.bootstrap));
    }

    /// Commits the transaction (which flushes what it holds).
    pub fn commit(&self) {
        self.producer
            .commit_transaction(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("commit_transaction on {}: {e}", self.bootstrap));
    }

    /// Flushes the transaction's records (so they are in the log) and aborts it.
    pub fn abort(&self) {
        self.producer
            .flush(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("flushing before an abort on {}: {e}", self.bootstrap));
        self.producer
            .abort_transaction(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("abort_transaction on {}: {e}", self.bootstrap));
    }

    /// Queues `record` for `topic`/`partition`, waiting while the local queue is full.
    pub fn send(&self, topic: &str, partition: i32, record: &Record) {
        let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
        for (key, value) in &record.headers {
            headers = headers.insert(Header {
                key,
                value: value.as_deref(),
            });
        }
        let mut base: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic)
            .partition(partition)
            .timestamp(record.timestamp)
            .headers(headers);
        if let Some(key) = &record.key {
            base = base.key(key.as_slice());
        }
        if let Some(value) = &record.value {
            base = base.payload(value.as_slice());
        }
        loop {
            match self.producer.send(base) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    base = back;
                    self.producer.poll(Duration::from_millis(10));
                }
                Err((e, _)) => panic!(
                    "producing to {topic}/{partition} on {}: {e}",
                    self.bootstrap
                ),
            }
        }
        self.producer.poll(Duration::ZERO);
    }

    /// Waits until every queued record is acknowledged; panics on any delivery failure.
    pub fn flush(&self) {
        self.producer
            .flush(Duration::from_secs(180))
            .unwrap_or_else(|e| panic!("flushing the producer of {}: {e}", self.bootstrap));
        let context = self.producer.context();
        let failures = context.failures.load(Ordering::SeqCst);
        assert_eq!(
            failures,
            0,
            "{failures} records failed to be delivered to {}, first error: {:?}",
            self.bootstrap,
            context
                .first_failure
                .lock()
                .unwrap_or_else(|p| p.into_inner())
        );
    }
}

/// Produces `records` to `topic`/`partition`, in order, and waits for every acknowledgement.
pub fn produce(bootstrap: &str, topic: &str, partition: i32, records: &[Record]) {
    let producer = TestProducer::new(bootstrap);
    for record in records {
        producer.send(topic, partition, record);
    }
    producer.flush();
}

/// Produces records `0..per_partition` of every partition `0..partitions` (see [`generate`]),
/// interleaving partitions, and returns what was sent, by partition.
pub fn produce_generated(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    per_partition: u64,
    base_ts: i64,
) -> Vec<Vec<Record>> {
    produce_generated_range(bootstrap, topic, partitions, 0..per_partition, base_ts)
}

/// Produces records `seqs` of every partition `0..partitions` (see [`generate`]), interleaving
/// partitions, and returns what was sent, by partition.
pub fn produce_generated_range(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    seqs: std::ops::Range<u64>,
    base_ts: i64,
) -> Vec<Vec<Record>> {
    let producer = TestProducer::new(bootstrap);
    let mut sent: Vec<Vec<Record>> = (0..partitions).map(|_| Vec::new()).collect();
    for seq in seqs {
        for (partition, records) in (0..partitions).zip(sent.iter_mut()) {
            let record = generate(partition, seq, base_ts);
            producer.send(topic, partition, &record);
            records.push(record);
        }
    }
    producer.flush();
    sent
}

/// A producer writing generated records to every partition of a topic, round-robin, at a steady
/// rate, on its own thread, until stopped.
pub struct ContinuousProducer {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    handle: Option<JoinHandle<Vec<Vec<Record>>>>,
}

impl ContinuousProducer {
    /// Starts producing to `topic` (partitions `0..partitions`), `rate` records per second in
    /// total, with sequence numbers per partition starting at `first_seq`, values padded with
    /// `pad` bytes (see [`generate_padded`]).
    pub fn start(
        bootstrap: &str,
        topic: &str,
        partitions: i32,
        rate: u64,
        first_seq: u64,
        base_ts: i64,
        pad: usize,
    ) -> ContinuousProducer {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let (bootstrap, topic) = (bootstrap.to_owned(), topic.to_owned());
        let handle = {
            let (stop, sent) = (Arc::clone(&stop), Arc::clone(&sent));
            std::thread::spawn(move || {
                let producer = TestProducer::new(&bootstrap);
                let mut records: Vec<Vec<Record>> = (0..partitions).map(|_| Vec::new()).collect();
                let started = Instant::now();
                let mut total: u64 = 0;
                while !stop.load(Ordering::SeqCst) {
                    let due = started.elapsed().as_millis() as u64 * rate / 1000;
                    while total < due {
                        let index = (total % partitions as u64) as usize;
                        let partition = index as i32;
                        let seq = first_seq + records[index].len() as u64;
                        let record = generate_padded(partition, seq, base_ts, pad);
                        producer.send(&topic, partition, &record);
                        records[index].push(record);
                        total += 1;
                        sent.store(total, Ordering::SeqCst);
                    }
                    producer.producer.poll(Duration::from_millis(5));
                }
                producer.flush();
                records
            })
        };
        ContinuousProducer {
            stop,
            sent,
            handle: Some(handle),
        }
    }

    /// Records queued so far (acknowledged or not).
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }

    /// Waits until `more` records were queued after now.
    pub fn wait_for_more(&self, more: u64) {
        let goal = self.sent() + more;
        crate::wait::until_ok(
            &format!("the test producer to reach {goal} records"),
            || {
                (self.sent() >= goal)
                    .then_some(())
                    .ok_or_else(|| format!("{} sent", self.sent()))
            },
            String::new,
        );
    }

    /// Stops, waits for every acknowledgement, and returns what was sent, by partition.
    pub fn stop(mut self) -> Vec<Vec<Record>> {
        self.stop.store(true, Ordering::SeqCst);
        let handle = self.handle.take().expect("not stopped yet");
        match handle.join() {
            Ok(records) => records,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl Drop for ContinuousProducer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}
