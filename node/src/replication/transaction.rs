//! Exactly-once: the node's transactional producer of one flow (docs/exactly-once.md).
//!
//! Every partition actor of the flow on this node hands its batches to one [`Transactions`], which
//! writes them in Kafka transactions under the node's transactional id
//! (`<prefix>-<source>-<target>-<node>`), committed every `transaction_interval`. Each
//! transaction also commits, as the offsets of the consumer group `<prefix>-eos.<source>-<target>`
//! on the target, the next source offset of every partition it carries (with the last target
//! offset in the offset's metadata): records and position become visible together or not at all.
//! A record's delivery report is held until its transaction commits; only then does its partition's
//! acknowledgement window see it, so the positions Strait keeps and reports never pass what a
//! `read_committed` consumer can read. An aborted transaction fails its records back: their
//! partitions replay from the committed position.
//!
//! Handover. A partition is written in a transaction only after the transaction committed its
//! position as a pending offset, before its first record: a new owner asking for the committed
//! position (`OffsetFetch` with `require_stable`, which librdkafka sends under
//! `isolation.level=read_committed`) gets an answer only once no transaction carrying the
//! partition is open. Before asking, it fences the transactional ids of the nodes the cluster
//! holds for dead (`init_transactions` under their id aborts their open transaction and bumps the
//! epoch: a frozen node that resumes can no longer commit), so it does not wait for their
//! transactions to time out.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant, SystemTime};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerGroupMetadata};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{
    BaseProducer, DeliveryResult, Producer, ProducerContext, ThreadedProducer,
};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use strait_coordinator::{NodeId, OffsetRun, Position, RunRecorder};

use crate::kafka::reporting_producer_context;
use crate::kafka::ReportingContext;
use crate::replication::budget::InFlightBudget;
use crate::replication::error::PartitionError;
use crate::replication::producer::{
    count_error, send_batch, Delivery, DeliveryTarget, TargetPosition,
};
use crate::replication::source::{SourceBatch, SourceRecord};

/// How long a position lookup waits for the producer's first `init_transactions`.
const INIT_WAIT: Duration = Duration::from_secs(30);
/// One round of a position lookup: librdkafka retries within it while a transaction carrying the
/// partition is open.
const LOOKUP_ROUND: Duration = Duration::from_secs(2);
/// The pause after a failed `init_transactions` before the next attempt, doubling after each
/// failure in a row up to [`MAX_INIT_RETRY`].
const INIT_RETRY: Duration = Duration::from_secs(1);
const MAX_INIT_RETRY: Duration = Duration::from_secs(16);

/// What a flow's transactional producer on this node is built from.
pub struct TransactionSettings {
    /// The flow, for logs and metrics.
    pub flow: String,
    /// The target producer's configuration, without `transactional.id`.
    pub producer: ClientConfig,
    /// A consumer configuration for the target (bootstrap, security): the position lookups.
    pub target: ClientConfig,
    /// Transactional ids are this prefix followed by a node id.
    pub id_prefix: String,
    pub node: NodeId,
    /// The consumer group on the target whose offsets are the committed positions.
    pub group: String,
    pub interval: Duration,
    pub timeout: Duration,
    /// The nodes the cluster holds for dead now.
    pub dead_nodes: Box<dyn Fn() -> Vec<NodeId> + Send + Sync>,
    /// The flow's in-flight budget: records wait in it until their transaction commits, so a
    /// transaction holding half of it commits at once rather than at the interval.
    pub budget: Arc<InFlightBudget>,
}

impl TransactionSettings {
    /// The transactional id of `node`.
    pub fn transactional_id(&self, node: NodeId) -> String {
        format!("{}{node}", self.id_prefix)
    }

    /// The producer configuration under `node`'s transactional id. librdkafka refuses a
    /// `message.timeout.ms` above `transaction.timeout.ms`: the flow's (300 s unless set) is
    /// lowered to the transaction timeout.
    fn producer_for(&self, node: NodeId) -> ClientConfig {
        let timeout_ms = self.timeout.as_millis();
        let mut config = self.producer.clone();
        let message_timeout_ms = config
            .get("message.timeout.ms")
            .and_then(|v| v.parse::<u128>().ok())
            .map_or(timeout_ms, |configured| configured.min(timeout_ms));
        config
            .set("transactional.id", self.transactional_id(node))
            .set("transaction.timeout.ms", timeout_ms.to_string())
            .set("message.timeout.ms", message_timeout_ms.to_string());
        config
    }
}

