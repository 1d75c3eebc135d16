//! Child processes of the tests (brokers, strait nodes): signals, and making sure none outlives
//! the test that started it.

use std::os::unix::process::CommandExt;
use std::process::Command;

/// Makes the child receive SIGKILL when the thread that spawns it ends (`PR_SET_PDEATHSIG`). Each
/// test runs on its own thread and owns its processes, so a test binary killed by a CI timeout
/// (no `Drop` runs) leaves no broker or node behind; a normal run has stopped them by then.
pub fn die_with_test(command: &mut Command) -> &mut Command {
    // SAFETY: the hook runs between fork and exec and only calls prctl(2), which is
    // async-signal-safe, and reads no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

/// Sends `sig` to process `pid`; panics when that fails (no such process).
pub fn signal(pid: u32, sig: libc::c_int) {
    let pid = libc::pid_t::try_from(pid).expect("pid fits pid_t");
    // SAFETY: kill(2) has no memory-safety preconditions.
    let rc = unsafe { libc::kill(pid, sig) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, {sig}) failed: {}",
        std::io::Error::last_os_error()
    );
}
