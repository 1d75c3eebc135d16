//! The partition actor on in-memory fakes of the source, the target and the fence
//! (`replication::testing`): ordering, acknowledgements, retirement, failures and backoff, and
//! the in-flight bound, without brokers.

use std::sync::Mutex;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use strait_coordinator::{OffsetRun, PartitionKey};
use strait_storage::Store;

use super::*;
use crate::replication::testing::{Fake, FakeFence, FakeSink, FakeSource, Record, SourceCall};

const DEADLINE: Duration = Duration::from_secs(10);
/// The backoffs in these tests: short, so that a test runs in well under a second or two.
const FIRST: Duration = Duration::from_millis(40);
const MAX: Duration = Duration::from_millis(300);
const EPOCH: u64 = 7;

/// Polls `done` every 5 ms until it holds; fails the test after [`DEADLINE`].
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting until {what}");
        actix_rt::time::sleep(Duration::from_millis(5)).await;
    }
}

fn tp(partition: i32) -> TopicPartition {
    TopicPartition::new("t".to_owned(), partition)
}

fn records(offsets: impl IntoIterator<Item = i64>) -> Vec<Record> {
    offsets.into_iter().map(Record::numbered).collect()
}

fn position(next_source_offset: i64, last_target_offset: i64) -> Option<Position> {
    Some(Position {
        next_source_offset,
        last_target_offset,
    })
}

/// What the flow actor was told by a retired partition actor.
#[derive(Debug, Clone, PartialEq)]
struct RetiredNote {
    tp: TopicPartition,
    epoch: u64,
    position: Option<Position>,
    runs: Vec<OffsetRun>,
}

/// Stands in for the flow actor: notes every [`Retired`].
struct FlowProbe(Arc<Mutex<Vec<RetiredNote>>>);

impl Actor for FlowProbe {
    type Context = Context<Self>;
}

impl Handler<Retired> for FlowProbe {
    type Result = ();

    fn handle(&mut self, retired: Retired, _ctx: &mut Self::Context) {
        self.0.lock().unwrap().push(RetiredNote {
            tp: retired.tp,
            epoch: retired.epoch,
            position: retired.position,
            runs: retired.runs,
        });
    }
}

/// One flow's worth of fakes and stores, with partition actors started on them.
struct Harness {
    flow: FlowId,
    source: Arc<FakeSource>,
    sink: FakeSink,
    budget: Arc<InFlightBudget>,
    status: NodeStatus,
    positions: PositionStore,
    retired: Arc<Mutex<Vec<RetiredNote>>>,
    probe: Addr<FlowProbe>,
    _dir: tempfile::TempDir,
}