/// A delivery report held until its transaction ends.
struct Report {
    delivery: Box<Delivery>,
    result: Result<i64, KafkaError>,
}

/// Delivery reports arrive on the producer's polling thread and wait for the commit.
struct TxnContext {
    reporting: ReportingContext,
    reports: Arc<Mutex<Vec<Report>>>,
}

reporting_producer_context!(TxnContext);

impl ProducerContext for TxnContext {
    type DeliveryOpaque = Box<Delivery>;

    fn delivery(&self, result: &DeliveryResult<'_>, delivery: Box<Delivery>) {
        let result = match result {
            Ok(message) => Ok(message.offset()),
            Err((error, _)) => {
                count_error(error);
                Err(error.clone())
            }
        };
        lock(&self.reports).push(Report { delivery, result });
    }
}

type TxnProducer = ThreadedProducer<TxnContext>;
type PartitionName = (String, i32);

/// A batch handed over while no transaction could take it (one was committing, or the partition's
/// position was not yet part of the open one): written, in order, when the next one begins.
struct Pending {
    topic: String,
    partition: i32,
    /// The batch's keys and values, and its records (taken out of the [`SourceBatch`], whose
    /// buffers stay with the reader's thread).
    data: Vec<u8>,
    records: Vec<SourceRecord>,
    read_at: SystemTime,
    target: Arc<DeliveryTarget>,
}

/// A partition whose position the open transaction carries.
struct Registered {
    target: Arc<DeliveryTarget>,
    /// The next source offset and the last target offset committed (or about to be).
    next: i64,
    last_target: i64,
}

#[derive(Default)]
struct State {
    producer: Option<Arc<TxnProducer>>,
    /// A transaction is open and takes records of registered partitions.
    open: bool,
    registered: HashMap<PartitionName, Registered>,
    pending: Vec<Pending>,
    /// Why the target refuses transactions, while it does.
    refused: Option<String>,
    /// The node drains: no transaction begins for partitions that only wait to be carried.
    closing: bool,
    /// `init_transactions` failures in a row: the pause before the next attempt doubles.
    init_failures: u32,
    /// The offset runs of the newest transactions that carried each partition, for the
    /// metadata of its committed position (see [`CommittedMetadata`]).
    recent: HashMap<PartitionName, Vec<OffsetRun>>,
}

/// Wakes the committer before its interval is over.
#[derive(Default)]
struct Wake {
    due: Mutex<bool>,
    signal: Condvar,
}

