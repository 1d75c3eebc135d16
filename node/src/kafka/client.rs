//! librdkafka client configuration for each role. User properties come from the config file (already
//! merged cluster → client type → flow); Strait adds its defaults underneath and forces the few
//! settings its guarantees depend on.

use rdkafka::error::KafkaError;
use rdkafka::ClientConfig;
use strait_config::{ClientProps, ConfigError, FlowClient, FlowSettings, Settings};

/// Which client of a flow a configuration is for (used in messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientRole {
    SourceConsumer,
    TargetProducer,
    SourceAdmin,
    TargetAdmin,
}

impl std::fmt::Display for ClientRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::SourceConsumer => "source consumer",
            Self::TargetProducer => "target producer",
            Self::SourceAdmin => "source admin",
            Self::TargetAdmin => "target admin",
        })
    }
}

/// Defaults Strait prefers over librdkafka's, each overridable from the config file.
const CONSUMER_DEFAULTS: &[(&str, &str)] = &[
    // librdkafka: 500. Lower keeps latency low on brokers that do not wake long polls (and costs
    // little on those that do).
    ("fetch.wait.max.ms", "100"),
    // librdkafka: 1000. A consumer whose local queue is drained in batches otherwise idles up to a
    // second at a time (measured: 3x throughput with 10 ms).
    ("fetch.queue.backoff.ms", "10"),
    // librdkafka: 65536 (64 MiB) and 100000 records. With one queue per partition these bound the
    // prefetch *per partition*, so they are kept small: memory stays flat with many partitions.
    ("queued.max.messages.kbytes", "4096"),
    ("queued.min.messages", "10000"),
    // librdkafka: 0 (off). The statistics carry every partition's high watermark from the fetch
    // responses: lag without a ListOffsets request of our own. 0 turns lag reporting off.
    ("statistics.interval.ms", "1000"),
];

/// Settings the data path's guarantees rest on; a user value for these is overridden (and logged).
const CONSUMER_FORCED: &[(&str, &str)] = &[
    // Positions live in Strait's store, never in consumer groups.
    ("enable.auto.commit", "false"),
    ("enable.auto.offset.store", "false"),
    ("enable.partition.eof", "false"),
    // Only committed transactions are replicated: records of aborted (or still open) transactions
    // never reach the target. librdkafka's default already, forced so that no client property
    // (MirrorMaker 2's `A.consumer.isolation.level = read_uncommitted`, the Java default) turns
    // it off. Transaction markers and aborted records are gaps in the offset runs.
    ("isolation.level", "read_committed"),
];

const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    ("linger.ms", "5"),
    ("batch.size", "1000000"),
    // librdkafka: 300000. A target that stays down longer fails the in-flight records; the
    // partition then backs off and replays from its last acknowledged position.
    ("message.timeout.ms", "300000"),
];

const PRODUCER_FORCED: &[(&str, &str)] = &[
    // No duplicates or reordering from producer retries.
    ("enable.idempotence", "true"),
    ("acks", "all"),
    // A batch the target refuses for good (a record larger than it accepts, an invalid record)
    // must not leave a gap: without this, librdkafka bumps the epoch and writes the partition's
    // later batches, so records after the refused one land on the target before it. With it, the
    // producer raises a fatal error instead (its queue fails back as retriable purges); the
    // producer actor replaces it, the refused record's partition backs off, the others resume.
    ("enable.gapless.guarantee", "true"),
    // librdkafka: true for producers. Strait creates remote topics itself, with the source's
    // partition count and configs; a target broker with `auto.create.topics.enable` (Kafka's
    // default) would otherwise recreate a deleted remote topic on the producer's next metadata
    // request, with one partition and the broker's defaults.
    ("allow.auto.create.topics", "false"),
];

/// Forced on admin clients for the same reason (their metadata requests must not create topics).
const ADMIN_FORCED: &[(&str, &str)] = &[("allow.auto.create.topics", "false")];

