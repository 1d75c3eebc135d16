//! The `strait` control commands as a user meets them (issue 15): no command hangs (a frozen node,
//! a port that never answers), errors say what to do (a missing port, nothing listening, a port
//! that is not Strait's: an HTTP/1 server, a gRPC server without `strait.v1`), several contacts
//! are tried in turn, `watch` reconnects when its node dies, a node never heard from shows as
//! `registered`, `assignments --node 0` is refused, a cluster without quorum says so, and a paused
//! flow's lag grows with its source instead of reading 0.
//!
//! Real `strait` processes throughout (the CLI binary as a user runs it); only the last test needs
//! a broker.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use strait_tests::cluster::StraitCluster;
use strait_tests::config::Config;
use strait_tests::strait::{run_cli, run_cli_ok, strait_bin, temp_dir};
use strait_tests::{admin, broker, data, names, serial, wait, Broker, Strait};

const FLOW: &str = "A->B";
const DEMO_HINT: &str = "the demo's nodes are at 127.0.0.1:7071,127.0.0.1:7072,127.0.0.1:7073";

/// Runs `strait <args>` and measures it; it must fail (exit 1) with every `parts` in stderr.
fn refused(args: &[&str], parts: &[&str]) -> Duration {
    let started = Instant::now();
    let out = run_cli(args);
    let took = started.elapsed();
    assert_eq!(out.code, Some(1), "strait {args:?}: {out:?}");
    for part in parts {
        assert!(
            out.stderr.contains(part),
            "strait {args:?}: {part:?} missing in stderr:\n{}",
            out.stderr
        );
    }
    println!(
        "strait {args:?} ({:.1} s): {}",
        took.as_secs_f64(),
        out.stderr.trim()
    );
    took
}

/// A table's rows, split at whitespace.
fn rows(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect()
}

/// A port that accepts connections and never answers (what a frozen process looks like from
/// outside, kernel backlog included). Connections are held until the test ends.
fn silent_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
    let address = listener.local_addr().expect("its address").to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    address
}

/// A port that answers every connection with an HTTP/1 error and keeps it open a while.
fn http1_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
    let address = listener.local_addr().expect("its address").to_string();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut buffer = [0u8; 1024];
                let _ = stream.read(&mut buffer);
                let _ = stream.write_all(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\n\r\nbad request",
                );
                std::thread::sleep(Duration::from_secs(5));
            });
        }
    });
    address
}

