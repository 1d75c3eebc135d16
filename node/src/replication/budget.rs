//! The bound on in-flight data of a flow: records read from the source and not yet acknowledged by
//! the target, counted in records and in bytes. A partition actor waits here before handing a batch to
//! the producer; while it waits it reads nothing more, so a slow or unreachable target slows the
//! source down instead of growing memory.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{Mutex, Semaphore};

use crate::replication::throttle::RateLimit;

#[derive(Debug)]
pub struct InFlightBudget {
    records: Semaphore,
    bytes: Semaphore,
    max_records: u32,
    max_bytes: u32,
    /// Acquisitions go through this gate one at a time, so no two waiters each hold half of what
    /// they need (records of one, bytes of the other) and wait for each other forever.
    gate: Mutex<()>,
    /// How many acquisitions had to wait: backpressure made visible.
    waits: AtomicU64,
    /// The flow's rate limit on this node (unlimited unless set), taken before the budget.
    rate: RateLimit,
}

/// What one batch took from the budget; given back record by record as deliveries are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub records: u32,
    pub bytes: u32,
}

impl InFlightBudget {
    pub fn new(max_records: usize, max_bytes: usize) -> Self {
        let max_records =
            max_records.clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize)) as u32;
        let max_bytes = max_bytes.clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize)) as u32;
        Self {
            records: Semaphore::new(max_records as usize),
            bytes: Semaphore::new(max_bytes as usize),
            max_records,
            max_bytes,
            gate: Mutex::new(()),
            waits: AtomicU64::new(0),
            rate: RateLimit::default(),
        }
    }

    /// The whole budget: no lease may be larger.
    pub fn max(&self) -> Lease {
        Lease {
            records: self.max_records,
            bytes: self.max_bytes,
        }
    }

    /// What a record of `bytes` bytes is charged: its size, but never more than the whole budget, so
    /// that a single record larger than the budget still goes through (alone).
    pub fn charge(&self, bytes: usize) -> u32 {
        (bytes.min(u32::MAX as usize) as u32).min(self.max_bytes)
    }

    /// The flow's rate limit on this node.
    pub fn rate(&self) -> &RateLimit {
        &self.rate
    }

    /// Waits for the flow's rate limit and until `lease` fits in the budget, then takes it. The
    /// caller gives it back with [`release`](Self::release), exactly as charged.
    pub async fn acquire(&self, lease: Lease) {
        debug_assert!(lease.records <= self.max_records && lease.bytes <= self.max_bytes);
        self.rate
            .take(u64::from(lease.records), u64::from(lease.bytes))
            .await;
        let _gate = self.gate.lock().await;
        let fits_now = self.records.available_permits() >= lease.records as usize
            && self.bytes.available_permits() >= lease.bytes as usize;
        if !fits_now {
            self.waits.fetch_add(1, Ordering::Relaxed);
        }
        // The semaphores are never closed, so acquiring cannot fail.
        if let Ok(permit) = self.records.acquire_many(lease.records).await {
            permit.forget();
        }
        if let Ok(permit) = self.bytes.acquire_many(lease.bytes).await {
            permit.forget();
        }
    }

    /// Gives back part of a lease (called from the producer's delivery callback).
    pub fn release(&self, records: u32, bytes: u32) {
        if records > 0 {
            self.records.add_permits(records as usize);
        }
        if bytes > 0 {
            self.bytes.add_permits(bytes as usize);
        }
    }

    /// Records and bytes currently in flight.
    pub fn in_flight(&self) -> (u64, u64) {
        (
            u64::from(self.max_records) - self.records.available_permits() as u64,
            u64::from(self.max_bytes) - self.bytes.available_permits() as u64,
        )
    }

    pub fn waits(&self) -> u64 {
        self.waits.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn waits_until_deliveries_give_room_back() {
        let budget = Arc::new(InFlightBudget::new(10, 1000));
        budget
            .acquire(Lease {
                records: 8,
                bytes: 100,
            })
            .await;
        assert_eq!(budget.in_flight(), (8, 100));

        let waiter = {
            let budget = budget.clone();
            tokio::spawn(async move {
                budget
                    .acquire(Lease {
                        records: 5,
                        bytes: 10,
                    })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "5 more records do not fit");
        budget.release(3, 30);
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("room was given back")
            .unwrap();
        assert_eq!(budget.in_flight(), (10, 80));
        assert_eq!(budget.waits(), 1);
    }

    #[tokio::test]
    async fn an_oversized_record_is_charged_the_whole_budget_not_blocked_forever() {
        let budget = InFlightBudget::new(10, 1000);
        assert_eq!(budget.charge(5000), 1000);
        assert_eq!(budget.charge(10), 10);
        budget
            .acquire(Lease {
                records: 1,
                bytes: budget.charge(5000),
            })
            .await;
        assert_eq!(budget.in_flight(), (1, 1000));
    }
}
