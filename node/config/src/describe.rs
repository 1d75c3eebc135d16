//! A human summary of [`Settings`] for `strait check-config`. Secret values are masked.

use std::fmt::Write;
use std::time::Duration;

use strait_coordinator::ReplicationPolicy;

use crate::assemble::MATCH_NOTHING;
use crate::client_props::shown_value;
use crate::model::{ClientProps, FlowSettings, Settings};

impl Settings {
    /// A multi-line summary: the file, node settings, the node's cluster membership, clusters (client properties with secrets
    /// masked), each flow's resolved settings with an example remote topic name, the heartbeats
    /// of the pairs of clusters without a flow, and the keys
    /// Strait does not act on, with their line and reason.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_description(&mut out);
        out
    }

    fn write_description(&self, out: &mut String) -> std::fmt::Result {
        let format = match self.file.extension().and_then(|e| e.to_str()) {
            Some("properties") => "MirrorMaker 2 properties",
            _ => "Strait TOML",
        };
        writeln!(out, "configuration: {} ({format})", self.file.display())?;

        writeln!(out, "node:")?;
        writeln!(out, "  data dir:          {}", self.node.data_dir.display())?;
        for (label, value) in self.node.describe_lines() {
            writeln!(out, "  {:<19}{value}", format!("{label}:"))?;
        }

        let cluster = &self.cluster;
        writeln!(out, "cluster:")?;
        writeln!(out, "  node id:           {}", cluster.node_id)?;
        writeln!(out, "  listen:            {}", cluster.listen)?;
        writeln!(out, "  advertise:         {}", cluster.advertise)?;
        match (&cluster.join, cluster.peers.as_slice()) {
            (Some(join), _) => writeln!(out, "  join:              through {join}")?,
            (None, []) => writeln!(out, "  peers:             none: a single-node cluster")?,
            (None, peers) => {
                let peers: Vec<String> = peers
                    .iter()
                    .map(|p| {
                        if p.id == cluster.node_id {
                            format!("{p} (this node)")
                        } else {
                            p.to_string()
                        }
                    })
                    .collect();
                writeln!(out, "  peers:             {}", peers.join(", "))?
            }
        }
        writeln!(out, "  cluster id:        {}", cluster.cluster_id)?;
        writeln!(
            out,
            "  liveness timeout:  {}",
            duration(cluster.liveness_timeout)
        )?;
        writeln!(
            out,
            "  positions:         proposed every {}",
            duration(cluster.position_interval)
        )?;

        writeln!(out, "clusters:")?;
        for cluster in self.clusters.values() {
            let count = cluster.client.len()
                + cluster.consumer.len()
                + cluster.producer.len()
                + cluster.admin.len();
            writeln!(
                out,
                "  {}: bootstrap {} ({count} client {})",
                cluster.alias,
                cluster.bootstrap_servers,
                plural(count, "override", "overrides"),
            )?;
            for (scope, props) in [
                ("all clients", &cluster.client),
                ("consumers", &cluster.consumer),
                ("producers", &cluster.producer),
                ("admin clients", &cluster.admin),
            ] {
                write_props(out, scope, props)?;
            }
        }

        writeln!(out, "flows:")?;
        for flow in &self.flows {
            write_flow(out, flow)?;
        }
        if !self.pair_heartbeats.is_empty() {
            writeln!(out, "heartbeats of pairs without a flow:")?;
            for pair in &self.pair_heartbeats {
                let every = if pair.enabled {
                    let rf = match pair.topic_replication_factor {
                        Some(rf) => format!("replication factor {rf}"),
                        None => "target broker default replication factor".to_owned(),
                    };
                    format!(
                        "every {} to heartbeats on {} ({rf})",
                        duration(pair.interval),
                        pair.id.target
                    )
                } else {
                    "off".to_owned()
                };
                writeln!(out, "  {}: {every}", pair.id)?;
            }
        }

        if self.ignored.is_empty() {
            writeln!(out, "ignored keys: none")?;
        } else {
            writeln!(out, "ignored keys ({}):", self.ignored.len())?;
            for ignored in &self.ignored {
                match ignored.line {
                    Some(line) => {
                        writeln!(out, "  line {line}: {}: {}", ignored.key, ignored.reason)?
                    }
                    None => writeln!(out, "  {}: {}", ignored.key, ignored.reason)?,
                }
            }
        }
        Ok(())
    }
}

fn write_props(out: &mut String, scope: &str, props: &ClientProps) -> std::fmt::Result {
    if props.is_empty() {
        return Ok(());
    }
    writeln!(out, "    {scope}:")?;
    for (name, value) in props {
        writeln!(out, "      {name} = {}", shown_value(name, value))?;
    }
    Ok(())
}