/// Every bad contact gets its own message with what to do, and within the deadline: nothing
/// hangs. One real node with a plaintext health port (a gRPC server without `strait.v1`); no
/// broker.
#[test]
fn cli_errors_say_what_to_do_and_never_hang() {
    let nowhere = format!("127.0.0.1:{}", broker::free_port());
    let data_dir = temp_dir("strait-data-");
    let mut config = Config::a_to_b(&nowhere, &nowhere, data_dir.path(), &["orders"]);
    let health = format!("127.0.0.1:{}", broker::free_port());
    config.cluster.health_listen = Some(health.clone());
    let node = Strait::start(&config.toml(), "toml");
    let address = format!("127.0.0.1:{}", config.cluster_port);
    wait::until(
        "the node to answer",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || {
            let out = run_cli(&["--contact", &address, "nodes"]);
            if out.code == Some(0) {
                Ok(())
            } else {
                Err(out.stderr)
            }
        },
        || node.log_tail(20),
    );

    refused(
        &["--contact", "127.0.0.1", "nodes"],
        &["--contact 127.0.0.1: missing port, e.g. 127.0.0.1:7071"],
    );
    let closed = format!("127.0.0.1:{}", broker::free_port());
    refused(
        &["--contact", &closed, "nodes"],
        &[
            &format!("nothing listens on {closed}; is the node running?"),
            DEMO_HINT,
        ],
    );
    let silent = silent_port();
    let took = refused(
        &["--contact", &silent, "--timeout", "1s", "nodes"],
        &[&format!(
            "no answer from {silent} within 1s (the node may be frozen or overloaded); try \
             another node with --contact a,b,c or raise --timeout"
        )],
    );
    assert!(took < Duration::from_secs(4), "took {took:?}");
    // `watch` too: its deadline covers connecting and the first event.
    let took = refused(
        &["--contact", &silent, "--timeout", "1s", "watch"],
        &[&format!("no answer from {silent} within 1s")],
    );
    assert!(took < Duration::from_secs(4), "took {took:?}");
    let http1 = http1_port();
    refused(
        &["--contact", &http1, "--timeout", "2s", "nodes"],
        &[&format!("{http1} answered but is not a Strait node")],
    );
    refused(
        &["--contact", &health, "nodes"],
        &[&format!(
            "{health} answered but is not a Strait node (no strait.v1.Cluster service"
        )],
    );
    // Several contacts: every failure is listed, each with its reason.
    refused(
        &[
            "--contact",
            &format!("{closed},{silent},{http1}"),
            "--timeout",
            "1s",
            "status",
        ],
        &[
            "none of the 3 contacts answered:",
            &format!("nothing listens on {closed}"),
            &format!("no answer from {silent} within 1s"),
            &format!("{http1} answered but is not a Strait node"),
        ],
    );
    // ...and the first one that answers is used.
    let started = Instant::now();
    let out = run_cli_ok(&[
        "--contact",
        &format!("{closed},{silent},{address}"),
        "--timeout",
        "1s",
        "nodes",
    ]);
    let took = started.elapsed();
    assert_eq!(
        rows(&out),
        vec![
            vec![
                "NODE",
                "ADDRESS",
                "ROLE",
                "LIVENESS",
                "DRAINING",
                "PARTITIONS"
            ],
            vec!["1", &address, "leader", "alive", "no", "0"]
        ],
        "{out}"
    );
    assert!(took < Duration::from_secs(4), "took {took:?}");
    // A filter that matches nothing returns nothing: node 0 is no node, not "every node".
    refused(
        &["--contact", &address, "assignments", "--node", "0"],
        &["--node 0: node ids start at 1"],
    );
    refused(
        &["--contact", &address, "assignments", "--node", "7"],
        &["NotFound: node_id: node 7 is not a member"],
    );
    drop(node);
}