impl Harness {
    fn new(max_records: usize, max_bytes: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Duration::from_millis(100)).unwrap();
        let retired = Arc::new(Mutex::new(Vec::new()));
        Self {
            flow: "A->B".parse().unwrap(),
            source: Arc::default(),
            sink: FakeSink::default(),
            budget: Arc::new(InFlightBudget::new(max_records, max_bytes)),
            status: NodeStatus::default(),
            positions: store.positions().unwrap(),
            probe: FlowProbe(retired.clone()).start(),
            retired,
            _dir: dir,
        }
    }

    /// Starts the actor of `tp` behind `fence`, under a supervisor, with the tests' backoffs.
    fn start_fenced(
        &self,
        tp: &TopicPartition,
        fence: FakeFence,
        principal: Option<&str>,
    ) -> (Addr<PartitionActor<Fake>>, Arc<AckWindow>) {
        self.source.add_partition(tp);
        let mut actor = PartitionActor::new(PartitionSpec::<Fake> {
            flow: self.flow.clone(),
            tp: tp.clone(),
            remote_topic: Arc::from(format!("A.{}", tp.topic)),
            consumer: self.source.clone(),
            producer: self.sink.clone(),
            budget: self.budget.clone(),
            positions: self.positions.clone(),
            status: self.status.clone(),
            flush_interval: Duration::from_millis(20),
            epoch: EPOCH,
            generation: 1,
            replicated: None,
            retired: self.probe.clone().recipient(),
            fence,
            offset_reset: OffsetReset::Earliest,
            source_principal: principal.map(Arc::from),
        })
        .unwrap();
        actor.backoff_limits = (FIRST, MAX);
        let ack = actor.ack_window();
        (Supervisor::start(move |_| actor), ack)
    }

    fn start(&self, tp: &TopicPartition) -> (Addr<PartitionActor<Fake>>, Arc<AckWindow>) {
        self.start_fenced(tp, FakeFence::default(), None)
    }

    fn status(&self, tp: &TopicPartition) -> Option<PartitionStatus> {
        self.status
            .partitions()
            .into_iter()
            .find(|((flow, t), _)| *flow == self.flow && t == tp)
            .map(|(_, status)| status)
    }

    fn stored(&self, tp: &TopicPartition) -> Option<Position> {
        let key = PartitionKey::new(self.flow.clone(), tp.topic.clone(), tp.partition);
        self.positions.get(&key).unwrap()
    }

    fn stored_runs(&self, tp: &TopicPartition) -> Vec<OffsetRun> {
        let key = PartitionKey::new(self.flow.clone(), tp.topic.clone(), tp.partition);
        let runs = self.positions.offset_map().runs(&key).unwrap();
        runs.iter().collect()
    }

    /// The records that landed in `tp`'s remote partition, checking that they landed there, back
    /// to back from target offset 0.
    fn landed(&self, tp: &TopicPartition) -> Vec<Record> {
        let landed = self.sink.landed(&format!("A.{}", tp.topic), tp.partition);
        for (i, l) in landed.iter().enumerate() {
            assert_eq!(l.target_offset, i as i64);
            assert_eq!((l.topic.as_str(), l.partition), ("A.t", tp.partition));
        }
        landed.into_iter().map(|l| l.record).collect()
    }

    fn retired(&self) -> Vec<RetiredNote> {
        self.retired.lock().unwrap().clone()
    }
}

fn run(source_start: i64, target_start: i64, len: i64) -> OffsetRun {
    OffsetRun {
        source_start,
        target_start,
        len,
    }
}

#[actix_rt::test]
async fn copies_records_in_order_and_moves_the_position_only_over_acknowledged_ones() {
    let h = Harness::new(1_000, 1 << 20);
    let p0 = tp(0);
    // Offsets 100..110 were compacted away: a gap in the source, none in the target.
    let mut source = records((0..100).chain(110..300));
    h.source.append(&p0, source.clone());
    h.sink.hold();
    let (_addr, ack) = h.start(&p0);

    until("every record is handed over", || h.sink.held() == 290).await;
    assert_eq!(ack.committed(), None, "nothing is acknowledged yet");
    assert_eq!(h.stored(&p0), None);
    assert_eq!(h.status(&p0).unwrap().next_source_offset, None);

    h.sink.release(50, false);
    assert_eq!(ack.committed(), position(50, 49));
    until("the position is stored", || {
        h.stored(&p0) == position(50, 49)
    })
    .await;

    h.sink.release(usize::MAX, true);
    let more = records(300..500);
    h.source.append(&p0, more.clone());
    source.extend(more);
    until("every record landed", || h.landed(&p0).len() == 490).await;
    assert_eq!(h.landed(&p0), source, "record for record, in order");
    assert_eq!(ack.committed(), position(500, 489));
    until("the last position is stored", || {
        h.stored(&p0) == position(500, 489)
    })
    .await;
    assert_eq!(h.stored_runs(&p0), vec![run(0, 0, 100), run(110, 100, 390)]);
    let status = h.status(&p0).unwrap();
    assert_eq!(
        (status.state, status.records, status.restarts),
        (PartitionState::Running, 490, 0)
    );
    assert!(status.last_error.is_none());
    assert_eq!(
        h.source.calls(&p0),
        vec![SourceCall::Split, SourceCall::Assign(Offset::Beginning)]
    );
    assert_eq!(h.budget.in_flight(), (0, 0));
}

