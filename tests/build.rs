//! Sets `cfg(tansu)` when the tests run against the Tansu fallback broker
//! (`STRAIT_TEST_BROKER=tansu`, see `src/mode.rs`), so a test that needs an Apache Kafka API Tansu
//! lacks is marked `#[cfg_attr(tansu, ignore = "why")]`: `cargo test` then reports it as ignored,
//! with the reason, instead of failing or passing it silently.

const BROKER: &str = "STRAIT_TEST_BROKER";

fn main() {
    println!("cargo::rustc-check-cfg=cfg(tansu)");
    println!("cargo::rerun-if-env-changed={BROKER}");
    if std::env::var(BROKER).is_ok_and(|v| v.trim() == "tansu") {
        println!("cargo::rustc-cfg=tansu");
    }
}
