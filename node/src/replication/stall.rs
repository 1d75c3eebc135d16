//! Stall detection: a partition with records handed to the producer and no acknowledgement from
//! the target for [`STALL_AFTER`] is reported as stalled (its status error, the progress line,
//! `strait_replication_stalled_partitions`, a WARN line when it starts and an INFO line when it
//! clears). A target that drops packets silently makes librdkafka report nothing until its
//! request and message timeouts; this says so within [`STALL_AFTER`] + [`CHECK_INTERVAL`].
//!
//! The check runs outside the partition actors (their events wait while a full budget holds
//! them back, which is exactly when a target stops acknowledging): a node-wide task
//! ([`watch`]) looks at every partition's acknowledgement window once a [`CHECK_INTERVAL`]. It
//! compares the window's count of acknowledged records with the last check's, so the delivery
//! path pays nothing for it. A partition with nothing in flight (idle, or every record resolved)
//! is never stalled; a slow target that still acknowledges something of the partition between
//! two checks ten seconds apart is not either.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::replication::ack::AckWindow;
use crate::replication::status::NodeStatus;

/// How long a partition may have records in flight without any acknowledgement before it is
/// reported as stalled.
pub const STALL_AFTER: Duration = Duration::from_secs(10);
/// How often the partitions' acknowledgement windows are looked at.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// A partition waiting for the target: for how long (as of the last check) and with how many
/// records in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stall {
    pub waited: Duration,
    pub in_flight: usize,
}

impl std::fmt::Display for Stall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "target not acknowledging for {}s ({} records in flight)",
            self.waited.as_secs(),
            self.in_flight
        )
    }
}

/// What a check found changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The partition just became stalled.
    Started(Stall),
    /// It was stalled for `lasted` and no longer is: the target acknowledged records again
    /// (`acked`), or its records in flight were resolved otherwise (failed deliveries).
    Cleared { lasted: Duration, acked: bool },
}

/// One partition's watch over its acknowledgement window.
#[derive(Debug)]
pub struct StallWatch {
    ack: Arc<AckWindow>,
    /// Records acknowledged as of the last check.
    acked: u64,
    /// When the partition last made progress: an acknowledgement, or nothing in flight.
    progress_at: Instant,
    stalled: Option<Stall>,
}

impl StallWatch {
    pub fn new(ack: Arc<AckWindow>, now: Instant) -> Self {
        let (acked, _) = ack.acked_totals();
        Self {
            ack,
            acked,
            progress_at: now,
            stalled: None,
        }
    }

    /// Whether this watches `ack`.
    pub fn watches(&self, ack: &Arc<AckWindow>) -> bool {
        Arc::ptr_eq(&self.ack, ack)
    }

    pub fn stalled(&self) -> Option<Stall> {
        self.stalled
    }

    /// Looks at the window at `now` (calls come in time order).
    pub fn check(&mut self, now: Instant) -> Option<Change> {
        let (acked, _) = self.ack.acked_totals();
        let in_flight = self.ack.unresolved();
        let moved = acked != self.acked;
        self.acked = acked;
        if moved || in_flight == 0 {
            self.progress_at = now;
            return self.stalled.take().map(|stall| Change::Cleared {
                lasted: stall.waited,
                acked: moved,
            });
        }
        let waited = now.saturating_duration_since(self.progress_at);
        if waited < STALL_AFTER {
            return None;
        }
        let stall = Stall { waited, in_flight };
        let started = self.stalled.is_none();
        self.stalled = Some(stall);
        started.then_some(Change::Started(stall))
    }
}

/// Checks every partition of the node once a [`CHECK_INTERVAL`], for the life of the node.
pub async fn watch(status: NodeStatus) {
    let mut ticker = tokio::time::interval(CHECK_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        status.check_stalls(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pushed(ack: &AckWindow, offsets: std::ops::Range<i64>) {
        ack.push(offsets.clone(), offsets).unwrap();
    }

    #[test]
    fn records_in_flight_without_acknowledgement_stall_and_clear_when_acknowledged() {
        let t0 = Instant::now();
        let at = |secs| t0 + Duration::from_secs(secs);
        let ack = Arc::new(AckWindow::new(None));
        let mut watch = StallWatch::new(ack.clone(), t0);
        pushed(&ack, 0..5);
        assert_eq!(watch.check(at(1)), None);
        assert_eq!(watch.check(at(9)), None, "not for long enough");
        let stall = Stall {
            waited: Duration::from_secs(10),
            in_flight: 5,
        };
        assert_eq!(watch.check(at(10)), Some(Change::Started(stall)));
        assert_eq!(
            stall.to_string(),
            "target not acknowledging for 10s (5 records in flight)"
        );
        assert_eq!(watch.check(at(12)), None, "said once");
        assert_eq!(
            watch.stalled(),
            Some(Stall {
                waited: Duration::from_secs(12),
                in_flight: 5
            }),
            "and kept current"
        );
        ack.ack(0, 0, 1);
        assert_eq!(
            watch.check(at(13)),
            Some(Change::Cleared {
                lasted: Duration::from_secs(12),
                acked: true
            })
        );
        assert_eq!(watch.stalled(), None);
        // The clock starts again from the acknowledgement.
        assert_eq!(watch.check(at(22)), None);
        assert!(matches!(watch.check(at(23)), Some(Change::Started(_))));
    }

    #[test]
    fn an_idle_partition_never_stalls() {
        let t0 = Instant::now();
        let ack = Arc::new(AckWindow::new(None));
        let mut watch = StallWatch::new(ack.clone(), t0);
        for secs in [5, 11, 60] {
            assert_eq!(watch.check(t0 + Duration::from_secs(secs)), None);
        }
        // Records handed over after a long idle time: their wait starts about then.
        pushed(&ack, 0..1);
        assert_eq!(watch.check(t0 + Duration::from_secs(61)), None);
        assert_eq!(watch.check(t0 + Duration::from_secs(69)), None);
        assert!(watch.check(t0 + Duration::from_secs(70)).is_some());
    }

    #[test]
    fn a_slow_target_that_still_acknowledges_is_not_stalled() {
        let t0 = Instant::now();
        let ack = Arc::new(AckWindow::new(None));
        let mut watch = StallWatch::new(ack.clone(), t0);
        pushed(&ack, 0..100);
        for offset in 0..30 {
            ack.ack(offset, offset, 1);
            assert_eq!(
                watch.check(t0 + Duration::from_secs(9 * (offset as u64 + 1))),
                None
            );
        }
    }

    #[test]
    fn records_resolved_by_failures_clear_the_stall() {
        let t0 = Instant::now();
        let ack = Arc::new(AckWindow::new(None));
        let mut watch = StallWatch::new(ack.clone(), t0);
        pushed(&ack, 0..2);
        assert!(watch.check(t0 + STALL_AFTER).is_some());
        let timeout = rdkafka::error::KafkaError::MessageProduction(
            rdkafka::error::RDKafkaErrorCode::MessageTimedOut,
        );
        for offset in 0..2 {
            ack.fail(
                offset,
                crate::replication::error::PartitionError::Delivery(timeout.clone()),
            );
        }
        assert_eq!(
            watch.check(t0 + Duration::from_secs(30)),
            Some(Change::Cleared {
                lasted: STALL_AFTER,
                acked: false
            })
        );
    }
}