#[actix_rt::test]
async fn retire_stops_reading_and_retires_once_everything_handed_over_is_acknowledged() {
    let h = Harness::new(1_000, 1 << 20);
    let p0 = tp(0);
    h.source.append(&p0, records(0..200));
    h.sink.hold();
    let (addr, _ack) = h.start(&p0);
    until("every record is handed over", || h.sink.held() == 200).await;

    addr.send(Retire).await.unwrap();
    assert_eq!(h.status(&p0).unwrap().state, PartitionState::Draining);
    // Written after the retirement began: never read by this actor.
    h.source.append(&p0, records(200..300));
    h.sink.release(150, false);
    until("150 records are acknowledged", || {
        h.landed(&p0).len() == 150
    })
    .await;
    // Its next owner starts where it stops: not before the last 50 are resolved.
    addr.send(PersistNow).await.unwrap();
    assert!(h.retired().is_empty(), "50 records are still in flight");

    h.sink.release(usize::MAX, true);
    until("the actor retired", || !h.retired().is_empty()).await;
    assert_eq!(
        h.retired(),
        vec![RetiredNote {
            tp: p0.clone(),
            epoch: EPOCH,
            position: position(200, 199),
            runs: vec![run(0, 0, 200)],
        }]
    );
    assert_eq!(h.landed(&p0), records(0..200));
    assert_eq!(h.stored(&p0), position(200, 199));
    assert_eq!(h.source.read(&p0), 200, "nothing read after Retire");
    assert!(
        h.status(&p0).is_none(),
        "a retired partition leaves the status"
    );
    assert_eq!(h.source.calls(&p0).last(), Some(&SourceCall::Unassign));
}

#[actix_rt::test]
async fn a_supervisor_restart_of_a_retired_actor_stays_idle_and_says_retired_once() {
    let h = Harness::new(1_000, 1 << 20);
    let p0 = tp(0);
    h.source.append(&p0, records(0..10));
    let (addr, _ack) = h.start(&p0);
    until("every record landed", || h.landed(&p0).len() == 10).await;
    addr.send(Retire).await.unwrap();
    until("the actor retired", || h.retired().len() == 1).await;
    let calls = h.source.calls(&p0);

    // The flow still holds the address: the supervisor restarts the stopped actor. Messages
    // reach the restarted one (a round trip each), and it does nothing with them.
    h.source.append(&p0, records(10..20));
    addr.send(PersistNow).await.unwrap();
    addr.send(StopReading).await.unwrap();
    addr.send(Retire).await.unwrap();
    addr.send(PersistNow).await.unwrap();
    // Twice its retire check, for a second Retired that must not come.
    actix_rt::time::sleep(RETIRE_CHECK * 2).await;
    addr.send(PersistNow).await.unwrap();

    assert_eq!(h.retired().len(), 1, "Retired once");
    assert_eq!(h.source.calls(&p0), calls, "no assignment touched");
    assert_eq!(h.source.read(&p0), 10);
    assert_eq!(h.landed(&p0).len(), 10);
    assert!(
        h.status(&p0).is_none(),
        "the partition's status is not reported again: {:?}",
        h.status(&p0)
    );
}

#[actix_rt::test]
async fn a_fatal_delivery_error_stops_only_its_partition_until_it_goes_away() {
    let h = Harness::new(1_000, 1 << 20);
    let (p0, p1) = (tp(0), tp(1));
    h.source.append(&p0, records(0..100));
    h.source.append(&p1, records(0..100));
    let too_large = KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge);
    h.sink.fail_at(0, 40, usize::MAX, too_large);
    let before = SystemTime::now();
    let (_a0, ack0) = h.start(&p0);
    let (_a1, _ack1) = h.start(&p1);

    until("partition 1 copied everything", || {
        h.landed(&p1).len() == 100
    })
    .await;
    until("partition 0 backs off", || {
        h.status(&p0)
            .is_some_and(|s| matches!(s.state, PartitionState::BackingOff { .. }))
    })
    .await;
    let status = h.status(&p0).unwrap();
    let PartitionState::BackingOff { until: retry_at } = status.state else {
        unreachable!()
    };
    assert!(
        retry_at >= before + MAX,
        "a fatal error waits the longest backoff at once"
    );
    assert!(matches!(
        &status.last_error,
        Some(PartitionFault::Failed(PartitionError::Delivery(e)))
            if e.rdkafka_error_code() == Some(RDKafkaErrorCode::MessageSizeTooLarge)
    ));
    assert_eq!(
        status.last_error.unwrap().to_string(),
        "delivery to the target failed: Message production error: MessageSizeTooLarge \
         (Broker: Message size too large)"
    );
    assert_eq!(
        h.landed(&p0),
        records(0..40),
        "stops right before the record"
    );
    assert_eq!(ack0.committed(), position(40, 39));

    // The other partition goes on.
    h.source.append(&p1, records(100..150));
    until("partition 1 copied the new records", || {
        h.landed(&p1).len() == 150
    })
    .await;
    assert_eq!(h.landed(&p1), records(0..150));

    // Retried at the longest backoff, failing again while the target refuses the record...
    until("partition 0 failed twice", || {
        h.status(&p0).is_some_and(|s| s.restarts >= 2)
    })
    .await;
    assert_eq!(h.landed(&p0), records(0..40));
    // ... and copying the rest once it takes it: nothing lost, nothing twice.
    h.sink.fail_at(0, 40, 0, KafkaError::Canceled);
    until("partition 0 copied everything", || {
        h.landed(&p0).len() == 100
    })
    .await;
    assert_eq!(h.landed(&p0), records(0..100));
    until("partition 0 runs", || {
        h.status(&p0)
            .is_some_and(|s| s.state == PartitionState::Running)
    })
    .await;
}

