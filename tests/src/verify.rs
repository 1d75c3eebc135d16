//! Reading topics back and comparing them.
//!
//! Reads never wait on the high watermark (Tansu reports the base offset of the last batch + 1,
//! too low when that batch holds several records): a partition is read until librdkafka's
//! partition-EOF event, then for a short quiet period in case more records follow.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::{Offset, TopicPartitionList};

use crate::data::Record;
use crate::strait::Strait;
use crate::{admin, names, wait};

/// After every partition reached EOF, how long no new record may arrive before a read counts as
/// complete (a few times the consumer's fetch.wait.max.ms).
const QUIET: Duration = Duration::from_millis(300);
/// Deadline of one complete read.
const READ_DEADLINE: Duration = Duration::from_secs(60);

/// Which records of a transactional producer a reader sees (the consumer's `isolation.level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// Committed transactions only, up to the last stable offset: what a consumer of a target
    /// written in transactions must see (librdkafka's default, set explicitly).
    ReadCommitted,
    /// Every record in the log, aborted transactions included (Java's default).
    ReadUncommitted,
}

impl Isolation {
    /// The `isolation.level` value.
    pub fn level(self) -> &'static str {
        match self {
            Isolation::ReadCommitted => "read_committed",
            Isolation::ReadUncommitted => "read_uncommitted",
        }
    }
}

/// A consumer that reads every partition of a topic from the beginning and keeps what it read.
/// Successive [`TopicReader::catch_up`] calls read what arrived since the previous one.
pub struct TopicReader {
    bootstrap: String,
    topic: String,
    consumer: BaseConsumer,
    records: Vec<Vec<Record>>,
    at_eof: Vec<bool>,
    /// The last consumer error (librdkafka reports transient ones too: they are retried).
    last_error: Option<String>,
}

impl TopicReader {
    /// Reads `topic`, which must exist with `partitions` partitions, `read_committed`.
    pub fn new(bootstrap: &str, topic: &str, partitions: usize) -> TopicReader {
        TopicReader::with_isolation(bootstrap, topic, partitions, Isolation::ReadCommitted)
    }

    /// [`TopicReader::new`] with the given isolation level.
    pub fn with_isolation(
        bootstrap: &str,
        topic: &str,
        partitions: usize,
        isolation: Isolation,
    ) -> TopicReader {
        let consumer: BaseConsumer = admin::client_config(bootstrap)
            .set("group.id", names::unique("strait-test-reader"))
            .set("isolation.level", isolation.level())
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "true")
            .set("auto.offset.reset", "earliest")
            .set("fetch.wait.max.ms", "50")
            .create()
            .unwrap_or_else(|e| panic!("consumer for {bootstrap}: {e}"));
        let mut assignment = TopicPartitionList::new();
        for partition in 0..partitions {
            assignment
                .add_partition_offset(topic, partition as i32, Offset::Beginning)
                .expect("valid offset");
        }
        consumer
            .assign(&assignment)
            .unwrap_or_else(|e| panic!("assigning {topic} on {bootstrap}: {e}"));
        TopicReader {
            bootstrap: bootstrap.to_owned(),
            topic: topic.to_owned(),
            consumer,
            records: vec![Vec::new(); partitions],
            at_eof: vec![false; partitions],
            last_error: None,
        }
    }

    /// Reads until every partition is at its end and nothing new came for [`QUIET`], or until
    /// `max` elapsed. Returns `true` in the first case.
    pub fn catch_up(&mut self, max: Duration) -> bool {
        let started = Instant::now();
        let mut last_record = Instant::now();
        loop {
            match self.consumer.poll(Duration::from_millis(50)) {
                Some(Ok(message)) => {
                    let partition = message.partition() as usize;
                    self.records[partition].push(to_record(&message));
                    self.at_eof[partition] = false;
                    last_record = Instant::now();
                }
                Some(Err(KafkaError::PartitionEOF(partition))) => {
                    self.at_eof[partition as usize] = true;
                }
                Some(Err(e)) => {
                    let error = e.to_string();
                    if self.last_error.as_deref() != Some(error.as_str()) {
                        eprintln!(
                            "reading {} on {}: {error} (retrying)",
                            self.topic, self.bootstrap
                        );
                    }
                    self.last_error = Some(error);
                }
                None => {}
            }
            if self.at_eof.iter().all(|&eof| eof) && last_record.elapsed() >= QUIET {
                return true;
            }
            if started.elapsed() >= max {
                return false;
            }
        }
    }

    /// What was read from `partition` so far.
    pub fn records(&self, partition: usize) -> &[Record] {
        &self.records[partition]
    }

    /// What was read so far, by partition.
    pub fn all(&self) -> &[Vec<Record>] {
        &self.records
    }

    /// Records read so far, by partition.
    pub fn counts(&self) -> Vec<usize> {
        self.records.iter().map(Vec::len).collect()
    }

    /// What was read so far, for failure messages: counts by partition and the last error.
    pub fn state(&self) -> String {
        match &self.last_error {
            None => format!("records read by partition: {:?}", self.counts()),
            Some(error) => format!(
                "records read by partition: {:?}; last consumer error: {error}",
                self.counts()
            ),
        }
    }

    /// Takes what was read, by partition.
    pub fn into_records(self) -> Vec<Vec<Record>> {
        self.records
    }
}

