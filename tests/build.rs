//! Sets `cfg(tansu)` when the tests run against the Tansu fallback broker
//! (`STRAIT_TEST_BROKER=tansu`, see `src/mode.rs`), so a test that needs an Apache Kafka API Tansu
//! lacks is marked `#[cfg_attr(tansu, ignore = "why")]`: `cargo test` then reports it as ignored,
//! with the reason, instead of failing or passing it silently.
//!
//! Sets `cfg(no_netns)` when this machine cannot give the fault tests separate hosts (network
//! namespaces, `src/netns.rs`): not root, or `ip` (iproute2) or `nft` (nftables) missing, or
//! `ip netns add` refused; or `STRAIT_TEST_NETNS=off`. Those tests carry
//! `#[cfg_attr(no_netns, ignore = "why")]`, and the build prints a warning naming what failed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BROKER: &str = "STRAIT_TEST_BROKER";
const NETNS: &str = "STRAIT_TEST_NETNS";

fn main() {
    println!("cargo::rustc-check-cfg=cfg(tansu)");
    println!("cargo::rustc-check-cfg=cfg(no_netns)");
    println!("cargo::rerun-if-env-changed={BROKER}");
    println!("cargo::rerun-if-env-changed={NETNS}");
    if std::env::var(BROKER).is_ok_and(|v| v.trim() == "tansu") {
        println!("cargo::rustc-cfg=tansu");
    }
    if let Err(why) = netns_usable() {
        println!("cargo::rustc-cfg=no_netns");
        println!("cargo::warning=fault tests (network namespaces) will be ignored: {why}");
    }
}

/// Whether network namespaces with nftables rules can be made here, by making one.
fn netns_usable() -> Result<(), String> {
    if std::env::var(NETNS).is_ok_and(|v| v.trim() == "off") {
        return Err(format!("{NETNS}=off"));
    }
    // Found again when installed (a path that does not exist reruns this script every build).
    let ip = find("ip");
    let nft = find("nft");
    for (tool, path) in [("ip", &ip), ("nft", &nft)] {
        println!("cargo::rerun-if-changed={}", path.display());
        if !path.is_file() {
            return Err(format!(
                "`{tool}` not found (scripts/install-toolchain.sh installs iproute2 and nftables)"
            ));
        }
    }
    let uid = run(Command::new("id").arg("-u"))?;
    if uid.trim() != "0" {
        return Err(format!("not root (uid {})", uid.trim()));
    }
    let probe = format!("strait-probe-{}", std::process::id());
    run(Command::new(&ip).args(["netns", "add", &probe]))?;
    let nft_works = run(Command::new(&ip).args([
        "netns",
        "exec",
        &probe,
        "nft",
        "add table inet strait_probe",
    ]));
    let _ = run(Command::new(&ip).args(["netns", "del", &probe]));
    nft_works.map(|_| ())
}

/// `tool` on `PATH` or in the sbin folders (not always on a build's `PATH`); a path where it
/// would be when it is nowhere.
fn find(tool: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
        .unwrap_or_else(|| Path::new("/usr/sbin").join(tool))
}

fn run(command: &mut Command) -> Result<String, String> {
    let what = format!("{command:?}");
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}
