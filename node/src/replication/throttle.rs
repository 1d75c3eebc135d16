//! A flow's rate limit on this node, in records and bytes per second, changed at run time.
//!
//! The cluster's limit for a flow (its configuration's `max_records_per_sec` /
//! `max_bytes_per_sec`, or an operator's `strait flows throttle`, committed through Raft) is split
//! between the nodes in proportion to the flow's partitions each owns ([`share`]); every node's
//! flow actor applies its share whenever the cluster state changes.
//!
//! Pacing as in GCRA: a batch costs `max(records / records_per_second, bytes / bytes_per_second)`
//! of the limit's time line and waits until the time line reaches it; at most [`BURST`] of unused
//! time is kept, so an idle flow starts at once and the long-run rate never exceeds the limit.
//! (governor's rate limiters fix their quota at creation and refuse a batch larger than their
//! burst; this needs both to change at run time, in two dimensions.)

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use strait_config::FlowSettings;
use strait_coordinator::state::{ClusterState, Throttle};
use strait_coordinator::NodeId;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Unused time a limit keeps for a burst.
pub const BURST: Duration = Duration::from_millis(100);

/// The rate limit of one flow on this node. Unlimited until [`set`](Self::set) says otherwise.
#[derive(Debug)]
pub struct RateLimit {
    inner: Mutex<Pace>,
    /// Wakes the batches waiting under a limit that just changed: they take their place again
    /// under the new one (else a raised limit would still hold them for the old one's time).
    changed: Notify,
    /// Nanoseconds batches waited here, in total.
    waited_nanos: AtomicU64,
}

#[derive(Debug)]
struct Pace {
    limit: Throttle,
    /// Where the limit's time line is: the next batch may start then.
    next: Instant,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Pace {
                limit: Throttle::default(),
                next: Instant::now(),
            }),
            changed: Notify::new(),
            waited_nanos: AtomicU64::new(0),
        }
    }
}

impl RateLimit {
    /// Applies `limit` from now on; true when it changed. A change forgets the time line, and the
    /// batches waiting take their places again under the new limit.
    pub fn set(&self, limit: Throttle) -> bool {
        {
            let mut pace = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            if pace.limit == limit {
                return false;
            }
            pace.limit = limit;
            pace.next = Instant::now();
        }
        self.changed.notify_waiters();
        true
    }

    pub fn limit(&self) -> Throttle {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .limit
    }

    /// Waits until `records` records of `bytes` bytes may go.
    pub async fn take(&self, records: u64, bytes: u64) {
        loop {
            // Registered before the limit is read, so that a change in between still wakes it.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let wait = {
                let mut pace = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
                let limit = pace.limit;
                if limit.is_unlimited() {
                    return;
                }
                let cost = |amount: u64, rate: u64| {
                    if rate == 0 {
                        Duration::ZERO
                    } else {
                        Duration::from_secs_f64(amount as f64 / rate as f64)
                    }
                };
                let cost = cost(records, limit.records_per_second)
                    .max(cost(bytes, limit.bytes_per_second));
                let now = Instant::now();
                let start = pace.next.max(now.checked_sub(BURST).unwrap_or(now));
                pace.next = start + cost;
                start.saturating_duration_since(now)
            };
            if wait.is_zero() {
                return;
            }
            let started = Instant::now();
            let done = tokio::select! {
                _ = tokio::time::sleep(wait) => true,
                _ = &mut changed => false,
            };
            self.waited_nanos
                .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
            if done {
                return;
            }
        }
    }

    /// How long batches waited here, in total.
    pub fn waited(&self) -> Duration {
        Duration::from_nanos(self.waited_nanos.load(Ordering::Relaxed))
    }
}

/// The cluster's limit for `settings`' flow: the operator's, or else the configured one.
pub fn cluster_limit(state: &ClusterState, settings: &FlowSettings) -> Throttle {
    state.throttle(&settings.id).unwrap_or(Throttle {
        records_per_second: settings.max_records_per_second,
        bytes_per_second: settings.max_bytes_per_second,
    })
}

/// `node`'s share of `limit` for the flow: in proportion to the flow's partitions it owns (at
/// least 1 of each limited dimension while it owns any, so that a tiny limit never stops it).
pub fn share(
    state: &ClusterState,
    settings: &FlowSettings,
    node: NodeId,
    limit: Throttle,
) -> Throttle {
    if limit.is_unlimited() {
        return limit;
    }
    let (mut owned, mut total) = (0u64, 0u64);
    for (_, info) in state.partitions().filter(|(k, _)| k.flow == settings.id) {
        total += 1;
        if info.owner.is_some_and(|o| o.node == node) {
            owned += 1;
        }
    }
    let part = |rate: u64| {
        if rate == 0 || total == 0 {
            rate
        } else {
            ((rate as u128 * owned as u128 / total as u128) as u64).max(1)
        }
    };
    Throttle {
        records_per_second: part(limit.records_per_second),
        bytes_per_second: part(limit.bytes_per_second),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn paces_records_and_bytes_and_changes_at_once() {
        let limit = RateLimit::default();
        let started = Instant::now();
        // Unlimited: no wait.
        limit.take(1_000_000, 1 << 30).await;
        assert_eq!(started.elapsed(), Duration::ZERO);
        assert!(limit.set(Throttle {
            records_per_second: 1_000,
            bytes_per_second: 0,
        }));
        assert!(!limit.set(limit.limit()), "the same limit is no change");
        // 5,000 records in batches of 100 at 1,000/s: 5 s, less the first batch's slot.
        let started = Instant::now();
        for _ in 0..50 {
            limit.take(100, 10).await;
        }
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(4_900) && took <= Duration::from_millis(5_000),
            "{took:?}"
        );
        // Bytes limit the same way, whichever dimension costs more.
        limit.set(Throttle {
            records_per_second: 1_000_000,
            bytes_per_second: 10_000,
        });
        let started = Instant::now();
        for _ in 0..10 {
            limit.take(1, 2_000).await;
        }
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(1_800) && took <= Duration::from_millis(2_000),
            "{took:?}"
        );
        assert!(limit.waited() > Duration::from_secs(6));
    }

    #[tokio::test(start_paused = true)]
    async fn a_raised_limit_applies_to_the_batches_already_waiting() {
        let limit = std::sync::Arc::new(RateLimit::default());
        limit.set(Throttle {
            records_per_second: 10,
            bytes_per_second: 0,
        });
        limit.take(100, 0).await; // The time line is now 10 s ahead.
        let waiter = {
            let limit = limit.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                limit.take(100, 0).await;
                started.elapsed()
            })
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        limit.set(Throttle {
            records_per_second: 1_000,
            bytes_per_second: 0,
        });
        let waited = waiter.await.unwrap();
        assert!(
            waited >= Duration::from_secs(1) && waited < Duration::from_millis(1_200),
            "the waiting batch went under the new limit: {waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn idle_time_is_kept_only_up_to_the_burst() {
        let limit = RateLimit::default();
        limit.set(Throttle {
            records_per_second: 100,
            bytes_per_second: 0,
        });
        tokio::time::sleep(Duration::from_secs(60)).await;
        let started = Instant::now();
        for _ in 0..20 {
            limit.take(10, 0).await;
        }
        // 200 records at 100/s: 2 s, less the 100 ms burst and the first batch's slot.
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(1_700) && took <= Duration::from_millis(1_900),
            "{took:?}"
        );
    }
}
