//! The comparison of one partition: source records and target records, both in offset order,
//! merged through the offset runs. Pure (no Kafka): the readers are [`RecordStream`]s.

use std::collections::VecDeque;
use std::hash::{DefaultHasher, Hash, Hasher};

use strait_coordinator::OffsetRun;

use super::VerifyError;

/// How far a partition that keeps superseded copies may be read ahead on the source to recognise
/// a replay (copies written before a fail-over that the offset map superseded): more than any
/// in-flight bound.
pub const MAX_LOOKAHEAD: usize = 200_000;

/// What is compared of a record: a digest of each field, and where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digest {
    pub offset: i64,
    pub key: u64,
    pub value: u64,
    pub headers: u64,
    /// Milliseconds since the epoch, `None` without a timestamp.
    pub timestamp_ms: Option<i64>,
    /// Key + value + header bytes (for the bytes/s throttle).
    pub bytes: usize,
}

impl Digest {
    /// The digest of a record's fields. Null and empty differ; headers keep their order,
    /// duplicates and null values.
    pub fn new<'a>(
        offset: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: impl Iterator<Item = (&'a str, Option<&'a [u8]>)>,
        timestamp_ms: Option<i64>,
    ) -> Self {
        let hash = |bytes: Option<&[u8]>| {
            let mut h = DefaultHasher::new();
            bytes.hash(&mut h);
            h.finish()
        };
        let mut bytes = key.map_or(0, <[u8]>::len) + value.map_or(0, <[u8]>::len);
        let mut h = DefaultHasher::new();
        let mut count = 0usize;
        for (k, v) in headers {
            k.hash(&mut h);
            v.hash(&mut h);
            bytes += k.len() + v.map_or(0, <[u8]>::len);
            count += 1;
        }
        count.hash(&mut h);
        Self {
            offset,
            key: hash(key),
            value: hash(value),
            headers: h.finish(),
            timestamp_ms,
            bytes,
        }
    }

    /// The fields in which `other` differs (empty: the same record content).
    pub fn differences(&self, other: &Digest) -> Vec<Field> {
        let mut fields = Vec::new();
        if self.key != other.key {
            fields.push(Field::Key);
        }
        if self.value != other.value {
            fields.push(Field::Value);
        }
        if self.headers != other.headers {
            fields.push(Field::Headers);
        }
        if self.timestamp_ms != other.timestamp_ms {
            fields.push(Field::Timestamp);
        }
        fields
    }

    fn same_content(&self, other: &Digest) -> bool {
        self.differences(other).is_empty()
    }
}

/// A field of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Key,
    Value,
    Headers,
    Timestamp,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Key => "key",
            Self::Value => "value",
            Self::Headers => "headers",
            Self::Timestamp => "timestamp",
        }
    }
}

/// What is wrong with a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MismatchKind {
    /// A source record that is not on the target (at its mapped offset, or not mapped at all).
    Missing,
    /// On the target at its mapped offset, with different fields.
    Changed,
    /// A target record equal to the record before it where another was expected.
    Duplicate,
    /// A target record that is no copy of any source record.
    Extra,
}

impl MismatchKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Changed => "changed",
            Self::Duplicate => "duplicate",
            Self::Extra => "extra",
        }
    }
}

/// One mismatching record, with both offsets (`None` where there is no record on that side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub kind: MismatchKind,
    pub source_offset: Option<i64>,
    pub target_offset: Option<i64>,
    pub fields: Vec<Field>,
    pub source_timestamp_ms: Option<i64>,
    pub target_timestamp_ms: Option<i64>,
}

/// The counts of one partition's comparison.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub source_records: u64,
    pub matched: u64,
    pub source_gone: u64,
    pub replayed: u64,
    pub mismatches: u64,
    pub first_mismatch: Option<Mismatch>,
    /// Source offsets passed (records and gaps), for progress.
    pub source_offsets_done: i64,
}

impl Counts {
    fn mismatch(&mut self, m: Mismatch) {
        self.mismatches += 1;
        if self.first_mismatch.is_none() {
            self.first_mismatch = Some(m);
        }
    }
}

/// Records in offset order.
pub trait RecordStream {
    fn next_record(&mut self) -> Result<Option<Digest>, VerifyError>;
}

impl<I: Iterator<Item = Digest>> RecordStream for std::iter::Peekable<I> {
    fn next_record(&mut self) -> Result<Option<Digest>, VerifyError> {
        Ok(self.next())
    }
}

