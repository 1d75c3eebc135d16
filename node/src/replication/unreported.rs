//! What the cluster has yet to apply of a partition this node runs: its position, and the offset
//! runs the target acknowledged. Proposals can fail (no leader, timeout), so nothing counts as
//! reported until the cluster applied it.

use strait_coordinator::{OffsetRun, Position};

/// One running partition's progress not yet applied by the cluster.
#[derive(Debug, Default)]
pub struct Unreported {
    /// The last position the cluster applied from this node.
    applied: Option<Position>,
    /// Offset runs taken for the cluster and not applied there yet (sent with every update).
    runs: Vec<OffsetRun>,
}

impl Unreported {
    /// Starts with runs an earlier actor of the partition acknowledged and the cluster lacks.
    pub fn with_runs(runs: Vec<OffsetRun>) -> Self {
        Self {
            applied: None,
            runs,
        }
    }

    /// The runs to propose with `position` now, or `None` when the cluster has both already.
    /// `taken`: the runs taken from the acknowledgements since the last call.
    pub fn due(&mut self, position: Position, taken: Vec<OffsetRun>) -> Option<Vec<OffsetRun>> {
        self.runs.extend(taken);
        if self.applied == Some(position) && self.runs.is_empty() {
            return None;
        }
        Some(self.runs.clone())
    }

    /// The cluster applied (or refused for good) `position` with `runs`: neither is due again.
    /// Runs taken since stay due.
    pub fn applied(&mut self, position: Position, runs: &[OffsetRun]) {
        self.applied = Some(position);
        self.runs.retain(|run| !runs.contains(run));
    }

    /// The runs the cluster does not have, for the release when the partition leaves this node.
    pub fn into_runs(self) -> Vec<OffsetRun> {
        self.runs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(next_source_offset: i64) -> Position {
        Position {
            next_source_offset,
            last_target_offset: next_source_offset + 100,
        }
    }

    fn run(source_start: i64) -> OffsetRun {
        OffsetRun {
            source_start,
            target_start: source_start + 100,
            len: 10,
        }
    }

    #[test]
    fn a_position_whose_proposal_failed_stays_due_on_an_idle_partition() {
        let mut unreported = Unreported::default();
        assert_eq!(unreported.due(at(10), vec![run(0)]), Some(vec![run(0)]));
        // The proposal failed; the partition is idle: same position, no new runs.
        assert_eq!(unreported.due(at(10), Vec::new()), Some(vec![run(0)]));
        unreported.applied(at(10), &[run(0)]);
        assert_eq!(unreported.due(at(10), Vec::new()), None);
    }

    #[test]
    fn runs_taken_while_a_proposal_is_in_flight_stay_due() {
        let mut unreported = Unreported::default();
        let sent = unreported.due(at(10), vec![run(0)]).unwrap();
        assert_eq!(
            unreported.due(at(20), vec![run(10)]),
            Some(vec![run(0), run(10)])
        );
        unreported.applied(at(10), &sent);
        assert_eq!(unreported.due(at(20), Vec::new()), Some(vec![run(10)]));
        assert_eq!(unreported.into_runs(), [run(10)]);
    }
}
