//! The per-flow settings schema: one table ([`flow_table!`]) that says, for every per-flow
//! setting, its field in [`FlowSettings`] (or [`Mm2Settings`]), how its value is written and
//! checked ([`Codec`]), its default, its key in the TOML format and its key in `mm2.properties`.
//! Both readers, the canonical shared text and the "did you mean" key lists are derived from it:
//!
//! - [`FlowValues`] / [`Mm2Values`]: what one scope of a file sets (`None`: not set there), their
//!   layering ([`FlowValues::or`]: a flow's own value, else the file level's, as MirrorMaker 2
//!   resolves `A->B.key` over `key`), and their defaults ([`FlowValues::into_settings`]);
//! - `mm2.properties`: [`FlowValues::read_text`] reads a key with its flow prefix removed,
//!   [`FLOW_KEYS`] and [`PAIR_HEARTBEAT_KEYS`] are the known keys;
//! - TOML: the `[flows.*]` table's fields and their reading (module `native`, `raw_flow!`), and
//!   the canonical text written back (module `shared`).
//!
//! A `raw` row is a setting whose value is assembled by hand from several keys (topic and group
//! filters, the replication policy): the table only gives its TOML field and `mm2.properties`
//! keys (deprecated names after the current one). The order of the rows is the order of the TOML
//! fields (in messages listing them and in the canonical text).
//!
//! The node settings have their table too ([`node_table!`]: `[node]` in TOML, `strait.*` at the
//! file level of `mm2.properties`, the `STRAIT__NODE__*` variables of both): [`NodeValues`] and
//! its defaults ([`NodeValues::into_settings`], `NodeSettings::default`), the TOML `[node]` table
//! and its reading (module `native`, `raw_node!`), the `mm2.properties` keys ([`NODE_KEYS`]) and
//! their reading ([`NodeValues::read_text`]), the variables a `.properties` file takes
//! ([`NODE_VARIABLES`]) and the node lines of the `check-config` summary
//! ([`NodeSettings::describe_lines`]) are derived from it.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::assemble;

/// How one setting is written: its raw value (what TOML holds: a boolean, an integer or a
/// string), how that becomes the checked [`Codec::Value`] (the message says what is expected
/// when it does not), and back, for the canonical text.
pub(crate) trait Codec {
    type Value;
    type Raw: DeserializeOwned + Serialize + FromText + std::fmt::Display;
    /// What a value must be, for a text that is not even a [`Codec::Raw`].
    const EXPECTED: &'static str;
    fn parse(raw: Self::Raw) -> Result<Self::Value, &'static str>;
    /// The raw value of `value`; `None`: not written (the target broker's default).
    fn raw(value: &Self::Value) -> Option<Self::Raw>;

    /// The value as the `check-config` summary shows it (default: its raw value, `none`).
    fn show(value: &Self::Value) -> String {
        Self::raw(value).map_or_else(|| "none".to_owned(), |raw| raw.to_string())
    }

    /// A `.properties` value (trimmed).
    fn from_text(text: &str) -> Result<Self::Value, &'static str> {
        Self::Raw::from_text(text)
            .ok_or(Self::EXPECTED)
            .and_then(Self::parse)
    }
}

/// A raw value read from a `.properties` text.
pub(crate) trait FromText: Sized {
    fn from_text(text: &str) -> Option<Self>;
}

impl FromText for bool {
    /// `true` / `false`, any case (as Kafka's `ConfigDef` reads booleans).
    fn from_text(text: &str) -> Option<bool> {
        if text.eq_ignore_ascii_case("true") {
            Some(true)
        } else if text.eq_ignore_ascii_case("false") {
            Some(false)
        } else {
            None
        }
    }
}

impl FromText for i64 {
    fn from_text(text: &str) -> Option<i64> {
        text.parse().ok()
    }
}

impl FromText for String {
    fn from_text(text: &str) -> Option<String> {
        Some(text.to_owned())
    }
}

/// The [`Codec`]s of the settings.
pub(crate) mod codec {
    use std::time::Duration;

    use super::Codec;
    use std::net::SocketAddr;

    use crate::assemble::{
        self, EXPECT_BOOL, EXPECT_COUNT, EXPECT_HANDOVER_SECS, EXPECT_INTERVAL_SECS, EXPECT_LAG,
        EXPECT_LOCATION, EXPECT_LOG_FORMAT, EXPECT_METRICS_LISTEN, EXPECT_MILLIS,
        EXPECT_PROGRESS_SECS, EXPECT_REPLICATION_FACTOR, EXPECT_TRANSACTIONAL_ID_PREFIX,
        EXPECT_TRANSACTION_INTERVAL, EXPECT_TRANSACTION_TIMEOUT,
    };
    use crate::describe::duration;
    use crate::model::{LogFormat, OffsetSyncsLocation};

