//! The intent of raft-rs's `MemStorage` tests, ported to the sled log, plus durability across
//! reopening and a single-voter `RawNode` running over it.

use std::path::Path;
use std::time::Duration;

use protobuf::Message as _;
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};
use raft::{GetEntriesContext, RawNode, StateRole, Storage};
use tempfile::TempDir;

use super::index_key;
use crate::{RaftLog, StorageError, Store};

fn open(dir: &Path) -> RaftLog {
    Store::open(dir, Duration::from_millis(100))
        .unwrap()
        .raft()
        .unwrap()
}

/// Syncs and closes `log` (its only handle), then opens the data dir again.
fn reopen(dir: &Path, log: RaftLog) -> RaftLog {
    log.sync().unwrap();
    drop(log);
    open(dir)
}

fn fresh() -> (TempDir, RaftLog) {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    (dir, log)
}

/// Entry `index` of `term`, with some data so sizes are realistic.
fn entry(index: u64, term: u64) -> Entry {
    Entry {
        index,
        term,
        data: format!("entry {index}").into_bytes().into(),
        ..Default::default()
    }
}

/// Entries `from..=to`, each with term = index.
fn entries(from: u64, to: u64) -> Vec<Entry> {
    (from..=to).map(|i| entry(i, i)).collect()
}

fn snapshot(index: u64, term: u64, voters: &[u64], data: &[u8]) -> Snapshot {
    let mut s = Snapshot {
        data: data.to_vec().into(),
        ..Default::default()
    };
    s.mut_metadata().index = index;
    s.mut_metadata().term = term;
    s.mut_metadata().mut_conf_state().voters = voters.to_vec();
    s
}

fn hard_state(term: u64, vote: u64, commit: u64) -> HardState {
    HardState {
        term,
        vote,
        commit,
        ..Default::default()
    }
}

fn conf_state(voters: &[u64], learners: &[u64]) -> ConfState {
    ConfState {
        voters: voters.to_vec(),
        learners: learners.to_vec(),
        ..Default::default()
    }
}

/// A log holding a snapshot at `snapshot_index` (term = index, voters 1, 2, 3) followed by the
/// entries up to `last` (term = index): the shape of `MemStorage`'s `[3, 4, 5]` test logs.
fn compacted_log(snapshot_index: u64, last: u64) -> (TempDir, RaftLog) {
    let (dir, log) = fresh();
    log.apply_snapshot(&snapshot(snapshot_index, snapshot_index, &[1, 2, 3], b""))
        .unwrap();
    log.append(&entries(snapshot_index + 1, last)).unwrap();
    (dir, log)
}

fn ctx() -> GetEntriesContext {
    GetEntriesContext::empty(false)
}

fn all_entries(log: &RaftLog) -> Vec<Entry> {
    let (first, last) = (log.first_index().unwrap(), log.last_index().unwrap());
    log.entries(first, last + 1, None, ctx()).unwrap()
}

fn raft_err(e: raft::StorageError) -> raft::Error {
    raft::Error::Store(e)
}

#[test]
fn empty_log() {
    let (_dir, log) = fresh();
    assert!(!log.is_initialized());
    assert_eq!(log.first_index(), Ok(1));
    assert_eq!(log.last_index(), Ok(0));
    assert_eq!(log.term(0), Ok(0));
    assert_eq!(log.term(1), Err(raft_err(raft::StorageError::Unavailable)));
    assert_eq!(log.entries(1, 1, None, ctx()), Ok(vec![]));
    let state = log.initial_state().unwrap();
    assert_eq!(state.hard_state, HardState::default());
    assert_eq!(state.conf_state, ConfState::default());
    assert_eq!(log.latest_snapshot().unwrap(), None);
    assert_eq!(log.node_identity().unwrap(), None);
}

