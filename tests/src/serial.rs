//! Heavy tests (two brokers, a `strait` node and tens of thousands of records) must not overlap:
//! the machines running this suite may have two cores. Tests of one file run as threads of one
//! process, so a process-wide lock is enough; cargo runs the test binaries one after another.

use std::sync::{Mutex, MutexGuard};

static HEAVY: Mutex<()> = Mutex::new(());

/// Hold the returned guard for the whole test. A test that panicked while holding the lock does
/// not poison it for the others.
pub fn heavy() -> MutexGuard<'static, ()> {
    HEAVY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