    /// A codec of the common shape: a checked `parse` of the raw value, its `raw` value back, and
    /// optionally how `check-config` shows it.
    macro_rules! codec {
        ($(#[$doc:meta])* $name:ident: $value:ty, $raw:ty, $expected:expr,
         parse $parse:expr, raw |$v:ident| $to_raw:expr $(, show |$s:ident| $show:expr)?) => {
            $(#[$doc])*
            pub(crate) struct $name;
            impl Codec for $name {
                type Value = $value;
                type Raw = $raw;
                const EXPECTED: &'static str = $expected;
                fn parse(raw: $raw) -> Result<$value, &'static str> {
                    $parse(raw)
                }
                fn raw($v: &$value) -> Option<$raw> {
                    $to_raw
                }
                $(fn show($s: &$value) -> String {
                    $show
                })?
            }
        };
    }

    codec! {
        /// `true` or `false`.
        Flag: bool, bool, EXPECT_BOOL, parse Ok, raw |value| Some(*value)
    }
    codec! {
        /// Whole seconds, at least 1 (keys ending in `_secs` / `.seconds`).
        Secs: Duration, i64, EXPECT_INTERVAL_SECS, parse assemble::interval_secs,
        raw |value| Some(value.as_secs() as i64), show |value| every(value)
    }
    codec! {
        /// Whole milliseconds, at least 1 (keys ending in `_ms` / `.ms`).
        Millis: Duration, i64, EXPECT_MILLIS, parse assemble::interval_millis,
        raw |value| Some(value.as_millis() as i64), show |value| every(value)
    }
    /// Exactly-once on or off: a boolean in TOML; in `mm2.properties` Kafka Connect's
    /// `exactly.once.source.support` values (`enabled`: on; `disabled`, `preparing`: off).
    pub(crate) struct ExactlyOnce;
    impl Codec for ExactlyOnce {
        type Value = bool;
        type Raw = bool;
        const EXPECTED: &'static str = EXPECT_BOOL;
        fn parse(raw: bool) -> Result<bool, &'static str> {
            Ok(raw)
        }
        fn raw(value: &bool) -> Option<bool> {
            Some(*value)
        }
        fn from_text(text: &str) -> Result<bool, &'static str> {
            assemble::exactly_once_source_support(text)
        }
    }

    codec! {
        /// Whole milliseconds, at least 10 (`transaction_interval_ms`).
        TransactionInterval: Duration, i64, EXPECT_TRANSACTION_INTERVAL,
        parse assemble::transaction_interval,
        raw |value| Some(value.as_millis() as i64), show |value| every(value)
    }
    codec! {
        /// Whole milliseconds from 10 to 15 minutes (`transaction_timeout_ms`).
        TransactionTimeout: Duration, i64, EXPECT_TRANSACTION_TIMEOUT,
        parse assemble::transaction_timeout,
        raw |value| Some(value.as_millis() as i64), show |value| duration(*value)
    }
    codec! {
        /// A transactional id prefix: letters, digits, `.`, `_`, `-`.
        TransactionalIdPrefix: String, String, EXPECT_TRANSACTIONAL_ID_PREFIX,
        parse assemble::transactional_id_prefix, raw |value| Some(value.clone())
    }
    codec! {
        /// A whole number, at least 1.
        Count: usize, i64, EXPECT_COUNT, parse assemble::count, raw |value| Some(*value as i64)
    }
    /// A rate per second, 0 for unlimited.
    pub(crate) struct PerSecond;
    impl Codec for PerSecond {
        type Value = u64;
        type Raw = i64;
        const EXPECTED: &'static str = "a whole number per second, 0 for unlimited";
        fn parse(raw: i64) -> Result<u64, &'static str> {
            u64::try_from(raw).map_err(|_| Self::EXPECTED)
        }
        fn raw(value: &u64) -> Option<i64> {
            i64::try_from(*value).ok()
        }
    }

    codec! {
        /// 1 to 32767, or -1 (`None`): the target broker's default.
        ReplicationFactor: Option<i16>, i64, EXPECT_REPLICATION_FACTOR,
        parse assemble::replication_factor, raw |value| value.map(i64::from)
    }
    codec! {
        /// `offset.lag.max`: 0 or more.
        Lag: i64, i64, EXPECT_LAG, parse assemble::lag, raw |value| Some(*value)
    }
    codec! {
        /// Whole seconds, 0 or more; 0 turns progress lines off (`progress_interval_secs`).
        SecsOrOff: Duration, i64, EXPECT_PROGRESS_SECS, parse assemble::progress_secs,
        raw |value| Some(value.as_secs() as i64),
        show |value| if value.is_zero() { "off".to_owned() } else { every(value) }
    }
    codec! {
        /// Whole seconds from 0 to 600 (`shutdown_handover_timeout_secs`; 0: no handover).
        HandoverSecs: Duration, i64, EXPECT_HANDOVER_SECS, parse assemble::handover_secs,
        raw |value| Some(value.as_secs() as i64),
        show |value| if value.is_zero() {
            "off: drain at once".to_owned()
        } else {
            format!("up to {}, then drain", duration(*value))
        }
    }

    /// `every <duration>`, as `check-config` shows an interval.
    fn every(value: &Duration) -> String {
        format!("every {}", duration(*value))
    }

    /// `text` or `json`, any case.
    pub(crate) struct TextOrJson;
    impl Codec for TextOrJson {
        type Value = LogFormat;
        type Raw = String;
        const EXPECTED: &'static str = EXPECT_LOG_FORMAT;
        fn parse(raw: String) -> Result<LogFormat, &'static str> {
            crate::mm2::parse_log_format(&raw).ok_or(EXPECT_LOG_FORMAT)
        }
        fn raw(value: &LogFormat) -> Option<String> {
            Some(
                match value {
                    LogFormat::Text => "text",
                    LogFormat::Json => "json",
                }
                .to_owned(),
            )
        }
    }

    /// A socket address `IP:PORT` to listen on; `None`: no listener (not a raw value: the
    /// setting is simply not written).
    pub(crate) struct Listen;
    impl Codec for Listen {
        type Value = Option<SocketAddr>;
        type Raw = String;
        const EXPECTED: &'static str = EXPECT_METRICS_LISTEN;
        fn parse(raw: String) -> Result<Option<SocketAddr>, &'static str> {
            raw.trim()
                .parse()
                .map(Some)
                .map_err(|_| EXPECT_METRICS_LISTEN)
        }
        fn raw(value: &Option<SocketAddr>) -> Option<String> {
            value.map(|addr| addr.to_string())
        }
        fn show(value: &Option<SocketAddr>) -> String {
            value.map_or_else(|| "off".to_owned(), |addr| addr.to_string())
        }
    }

    /// `source` or `target`.
    pub(crate) struct Location;
    impl Codec for Location {
        type Value = OffsetSyncsLocation;
        type Raw = String;
        const EXPECTED: &'static str = EXPECT_LOCATION;
        fn parse(raw: String) -> Result<OffsetSyncsLocation, &'static str> {
            assemble::offset_syncs_location(&raw)
        }
        fn raw(value: &OffsetSyncsLocation) -> Option<String> {
            Some(
                match value {
                    OffsetSyncsLocation::Source => "source",
                    OffsetSyncsLocation::Target => "target",
                }
                .to_owned(),
            )
        }
    }
}

