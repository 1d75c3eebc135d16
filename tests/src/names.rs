//! Unique names, so that every test works on shared real clusters and never sees another test's
//! topics.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A random 64-bit number (std's per-process random hash keys, mixed with a counter and the clock).
pub fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    hasher.write_u32(std::process::id());
    hasher.finish()
}

/// `<prefix>-<10 random lowercase hex digits>`: a valid topic name, and a valid regex literal when
/// `prefix` is made of `[a-z0-9-]` (no regex metacharacter).
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{:010x}", random_u64() & 0xff_ffff_ffff)
}
