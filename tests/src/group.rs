//! Consumer groups with a live member, for what must leave such groups alone.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::admin;

/// A member of a consumer group that consumes a topic in a thread of its own (committing nothing)
/// until it leaves: on [`ActiveMember::leave`], or when dropped.
pub struct ActiveMember {
    stop: Arc<AtomicBool>,
    assigned: Arc<AtomicBool>,
    poller: Option<JoinHandle<()>>,
}

impl ActiveMember {
    /// Joins `group` on the cluster at `bootstrap`, subscribed to `topic`.
    pub fn join(bootstrap: &str, group: &str, topic: &str) -> ActiveMember {
        let member: BaseConsumer = admin::client_config(bootstrap)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("session.timeout.ms", "6000")
            .create()
            .unwrap_or_else(|e| panic!("member of {group} on {bootstrap}: {e}"));
        member
            .subscribe(&[topic])
            .unwrap_or_else(|e| panic!("subscribing {group} to {topic}: {e}"));
        let stop = Arc::new(AtomicBool::new(false));
        let assigned = Arc::new(AtomicBool::new(false));
        let poller = {
            let (stop, assigned) = (stop.clone(), assigned.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let _ = member.poll(Duration::from_millis(100));
                    if member.assignment().is_ok_and(|a| a.count() > 0) {
                        assigned.store(true, Ordering::SeqCst);
                    }
                }
                // Dropping the consumer closes it: it leaves the group (LeaveGroup).
                drop(member);
            })
        };
        ActiveMember {
            stop,
            assigned,
            poller: Some(poller),
        }
    }

    /// Whether the group assigned the member partitions (at some point).
    pub fn is_assigned(&self) -> bool {
        self.assigned.load(Ordering::SeqCst)
    }

    /// Stops consuming and leaves the group; returns once the consumer is closed.
    pub fn leave(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(poller) = self.poller.take() {
            poller.join().expect("member thread");
        }
    }
}

impl Drop for ActiveMember {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(poller) = self.poller.take() {
            // Never a second panic while a failed test unwinds.
            let _ = poller.join();
        }
    }
}