/// A consumed message as a [`Record`] (key, value, headers, timestamp).
pub fn to_record<M: Message>(message: &M) -> Record {
    let headers = message
        .headers()
        .map(|headers| {
            headers
                .iter()
                .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec)))
                .collect()
        })
        .unwrap_or_default();
    Record {
        key: message.key().map(<[u8]>::to_vec),
        value: message.payload().map(<[u8]>::to_vec),
        headers,
        timestamp: message.timestamp().to_millis().unwrap_or(-1),
    }
}

/// Reads `topic`/`partition` from its log start to librdkafka's partition EOF (at most 30 s),
/// each message through `each`. Consumer errors are retried; no EOF within the 30 s is an error
/// that says how much was read.
pub fn read_to_eof<T>(
    bootstrap: &str,
    topic: &str,
    partition: i32,
    mut each: impl FnMut(&BorrowedMessage<'_>) -> T,
) -> Result<Vec<T>, String> {
    let consumer: BaseConsumer = admin::client_config(bootstrap)
        .set("group.id", names::unique("strait-test-reader"))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("fetch.wait.max.ms", "20")
        .create()
        .unwrap_or_else(|e| panic!("consumer for {bootstrap}: {e}"));
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Beginning)
        .expect("valid offset");
    consumer
        .assign(&tpl)
        .unwrap_or_else(|e| panic!("assigning {topic} on {bootstrap}: {e}"));
    let mut out = Vec::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => out.push(each(&m)),
            Some(Err(KafkaError::PartitionEOF(_))) => return Ok(out),
            Some(Err(_)) | None => {}
        }
    }
    Err(format!(
        "no end of {topic}/{partition} on {bootstrap} within 30 s ({} read)",
        out.len()
    ))
}

/// Every record of every partition of `topic` (which must exist), by partition.
pub fn read_topic(bootstrap: &str, topic: &str) -> Vec<Vec<Record>> {
    let partitions = admin::partition_count(bootstrap, topic)
        .unwrap_or_else(|| panic!("topic {topic} does not exist on {bootstrap}"));
    let mut reader = TopicReader::new(bootstrap, topic, partitions);
    assert!(
        reader.catch_up(READ_DEADLINE),
        "reading {topic} on {bootstrap}: no end of partition within {READ_DEADLINE:?} ({})",
        reader.state()
    );
    reader.into_records()
}

/// Every record of `topic`/`partition`.
pub fn read_partition(bootstrap: &str, topic: &str, partition: usize) -> Vec<Record> {
    read_topic(bootstrap, topic).swap_remove(partition)
}

/// Waits until `topic` exists on `bootstrap` with `partitions` partitions and, for every
/// partition, the last record read equals the last record of `expected` for that partition (an
/// empty expected partition needs nothing). Records are written in order, so this means
/// everything up to the last record arrived (or, if some went missing, the comparison that
/// follows shows it). Returns the reader, caught up (quiet period included) so that duplicates
/// written after the last expected record would show too.
///
/// On timeout, panics with the counts and the tail of `strait`'s log.
pub fn wait_for_tail(
    bootstrap: &str,
    topic: &str,
    expected: &[Vec<Record>],
    strait: Option<&Strait>,
) -> TopicReader {
    wait_for_tail_with(bootstrap, topic, expected, strait, Isolation::ReadCommitted)
}

