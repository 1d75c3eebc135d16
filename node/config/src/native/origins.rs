//! Where each key of a TOML file was set: its line in the file, or the `STRAIT__*` variable that
//! overrides it. The file is parsed once more with spans (the `config` crate keeps none), so every
//! message about a TOML value can name its line.

use std::collections::HashMap;

use toml::de::{DeTable, DeValue};

use crate::error::Place;

/// A TOML syntax error: the 1-based line and the parser's message (one line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub line: usize,
    pub reason: String,
}

/// The place of every key path (`["flows", "a_to_b", "topics"]`) of one file and its overrides.
#[derive(Debug, Default)]
pub(crate) struct Origins {
    lines: HashMap<Vec<String>, usize>,
    variables: HashMap<Vec<String>, String>,
}

impl Origins {
    /// The lines of the keys of `text`; an error when it is not valid TOML.
    pub fn parse(text: &str) -> Result<Self, SyntaxError> {
        let table = DeTable::parse(text).map_err(|e| SyntaxError {
            line: line_at(text, e.span().map_or(0, |s| s.start)),
            reason: e.message().lines().next().unwrap_or("").trim().to_owned(),
        })?;
        let mut origins = Origins::default();
        origins.walk(text, &mut Vec::new(), table.get_ref());
        Ok(origins)
    }

    fn walk(&mut self, text: &str, path: &mut Vec<String>, table: &DeTable<'_>) {
        for (key, value) in table.iter() {
            path.push(key.get_ref().to_string());
            self.lines
                .entry(path.clone())
                .or_insert_with(|| line_at(text, key.span().start));
            if let DeValue::Table(inner) = value.get_ref() {
                self.walk(text, path, inner);
            }
            path.pop();
        }
    }

    /// Records that `variable` sets the key at `path` (it wins over the file's value).
    pub fn set_by_variable(&mut self, path: Vec<String>, variable: String) {
        self.variables.insert(path, variable);
    }

    /// Whether the file or a variable sets the key at `path`.
    pub fn has(&self, path: &[&str]) -> bool {
        let owned: Vec<String> = path.iter().map(|s| (*s).to_owned()).collect();
        self.variables.contains_key(&owned) || self.lines.contains_key(&owned)
    }

    /// Where the key at `path` was set: the variable overriding it, else its line; for a key that is
    /// set nowhere (a missing key), a variable setting a key below it, else the place of the nearest
    /// enclosing table; `Place::File` when nothing encloses it.
    pub fn place(&self, path: &[&str]) -> Place {
        let owned: Vec<String> = path.iter().map(|s| (*s).to_owned()).collect();
        if let Some(variable) = self.variables.get(&owned) {
            return Place::Env(variable.clone());
        }
        if let Some(line) = self.lines.get(&owned) {
            return Place::Line(*line);
        }
        let below = self
            .variables
            .iter()
            .filter(|(p, _)| p.starts_with(&owned))
            .map(|(_, variable)| variable)
            .min();
        if let Some(variable) = below {
            return Place::Env(variable.clone());
        }
        match path.split_last() {
            Some((_, parent)) if !parent.is_empty() => self.place(parent),
            _ => Place::File,
        }
    }

    /// The key path written `dotted` in the `config` crate's messages (`a.b.c`, where one segment
    /// may itself contain dots, like a client property name); split at every dot when no key of
    /// the file or the environment has that name.
    pub fn path_of(&self, dotted: &str) -> Vec<String> {
        self.lines
            .keys()
            .chain(self.variables.keys())
            .find(|path| path.join(".") == dotted)
            .cloned()
            .unwrap_or_else(|| dotted.split('.').map(str::to_owned).collect())
    }
}

/// The 1-based line of byte `offset` of `text`.
fn line_at(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# a comment
[node]
data_dir = "/x"

[clusters.A]
bootstrap_servers = "a:1"
[clusters.A.consumer]
"fetch.min.bytes" = 1

[flows.a_to_b]
source = "A"
topics = [
  "x",
]
"#;

    #[test]
    fn keys_have_their_lines() {
        let o = Origins::parse(TEXT).unwrap();
        assert_eq!(o.place(&["node"]), Place::Line(2));
        assert_eq!(o.place(&["node", "data_dir"]), Place::Line(3));
        assert_eq!(o.place(&["clusters", "A"]), Place::Line(5));
        assert_eq!(
            o.place(&["clusters", "A", "consumer", "fetch.min.bytes"]),
            Place::Line(8)
        );
        assert_eq!(o.place(&["flows", "a_to_b", "topics"]), Place::Line(12));
        // A missing key: the table it belongs in.
        assert_eq!(o.place(&["flows", "a_to_b", "target"]), Place::Line(10));
        assert_eq!(o.place(&["cluster", "node_id"]), Place::File);
    }

    #[test]
    fn variables_win_over_lines() {
        let mut o = Origins::parse(TEXT).unwrap();
        o.set_by_variable(
            vec!["node".into(), "data_dir".into()],
            "STRAIT__NODE__DATA_DIR".into(),
        );
        o.set_by_variable(
            vec!["cluster".into(), "node_id".into()],
            "STRAIT__CLUSTER__NODE_ID".into(),
        );
        let env = |v: &str| Place::Env(v.to_owned());
        assert_eq!(
            o.place(&["node", "data_dir"]),
            env("STRAIT__NODE__DATA_DIR")
        );
        assert_eq!(o.place(&["node"]), Place::Line(2));
        assert_eq!(o.place(&["cluster"]), env("STRAIT__CLUSTER__NODE_ID"));
    }

    #[test]
    fn dotted_names_find_their_path() {
        let o = Origins::parse(TEXT).unwrap();
        assert_eq!(
            o.path_of("clusters.A.consumer.fetch.min.bytes"),
            ["clusters", "A", "consumer", "fetch.min.bytes"]
        );
        assert_eq!(o.path_of("flows.x.y"), ["flows", "x", "y"]);
    }

    #[test]
    fn syntax_errors_have_a_line() {
        let err = Origins::parse("[node]\ndata_dir = \"/x\"\n[clusters.A\n").unwrap_err();
        assert_eq!(
            err,
            SyntaxError {
                line: 3,
                reason: "unclosed table, expected `]`".to_owned()
            }
        );
        let err = Origins::parse("a = 1\nb = = 2\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert_eq!(err.reason, "extra `=`, expected nothing");
    }
}
