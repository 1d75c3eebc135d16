//! What both loaders share: per-flow values before defaults, their validation, and the assembly of
//! the final [`FlowSettings`]. Keys in messages are the caller's (`A->B.topics` or
//! `flows.a_to_b.topics`), so errors speak the syntax of the file being loaded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;
use strait_coordinator::{
    ClusterAlias, FlowId, ReplicationPolicy, TopicFilter, DEFAULT_TOPICS, DEFAULT_TOPICS_EXCLUDE,
};

use crate::error::{ConfigError, Location, Place};
use crate::model::{
    ClientOrigins, ClientProps, FlowSettings, IgnoredKey, Mm2Settings, OffsetSyncsLocation,
    PairHeartbeats, DEFAULT_CONFIG_PROPERTIES_EXCLUDE, DEFAULT_DATA_DIR, MAX_TRANSACTION_TIMEOUT,
    MIN_TRANSACTION_INTERVAL,
};

pub(crate) const EXPECT_BOOL: &str = "true or false";
pub(crate) const EXPECT_REPLICATION_FACTOR: &str =
    "a whole number from 1 to 32767, or -1 for the target broker's default";
pub(crate) const EXPECT_INTERVAL_SECS: &str = "a whole number of seconds, at least 1";
pub(crate) const EXPECT_PROGRESS_SECS: &str =
    "a whole number of seconds (0 turns progress lines off)";
pub(crate) const EXPECT_HANDOVER_SECS: &str =
    "a whole number of seconds from 0 to 600 (0: no handover, drain at once)";
pub(crate) const EXPECT_COUNT: &str = "a whole number, at least 1";
pub(crate) const EXPECT_MILLIS: &str = "a whole number of milliseconds, at least 1";
pub(crate) const EXPECT_LOG_FORMAT: &str = "text or json";
pub(crate) const EXPECT_METRICS_LISTEN: &str = "a socket address IP:PORT, e.g. 127.0.0.1:9464";
pub(crate) const EXPECT_SEPARATOR: &str = "a non-empty separator";
pub(crate) const EXPECT_POLICY: &str = "DefaultReplicationPolicy or IdentityReplicationPolicy \
    (org.apache.kafka.connect.mirror.*); other policy classes cannot run in Strait";

/// A value and where it was set, so a later error can point at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sourced<T> {
    pub value: T,
    pub key: String,
    pub place: Place,
}

pub(crate) const EXPECT_DIRECTORY: &str = "a directory path";

/// The data dir, which the node's settings or the cluster's may set (`[node] data_dir` or
/// `[cluster] data_dir`; `strait.data.dir` or `strait.cluster.data.dir`): either, or both when they
/// name the same directory; the default (`strait-data` next to the file) when neither does. The
/// result is absolute, see [`resolve_path`].
pub(crate) fn data_dir(
    file: &Path,
    node: Option<Sourced<PathBuf>>,
    cluster: Option<Sourced<PathBuf>>,
) -> Result<PathBuf, ConfigError> {
    let resolve = |dir: &Sourced<PathBuf>| resolve_path(file, &dir.place, &dir.value);
    match (node, cluster) {
        (Some(node), Some(cluster)) if resolve(&node) != resolve(&cluster) => {
            Err(ConfigError::Conflict {
                at: Location::at(file, cluster.place.clone()),
                key: cluster.key.clone(),
                value: cluster.value.display().to_string(),
                reason: format!(
                    "{} = {:?} sets the data dir too: set one of them, or both to the same \
                     directory",
                    crate::membership::place(&node),
                    node.value.display().to_string()
                ),
            })
        }
        (Some(dir), _) | (None, Some(dir)) => Ok(resolve(&dir)),
        (None, None) => Ok(resolve_path(
            file,
            &Place::File,
            Path::new(DEFAULT_DATA_DIR),
        )),
    }
}