/// The per-flow settings. Each row is one of:
///
/// - `flow FIELD: CODEC = DEFAULT, toml TOML_KEY, mm2 "MM2_KEY";`: a field of [`FlowSettings`];
/// - `mm2 ...` (same form): a field of [`Mm2Settings`] (`FlowSettings::mm2`);
/// - `pair ...`: a field of [`Mm2Settings`] that a pair without an enabled flow reads too (its
///   heartbeats, [`crate::PairHeartbeats`]);
/// - `raw TOML_KEY: TYPE, mm2 "MM2_KEY" "DEPRECATED_KEY"...;`: a setting assembled by hand.
///
/// The `mm2` key applies at the file level and after a flow's `A->B.` (which wins). Strait's own
/// keys start with `strait.`. `flow_table!(m)` calls `m!` with the rows sorted out (see
/// `split_flow_table!`).
macro_rules! flow_table {
    ($then:path) => {
        $crate::schema::split_flow_table! { $then [] [] [] [] [];
            raw topics: Patterns, mm2 "topics";
            raw topics_exclude: Patterns, mm2 "topics.exclude" "topics.blacklist";
            raw replication_policy: String, mm2 "replication.policy.class";
            raw replication_policy_separator: String, mm2 "replication.policy.separator";
            flow replication_factor: codec::ReplicationFactor = None,
                toml replication_factor, mm2 "replication.factor";
            flow sync_topic_configs: codec::Flag = true,
                toml sync_topic_configs, mm2 "sync.topic.configs.enabled";
            raw config_properties_exclude: Patterns,
                mm2 "config.properties.exclude" "config.properties.blacklist";
            flow refresh_topics_enabled: codec::Flag = true,
                toml refresh_topics_enabled, mm2 "refresh.topics.enabled";
            flow refresh_topics_interval: codec::Secs = DEFAULT_REFRESH_TOPICS_INTERVAL,
                toml refresh_topics_interval_secs, mm2 "refresh.topics.interval.seconds";
            flow max_in_flight_records: codec::Count = DEFAULT_MAX_IN_FLIGHT_RECORDS,
                toml max_in_flight_records, mm2 "strait.max.in.flight.records";
            flow max_in_flight_bytes: codec::Count = DEFAULT_MAX_IN_FLIGHT_BYTES,
                toml max_in_flight_bytes, mm2 "strait.max.in.flight.bytes";
            flow position_flush_interval: codec::Millis = DEFAULT_POSITION_FLUSH_INTERVAL,
                toml position_flush_interval_ms, mm2 "strait.position.flush.interval.ms";
            flow max_records_per_second: codec::PerSecond = 0,
                toml max_records_per_sec, mm2 "strait.throttle.records.per.second";
            flow max_bytes_per_second: codec::PerSecond = 0,
                toml max_bytes_per_sec, mm2 "strait.throttle.bytes.per.second";
            flow exactly_once: codec::ExactlyOnce = false,
                toml exactly_once, mm2 "exactly.once.source.support";
            flow transaction_interval: codec::TransactionInterval = DEFAULT_TRANSACTION_INTERVAL,
                toml transaction_interval_ms, mm2 "strait.transaction.interval.ms";
            flow transaction_timeout: codec::TransactionTimeout = DEFAULT_TRANSACTION_TIMEOUT,
                toml transaction_timeout_ms, mm2 "strait.transaction.timeout.ms";
            flow transactional_id_prefix: codec::TransactionalIdPrefix =
                DEFAULT_TRANSACTIONAL_ID_PREFIX.to_owned(),
                toml transactional_id_prefix, mm2 "strait.transactional.id.prefix";
            pair emit_heartbeats_enabled: codec::Flag = true,
                toml emit_heartbeats_enabled, mm2 "emit.heartbeats.enabled";
            pair emit_heartbeats_interval: codec::Secs = DEFAULT_EMIT_HEARTBEATS_INTERVAL,
                toml emit_heartbeats_interval_secs, mm2 "emit.heartbeats.interval.seconds";
            mm2 emit_checkpoints_enabled: codec::Flag = true,
                toml emit_checkpoints_enabled, mm2 "emit.checkpoints.enabled";
            mm2 emit_checkpoints_interval: codec::Secs = DEFAULT_EMIT_CHECKPOINTS_INTERVAL,
                toml emit_checkpoints_interval_secs, mm2 "emit.checkpoints.interval.seconds";
            mm2 emit_offset_syncs_enabled: codec::Flag = true,
                toml emit_offset_syncs_enabled, mm2 "emit.offset-syncs.enabled";
            mm2 offset_syncs_location: codec::Location = OffsetSyncsLocation::Source,
                toml offset_syncs_topic_location, mm2 "offset-syncs.topic.location";
            mm2 offset_lag_max: codec::Lag = DEFAULT_OFFSET_LAG_MAX,
                toml offset_lag_max, mm2 "offset.lag.max";
            raw groups: Patterns, mm2 "groups";
            raw groups_exclude: Patterns, mm2 "groups.exclude" "groups.blacklist";
            mm2 sync_group_offsets_enabled: codec::Flag = false,
                toml sync_group_offsets_enabled, mm2 "sync.group.offsets.enabled";
            mm2 sync_group_offsets_interval: codec::Secs = DEFAULT_SYNC_GROUP_OFFSETS_INTERVAL,
                toml sync_group_offsets_interval_secs, mm2 "sync.group.offsets.interval.seconds";
            pair heartbeats_topic_replication_factor: codec::ReplicationFactor = None,
                toml heartbeats_topic_replication_factor,
                mm2 "heartbeats.topic.replication.factor";
            mm2 checkpoints_topic_replication_factor: codec::ReplicationFactor = None,
                toml checkpoints_topic_replication_factor,
                mm2 "checkpoints.topic.replication.factor";
            mm2 offset_syncs_topic_replication_factor: codec::ReplicationFactor = None,
                toml offset_syncs_topic_replication_factor,
                mm2 "offset-syncs.topic.replication.factor";
        }
    };
}