#[actix_rt::test]
async fn a_source_that_denies_read_fails_the_partition_with_the_principal_in_its_status() {
    let h = Harness::new(1_000, 1 << 20);
    let p0 = tp(0);
    h.source.append(&p0, records(0..10));
    h.source.fail_next_fetch(
        &p0,
        KafkaError::MessageConsumption(RDKafkaErrorCode::TopicAuthorizationFailed),
    );
    let (_addr, _ack) = h.start_fenced(&p0, FakeFence::default(), Some("User:alice"));
    until("the partition backs off", || {
        h.status(&p0)
            .is_some_and(|s| matches!(s.state, PartitionState::BackingOff { .. }))
    })
    .await;
    let error = h.status(&p0).unwrap().last_error.unwrap();
    let PartitionFault::Failed(failed @ PartitionError::ReadDenied { topic, principal }) = &error
    else {
        panic!("not ReadDenied: {error:?}");
    };
    assert_eq!((topic.as_str(), principal.as_str()), ("t", "User:alice"));
    assert_eq!(failed.class(), ErrorClass::Fatal);
    assert!(error
        .to_string()
        .contains("User:alice may not read topic t"));
    assert!(
        h.landed(&p0).is_empty(),
        "nothing of the failed batch is written"
    );
    // The next attempt reads it.
    until("the records landed after the backoff", || {
        h.landed(&p0).len() == 10
    })
    .await;
}

/// A delivery error the producer recovers from (a timeout, or the target fencing the producer's
/// epoch, after which the producer actor replaces it): the partition backs off, doubling, and
/// sends again from the last acknowledged record. The fake target, like the idempotent
/// producer, writes nothing after a failed record: no record lands twice.
async fn retries_a_retriable_delivery_error(code: RDKafkaErrorCode) {
    let h = Harness::new(1_000, 1 << 20);
    let p0 = tp(0);
    h.source.append(&p0, records(0..300));
    h.sink
        .fail_at(0, 120, 2, KafkaError::MessageProduction(code));
    let started = Instant::now();
    let (_addr, ack) = h.start(&p0);

    until("every record landed", || h.landed(&p0).len() == 300).await;
    assert!(
        started.elapsed() >= FIRST + FIRST * 2,
        "two backoffs, the second twice the first"
    );
    assert_eq!(h.landed(&p0), records(0..300), "no gap, no duplicate");
    assert_eq!(ack.committed(), position(300, 299));
    let status = h.status(&p0).unwrap();
    assert_eq!(
        (status.restarts, status.state),
        (2, PartitionState::Running)
    );
    assert!(matches!(
        &status.last_error,
        Some(PartitionFault::Failed(PartitionError::Delivery(e)))
            if e.rdkafka_error_code() == Some(code)
    ));
    assert_eq!(h.source.read(&p0), 300 + 180 * 2, "re-read from 120, twice");
    assert_eq!(
        h.source.calls(&p0),
        vec![
            SourceCall::Split,
            SourceCall::Assign(Offset::Beginning),
            SourceCall::Unassign,
            SourceCall::Split,
            SourceCall::Assign(Offset::Offset(120)),
            SourceCall::Unassign,
            SourceCall::Split,
            SourceCall::Assign(Offset::Offset(120)),
        ]
    );
    assert_eq!(h.budget.in_flight(), (0, 0));
}

