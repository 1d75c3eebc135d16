//! Sets `cfg(real_kafka)` when the tests run against real Kafka clusters (see `src/mode.rs`), so a
//! test that only makes sense in one mode is marked `#[ignore = "why"]` in the other: `cargo test`
//! then reports it as ignored, with the reason, instead of passing it silently.

const SOURCE: &str = "STRAIT_TEST_SOURCE_BOOTSTRAP";
const TARGET: &str = "STRAIT_TEST_TARGET_BOOTSTRAP";

fn main() {
    println!("cargo::rustc-check-cfg=cfg(real_kafka)");
    println!("cargo::rerun-if-env-changed={SOURCE}");
    println!("cargo::rerun-if-env-changed={TARGET}");
    let set = |name| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    match (set(SOURCE), set(TARGET)) {
        (true, true) => println!("cargo::rustc-cfg=real_kafka"),
        (false, false) => {}
        // The tests themselves refuse this (mode::real_kafka panics); say so at build time too.
        _ => println!("cargo::warning=set both {SOURCE} and {TARGET} (real Kafka mode) or neither"),
    }
}