/// Sorts the rows of [`flow_table!`] into lists, then calls `$then!` with:
/// `fields [(TOML_KEY: RAW_TYPE)...] keys [MM2_KEY...] flow [ROW...] mm2 [ROW...] pair [ROW...]`,
/// each `ROW` being `(FIELD, CODEC, DEFAULT, TOML_KEY, MM2_KEY)`; `fields` and `keys` keep the
/// table's order, `mm2` holds the `pair` rows too.
macro_rules! split_flow_table {
    ($then:path [$($fields:tt)*] [$($keys:tt)*] [$($flow:tt)*] [$($mm2:tt)*] [$($pair:tt)*];) => {
        $then! {
            fields [$($fields)*] keys [$($keys)*] flow [$($flow)*] mm2 [$($mm2)*] pair [$($pair)*]
        }
    };
    ($then:path [$($fields:tt)*] [$($keys:tt)*] $flow:tt $mm2:tt $pair:tt;
     raw $toml:ident: $raw:ty, mm2 $($key:literal)+; $($rest:tt)*) => {
        $crate::schema::split_flow_table! { $then
            [$($fields)* ($toml: $raw)] [$($keys)* $($key)+] $flow $mm2 $pair; $($rest)*
        }
    };
    ($then:path [$($fields:tt)*] [$($keys:tt)*] [$($flow:tt)*] $mm2:tt $pair:tt;
     flow $field:ident: $codec:ty = $default:expr, toml $toml:ident, mm2 $key:literal;
     $($rest:tt)*) => {
        $crate::schema::split_flow_table! { $then
            [$($fields)* ($toml: <$codec as $crate::schema::Codec>::Raw)] [$($keys)* $key]
            [$($flow)* ($field, $codec, $default, $toml, $key)] $mm2 $pair; $($rest)*
        }
    };
    ($then:path [$($fields:tt)*] [$($keys:tt)*] $flow:tt [$($mm2:tt)*] $pair:tt;
     mm2 $field:ident: $codec:ty = $default:expr, toml $toml:ident, mm2 $key:literal;
     $($rest:tt)*) => {
        $crate::schema::split_flow_table! { $then
            [$($fields)* ($toml: <$codec as $crate::schema::Codec>::Raw)] [$($keys)* $key]
            $flow [$($mm2)* ($field, $codec, $default, $toml, $key)] $pair; $($rest)*
        }
    };
    ($then:path [$($fields:tt)*] [$($keys:tt)*] $flow:tt [$($mm2:tt)*] [$($pair:tt)*];
     pair $field:ident: $codec:ty = $default:expr, toml $toml:ident, mm2 $key:literal;
     $($rest:tt)*) => {
        $crate::schema::split_flow_table! { $then
            [$($fields)* ($toml: <$codec as $crate::schema::Codec>::Raw)] [$($keys)* $key]
            $flow [$($mm2)* ($field, $codec, $default, $toml, $key)]
            [$($pair)* ($field, $codec, $default, $toml, $key)]; $($rest)*
        }
    };
}

pub(crate) use {flow_table, split_flow_table};