#[actix_rt::test]
async fn a_delivery_timeout_backs_off_and_resends_from_the_last_acknowledged_record() {
    retries_a_retriable_delivery_error(RDKafkaErrorCode::MessageTimedOut).await;
}

#[actix_rt::test]
async fn a_fenced_producer_epoch_backs_off_and_resends_from_the_last_acknowledged_record() {
    retries_a_retriable_delivery_error(RDKafkaErrorCode::InvalidProducerEpoch).await;
}

#[actix_rt::test]
async fn a_retriable_fetch_error_is_reported_and_the_partition_keeps_running() {
    let h = Harness::new(1_000, 1 << 20);
    let p0 = tp(0);
    h.source.append(&p0, records(0..10));
    h.source.fail_next_fetch(
        &p0,
        KafkaError::MessageConsumption(RDKafkaErrorCode::BrokerTransportFailure),
    );
    let (_addr, _ack) = h.start(&p0);
    until("the records landed", || h.landed(&p0).len() == 10).await;
    h.source.append(&p0, records(10..20));
    until("the next records landed", || h.landed(&p0).len() == 20).await;
    assert_eq!(h.landed(&p0), records(0..20));
    // The status follows at the next position flush.
    until("the error is in the status", || {
        h.status(&p0).is_some_and(|s| s.last_error.is_some())
    })
    .await;
    let status = h.status(&p0).unwrap();
    assert_eq!(
        (status.restarts, status.state),
        (0, PartitionState::Running)
    );
    let error = status.last_error.unwrap();
    assert!(matches!(error, PartitionFault::FetchRetried(_)));
    assert!(error.to_string().starts_with("source fetch: "), "{error}");
}

#[actix_rt::test]
async fn a_closed_fence_stops_writing_at_once_and_only_for_its_partition() {
    let h = Harness::new(1_000, 1 << 20);
    let (p0, p1) = (tp(0), tp(1));
    h.source.append(&p0, records(0..50));
    h.source.append(&p1, records(0..50));
    let fence0 = FakeFence::default();
    let (a0, _ack0) = h.start_fenced(&p0, fence0.clone(), None);
    let (_a1, _ack1) = h.start(&p1);
    until("both copied their records", || {
        h.landed(&p0).len() == 50 && h.landed(&p1).len() == 50
    })
    .await;

    // Partition 0 moved to another node (or this node lost its lease): nothing more from it.
    fence0.set(false);
    h.source.append(&p0, records(50..100));
    h.source.append(&p1, records(50..100));
    until("partition 0 read its next batch", || {
        h.source.read(&p0) == 100
    })
    .await;
    until("partition 1 copied its next records", || {
        h.landed(&p1).len() == 100
    })
    .await;
    addr_round_trip(&a0).await;
    assert_eq!(h.landed(&p0), records(0..50), "fenced: nothing written");
    assert_eq!(h.landed(&p1), records(0..100));

    // The flow retires it: its final position is what was acknowledged before the fence.
    a0.send(Retire).await.unwrap();
    until("partition 0 retired", || h.retired().len() == 1).await;
    assert_eq!(h.retired()[0].position, position(50, 49));
}

async fn addr_round_trip(addr: &Addr<PartitionActor<Fake>>) {
    addr.send(PersistNow).await.unwrap();
}

