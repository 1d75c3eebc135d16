//! `STRAIT__*` environment overrides of an `mm2.properties` file: the variables of the TOML format
//! (see [`crate::env`]), with the same names and the same meaning, each applied as the
//! `mm2.properties` key of the same setting. A variable wins over the file's value of that key, and
//! messages about its value name the variable.
//!
//! | variable | sets |
//! |---|---|
//! | `STRAIT__NODE__<KEY>` (`DATA_DIR`, `LOG_FORMAT`, `PROGRESS_INTERVAL_SECS`, ... every `[node]` key) | its `strait.*` key (`strait.data.dir`, `strait.log.format`, `strait.progress.interval.seconds`, ...: the node settings table of module `schema`) |
//! | `STRAIT__CLUSTER__<KEY>` (`NODE_ID`, `CONTROL_TOKEN`, `PEERS`, ... every `[cluster]` key) | `strait.cluster.<key>` (`strait.cluster.node.id`, `strait.cluster.control.token`, ...; `CLUSTER_ID` is `strait.cluster.id`) |
//! | `STRAIT__CLUSTER__TLS__<KEY>` | `strait.cluster.tls.<key>` |
//! | `STRAIT__CLUSTERS__<ALIAS>__BOOTSTRAP_SERVERS` | `<alias>.bootstrap.servers` |
//! | `STRAIT__CLUSTERS__<ALIAS>__CLIENT__<PROPERTY>` | a librdkafka property of every client of the cluster, `_` standing for `.` (as in TOML: not translated from Java) |
//! | `STRAIT__CLUSTERS__<ALIAS>__CONSUMER__<PROPERTY>`, `__PRODUCER__`, `__ADMIN__` | the same, for one client type |
//!
//! `<ALIAS>` is matched against the file's `clusters` case-insensitively (the exact spelling
//! first). A librdkafka property set by a variable wins over what the file's Java properties of
//! that cluster and client type translate to, and a flow's own properties (`A->B.consumer.*`) still
//! win over it, as the flow's table does in TOML (except for a Java property the flow sets that
//! translates to the same librdkafka name: the variable wins there).
//!
//! What cannot be mapped is refused, naming the variable, never ignored: `STRAIT__FLOWS__*` (a
//! `.properties` file's flows are `SOURCE->TARGET.*` keys, which no variable name can spell), a
//! cluster the file's `clusters` does not list, and any key the TOML format does not have either.

use std::collections::HashMap;
use std::path::Path;

use strait_coordinator::ClusterAlias;

use super::keys::{
    STRAIT_CLUSTER_ADVERTISE, STRAIT_CLUSTER_CONTROL_TOKEN, STRAIT_CLUSTER_DATA_DIR,
    STRAIT_CLUSTER_HEALTH_LISTEN, STRAIT_CLUSTER_ID, STRAIT_CLUSTER_JOIN, STRAIT_CLUSTER_LISTEN,
    STRAIT_CLUSTER_LIVENESS_TIMEOUT, STRAIT_CLUSTER_NODE_ID, STRAIT_CLUSTER_PEERS,
    STRAIT_CLUSTER_POSITION_INTERVAL, STRAIT_CLUSTER_TLS_CA, STRAIT_CLUSTER_TLS_CERT,
    STRAIT_CLUSTER_TLS_KEY, STRAIT_CLUSTER_TLS_REQUIRE_CLIENT_CERT, STRAIT_CLUSTER_TLS_SERVER_NAME,
};
use super::Entry;
use crate::client_props::JavaProp;
use crate::env::{variable_name, variables_of};
use crate::error::{ConfigError, Location, Place};

/// `[node]` keys of the TOML format and the `mm2.properties` key of the same setting, from the
/// node settings table (module `schema`): a node setting has its variable by construction.
const NODE: &[(&str, &str)] = crate::schema::NODE_VARIABLES;

/// `[cluster]` keys.
const CLUSTER: &[(&str, &str)] = &[
    ("node_id", STRAIT_CLUSTER_NODE_ID),
    ("data_dir", STRAIT_CLUSTER_DATA_DIR),
    ("listen", STRAIT_CLUSTER_LISTEN),
    ("advertise", STRAIT_CLUSTER_ADVERTISE),
    ("peers", STRAIT_CLUSTER_PEERS),
    ("join", STRAIT_CLUSTER_JOIN),
    ("cluster_id", STRAIT_CLUSTER_ID),
    ("liveness_timeout_ms", STRAIT_CLUSTER_LIVENESS_TIMEOUT),
    ("position_interval_ms", STRAIT_CLUSTER_POSITION_INTERVAL),
    ("control_token", STRAIT_CLUSTER_CONTROL_TOKEN),
    ("health_listen", STRAIT_CLUSTER_HEALTH_LISTEN),
];