/// Where a path a configuration sets points, as an absolute path: an absolute one as it is; a
/// relative one from the directory of the configuration file, so that the node finds the same
/// directory whatever directory it is started from; one set by an environment variable
/// (`STRAIT__...`) from the working directory, as a shell would read it. `.` components are
/// dropped; `..` and symbolic links are kept as written (the directory holding the file, not the
/// target of a linked file, is the base).
pub(crate) fn resolve_path(file: &Path, place: &Place, path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_owned()
    } else {
        let base = match place {
            Place::Env(_) => PathBuf::new(),
            Place::File | Place::Line(_) => file.parent().map(Path::to_owned).unwrap_or_default(),
        };
        // Fails only when the working directory is gone: the path then stays relative, to it.
        std::path::absolute(base.join(path)).unwrap_or_else(|_| base.join(path))
    };
    joined.components().collect()
}

/// `replication.policy.class`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PolicyKind {
    Default,
    Identity,
}

/// MM2's class names (full or short), or the TOML format's `default` / `identity`.
pub(crate) fn parse_policy(name: &str) -> Option<PolicyKind> {
    let short = name
        .trim()
        .strip_prefix("org.apache.kafka.connect.mirror.")
        .unwrap_or(name.trim());
    match short.to_ascii_lowercase().as_str() {
        "defaultreplicationpolicy" | "default" => Some(PolicyKind::Default),
        "identityreplicationpolicy" | "identity" => Some(PolicyKind::Identity),
        _ => None,
    }
}

/// `-1` = the target broker's default.
pub(crate) fn replication_factor(n: i64) -> Result<Option<i16>, &'static str> {
    match n {
        -1 => Ok(None),
        1..=32767 => Ok(Some(n as i16)),
        _ => Err(EXPECT_REPLICATION_FACTOR),
    }
}

/// At least 1, as a `usize`.
pub(crate) fn count(n: i64) -> Result<usize, &'static str> {
    usize::try_from(n)
        .ok()
        .filter(|&n| n >= 1)
        .ok_or(EXPECT_COUNT)
}

/// At least 1 second.
pub(crate) fn interval_secs(n: i64) -> Result<Duration, &'static str> {
    u64::try_from(n)
        .ok()
        .filter(|&n| n >= 1)
        .map(Duration::from_secs)
        .ok_or(EXPECT_INTERVAL_SECS)
}

/// 0 or more seconds.
pub(crate) fn progress_secs(n: i64) -> Result<Duration, &'static str> {
    u64::try_from(n)
        .map(Duration::from_secs)
        .map_err(|_| EXPECT_PROGRESS_SECS)
}

/// 0 to 600 seconds: how long a stopping node hands its partitions over.
pub(crate) fn handover_secs(n: i64) -> Result<Duration, &'static str> {
    u64::try_from(n)
        .ok()
        .filter(|&n| n <= 600)
        .map(Duration::from_secs)
        .ok_or(EXPECT_HANDOVER_SECS)
}

/// At least 1 ms.
pub(crate) fn interval_millis(n: i64) -> Result<Duration, &'static str> {
    u64::try_from(n)
        .ok()
        .filter(|&n| n >= 1)
        .map(Duration::from_millis)
        .ok_or(EXPECT_MILLIS)
}

pub(crate) const EXPECT_EXACTLY_ONCE_SOURCE_SUPPORT: &str =
    "enabled, preparing or disabled (Kafka Connect's exactly.once.source.support)";
pub(crate) const EXPECT_EXACTLY_ONCE_SUPPORT: &str =
    "requested or required (Kafka Connect's exactly.once.support)";
pub(crate) const EXPECT_TRANSACTION_INTERVAL: &str = "a whole number of milliseconds, at least 10";
pub(crate) const EXPECT_TRANSACTION_TIMEOUT: &str = "a whole number of milliseconds from 10 to \
    900000 (15 minutes: the brokers' default transaction.max.timeout.ms)";
pub(crate) const EXPECT_TRANSACTIONAL_ID_PREFIX: &str =
    "a non-empty prefix of letters, digits, '.', '_' and '-'";