#[actix_rt::test]
async fn a_slow_target_bounds_the_records_and_bytes_in_flight() {
    // Each numbered record is 20 to 30 bytes: the byte bound cuts batches below 100 records.
    let (max_records, max_bytes) = (100, 1_500);
    let h = Harness::new(max_records, max_bytes);
    let p0 = tp(0);
    let source = records(0..1_000);
    h.source.append(&p0, source.clone());
    h.sink.hold();
    let (_addr, _ack) = h.start(&p0);

    until("the first batch is handed over", || h.sink.held() > 0).await;
    until("the next batch waits for room", || h.budget.waits() >= 1).await;
    let first = h.sink.held();
    let (records_in_flight, bytes_in_flight) = h.budget.in_flight();
    assert_eq!(records_in_flight, first as u64);
    assert!(records_in_flight <= max_records as u64 && bytes_in_flight <= max_bytes as u64);
    // One batch handed over, one waiting: nothing more is read while the target is stuck.
    let read = h.source.read(&p0);
    assert!(
        read <= 2 * first as u64,
        "read {read} with {first} in flight"
    );

    let mut rounds = 0;
    while h.landed(&p0).len() < source.len() {
        until("records are handed over", || {
            h.sink.held() > 0 || h.landed(&p0).len() == source.len()
        })
        .await;
        let (records_in_flight, bytes_in_flight) = h.budget.in_flight();
        assert!(
            records_in_flight <= max_records as u64,
            "{records_in_flight} records"
        );
        assert!(
            bytes_in_flight <= max_bytes as u64,
            "{bytes_in_flight} bytes"
        );
        assert!(h.sink.held() <= max_records);
        h.sink.release(usize::MAX, false);
        rounds += 1;
    }
    assert!(rounds >= 10, "{rounds} rounds");
    assert_eq!(h.landed(&p0), source);
    assert_eq!(h.budget.in_flight(), (0, 0));
}

#[actix_rt::test]
async fn a_position_below_the_log_start_resumes_there_and_reports_the_skip() {
    let h = Harness::new(1_000, 1 << 20);
    let p0 = tp(0);
    h.source.append(&p0, records(0..100));
    // Retention deleted 0..40 before the partition was ever read; its fetch at 0 is out of range.
    h.source.delete_before(&p0, 40);
    let key = PartitionKey::new(h.flow.clone(), "t", 0);
    h.positions.put(&key, position(0, -1).unwrap()).unwrap();
    let (_addr, ack) = h.start(&p0);
    until("the rest landed", || h.landed(&p0).len() == 60).await;
    assert_eq!(h.landed(&p0), records(40..100));
    assert_eq!(ack.committed(), position(100, 59));
    let status = h.status(&p0).unwrap();
    assert_eq!(
        (status.records_skipped, status.last_skip, status.restarts),
        (40, Some((0, 40)), 0)
    );
}

/// The lease lapses for one check and is back for the next: what a node resumed after a pause
/// (SIGSTOP, a VM stall) lives through, its actor thread descheduled between two batches while
/// its Raft thread gets in touch with the cluster again. The batch checked while fenced is not
/// written, and nothing after it may be either until the partition reads again from its
/// acknowledged position: otherwise its acknowledgement window, which takes gaps in the source
/// offsets for compaction, moves the position over the records never sent (this lost ~1,200
/// records per partition in `cut_off_node_stops_writing_until_contact_returns`).
#[actix_rt::test]
async fn a_fence_that_reopens_between_two_batches_loses_nothing() {
    // The budget cuts batches at 50 records.
    let h = Harness::new(50, 1 << 20);
    let p0 = tp(0);
    h.source.append(&p0, records(0..50));
    let fence = FakeFence::default();
    let (_addr, ack) = h.start_fenced(&p0, fence.clone(), None);
    until("the first records are acknowledged", || {
        ack.committed() == position(50, 49)
    })
    .await;

    // Two batches arrive at once: the first is checked while the lease has lapsed, the second
    // (in the same poll of the actor's stream) once it is back.
    fence.deny_next(1);
    h.source.append(&p0, records(50..150));
    until("the fenced check happened", || fence.denials_left() == 0).await;
    until("the position reaches the end", || {
        ack.committed().is_some_and(|p| p.next_source_offset >= 150)
    })
    .await;
    let offsets: Vec<i64> = h.landed(&p0).iter().map(|r| r.offset).collect();
    assert_eq!(
        offsets,
        (0..150).collect::<Vec<_>>(),
        "every record, in order, no gap; position {:?}",
        ack.committed()
    );
    assert_eq!(h.landed(&p0), records(0..150));
    assert_eq!(ack.committed(), position(150, 149));
    until("the position is stored", || {
        h.stored(&p0) == position(150, 149)
    })
    .await;
    assert_eq!(h.stored_runs(&p0), vec![run(0, 0, 150)]);
    // It stopped reading at the fenced batch, and read again from its position once the lease
    // was back: nothing for its acknowledgement window to refuse (see `AckWindow::push`).
    let status = h.status(&p0).unwrap();
    assert_eq!(
        (status.restarts, status.last_error.map(|e| e.to_string())),
        (0, None)
    );
}

