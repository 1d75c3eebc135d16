//! `strait cutover`: the migration moment of a flow in one command. The node asked does the steps
//! (`strait.v1.Cutover`); this prints them as they happen (on stderr) and the report at the end:
//! per group and partition the source offset, the target offset committed for it and what each
//! side has left to read, per topic the verification. Exit code 0: moved and verified; 1: moved,
//! but verification found mismatches; 2: not moved (refused, or stopped: run it again).

use std::time::Duration;

use clap::Args;
use strait_proto::v1::cutover_event::Event;
use strait_proto::v1::{CutoverReport, CutoverRequest};

use super::table::render;
use super::{connect, json, parse_timeout, Connection, Output, Session};

/// Exit code when the groups were moved but verification found mismatches.
pub const EXIT_MISMATCH: u8 = 1;
/// Exit code when the cutover was refused or stopped before the end.
pub const EXIT_NOT_DONE: u8 = 2;

/// How long the stream may stay silent (the node reports every change of the lag it waits on,
/// and verification reports per step).
const SILENCE: Duration = Duration::from_secs(120);

#[derive(Args, Debug)]
pub struct CutoverArgs {
    /// The flow, `SOURCE->TARGET`.
    #[arg(long)]
    pub flow: String,
    /// A consumer group to move (repeatable; at least one). It must have no active member on
    /// the source or the target.
    #[arg(long = "group", required = true, value_name = "GROUP")]
    pub groups: Vec<String>,
    /// How long every partition must stay fully replicated with no new source record before the
    /// flow is paused.
    #[arg(long, default_value = "5s", value_parser = parse_timeout, value_name = "DURATION")]
    pub quiet: Duration,
    /// Give up when the source is not quiet after this long (the flow is left as it was).
    #[arg(long, default_value = "5m", value_parser = parse_timeout, value_name = "DURATION",
        conflicts_with = "wait_for_quiet")]
    pub max_wait: Duration,
    /// Wait for the source to be quiet as long as it takes (e.g. while producers are being
    /// stopped).
    #[arg(long)]
    pub wait_for_quiet: bool,
    /// Print the plan (what would be committed now) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not verify the groups' topics after committing.
    #[arg(long)]
    pub no_verify: bool,
    /// Verification's read limit per node, bytes per second of both sides (0: unlimited).
    #[arg(long, default_value_t = 64 * 1024 * 1024, value_name = "BYTES")]
    pub verify_max_bytes_per_sec: u64,
}

/// Runs `strait cutover`: what to print on stdout and the exit code, or why it did not finish
/// (exit code [`EXIT_NOT_DONE`]).
pub async fn run(connection: &Connection, args: CutoverArgs) -> Result<(String, u8), String> {
    let (session, _) = connect(connection, 0).await?;
    let Session {
        clients: mut c,
        deadline: d,
        ..
    } = session;
    let seconds = |d: Duration| u32::try_from(d.as_secs().max(1)).unwrap_or(u32::MAX);
    let request = CutoverRequest {
        flow: args.flow.clone(),
        groups: args.groups.clone(),
        quiet_seconds: seconds(args.quiet),
        max_wait_seconds: if args.wait_for_quiet {
            0
        } else {
            seconds(args.max_wait)
        },
        dry_run: args.dry_run,
        skip_verify: args.no_verify,
        verify_max_bytes_per_second: args.verify_max_bytes_per_sec,
    };
    let mut stream = d.read(c.cutover.cutover_flow(request)).await?;
    let silence = SILENCE.max(args.quiet * 2);
    let mut report = None;
    loop {
        let message = match tokio::time::timeout(silence, stream.message()).await {
            Ok(Ok(Some(message))) => message,
            Ok(Ok(None)) => break,
            Ok(Err(status)) => return Err(super::describe_stream_error(&d.contact, status)),
            Err(_) => {
                return Err(format!(
                    "{}: nothing reported for {silence:?}; the node may be stuck (run the \
                     cutover again: every step is idempotent)",
                    d.contact
                ))
            }
        };
        match message.event {
            Some(Event::Step(step)) => {
                if step.step == "waiting" && step.lag > 0 {
                    eprintln!(
                        "{}: {} ({} record(s) to go)",
                        step.step, step.detail, step.lag
                    );
                } else {
                    eprintln!("{}: {}", step.step, step.detail);
                }
            }
            Some(Event::Report(r)) => report = Some(r),
            None => {}
        }
    }
    let Some(report) = report else {
        return Err(format!(
            "{}: the cutover ended without a report; run it again (every step is idempotent)",
            d.contact
        ));
    };
    let code = if report.verified { 0 } else { EXIT_MISMATCH };
    let out = if connection.output == Output::Json {
        json(&report)
    } else {
        table(&report)
    };
    Ok((out, code))
}

fn table(report: &CutoverReport) -> String {
    let mut out = if report.dry_run {
        format!(
            "cutover plan for flow {} (dry run: nothing changed; the flow is {})\n",
            report.flow,
            if report.paused { "paused" } else { "running" }
        )
    } else {
        format!(
            "cutover of flow {}: done in {:.1}s, the flow is paused\n",
            report.flow, report.seconds
        )
    };
    let rows: Vec<Vec<String>> = report
        .groups
        .iter()
        .flat_map(|g| {
            g.partitions.iter().map(move |p| {
                vec![
                    g.group.clone(),
                    format!("{}-{}", p.topic, p.partition),
                    p.source_offset.to_string(),
                    format!("{}-{}", p.remote_topic, p.partition),
                    p.target_offset.to_string(),
                    p.method.clone(),
                    p.replication_lag.to_string(),
                    p.source_remaining.to_string(),
                    p.target_remaining.to_string(),
                    if g.committed { "committed" } else { "planned" }.to_owned(),
                ]
            })
        })
        .collect();
    out.push_str(&render(
        &[
            "GROUP",
            "SOURCE PARTITION",
            "SOURCE OFFSET",
            "TARGET PARTITION",
            "TARGET OFFSET",
            "HOW",
            "BEHIND",
            "LEFT ON SOURCE",
            "LEFT ON TARGET",
            "",
        ],
        &rows,
    ));
    if report.verification_skipped {
        if !report.dry_run {
            out.push_str("\nverification skipped\n");
        }
        return out;
    }
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
                if t.mismatches == 0 && t.unverified_partitions == 0 {
                    "verified".to_owned()
                } else if t.mismatches > 0 {
                    format!("MISMATCHES: run `strait verify --flow {}`", report.flow)
                } else {
                    format!("{} partition(s) not verified", t.unverified_partitions)
                },
            ]
        })
        .collect();
    out.push_str(&render(
        &[
            "TOPIC",
            "REMOTE TOPIC",
            "PARTITIONS",
            "RECORDS",
            "MATCHED",
            "MISMATCHES",
            "",
        ],
        &rows,
    ));
    out
}