/// `exactly.once.source.support` (any case, as Kafka Connect reads it): `enabled` turns
/// exactly-once on; `disabled` and `preparing` (Connect's first step of a rolling switch to it)
/// leave it off.
pub(crate) fn exactly_once_source_support(text: &str) -> Result<bool, &'static str> {
    match text.trim().to_ascii_lowercase().as_str() {
        "enabled" => Ok(true),
        "disabled" | "preparing" => Ok(false),
        _ => Err(EXPECT_EXACTLY_ONCE_SOURCE_SUPPORT),
    }
}

/// Whether an `exactly.once.source.support` value is `preparing`.
pub(crate) fn is_preparing(text: &str) -> bool {
    text.trim().eq_ignore_ascii_case("preparing")
}

/// Kafka Connect's connector-level `exactly.once.support`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExactlyOnceSupport {
    /// A hint: no effect.
    Requested,
    /// A check: the connector must run exactly-once, else it is refused.
    Required,
}

/// `requested` or `required`, any case (as Kafka Connect reads it).
pub(crate) fn exactly_once_support(text: &str) -> Result<ExactlyOnceSupport, &'static str> {
    match text.trim().to_ascii_lowercase().as_str() {
        "requested" => Ok(ExactlyOnceSupport::Requested),
        "required" => Ok(ExactlyOnceSupport::Required),
        _ => Err(EXPECT_EXACTLY_ONCE_SUPPORT),
    }
}

/// At least [`MIN_TRANSACTION_INTERVAL`].
pub(crate) fn transaction_interval(n: i64) -> Result<Duration, &'static str> {
    u64::try_from(n)
        .ok()
        .map(Duration::from_millis)
        .filter(|d| *d >= MIN_TRANSACTION_INTERVAL)
        .ok_or(EXPECT_TRANSACTION_INTERVAL)
}

/// From [`MIN_TRANSACTION_INTERVAL`] to [`MAX_TRANSACTION_TIMEOUT`].
pub(crate) fn transaction_timeout(n: i64) -> Result<Duration, &'static str> {
    u64::try_from(n)
        .ok()
        .map(Duration::from_millis)
        .filter(|d| (MIN_TRANSACTION_INTERVAL..=MAX_TRANSACTION_TIMEOUT).contains(d))
        .ok_or(EXPECT_TRANSACTION_TIMEOUT)
}

/// Not empty; the characters Kafka allows in topic names (ASCII letters, digits, `.`, `_`, `-`).
pub(crate) fn transactional_id_prefix(prefix: String) -> Result<String, &'static str> {
    let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    match !prefix.is_empty() && prefix.chars().all(legal) {
        true => Ok(prefix),
        false => Err(EXPECT_TRANSACTIONAL_ID_PREFIX),
    }
}

/// MirrorMaker 2's list syntax: comma-separated, items trimmed, empty items dropped (an empty value
/// is an empty list).
pub(crate) fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `host:port` list normalised for librdkafka: items trimmed, joined with `,`. `None` when empty.
pub(crate) fn bootstrap_servers(value: &str) -> Option<String> {
    let servers = split_list(value);
    (!servers.is_empty()).then(|| servers.join(","))
}

pub(crate) use crate::schema::{FlowValues, Mm2Values};

/// `groups` / `groups.exclude`, checked; MirrorMaker 2's defaults for what is not set.
pub(crate) fn groups(
    file: &Path,
    groups: &Option<Sourced<Vec<String>>>,
    groups_exclude: &Option<Sourced<Vec<String>>>,
) -> Result<TopicFilter, ConfigError> {
    for patterns in [groups, groups_exclude].into_iter().flatten() {
        check_patterns(file, patterns)?;
    }
    let d = crate::schema::default_groups();
    let include = groups.as_ref().map(|s| s.value.clone());
    let exclude = groups_exclude.as_ref().map(|s| s.value.clone());
    match (include, exclude) {
        (None, None) => Ok(d),
        (include, exclude) => TopicFilter::new(
            include.unwrap_or_else(|| d.include_patterns().to_vec()),
            exclude.unwrap_or_else(|| d.exclude_patterns().to_vec()),
        )
        .map_err(|e| {
            let at = groups.as_ref().or(groups_exclude.as_ref());
            ConfigError::InvalidKey {
                at: Location::at(file, at.map(|s| s.place.clone()).unwrap_or_default()),
                key: at.map_or_else(|| "groups".to_owned(), |s| s.key.clone()),
                reason: e.to_string(),
            }
        }),
    }
}