fn write_flow(out: &mut String, flow: &FlowSettings) -> std::fmt::Result {
    writeln!(out, "  {}:", flow.id)?;
    writeln!(
        out,
        "    topics:             {}",
        list(flow.topics.include_patterns())
    )?;
    writeln!(
        out,
        "    topics exclude:     {}",
        list(flow.topics.exclude_patterns())
    )?;
    let example = flow
        .replication_policy
        .remote_topic(&flow.id.source, "orders");
    let policy = match &flow.replication_policy {
        ReplicationPolicy::Default { separator } => format!("default (separator {separator:?})"),
        ReplicationPolicy::Identity => "identity".to_owned(),
    };
    writeln!(out, "    replication policy: {policy}: orders -> {example}")?;
    let replication_factor = match flow.replication_factor {
        Some(rf) => rf.to_string(),
        None => "target broker default".to_owned(),
    };
    writeln!(out, "    replication factor: {replication_factor}")?;
    if flow.sync_topic_configs {
        writeln!(
            out,
            "    topic configs:      synced, except {}",
            excluded_configs(flow.config_properties_exclude.as_str())
        )?;
    } else {
        writeln!(out, "    topic configs:      not synced")?;
    }
    if flow.refresh_topics_enabled {
        writeln!(
            out,
            "    new topics:         looked for every {}",
            duration(flow.refresh_topics_interval)
        )?;
    } else {
        writeln!(out, "    new topics:         not looked for (refresh off)")?;
    }
    writeln!(
        out,
        "    in flight:          at most {} records, {} bytes",
        flow.max_in_flight_records, flow.max_in_flight_bytes
    )?;
    writeln!(
        out,
        "    positions:          saved every {}",
        duration(flow.position_flush_interval)
    )?;
    if flow.exactly_once {
        writeln!(
            out,
            "    exactly-once:       on: transactions committed every {} (timeout {}), \
             transactional ids {}-*",
            duration(flow.transaction_interval),
            duration(flow.transaction_timeout),
            flow.transactional_id_prefix
        )?;
    } else {
        writeln!(out, "    exactly-once:       off (at-least-once)")?;
    }
    let m = &flow.mm2;
    let every = |on: bool, interval: Duration| {
        if on {
            format!("every {}", duration(interval))
        } else {
            "off".to_owned()
        }
    };
    writeln!(
        out,
        "    heartbeats:         {}",
        every(m.emit_heartbeats_enabled, m.emit_heartbeats_interval)
    )?;
    writeln!(
        out,
        "    checkpoints:        {} for groups {} (excluding {})",
        every(m.emit_checkpoints_enabled, m.emit_checkpoints_interval),
        list(m.groups.include_patterns()),
        list(m.groups.exclude_patterns())
    )?;
    writeln!(
        out,
        "    offset syncs:       {}",
        if m.emit_offset_syncs_enabled {
            format!(
                "on the {:?} cluster, at least every {} records",
                m.offset_syncs_location, m.offset_lag_max
            )
            .to_lowercase()
        } else {
            "off".to_owned()
        }
    )?;
    writeln!(
        out,
        "    group offset sync:  {}",
        every(m.sync_group_offsets_enabled, m.sync_group_offsets_interval)
    )?;
    writeln!(
        out,
        "    clients:            consumer {}, producer {}, source admin {}, target admin {} properties",
        flow.consumer.len(),
        flow.producer.len(),
        flow.source_admin.len(),
        flow.target_admin.len()
    )
}

/// The patterns of a `config.properties.exclude` regex as built by the loaders (`^(?:a|b)$`).
fn excluded_configs(regex: &str) -> String {
    match regex
        .strip_prefix("^(?:")
        .and_then(|r| r.strip_suffix(")$"))
    {
        Some(patterns) => patterns.split('|').collect::<Vec<_>>().join(", "),
        None if regex == MATCH_NOTHING => "(none)".to_owned(),
        None => regex.to_owned(),
    }
}

