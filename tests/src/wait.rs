//! Polling with a deadline: tests never sleep to pass, they wait for a condition and fail with a
//! useful message when it does not come.

use std::time::{Duration, Instant};

/// Default deadline of a wait.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(90);
/// Default interval between two checks.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(200);

/// Calls `check` every `interval` until it returns `Ok`, and returns that value. `check` returns
/// `Err(state)` while the condition does not hold, `state` describing what it saw. After
/// `deadline`, panics with `what`, the last state, and what `context` returns (called once, at
/// the end; e.g. the tail of a log).
pub fn until<T>(
    what: &str,
    deadline: Duration,
    interval: Duration,
    mut check: impl FnMut() -> Result<T, String>,
    context: impl FnOnce() -> String,
) -> T {
    let started = Instant::now();
    loop {
        let state = match check() {
            Ok(value) => return value,
            Err(state) => state,
        };
        if started.elapsed() >= deadline {
            panic!(
                "timed out after {:.1} s waiting for {what}\nlast state: {state}\n{}",
                started.elapsed().as_secs_f64(),
                context()
            );
        }
        std::thread::sleep(interval);
    }
}

/// [`until`] with the default deadline and interval.
pub fn until_ok<T>(
    what: &str,
    check: impl FnMut() -> Result<T, String>,
    context: impl FnOnce() -> String,
) -> T {
    until(what, DEFAULT_DEADLINE, DEFAULT_INTERVAL, check, context)
}
