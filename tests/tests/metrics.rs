//! The Prometheus endpoint (`[node] metrics_listen`): counts what the target acknowledged, exactly,
//! shows the Raft role, and keeps answering while the target is frozen.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use strait_tests::config::Config;
use strait_tests::data;
use strait_tests::strait::temp_dir;
use strait_tests::verify::wait_for_tail;
use strait_tests::{admin, broker, names, serial, wait, Broker};

const PARTITIONS: i32 = 3;
const PER_PARTITION: u64 = 500;
/// How long one scrape may take.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /metrics` over plain HTTP/1.1; the response body, or why there is none.
fn scrape(addr: SocketAddr) -> Result<String, String> {
    let mut stream = TcpStream::connect_timeout(&addr, SCRAPE_TIMEOUT)
        .map_err(|e| format!("connect {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(SCRAPE_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(SCRAPE_TIMEOUT)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("send: {e}"))?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| format!("read: {e} (so far: {response:?})"))?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("not an HTTP response: {response:?}"))?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("not 200: {head}"));
    }
    Ok(body.to_owned())
}

/// The value of the sample named `name` whose labels include every one of `labels`.
fn sample(body: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    body.lines()
        .filter(|line| !line.starts_with('#'))
        .find(|line| {
            let (series, _) = line.rsplit_once(' ').unwrap_or((line, ""));
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            metric == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|line| line.rsplit_once(' ')?.1.parse().ok())
}

/// 3 partitions x 500 records through a node with `metrics_listen`: the endpoint reports
/// exactly 1500 acknowledged records for the remote topic, the node leads its cluster of one, it
/// owns the 3 partitions, and it keeps answering while the target broker is SIGSTOPped.
#[test]
fn metrics_endpoint_counts_exactly_and_answers_while_target_is_frozen() {
    let _heavy = serial::heavy();
    let (source, target) = Broker::pair();
    let data_dir = temp_dir("strait-data-");
    let topic = names::unique("metrics");
    admin::create_topic(source.bootstrap(), &topic, PARTITIONS as usize);
    let remote = format!("A.{topic}");
    let mut config = Config::a_to_b(
        source.bootstrap(),
        target.bootstrap(),
        data_dir.path(),
        &[&topic],
    );
    let addr: SocketAddr = format!("127.0.0.1:{}", broker::free_port())
        .parse()
        .expect("an address");
    config.metrics_listen = Some(addr);

    let sent = data::produce_generated(
        source.bootstrap(),
        &topic,
        PARTITIONS,
        PER_PARTITION,
        data::base_timestamp(),
    );
    let mut strait = strait_tests::Strait::start(&config.toml(), "toml");
    wait_for_tail(target.bootstrap(), &remote, &sent, Some(&strait));

    let expected = (PARTITIONS as u64 * PER_PARTITION) as f64;
    let records = [("flow", "A->B"), ("topic", remote.as_str())];
    let body = wait::until(
        "strait_replication_records_total to reach 1500",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || {
            let body = scrape(addr)?;
            match sample(&body, "strait_replication_records_total", &records) {
                Some(value) if value == expected => Ok(body),
                value => Err(format!("{value:?}\n{body}")),
            }
        },
        || strait.log_tail(40),
    );
    assert!(
        sample(&body, "strait_replication_bytes_total", &records).is_some_and(|v| v > 0.0),
        "no acknowledged bytes:\n{body}"
    );
    let body = wait::until(
        "the sampled metrics",
        Duration::from_secs(10),
        Duration::from_millis(200),
        || {
            let body = scrape(addr)?;
            let leader = sample(&body, "strait_raft_is_leader", &[]);
            let owned = sample(
                &body,
                "strait_replication_partitions_owned",
                &[("flow", "A->B")],
            );
            match (leader, owned) {
                (Some(1.0), Some(3.0)) => Ok(body),
                _ => Err(format!("leader {leader:?}, owned {owned:?}\n{body}")),
            }
        },
        || strait.log_tail(40),
    );
    assert!(
        sample(&body, "strait_raft_term", &[]).is_some_and(|v| v >= 1.0),
        "no Raft term:\n{body}"
    );
    assert!(
        sample(&body, "strait_raft_applied_index", &[]).is_some_and(|v| v >= 1.0),
        "no applied index:\n{body}"
    );
    println!("{body}");

    // A frozen target: the endpoint still answers, and what was acknowledged stays counted once.
    target.pause();
    for _ in 0..5 {
        let body = scrape(addr);
        let body = match body {
            Ok(body) => body,
            Err(error) => {
                target.resume();
                panic!("no answer while the target is frozen: {error}");
            }
        };
        assert_eq!(
            sample(&body, "strait_replication_records_total", &records),
            Some(expected),
            "{body}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    target.resume();
    strait.assert_running();
}
