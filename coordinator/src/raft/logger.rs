//! raft-rs logs through `slog`; this drain forwards its records to `tracing`, so Raft's messages
//! land in the node's log with everything else (target `raft`).
//!
//! Each thing is said once: raft-rs's key-value pairs follow its message as `key=value` (a key with
//! a space is written with `_`), a key given twice (`raft_id`, set by raft-rs and by its logger)
//! is written once, and a pair the message already says (`term=1` after "became leader at term 1")
//! is left out. An INFO or WARN record carrying a Debug dump of a struct (raft-rs's
//! `Configuration { .. }` at start) goes to DEBUG: the node logs the voters itself, readably.

use slog::{Drain, OwnedKVList, Record, KV};

struct TracingDrain;

/// A record's key-value pairs, each key once, in order.
#[derive(Default)]
struct Fields(Vec<(String, String)>);

impl slog::Serializer for Fields {
    fn emit_arguments(&mut self, key: slog::Key, val: &std::fmt::Arguments<'_>) -> slog::Result {
        let key = key.replace(' ', "_");
        if !self.0.iter().any(|(k, _)| *k == key) {
            self.0.push((key, val.to_string()));
        }
        Ok(())
    }
}

impl Fields {
    /// Whether a value is a Debug dump of a struct (`Configuration { voters: .. }`).
    fn has_struct_dump(&self) -> bool {
        self.0.iter().any(|(_, value)| value.contains(" { "))
    }

    /// `message k=v k=v`, leaving out the pairs `message` already says (`term 1`, `from: 2`).
    fn line(&self, message: &str) -> String {
        let mut line = message.trim_end_matches('.').to_owned();
        for (key, value) in &self.0 {
            let said = [" ", ": ", "="]
                .iter()
                .any(|sep| message.contains(&format!("{key}{sep}{value}")));
            if !said {
                line.push_str(&format!(" {key}={value}"));
            }
        }
        line
    }
}

impl Drain for TracingDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, record: &Record<'_>, values: &OwnedKVList) -> Result<(), slog::Never> {
        let mut fields = Fields::default();
        let _ = record.kv().serialize(record, &mut fields);
        let _ = values.serialize(record, &mut fields);
        let line = fields.line(&record.msg().to_string());
        let level = match record.level() {
            slog::Level::Info | slog::Level::Warning if fields.has_struct_dump() => {
                slog::Level::Debug
            }
            level => level,
        };
        match level {
            slog::Level::Critical | slog::Level::Error => {
                tracing::error!(target: "raft", "{line}")
            }
            slog::Level::Warning => tracing::warn!(target: "raft", "{line}"),
            slog::Level::Info => tracing::info!(target: "raft", "{line}"),
            slog::Level::Debug | slog::Level::Trace => {
                tracing::debug!(target: "raft", "{line}")
            }
        }
        Ok(())
    }
}

/// A `slog::Logger` for raft-rs that writes through `tracing`. raft-rs adds the node's
/// `raft_id` itself.
pub fn raft_logger() -> slog::Logger {
    slog::Logger::root(TracingDrain.fuse(), slog::o!())
}

#[cfg(test)]
mod tests {
    use super::Fields;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        Fields(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn each_thing_is_said_once() {
        assert_eq!(
            fields(&[("term", "1"), ("raft_id", "1")]).line("became leader at term 1"),
            "became leader at term 1 raft_id=1"
        );
        assert_eq!(
            fields(&[("id", "1"), ("raft_id", "1")]).line("RawNode created with id 1."),
            "RawNode created with id 1 raft_id=1"
        );
        assert_eq!(
            fields(&[("msg_type", "MsgRequestVote"), ("from", "2"), ("term", "1")])
                .line("[logterm: 0, index: 0, vote: 1] rejected vote from 2 at term 1"),
            "[logterm: 0, index: 0, vote: 1] rejected vote from 2 at term 1 msg_type=MsgRequestVote"
        );
    }

    #[test]
    fn repeated_keys_and_spaces() {
        use slog::Serializer as _;
        let mut f = Fields::default();
        f.emit_arguments("raft_id", &format_args!("1")).unwrap();
        f.emit_arguments("last term", &format_args!("0")).unwrap();
        f.emit_arguments("raft_id", &format_args!("1")).unwrap();
        assert_eq!(f.line("newRaft"), "newRaft raft_id=1 last_term=0");
        assert!(!f.has_struct_dump());
        let dump = fields(&[("config", "Configuration { voters: {1, 2} }")]);
        assert!(dump.has_struct_dump());
    }
}