/// The offset runs of a partition, as lookups both ways. Runs are sorted by source offset and
/// their target offsets grow with them (a replay is written further along the target).
pub struct RunMap {
    runs: Vec<OffsetRun>,
}

impl RunMap {
    pub fn new(mut runs: Vec<OffsetRun>) -> Self {
        runs.sort_by_key(|r| r.source_start);
        Self { runs }
    }

    pub fn runs(&self) -> &[OffsetRun] {
        &self.runs
    }

    /// The target offset the source record at `source` was written to.
    pub fn target_of(&self, source: i64) -> Option<i64> {
        let i = self.runs.partition_point(|r| r.source_start <= source);
        let run = self.runs.get(i.checked_sub(1)?)?;
        (source < run.source_end()).then(|| run.target_start + (source - run.source_start))
    }

    /// The source offset whose copy is at `target`, if a run covers it.
    pub fn source_of(&self, target: i64) -> Option<i64> {
        let i = self.runs.partition_point(|r| r.target_start <= target);
        let run = self.runs.get(i.checked_sub(1)?)?;
        (target < run.target_end()).then(|| run.source_start + (target - run.target_start))
    }

    /// The target offsets holding the copies of the source offsets `[from, to)`, first to last
    /// (records between runs included).
    pub fn target_range(&self, from: i64, to: i64) -> Option<(i64, i64)> {
        let first = self
            .runs
            .iter()
            .find(|r| r.source_end() > from && r.source_start < to)?;
        let last = self
            .runs
            .iter()
            .rev()
            .find(|r| r.source_start < to && r.source_end() > from)?;
        let start = first.target_start + (from.max(first.source_start) - first.source_start);
        let end = last.target_start + (to.min(last.source_end()) - last.source_start);
        Some((start, end))
    }
}

/// The source side with a look-ahead buffer (to recognise replayed copies).
struct Ahead<'a, S> {
    stream: &'a mut S,
    buffer: VecDeque<Digest>,
    ended: bool,
}

impl<S: RecordStream> Ahead<'_, S> {
    fn peek(&mut self, i: usize) -> Result<Option<&Digest>, VerifyError> {
        while self.buffer.len() <= i && !self.ended {
            match self.stream.next_record()? {
                Some(d) => self.buffer.push_back(d),
                None => self.ended = true,
            }
        }
        Ok(self.buffer.get(i))
    }

    fn pop(&mut self) -> Option<Digest> {
        self.buffer.pop_front()
    }
}

/// Merges `source` (the source records of the verified range) with `target` (the target
/// records of the offsets mapped from it) through `map`, counting into `counts`. `tick` is
/// called after every source record (for progress and throttling) with it and its pair.
pub fn compare<S: RecordStream, T: RecordStream>(
    map: &RunMap,
    source: &mut S,
    target: &mut T,
    counts: &mut Counts,
    mut tick: impl FnMut(&Counts, usize) -> Result<(), VerifyError>,
) -> Result<(), VerifyError> {
    let mut source = Ahead {
        stream: source,
        buffer: VecDeque::new(),
        ended: false,
    };
    let mut next_target = target.next_record()?;
    // The last target record seen, and the last source record passed.
    let mut last_target: Option<Digest> = None;
    let mut last_source: Option<Digest> = None;
    // Within a stretch of target records no run covers: how many matched the source records
    // ahead (a replay's earlier copies), `None` once one did not.
    let mut replay: Option<usize> = None;
    loop {
        let s = source.peek(0)?.copied();
        let Some(s) = s else {
            // The rest of the target has no source record left.
            let Some(t) = next_target else { break };
            target_only(
                map,
                &mut source,
                &t,
                last_target.as_ref(),
                None,
                &mut replay,
                counts,
            )?;
            last_target = Some(t);
            next_target = target.next_record()?;
            continue;
        };
        let Some(ts) = map.target_of(s.offset) else {
            counts.mismatch(Mismatch {
                kind: MismatchKind::Missing,
                source_offset: Some(s.offset),
                target_offset: None,
                fields: Vec::new(),
                source_timestamp_ms: s.timestamp_ms,
                target_timestamp_ms: None,
            });
            pass_source(&mut source, counts, &mut last_source, &mut tick, s.bytes)?;
            continue;
        };
        match next_target {
            Some(t) if t.offset < ts => {
                target_only(
                    map,
                    &mut source,
                    &t,
                    last_target.as_ref(),
                    Some(s.offset),
                    &mut replay,
                    counts,
                )?;
                last_target = Some(t);
                next_target = target.next_record()?;
            }
            Some(t) if t.offset == ts => {
                replay = None;
                let fields = s.differences(&t);
                if fields.is_empty() {
                    counts.matched += 1;
                } else {
                    let duplicate = last_source.is_some_and(|p| p.same_content(&t));
                    counts.mismatch(Mismatch {
                        kind: if duplicate {
                            MismatchKind::Duplicate
                        } else {
                            MismatchKind::Changed
                        },
                        source_offset: Some(s.offset),
                        target_offset: Some(t.offset),
                        // A duplicate differs from the expected record in whatever it holds.
                        fields: if duplicate { Vec::new() } else { fields },
                        source_timestamp_ms: s.timestamp_ms,
                        target_timestamp_ms: t.timestamp_ms,
                    });
                }
                last_target = Some(t);
                next_target = target.next_record()?;
                pass_source(
                    &mut source,
                    counts,
                    &mut last_source,
                    &mut tick,
                    s.bytes + t.bytes,
                )?;
            }
            _ => {
                counts.mismatch(Mismatch {
                    kind: MismatchKind::Missing,
                    source_offset: Some(s.offset),
                    target_offset: Some(ts),
                    fields: Vec::new(),
                    source_timestamp_ms: s.timestamp_ms,
                    target_timestamp_ms: None,
                });
                pass_source(&mut source, counts, &mut last_source, &mut tick, s.bytes)?;
            }
        }
    }
    Ok(())
}