/// Output lines of a running `strait watch`, read on threads of their own.
struct Watch {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Watch {
    fn start(args: &[&str]) -> Watch {
        let mut child = Command::new(strait_bin())
            .args(args)
            .arg("watch")
            .env_remove("STRAIT_CONTACT")
            .env_remove("STRAIT_TIMEOUT")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("strait watch");
        let lines = |pipe: Box<dyn Read + Send>| {
            let lines = Arc::new(Mutex::new(Vec::new()));
            let sink = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    sink.lock().unwrap().push(line);
                }
            });
            lines
        };
        let stdout = lines(Box::new(child.stdout.take().expect("stdout")));
        let stderr = lines(Box::new(child.stderr.take().expect("stderr")));
        Watch {
            child,
            stdout,
            stderr,
        }
    }

    fn wait_line(&self, what: &str, stream: &Arc<Mutex<Vec<String>>>, want: &dyn Fn(&str) -> bool) {
        wait::until(
            what,
            Duration::from_secs(30),
            Duration::from_millis(100),
            || {
                let lines = stream.lock().unwrap();
                if lines.iter().any(|l| want(l)) {
                    Ok(())
                } else {
                    Err(format!("{} lines", lines.len()))
                }
            },
            || self.describe(),
        );
    }

    fn describe(&self) -> String {
        format!(
            "watch stdout:\n{}\nwatch stderr:\n{}",
            self.stdout.lock().unwrap().join("\n"),
            self.stderr.lock().unwrap().join("\n")
        )
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Three nodes, no broker: a frozen node costs one timeout and the next contact answers; `watch`
/// moves to another contact when its node is killed; a node `add-node` registered shows as
/// `registered`; with two of three nodes gone `status` says there is no quorum.
#[test]
fn cli_survives_frozen_and_dead_nodes() {
    let nowhere = format!("127.0.0.1:{}", broker::free_port());
    let base = Config::a_to_b(&nowhere, &nowhere, Path::new("unused"), &["orders"]);
    let mut cluster = StraitCluster::start(3, &base);
    let leader = cluster.wait_leader(Duration::from_secs(30));
    let followers: Vec<u64> = (1..=3).filter(|id| *id != leader).collect();
    let (frozen, killed) = (followers[0], followers[1]);
    let [leader_at, frozen_at, killed_at] = [leader, frozen, killed].map(|id| cluster.address(id));

    // A node registered for a later start was never heard from: not "alive".
    let spare = format!("127.0.0.1:{}", broker::free_port());
    let out = run_cli_ok(&[
        "--contact",
        &leader_at,
        "add-node",
        "--node",
        "4",
        "--address",
        &spare,
    ]);
    assert!(
        rows(&out).contains(&vec![
            "4".to_owned(),
            spare.clone(),
            "voter".to_owned(),
            "registered".to_owned(),
            "no".to_owned(),
            "0".to_owned()
        ]),
        "{out}"
    );
    run_cli_ok(&["--contact", &leader_at, "remove-node", "4"]);

    let watch = Watch::start(&["--contact", &format!("{killed_at},{leader_at}")]);
    watch.wait_line(
        "the first snapshot, from the first contact",
        &watch.stdout,
        &|l| l.contains(&format!("snapshot: node {killed} ")),
    );

    cluster.pause(frozen);
    let took = refused(
        &["--contact", &frozen_at, "--timeout", "2s", "nodes"],
        &[&format!(
            "no answer from {frozen_at} within 2s (the node may be frozen or overloaded)"
        )],
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let started = Instant::now();
    let out = run_cli_ok(&[
        "--contact",
        &format!("{frozen_at},{leader_at}"),
        "--timeout",
        "2s",
        "nodes",
    ]);
    let took = started.elapsed();
    assert!(
        rows(&out)
            .iter()
            .any(|r| r[..3] == [leader.to_string(), leader_at.clone(), "leader".to_owned()]),
        "{out}"
    );
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(6),
        "took {took:?}"
    );

    cluster.kill9(killed);
    watch.wait_line(
        "the line saying the watch lost its node",
        &watch.stderr,
        &|l| {
            l.starts_with(&format!(
                "watch: lost {killed_at} (the connection to {killed_at} broke: "
            ))
        },
    );
    watch.wait_line("a snapshot from the next contact", &watch.stdout, &|l| {
        l.contains(&format!("snapshot: node {leader} "))
    });
    watch.wait_line("the reconnection line", &watch.stderr, &|l| {
        l == format!("watch: reconnected to {leader_at}")
    });
    println!("{}", watch.describe());
    drop(watch);

    // One node of three answers: no quorum, and status says so rather than showing a stale
    // "alive" as current.
    let status = wait::until(
        "status to say there is no quorum",
        Duration::from_secs(30),
        Duration::from_millis(500),
        || {
            let out = run_cli(&["--contact", &leader_at, "status"]);
            if out.code == Some(0) && out.stdout.contains("no quorum: leader last heard ") {
                Ok(out.stdout)
            } else {
                Err(format!("{out:?}"))
            }
        },
        || cluster.describe(),
    );
    println!("{status}");
    assert!(
        status.contains("s ago; the liveness shown is as of then\n"),
        "{status}"
    );
    cluster.resume(frozen);
    cluster.terminate_all();
}

/// The figures of one partition in `strait lag -o json`.
fn lag_of(address: &str, topic: &str) -> Result<Vec<(i64, i64, String)>, String> {
    let out = run_cli(&["--contact", address, "lag", "--topic", topic, "-o", "json"]);
    if out.code != Some(0) {
        return Err(out.stderr);
    }
    let out = out.stdout;
    let json: serde_json::Value = serde_json::from_str(&out).expect("lag as JSON");
    let number = |v: &serde_json::Value| -> i64 {
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .unwrap_or(0)
    };
    let mut partitions: Vec<(i32, (i64, i64, String))> = json["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .map(|p| {
            (
                number(&p["partition"]) as i32,
                (
                    number(&p["next_source_offset"]),
                    number(&p["offset_lag"]),
                    p["state"].as_str().unwrap_or_default().to_owned(),
                ),
            )
        })
        .collect();
    partitions.sort_by_key(|(p, _)| *p);
    Ok(partitions.into_iter().map(|(_, figures)| figures).collect())
}