#[test]
fn term_covers_the_snapshot_and_the_entries() {
    let (_dir, log) = compacted_log(3, 5);
    assert_eq!(log.term(2), Err(raft_err(raft::StorageError::Compacted)));
    assert_eq!(log.term(3), Ok(3)); // the snapshot's
    assert_eq!(log.term(4), Ok(4));
    assert_eq!(log.term(5), Ok(5));
    assert_eq!(log.term(6), Err(raft_err(raft::StorageError::Unavailable)));
}

#[test]
fn entries_respect_bounds_and_size_limit() {
    let (_dir, log) = compacted_log(3, 7);
    let all = entries(4, 7);
    let size = |i: usize| u64::from(all[i].compute_size());
    let max = u64::MAX;
    // (low, high, max size, result)
    type Case = (u64, u64, Option<u64>, raft::Result<Vec<Entry>>);
    let cases: Vec<Case> = vec![
        (
            3,
            5,
            Some(max),
            Err(raft_err(raft::StorageError::Compacted)),
        ),
        (4, 5, Some(max), Ok(all[..1].to_vec())),
        (4, 6, Some(max), Ok(all[..2].to_vec())),
        (5, 8, Some(max), Ok(all[1..].to_vec())),
        (4, 8, None, Ok(all.clone())),
        (5, 5, None, Ok(vec![])),
        // even with a zero limit, the first entry is returned
        (4, 8, Some(0), Ok(all[..1].to_vec())),
        (4, 8, Some(size(0) + size(1)), Ok(all[..2].to_vec())),
        (
            4,
            8,
            Some(size(0) + size(1) + size(2) / 2),
            Ok(all[..2].to_vec()),
        ),
        (
            4,
            8,
            Some(size(0) + size(1) + size(2) - 1),
            Ok(all[..2].to_vec()),
        ),
        (
            4,
            8,
            Some(size(0) + size(1) + size(2)),
            Ok(all[..3].to_vec()),
        ),
        (
            4,
            8,
            Some(size(0) + size(1) + size(2) + size(3)),
            Ok(all.clone()),
        ),
        // past the last entry: MemStorage panics, we report it
        (4, 9, None, Err(raft_err(raft::StorageError::Unavailable))),
    ];
    for (i, (low, high, max_size, want)) in cases.into_iter().enumerate() {
        assert_eq!(
            log.entries(low, high, max_size, ctx()),
            want,
            "case #{i}: [{low}, {high}) max {max_size:?}"
        );
    }
}

#[test]
fn first_and_last_index_follow_appends_and_compaction() {
    let (_dir, log) = compacted_log(3, 5);
    assert_eq!(log.first_index(), Ok(4));
    assert_eq!(log.last_index(), Ok(5));
    log.append(&[entry(6, 5)]).unwrap();
    assert_eq!(log.last_index(), Ok(6));
    log.compact(4, b"state".to_vec()).unwrap();
    assert_eq!(log.first_index(), Ok(5));
    assert_eq!(log.last_index(), Ok(6));
}

#[test]
fn compact_drops_entries_and_keeps_the_term_at_its_index() {
    // (compact to, first index after, entries left)
    let cases = [(2, 4, 3), (3, 4, 3), (4, 5, 2), (5, 6, 1), (6, 7, 0)];
    for (i, (index, want_first, want_len)) in cases.into_iter().enumerate() {
        let (dir, log) = compacted_log(3, 6);
        log.compact(index, format!("state at {index}").into_bytes())
            .unwrap();
        // the compacted entries are gone from disk (else opening fails: the log must start
        // right after the snapshot)
        let log = reopen(dir.path(), log);
        assert_eq!(log.first_index(), Ok(want_first), "case #{i}");
        assert_eq!(log.last_index(), Ok(6), "case #{i}");
        assert_eq!(log.term(want_first - 1), Ok(want_first - 1), "case #{i}");
        assert_eq!(all_entries(&log).len(), want_len, "case #{i}");
        let first_left = log.entries(want_first, 7, None, ctx()).unwrap();
        assert_eq!(first_left, entries(want_first, 6), "case #{i}");
    }

    let (_dir, log) = compacted_log(3, 6);
    assert!(matches!(
        log.compact(7, vec![]),
        Err(StorageError::CompactBeyondLog {
            index: 7,
            last_index: 6
        })
    ));
}

