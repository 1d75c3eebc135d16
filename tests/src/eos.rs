//! The exactly-once checker: what a `read_committed` consumer of the target sees, compared record
//! for record with what was produced to the source, independently of Strait (no status, no offset
//! map, no position: only the two clusters' records).
//!
//! Per partition it counts the source records never read (missing), the extra copies read
//! (duplicates), first copies read before a source record that precedes them (out of order) and
//! records that are no source record of that partition (strangers). Exactly-once is all four at 0,
//! which means the partition reads back equal to the source, record for record and in order.
//! Records are identified by their content (key, value, headers, timestamp): the generated ones
//! are distinct within a partition ([`crate::data::generate`]).

use std::collections::HashMap;
use std::fmt;

use crate::data::Record;
use crate::verify::{Isolation, TopicReader};

/// How one partition of the target differs from its source partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionCheck {
    pub partition: usize,
    /// Records produced to the source partition.
    pub sent: usize,
    /// Records read from the target partition (every copy).
    pub read: usize,
    /// Source records never read.
    pub missing: usize,
    /// Copies read beyond the first of a source record.
    pub duplicates: usize,
    /// First copies read after a first copy of a later source record.
    pub out_of_order: usize,
    /// Records read that are no record of this source partition.
    pub strangers: usize,
    /// The first source record (index) never read.
    pub first_missing: Option<usize>,
    /// Where the first duplicate was read: `(read index, source index)`.
    pub first_duplicate: Option<(usize, usize)>,
    /// The first record out of order: `(read index, source index)`.
    pub first_out_of_order: Option<(usize, usize)>,
}

impl PartitionCheck {
    /// No record missing, duplicated, out of order or foreign.
    pub fn exact(&self) -> bool {
        self.missing == 0 && self.duplicates == 0 && self.out_of_order == 0 && self.strangers == 0
    }
}

/// [`PartitionCheck`] of one partition: `sent` to the source (distinct records), `read` from the
/// target.
pub fn check_partition(partition: usize, sent: &[Record], read: &[Record]) -> PartitionCheck {
    let mut index: HashMap<&Record, usize> = HashMap::with_capacity(sent.len());
    for (i, record) in sent.iter().enumerate() {
        let first = index.insert(record, i);
        assert!(
            first.is_none(),
            "partition {partition}: source records {first:?} and {i} are equal: the check needs \
             distinct records"
        );
    }
    let mut seen = vec![false; sent.len()];
    let mut check = PartitionCheck {
        partition,
        sent: sent.len(),
        read: read.len(),
        ..PartitionCheck::default()
    };
    // The source index of the furthest first copy read so far.
    let mut furthest: Option<usize> = None;
    for (k, record) in read.iter().enumerate() {
        let Some(&i) = index.get(record) else {
            check.strangers += 1;
            continue;
        };
        if seen[i] {
            check.duplicates += 1;
            check.first_duplicate.get_or_insert((k, i));
            continue;
        }
        seen[i] = true;
        if furthest.is_some_and(|f| i < f) {
            check.out_of_order += 1;
            check.first_out_of_order.get_or_insert((k, i));
        }
        furthest = Some(furthest.map_or(i, |f| f.max(i)));
    }
    check.first_missing = seen.iter().position(|s| !s);
    check.missing = seen.iter().filter(|s| !**s).count();
    check
}

/// The check of every partition of a topic.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub partitions: Vec<PartitionCheck>,
}

impl Report {
    pub fn sent(&self) -> usize {
        self.partitions.iter().map(|p| p.sent).sum()
    }
    pub fn read(&self) -> usize {
        self.partitions.iter().map(|p| p.read).sum()
    }
    pub fn missing(&self) -> usize {
        self.partitions.iter().map(|p| p.missing).sum()
    }
    pub fn duplicates(&self) -> usize {
        self.partitions.iter().map(|p| p.duplicates).sum()
    }
    pub fn out_of_order(&self) -> usize {
        self.partitions.iter().map(|p| p.out_of_order).sum()
    }
    pub fn strangers(&self) -> usize {
        self.partitions.iter().map(|p| p.strangers).sum()
    }
    /// Every partition exact.
    pub fn exact(&self) -> bool {
        self.partitions.iter().all(PartitionCheck::exact)
    }
}

