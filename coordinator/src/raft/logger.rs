//! raft-rs logs through `slog`; this drain forwards its records to `tracing`, so Raft's messages
//! land in the node's log with everything else.

use slog::{Drain, OwnedKVList, Record, KV};

struct TracingDrain;

/// Collects a record's key-value pairs into one `k=v` string.
struct Fields(String);

impl slog::Serializer for Fields {
    fn emit_arguments(&mut self, key: slog::Key, val: &std::fmt::Arguments<'_>) -> slog::Result {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        self.0.push_str(&format!("{key}={val}"));
        Ok(())
    }
}

impl Drain for TracingDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, record: &Record<'_>, values: &OwnedKVList) -> Result<(), slog::Never> {
        let mut fields = Fields(String::new());
        let _ = record.kv().serialize(record, &mut fields);
        let _ = values.serialize(record, &mut fields);
        let message = record.msg();
        let fields = fields.0;
        match record.level() {
            slog::Level::Critical | slog::Level::Error => {
                tracing::error!(target: "raft", %fields, "{message}")
            }
            slog::Level::Warning => tracing::warn!(target: "raft", %fields, "{message}"),
            slog::Level::Info => tracing::info!(target: "raft", %fields, "{message}"),
            slog::Level::Debug | slog::Level::Trace => {
                tracing::debug!(target: "raft", %fields, "{message}")
            }
        }
        Ok(())
    }
}

/// A `slog::Logger` for raft-rs that writes through `tracing`.
pub fn raft_logger(node_id: u64) -> slog::Logger {
    slog::Logger::root(TracingDrain.fuse(), slog::o!("raft_id" => node_id))
}