#[test]
fn compact_stores_a_snapshot_with_the_current_conf_state() {
    let (_dir, log) = compacted_log(3, 6);
    log.set_hard_state(&hard_state(6, 1, 4)).unwrap();
    log.set_conf_state(&conf_state(&[1, 2, 3], &[4])).unwrap();
    log.compact(5, b"state at 5".to_vec()).unwrap();

    let snap = log.latest_snapshot().unwrap().unwrap();
    assert_eq!(snap.get_metadata().index, 5);
    assert_eq!(snap.get_metadata().term, 5);
    assert_eq!(
        snap.get_metadata().get_conf_state(),
        &conf_state(&[1, 2, 3], &[4])
    );
    assert_eq!(snap.data.as_ref(), b"state at 5");
    // applied entries are committed: the commit index follows the snapshot, nothing else moves
    assert_eq!(log.initial_state().unwrap().hard_state, hard_state(6, 1, 5));

    // compacting below the snapshot changes nothing
    log.compact(4, b"older".to_vec()).unwrap();
    assert_eq!(log.latest_snapshot().unwrap().unwrap(), snap);
}

#[test]
fn snapshot_serves_the_stored_one() {
    let unavailable = Err(raft_err(raft::StorageError::SnapshotTemporarilyUnavailable));
    let (_dir, log) = fresh();
    assert_eq!(log.snapshot(0, 2), unavailable);

    let (_dir, log) = compacted_log(3, 6);
    log.compact(5, b"state at 5".to_vec()).unwrap();
    let want = snapshot(5, 5, &[1, 2, 3], b"state at 5");
    assert_eq!(log.snapshot(0, 2), Ok(want.clone()));
    assert_eq!(log.snapshot(5, 2), Ok(want));
    assert_eq!(log.snapshot(6, 2), unavailable);
}

#[test]
fn append_replaces_the_conflicting_suffix() {
    let cases: Vec<(Vec<Entry>, Vec<Entry>)> = vec![
        // the same entries again
        (entries(3, 5), entries(3, 5)),
        // conflicts from index 4 on
        (
            vec![entry(3, 3), entry(4, 6), entry(5, 6)],
            vec![entry(3, 3), entry(4, 6), entry(5, 6)],
        ),
        // overlap and extend
        (
            vec![entry(3, 3), entry(4, 4), entry(5, 5), entry(6, 5)],
            vec![entry(3, 3), entry(4, 4), entry(5, 5), entry(6, 5)],
        ),
        // a shorter conflicting suffix truncates the log
        (vec![entry(4, 5)], vec![entry(3, 3), entry(4, 5)]),
        // right after the last entry
        (vec![entry(6, 6)], entries(3, 6)),
        (vec![], entries(3, 5)),
    ];
    for (i, (new, want)) in cases.into_iter().enumerate() {
        let (dir, log) = compacted_log(2, 5);
        log.append(&new).unwrap();
        assert_eq!(all_entries(&log), want, "case #{i}");
        assert_eq!(
            log.last_index(),
            Ok(want.last().unwrap().index),
            "case #{i}"
        );
        // the replaced suffix is gone from disk, not only from the cache
        let log = reopen(dir.path(), log);
        assert_eq!(all_entries(&log), want, "case #{i} after reopening");
    }
}

#[test]
fn append_rejects_gaps_and_compacted_indexes() {
    let (_dir, log) = compacted_log(2, 5);
    assert!(matches!(
        log.append(&[entry(2, 3), entry(3, 3), entry(4, 5)]),
        Err(StorageError::OverwriteCompacted {
            first_index: 3,
            got: 2
        })
    ));
    assert!(matches!(
        log.append(&[entry(7, 7)]),
        Err(StorageError::Gap {
            expected: 6,
            got: 7
        })
    ));
    assert!(matches!(
        log.append(&[entry(4, 6), entry(6, 6)]),
        Err(StorageError::Gap {
            expected: 5,
            got: 6
        })
    ));
    // nothing of the rejected batches was written
    assert_eq!(all_entries(&log), entries(3, 5));
    assert_eq!(log.last_index(), Ok(5));
}