/// `[cluster.tls]` keys.
const CLUSTER_TLS: &[(&str, &str)] = &[
    ("cert", STRAIT_CLUSTER_TLS_CERT),
    ("key", STRAIT_CLUSTER_TLS_KEY),
    ("ca", STRAIT_CLUSTER_TLS_CA),
    (
        "require_client_cert",
        STRAIT_CLUSTER_TLS_REQUIRE_CLIENT_CERT,
    ),
    ("server_name", STRAIT_CLUSTER_TLS_SERVER_NAME),
];

/// The client property tables of a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ClientTable {
    /// Every client of the cluster (`A.<p>`).
    Client,
    Consumer,
    Producer,
    Admin,
}

/// A librdkafka property of one cluster's clients, set by a variable.
#[derive(Debug, Clone)]
pub(super) struct ClientOverride {
    pub alias: ClusterAlias,
    pub table: ClientTable,
    /// The librdkafka name.
    pub name: String,
    pub prop: JavaProp,
}

/// What the variables set.
#[derive(Debug, Default)]
pub(super) struct Overrides {
    /// `mm2.properties` keys, each replacing the file's value of the key.
    pub keys: Vec<Entry>,
    /// Client properties, laid over the file's of the same cluster and table.
    pub clients: Vec<ClientOverride>,
}

/// Where one variable goes.
enum Target {
    Key(String),
    Client {
        alias: ClusterAlias,
        table: ClientTable,
        name: String,
    },
}

/// Reads the `STRAIT__*` variables of `env` (the process environment when `None`) for a file
/// whose `clusters` are `aliases`.
pub(super) fn overrides(
    file: &Path,
    aliases: &[ClusterAlias],
    env: Option<HashMap<String, String>>,
) -> Result<Overrides, ConfigError> {
    let mut overrides = Overrides::default();
    for (key, value) in variables_of(file, env)? {
        let variable = variable_name(&key);
        let at = Location::at(file, Place::Env(variable.clone()));
        let segments: Vec<&str> = key.split('.').collect();
        let target = target(&segments, aliases).map_err(|reason| ConfigError::InvalidKey {
            at: at.clone(),
            key: key.clone(),
            reason,
        })?;
        let value = value.into_string().map_err(|cause| ConfigError::Toml {
            file: file.to_path_buf(),
            cause,
        })?;
        let value = value.trim().to_owned();
        let place = Place::Env(variable);
        match target {
            Target::Key(key) => overrides.keys.push(Entry { key, value, place }),
            Target::Client { alias, table, name } => {
                let key = match table {
                    ClientTable::Client => format!("{alias}.{name}"),
                    ClientTable::Consumer => format!("{alias}.consumer.{name}"),
                    ClientTable::Producer => format!("{alias}.producer.{name}"),
                    ClientTable::Admin => format!("{alias}.admin.{name}"),
                };
                let prop = JavaProp {
                    value,
                    key,
                    place,
                    librdkafka: true,
                };
                overrides.clients.push(ClientOverride {
                    alias,
                    table,
                    name,
                    prop,
                });
            }
        }
    }
    Ok(overrides)
}