/// What a source partition does when its position is no longer in the source's log (deleted by
/// retention or DeleteRecords before it was replicated, or past a truncated end): the consumer
/// property `auto.offset.reset` (`A.consumer.auto.offset.reset` in `mm2.properties`), applied by
/// Strait rather than librdkafka, so that every such jump is counted and reported. librdkafka's own
/// setting is forced to `error`, which stops the partition's fetch and tells Strait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OffsetReset {
    /// Resume at the log start offset (the default, as MirrorMaker 2's). Fresh partitions (no
    /// stored position) start there too.
    #[default]
    Earliest,
    /// Resume at the high watermark: what was written meanwhile is skipped as well. Fresh
    /// partitions start at the end.
    Latest,
    /// Do not resume: the partition stops with a fatal error (retried at the longest backoff) until
    /// someone intervenes. (`none` in Java's spelling.)
    Error,
}

impl OffsetReset {
    /// The policy in a consumer's properties; `None` for a value librdkafka does not accept
    /// (left to librdkafka to refuse, naming the key).
    pub fn from_props(props: &ClientProps) -> Option<Self> {
        match props
            .get("auto.offset.reset")
            .map(|v| v.to_ascii_lowercase())
        {
            None => Some(Self::Earliest),
            Some(value) => match value.as_str() {
                "earliest" | "smallest" | "beginning" => Some(Self::Earliest),
                "latest" | "largest" | "end" => Some(Self::Latest),
                "error" | "none" => Some(Self::Error),
                _ => None,
            },
        }
    }
}

impl std::fmt::Display for OffsetReset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Earliest => "earliest",
            Self::Latest => "latest",
            Self::Error => "none",
        })
    }
}

fn build(
    props: &ClientProps,
    defaults: &[(&str, &str)],
    forced: &[(&str, &str)],
    role: ClientRole,
) -> ClientConfig {
    let mut config = ClientConfig::new();
    for (key, value) in defaults {
        config.set(*key, *value);
    }
    for (key, value) in props {
        config.set(key, value);
    }
    for (key, value) in forced {
        if let Some(user) = props.get(*key) {
            if user != value {
                tracing::warn!(%role, key, user_value = %user, forced_value = value,
                    "client property overridden: strait's delivery guarantees depend on it");
            }
        }
        config.set(*key, *value);
    }
    config
}

/// The source consumer of a flow (assign() only, no group membership). librdkafka's
/// `incremental_assign()` needs a `group.id` even though Strait never joins the group nor commits to
/// it: `strait.<flow>` unless the configuration names one.
pub fn consumer_config(props: &ClientProps, flow: &str) -> ClientConfig {
    let mut config = build(
        props,
        CONSUMER_DEFAULTS,
        CONSUMER_FORCED,
        ClientRole::SourceConsumer,
    );
    if !props.contains_key("group.id") {
        config.set("group.id", format!("strait.{flow}"));
    }
    // Strait applies the policy itself (see [`OffsetReset`]); a value librdkafka would refuse is
    // left in place so that the configuration check names it.
    if OffsetReset::from_props(props).is_some() {
        config.set("auto.offset.reset", "error");
    }
    config
}

/// The target producer of a flow. Its local queue is sized from the flow's in-flight bound, so the
/// bound (not librdkafka's queue) is what applies backpressure.
pub fn producer_config(props: &ClientProps, max_records: usize, max_bytes: usize) -> ClientConfig {
    let mut config = build(
        props,
        PRODUCER_DEFAULTS,
        PRODUCER_FORCED,
        ClientRole::TargetProducer,
    );
    let queue_records = max_records.saturating_add(10_000).min(2_147_483_647);
    let queue_kbytes = (max_bytes / 1024)
        .saturating_add(16 * 1024)
        .min(2_147_483_647);
    config.set("queue.buffering.max.messages", queue_records.to_string());
    config.set("queue.buffering.max.kbytes", queue_kbytes.to_string());
    config
}

pub fn admin_config(props: &ClientProps, role: ClientRole) -> ClientConfig {
    build(props, &[], ADMIN_FORCED, role)
}