/// A batch that waits for room in the budget while the fence closes is checked again before it
/// is handed over: not written, and nothing read after it either; once the lease is back the
/// partition reads again from its acknowledged position, and every record lands once, in order.
#[actix_rt::test]
async fn a_batch_waiting_for_room_when_the_fence_closes_is_not_written_nor_anything_after_it() {
    let h = Harness::new(50, 1 << 20);
    let p0 = tp(0);
    h.source.append(&p0, records(0..50));
    h.sink.hold();
    let fence = FakeFence::default();
    let (addr, ack) = h.start_fenced(&p0, fence.clone(), None);
    until("the first batch is handed over", || h.sink.held() == 50).await;
    h.source.append(&p0, records(50..100));
    until("the next batch waits for room", || h.budget.waits() >= 1).await;

    fence.set(false);
    h.sink.release(usize::MAX, true);
    until("the first batch is acknowledged", || {
        ack.committed() == position(50, 49)
    })
    .await;
    // Read after the dropped batch, if the read went on.
    h.source.append(&p0, records(100..150));
    addr.send(PersistNow).await.unwrap();
    actix_rt::time::sleep(FIRST * 3).await;
    addr.send(PersistNow).await.unwrap();
    assert_eq!(
        h.landed(&p0),
        records(0..50),
        "nothing written while fenced"
    );
    assert_eq!(ack.committed(), position(50, 49));
    assert_eq!(
        h.budget.in_flight(),
        (0, 0),
        "the dropped batch gave its room back"
    );

    fence.set(true);
    until("every record landed", || h.landed(&p0).len() >= 150).await;
    assert_eq!(h.landed(&p0), records(0..150), "once each, in order");
    until("the position reaches the end", || {
        ack.committed() == position(150, 149)
    })
    .await;
}

/// A target that stops acknowledging while the budget is full (the actor waits for room, so only
/// the node's stall check can tell): after [`STALL_AFTER`] the partition is reported stalled in
/// its status and its flow's errors, an idle partition is not, a target that acknowledges
/// something between two checks is not, and the stall clears when acknowledgements resume.
#[actix_rt::test]
async fn a_target_that_stops_acknowledging_is_reported_as_stalled_until_it_acknowledges() {
    use crate::replication::stall::STALL_AFTER;
    let h = Harness::new(100, 1 << 20);
    let (p0, p1) = (tp(0), tp(1));
    h.source.append(&p0, records(0..1_000));
    h.sink.hold();
    let (_a0, _ack0) = h.start(&p0);
    let (_a1, _ack1) = h.start(&p1);
    until("the next batch waits for room", || h.budget.waits() >= 1).await;
    until("both partitions run", || {
        [&p0, &p1].iter().all(|p| {
            h.status(p)
                .is_some_and(|s| s.state == PartitionState::Running)
        })
    })
    .await;
    let t0 = Instant::now();
    h.status.check_stalls(t0);
    h.status
        .check_stalls(t0 + STALL_AFTER - Duration::from_secs(1));
    assert_eq!(h.status(&p0).unwrap().stalled, None, "not for long enough");

    // Acknowledged a little between two checks: slow, not stalled.
    h.sink.release(1, false);
    h.status
        .check_stalls(t0 + STALL_AFTER + Duration::from_secs(1));
    assert_eq!(
        h.status(&p0).unwrap().stalled,
        None,
        "an acknowledgement came"
    );
    assert_eq!(h.status.flow(&h.flow).stalled, 0);

    let in_flight = h.sink.held();
    let later = t0 + 2 * STALL_AFTER + Duration::from_secs(2);
    h.status.check_stalls(later);
    let p0_status = h.status(&p0).unwrap();
    let expected = format!("target not acknowledging for 11s ({in_flight} records in flight)");
    assert_eq!(p0_status.state, PartitionState::Running);
    assert_eq!(p0_status.error(), Some(expected.clone()));
    assert_eq!(
        h.status(&p1).unwrap().stalled,
        None,
        "idle: nothing in flight"
    );
    assert_eq!(h.status(&p1).unwrap().error(), None);
    let flow = h.status.flow(&h.flow);
    assert_eq!(flow.stalled, 1);
    assert_eq!(flow.errors, vec![format!("t-0: {expected}")]);

    h.sink.release(usize::MAX, true);
    until("every record landed", || h.landed(&p0).len() == 1_000).await;
    h.status.check_stalls(later + Duration::from_secs(1));
    assert_eq!(h.status(&p0).unwrap().stalled, None, "acknowledged again");
    assert_eq!(h.status(&p0).unwrap().error(), None);
    let flow = h.status.flow(&h.flow);
    assert_eq!((flow.stalled, flow.errors), (0, vec![]));
}