#[test]
fn apply_snapshot_replaces_an_older_log() {
    let (dir, log) = compacted_log(3, 8);
    log.set_hard_state(&hard_state(8, 1, 6)).unwrap();

    let snap = snapshot(6, 9, &[1, 2, 4], b"state at 6");
    log.apply_snapshot(&snap).unwrap();
    let log = reopen(dir.path(), log);
    assert_eq!(log.first_index(), Ok(7));
    assert_eq!(log.last_index(), Ok(6));
    // entries after the snapshot went too: the log diverged from the leader's
    assert_eq!(all_entries(&log), vec![]);
    assert_eq!(log.term(6), Ok(9));
    assert_eq!(log.term(5), Err(raft_err(raft::StorageError::Compacted)));
    assert_eq!(log.term(7), Err(raft_err(raft::StorageError::Unavailable)));
    let state = log.initial_state().unwrap();
    assert_eq!(state.hard_state, hard_state(9, 1, 6));
    assert_eq!(state.conf_state, conf_state(&[1, 2, 4], &[]));
    assert_eq!(log.latest_snapshot().unwrap(), Some(snap));

    // the log continues after the snapshot
    log.append(&[entry(7, 9)]).unwrap();
    assert_eq!(all_entries(&log), vec![entry(7, 9)]);

    // older than the log
    assert!(matches!(
        log.apply_snapshot(&snapshot(6, 9, &[1, 2, 4], b"")),
        Err(StorageError::SnapshotOutOfDate {
            index: 6,
            first_index: 7
        })
    ));

    // far past the log, with a term below the current one: the term stays
    log.apply_snapshot(&snapshot(20, 5, &[1, 2, 4], b"state at 20"))
        .unwrap();
    assert_eq!(log.first_index(), Ok(21));
    assert_eq!(log.last_index(), Ok(20));
    assert_eq!(all_entries(&log), vec![]);
    assert_eq!(
        log.initial_state().unwrap().hard_state,
        hard_state(9, 1, 20)
    );
}

#[test]
fn set_commit_only_moves_the_commit_index_forward() {
    let (_dir, log) = fresh();
    log.set_hard_state(&hard_state(2, 1, 3)).unwrap();
    log.set_commit(5).unwrap();
    assert_eq!(log.initial_state().unwrap().hard_state, hard_state(2, 1, 5));
    log.set_commit(4).unwrap();
    assert_eq!(log.initial_state().unwrap().hard_state, hard_state(2, 1, 5));
}

#[test]
fn bootstrap_only_on_a_new_log() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = open(dir.path());
        log.set_node_identity(1, "c1").unwrap();
        assert!(!log.is_initialized(), "the identity alone does not count");
        assert!(matches!(log.bootstrap(&[]), Err(StorageError::NoVoters)));
        assert!(!log.is_initialized());
        log.bootstrap(&[1, 2, 3]).unwrap();
        assert!(log.is_initialized());
        let state = log.initial_state().unwrap();
        assert_eq!(state.conf_state, conf_state(&[1, 2, 3], &[]));
        assert_eq!(state.hard_state, HardState::default());
        assert_eq!(log.first_index(), Ok(1));
        assert_eq!(log.last_index(), Ok(0));
        assert!(matches!(
            log.bootstrap(&[1, 2, 3]),
            Err(StorageError::AlreadyInitialized)
        ));
        log.sync().unwrap();
    }
    let log = open(dir.path());
    assert!(log.is_initialized());
    assert!(matches!(
        log.bootstrap(&[1]),
        Err(StorageError::AlreadyInitialized)
    ));

    // anything persisted makes a log initialized
    let (_dir, log) = fresh();
    log.append(&[entry(1, 1)]).unwrap();
    assert!(matches!(
        log.bootstrap(&[1]),
        Err(StorageError::AlreadyInitialized)
    ));
    let (_dir, log) = fresh();
    log.set_hard_state(&hard_state(1, 0, 0)).unwrap();
    assert!(matches!(
        log.bootstrap(&[1]),
        Err(StorageError::AlreadyInitialized)
    ));
}