/// The clients of a flow, configured exactly as its flow actor creates them.
pub struct FlowClientConfigs {
    pub consumer: ClientConfig,
    pub producer: ClientConfig,
    pub source_admin: ClientConfig,
    pub target_admin: ClientConfig,
}

impl FlowClientConfigs {
    pub fn new(flow: &FlowSettings) -> Self {
        Self {
            consumer: consumer_config(&flow.consumer, &flow.id.to_string()),
            producer: producer_config(
                &flow.producer,
                flow.max_in_flight_records,
                flow.max_in_flight_bytes,
            ),
            source_admin: admin_config(&flow.source_admin, ClientRole::SourceAdmin),
            target_admin: admin_config(&flow.target_admin, ClientRole::TargetAdmin),
        }
    }

    fn each(&self) -> [(FlowClient, &ClientConfig); 4] {
        [
            (FlowClient::Consumer, &self.consumer),
            (FlowClient::Producer, &self.producer),
            (FlowClient::SourceAdmin, &self.source_admin),
            (FlowClient::TargetAdmin, &self.target_admin),
        ]
    }
}

/// Sets every property of every flow's clients in a librdkafka configuration, as creating the
/// clients will (`rd_kafka_conf_set`, without creating a client or contacting a broker), so an
/// unknown property or a bad value is a configuration error before anything starts, naming the key
/// as the file writes it and its line.
pub fn check_client_properties(settings: &Settings) -> Result<(), Box<ConfigError>> {
    for flow in &settings.flows {
        for (client, config) in FlowClientConfigs::new(flow).each() {
            let refused = match config.create_native_config() {
                Ok(_) => sasl_refusal(config),
                Err(KafkaError::ClientConfig(_, reason, property, value)) => {
                    let reason = if reason.contains("not supported in this build") {
                        format!("{reason}. {NO_OIDC}")
                    } else {
                        reason
                    };
                    Some((property, value, reason))
                }
                Err(other) => Some((String::new(), String::new(), other.to_string())),
            };
            if let Some((property, value, reason)) = refused {
                return Err(Box::new(flow.rejected_client_property(
                    &settings.file,
                    client,
                    &property,
                    &value,
                    &reason,
                )));
            }
        }
    }
    Ok(())
}

/// Why OAUTHBEARER with OIDC is refused.
const NO_OIDC: &str = "Strait's librdkafka is built without libcurl, so OAUTHBEARER with OIDC \
    (sasl.oauthbearer.method = oidc, a token endpoint) is not available: use SCRAM-SHA-512, \
    PLAIN, GSSAPI or mutual TLS";

/// A SASL mechanism this build cannot authenticate with, as `(property, value, reason)`: one
/// librdkafka was built without (it would only fail when the client is created), or OAUTHBEARER
/// without OIDC, which needs a token callback Strait does not have (unless the test-only
/// unsecured JWTs are turned on). librdkafka's default mechanism, as Java's, is GSSAPI.
fn sasl_refusal(config: &ClientConfig) -> Option<(String, String, String)> {
    let protocol = config.get("security.protocol").unwrap_or("plaintext");
    if !protocol.to_ascii_lowercase().starts_with("sasl_") {
        return None;
    }
    let (property, mechanism) = ["sasl.mechanism", "sasl.mechanisms"]
        .into_iter()
        .find_map(|p| config.get(p).map(|m| (p, m)))
        .unwrap_or(("security.protocol", "GSSAPI"));
    let (property, value) = (
        property.to_owned(),
        config.get(property).unwrap_or_default(),
    );
    let upper = mechanism.trim().to_ascii_uppercase();
    let feature = match upper.as_str() {
        "GSSAPI" => "sasl_gssapi",
        "PLAIN" => "sasl_plain",
        "SCRAM-SHA-256" | "SCRAM-SHA-512" => "sasl_scram",
        "OAUTHBEARER" => "sasl_oauthbearer",
        // librdkafka names the unknown mechanism when the client is created.
        _ => return None,
    };
    let features = builtin_features();
    if !features.split(',').any(|f| f == feature) {
        let default = if property == "security.protocol" {
            " (the default when sasl.mechanism is not set, as with Java clients)"
        } else {
            ""
        };
        return Some((
            property,
            value.to_owned(),
            format!(
                "SASL mechanism {upper}{default} is not built into Strait's librdkafka \
                 (builtin.features: {features})"
            ),
        ));
    }
    let oidc = config
        .get("sasl.oauthbearer.method")
        .is_some_and(|m| m.eq_ignore_ascii_case("oidc"));
    let unsecured = config
        .get("enable.sasl.oauthbearer.unsecure.jwt")
        .is_some_and(|v| v == "true");
    if upper == "OAUTHBEARER" && !oidc && !unsecured {
        return Some((
            property,
            value.to_owned(),
            format!(
                "OAUTHBEARER needs a token source, and Strait has no token callback (a Java \
                 sasl.login.callback.handler.class cannot run in it). {NO_OIDC}"
            ),
        ));
    }
    None
}

