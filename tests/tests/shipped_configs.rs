//! The configuration files the project ships (deploy/, examples) are accepted by
//! `strait check-config`, so they cannot drift from the format, and the commands their comments
//! give run as written.

use std::path::{Path, PathBuf};

use strait_tests::broker::free_port;
use strait_tests::strait::{check_config, check_config_args, Strait};
use strait_tests::wait;

fn repo_file(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

/// Every configuration file in `node/config/examples/`, sorted.
fn examples() -> Vec<PathBuf> {
    let dir = repo_file("node/config/examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("toml" | "properties")
            )
        })
        .collect();
    files.sort();
    files
}

#[track_caller]
fn assert_valid(file: &Path, env: &[(&str, &str)]) {
    let out = check_config(file, env);
    let file = file.display();
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

#[test]
fn shipped_configs_are_valid() {
    // deploy/strait.toml is shared by three compose services, each giving its node id (the
    // compose file itself is checked by deploy_manifests.rs).
    assert_valid(
        &repo_file("deploy/strait.toml"),
        &[("STRAIT__CLUSTER__NODE_ID", "1")],
    );
    assert_valid(&repo_file("deploy/systemd/strait.toml"), &[]);
    let examples = examples();
    let names: Vec<String> = examples
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "mm2-minimal.properties",
        "mm2-active-active.properties",
        "strait.toml",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} not in {names:?}"
        );
    }
    for example in &examples {
        assert_valid(example, &[]);
    }
}

/// A `strait node` / `strait check-config` command in an example's comments (`# ... strait node
/// --config mm2-minimal.properties ...`): its arguments after `strait`, up to a `(` comment.
fn documented_commands(text: &str) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    for line in text.lines().filter(|l| l.trim_start().starts_with('#')) {
        let words: Vec<&str> = line.split_whitespace().collect();
        for (i, word) in words.iter().enumerate() {
            let next = words.get(i + 1).copied();
            if *word != "strait" || !matches!(next, Some("node" | "check-config" | "--config")) {
                continue;
            }
            let args = words[i + 1..]
                .iter()
                .take_while(|w| !w.starts_with('('))
                .map(|w| (*w).to_owned())
                .collect();
            commands.push(args);
        }
    }
    commands
}

/// The commands an example's comments give run as written: before, mm2-minimal.properties said
/// `strait --config mm2-minimal.properties`, which the CLI refuses (no subcommand). `check-config`
/// runs offline; `node` starts on a copy of the file (its brokers and cluster port moved to free
/// ports, so that it neither binds the default port nor copies a running demo) and drains on
/// SIGTERM.
#[test]
fn commands_in_the_examples_run_as_written() {
    let mut seen = 0;
    for example in examples() {
        let text = std::fs::read_to_string(&example).expect("reading an example");
        let name = example.file_name().unwrap().to_string_lossy().into_owned();
        for args in documented_commands(&text) {
            seen += 1;
            let what = format!("{name}: `strait {}`", args.join(" "));
            let (command, rest) = args.split_first().expect("a command");
            assert!(
                matches!(command.as_str(), "node" | "check-config"),
                "{what}: `strait` needs a subcommand (node or check-config)"
            );
            assert_eq!(
                rest.get(..2),
                Some(&["--config".to_owned(), name.clone()][..]),
                "{what}: the command should name this file"
            );
            let flags: Vec<&str> = rest[2..].iter().map(String::as_str).collect();
            if command == "check-config" {
                let mut flags = flags.clone();
                if !flags.contains(&"--offline") {
                    flags.push("--offline");
                }
                let out = check_config_args(&example, &flags, &[]);
                assert_eq!(out.code, Some(0), "{what}: {}", out.stderr);
                continue;
            }
            assert!(flags.is_empty(), "{what}: unexpected flags {flags:?}");
            let extension = example.extension().unwrap().to_string_lossy().into_owned();
            let ports = [free_port(), free_port()].map(|p| format!("127.0.0.1:{p}"));
            let listen = format!("127.0.0.1:{}", free_port());
            let mut env = vec![("STRAIT__CLUSTER__LISTEN", listen.as_str())];
            if text.contains("A.bootstrap.servers") || text.contains("[clusters.A]") {
                env.push(("STRAIT__CLUSTERS__A__BOOTSTRAP_SERVERS", ports[0].as_str()));
            }
            if text.contains("B.bootstrap.servers") || text.contains("[clusters.B]") {
                env.push(("STRAIT__CLUSTERS__B__BOOTSTRAP_SERVERS", ports[1].as_str()));
            }
            let mut node = Strait::start_with_env(&text, &extension, &env);
            wait::until_ok(
                &format!("{what} to start"),
                || {
                    assert!(!node.has_exited(), "{what} exited:\n{}", node.log_tail(40));
                    match node.log().contains("node started") {
                        true => Ok(()),
                        false => Err("not started yet".to_owned()),
                    }
                },
                || node.log_tail(40),
            );
            let status = node.terminate();
            assert!(status.success(), "{what}: SIGTERM should exit 0: {status}");
        }
    }
    assert!(seen > 0, "no documented command found in the examples");
}