#[test]
fn everything_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let snap_data = b"state at 4".to_vec();
    {
        let log = open(dir.path());
        log.set_node_identity(2, "cluster-a").unwrap();
        log.apply_snapshot(&snapshot(3, 3, &[1, 2, 3], b"state at 3"))
            .unwrap();
        log.append(&entries(4, 6)).unwrap();
        log.set_hard_state(&hard_state(6, 2, 5)).unwrap();
        log.set_conf_state(&conf_state(&[1, 2, 3], &[4])).unwrap();
        log.compact(4, snap_data.clone()).unwrap();
        log.sync().unwrap();
    }
    let log = open(dir.path());
    assert!(log.is_initialized());
    assert_eq!(log.first_index(), Ok(5));
    assert_eq!(log.last_index(), Ok(6));
    assert_eq!(log.term(4), Ok(4));
    assert_eq!(all_entries(&log), entries(5, 6));
    let state = log.initial_state().unwrap();
    assert_eq!(state.hard_state, hard_state(6, 2, 5));
    assert_eq!(state.conf_state, conf_state(&[1, 2, 3], &[4]));
    let snap = log.latest_snapshot().unwrap().unwrap();
    assert_eq!(snap.get_metadata().index, 4);
    assert_eq!(snap.get_metadata().term, 4);
    assert_eq!(
        snap.get_metadata().get_conf_state(),
        &conf_state(&[1, 2, 3], &[4])
    );
    assert_eq!(snap.data.as_ref(), &snap_data[..]);
    assert_eq!(
        log.node_identity().unwrap(),
        Some((2, "cluster-a".to_owned()))
    );
}

#[test]
fn reset_discards_the_raft_state_and_keeps_the_identity() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = open(dir.path());
        log.set_node_identity(2, "cluster-a").unwrap();
        log.bootstrap(&[1, 2, 3]).unwrap();
        log.append(&entries(1, 6)).unwrap();
        log.set_hard_state(&hard_state(6, 2, 5)).unwrap();
        log.compact(4, b"state at 4".to_vec()).unwrap();
        log.reset().unwrap();
        assert!(!log.is_initialized());
        assert_eq!(log.first_index(), Ok(1));
        assert_eq!(log.last_index(), Ok(0));
        log.sync().unwrap();
    }
    let log = open(dir.path());
    assert!(!log.is_initialized(), "nothing left after reopening");
    let state = log.initial_state().unwrap();
    assert_eq!(state.hard_state, HardState::default());
    assert_eq!(state.conf_state, ConfState::default());
    assert_eq!(log.latest_snapshot().unwrap(), None);
    assert_eq!(all_entries(&log), Vec::<Entry>::new());
    assert_eq!(
        log.node_identity().unwrap(),
        Some((2, "cluster-a".to_owned()))
    );
    // A new node's log again: it takes a leader's snapshot and entries.
    log.apply_snapshot(&snapshot(7, 3, &[1, 2, 3], b"state at 7"))
        .unwrap();
    log.append(&entries(8, 9)).unwrap();
    assert_eq!(log.first_index(), Ok(8));
}

#[test]
fn handles_from_one_store_share_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Duration::from_millis(100)).unwrap();
    let a = store.raft().unwrap();
    let b = store.clone().raft().unwrap();
    a.append(&entries(1, 3)).unwrap();
    assert_eq!(b.last_index(), Ok(3));
    assert_eq!(a.clone().last_index(), Ok(3));
}