/// librdkafka's `builtin.features` (`gzip,snappy,ssl,sasl,...`).
fn builtin_features() -> String {
    ClientConfig::new()
        .create_native_config()
        .and_then(|native| native.get("builtin.features"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_values_win_over_defaults_but_not_over_forced() {
        let props: ClientProps = [
            ("bootstrap.servers", "h:1"),
            ("fetch.wait.max.ms", "10"),
            ("enable.auto.commit", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let c = consumer_config(&props, "A->B");
        assert_eq!(c.get("group.id"), Some("strait.A->B"));
        assert_eq!(c.get("bootstrap.servers"), Some("h:1"));
        assert_eq!(c.get("fetch.wait.max.ms"), Some("10"));
        assert_eq!(c.get("enable.auto.commit"), Some("false"));
        assert_eq!(c.get("isolation.level"), Some("read_committed"));
        assert_eq!(
            c.get("auto.offset.reset"),
            Some("error"),
            "applied by strait"
        );
        assert_eq!(OffsetReset::from_props(&props), Some(OffsetReset::Earliest));

        let p = producer_config(&props, 1000, 1 << 20);
        assert_eq!(p.get("allow.auto.create.topics"), Some("false"));
        assert_eq!(p.get("enable.idempotence"), Some("true"));
        assert_eq!(p.get("acks"), Some("all"));
        assert_eq!(p.get("enable.gapless.guarantee"), Some("true"));
        assert_eq!(p.get("queue.buffering.max.messages"), Some("11000"));
    }

    #[test]
    fn the_offset_reset_policy_is_read_from_the_consumer_properties() {
        let props = |value: &str| -> ClientProps {
            [("auto.offset.reset".to_owned(), value.to_owned())]
                .into_iter()
                .collect()
        };
        assert_eq!(
            OffsetReset::from_props(&props("latest")),
            Some(OffsetReset::Latest)
        );
        assert_eq!(
            OffsetReset::from_props(&props("error")),
            Some(OffsetReset::Error)
        );
        assert_eq!(OffsetReset::from_props(&props("oldest")), None);
        let c = consumer_config(&props("oldest"), "A->B");
        assert_eq!(
            c.get("auto.offset.reset"),
            Some("oldest"),
            "left for librdkafka to refuse"
        );
        let admin = admin_config(
            &[("allow.auto.create.topics".to_owned(), "true".to_owned())]
                .into_iter()
                .collect(),
            ClientRole::TargetAdmin,
        );
        assert_eq!(admin.get("allow.auto.create.topics"), Some("false"));
    }

    fn load(name: &str, text: &str) -> (tempfile::TempDir, std::path::PathBuf, Settings) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let settings = strait_config::load(&path).unwrap();
        (dir, path, settings)
    }

    const MM2: &str = "clusters = A, B\nA.bootstrap.servers = a:9092\n\
                       B.bootstrap.servers = b:9092\nA->B.enabled = true\n";

    #[test]
    fn valid_client_properties_pass() {
        let text = format!(
            "{MM2}A.consumer.fetch.min.bytes = 10\nB.producer.max.request.size = 2000000\n\
             A->B.target.admin.request.timeout.ms = 3000\n"
        );
        let (_dir, _, settings) = load("mm2.properties", &text);
        check_client_properties(&settings).unwrap();
    }

    #[test]
    fn a_bad_value_names_the_key_and_line_in_mm2_properties() {
        let text = format!("{MM2}# the consumer\nA.consumer.fetch.min.bytes = lots\n");
        let (_dir, path, settings) = load("mm2.properties", &text);
        let err = check_client_properties(&settings).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}:6: `A.consumer.fetch.min.bytes` = \"lots\": Invalid value for configuration \
                 property \"fetch.min.bytes\" (librdkafka, for the source consumer of flow A->B)",
                path.display()
            )
        );
    }

    #[test]
    fn sasl_mechanisms_this_build_cannot_use_are_refused() {
        let features = builtin_features();
        for feature in [
            "sasl_plain",
            "sasl_scram",
            "sasl_gssapi",
            "sasl_oauthbearer",
        ] {
            assert!(
                features.split(',').any(|f| f == feature),
                "{feature} in {features}"
            );
        }
        let text = format!(
            "{MM2}A.security.protocol = SASL_SSL\nA.sasl.mechanism = SCRAM-SHA-512\n\
             A.sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule \
             required username=\"u\" password=\"p\";\n"
        );
        let (_dir, _, settings) = load("mm2.properties", &text);
        check_client_properties(&settings).unwrap();
        // Kerberos, also as the default mechanism.
        let (_dir, _, settings) = load(
            "mm2.properties",
            &format!("{MM2}A.security.protocol = SASL_PLAINTEXT\n"),
        );
        check_client_properties(&settings).unwrap();

        let text = format!(
            "{MM2}A.security.protocol = SASL_SSL\nA.sasl.mechanism = OAUTHBEARER\n\
             A.sasl.login.callback.handler.class = com.example.Tokens\n"
        );
        let (_dir, path, settings) = load("mm2.properties", &text);
        let err = check_client_properties(&settings).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{}:6: `A.sasl.mechanism`", path.display())),
            "{err}"
        );
        assert!(err.contains("token source"), "{err}");
        assert!(err.contains("SCRAM-SHA-512"), "{err}");

        let text = format!(
            "{MM2}A.security.protocol = SASL_SSL\nA.sasl.mechanism = OAUTHBEARER\n\
             A.sasl.jaas.config = org.apache.kafka.common.security.oauthbearer.\
             OAuthBearerLoginModule required clientId=\"id\" clientSecret=\"s\";\n"
        );
        let (_dir, path, settings) = load("mm2.properties", &text);
        let err = check_client_properties(&settings).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{}:7: `A.sasl.jaas.config`", path.display())),
            "{err}"
        );
        assert!(err.contains("without libcurl"), "{err}");
        assert!(!err.contains("\"s\""), "{err}");
    }

    #[test]
    fn an_unknown_property_names_the_key_and_line_in_toml() {
        let text = "[clusters.A]\nbootstrap_servers = \"a:9092\"\n[clusters.B]\n\
                    bootstrap_servers = \"b:9092\"\n[flows.\"A->B\"]\n[flows.\"A->B\".producer]\n\
                    \"linger.ms\" = 5\n\"lingerer.ms\" = 5\n";
        let (_dir, path, settings) = load("strait.toml", text);
        let err = check_client_properties(&settings).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}:8: `flows.A->B.producer.\"lingerer.ms\"` = \"5\": No such configuration \
                 property: \"lingerer.ms\" (librdkafka, for the target producer of flow A->B): \
                 did you mean `flows.A->B.producer.\"linger.ms\"`?",
                path.display()
            )
        );
    }
}