pub(crate) const EXPECT_LOCATION: &str = "source or target";
pub(crate) const EXPECT_LAG: &str = "a whole number, at least 0";

/// `offset-syncs.topic.location`.
pub(crate) fn offset_syncs_location(value: &str) -> Result<OffsetSyncsLocation, &'static str> {
    match value.trim().to_ascii_lowercase().as_str() {
        "source" => Ok(OffsetSyncsLocation::Source),
        "target" => Ok(OffsetSyncsLocation::Target),
        _ => Err(EXPECT_LOCATION),
    }
}

/// `offset.lag.max`: 0 or more.
pub(crate) fn lag(n: i64) -> Result<i64, &'static str> {
    if n >= 0 {
        Ok(n)
    } else {
        Err(EXPECT_LAG)
    }
}

/// The effective client properties of one flow.
#[derive(Debug, Clone, Default)]
pub(crate) struct FlowClients {
    pub consumer: ClientProps,
    pub producer: ClientProps,
    pub source_admin: ClientProps,
    pub target_admin: ClientProps,
    pub origins: ClientOrigins,
}

/// Compiles each pattern on its own, so the error names the one that is wrong.
pub(crate) fn check_patterns(
    file: &Path,
    patterns: &Sourced<Vec<String>>,
) -> Result<(), ConfigError> {
    for pattern in &patterns.value {
        Regex::new(pattern).map_err(|e| ConfigError::InvalidRegex {
            at: Location::at(file, patterns.place.clone()),
            key: patterns.key.clone(),
            pattern: pattern.clone(),
            reason: first_line(&e.to_string()),
        })?;
    }
    Ok(())
}

/// The regex crate's parse errors span several lines (a header, the pattern, a caret, then
/// `error: <reason>`): keep the reason only, on one line.
fn first_line(message: &str) -> String {
    let lines = || message.lines().map(str::trim).filter(|l| !l.is_empty());
    match lines().find_map(|l| l.strip_prefix("error:")) {
        Some(reason) => reason.trim().to_owned(),
        None => lines().collect::<Vec<_>>().join(" "),
    }
}

/// A regex that matches no string (an empty character class).
pub(crate) const MATCH_NOTHING: &str = r"[^\s\S]";

/// MirrorMaker 2's pattern-list semantics: joined with `|`, matching the whole name; an empty list
/// matches nothing.
pub(crate) fn whole_name_regex(patterns: &[String]) -> Result<Regex, regex::Error> {
    let patterns: Vec<&str> = patterns
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect();
    if patterns.is_empty() {
        return Regex::new(MATCH_NOTHING);
    }
    Regex::new(&format!("^(?:{})$", patterns.join("|")))
}

