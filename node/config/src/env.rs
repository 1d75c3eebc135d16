//! Environment overrides of the native TOML format: `STRAIT__<TABLE>__<KEY>=value`. An
//! `mm2.properties` file takes the same variables, with the same meaning (module `mm2::env`).
//!
//! The `config` crate's [`Environment`] source strips the prefix, lowercases the name and turns `__`
//! into a path (`STRAIT__CLUSTERS__A__BOOTSTRAP_SERVERS` → `clusters.a.bootstrap_servers`). Keys
//! in the file keep their case, so on its own that would create a second cluster `a` next to the
//! file's `A`. Here each segment of the path is matched against the file's keys at the same place,
//! case-insensitively (an exact match first), and takes the file's spelling. A segment matching no
//! key in the file is kept lowercase (so a flow or cluster can be added from the environment only
//! with a lowercase name).
//!
//! Under a client property table (`clusters.X.client`/`consumer`/`producer`/`admin`,
//! `flows.X.consumer`/`producer`/`source_admin`/`target_admin`) the rest of the name is one
//! librdkafka property, with `_` standing for `.` (librdkafka names have no `_`):
//! `STRAIT__CLUSTERS__A__CLIENT__SASL_PASSWORD` sets `sasl.password`.
//!
//! Values are strings; the loader accepts strings for numbers, booleans and pattern lists
//! (comma-separated).

use std::collections::HashMap;
use std::path::Path;

use config::{Environment, Map, Source, Value, ValueKind};

use crate::error::{ConfigError, Location};

/// The prefix of every override (`STRAIT__...`).
pub(crate) const PREFIX: &str = "STRAIT";
/// Between the prefix and each level.
pub(crate) const SEPARATOR: &str = "__";

const ORIGIN: &str = "the environment";

/// Overrides, as a tree to lay over the file's (a `config` source), and the variable that set each
/// key path.
#[derive(Debug, Clone, Default)]
pub(crate) struct EnvOverrides {
    tree: Map<String, Value>,
    variables: Vec<(Vec<String>, String)>,
}

impl EnvOverrides {
    /// Each overridden key path (spelled like the file's) and the variable that set it.
    pub fn variables(&self) -> &[(Vec<String>, String)] {
        &self.variables
    }
}

impl Source for EnvOverrides {
    fn clone_into_box(&self) -> Box<dyn Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<Map<String, Value>, config::ConfigError> {
        Ok(self.tree.clone())
    }
}

/// Reads `STRAIT__*` variables from `env`, or from the process environment when `None`, and spells
/// their keys like `file_tree` does.
pub(crate) fn overrides(
    file: &Path,
    file_tree: &Map<String, Value>,
    env: Option<HashMap<String, String>>,
) -> Result<EnvOverrides, ConfigError> {
    let mut tree = Map::new();
    let mut variables = Vec::new();
    for (key, value) in variables_of(file, env)? {
        let segments: Vec<&str> = key.split('.').collect();
        let path = resolve(file_tree, &segments).map_err(|reason| ConfigError::InvalidKey {
            at: Location::new(file, None),
            key: variable_name(&key),
            reason,
        })?;
        insert(&mut tree, &path, value);
        variables.push((path, variable_name(&key)));
    }
    Ok(EnvOverrides { tree, variables })
}

/// Every `STRAIT__*` variable of `env` (the process environment when `None`) as its key path,
/// lowercased and dotted (`STRAIT__CLUSTER__NODE_ID` → `cluster.node_id`), and its value; sorted by
/// key, so two variables naming the same key resolve the same way every time. `file` is the
/// configuration they override, for messages. Both formats read their overrides from here.
pub(crate) fn variables_of(
    file: &Path,
    env: Option<HashMap<String, String>>,
) -> Result<Vec<(String, Value)>, ConfigError> {
    let flat = Environment::with_prefix(PREFIX)
        .prefix_separator(SEPARATOR)
        .separator(SEPARATOR)
        .source(env)
        .collect()
        .map_err(|cause| ConfigError::Toml {
            file: file.to_path_buf(),
            cause,
        })?;
    let mut flat: Vec<(String, Value)> = flat.into_iter().collect();
    flat.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(flat)
}

/// The variable a lowercased, dotted key came from (for messages).
pub(crate) fn variable_name(key: &str) -> String {
    format!(
        "{PREFIX}{SEPARATOR}{}",
        key.replace('.', SEPARATOR).to_ascii_uppercase()
    )
}

/// Whether `path` leads to a table of client properties, whose keys are property names.
fn is_client_table(path: &[String]) -> bool {
    match path {
        [root, _, table] if root == "clusters" => {
            ["client", "consumer", "producer", "admin"].contains(&table.as_str())
        }
        [root, _, table] if root == "flows" => {
            ["consumer", "producer", "source_admin", "target_admin"].contains(&table.as_str())
        }
        _ => false,
    }
}

fn resolve(file_tree: &Map<String, Value>, segments: &[&str]) -> Result<Vec<String>, String> {
    let mut path: Vec<String> = Vec::new();
    let mut table = Some(file_tree);
    for (depth, segment) in segments.iter().enumerate() {
        if is_client_table(&path) {
            let name = segments[depth..].join(".").replace('_', ".");
            let name = match table {
                Some(t) => match_key(t, &name)?,
                None => name,
            };
            path.push(name);
            return Ok(path);
        }
        let key = match table {
            Some(t) => match_key(t, segment)?,
            None => (*segment).to_owned(),
        };
        table = table.and_then(|t| t.get(&key)).and_then(|v| match &v.kind {
            ValueKind::Table(t) => Some(t),
            _ => None,
        });
        path.push(key);
    }
    Ok(path)
}