/// The node settings. Each row is one of:
///
/// - `node FIELD: CODEC = DEFAULT, toml TOML_KEY, mm2 "MM2_KEY", show "LABEL";`: a field of
///   [`NodeSettings`], its `[node]` key, its `mm2.properties` key (file level only, `strait.*`)
///   and its line in the `check-config` summary (the codec's [`Codec::show`], or
///   `show "LABEL" with FUNCTION` for a function of its own);
/// - `raw TOML_KEY: TYPE, mm2 "MM2_KEY";`: a setting read and assembled by hand (the data dir,
///   which `[cluster]` may set too).
///
/// The `STRAIT__NODE__<TOML_KEY>` variable sets it in both formats. The order of the rows is the
/// order of the TOML fields and `mm2.properties` keys in messages listing them, and of the
/// summary's lines. `node_table!(m)` calls `m!` with the rows sorted out (see
/// `split_node_table!`).
macro_rules! node_table {
    ($then:path) => {
        $crate::schema::split_node_table! { $then [] [] [];
            raw data_dir: std::path::PathBuf, mm2 "strait.data.dir";
            node log_format: codec::TextOrJson = LogFormat::Text,
                toml log_format, mm2 "strait.log.format", show "log format";
            node progress_interval: codec::SecsOrOff = DEFAULT_PROGRESS_INTERVAL,
                toml progress_interval_secs, mm2 "strait.progress.interval.seconds",
                show "progress lines";
            node metrics_listen: codec::Listen = None,
                toml metrics_listen, mm2 "strait.metrics.listen",
                show "metrics" with crate::describe::metrics_endpoint;
            node offset_trim_interval: codec::Secs = DEFAULT_OFFSET_TRIM_INTERVAL,
                toml offset_trim_interval_secs, mm2 "strait.offset.trim.interval.seconds",
                show "offset trim";
            node shutdown_handover_timeout: codec::HandoverSecs = DEFAULT_SHUTDOWN_HANDOVER_TIMEOUT,
                toml shutdown_handover_timeout_secs,
                mm2 "strait.shutdown.handover.timeout.seconds", show "shutdown handover";
        }
    };
}

/// Sorts the rows of [`node_table!`] into lists, then calls `$then!` with:
/// `fields [(TOML_KEY: RAW_TYPE)...] keys [(TOML_KEY, MM2_KEY)...] node [ROW...]`, each `ROW`
/// being `(FIELD, CODEC, DEFAULT, TOML_KEY, MM2_KEY, LABEL, SHOW)` (`SHOW`: a function from the
/// value to its text in the summary); all in the table's order.
macro_rules! split_node_table {
    ($then:path [$($fields:tt)*] [$($keys:tt)*] [$($node:tt)*];) => {
        $then! { fields [$($fields)*] keys [$($keys)*] node [$($node)*] }
    };
    ($then:path [$($fields:tt)*] [$($keys:tt)*] $node:tt;
     raw $toml:ident: $raw:ty, mm2 $key:literal; $($rest:tt)*) => {
        $crate::schema::split_node_table! { $then
            [$($fields)* ($toml: $raw)] [$($keys)* ($toml, $key)] $node; $($rest)*
        }
    };
    ($then:path [$($fields:tt)*] [$($keys:tt)*] [$($node:tt)*];
     node $field:ident: $codec:ty = $default:expr, toml $toml:ident, mm2 $key:literal,
     show $label:literal with $show:path; $($rest:tt)*) => {
        $crate::schema::split_node_table! { $then
            [$($fields)* ($toml: <$codec as $crate::schema::Codec>::Raw)]
            [$($keys)* ($toml, $key)]
            [$($node)* ($field, $codec, $default, $toml, $key, $label, $show)]; $($rest)*
        }
    };
    ($then:path [$($fields:tt)*] [$($keys:tt)*] [$($node:tt)*];
     node $field:ident: $codec:ty = $default:expr, toml $toml:ident, mm2 $key:literal,
     show $label:literal; $($rest:tt)*) => {
        $crate::schema::split_node_table! { $then
            [$($fields)* ($toml: <$codec as $crate::schema::Codec>::Raw)]
            [$($keys)* ($toml, $key)]
            [$($node)* ($field, $codec, $default, $toml, $key, $label,
                <$codec as $crate::schema::Codec>::show)]; $($rest)*
        }
    };
}

pub(crate) use {node_table, split_node_table};

/// What a file sets of the node settings, their defaults, their keys and their summary (see the
/// module docs).
macro_rules! node_values {
    (
        fields [$($fields:tt)*]
        keys [$(($kt:ident, $key:literal))*]
        node [$(($f:ident, $c:ty, $d:expr, $t:ident, $k:literal, $label:literal, $show:expr))*]
    ) => {
        /// Node settings as a file (and its variables) sets them; `None` = not set. The data
        /// dir is read by hand (with `[cluster]`'s).
        #[derive(Debug, Clone, Default)]
        pub(crate) struct NodeValues {
            $(pub $f: Option<<$c as Codec>::Value>,)*
        }

        /// Every node key of `mm2.properties` (file level only).
        pub(crate) const NODE_KEYS: &[&str] = &[$($key),*];

        /// The `[node]` keys of the TOML format (the `STRAIT__NODE__*` variables, uppercase) and
        /// the `mm2.properties` key each sets.
        pub(crate) const NODE_VARIABLES: &[(&str, &str)] = &[$((stringify!($kt), $key)),*];

        impl NodeValues {
            /// Reads the `.properties` key `name` when it is one of the table's `node` rows:
            /// `None` when it is not, else whether its value is valid (the error says what is
            /// expected).
            pub(crate) fn read_text(
                &mut self,
                name: &str,
                text: &str,
            ) -> Option<Result<(), &'static str>> {
                Some(match name {
                    $($k => <$c as Codec>::from_text(text).map(|v| self.$f = Some(v)),)*
                    _ => return None,
                })
            }

            /// The settings: these values, defaults for the rest; the data dir given.
            pub(crate) fn into_settings(self, data_dir: PathBuf) -> NodeSettings {
                NodeSettings {
                    data_dir,
                    $($f: self.$f.unwrap_or($d),)*
                }
            }
        }

        impl Default for NodeSettings {
            /// The defaults, the data dir still relative (see [`NodeSettings::defaults_for`]).
            fn default() -> Self {
                NodeValues::default().into_settings(PathBuf::from(DEFAULT_DATA_DIR))
            }
        }

        impl NodeSettings {
            /// The summary's lines of the table's `node` rows: label and value.
            pub(crate) fn describe_lines(&self) -> Vec<(&'static str, String)> {
                vec![$(($label, ($show)(&self.$f)),)*]
            }
        }
    };
}