#[test]
fn open_rejects_a_log_that_does_not_follow_its_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path()).unwrap();
        let stray = entry(5, 1).write_to_bytes().unwrap();
        db.open_tree("raft_entries")
            .unwrap()
            .insert(index_key(5), stray)
            .unwrap();
        db.flush().unwrap();
    }
    let store = Store::open(dir.path(), Duration::from_millis(100)).unwrap();
    assert!(matches!(
        store.raft(),
        Err(StorageError::Gap {
            expected: 1,
            got: 5
        })
    ));
}

fn logger() -> slog::Logger {
    slog::Logger::root(slog::Discard, slog::o!())
}

fn single_voter_config() -> raft::Config {
    let config = raft::Config {
        id: 1,
        ..Default::default()
    };
    config.validate().unwrap();
    config
}

/// A minimal Ready loop for a single voter (nobody to send messages to): apply the snapshot,
/// collect committed entries, append, persist the hard state, sync, advance.
fn drive(node: &mut RawNode<RaftLog>, log: &RaftLog, applied: &mut Vec<Entry>) {
    while node.has_ready() {
        let mut ready = node.ready();
        assert!(ready.messages().is_empty() && ready.persisted_messages().is_empty());
        if !ready.snapshot().is_empty() {
            log.apply_snapshot(ready.snapshot()).unwrap();
        }
        applied.extend(ready.take_committed_entries());
        log.append(ready.entries()).unwrap();
        if let Some(hs) = ready.hs() {
            log.set_hard_state(hs).unwrap();
        }
        log.sync().unwrap();
        let mut light = node.advance(ready);
        if let Some(commit) = light.commit_index() {
            log.set_commit(commit).unwrap();
        }
        applied.extend(light.take_committed_entries());
        node.advance_apply();
    }
}

#[test]
fn raw_node_commits_over_the_log_and_restarts_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let first_proposal = b"first position update".to_vec();
    let committed_index;
    {
        let log = open(dir.path());
        log.bootstrap(&[1]).unwrap();
        let mut node = RawNode::new(&single_voter_config(), log.clone(), &logger()).unwrap();
        let mut applied = Vec::new();
        node.campaign().unwrap();
        drive(&mut node, &log, &mut applied);
        assert_eq!(node.raft.state, StateRole::Leader);

        node.propose(vec![], first_proposal.clone()).unwrap();
        drive(&mut node, &log, &mut applied);
        let committed = applied
            .iter()
            .find(|e| e.data.as_ref() == &first_proposal[..])
            .expect("the proposal is committed");
        committed_index = committed.index;
    }

    let log = open(dir.path());
    let state = log.initial_state().unwrap();
    assert!(state.hard_state.commit >= committed_index);
    assert_eq!(state.conf_state.voters, vec![1]);
    let stored = log
        .entries(committed_index, committed_index + 1, None, ctx())
        .unwrap();
    assert_eq!(stored[0].data.as_ref(), &first_proposal[..]);

    // Compact to the committed entry, then restart a node over the log: raft-rs accepts the
    // state (commit not below the snapshot) and keeps committing on top of it.
    log.compact(committed_index, b"state machine".to_vec())
        .unwrap();
    let mut node = RawNode::new(&single_voter_config(), log.clone(), &logger()).unwrap();
    assert_eq!(node.raft.raft_log.committed, state.hard_state.commit);
    let mut applied = Vec::new();
    node.campaign().unwrap();
    drive(&mut node, &log, &mut applied);
    assert_eq!(node.raft.state, StateRole::Leader);
    let second_proposal = b"second position update".to_vec();
    node.propose(vec![], second_proposal.clone()).unwrap();
    drive(&mut node, &log, &mut applied);
    let committed = applied
        .iter()
        .find(|e| e.data.as_ref() == &second_proposal[..])
        .expect("the second proposal is committed");
    assert!(committed.index > committed_index);
    assert_eq!(committed.term, state.hard_state.term + 1);
}