/// [`wait_for_tail`], reading with the given isolation level.
pub fn wait_for_tail_with(
    bootstrap: &str,
    topic: &str,
    expected: &[Vec<Record>],
    strait: Option<&Strait>,
    isolation: Isolation,
) -> TopicReader {
    wait_for_topic(bootstrap, topic, expected.len(), strait);
    let mut reader = TopicReader::with_isolation(bootstrap, topic, expected.len(), isolation);
    let reached = |reader: &TopicReader| {
        expected
            .iter()
            .zip(reader.all())
            .all(|(want, got)| want.is_empty() || got.last() == want.last())
    };
    let what = format!(
        "{topic} on {bootstrap} to end with the expected last records ({:?} records expected)",
        expected.iter().map(Vec::len).collect::<Vec<_>>()
    );
    wait::until(
        &what,
        wait::DEFAULT_DEADLINE,
        Duration::ZERO,
        || {
            reader.catch_up(wait::DEFAULT_INTERVAL);
            if reached(&reader) {
                return Ok(());
            }
            assert_alive(strait);
            Err(reader.state())
        },
        || diagnose("", strait),
    );
    assert!(
        reader.catch_up(READ_DEADLINE),
        "{topic} on {bootstrap} never went quiet within {READ_DEADLINE:?} after its expected last \
         records arrived ({})",
        reader.state()
    );
    reader
}

/// Waits until `topic` (created by the node) holds at least `at_least` records in total over its
/// `partitions` partitions: the node is replicating. Panics with the log on timeout.
pub fn wait_for_total(
    bootstrap: &str,
    topic: &str,
    partitions: usize,
    at_least: usize,
    strait: &Strait,
) {
    wait_for_topic(bootstrap, topic, partitions, Some(strait));
    let mut reader = TopicReader::new(bootstrap, topic, partitions);
    wait::until_ok(
        &format!("{at_least} records in {topic} on {bootstrap}"),
        || {
            reader.catch_up(wait::DEFAULT_INTERVAL);
            let total: usize = reader.counts().iter().sum();
            if total >= at_least {
                return Ok(());
            }
            assert_alive(Some(strait));
            Err(format!("{total} records; {}", reader.state()))
        },
        || diagnose("", Some(strait)),
    );
}

/// Waits until `topic` shows up on `bootstrap` with `partitions` partitions; panics with the
/// strait log on timeout (or when it shows up with another partition count).
pub fn wait_for_topic(bootstrap: &str, topic: &str, partitions: usize, strait: Option<&Strait>) {
    let count = wait::until_ok(
        &format!("topic {topic} on {bootstrap}"),
        || {
            assert_alive(strait);
            let topics = admin::try_topics(bootstrap, Duration::from_secs(10))
                .map_err(|e| format!("listing topics: {e}"))?;
            match topics.get(topic) {
                Some(&count) => Ok(count),
                None => Err(format!(
                    "{} topics, not {topic}; first ones: {:?}",
                    topics.len(),
                    topics.keys().take(30).collect::<Vec<_>>()
                )),
            }
        },
        || diagnose("", strait),
    );
    assert_eq!(
        count, partitions,
        "topic {topic} on {bootstrap} has {count} partitions, expected {partitions}"
    );
}

/// Panics at once, with the log, when the node exited: no point waiting for it any longer.
pub fn assert_alive(strait: Option<&Strait>) {
    if let Some(strait) = strait {
        if strait.has_exited() {
            panic!(
                "strait exited while the test waited for it\n--- last lines of the strait log ({}) ---\n{}",
                strait.log_path().display(),
                strait.log_tail(40)
            );
        }
    }
}

/// A failure message: `what`, then the tail of the strait log when there is one.
pub fn diagnose(what: &str, strait: Option<&Strait>) -> String {
    match strait {
        None => what.to_owned(),
        Some(strait) => format!(
            "{what}\n--- last lines of the strait log ({}) ---\n{}",
            strait.log_path().display(),
            strait.log_tail(40)
        ),
    }
}

