//! A steady load on the source topic: the fixtures' generated records
//! ([`strait_tests::data::generate`]), round-robin over the partitions, at a fixed total rate.
//!
//! Record `seq` of a partition has the timestamp `base_ts + seq`, and replication keeps
//! timestamps, so a reader of the target knows each record's per-partition sequence number. The
//! number of records produced so far per partition is readable at any time
//! ([`SteadyLoad::produced`]): a record whose sequence number is above that count was produced
//! after the read.
//!
//! (The fixtures' `ContinuousProducer` keeps every record it sent in memory and exposes no
//! per-partition count, hence this thin loop over the fixtures' `TestProducer`.)

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use strait_tests::data::{generate, TestProducer};

/// A producer thread writing to every partition of a topic at a steady rate until stopped.
pub struct SteadyLoad {
    stop: Arc<AtomicBool>,
    /// Next sequence number of each partition (= records handed to the producer so far).
    produced: Arc<Vec<AtomicU64>>,
    handle: Option<JoinHandle<()>>,
}

impl SteadyLoad {
    /// Starts producing to `topic` (partitions `0..partitions`) on `bootstrap`, `rate` records
    /// per second in total, record `seq` of partition `p` being `generate(p, seq, base_ts)`.
    pub fn start(
        bootstrap: &str,
        topic: &str,
        partitions: usize,
        rate: u64,
        base_ts: i64,
    ) -> SteadyLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let produced: Arc<Vec<AtomicU64>> =
            Arc::new((0..partitions).map(|_| AtomicU64::new(0)).collect());
        let (bootstrap, topic) = (bootstrap.to_owned(), topic.to_owned());
        let handle = {
            let (stop, produced) = (Arc::clone(&stop), Arc::clone(&produced));
            std::thread::Builder::new()
                .name("steady-load".to_owned())
                .spawn(move || {
                    let producer = TestProducer::new(&bootstrap);
                    let started = Instant::now();
                    let mut total: u64 = 0;
                    while !stop.load(Ordering::SeqCst) {
                        let due = started.elapsed().as_millis() as u64 * rate / 1000;
                        while total < due && !stop.load(Ordering::SeqCst) {
                            let index = (total % partitions as u64) as usize;
                            let partition = i32::try_from(index).expect("partition fits i32");
                            let seq = produced[index].load(Ordering::SeqCst);
                            producer.send(&topic, partition, &generate(partition, seq, base_ts));
                            produced[index].store(seq + 1, Ordering::SeqCst);
                            total += 1;
                        }
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    producer.flush();
                })
                .expect("spawning the load thread")
        };
        SteadyLoad {
            stop,
            produced,
            handle: Some(handle),
        }
    }

    /// Records handed to the producer so far, by partition. Record `seq` of partition `p` with
    /// `seq > produced()[p]` was handed over after this call returned.
    pub fn produced(&self) -> Vec<u64> {
        self.produced
            .iter()
            .map(|n| n.load(Ordering::SeqCst))
            .collect()
    }

    /// Records handed to the producer so far, in total.
    pub fn total(&self) -> u64 {
        self.produced().iter().sum()
    }

    /// Stops producing and waits until every record is acknowledged (panics on a delivery
    /// failure).
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.handle.take() {
            if let Err(panic) = handle.join() {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

impl Drop for SteadyLoad {
    /// Stops the thread without waiting for it (it may be blocked on a broker that is gone).
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}
