//! `strait verify`: the flow's source and target compared record for record by the nodes that own
//! the partitions; a table (or JSON) of the verdicts, a progress line on a terminal, and an exit
//! code scripts can use: 0 verified, 1 mismatches found, 2 not everything could be verified.

use std::collections::{BTreeMap, HashMap};
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Args;
use serde::Serialize;
use strait_proto::v1::verify_event::Event;
use strait_proto::v1::{PartitionVerification, VerifyFlowRequest, VerifyMismatch, VerifyProgress};

use super::table::render;
use super::{connect, json, parse_timeout, Connection, Output, Session};

/// Exit code when a mismatch was found.
pub const EXIT_MISMATCH: u8 = 1;
/// Exit code when no mismatch was found but some partition could not be verified (or the command
/// failed).
pub const EXIT_INCOMPLETE: u8 = 2;

/// How long the stream may stay silent beyond `--timeout` (nodes report progress every 500 ms).
const SILENCE_ALLOWANCE: Duration = Duration::from_secs(10);

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The flow, `SOURCE->TARGET`.
    #[arg(long)]
    pub flow: String,
    /// Only this source topic (repeatable); default: every topic of the flow.
    #[arg(long)]
    pub topic: Vec<String>,
    /// Only records with a timestamp at or after this: milliseconds since the epoch, or a
    /// duration ago (`90m`, `2h`, `3d`).
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    pub since: Option<i64>,
    /// Only records with a timestamp before this (same forms as `--since`).
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    pub until: Option<i64>,
    /// Read at most this many records per second on each node (0: unlimited).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub max_records_per_sec: u64,
    /// Read at most this many bytes (keys, values, headers of both sides) per second on each
    /// node, so that verifying does not starve replication (0: unlimited).
    #[arg(long, default_value_t = 64 * 1024 * 1024, value_name = "BYTES")]
    pub max_bytes_per_sec: u64,
}

/// `--since`/`--until`: epoch milliseconds, or a duration ago.
fn parse_time(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if text.len() >= 10 && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .map_err(|_| format!("{text:?}: not a timestamp"));
    }
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = number.parse().map_err(|_| {
        format!("{text:?}: expected milliseconds since the epoch or a duration ago (90m, 2h, 3d)")
    })?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => {
            return parse_timeout(text).map(|d| now_ms() - d.as_millis() as i64);
        }
    };
    Ok(now_ms() - (secs as i64) * 1000)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Runs `strait verify`: what to print on stdout and the exit code, or why it could not run
/// (exit code [`EXIT_INCOMPLETE`]).
pub async fn run(connection: &Connection, args: VerifyArgs) -> Result<(String, u8), String> {
    verify(connection, args).await
}

#[derive(Serialize)]
struct TopicSummary {
    topic: String,
    remote_topic: String,
    partitions: usize,
    source_records: u64,
    matched: u64,
    source_gone: u64,
    replayed: u64,
    mismatches: u64,
    unverified_partitions: usize,
}

#[derive(Serialize)]
struct Report {
    flow: String,
    /// No mismatch, every partition verified.
    verified: bool,
    source_records: u64,
    mismatches: u64,
    unverified_partitions: usize,
    seconds: f64,
    topics: Vec<TopicSummary>,
    partitions: Vec<PartitionVerification>,
}

async fn verify(connection: &Connection, args: VerifyArgs) -> Result<(String, u8), String> {
    let (session, _) = connect(connection, 0).await?;
    let Session {
        clients: mut c,
        deadline: d,
        ..
    } = session;
    let request = VerifyFlowRequest {
        flow: args.flow.clone(),
        topics: args.topic.clone(),
        since_ms: args.since.unwrap_or(0),
        until_ms: args.until.unwrap_or(0),
        max_records_per_second: args.max_records_per_sec,
        max_bytes_per_second: args.max_bytes_per_sec,
        local_only: false,
        partitions: Vec::new(),
    };
    let started = Instant::now();
    let mut stream = d.read(c.verify.verify_flow(request)).await?;
    let tty = std::io::stderr().is_terminal();
    let mut progress: HashMap<u64, VerifyProgress> = HashMap::new();
    let mut partitions = Vec::new();
    let silence = d.timeout + SILENCE_ALLOWANCE;
    loop {
        let message = match tokio::time::timeout(silence, stream.message()).await {
            Ok(Ok(Some(message))) => message,
            Ok(Ok(None)) => break,
            Ok(Err(status)) => {
                clear_line(tty);
                return Err(super::describe_stream_error(&d.contact, status));
            }
            Err(_) => {
                clear_line(tty);
                return Err(format!(
                    "{}: no progress reported for {silence:?}; the node may be stuck",
                    d.contact
                ));
            }
        };
        match message.event {
            Some(Event::Progress(p)) => {
                progress.insert(p.node_id, p);
                if tty {
                    progress_line(&progress, started.elapsed());
                }
            }
            Some(Event::Partition(p)) => partitions.push(p),
            None => {}
        }
    }
    clear_line(tty);
    partitions.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    let report = summarize(&args.flow, partitions, started.elapsed());
    let code = if report.mismatches > 0 {
        EXIT_MISMATCH
    } else if report.unverified_partitions > 0 {
        EXIT_INCOMPLETE
    } else {
        0
    };
    let out = if connection.output == Output::Json {
        json(&report)
    } else {
        table(&report)
    };
    Ok((out, code))
}

fn clear_line(tty: bool) {
    if tty {
        let mut err = std::io::stderr();
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    }
}