impl fmt::Display for Report {
    /// One line per partition (`p<N>: sent S read R missing M duplicates D ...`), then the totals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.partitions {
            write!(
                f,
                "  p{}: sent {} read {} missing {} duplicates {}",
                p.partition, p.sent, p.read, p.missing, p.duplicates
            )?;
            if p.out_of_order > 0 || p.strangers > 0 {
                write!(
                    f,
                    " out-of-order {} strangers {}",
                    p.out_of_order, p.strangers
                )?;
            }
            if let Some(i) = p.first_missing {
                write!(f, "; first missing: source #{i}")?;
            }
            if let Some((k, i)) = p.first_duplicate {
                write!(f, "; first duplicate: read #{k} = source #{i}")?;
            }
            if let Some((k, i)) = p.first_out_of_order {
                write!(f, "; first out of order: read #{k} = source #{i}")?;
            }
            writeln!(f)?;
        }
        write!(
            f,
            "  total: sent {} read {} missing {} duplicates {} out-of-order {} strangers {} \
             ({} of {} partitions exact)",
            self.sent(),
            self.read(),
            self.missing(),
            self.duplicates(),
            self.out_of_order(),
            self.strangers(),
            self.partitions.iter().filter(|p| p.exact()).count(),
            self.partitions.len()
        )
    }
}

/// Checks every partition: `sent[p]` against `read[p]`.
pub fn check(sent: &[Vec<Record>], read: &[Vec<Record>]) -> Report {
    assert_eq!(
        sent.len(),
        read.len(),
        "{} partitions sent, {} read",
        sent.len(),
        read.len()
    );
    Report {
        partitions: sent
            .iter()
            .zip(read)
            .enumerate()
            .map(|(p, (sent, read))| check_partition(p, sent, read))
            .collect(),
    }
}

/// Records of every partition of `topic` (with `partitions` partitions) in the log, aborted
/// transactions included (`read_uncommitted`, to the log end): with the committed count, how many
/// records aborted transactions hold (the control markers are not records).
pub fn records_in_log(bootstrap: &str, topic: &str, partitions: usize) -> Vec<usize> {
    let mut reader =
        TopicReader::with_isolation(bootstrap, topic, partitions, Isolation::ReadUncommitted);
    assert!(
        reader.catch_up(std::time::Duration::from_secs(60)),
        "reading {topic} read_uncommitted: no end within 60 s ({})",
        reader.state()
    );
    reader.counts()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::generate_range;

    #[test]
    fn an_exact_copy_is_exact() {
        let sent = generate_range(0, 0..50, 1000);
        let c = check_partition(0, &sent, &sent);
        assert!(c.exact(), "{c:?}");
        assert_eq!((c.sent, c.read, c.first_missing), (50, 50, None));
        let report = check(&[sent.clone(), Vec::new()], &[sent, Vec::new()]);
        assert!(report.exact());
        assert_eq!(
            (report.sent(), report.missing(), report.duplicates()),
            (50, 0, 0)
        );
    }

    #[test]
    fn counts_missing_duplicates_reorders_and_strangers() {
        let sent = generate_range(0, 0..20, 1000);
        // A replayed window: 0..12 then 8..20: 4 duplicates, nothing missing.
        let mut replayed = sent[..12].to_vec();
        replayed.extend_from_slice(&sent[8..]);
        let c = check_partition(0, &sent, &replayed);
        assert_eq!((c.missing, c.duplicates, c.out_of_order), (0, 4, 0));
        assert_eq!(c.first_duplicate, Some((12, 8)));
        // A gap: 5..7 never read.
        let mut gap = sent[..5].to_vec();
        gap.extend_from_slice(&sent[7..]);
        let c = check_partition(0, &sent, &gap);
        assert_eq!((c.missing, c.duplicates, c.first_missing), (2, 0, Some(5)));
        // A swap: one first copy out of order.
        let mut swapped = sent.clone();
        swapped.swap(3, 4);
        let c = check_partition(0, &sent, &swapped);
        assert_eq!((c.missing, c.duplicates, c.out_of_order), (0, 0, 1));
        assert_eq!(c.first_out_of_order, Some((4, 3)));
        // Another partition's record.
        let mut stranger = sent.clone();
        stranger.push(generate_range(1, 0..1, 1000).remove(0));
        let c = check_partition(0, &sent, &stranger);
        assert_eq!((c.strangers, c.missing, c.duplicates), (1, 0, 0));
        assert!(!c.exact());
        // A missing tail plus a duplicate.
        let mut both = sent[..15].to_vec();
        both.push(sent[3].clone());
        let c = check_partition(0, &sent, &both);
        assert_eq!((c.missing, c.duplicates, c.first_missing), (5, 1, Some(15)));
        let report = check(&[sent.clone(), sent.clone()], &[both, sent]);
        assert_eq!((report.missing(), report.duplicates()), (5, 1));
        assert!(!report.exact());
        assert!(report
            .to_string()
            .contains("p0: sent 20 read 16 missing 5 duplicates 1"));
    }
}
