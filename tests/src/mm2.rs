//! MirrorMaker 2's own client classes as the judge of wire compatibility: `tests/java/MirrorProbe.java`
//! (run by Java's single-file launcher with the Kafka jars on the class path) decodes Strait's
//! internal topics with MM2's `Checkpoint`, `Heartbeat` and `OffsetSync`, translates offsets with
//! `RemoteClusterUtils` / `MirrorClient`, and lists upstream clusters as MM2's tools see them.

use std::path::Path;
use std::process::Stdio;

use crate::kafka::{java, libs_dir};
use crate::process::die_with_test;

/// One fact the probe printed: its tab-separated fields (the first names the kind of fact).
pub type Fact = Vec<String>;

/// What the probe printed for `args` (see the Java file's header). Panics unless it ran
/// to its end with exit status 0.
pub fn probe(args: &[&str]) -> Vec<Fact> {
    let (status, facts, stderr) = probe_status(args);
    assert_eq!(
        status,
        Some(0),
        "MirrorProbe {args:?} failed:\n{}\n{stderr}",
        facts
            .iter()
            .map(|f| f.join("\t"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    facts
}

/// The probe's exit status, its facts (without the closing `ok`) and its standard error.
pub fn probe_status(args: &[&str]) -> (Option<i32>, Vec<Fact>, String) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("java/MirrorProbe.java");
    let mut command = java(&libs_dir());
    command.arg(&source).args(args).stdin(Stdio::null());
    let output = die_with_test(&mut command)
        .output()
        .unwrap_or_else(|e| panic!("running java (is Java installed?): {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines: Vec<&str> = stdout.lines().collect();
    let complete = lines.last() == Some(&"ok");
    if complete {
        lines.pop();
    }
    let facts = lines
        .iter()
        .map(|line| line.split('\t').map(str::to_owned).collect())
        .collect();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let status = if complete { output.status.code() } else { None };
    (status, facts, stderr)
}

/// The facts of one kind (`"checkpoint"`, `"translated"`, ...), without the kind.
pub fn of_kind(facts: &[Fact], kind: &str) -> Vec<Fact> {
    facts
        .iter()
        .filter(|f| f.first().is_some_and(|k| k == kind))
        .map(|f| f[1..].to_vec())
        .collect()
}
