//! Reading topics back and comparing them.
//!
//! Reads never wait on the high watermark (Tansu reports the base offset of the last batch + 1,
//! too low when that batch holds several records): a partition is read until librdkafka's
//! partition-EOF event, then for a short quiet period in case more records follow.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};

use crate::data::Record;
use crate::strait::Strait;
use crate::{admin, names, wait};

/// After every partition reached EOF, how long no new record may arrive before a read counts as
/// complete (a few times the consumer's fetch.wait.max.ms).
const QUIET: Duration = Duration::from_millis(300);
/// Deadline of one complete read.
const READ_DEADLINE: Duration = Duration::from_secs(60);

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
    /// Reads `topic`, which must exist with `partitions` partitions.
    pub fn new(bootstrap: &str, topic: &str, partitions: usize) -> TopicReader {
        let consumer: BaseConsumer = admin::client_config(bootstrap)
            .set("group.id", names::unique("strait-test-reader"))
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

fn to_record<M: Message>(message: &M) -> Record {
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
    wait_for_topic(bootstrap, topic, expected.len(), strait);
    let mut reader = TopicReader::new(bootstrap, topic, expected.len());
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
}