/// Panics unless `actual` equals `expected` record for record, in order, showing the first
/// difference.
pub fn assert_same_records(what: &str, expected: &[Record], actual: &[Record]) {
    if expected == actual {
        return;
    }
    let first_diff = expected
        .iter()
        .zip(actual)
        .position(|(e, a)| e != a)
        .unwrap_or(expected.len().min(actual.len()));
    panic!(
        "{what}: {} records expected, {} read; first difference at index {first_diff}:\n  expected: {:?}\n  actual:   {:?}",
        expected.len(),
        actual.len(),
        expected.get(first_diff),
        actual.get(first_diff),
    );
}

/// [`assert_same_records`] for every partition.
pub fn assert_same_partitions(what: &str, expected: &[Vec<Record>], actual: &[Vec<Record>]) {
    assert_eq!(
        expected.len(),
        actual.len(),
        "{what}: {} partitions expected, {} read",
        expected.len(),
        actual.len()
    );
    for (partition, (e, a)) in expected.iter().zip(actual).enumerate() {
        assert_same_records(&format!("{what} partition {partition}"), e, a);
    }
}

/// Checks that `actual` is `expected` with at most one contiguous window replayed: `actual` =
/// `expected[..j]` followed by `expected[i..]` with `i <= j`, so nothing is missing, nothing is
/// reordered, and the records `expected[i..j]` appear twice. Returns the window size `j - i`
/// (zero when `actual == expected`). Records must be distinct (generated records are).
pub fn replay_window(expected: &[Record], actual: &[Record]) -> Result<usize, String> {
    let j = expected
        .iter()
        .zip(actual)
        .position(|(e, a)| e != a)
        .unwrap_or(expected.len().min(actual.len()));
    if j == actual.len() {
        if actual.len() == expected.len() {
            return Ok(0);
        }
        return Err(format!(
            "{} records missing at the end: {} expected, {} read; first missing: {:?}",
            expected.len() - actual.len(),
            expected.len(),
            actual.len(),
            expected.get(j)
        ));
    }
    let rest = &actual[j..];
    if rest.len() > expected.len() {
        return Err(format!(
            "{} records read, more than the {} expected plus one replay",
            actual.len(),
            expected.len()
        ));
    }
    let i = expected.len() - rest.len();
    if i > j {
        return Err(format!(
            "gap: record {j} differs and the rest does not replay anything; expected[{j}] = {:?}, read[{j}] = {:?}",
            expected.get(j),
            actual.get(j)
        ));
    }
    if rest != &expected[i..] {
        let k = rest
            .iter()
            .zip(&expected[i..])
            .position(|(a, e)| a != e)
            .unwrap_or(0);
        return Err(format!(
            "not a single replayed window: read[{j}..] should equal expected[{i}..] (window {}), \
             but differs at read[{}]: expected {:?}, read {:?}",
            j - i,
            j + k,
            expected.get(i + k),
            actual.get(j + k)
        ));
    }
    Ok(j - i)
}

/// How a partition's copy on the target differs from the source, as [`replay_windows`] found it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replays {
    /// Each replay, in the order read: `(read index where it starts, records re-sent)`. A replay
    /// is a run starting before the furthest record delivered so far; `records` counts the
    /// already-delivered records that run re-sent (it may stop early: an old owner's last
    /// one or two in-flight records landing late are a replay of one or two records, however far
    /// behind they land).
    pub windows: Vec<(usize, usize)>,
    /// Records read more than once: `actual.len() - expected.len()`.
    pub duplicates: usize,
    /// Forward jumps inside what was already delivered: a replay that stopped before reaching the
    /// furthest delivered record, then writing resumed further on. This is what two writers of one
    /// partition interleaving (an old owner's last in-flight records landing amid the new owner's
    /// replay) look like. Nothing is missing or out of order among first copies even then.
    pub interleavings: usize,
    /// The runs `actual` is made of, as ranges of `expected` indices, in the order read.
    pub runs: Vec<std::ops::Range<usize>>,
}

impl Replays {
    /// The largest replay window, 0 when none.
    pub fn largest(&self) -> usize {
        self.windows.iter().map(|w| w.1).max().unwrap_or(0)
    }
}