/// The key of `table` that `wanted` (lowercase) stands for: itself if present, else the only key
/// equal to it ignoring case, else `wanted` (a new key).
fn match_key(table: &Map<String, Value>, wanted: &str) -> Result<String, String> {
    if table.contains_key(wanted) {
        return Ok(wanted.to_owned());
    }
    let mut matches: Vec<&String> = table
        .keys()
        .filter(|k| k.eq_ignore_ascii_case(wanted))
        .collect();
    matches.sort();
    match matches.as_slice() {
        [] => Ok(wanted.to_owned()),
        [only] => Ok((*only).clone()),
        several => Err(format!(
            "matches several keys of the file that differ only in case ({}): rename them",
            several
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn insert(tree: &mut Map<String, Value>, path: &[String], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        tree.insert(first.clone(), value);
        return;
    }
    let origin = ORIGIN.to_owned();
    let entry = tree
        .entry(first.clone())
        .or_insert_with(|| Value::new(Some(&origin), Map::<String, Value>::new()));
    if !matches!(entry.kind, ValueKind::Table(_)) {
        *entry = Value::new(Some(&origin), Map::<String, Value>::new());
    }
    if let ValueKind::Table(table) = &mut entry.kind {
        insert(table, rest, value);
    }
}

/// An environment of exactly `pairs`, as the loaders take it in place of the process's.
#[cfg(test)]
pub(crate) fn test_env(pairs: &[(&str, &str)]) -> Option<HashMap<String, String>> {
    Some(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::test_env as env;
    use super::*;

    fn file_tree() -> Map<String, Value> {
        let toml = r#"
            [clusters.A]
            bootstrap_servers = "a:9092"
            [clusters.A.client]
            "security.protocol" = "plaintext"
            [clusters.Ab]
            [clusters.AB]
            [flows.a_to_b]
            source = "A"
        "#;
        config::File::from_str(toml, config::FileFormat::Toml)
            .collect()
            .unwrap()
    }

    fn paths(overrides: &EnvOverrides) -> Vec<String> {
        fn walk(prefix: &str, table: &Map<String, Value>, out: &mut Vec<String>) {
            for (k, v) in table {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}/{k}")
                };
                match &v.kind {
                    ValueKind::Table(t) => walk(&path, t, out),
                    _ => out.push(format!("{path}={}", v.clone().into_string().unwrap())),
                }
            }
        }
        let mut out = Vec::new();
        walk("", &overrides.tree, &mut out);
        out.sort();
        out
    }

    #[test]
    fn keys_take_the_file_spelling() {
        let o = overrides(
            Path::new("strait.toml"),
            &file_tree(),
            env(&[
                ("STRAIT__CLUSTERS__A__BOOTSTRAP_SERVERS", "x:1"),
                ("STRAIT__CLUSTERS__A__CLIENT__SECURITY_PROTOCOL", "ssl"),
                ("STRAIT__CLUSTERS__A__CLIENT__SASL_PASSWORD", "pw"),
                ("STRAIT__FLOWS__A_TO_B__REPLICATION_FACTOR", "3"),
                ("STRAIT__NODE__DATA_DIR", "/x"),
                ("STRAIT__CLUSTERS__NEW__BOOTSTRAP_SERVERS", "n:1"),
                ("OTHER__NODE__DATA_DIR", "/ignored"),
            ]),
        )
        .unwrap();
        assert_eq!(
            paths(&o),
            vec![
                "clusters/A/bootstrap_servers=x:1",
                "clusters/A/client/sasl.password=pw",
                "clusters/A/client/security.protocol=ssl",
                "clusters/new/bootstrap_servers=n:1",
                "flows/a_to_b/replication_factor=3",
                "node/data_dir=/x",
            ]
        );
        let variables: Vec<String> = o
            .variables()
            .iter()
            .map(|(path, variable)| format!("{}={variable}", path.join("/")))
            .collect();
        assert_eq!(
            variables,
            vec![
                "clusters/A/bootstrap_servers=STRAIT__CLUSTERS__A__BOOTSTRAP_SERVERS",
                "clusters/A/client/sasl.password=STRAIT__CLUSTERS__A__CLIENT__SASL_PASSWORD",
                "clusters/A/client/security.protocol=STRAIT__CLUSTERS__A__CLIENT__SECURITY_PROTOCOL",
                "clusters/new/bootstrap_servers=STRAIT__CLUSTERS__NEW__BOOTSTRAP_SERVERS",
                "flows/a_to_b/replication_factor=STRAIT__FLOWS__A_TO_B__REPLICATION_FACTOR",
                "node/data_dir=STRAIT__NODE__DATA_DIR",
            ]
        );
    }

    #[test]
    fn ambiguous_case_is_an_error_naming_the_variable() {
        let err = overrides(
            Path::new("strait.toml"),
            &file_tree(),
            env(&[("STRAIT__CLUSTERS__AB__BOOTSTRAP_SERVERS", "x:1")]),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("STRAIT__CLUSTERS__AB__BOOTSTRAP_SERVERS"),
            "{msg}"
        );
        assert!(msg.contains("AB, Ab"), "{msg}");
    }
}