/// A paused flow's partitions keep reporting their lag, which grows exactly by what the source
/// receives meanwhile: never "0 behind, eta 0s" (`strait lag`, `strait status`, the progress line).
#[test]
fn a_paused_flows_lag_grows_with_its_source() {
    let _heavy = serial::heavy();
    let (source, target) = Broker::pair();
    let data_dir = temp_dir("strait-data-");
    let topic = names::unique("paused");
    admin::create_topic(source.bootstrap(), &topic, 2);
    let base_ts = data::base_timestamp();
    data::produce_generated_range(source.bootstrap(), &topic, 2, 0..100, base_ts);
    let config = Config::a_to_b(
        source.bootstrap(),
        target.bootstrap(),
        data_dir.path(),
        &[&topic],
    );
    let node = Strait::start(&config.toml(), "toml");
    let address = format!("127.0.0.1:{}", config.cluster_port);
    let caught_up = |position: i64| {
        move |figures: &Vec<(i64, i64, String)>| {
            figures.len() == 2
                && figures
                    .iter()
                    .all(|(next, lag, _)| *next == position && *lag == 0)
        }
    };
    wait::until(
        "both partitions replicated to 100",
        Duration::from_secs(60),
        Duration::from_millis(300),
        || {
            let figures = lag_of(&address, &topic)?;
            if caught_up(100)(&figures) {
                Ok(())
            } else {
                Err(format!("{figures:?}"))
            }
        },
        || node.log_tail(20),
    );

    run_cli_ok(&["--contact", &address, "flows", "pause", FLOW]);
    data::produce_generated_range(source.bootstrap(), &topic, 2, 100..150, base_ts);
    let figures = wait::until(
        "the paused partitions to report 50 records behind each",
        Duration::from_secs(30),
        Duration::from_millis(300),
        || {
            let figures = lag_of(&address, &topic)?;
            let want = vec![(100, 50, "paused".to_owned()); 2];
            if figures == want {
                Ok(figures)
            } else {
                Err(format!("{figures:?}"))
            }
        },
        || node.log_tail(20),
    );
    println!("paused: {figures:?}");
    let status = run_cli_ok(&["--contact", &address, "status"]);
    println!("{status}");
    let row = status
        .lines()
        .find(|l| l.starts_with("A->B "))
        .expect("the flow's row");
    let cells: Vec<&str> = row
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    // FLOW STATE TOPICS PARTITIONS UNOWNED RECORDS-BEHIND MAX-TIME-LAG RATE-LIMIT ETA
    assert_eq!(cells[1], "paused", "{row}");
    assert_eq!(cells[5], "100", "{row}");
    assert_eq!(cells[7], "unlimited", "{row}");
    assert_eq!(cells.last(), Some(&"paused"), "{row}");
    let progress = wait::until(
        "a progress line with the paused partitions' lag",
        Duration::from_secs(30),
        Duration::from_millis(300),
        || {
            node.log()
                .lines()
                .rev()
                .find(|l| l.contains("progress") && l.contains("paused=2"))
                .filter(|l| l.contains("remaining=100") && l.contains("eta=paused"))
                .map(str::to_owned)
                .ok_or_else(|| "no such line yet".to_owned())
        },
        || node.log_tail(10),
    );
    println!("{progress}");

    run_cli_ok(&["--contact", &address, "flows", "resume", FLOW]);
    wait::until(
        "both partitions replicated to 150 after the resume",
        Duration::from_secs(60),
        Duration::from_millis(300),
        || {
            let figures = lag_of(&address, &topic)?;
            if caught_up(150)(&figures) && figures.iter().all(|f| f.2 == "running") {
                Ok(())
            } else {
                Err(format!("{figures:?}"))
            }
        },
        || node.log_tail(20),
    );
    drop(node);
}