pub struct Transactions {
    settings: TransactionSettings,
    wake: Arc<Wake>,
    reporting: ReportingContext,
    reports: Arc<Mutex<Vec<Report>>>,
    state: Mutex<State>,
    lookup: BaseConsumer,
    group_metadata: ConsumerGroupMetadata,
    /// Dead nodes whose transactional id this node fenced since they were last seen alive.
    fenced: Mutex<BTreeSet<NodeId>>,
    committed: metrics::Counter,
    aborted: metrics::Counter,
    commit_seconds: metrics::Histogram,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Transactions {
    /// Builds the flow's transactional producer and starts its committer thread (which also
    /// initializes the producer: `init_transactions`, retried until the target accepts it).
    pub fn start(
        settings: TransactionSettings,
        reporting: ReportingContext,
    ) -> Result<Arc<Self>, KafkaError> {
        let mut lookup = settings.target.clone();
        lookup
            .set("group.id", &settings.group)
            .set("enable.auto.commit", "false")
            .set("isolation.level", "read_committed");
        let lookup: BaseConsumer = lookup.create()?;
        let group_metadata = lookup.group_metadata().ok_or_else(|| {
            KafkaError::ClientCreation("the position lookup consumer has no group metadata".into())
        })?;
        let flow = [("flow", settings.flow.clone())];
        let this = Arc::new(Self {
            committed: metrics::counter!("strait_transactions_committed_total", &flow),
            aborted: metrics::counter!("strait_transactions_aborted_total", &flow),
            commit_seconds: metrics::histogram!("strait_transactions_commit_seconds", &flow),
            settings,
            wake: Arc::default(),
            reporting,
            reports: Arc::default(),
            state: Mutex::default(),
            lookup,
            group_metadata,
            fenced: Mutex::default(),
        });
        let weak = Arc::downgrade(&this);
        std::thread::Builder::new()
            .name("transactions".into())
            .spawn(move || committer(weak))
            .map_err(|e| KafkaError::ClientCreation(format!("no committer thread: {e}")))?;
        Ok(this)
    }

    /// Writes `batch` in the open transaction if it carries the partition's position, else keeps
    /// it for the next one.
    pub fn produce(
        &self,
        topic: &str,
        partition: i32,
        batch: SourceBatch,
        read_at: SystemTime,
        target: &Arc<DeliveryTarget>,
    ) {
        let mut state = lock(&self.state);
        let key = (topic.to_owned(), partition);
        let mut batch = batch;
        if let Some(reason) = &state.refused {
            let error = PartitionError::TransactionsRefused(reason.clone());
            fail_batch(&batch.records, target, &error);
            return;
        }
        let direct = state.open
            && !state
                .pending
                .iter()
                .any(|p| p.partition == partition && p.topic == topic)
            && state
                .registered
                .get(&key)
                .is_some_and(|r| Arc::ptr_eq(&r.target, target));
        match (&state.producer, direct) {
            (Some(producer), true) => {
                let producer = producer.clone();
                let SourceBatch { data, records, .. } = &mut batch;
                send_batch(&producer, topic, partition, data, records, read_at, target);
                drop(state);
                self.commit_early_if_full();
            }
            _ => state.pending.push(Pending {
                topic: key.0,
                partition,
                data: std::mem::take(&mut batch.data),
                records: std::mem::take(&mut batch.records),
                read_at,
                target: target.clone(),
            }),
        }
    }

    /// Waits until nothing handed over is still in a transaction or waiting for one (up to
    /// `timeout`): the committer ends the open transaction within an interval, and begins no
    /// other once the partitions stopped handing over batches. Blocking.
    pub fn settle(&self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        lock(&self.state).closing = true;
        loop {
            {
                let state = lock(&self.state);
                if !state.open && state.pending.is_empty() {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "transactions not settled within {} ms",
                    timeout.as_millis()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Wakes the committer when the records waiting for their transaction hold half the flow's
    /// in-flight budget: reading would otherwise stop until the interval is over.
    fn commit_early_if_full(&self) {
        let budget = &self.settings.budget;
        let (records, bytes) = budget.in_flight();
        let max = budget.max();
        if records * 2 < u64::from(max.records) && bytes * 2 < u64::from(max.bytes) {
            return;
        }
        let mut due = lock(&self.wake.due);
        if !*due {
            *due = true;
            self.wake.signal.notify_one();
        }
    }

    /// The partition's actor retired (its records all resolved): its position is no longer
    /// carried by the next transactions.
    pub fn forget(&self, topic: &str, partition: i32) {
        let key = (topic.to_owned(), partition);
        let mut state = lock(&self.state);
        state.registered.remove(&key);
        state.recent.remove(&key);
    }

    /// The position committed on the target for `topic`/`partition`, once no transaction that
    /// carries it is open: first fences the transactional ids of dead nodes. Blocking.
    pub fn committed_position(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<Option<TargetPosition>, PartitionError> {
        let deadline = Instant::now() + INIT_WAIT;
        loop {
            let state = lock(&self.state);
            if let Some(reason) = &state.refused {
                return Err(PartitionError::TransactionsRefused(reason.clone()));
            }
            if state.producer.is_some() {
                break;
            }
            drop(state);
            if Instant::now() > deadline {
                return Err(PartitionError::Transaction(
                    "the transactional producer is not initialized yet".into(),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Asked in short rounds, fencing before each: a node declared dead meanwhile (e.g. one
        // that exited with a transaction open) gets fenced, which ends that transaction.
        let deadline = Instant::now() + self.settings.timeout;
        loop {
            self.fence_dead_nodes()?;
            let mut list = TopicPartitionList::new();
            list.add_partition(topic, partition);
            let error = match self.lookup.committed_offsets(list, LOOKUP_ROUND) {
                Ok(committed) => match committed.find_partition(topic, partition) {
                    // E.g. UNSTABLE_OFFSET_COMMIT: a transaction carrying the partition is still
                    // open. Never taken for "nothing committed".
                    Some(element) => match element.error() {
                        Ok(()) => {
                            return Ok(match element.offset() {
                                Offset::Offset(next) if next >= 0 => {
                                    let metadata = CommittedMetadata::decode(element.metadata());
                                    // Carried on by this node's next commits of the partition,
                                    // until newer runs push them out.
                                    lock(&self.state)
                                        .recent
                                        .entry((topic.to_owned(), partition))
                                        .or_insert_with(|| metadata.runs.clone());
                                    Some(TargetPosition {
                                        position: Position {
                                            next_source_offset: next,
                                            last_target_offset: metadata.last_target,
                                        },
                                        runs: metadata.runs,
                                    })
                                }
                                _ => None,
                            });
                        }
                        Err(e) => e.to_string(),
                    },
                    None => "no answer for the partition".to_owned(),
                },
                Err(e) => e.to_string(),
            };
            if Instant::now() > deadline {
                return Err(PartitionError::Transaction(format!(
                    "cannot read the committed position of {topic}/{partition} in group {}: \
                     {error}",
                    self.settings.group
                )));
            }
            tracing::debug!(flow = %self.settings.flow, topic, partition, %error,
                "committed position not readable yet");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `init_transactions` under the transactional id of every node the cluster holds for dead
    /// and this node has not fenced since it was last seen alive.
    fn fence_dead_nodes(&self) -> Result<(), PartitionError> {
        let dead: BTreeSet<NodeId> = (self.settings.dead_nodes)()
            .into_iter()
            .filter(|node| *node != self.settings.node)
            .collect();
        let mut fenced = lock(&self.fenced);
        fenced.retain(|node| dead.contains(node));
        for node in dead {
            if fenced.contains(&node) {
                continue;
            }
            let id = self.settings.transactional_id(node);
            let started = Instant::now();
            let producer: BaseProducer = self
                .settings
                .producer_for(node)
                .create()
                .map_err(|e| PartitionError::Transaction(format!("fencing {id}: {e}")))?;
            producer
                .init_transactions(self.settings.timeout)
                .map_err(|e| PartitionError::Transaction(format!("fencing {id}: {e}")))?;
            tracing::info!(flow = %self.settings.flow, dead_node = node, transactional_id = %id,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "fenced a dead node's transactional id: its open transaction is aborted and it \
                 can commit no more");
            metrics::counter!("strait_transactions_fenced_total", "flow" => self.settings.flow.clone())
                .increment(1);
            fenced.insert(node);
        }
        Ok(())
    }

    /// One round of the committer: initialize the producer if needed, end the open transaction,
    /// begin the next one if anything waits.
    fn cycle(&self) {
        // Not `match lock(..)..`: the guard would live through the match, and `init` locks.
        let current = lock(&self.state).producer.clone();
        let producer = match current {
            Some(producer) => producer,
            None => match self.init() {
                Some(producer) => producer,
                None => return,
            },
        };
        let open = lock(&self.state).open;
        if open {
            // No record goes directly into the transaction from now on: `open` is cleared.
            lock(&self.state).open = false;
            self.end(&producer);
        }
        self.begin(&producer);
    }

    /// Creates the producer and runs `init_transactions` (which also aborts whatever this node's
    /// previous process left open). On failure, fails every waiting batch with the reason.
    fn init(&self) -> Option<Arc<TxnProducer>> {
        let id = self.settings.transactional_id(self.settings.node);
        let created: Result<TxnProducer, KafkaError> = self
            .settings
            .producer_for(self.settings.node)
            .create_with_context(TxnContext {
                reporting: self.reporting.clone(),
                reports: self.reports.clone(),
            });
        let result = created.and_then(|producer| {
            producer
                .init_transactions(self.settings.timeout)
                .map(|()| producer)
        });
        match result {
            Ok(producer) => {
                tracing::info!(flow = %self.settings.flow, transactional_id = %id,
                    "transactional producer ready");
                let producer = Arc::new(producer);
                let mut state = lock(&self.state);
                state.producer = Some(producer.clone());
                state.refused = None;
                state.init_failures = 0;
                Some(producer)
            }
            Err(error) => {
                let refused = refusal(&error);
                tracing::error!(flow = %self.settings.flow, transactional_id = %id, %error,
                    refused, "the target does not accept this node's transactions");
                let reason = match error.rdkafka_error_code() {
                    Some(RDKafkaErrorCode::TransactionalIdAuthorizationFailed) => format!(
                        "the principal may not use transactional id {id} (grant WRITE and \
                         DESCRIBE on the PREFIXED TransactionalId {}, see docs/exactly-once.md)",
                        self.settings.id_prefix
                    ),
                    _ => format!("init_transactions for {id}: {error}"),
                };
                let failure = if refused {
                    PartitionError::TransactionsRefused(reason.clone())
                } else {
                    PartitionError::Transaction(reason.clone())
                };
                let (pending, failures) = {
                    let mut state = lock(&self.state);
                    state.refused = refused.then_some(reason);
                    state.init_failures = state.init_failures.saturating_add(1);
                    (std::mem::take(&mut state.pending), state.init_failures)
                };
                for p in pending {
                    fail_batch(&p.records, &p.target, &failure);
                }
                std::thread::sleep(
                    INIT_RETRY
                        .saturating_mul(1 << failures.min(5).saturating_sub(1))
                        .min(MAX_INIT_RETRY),
                );
                None
            }
        }
    }

    /// Commits the open transaction with the positions it reached, or aborts it; then resolves its
    /// records.
    fn end(&self, producer: &Arc<TxnProducer>) {
        let started = Instant::now();
        let flushed = producer.flush(self.settings.timeout);
        let reports = std::mem::take(&mut *lock(&self.reports));
        let mut failure = flushed.err().map(|e| format!("flush: {e}"));
        // Per partition (by its delivery target): the highest source offset and target offset,
        // and every record's pair of offsets.
        let mut reached: HashMap<*const DeliveryTarget, (i64, i64)> = HashMap::new();
        let mut written: HashMap<*const DeliveryTarget, Vec<(i64, i64)>> = HashMap::new();
        for report in &reports {
            match &report.result {
                Ok(offset) => {
                    let target = Arc::as_ptr(report.delivery.target());
                    let source = report.delivery.source_offset();
                    let entry = reached.entry(target).or_insert((-1, -1));
                    entry.0 = entry.0.max(source);
                    entry.1 = entry.1.max(*offset);
                    written.entry(target).or_default().push((source, *offset));
                }
                Err(error) => {
                    failure.get_or_insert_with(|| format!("a record was not written: {error}"));
                }
            }
        }
        let mut offsets = TopicPartitionList::new();
        let mut runs_after: HashMap<PartitionName, Vec<OffsetRun>> = HashMap::new();
        {
            let state = lock(&self.state);
            for (key, registered) in &state.registered {
                let target = Arc::as_ptr(&registered.target);
                let Some((source, last_target)) = reached.get(&target) else {
                    continue;
                };
                let mut runs = state.recent.get(key).cloned().unwrap_or_default();
                if let Some(pairs) = written.get_mut(&target) {
                    extend_runs(&mut runs, pairs);
                }
                let metadata = CommittedMetadata {
                    last_target: *last_target,
                    runs,
                };
                add_position(&mut offsets, &key.0, key.1, source + 1, &metadata);
                runs_after.insert(key.clone(), metadata.runs);
            }
        }
        if failure.is_none() && offsets.count() > 0 {
            if let Err(e) = producer.send_offsets_to_transaction(
                &offsets,
                &self.group_metadata,
                self.settings.timeout,
            ) {
                failure = Some(format!("committing positions: {e}"));
            }
        }
        if failure.is_none() {
            if let Err(e) = producer.commit_transaction(self.settings.timeout) {
                failure = Some(format!("commit: {e}"));
            }
        }
        let keep_producer = match &failure {
            None => true,
            Some(_) => match producer.abort_transaction(self.settings.timeout) {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(flow = %self.settings.flow, error = %e,
                        "cannot abort the transaction: a new producer takes over");
                    false
                }
            },
        };
        let mut state = lock(&self.state);
        match failure {
            None => {
                self.committed.increment(1);
                self.commit_seconds.record(started.elapsed().as_secs_f64());
                for report in reports {
                    if let Ok(offset) = report.result {
                        report.delivery.acked(offset);
                    }
                }
                state.recent.extend(runs_after);
                state.registered.retain(|_, registered| {
                    let Some((source, target)) = reached.get(&Arc::as_ptr(&registered.target))
                    else {
                        // Idle through a whole transaction: carried again once it writes.
                        return false;
                    };
                    registered.next = source + 1;
                    registered.last_target = *target;
                    true
                });
            }
            Some(reason) => {
                self.aborted.increment(1);
                tracing::warn!(flow = %self.settings.flow, %reason, records = reports.len(),
                    "transaction aborted: its partitions replay from their committed positions");
                let error = PartitionError::Transaction(reason);
                for report in reports {
                    report.delivery.failed(error.clone());
                }
                state.registered.clear();
                if !keep_producer {
                    state.producer = None;
                }
            }
        }
    }

    /// Begins the next transaction if batches wait or partitions are still carried: commits the
    /// positions of every partition it will carry (as pending offsets) before any record, then
    /// writes the waiting batches in order.
    fn begin(&self, producer: &Arc<TxnProducer>) {
        let mut offsets = TopicPartitionList::new();
        {
            let mut state = lock(&self.state);
            if state.producer.is_none()
                || (state.pending.is_empty() && (state.registered.is_empty() || state.closing))
            {
                return;
            }
            // Batches of partitions that failed meanwhile are dropped: their actors replay.
            let pending = std::mem::take(&mut state.pending);
            for p in pending {
                if let Some(error) = p.target.ack().failure() {
                    fail_batch(&p.records, &p.target, &error);
                    continue;
                }
                let key = (p.topic.clone(), p.partition);
                let stale = state
                    .registered
                    .get(&key)
                    .is_some_and(|r| !Arc::ptr_eq(&r.target, &p.target));
                if stale || !state.registered.contains_key(&key) {
                    if let Some(first) = p.records.first() {
                        let last_target = p
                            .target
                            .ack()
                            .committed()
                            .map_or(-1, |c| c.last_target_offset);
                        state.registered.insert(
                            key,
                            Registered {
                                target: p.target.clone(),
                                next: first.offset,
                                last_target,
                            },
                        );
                    }
                }
                state.pending.push(p);
            }
            for (key, registered) in &state.registered {
                let metadata = CommittedMetadata {
                    last_target: registered.last_target,
                    runs: state.recent.get(key).cloned().unwrap_or_default(),
                };
                add_position(&mut offsets, &key.0, key.1, registered.next, &metadata);
            }
        }
        let begun = producer.begin_transaction().and_then(|()| {
            if offsets.count() == 0 {
                return Ok(());
            }
            producer.send_offsets_to_transaction(
                &offsets,
                &self.group_metadata,
                self.settings.timeout,
            )
        });
        let mut state = lock(&self.state);
        if let Err(error) = begun {
            tracing::warn!(flow = %self.settings.flow, %error,
                "cannot begin a transaction: a new producer takes over");
            let _ = producer.abort_transaction(self.settings.timeout);
            let failure = PartitionError::Transaction(format!("begin: {error}"));
            for p in std::mem::take(&mut state.pending) {
                fail_batch(&p.records, &p.target, &failure);
            }
            state.registered.clear();
            state.producer = None;
            return;
        }
        state.open = true;
        // In order; a batch handed over while the positions were committed is in `pending` too.
        let pending = std::mem::take(&mut state.pending);
        for mut p in pending {
            let key = (p.topic.clone(), p.partition);
            let carried = state
                .registered
                .get(&key)
                .is_some_and(|r| Arc::ptr_eq(&r.target, &p.target));
            if let Some(error) = p.target.ack().failure() {
                fail_batch(&p.records, &p.target, &error);
            } else if carried {
                send_batch(
                    producer,
                    &p.topic,
                    p.partition,
                    &p.data,
                    &mut p.records,
                    p.read_at,
                    &p.target,
                );
            } else {
                // Registered after the positions went out: the next transaction carries it.
                state.pending.push(p);
            }
        }
    }
}

/// The committer: a round every `transaction_interval` (or sooner, when a transaction holds half
/// the in-flight budget), until the flow drops its producer.
fn committer(weak: Weak<Transactions>) {
    // Rounds start `interval` apart, not `interval` after the last one ended: a record waits for
    // its transaction at most about one interval, whatever the commit itself takes.
    let mut round_started = Instant::now();
    loop {
        let Some((interval, wake)) = weak
            .upgrade()
            .map(|t| (t.settings.interval, t.wake.clone()))
        else {
            return;
        };
        {
            let mut due = lock(&wake.due);
            let wait = (round_started + interval).saturating_duration_since(Instant::now());
            if !*due && !wait.is_zero() {
                due = wake
                    .signal
                    .wait_timeout(due, wait)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            *due = false;
        }
        let Some(transactions) = weak.upgrade() else {
            return;
        };
        round_started = Instant::now();
        transactions.cycle();
    }
}

/// Resolves every record of a batch as failed with `error`.
fn fail_batch(records: &[SourceRecord], target: &Arc<DeliveryTarget>, error: &PartitionError) {
    for record in records {
        target.unsent(record, error.clone());
    }
}

/// Adds `next` as the offset of `topic`/`partition`, with the last target offset and the newest
/// offset runs in its metadata (see [`CommittedMetadata`]).
fn add_position(
    offsets: &mut TopicPartitionList,
    topic: &str,
    partition: i32,
    next: i64,
    metadata: &CommittedMetadata,
) {
    if offsets
        .add_partition_offset(topic, partition, Offset::Offset(next))
        .is_err()
    {
        return;
    }
    if let Some(mut element) = offsets.find_partition(topic, partition) {
        element.set_metadata(metadata.encode());
    }
}

/// What a committed position's metadata carries besides the offset: the target offset of the
/// last record, and the offset runs of the last transactions that carried the partition, newest
/// last: `t=<last target>;r=<source>:<target>:<len>,...`. The next owner records those runs, so
/// the offset map has no hole where the previous owner committed records whose runs never
/// reached the cluster state (it crashed before its next position proposal).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct CommittedMetadata {
    last_target: i64,
    runs: Vec<OffsetRun>,
}

/// At most this many runs travel in a position's metadata (the brokers keep up to
/// `offset.metadata.max.bytes`, 4096 by default; a run takes at most about 60 bytes).
const METADATA_RUNS: usize = 48;

impl CommittedMetadata {
    fn encode(&self) -> String {
        let runs: Vec<String> = self
            .runs
            .iter()
            .map(|r| format!("{}:{}:{}", r.source_start, r.target_start, r.len))
            .collect();
        format!("t={};r={}", self.last_target, runs.join(","))
    }

    /// Reads what [`encode`](Self::encode) wrote; anything else: last target `-1`, no runs.
    fn decode(metadata: &str) -> Self {
        let mut decoded = Self {
            last_target: -1,
            runs: Vec::new(),
        };
        for field in metadata.split(';') {
            if let Some(t) = field.strip_prefix("t=") {
                decoded.last_target = t.parse().unwrap_or(-1);
            } else if let Some(runs) = field.strip_prefix("r=") {
                decoded.runs = runs
                    .split(',')
                    .filter(|r| !r.is_empty())
                    .map_while(|r| {
                        let mut parts = r.split(':').map(str::parse::<i64>);
                        match (parts.next(), parts.next(), parts.next(), parts.next()) {
                            (
                                Some(Ok(source_start)),
                                Some(Ok(target_start)),
                                Some(Ok(len)),
                                None,
                            ) if len >= 1 && source_start >= 0 && target_start >= 0 => {
                                Some(OffsetRun {
                                    source_start,
                                    target_start,
                                    len,
                                })
                            }
                            _ => None,
                        }
                    })
                    .collect();
            }
        }
        decoded
    }
}

/// Appends the runs of `records` (source → target offsets of one partition's committed records)
/// to `runs`, extending its last run where they continue it; keeps the newest
/// [`METADATA_RUNS`].
fn extend_runs(runs: &mut Vec<OffsetRun>, records: &mut [(i64, i64)]) {
    records.sort_unstable();
    let mut recorder = RunRecorder::new(runs.last().copied());
    for &(source, target) in records.iter() {
        recorder.record(source, target);
    }
    let new = recorder.take();
    if let (Some(first), Some(last)) = (new.first(), runs.last_mut()) {
        if first.source_start == last.source_start {
            *last = *first;
            runs.extend_from_slice(&new[1..]);
        } else {
            runs.extend_from_slice(&new);
        }
    } else {
        runs.extend_from_slice(&new);
    }
    let excess = runs.len().saturating_sub(METADATA_RUNS);
    runs.drain(..excess);
}

/// Whether `init_transactions` failed because the target will not do transactions for this
/// principal (as opposed to being unreachable for now).
fn refusal(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::TransactionalIdAuthorizationFailed
                | RDKafkaErrorCode::ClusterAuthorizationFailed
                | RDKafkaErrorCode::UnsupportedVersion
                | RDKafkaErrorCode::UnsupportedForMessageFormat
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(source_start: i64, target_start: i64, len: i64) -> OffsetRun {
        OffsetRun {
            source_start,
            target_start,
            len,
        }
    }

    #[test]
    fn the_last_target_offset_and_the_runs_travel_in_the_offset_metadata() {
        let metadata = CommittedMetadata {
            last_target: 57,
            runs: vec![run(10, 11, 20), run(30, 32, 12)],
        };
        let mut list = TopicPartitionList::new();
        add_position(&mut list, "A.t", 3, 42, &metadata);
        let element = list.find_partition("A.t", 3).expect("added");
        assert_eq!(element.offset(), Offset::Offset(42));
        assert_eq!(element.metadata(), "t=57;r=10:11:20,30:32:12");
        assert_eq!(CommittedMetadata::decode(element.metadata()), metadata);
        let none = CommittedMetadata {
            last_target: -1,
            runs: vec![],
        };
        assert_eq!(CommittedMetadata::decode(""), none);
        assert_eq!(CommittedMetadata::decode("t=x;r=1:2"), none);
        // The first version wrote the last target offset only.
        assert_eq!(CommittedMetadata::decode("t=9").last_target, 9);
        // 48 runs of the largest offsets fit the brokers' default 4096 bytes.
        let big = CommittedMetadata {
            last_target: i64::MAX,
            runs: vec![run(i64::MAX / 2, i64::MAX / 2, i64::MAX / 2); METADATA_RUNS],
        };
        assert!(big.encode().len() <= 4096, "{}", big.encode().len());
    }

    #[test]
    fn each_transaction_extends_the_runs_the_metadata_keeps() {
        let mut runs = vec![run(0, 0, 10)];
        // Records 10..15 after a commit marker at target 10, delivered out of order.
        extend_runs(
            &mut runs,
            &mut [(12, 13), (10, 11), (11, 12), (13, 14), (14, 15)],
        );
        assert_eq!(runs, vec![run(0, 0, 10), run(10, 11, 5)]);
        // A source gap (compaction) starts a run; contiguous records extend the last.
        extend_runs(&mut runs, &mut [(15, 16), (17, 17)]);
        assert_eq!(runs, vec![run(0, 0, 10), run(10, 11, 6), run(17, 17, 1)]);
        extend_runs(&mut runs, &mut []);
        assert_eq!(runs.len(), 3);
        for i in 0..100 {
            extend_runs(&mut runs, &mut [(100 + 2 * i, 200 + 3 * i)]);
        }
        assert_eq!(runs.len(), METADATA_RUNS);
        assert_eq!(runs.last(), Some(&run(298, 497, 1)));
    }
}