/// `verify: 412,000 of 1,000,000 offsets (41%)  180,000 records/s  ETA 3s`, rewritten in place.
fn progress_line(progress: &HashMap<u64, VerifyProgress>, elapsed: Duration) {
    let records: u64 = progress.values().map(|p| p.records_checked).sum();
    let total: u64 = progress.values().map(|p| p.offsets_total).sum();
    let done: u64 = progress
        .values()
        .map(|p| p.offsets_done)
        .sum::<u64>()
        .min(total);
    let secs = elapsed.as_secs_f64().max(0.001);
    let rate = records as f64 / secs;
    let eta = if done > 0 && total > done {
        let left = (total - done) as f64 * secs / done as f64;
        format!(
            "ETA {}",
            super::human(Duration::from_secs(left.ceil() as u64))
        )
    } else {
        "ETA -".to_owned()
    };
    let percent = (done * 100).checked_div(total).unwrap_or(0);
    let mut err = std::io::stderr();
    let _ = write!(
        err,
        "\r\x1b[2Kverify: {done} of {total} offsets ({percent}%)  {rate:.0} records/s  {eta}"
    );
    let _ = err.flush();
}

fn summarize(flow: &str, partitions: Vec<PartitionVerification>, elapsed: Duration) -> Report {
    let mut topics: BTreeMap<String, TopicSummary> = BTreeMap::new();
    for p in &partitions {
        let t = topics
            .entry(p.topic.clone())
            .or_insert_with(|| TopicSummary {
                topic: p.topic.clone(),
                remote_topic: p.remote_topic.clone(),
                partitions: 0,
                source_records: 0,
                matched: 0,
                source_gone: 0,
                replayed: 0,
                mismatches: 0,
                unverified_partitions: 0,
            });
        t.partitions += 1;
        t.source_records += p.source_records;
        t.matched += p.matched;
        t.source_gone += p.source_gone;
        t.replayed += p.replayed;
        t.mismatches += p.mismatches;
        t.unverified_partitions += usize::from(!p.error.is_empty());
    }
    let topics: Vec<TopicSummary> = topics.into_values().collect();
    let mismatches = topics.iter().map(|t| t.mismatches).sum();
    let unverified_partitions = topics.iter().map(|t| t.unverified_partitions).sum();
    Report {
        flow: flow.to_owned(),
        verified: mismatches == 0 && unverified_partitions == 0,
        source_records: topics.iter().map(|t| t.source_records).sum(),
        mismatches,
        unverified_partitions,
        seconds: elapsed.as_secs_f64(),
        topics,
        partitions,
    }
}

fn range(start: i64, end: i64) -> String {
    if start < 0 {
        "-".to_owned()
    } else {
        format!("{start}..{end}")
    }
}

/// `changed at source 5 -> target 5 (value, timestamp)`.
pub fn describe_mismatch(m: &VerifyMismatch) -> String {
    let at = |o: i64| if o < 0 { "-".to_owned() } else { o.to_string() };
    let mut out = format!(
        "{} at source {} -> target {}",
        m.kind,
        at(m.source_offset),
        at(m.target_offset)
    );
    if !m.fields.is_empty() {
        out.push_str(&format!(" ({})", m.fields.join(", ")));
    }
    out
}

fn table(report: &Report) -> String {
    let rows: Vec<Vec<String>> = report
        .partitions
        .iter()
        .map(|p| {
            vec![
                p.topic.clone(),
                p.partition.to_string(),
                p.node_id.to_string(),
                range(p.source_start, p.source_end),
                range(p.target_start, p.target_end),
                p.source_records.to_string(),
                p.matched.to_string(),
                p.source_gone.to_string(),
                p.replayed.to_string(),
                p.mismatches.to_string(),
                if !p.error.is_empty() {
                    format!("not verified: {}", p.error)
                } else {
                    p.first_mismatch
                        .as_ref()
                        .map(describe_mismatch)
                        .unwrap_or_else(|| "ok".to_owned())
                },
            ]
        })
        .collect();
    let mut out = format!("flow {}\n", report.flow);
    out.push_str(&render(
        &[
            "TOPIC",
            "PARTITION",
            "NODE",
            "SOURCE",
            "TARGET",
            "RECORDS",
            "MATCHED",
            "GONE",
            "REPLAYED",
            "MISMATCHES",
            "FIRST MISMATCH",
        ],
        &rows,
    ));
    out.push('\n');
    let rows: Vec<Vec<String>> = report
        .topics
        .iter()
        .map(|t| {
            vec![
                t.topic.clone(),
                t.remote_topic.clone(),
                t.partitions.to_string(),
                t.source_records.to_string(),
                t.matched.to_string(),
                t.mismatches.to_string(),
                if t.mismatches > 0 {
                    "MISMATCH".to_owned()
                } else if t.unverified_partitions > 0 {
                    format!("{} partition(s) not verified", t.unverified_partitions)
                } else {
                    "verified".to_owned()
                },
            ]
        })
        .collect();
    out.push_str(&render(
        &[
            "TOPIC",
            "REMOTE",
            "PARTITIONS",
            "RECORDS",
            "MATCHED",
            "MISMATCHES",
            "VERDICT",
        ],
        &rows,
    ));
    let rate = report.source_records as f64 / report.seconds.max(0.001);
    out.push_str(&format!(
        "\n{}: {} source records in {} partitions, {} mismatches, {} not verified ({:.1} s, {:.0} records/s)\n",
        if report.verified { "VERIFIED" } else if report.mismatches > 0 { "MISMATCH" } else { "INCOMPLETE" },
        report.source_records,
        report.partitions.len(),
        report.mismatches,
        report.unverified_partitions,
        report.seconds,
        rate
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_epoch_millis_or_a_duration_ago() {
        assert_eq!(parse_time("1700000000000"), Ok(1_700_000_000_000));
        let ago = now_ms() - parse_time("2h").unwrap();
        assert!((7_199_000..7_201_000).contains(&ago), "{ago}");
        assert!(parse_time("yesterday").is_err());
    }
}
