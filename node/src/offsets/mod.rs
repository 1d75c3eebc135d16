//! Consumer fail-over: translating consumer offsets from the source to the target.

pub mod translate;

pub use translate::{translate_offsets, TranslatedOffset, TranslationMethod};
