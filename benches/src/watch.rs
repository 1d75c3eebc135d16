//! A consumer of the target topic on its own thread that tells, for each partition, when new data
//! arrives.
//!
//! Records are the load's ([`crate::load`]): the per-partition sequence number is the record's
//! timestamp minus the load's base timestamp. The watcher keeps, per partition, the highest
//! sequence number seen, counts replays (a record at or below that maximum: a duplicate written
//! again after a takeover) and keeps the sequence numbers skipped and never read (lost), and, once
//! armed with a threshold per partition, notes the [`Instant`] the first record at or above the
//! threshold arrived.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use strait_tests::{admin, names};

/// What the watcher saw of one partition.
#[derive(Debug, Clone, Default)]
pub struct PartitionSeen {
    /// Highest sequence number read, `None` before the first record.
    pub max_seq: Option<u64>,
    /// Records read.
    pub records: u64,
    /// Records at or below the highest sequence number already read (duplicates).
    pub replays: u64,
    /// Sequence numbers skipped (a record more than one above the highest read) and not read
    /// since: records lost so far.
    pub missing: Vec<Range<u64>>,
    /// The armed threshold, and when the first record at or above it arrived.
    pub threshold: Option<u64>,
    pub arrived: Option<Instant>,
    /// When the last new record (above every sequence number read before) arrived.
    pub last_new: Option<Instant>,
    /// The longest time between two consecutive new records' arrivals since
    /// [`Watcher::reset_gaps`]: how long the partition stalled (replays do not count as progress).
    pub max_gap: Duration,
}

#[derive(Default)]
struct Shared {
    partitions: Vec<PartitionSeen>,
    /// Records whose timestamp is not one of the load's.
    foreign: u64,
    last_error: Option<String>,
}

/// The watching thread. Dropping it stops the thread.
pub struct Watcher {
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl PartitionSeen {
    /// Records skipped and not read since.
    pub fn lost(&self) -> u64 {
        self.missing.iter().map(|r| r.end - r.start).sum()
    }

    fn replayed(&mut self, seq: u64) {
        self.replays += 1;
        if let Some(i) = self.missing.iter().position(|r| r.contains(&seq)) {
            // A late record, not a duplicate.
            self.replays -= 1;
            let range = self.missing.remove(i);
            if seq + 1 < range.end {
                self.missing.insert(i, seq + 1..range.end);
            }
            if range.start < seq {
                self.missing.insert(i, range.start..seq);
            }
        }
    }
}

impl Watcher {
    /// Reads every partition of `topic` (which must exist with `partitions` partitions) on
    /// `bootstrap` from the beginning. `fetch_wait_ms` is the consumer's `fetch.wait.max.ms`
    /// (Tansu answers a waiting Fetch only when that expires).
    pub fn start(
        bootstrap: &str,
        topic: &str,
        partitions: usize,
        base_ts: i64,
        fetch_wait_ms: u32,
    ) -> Result<Watcher, String> {
        let consumer: BaseConsumer = admin::client_config(bootstrap)
            .set("group.id", names::unique("strait-bench-watcher"))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("fetch.wait.max.ms", fetch_wait_ms.to_string())
            .create()
            .map_err(|e| format!("consumer for {bootstrap}: {e}"))?;
        let mut assignment = TopicPartitionList::new();
        for partition in 0..partitions {
            let partition = i32::try_from(partition).expect("partition fits i32");
            assignment
                .add_partition_offset(topic, partition, Offset::Beginning)
                .map_err(|e| e.to_string())?;
        }
        consumer
            .assign(&assignment)
            .map_err(|e| format!("assigning {topic} on {bootstrap}: {e}"))?;
        let shared = Arc::new(Mutex::new(Shared {
            partitions: vec![PartitionSeen::default(); partitions],
            ..Shared::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let handle = {
            let (shared, stop) = (Arc::clone(&shared), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("target-watcher".to_owned())
                .spawn(move || run(consumer, &shared, &stop, base_ts))
                .map_err(|e| format!("spawning the watcher: {e}"))?
        };
        Ok(Watcher {
            shared,
            stop,
            handle: Some(handle),
        })
    }

    /// Arms every partition: from now on, the first record of partition `p` with a sequence
    /// number of at least `thresholds[p]` sets its arrival time. Clears earlier arrivals.
    pub fn arm(&self, thresholds: &[u64]) {
        let mut shared = self.lock();
        for (seen, threshold) in shared.partitions.iter_mut().zip(thresholds) {
            seen.threshold = Some(*threshold);
            seen.arrived = None;
        }
    }

    /// Starts measuring [`PartitionSeen::max_gap`] afresh on every partition (the gap running
    /// now counts from the last new record).
    pub fn reset_gaps(&self) {
        for seen in &mut self.lock().partitions {
            seen.max_gap = Duration::ZERO;
        }
    }

    /// The state of every partition.
    pub fn snapshot(&self) -> Vec<PartitionSeen> {
        self.lock().partitions.clone()
    }

    /// The arrival time of every partition since the last [`Watcher::arm`].
    pub fn arrivals(&self) -> Vec<Option<Instant>> {
        self.lock().partitions.iter().map(|p| p.arrived).collect()
    }

    /// Records that were not the load's, and the last consumer error.
    pub fn anomalies(&self) -> (u64, Option<String>) {
        let shared = self.lock();
        (shared.foreign, shared.last_error.clone())
    }

    /// `true` while the thread runs.
    pub fn running(&self) -> bool {
        self.handle.as_ref().is_some_and(|h| !h.is_finished())
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.handle.take() {
            // The loop polls for at most 100 ms at a time.
            let _ = handle.join();
        }
    }
}

fn run(consumer: BaseConsumer, shared: &Mutex<Shared>, stop: &AtomicBool, base_ts: i64) {
    while !stop.load(Ordering::SeqCst) {
        let Some(result) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let now = Instant::now();
        let mut shared = shared.lock().unwrap_or_else(|p| p.into_inner());
        let message = match result {
            Ok(message) => message,
            Err(e) => {
                shared.last_error = Some(e.to_string());
                continue;
            }
        };
        let seq = message
            .timestamp()
            .to_millis()
            .and_then(|ts| u64::try_from(ts - base_ts).ok());
        let (Some(seq), Some(seen)) = (
            seq,
            usize::try_from(message.partition())
                .ok()
                .and_then(|p| shared.partitions.get_mut(p)),
        ) else {
            shared.foreign += 1;
            continue;
        };
        seen.records += 1;
        match seen.max_seq {
            Some(max) if seq <= max => seen.replayed(seq),
            max => {
                let expected = max.map_or(0, |m| m + 1);
                if seq > expected {
                    seen.missing.push(expected..seq);
                }
                seen.max_seq = Some(seq);
                if let Some(last) = seen.last_new {
                    seen.max_gap = seen.max_gap.max(now.duration_since(last));
                }
                seen.last_new = Some(now);
            }
        }
        if seen.arrived.is_none() && seen.threshold.is_some_and(|t| seq >= t) {
            seen.arrived = Some(now);
        }
    }
}