fn list(patterns: &[String]) -> String {
    if patterns.is_empty() {
        "(none)".to_owned()
    } else {
        patterns.join(", ")
    }
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// The metrics line of the summary (`[node] metrics_listen`).
pub(crate) fn metrics_endpoint(listen: &Option<std::net::SocketAddr>) -> String {
    match listen {
        Some(addr) => format!("http://{addr}/metrics"),
        None => "off".to_owned(),
    }
}

/// `10s`, `100ms`, `1m30s`.
pub(crate) fn duration(d: Duration) -> String {
    if d.as_secs() == 0 || d.subsec_millis() != 0 {
        return format!("{}ms", d.as_millis());
    }
    let secs = d.as_secs();
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::Path;

    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration(Duration::from_millis(100)), "100ms");
        assert_eq!(duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(duration(Duration::from_secs(10)), "10s");
        assert_eq!(duration(Duration::from_secs(600)), "10m");
        assert_eq!(duration(Duration::from_secs(90)), "1m30s");
    }

    #[test]
    fn summary_of_an_mm2_file() {
        let text = "clusters = A, B\n\
                    A.bootstrap.servers = a:9092\n\
                    B.bootstrap.servers = b:9092\n\
                    A.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"hunter2\";\n\
                    A.sasl.mechanism = PLAIN\n\
                    A->B.enabled = true\n\
                    A->B.topics = orders.*\n\
                    replication.factor = 3\n\
                    tasks.max = 4\n";
        let settings = crate::mm2::parse(
            Path::new("/etc/mm2.properties"),
            text,
            Some(Default::default()),
        )
        .unwrap();
        let out = settings.describe();
        for expected in [
            "configuration: /etc/mm2.properties (MirrorMaker 2 properties)",
            "data dir:          /etc/strait-data",
            "progress lines:    every 5s",
            "cluster:\n  node id:           1\n",
            "listen:            127.0.0.1:7070",
            "advertise:         127.0.0.1:7070",
            "peers:             none: a single-node cluster",
            "cluster id:        strait",
            "liveness timeout:  3s",
            "positions:         proposed every 1s",
            "A: bootstrap a:9092 (3 client overrides)",
            "sasl.username = u",
            "sasl.password = ****",
            "B: bootstrap b:9092 (0 client overrides)",
            "  A->B:",
            "topics:             orders.*",
            "topics exclude:     .*[\\-\\.]internal, .*\\.replica, __.*",
            "replication policy: default (separator \".\"): orders -> A.orders",
            "replication factor: 3",
            "topic configs:      synced, except follower\\.replication\\.throttled\\.replicas, ",
            "new topics:         looked for every 10s",
            "positions:          saved every 100ms",
            "ignored keys (1):",
            "line 9: tasks.max: MirrorMaker 2 setting, not implemented in Strait yet",
        ] {
            assert!(out.contains(expected), "{expected:?} missing in:\n{out}");
        }
        assert!(!out.contains("hunter2"), "{out}");
    }

    #[test]
    fn summary_of_a_joining_node() {
        let text = "clusters = A, B\n\
                    A.bootstrap.servers = a:9092\n\
                    B.bootstrap.servers = b:9092\n\
                    A->B.enabled = true\n\
                    strait.cluster.node.id = 4\n\
                    strait.cluster.advertise = strait-3.strait:7070\n\
                    strait.cluster.join = strait-0.strait:7070\n";
        let settings =
            crate::mm2::parse(Path::new("mm2.properties"), text, Some(Default::default())).unwrap();
        let out = settings.describe();
        for expected in [
            "node id:           4",
            "listen:            0.0.0.0:7070",
            "advertise:         strait-3.strait:7070",
            "join:              through strait-0.strait:7070",
        ] {
            assert!(out.contains(expected), "{expected:?} missing in:\n{out}");
        }
        assert!(!out.contains("peers:"), "{out}");
    }

    #[test]
    fn summary_of_a_toml_file() {
        let text = "[node]\nprogress_interval_secs = 0\n\
                    [cluster]\nnode_id = 2\npeers = [\"1@a:7070\", \"2@b:7071\"]\n\
                    cluster_id = \"eu\"\nliveness_timeout_ms = 1500\nposition_interval_ms = 250\n\
                    [clusters.A]\nbootstrap_servers = \"a\"\n\
                    [clusters.A.client]\n\"sasl.oauthbearer.client.secret\" = \"s\"\n\"ssl.key.pem\" = \"k\"\n\
                    [clusters.B]\nbootstrap_servers = \"b\"\n\
                    [flows.\"A->B\"]\nreplication_policy = \"identity\"\nsync_topic_configs = false\nrefresh_topics_enabled = false\n";
        let settings =
            crate::native::parse(Path::new("strait.toml"), text, Some(HashMap::new())).unwrap();
        let out = settings.describe();
        for expected in [
            "(Strait TOML)",
            "progress lines:    off",
            "node id:           2",
            "listen:            0.0.0.0:7071",
            "advertise:         b:7071",
            "peers:             1@a:7070, 2@b:7071 (this node)",
            "cluster id:        eu",
            "liveness timeout:  1500ms",
            "positions:         proposed every 250ms",
            "sasl.oauthbearer.client.secret = ****",
            "ssl.key.pem = ****",
            "replication policy: identity: orders -> orders",
            "replication factor: target broker default",
            "topic configs:      not synced",
            "new topics:         not looked for",
            "ignored keys: none",
        ] {
            assert!(out.contains(expected), "{expected:?} missing in:\n{out}");
        }
    }
}
