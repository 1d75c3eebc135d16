//! The configuration files the project ships (deploy/, examples) are accepted by
//! `strait check-config`, so they cannot drift from the format.

use std::path::PathBuf;

use strait_tests::strait::check_config;

fn repo_file(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

#[test]
fn shipped_configs_are_valid() {
    // deploy/strait.toml is shared by three compose services, each giving its node id (the
    // compose file itself is checked by deploy_manifests.rs).
    let node_1: &[(&str, &str)] = &[("STRAIT__CLUSTER__NODE_ID", "1")];
    for (file, env) in [
        ("deploy/strait.toml", node_1),
        ("node/config/examples/strait.toml", &[]),
        ("node/config/examples/mm2-minimal.properties", &[]),
        ("node/config/examples/mm2-active-active.properties", &[]),
    ] {
        let out = check_config(&repo_file(file), env);
        assert_eq!(
            out.code,
            Some(0),
            "{file} rejected:\nstdout:\n{}\nstderr:\n{}",
            out.stdout,
            out.stderr
        );
        assert!(
            out.stdout.contains("->"),
            "{file}: no flow listed:\n{}",
            out.stdout
        );
        // A shipped cluster of several nodes names its cluster (no default-id warning).
        assert_eq!(out.stderr, "", "{file}: warnings on stderr");
    }
}