/// `bootstrap.servers`, then each layer in order (later wins). Client layers cannot change the
/// bootstrap servers: they are the cluster's.
pub(crate) fn client_props(bootstrap: &str, layers: &[&ClientProps]) -> ClientProps {
    let mut props = ClientProps::new();
    for layer in layers {
        props.extend(layer.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    props.insert("bootstrap.servers".to_owned(), bootstrap.to_owned());
    props
}

/// One flow's settings: its values, defaults for the rest.
pub(crate) fn flow_settings(
    file: &Path,
    id: FlowId,
    mut values: FlowValues,
    clients: FlowClients,
) -> Result<FlowSettings, ConfigError> {
    for patterns in [
        &values.topics,
        &values.topics_exclude,
        &values.config_properties_exclude,
    ]
    .into_iter()
    .flatten()
    {
        check_patterns(file, patterns)?;
    }
    let defaults = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let include = values.topics.as_ref().map(|s| s.value.clone());
    let exclude = values.topics_exclude.as_ref().map(|s| s.value.clone());
    let topics = TopicFilter::new(
        include.unwrap_or_else(|| defaults(DEFAULT_TOPICS)),
        exclude.unwrap_or_else(|| defaults(DEFAULT_TOPICS_EXCLUDE)),
    )
    .map_err(|e| {
        let at = values.topics.as_ref().or(values.topics_exclude.as_ref());
        ConfigError::InvalidKey {
            at: Location::at(file, at.map(|s| s.place.clone()).unwrap_or_default()),
            key: at.map_or_else(|| "topics".to_owned(), |s| s.key.clone()),
            reason: e.to_string(),
        }
    })?;

    let config_exclude = values
        .config_properties_exclude
        .as_ref()
        .map(|s| s.value.clone())
        .unwrap_or_else(|| defaults(DEFAULT_CONFIG_PROPERTIES_EXCLUDE));
    let config_properties_exclude = whole_name_regex(&config_exclude).map_err(|e| {
        let at = values.config_properties_exclude.as_ref();
        ConfigError::InvalidKey {
            at: Location::at(file, at.map(|s| s.place.clone()).unwrap_or_default()),
            key: at.map_or_else(|| "config.properties.exclude".to_owned(), |s| s.key.clone()),
            reason: first_line(&e.to_string()),
        }
    })?;

    let replication_policy = match values.policy.unwrap_or(PolicyKind::Default) {
        PolicyKind::Identity => ReplicationPolicy::Identity,
        PolicyKind::Default => match &values.separator {
            None => ReplicationPolicy::default(),
            Some(sep) => {
                ReplicationPolicy::default_with_separator(sep.value.clone()).map_err(|_| {
                    ConfigError::InvalidValue {
                        at: Location::at(file, sep.place.clone()),
                        key: sep.key.clone(),
                        value: sep.value.clone(),
                        expected: EXPECT_SEPARATOR.to_owned(),
                    }
                })?
            }
        },
    };

    let assembled = crate::schema::Assembled {
        id,
        topics,
        replication_policy,
        config_properties_exclude,
    };
    let mm2 = std::mem::take(&mut values.mm2).settings(file)?;
    let set_at = std::mem::take(&mut values.set_at);
    let flow = values.into_settings(assembled, mm2, clients);
    check_transactions(file, &flow, &set_at)?;
    Ok(flow)
}

/// The rules between a flow's exactly-once settings, and between exactly-once and its producer's
/// properties: the transaction interval is at most the transaction timeout; with exactly-once on,
/// no producer property contradicts it. `set_at` says where the flow's settings were set.
fn check_transactions(
    file: &Path,
    flow: &FlowSettings,
    set_at: &BTreeMap<&'static str, Sourced<()>>,
) -> Result<(), ConfigError> {
    let millis = |d: Duration| d.as_millis().to_string();
    let at_or_default = |field| match set_at.get(field) {
        Some(set) => crate::membership::place(set),
        None => "the default".to_owned(),
    };
    if flow.transaction_interval > flow.transaction_timeout {
        let interval = millis(flow.transaction_interval);
        let timeout = millis(flow.transaction_timeout);
        let unset = Sourced {
            value: (),
            key: "transaction_timeout".to_owned(),
            place: Place::File,
        };
        let (set, value, reason) = match set_at.get("transaction_interval") {
            Some(set) => (
                set,
                interval,
                format!(
                    "longer than the transaction timeout, {timeout} ms ({}): the target aborts \
                     a transaction still open after its timeout",
                    at_or_default("transaction_timeout")
                ),
            ),
            // The default interval is longer than the shortest timeouts only: one was set.
            None => (
                set_at.get("transaction_timeout").unwrap_or(&unset),
                timeout,
                format!(
                    "shorter than the transaction interval, {interval} ms (the default): the \
                     target would abort transactions before they are committed"
                ),
            ),
        };
        return Err(ConfigError::Conflict {
            at: Location::at(file, set.place.clone()),
            key: set.key.clone(),
            value,
            reason,
        });
    }
    if !flow.exactly_once {
        return Ok(());
    }
    let lower = |value: &str| value.trim().to_ascii_lowercase();
    for (property, value) in &flow.producer {
        let contradiction = match property.as_str() {
            // librdkafka's false values.
            "enable.idempotence" if matches!(lower(value).as_str(), "false" | "f" | "0") => {
                "the transactional producer is idempotent: remove it, or set it to true"
            }
            "acks" | "request.required.acks" if !matches!(lower(value).as_str(), "all" | "-1") => {
                "the transactional producer waits for all in-sync replicas: remove it, or set it \
                 to all"
            }
            "transactional.id" => {
                "Strait gives the flow's producers their transactional ids: set their prefix \
                 instead (`transactional_id_prefix`; mm2: `strait.transactional.id.prefix`)"
            }
            "transaction.timeout.ms" => {
                "set the flow's transaction timeout instead (`transaction_timeout_ms`; mm2: \
                 `strait.transaction.timeout.ms`), which Strait gives its producers"
            }
            _ => continue,
        };
        let (key, at) = match flow.client_origins.producer.get(property) {
            Some(origin) => (origin.key.clone(), origin.at.clone()),
            None => (property.clone(), Location::new(file, None)),
        };
        let on = match set_at.get("exactly_once") {
            Some(set) => format!(" ({} turns it on)", crate::membership::place(set)),
            None => String::new(),
        };
        return Err(ConfigError::Conflict {
            at,
            key,
            value: crate::client_props::shown_value(property, value),
            reason: format!(
                "contradicts the exactly-once mode of flow {}{on}: {contradiction}",
                flow.id
            ),
        });
    }
    Ok(())
}

/// Every ordered pair of `aliases` (clusters with bootstrap servers) that no enabled flow of
/// `flows` covers, sorted: the pairs that get [`PairHeartbeats`].
pub(crate) fn pairs_without_flow<'a>(
    aliases: impl IntoIterator<Item = &'a ClusterAlias>,
    flows: &[FlowSettings],
) -> Vec<FlowId> {
    let aliases: Vec<&ClusterAlias> = aliases.into_iter().collect();
    let mut pairs = Vec::new();
    for source in &aliases {
        for target in &aliases {
            let Ok(id) = FlowId::new((*source).clone(), (*target).clone()) else {
                continue; // the same cluster twice
            };
            if !flows.iter().any(|f| f.id == id) {
                pairs.push(id);
            }
        }
    }
    pairs.sort();
    pairs
}

/// The heartbeats of a pair without an enabled flow: `values` (the pair's keys over the
/// file-level ones), defaults for the rest.
pub(crate) fn pair_heartbeats(
    id: FlowId,
    values: &Mm2Values,
    target_admin: ClientProps,
) -> PairHeartbeats {
    let d = Mm2Settings::default();
    PairHeartbeats {
        id,
        enabled: values
            .emit_heartbeats_enabled
            .unwrap_or(d.emit_heartbeats_enabled),
        interval: values
            .emit_heartbeats_interval
            .unwrap_or(d.emit_heartbeats_interval),
        topic_replication_factor: values.heartbeats_topic_replication_factor.flatten(),
        target_admin,
    }
}

/// One entry per (key, line), sorted by line (keys without one last), then key.
pub(crate) fn tidy_ignored(mut ignored: Vec<IgnoredKey>) -> Vec<IgnoredKey> {
    let mut seen = std::collections::HashSet::new();
    ignored.retain(|i| seen.insert((i.key.clone(), i.line)));
    ignored.sort_by(|a, b| {
        (a.line.unwrap_or(usize::MAX), &a.key).cmp(&(b.line.unwrap_or(usize::MAX), &b.key))
    });
    ignored
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sourced(patterns: &[&str]) -> Sourced<Vec<String>> {
        Sourced {
            value: patterns.iter().map(|s| (*s).to_owned()).collect(),
            key: "A->B.topics".to_owned(),
            place: Place::Line(7),
        }
    }

    fn id() -> FlowId {
        "A->B".parse().unwrap()
    }

    #[test]
    fn a_relative_path_is_resolved_from_the_files_directory() {
        let file = Path::new("/etc/strait/strait.toml");
        let at_line = Place::Line(3);
        assert_eq!(
            resolve_path(file, &at_line, Path::new("data")),
            Path::new("/etc/strait/data")
        );
        assert_eq!(
            resolve_path(file, &at_line, Path::new("./data/./node1/")),
            Path::new("/etc/strait/data/node1")
        );
        assert_eq!(
            resolve_path(file, &at_line, Path::new("../lib/strait")),
            Path::new("/etc/strait/../lib/strait"),
            "`..` is kept: the directory may be a symbolic link"
        );
        assert_eq!(
            resolve_path(file, &Place::File, Path::new("/var/lib/strait")),
            Path::new("/var/lib/strait")
        );
    }

    #[test]
    fn a_relative_file_and_an_environment_value_are_resolved_from_the_working_directory() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            resolve_path(
                Path::new("conf/node1.toml"),
                &Place::Line(1),
                Path::new("data")
            ),
            cwd.join("conf/data")
        );
        assert_eq!(
            resolve_path(Path::new("node1.toml"), &Place::Line(1), Path::new("data")),
            cwd.join("data")
        );
        let env = Place::Env("STRAIT__NODE__DATA_DIR".to_owned());
        assert_eq!(
            resolve_path(
                Path::new("/etc/strait/strait.toml"),
                &env,
                Path::new("data")
            ),
            cwd.join("data")
        );
    }

    #[test]
    fn the_data_dir_is_absolute_and_defaults_to_one_next_to_the_file() {
        let file = Path::new("/etc/strait/strait.toml");
        let dir = |value: &str, key: &str, line| Sourced {
            value: PathBuf::from(value),
            key: key.to_owned(),
            place: Place::Line(line),
        };
        assert_eq!(
            data_dir(file, None, None).unwrap(),
            Path::new("/etc/strait/strait-data")
        );
        assert_eq!(
            data_dir(file, None, Some(dir("data", "cluster.data_dir", 4))).unwrap(),
            Path::new("/etc/strait/data")
        );
        // Two spellings of one directory are the same setting.
        let same = data_dir(
            file,
            Some(dir("./data", "node.data_dir", 2)),
            Some(dir("/etc/strait/data/", "cluster.data_dir", 4)),
        );
        assert_eq!(same.unwrap(), Path::new("/etc/strait/data"));
        let differ = data_dir(
            file,
            Some(dir("data", "node.data_dir", 2)),
            Some(dir("/var/lib/strait", "cluster.data_dir", 4)),
        )
        .unwrap_err()
        .to_string();
        assert!(
            differ.starts_with(
                "/etc/strait/strait.toml:4: `cluster.data_dir` = \"/var/lib/strait\": \
                 `node.data_dir` (line 2) = \"data\" sets the data dir too"
            ),
            "{differ}"
        );
    }

    #[test]
    fn policy_names() {
        for name in [
            "org.apache.kafka.connect.mirror.DefaultReplicationPolicy",
            "DefaultReplicationPolicy",
            "default",
        ] {
            assert_eq!(parse_policy(name), Some(PolicyKind::Default), "{name}");
        }
        for name in [
            "org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
            "IdentityReplicationPolicy",
            "Identity",
        ] {
            assert_eq!(parse_policy(name), Some(PolicyKind::Identity), "{name}");
        }
        assert_eq!(parse_policy("com.example.MyPolicy"), None);
    }

    #[test]
    fn number_ranges() {
        assert_eq!(replication_factor(-1), Ok(None));
        assert_eq!(replication_factor(3), Ok(Some(3)));
        assert!(replication_factor(0).is_err());
        assert!(replication_factor(40_000).is_err());
        assert!(interval_secs(0).is_err());
        assert!(interval_secs(-1).is_err());
        assert_eq!(progress_secs(0), Ok(Duration::ZERO));
        assert!(count(0).is_err());
        assert_eq!(count(5), Ok(5));
        assert!(interval_millis(-5).is_err());
    }

    #[test]
    fn lists_and_bootstrap() {
        assert_eq!(split_list(" a , b,,c "), vec!["a", "b", "c"]);
        assert!(split_list("  ").is_empty());
        assert_eq!(
            bootstrap_servers("h1:9092, h2:9092").as_deref(),
            Some("h1:9092,h2:9092")
        );
        assert_eq!(bootstrap_servers(" "), None);
    }

    #[test]
    fn bad_pattern_names_key_line_and_pattern() {
        let err =
            check_patterns(Path::new("mm2.properties"), &sourced(&["ok.*", "bad(["])).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("mm2.properties:7: "), "{msg}");
        assert!(msg.contains("A->B.topics"), "{msg}");
        assert!(msg.contains("\"bad([\""), "{msg}");
        assert!(msg.ends_with(": unclosed character class"), "{msg}");
    }

    #[test]
    fn whole_name_regex_semantics() {
        let re = whole_name_regex(&["min\\.insync\\.replicas".into(), "x.*".into()]).unwrap();
        assert!(re.is_match("min.insync.replicas"));
        assert!(re.is_match("xyz"));
        assert!(!re.is_match("a.min.insync.replicas"));
        let none = whole_name_regex(&[]).unwrap();
        assert!(!none.is_match(""));
        assert!(!none.is_match("retention.ms"));
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let flow = flow_settings(
            Path::new("f"),
            id(),
            FlowValues::default(),
            FlowClients::default(),
        )
        .unwrap();
        assert_eq!(flow.topics.include_patterns(), [".*"]);
        assert_eq!(flow.topics.exclude_patterns().len(), 3);
        assert_eq!(flow.replication_policy, ReplicationPolicy::default());
        assert_eq!(flow.replication_factor, None);
        assert!(flow.sync_topic_configs);
        assert!(flow
            .config_properties_exclude
            .is_match("min.insync.replicas"));
        assert!(!flow.config_properties_exclude.is_match("retention.ms"));
        assert!(flow.refresh_topics_enabled);
        assert_eq!(flow.refresh_topics_interval, Duration::from_secs(10));
        assert_eq!(flow.max_in_flight_records, 100_000);
        assert_eq!(flow.max_in_flight_bytes, 64 << 20);
        assert_eq!(flow.position_flush_interval, Duration::from_millis(100));
    }

    #[test]
    fn upper_values_win() {
        let lower = FlowValues {
            replication_factor: Some(Some(3)),
            sync_topic_configs: Some(false),
            ..FlowValues::default()
        };
        let upper = FlowValues {
            replication_factor: Some(None),
            ..FlowValues::default()
        };
        let merged = upper.or(&lower);
        assert_eq!(merged.replication_factor, Some(None));
        assert_eq!(merged.sync_topic_configs, Some(false));
    }

    #[test]
    fn client_layers_keep_the_cluster_bootstrap() {
        let a: ClientProps = [("client.id", "a"), ("bootstrap.servers", "wrong:1")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into();
        let b: ClientProps = [("client.id", "b")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into();
        let props = client_props("h:9092", &[&a, &b]);
        assert_eq!(props["client.id"], "b");
        assert_eq!(props["bootstrap.servers"], "h:9092");
    }

    #[test]
    fn ignored_keys_are_deduplicated_and_sorted() {
        let k = |key: &str, line| IgnoredKey {
            key: key.to_owned(),
            line,
            reason: String::new(),
        };
        let tidy = tidy_ignored(vec![
            k("b", Some(3)),
            k("x", None),
            k("a", Some(1)),
            k("b", Some(3)),
        ]);
        let keys: Vec<&str> = tidy.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, vec!["a", "b", "x"]);
    }
}
