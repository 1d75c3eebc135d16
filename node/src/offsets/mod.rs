//! Consumer fail-over: translating consumer offsets from the source to the target, and the
//! MirrorMaker 2 compatible records that carry them (heartbeats, offset syncs, checkpoints), plus
//! group offset sync.

pub mod emitter;
pub mod groups;
pub mod translate;
pub mod trim;

pub use translate::{translate_offsets, TranslatedOffset, TranslationMethod};