/// Checks that `actual` delivers every record of `expected` (whose records must be distinct, as
/// generated ones are) with duplicates only as re-sent contiguous runs: `actual` is a sequence of
/// runs, each a contiguous slice `expected[a..b]`, where every run starts at or before the
/// furthest record delivered so far (no gap: a record is never read before every record preceding
/// it in `expected` was read at least once), and together the runs reach the end of `expected`
/// (nothing missing), ending with a run that reaches it. Every record read comes from `expected`.
///
/// Unlike [`replay_window`] there may be several windows (one per handover of the partition).
/// The result counts the windows, the duplicates, and interleavings (see [`Replays`]).
pub fn replay_windows(expected: &[Record], actual: &[Record]) -> Result<Replays, String> {
    let mut index = std::collections::HashMap::with_capacity(expected.len());
    for (i, record) in expected.iter().enumerate() {
        if let Some(first) = index.insert(record, i) {
            return Err(format!(
                "expected records {first} and {i} are equal: the check needs distinct records"
            ));
        }
    }
    let mut replays = Replays::default();
    // The index in `expected` the current run continues with.
    let mut next = 0;
    // How many records of `expected` were delivered: every one below it was read at least once.
    let mut high = 0;
    // Where the current run started.
    let mut run_start = 0;
    // While the current run is a replay: its index in `replays.windows` and `high` when it began.
    let mut replaying: Option<(usize, usize)> = None;
    // Closes the current run's replay window: it re-sent the records of `run_start..next` below
    // the high mark it started under.
    let close = |replays: &mut Replays, replaying: Option<(usize, usize)>, start, end: usize| {
        if let Some((w, high_then)) = replaying {
            replays.windows[w].1 = end.min(high_then) - start;
        }
    };
    for (i, record) in actual.iter().enumerate() {
        if expected.get(next) == Some(record) {
            next += 1;
            high = high.max(next);
            continue;
        }
        let Some(&at) = index.get(record) else {
            return Err(format!("read[{i}] is not a source record: {record:?}"));
        };
        if at > high {
            return Err(format!(
                "gap: read[{i}] is expected[{at}] but expected[{high}..{at}] ({} records) were                  never read before it; first missing: {:?}",
                at - high,
                expected.get(high)
            ));
        }
        close(&mut replays, replaying, run_start, next);
        replaying = None;
        if at < next {
            replaying = Some((replays.windows.len(), high));
            replays.windows.push((i, high - at));
        } else {
            // next < at <= high: skipping ahead within what was already delivered.
            replays.interleavings += 1;
        }
        if next > run_start {
            replays.runs.push(run_start..next);
        }
        run_start = at;
        next = at + 1;
        high = high.max(next);
    }
    if high < expected.len() {
        return Err(format!(
            "{} records missing at the end: {} expected, {} distinct read; first missing: {:?}",
            expected.len() - high,
            expected.len(),
            high,
            expected.get(high)
        ));
    }
    if next < high {
        return Err(format!(
            "the last run stops at expected[{next}], before the last record: the records after it \
             were read, then an earlier run was re-sent and never finished"
        ));
    }
    close(&mut replays, replaying, run_start, next);
    if next > run_start {
        replays.runs.push(run_start..next);
    }
    replays.duplicates = actual.len() - expected.len();
    Ok(replays)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::generate_range;

    #[test]
    fn replay_window_accepts_exact_and_single_replay() {
        let source = generate_range(0, 0..10, 1000);
        assert_eq!(replay_window(&source, &source), Ok(0));
        let mut replayed = source[..7].to_vec();
        replayed.extend_from_slice(&source[4..]);
        assert_eq!(replay_window(&source, &replayed), Ok(3));
        let mut from_start = source.clone();
        from_start.extend_from_slice(&source);
        assert_eq!(replay_window(&source, &from_start), Ok(10));
        assert_eq!(replay_window(&[], &[]), Ok(0));
    }

    #[test]
    fn replay_window_rejects_gaps_and_missing_tails() {
        let source = generate_range(0, 0..10, 1000);
        let mut gap = source[..4].to_vec();
        gap.extend_from_slice(&source[6..]);
        assert!(replay_window(&source, &gap).unwrap_err().contains("gap"));
        assert!(replay_window(&source, &source[..8])
            .unwrap_err()
            .contains("missing"));
        let mut two = source[..5].to_vec();
        two.extend_from_slice(&source[3..7]);
        two.extend_from_slice(&source[5..]);
        assert!(replay_window(&source, &two).is_err());
        let mut reordered = source.clone();
        reordered.swap(2, 3);
        assert!(replay_window(&source, &reordered).is_err());
        let mut replay_then_gap = source[..6].to_vec();
        replay_then_gap.extend_from_slice(&source[4..8]);
        assert!(replay_window(&source, &replay_then_gap).is_err());
    }

    #[test]
    fn replay_windows_accepts_several_replays() {
        let source = generate_range(0, 0..20, 1000);
        let exact = replay_windows(&source, &source).unwrap();
        assert_eq!(exact.runs, vec![0..20]);
        assert_eq!((exact.duplicates, exact.interleavings), (0, 0));
        assert!(exact.windows.is_empty());
        assert_eq!(replay_windows(&[], &[]), Ok(Replays::default()));
        // 0..8, 5..14, 10..20: two handovers.
        let mut two = source[..8].to_vec();
        two.extend_from_slice(&source[5..14]);
        two.extend_from_slice(&source[10..]);
        let replays = replay_windows(&source, &two).unwrap();
        assert_eq!(replays.windows, vec![(8, 3), (17, 4)]);
        assert_eq!(replays.runs, vec![0..8, 5..14, 10..20]);
        assert_eq!(replays.duplicates, 7);
        assert_eq!(replays.interleavings, 0);
        assert_eq!(replays.largest(), 4);
        // One window is what replay_window accepts too.
        let mut one = source[..12].to_vec();
        one.extend_from_slice(&source[2..]);
        assert_eq!(
            replay_windows(&source, &one).unwrap().windows,
            vec![(12, 10)]
        );
        // Interleaved writers: 0..10, then the new owner's 5..7, the old owner's 10..12, the new
        // owner's 7..20.
        let mut mixed = source[..10].to_vec();
        mixed.extend_from_slice(&source[5..7]);
        mixed.extend_from_slice(&source[10..12]);
        mixed.extend_from_slice(&source[7..]);
        let replays = replay_windows(&source, &mixed).unwrap();
        assert_eq!(replays.windows, vec![(10, 2), (14, 5)]);
        assert_eq!(replays.runs, vec![0..10, 5..7, 10..12, 7..20]);
        assert_eq!(replays.interleavings, 1);
        assert_eq!(replays.duplicates, mixed.len() - source.len());
        // A zombie's two late records far behind: 0..10, the new owner's 6..30, the old owner's
        // 10..12, the new owner's 30..40. The late pair is a replay of two records, not of 20.
        let source = generate_range(0, 0..40, 1000);
        let mut late = source[..10].to_vec();
        late.extend_from_slice(&source[6..30]);
        late.extend_from_slice(&source[10..12]);
        late.extend_from_slice(&source[30..]);
        let replays = replay_windows(&source, &late).unwrap();
        assert_eq!(replays.windows, vec![(10, 4), (34, 2)]);
        assert_eq!(replays.interleavings, 1);
        assert_eq!(replays.duplicates, 6);
    }

    #[test]
    fn replay_windows_rejects_gaps_reorders_and_strangers() {
        let source = generate_range(0, 0..20, 1000);
        let mut gap = source[..8].to_vec();
        gap.extend_from_slice(&source[5..9]);
        gap.extend_from_slice(&source[11..]);
        assert!(replay_windows(&source, &gap).unwrap_err().contains("gap"));
        assert!(replay_windows(&source, &source[..15])
            .unwrap_err()
            .contains("missing"));
        let mut reordered = source.clone();
        reordered.swap(2, 3);
        assert!(replay_windows(&source, &reordered)
            .unwrap_err()
            .contains("gap"));
        let mut stranger = source.clone();
        stranger.insert(4, generate_range(1, 0..1, 1000).remove(0));
        assert!(replay_windows(&source, &stranger)
            .unwrap_err()
            .contains("not a source record"));
        let mut unfinished = source.clone();
        unfinished.extend_from_slice(&source[10..12]);
        assert!(replay_windows(&source, &unfinished)
            .unwrap_err()
            .contains("last run"));
        let mut duplicate_source = source.clone();
        duplicate_source.push(source[0].clone());
        assert!(replay_windows(&duplicate_source, &duplicate_source).is_err());
    }
}