/// What one scope sets, its layering and its defaults (see the module docs).
macro_rules! flow_values {
    (
        fields [$($fields:tt)*]
        keys [$($key:literal)*]
        flow [$(($ff:ident, $fc:ty, $fd:expr, $ft:ident, $fk:literal))*]
        mm2 [$(($mf:ident, $mc:ty, $md:expr, $mt:ident, $mk:literal))*]
        pair [$(($pf:ident, $pc:ty, $pd:expr, $pt:ident, $pk:literal))*]
    ) => {
        /// Per-flow settings as one scope of a file sets them; `None` = not set there.
        #[derive(Debug, Clone, Default)]
        pub(crate) struct FlowValues {
            pub topics: Option<Sourced<Vec<String>>>,
            pub topics_exclude: Option<Sourced<Vec<String>>>,
            pub policy: Option<PolicyKind>,
            pub separator: Option<Sourced<String>>,
            pub config_properties_exclude: Option<Sourced<Vec<String>>>,
            $(pub $ff: Option<<$fc as Codec>::Value>,)*
            pub mm2: Mm2Values,
            /// Where each of the table's settings this scope sets was set (its key as the file
            /// writes it, and its place), by field name (`exactly_once`, `offset_lag_max`...):
            /// for the messages of the checks between settings.
            pub set_at: BTreeMap<&'static str, Sourced<()>>,
        }

        /// The values of [`Mm2Settings`] one scope sets.
        #[derive(Debug, Clone, Default)]
        pub(crate) struct Mm2Values {
            pub groups: Option<Sourced<Vec<String>>>,
            pub groups_exclude: Option<Sourced<Vec<String>>>,
            $(pub $mf: Option<<$mc as Codec>::Value>,)*
        }

        /// Every per-flow key of `mm2.properties` (file level or after `A->B.`).
        pub(crate) const FLOW_KEYS: &[&str] = &[$($key),*];

        /// The keys of a disabled flow `B->A.` that still apply: its pair's heartbeats.
        pub(crate) const PAIR_HEARTBEAT_KEYS: &[&str] = &[$($pk),*];

        impl FlowValues {
            /// These values, with what they leave unset taken from `lower`.
            pub(crate) fn or(self, lower: &FlowValues) -> FlowValues {
                let lower = lower.clone();
                FlowValues {
                    topics: self.topics.or(lower.topics),
                    topics_exclude: self.topics_exclude.or(lower.topics_exclude),
                    policy: self.policy.or(lower.policy),
                    separator: self.separator.or(lower.separator),
                    config_properties_exclude: self
                        .config_properties_exclude
                        .or(lower.config_properties_exclude),
                    $($ff: self.$ff.or(lower.$ff),)*
                    mm2: self.mm2.or(lower.mm2),
                    set_at: lower.set_at.into_iter().chain(self.set_at).collect(),
                }
            }

            /// The field of the table's setting whose `.properties` key (without its flow prefix)
            /// is `name`.
            pub(crate) fn field_of(name: &str) -> Option<&'static str> {
                match name {
                    $($fk => Some(stringify!($ff)),)*
                    $($mk => Some(stringify!($mf)),)*
                    _ => None,
                }
            }

            /// Reads the `.properties` key `name` (without its flow prefix) when it is one of the
            /// table's settings: `None` when it is not, else whether its value is valid (the
            /// error says what is expected).
            pub(crate) fn read_text(
                &mut self,
                name: &str,
                text: &str,
            ) -> Option<Result<(), &'static str>> {
                Some(match name {
                    $($fk => <$fc as Codec>::from_text(text).map(|v| self.$ff = Some(v)),)*
                    $($mk => <$mc as Codec>::from_text(text).map(|v| self.mm2.$mf = Some(v)),)*
                    _ => return None,
                })
            }

            /// The settings: these values, defaults for the rest; the hand-assembled ones given.
            pub(crate) fn into_settings(
                self,
                assembled: Assembled,
                mm2: Mm2Settings,
                clients: FlowClients,
            ) -> FlowSettings {
                FlowSettings {
                    id: assembled.id,
                    topics: assembled.topics,
                    replication_policy: assembled.replication_policy,
                    config_properties_exclude: assembled.config_properties_exclude,
                    $($ff: self.$ff.unwrap_or($fd),)*
                    mm2,
                    consumer: clients.consumer,
                    producer: clients.producer,
                    source_admin: clients.source_admin,
                    target_admin: clients.target_admin,
                    client_origins: clients.origins,
                }
            }
        }

        impl Mm2Values {
            fn or(self, lower: Mm2Values) -> Mm2Values {
                Mm2Values {
                    groups: self.groups.or(lower.groups),
                    groups_exclude: self.groups_exclude.or(lower.groups_exclude),
                    $($mf: self.$mf.or(lower.$mf),)*
                }
            }

            /// These values, defaults for the rest; the group filter given.
            fn with_groups(self, groups: TopicFilter) -> Mm2Settings {
                Mm2Settings {
                    groups,
                    $($mf: self.$mf.unwrap_or($md),)*
                }
            }
        }

        impl Default for Mm2Settings {
            fn default() -> Self {
                Mm2Values::default().with_groups(default_groups())
            }
        }
    };
}

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::assemble::{FlowClients, PolicyKind, Sourced};
use crate::model::{
    FlowSettings, LogFormat, Mm2Settings, NodeSettings, OffsetSyncsLocation, DEFAULT_DATA_DIR,
    DEFAULT_EMIT_CHECKPOINTS_INTERVAL, DEFAULT_EMIT_HEARTBEATS_INTERVAL, DEFAULT_GROUPS,
    DEFAULT_GROUPS_EXCLUDE, DEFAULT_MAX_IN_FLIGHT_BYTES, DEFAULT_MAX_IN_FLIGHT_RECORDS,
    DEFAULT_OFFSET_LAG_MAX, DEFAULT_OFFSET_TRIM_INTERVAL, DEFAULT_POSITION_FLUSH_INTERVAL,
    DEFAULT_PROGRESS_INTERVAL, DEFAULT_REFRESH_TOPICS_INTERVAL, DEFAULT_SHUTDOWN_HANDOVER_TIMEOUT,
    DEFAULT_SYNC_GROUP_OFFSETS_INTERVAL, DEFAULT_TRANSACTIONAL_ID_PREFIX,
    DEFAULT_TRANSACTION_INTERVAL, DEFAULT_TRANSACTION_TIMEOUT,
};
use regex::Regex;
use strait_coordinator::{FlowId, ReplicationPolicy, TopicFilter};