/// Exactly-once: the target keeps the position committed with the last transaction (here ahead
/// of every position Strait stored, as after a crash of the previous owner between its commit and
/// its next position proposal). The actor resumes there: nothing before it is written again.
#[actix_rt::test]
async fn resumes_from_the_position_the_target_committed_when_it_is_further() {
    let h = Harness::new(1_000, 1 << 20);
    let p0 = tp(0);
    h.source.append(&p0, records(0..100));
    // With the runs of the previous owner's last transactions (after commit markers at target
    // 30 and 61): the local store and the cluster state have none of them.
    h.sink.commit_position_with_runs(
        "A.t",
        0,
        Position {
            next_source_offset: 60,
            last_target_offset: 61,
        },
        vec![run(0, 0, 30), run(30, 31, 30)],
    );
    let (_addr, _ack) = h.start(&p0);
    until("the rest landed", || h.landed(&p0).len() == 40).await;
    assert_eq!(
        h.landed(&p0),
        records(60..100),
        "from the committed position on"
    );
    assert_eq!(
        h.source.calls(&p0),
        vec![SourceCall::Split, SourceCall::Assign(Offset::Offset(60))]
    );
    until("the position is stored", || {
        h.stored(&p0).map(|p| p.next_source_offset) == Some(100)
    })
    .await;
    // The fake target numbers its own log from 0.
    assert_eq!(
        h.stored_runs(&p0),
        vec![run(0, 0, 30), run(30, 31, 30), run(60, 0, 40)],
        "the recovered runs first, then this actor's"
    );
}

/// A committed position behind the stored one (written before the last at-least-once run, say)
/// changes nothing; a lookup that fails fails the partition, which asks again after its backoff.
#[actix_rt::test]
async fn a_failed_position_lookup_backs_off_and_an_older_committed_position_is_ignored() {
    let h = Harness::new(1_000, 1 << 20);
    let (p0, p1) = (tp(0), tp(1));
    h.source.append(&p0, records(0..50));
    h.sink
        .fail_position_lookup("A.t", 0, 1, "UNSTABLE_OFFSET_COMMIT until the deadline");
    let (_addr, _ack) = h.start(&p0);
    until("the partition backs off", || {
        h.status(&p0).is_some_and(|s| {
            matches!(
                &s.last_error,
                Some(PartitionFault::Failed(PartitionError::Transaction(_)))
            )
        })
    })
    .await;
    until("it ran after the backoff", || h.landed(&p0).len() == 50).await;
    assert_eq!(h.landed(&p0), records(0..50));

    let key = PartitionKey::new(h.flow.clone(), "t".to_owned(), 1);
    h.positions.put(&key, position(30, 29).unwrap()).unwrap();
    h.source.append(&p1, records(0..40));
    h.sink.commit_position("A.t", 1, position(10, 9).unwrap());
    let (_addr1, _ack1) = h.start(&p1);
    until("p1 landed", || h.landed(&p1).len() == 10).await;
    assert_eq!(h.landed(&p1), records(30..40), "from the stored position");
}

/// A retired partition tells its sink it is done with it, once everything it handed over is
/// resolved (an exactly-once sink stops carrying its position).
#[actix_rt::test]
async fn a_retired_partition_is_forgotten_by_its_sink() {
    let h = Harness::new(1_000, 1 << 20);
    let p0 = tp(0);
    h.source.append(&p0, records(0..20));
    let (addr, _ack) = h.start(&p0);
    until("landed", || h.landed(&p0).len() == 20).await;
    assert!(h.sink.forgotten().is_empty());
    addr.do_send(Retire);
    until("retired", || !h.retired().is_empty()).await;
    assert_eq!(h.sink.forgotten(), vec![("A.t".to_owned(), 0)]);
}