fn pass_source<S: RecordStream>(
    source: &mut Ahead<'_, S>,
    counts: &mut Counts,
    last_source: &mut Option<Digest>,
    tick: &mut impl FnMut(&Counts, usize) -> Result<(), VerifyError>,
    bytes: usize,
) -> Result<(), VerifyError> {
    let s = source.pop();
    counts.source_records += 1;
    if let Some(s) = s {
        counts.source_offsets_done = s.offset;
    }
    *last_source = s;
    tick(counts, bytes)
}

/// A target record with no source record at its place: its source record is gone (a run covers
/// it), or it is an earlier copy of replayed records (the source records ahead, in order), a
/// duplicate of the record before it, or foreign.
fn target_only<S: RecordStream>(
    map: &RunMap,
    source: &mut Ahead<'_, S>,
    t: &Digest,
    last_target: Option<&Digest>,
    before_source: Option<i64>,
    replay: &mut Option<usize>,
    counts: &mut Counts,
) -> Result<(), VerifyError> {
    if map.source_of(t.offset).is_some() {
        *replay = None;
        counts.source_gone += 1;
        return Ok(());
    }
    let at = match last_target {
        // A new stretch starts after a covered record.
        Some(last) if map.source_of(last.offset).is_some() => 0,
        _ => replay.unwrap_or(0),
    };
    if at < MAX_LOOKAHEAD {
        if let Some(ahead) = source.peek(at)? {
            if ahead.same_content(t) {
                *replay = Some(at + 1);
                counts.replayed += 1;
                return Ok(());
            }
        }
    }
    *replay = Some(usize::MAX);
    let duplicate = last_target.is_some_and(|l| l.same_content(t));
    counts.mismatch(Mismatch {
        kind: if duplicate {
            MismatchKind::Duplicate
        } else {
            MismatchKind::Extra
        },
        source_offset: before_source,
        target_offset: Some(t.offset),
        fields: Vec::new(),
        source_timestamp_ms: None,
        target_timestamp_ms: t.timestamp_ms,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(offset: i64, n: u64) -> Digest {
        let value = n.to_be_bytes();
        Digest::new(
            offset,
            Some(b"k"),
            Some(&value),
            std::iter::empty(),
            Some(1000 + n as i64),
        )
    }

    fn run(source_start: i64, target_start: i64, len: i64) -> OffsetRun {
        OffsetRun {
            source_start,
            target_start,
            len,
        }
    }

    fn check(runs: Vec<OffsetRun>, source: Vec<Digest>, target: Vec<Digest>) -> Counts {
        let mut counts = Counts::default();
        compare(
            &RunMap::new(runs),
            &mut source.into_iter().peekable(),
            &mut target.into_iter().peekable(),
            &mut counts,
            |_, _| Ok(()),
        )
        .unwrap();
        counts
    }

    fn first(counts: &Counts) -> (MismatchKind, Option<i64>, Option<i64>) {
        let m = counts.first_mismatch.as_ref().expect("a mismatch");
        (m.kind, m.source_offset, m.target_offset)
    }

    #[test]
    fn an_identical_copy_matches_across_gaps_and_runs() {
        // Source 0..5, a transaction marker at 5, 6..9; the target had 2 records before.
        let source: Vec<Digest> = (0..5).chain(6..9).map(|o| record(o, o as u64)).collect();
        let target: Vec<Digest> = (0..5)
            .map(|o| record(o + 2, o as u64))
            .chain((6..9).map(|o| record(o + 1, o as u64)))
            .collect();
        let counts = check(vec![run(0, 2, 5), run(6, 7, 3)], source, target);
        assert_eq!(
            (counts.source_records, counts.matched, counts.mismatches),
            (8, 8, 0)
        );
    }

    #[test]
    fn each_kind_of_mismatch_is_found_with_both_offsets() {
        let source: Vec<Digest> = (0..4).map(|o| record(o, o as u64)).collect();
        let same: Vec<Digest> = (0..4).map(|o| record(o, o as u64)).collect();
        let runs = || vec![run(0, 0, 4)];

        let mut changed = same.clone();
        changed[2].headers ^= 1;
        changed[2].timestamp_ms = Some(7);
        let counts = check(runs(), source.clone(), changed);
        assert_eq!(first(&counts), (MismatchKind::Changed, Some(2), Some(2)));
        assert_eq!(
            counts.first_mismatch.unwrap().fields,
            vec![Field::Headers, Field::Timestamp]
        );

        let mut missing = same.clone();
        missing.remove(1);
        let counts = check(runs(), source.clone(), missing);
        assert_eq!(first(&counts), (MismatchKind::Missing, Some(1), Some(1)));
        assert_eq!(counts.mismatches, 1);

        // Record 1 written twice: target 2 holds record 1 again, everything after shifts.
        let duplicated = vec![record(0, 0), record(1, 1), record(2, 1), record(3, 2)];
        let counts = check(runs(), source.clone(), duplicated);
        assert_eq!(first(&counts), (MismatchKind::Duplicate, Some(2), Some(2)));

        // A foreign record between two runs.
        let target = vec![
            record(0, 0),
            record(1, 1),
            record(2, 99),
            record(3, 2),
            record(4, 3),
        ];
        let counts = check(vec![run(0, 0, 2), run(2, 3, 2)], source.clone(), target);
        assert_eq!(first(&counts), (MismatchKind::Extra, Some(2), Some(2)));
        assert_eq!((counts.matched, counts.mismatches), (4, 1));
    }

    #[test]
    fn superseded_copies_of_a_replay_and_records_gone_from_the_source_are_no_mismatch() {
        // 0..4 copied to 0..4, then a replay from 2: 2..4 again at 4..6 (the map holds the latest).
        let source: Vec<Digest> = (0..4).map(|o| record(o, o as u64)).collect();
        let target = vec![
            record(0, 0),
            record(1, 1),
            record(2, 2),
            record(3, 3),
            record(4, 2),
            record(5, 3),
        ];
        let counts = check(vec![run(0, 0, 2), run(2, 4, 2)], source, target);
        assert_eq!(
            (counts.matched, counts.replayed, counts.mismatches),
            (4, 2, 0)
        );

        // Source offset 1 compacted away after the copy.
        let source = vec![record(0, 0), record(2, 2)];
        let target: Vec<Digest> = (0..3).map(|o| record(o, o as u64)).collect();
        let counts = check(vec![run(0, 0, 3)], source, target);
        assert_eq!(
            (counts.matched, counts.source_gone, counts.mismatches),
            (2, 1, 0)
        );
    }

    #[test]
    fn a_source_record_no_run_covers_is_missing() {
        let source: Vec<Digest> = (0..3).map(|o| record(o, o as u64)).collect();
        let target = vec![record(0, 0), record(1, 2)];
        let counts = check(vec![run(0, 0, 1), run(2, 1, 1)], source, target);
        assert_eq!(first(&counts), (MismatchKind::Missing, Some(1), None));
    }
}