flow_table!(flow_values);
node_table!(node_values);

/// The settings of a flow that are assembled from several keys, by hand.
pub(crate) struct Assembled {
    pub id: FlowId,
    pub topics: TopicFilter,
    pub replication_policy: ReplicationPolicy,
    pub config_properties_exclude: Regex,
}

/// MirrorMaker 2's default `groups` / `groups.exclude`.
pub(crate) fn default_groups() -> TopicFilter {
    TopicFilter::new(
        DEFAULT_GROUPS.iter().copied(),
        DEFAULT_GROUPS_EXCLUDE.iter().copied(),
    )
    .expect("the default group patterns are valid")
}

impl Mm2Values {
    /// The settings these values give, defaults for the rest; the group filter is checked here.
    pub(crate) fn settings(
        self,
        file: &std::path::Path,
    ) -> Result<Mm2Settings, crate::ConfigError> {
        let groups = assemble::groups(file, &self.groups, &self.groups_exclude)?;
        Ok(self.with_groups(groups))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::Path;

    use super::codec::*;
    use super::*;
    use crate::assemble::{EXPECT_COUNT, EXPECT_LAG};

    /// A value of each node setting other than its default, as a file or a variable writes it. A
    /// new row of [`node_table!`] needs its sample here.
    const NODE_SAMPLES: &[(&str, &str)] = &[
        ("data_dir", "/var/lib/strait"),
        ("log_format", "json"),
        ("progress_interval_secs", "0"),
        ("metrics_listen", "127.0.0.1:9464"),
        ("offset_trim_interval_secs", "7"),
        ("shutdown_handover_timeout_secs", "0"),
    ];

    /// Every node key has its `STRAIT__NODE__*` variable: two `[node]` settings were once added
    /// without their entry in the `.properties` variable table, so a `.properties` node refused
    /// `STRAIT__NODE__SHUTDOWN_HANDOVER_TIMEOUT_SECS` as "not a Strait setting".
    #[test]
    fn node_keys_are_strait_keys_known_once() {
        let mut keys = NODE_KEYS.to_vec();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), NODE_KEYS.len(), "a key is in the table twice");
        for key in NODE_KEYS {
            assert!(key.starts_with("strait."), "{key}");
            assert!(!FLOW_KEYS.contains(key), "{key} is a flow key too");
        }
        let variables: Vec<&str> = NODE_VARIABLES.iter().map(|(_, key)| *key).collect();
        assert_eq!(variables, NODE_KEYS);
    }

    /// Each node setting, set in `[node]`, as its `mm2.properties` key, or by its
    /// `STRAIT__NODE__*` variable with either format, gives the same settings, not the defaults.
    #[test]
    fn every_node_setting_means_the_same_in_both_formats_and_its_variable() {
        let toml_file = Path::new("/etc/strait/strait.toml");
        let mm2_file = Path::new("/etc/strait/mm2.properties");
        let toml_base = "[clusters.A]\nbootstrap_servers = \"a:1\"\n\
                         [clusters.B]\nbootstrap_servers = \"b:1\"\n[flows.\"A->B\"]\n";
        let mm2_base = "clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\n\
                        A->B.enabled = true\n";
        let no_env = || Some(HashMap::new());
        let defaults = NodeSettings::defaults_for(toml_file);
        for (toml, mm2) in NODE_VARIABLES {
            let (_, sample) = NODE_SAMPLES
                .iter()
                .find(|(key, _)| key == toml)
                .unwrap_or_else(|| panic!("no sample of {toml} in NODE_SAMPLES"));
            let literal = match sample.parse::<i64>() {
                Ok(n) => n.to_string(),
                Err(_) => format!("{sample:?}"),
            };
            let in_toml = format!("[node]\n{toml} = {literal}\n{toml_base}");
            let from_toml = crate::native::parse(toml_file, &in_toml, no_env())
                .unwrap()
                .node;
            assert_ne!(from_toml, defaults, "{toml} = {literal} is the default");
            let in_mm2 = format!("{mm2_base}{mm2} = {sample}\n");
            let from_mm2 = crate::mm2::parse(mm2_file, &in_mm2, no_env()).unwrap().node;
            assert_eq!(from_mm2, from_toml, "{mm2} = {sample}");
            let variable = format!("STRAIT__NODE__{}", toml.to_ascii_uppercase());
            let env = || Some(HashMap::from([(variable.clone(), sample.to_string())]));
            let by_variable = crate::native::parse(toml_file, toml_base, env())
                .unwrap()
                .node;
            assert_eq!(by_variable, from_toml, "{variable} with a TOML file");
            let by_variable = crate::mm2::parse(mm2_file, mm2_base, env()).unwrap().node;
            assert_eq!(by_variable, from_toml, "{variable} with a .properties file");
        }
    }

    #[test]
    fn the_summary_shows_every_node_setting() {
        let lines = NodeSettings::default().describe_lines();
        let labels: Vec<&str> = lines.iter().map(|(label, _)| *label).collect();
        assert_eq!(
            labels,
            [
                "log format",
                "progress lines",
                "metrics",
                "offset trim",
                "shutdown handover"
            ]
        );
        let values: Vec<&str> = lines.iter().map(|(_, value)| value.as_str()).collect();
        assert_eq!(
            values,
            [
                "text",
                "every 5s",
                "off",
                "every 1m",
                "up to 10s, then drain"
            ]
        );
    }

    #[test]
    fn every_key_is_known_once() {
        let mut keys = FLOW_KEYS.to_vec();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), FLOW_KEYS.len(), "a key is in the table twice");
        for key in PAIR_HEARTBEAT_KEYS {
            assert!(FLOW_KEYS.contains(key), "{key}");
        }
    }

    #[test]
    fn text_values_are_read_and_checked_by_their_codec() {
        let mut values = FlowValues::default();
        assert_eq!(values.read_text("no.such.key", "1"), None);
        assert_eq!(values.read_text("offset.lag.max", "7"), Some(Ok(())));
        assert_eq!(values.mm2.offset_lag_max, Some(7));
        assert_eq!(
            values.read_text("offset.lag.max", "x"),
            Some(Err(EXPECT_LAG))
        );
        assert_eq!(
            values.read_text("strait.max.in.flight.records", "0"),
            Some(Err(EXPECT_COUNT))
        );
        assert_eq!(
            values.read_text("refresh.topics.enabled", "FALSE"),
            Some(Ok(()))
        );
        assert_eq!(values.refresh_topics_enabled, Some(false));
        assert_eq!(values.read_text("replication.factor", "-1"), Some(Ok(())));
        assert_eq!(values.replication_factor, Some(None));
        // Kafka Connect's values in `mm2.properties`, a boolean in TOML.
        for (text, on) in [("enabled", true), ("PREPARING", false), ("disabled", false)] {
            let read = values.read_text("exactly.once.source.support", text);
            assert_eq!(read, Some(Ok(())), "{text}");
            assert_eq!(values.exactly_once, Some(on), "{text}");
        }
        assert_eq!(
            values.read_text("exactly.once.source.support", "true"),
            Some(Err(crate::assemble::EXPECT_EXACTLY_ONCE_SOURCE_SUPPORT))
        );
        assert_eq!(
            FlowValues::field_of("exactly.once.source.support"),
            Some("exactly_once")
        );
        assert_eq!(
            FlowValues::field_of("offset.lag.max"),
            Some("offset_lag_max")
        );
        assert_eq!(FlowValues::field_of("topics"), None, "a raw row");
    }

    #[test]
    fn raw_values_give_back_what_was_read() {
        assert_eq!(Secs::raw(&Secs::parse(60).unwrap()), Some(60));
        assert_eq!(Millis::raw(&Millis::parse(250).unwrap()), Some(250));
        assert_eq!(
            ReplicationFactor::raw(&ReplicationFactor::parse(-1).unwrap()),
            None
        );
        assert_eq!(
            ReplicationFactor::raw(&ReplicationFactor::parse(3).unwrap()),
            Some(3)
        );
        let target = Location::parse("Target".to_owned()).unwrap();
        assert_eq!(Location::raw(&target).as_deref(), Some("target"));
        assert_eq!(
            ExactlyOnce::raw(&ExactlyOnce::parse(true).unwrap()),
            Some(true)
        );
        let interval = TransactionInterval::parse(10).unwrap();
        assert_eq!(TransactionInterval::raw(&interval), Some(10));
        assert!(TransactionInterval::parse(9).is_err());
        let timeout = TransactionTimeout::parse(900_000).unwrap();
        assert_eq!(TransactionTimeout::raw(&timeout), Some(900_000));
        assert!(TransactionTimeout::parse(900_001).is_err());
        assert!(TransactionTimeout::parse(9).is_err());
        let prefix = TransactionalIdPrefix::parse("a.B_9-z".to_owned()).unwrap();
        assert_eq!(
            TransactionalIdPrefix::raw(&prefix).as_deref(),
            Some("a.B_9-z")
        );
        for bad in ["", "a b", "a/b", "é"] {
            assert!(
                TransactionalIdPrefix::parse(bad.to_owned()).is_err(),
                "{bad}"
            );
        }
    }
}