/// The setting a variable's key path (lowercase segments) stands for, or why none.
fn target(segments: &[&str], aliases: &[ClusterAlias]) -> Result<Target, String> {
    let known = |table: &[(&str, &str)]| {
        table
            .iter()
            .map(|(toml, _)| toml.to_ascii_uppercase())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let lookup = |table: &[(&str, &str)], key: &str, prefix: &str| {
        table
            .iter()
            .find(|(toml, _)| *toml == key)
            .map(|(_, mm2)| Target::Key((*mm2).to_owned()))
            .ok_or_else(|| {
                // A misspelt variable: the one it was meant to be, else every one of its table.
                match crate::suggest::closest(key, table.iter().map(|(toml, _)| *toml)) {
                    Some(toml) => format!(
                        "not a Strait setting: did you mean `{prefix}{}`?",
                        toml.to_ascii_uppercase()
                    ),
                    None => format!(
                        "not a Strait setting (the variables under {prefix} are: {})",
                        known(table)
                    ),
                }
            })
    };
    match segments {
        ["node", key] => lookup(NODE, key, "STRAIT__NODE__"),
        ["cluster", "tls", key] => lookup(CLUSTER_TLS, key, "STRAIT__CLUSTER__TLS__"),
        ["cluster", key] => lookup(CLUSTER, key, "STRAIT__CLUSTER__"),
        ["clusters", alias, rest @ ..] => cluster_target(alias, rest, aliases),
        ["flows", ..] => Err(
            "a .properties file's flows are its SOURCE->TARGET.* keys, which \
             no variable name can spell: set it in the file (or use the TOML format, whose flows \
             can be set from the environment)"
                .to_owned(),
        ),
        _ => Err(
            "not a Strait setting: with a .properties file the variables are \
             STRAIT__NODE__*, STRAIT__CLUSTER__* and STRAIT__CLUSTERS__<ALIAS>__*"
                .to_owned(),
        ),
    }
}

/// `clusters.<alias>.<rest>`.
fn cluster_target(alias: &str, rest: &[&str], aliases: &[ClusterAlias]) -> Result<Target, String> {
    let alias = match_alias(alias, aliases)?;
    let table = match rest {
        ["bootstrap_servers"] => return Ok(Target::Key(format!("{alias}.bootstrap.servers"))),
        ["client", ..] => ClientTable::Client,
        ["consumer", ..] => ClientTable::Consumer,
        ["producer", ..] => ClientTable::Producer,
        ["admin", ..] => ClientTable::Admin,
        _ => {
            return Err(format!(
                "not a setting of cluster {alias} (the variables under \
                 STRAIT__CLUSTERS__{}__ are BOOTSTRAP_SERVERS and CLIENT__, CONSUMER__, \
                 PRODUCER__ or ADMIN__ followed by a librdkafka property)",
                alias.as_str().to_ascii_uppercase()
            ))
        }
    };
    let name = rest[1..].join(".").replace('_', ".");
    if name.is_empty() {
        return Err(format!(
            "a librdkafka property name must follow {}, e.g. ...__{}__SASL_PASSWORD",
            rest[0].to_ascii_uppercase(),
            rest[0].to_ascii_uppercase()
        ));
    }
    Ok(Target::Client { alias, table, name })
}

/// The alias of `clusters` that `wanted` (lowercase) stands for: itself, else the only one equal
/// to it ignoring case.
fn match_alias(wanted: &str, aliases: &[ClusterAlias]) -> Result<ClusterAlias, String> {
    if let Some(exact) = aliases.iter().find(|a| a.as_str() == wanted) {
        return Ok(exact.clone());
    }
    let matches: Vec<&ClusterAlias> = aliases
        .iter()
        .filter(|a| a.as_str().eq_ignore_ascii_case(wanted))
        .collect();
    let listed = || {
        aliases
            .iter()
            .map(ClusterAlias::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match matches.as_slice() {
        [only] => Ok((*only).clone()),
        [] => Err(format!(
            "cluster {wanted} is not in `clusters = {}`: a .properties file's clusters are the \
             ones its `clusters` key lists",
            listed()
        )),
        several => Err(format!(
            "matches several clusters of `clusters = {}` that differ only in case ({}): rename \
             them",
            listed(),
            several
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::test_env as env;

    fn aliases(names: &[&str]) -> Vec<ClusterAlias> {
        names
            .iter()
            .map(|n| ClusterAlias::new(*n).unwrap())
            .collect()
    }

    #[test]
    fn every_toml_key_of_node_and_cluster_has_its_properties_key() {
        let file = Path::new("mm2.properties");
        let variables: Vec<(String, &str)> = NODE
            .iter()
            .map(|(toml, mm2)| (format!("STRAIT__NODE__{}", toml.to_uppercase()), *mm2))
            .chain(
                CLUSTER
                    .iter()
                    .map(|(toml, mm2)| (format!("STRAIT__CLUSTER__{}", toml.to_uppercase()), *mm2)),
            )
            .chain(CLUSTER_TLS.iter().map(|(toml, mm2)| {
                (
                    format!("STRAIT__CLUSTER__TLS__{}", toml.to_uppercase()),
                    *mm2,
                )
            }))
            .collect();
        let pairs: Vec<(&str, &str)> = variables.iter().map(|(v, _)| (v.as_str(), " x ")).collect();
        let o = overrides(file, &aliases(&["A"]), env(&pairs)).unwrap();
        let mut got: Vec<(String, String, Place)> = o
            .keys
            .into_iter()
            .map(|e| (e.key, e.value, e.place))
            .collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        let mut want: Vec<(String, String, Place)> = variables
            .iter()
            .map(|(v, mm2)| ((*mm2).to_owned(), "x".to_owned(), Place::Env(v.clone())))
            .collect();
        want.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got, want);
        assert!(o.clients.is_empty());
    }

    #[test]
    fn cluster_keys_take_the_files_alias() {
        let o = overrides(
            Path::new("mm2.properties"),
            &aliases(&["A", "west"]),
            env(&[
                ("STRAIT__CLUSTERS__A__BOOTSTRAP_SERVERS", "a:1"),
                ("STRAIT__CLUSTERS__WEST__CLIENT__SASL_PASSWORD", "pw"),
                ("STRAIT__CLUSTERS__a__CONSUMER__FETCH_MIN_BYTES", "7"),
                ("STRAIT_CONTROL_TOKEN", "not an override"),
            ]),
        )
        .unwrap();
        let keys: Vec<(&str, &str)> = o
            .keys
            .iter()
            .map(|e| (e.key.as_str(), e.value.as_str()))
            .collect();
        assert_eq!(keys, [("A.bootstrap.servers", "a:1")]);
        let clients: Vec<(String, ClientTable, String, String, Place, bool)> = o
            .clients
            .into_iter()
            .map(|c| {
                (
                    c.alias.to_string(),
                    c.table,
                    c.name,
                    c.prop.key,
                    c.prop.place,
                    c.prop.librdkafka,
                )
            })
            .collect();
        assert_eq!(
            clients,
            [
                (
                    "A".to_owned(),
                    ClientTable::Consumer,
                    "fetch.min.bytes".to_owned(),
                    "A.consumer.fetch.min.bytes".to_owned(),
                    Place::Env("STRAIT__CLUSTERS__A__CONSUMER__FETCH_MIN_BYTES".to_owned()),
                    true
                ),
                (
                    "west".to_owned(),
                    ClientTable::Client,
                    "sasl.password".to_owned(),
                    "west.sasl.password".to_owned(),
                    Place::Env("STRAIT__CLUSTERS__WEST__CLIENT__SASL_PASSWORD".to_owned()),
                    true
                ),
            ]
        );
    }

    #[test]
    fn what_cannot_be_mapped_is_refused_naming_the_variable() {
        let refused = |variable: &str, aliases_: &[&str]| {
            let file = Path::new("/etc/mm2.properties");
            overrides(file, &aliases(aliases_), env(&[(variable, "1")]))
                .unwrap_err()
                .to_string()
        };
        let cases = [
            ("STRAIT__FLOWS__A_TO_B__TOPICS", "SOURCE->TARGET"),
            (
                "STRAIT__CLUSTERS__C__BOOTSTRAP_SERVERS",
                "cluster c is not in `clusters = A, B`",
            ),
            ("STRAIT__CLUSTERS__A__TOPICS", "not a setting of cluster A"),
            (
                "STRAIT__CLUSTERS__A__CLIENT",
                "a librdkafka property name must follow CLIENT",
            ),
            ("STRAIT__CLUSTER__NODE__ID", "not a Strait setting"),
            ("STRAIT__CLUSTER__TOKEN", "CONTROL_TOKEN"),
            (
                "STRAIT__NODE__DATADIR",
                "not a Strait setting: did you mean `STRAIT__NODE__DATA_DIR`?",
            ),
            ("STRAIT__NODE__NOPE", "are: DATA_DIR, LOG_FORMAT,"),
            ("STRAIT__CLUSTER__TLS__CERTIFICATE", "REQUIRE_CLIENT_CERT"),
            ("STRAIT__NOPE", "STRAIT__CLUSTERS__<ALIAS>__*"),
        ];
        for (variable, reason) in cases {
            let msg = refused(variable, &["A", "B"]);
            let at = format!("environment variable {variable} (overriding /etc/mm2.properties): ");
            assert!(msg.starts_with(&at), "{variable}: {msg}");
            assert!(msg.contains(reason), "{variable}: {msg}");
        }
        let msg = refused("STRAIT__CLUSTERS__AB__BOOTSTRAP_SERVERS", &["Ab", "aB"]);
        assert!(msg.contains("differ only in case (Ab, aB)"), "{msg}");
    }
}
