//! Configuration errors are reported before anything runs: `strait check-config` and
//! `strait node` exit non-zero with a message naming the file and what is wrong (the key, the
//! bad value, pattern or alias, and the line or the environment variable). Keys Strait does not act
//! on are named once each, never dropped silently. No broker is needed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use strait_tests::broker::free_port;
use strait_tests::strait::{check_config, run_node_to_exit, temp_dir, CheckOutput, Strait};
use strait_tests::wait;

/// How long `strait node` may take to refuse a bad config.
const REFUSE_DEADLINE: Duration = Duration::from_secs(20);

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("writing a config file");
    path
}

/// A valid TOML config with clusters `east` and `west` and one flow `east -> west`; `flow_extra`
/// is appended to the flow's table.
fn toml_config(
    data_dir: &Path,
    west_bootstrap: Option<&str>,
    flow_source: &str,
    flow_extra: &str,
) -> String {
    let west = west_bootstrap
        .map(|b| format!("bootstrap_servers = \"{b}\"\n"))
        .unwrap_or_default();
    format!(
        r#"[node]
data_dir = "{data}"

[clusters.east]
bootstrap_servers = "127.0.0.1:19092"

[clusters.west]
{west}
[flows.eastwest]
source = "{flow_source}"
target = "west"
topics = ["orders-.*", "payments"]
{flow_extra}
"#,
        data = data_dir.display()
    )
}

/// A valid mm2.properties with clusters `east` and `west` and one flow `east->west`; `extra` lines
/// are appended.
fn properties_config(data_dir: &Path, extra: &str) -> String {
    format!(
        "# test config\nclusters = east, west\neast.bootstrap.servers = 127.0.0.1:19092\n\
         west.bootstrap.servers = 127.0.0.1:29092\nstrait.data.dir = {}\neast->west.enabled = true\n\
         east->west.topics = orders-.*, payments\n{extra}",
        data_dir.display()
    )
}

/// 1-based number of the line of `text` that starts with `prefix`.
fn line_of(text: &str, prefix: &str) -> usize {
    text.lines()
        .position(|l| l.starts_with(prefix))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("no line starting with {prefix:?}"))
}

#[track_caller]
fn assert_refused(what: &str, out: &CheckOutput, must_name: &[&str]) {
    assert!(
        matches!(out.code, Some(code) if code != 0),
        "{what}: expected a non-zero exit, got {:?}\nstdout:\n{}\nstderr:\n{}",
        out.code,
        out.stdout,
        out.stderr
    );
    for needle in must_name {
        assert!(
            out.stderr.contains(needle),
            "{what}: the error on stderr should name {needle:?}; stderr:\n{}\nstdout:\n{}",
            out.stderr,
            out.stdout
        );
    }
}

/// `check-config` exits 2 and names everything in `must_name`; `node` refuses the same file.
#[track_caller]
fn assert_bad(what: &str, path: &Path, must_name: &[&str]) {
    let out = check_config(path, &[]);
    assert_refused(&format!("check-config, {what}"), &out, must_name);
    assert_eq!(
        out.code,
        Some(2),
        "check-config exit code, {what}; stderr:\n{}",
        out.stderr
    );
    let out = run_node_to_exit(path, REFUSE_DEADLINE);
    assert_refused(&format!("node, {what}"), &out, must_name);
}

/// `check-config` and `node` both exit 2 with exactly `expected` on stderr.
#[track_caller]
fn assert_refused_exactly(path: &Path, expected: &str) {
    for out in [
        check_config(path, &[]),
        run_node_to_exit(path, REFUSE_DEADLINE),
    ] {
        assert_eq!((out.code, out.stderr.as_str()), (Some(2), expected));
    }
}

/// Panics unless the refusal on stderr names line `line` (`line 7`, `:7:`, `:7 `...).
#[track_caller]
fn assert_names_line(what: &str, path: &Path, line: usize) {
    let out = check_config(path, &[]);
    let forms = [
        format!("line {line}"),
        format!(":{line}:"),
        format!(":{line} "),
        format!(":{line})"),
        format!(":{line},"),
    ];
    let text = out.stderr.to_lowercase();
    assert!(
        text.trim_end().ends_with(&format!(":{line}"))
            || forms.iter().any(|f| text.contains(f.as_str())),
        "{what}: the error should name line {line}; stderr:\n{}",
        out.stderr
    );
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .expect("a file name")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn unknown_cluster_alias_in_a_flow() {
    let dir = temp_dir("strait-badcfg-");
    let path = write(
        dir.path(),
        "alias.toml",
        &toml_config(dir.path(), Some("127.0.0.1:29092"), "nowhere", ""),
    );
    assert_bad(
        "TOML flow source `nowhere`",
        &path,
        &["nowhere", &file_name(&path)],
    );

    let text = properties_config(dir.path(), "east->nowhere.enabled = true\n");
    let path = write(dir.path(), "alias.properties", &text);
    let line = line_of(&text, "east->nowhere.enabled");
    assert_bad(
        "properties flow east->nowhere",
        &path,
        &["nowhere", &file_name(&path)],
    );
    assert_names_line("properties flow east->nowhere", &path, line);
}

#[test]
fn bad_topic_regex() {
    let dir = temp_dir("strait-badcfg-");
    let path = write(
        dir.path(),
        "regex.toml",
        &toml_config(
            dir.path(),
            Some("127.0.0.1:29092"),
            "east",
            "topics_exclude = [\"bad-(regex\"]",
        ),
    );
    assert_bad(
        "TOML exclude `bad-(regex`",
        &path,
        &["bad-(regex", &file_name(&path)],
    );

    let text = properties_config(
        dir.path(),
        "east->west.topics.exclude = fine-.*, bad-[regex\n",
    );
    let path = write(dir.path(), "regex.properties", &text);
    let line = line_of(&text, "east->west.topics.exclude");
    assert_bad(
        "properties exclude `bad-[regex`",
        &path,
        &["bad-[regex", &file_name(&path)],
    );
    assert_names_line("properties exclude `bad-[regex`", &path, line);
}

#[test]
fn missing_bootstrap_servers() {
    let dir = temp_dir("strait-badcfg-");
    let path = write(
        dir.path(),
        "nobootstrap.toml",
        &toml_config(dir.path(), None, "east", ""),
    );
    assert_bad(
        "TOML cluster west without bootstrap",
        &path,
        &["west", "bootstrap", &file_name(&path)],
    );

    let text = properties_config(dir.path(), "")
        .lines()
        .filter(|l| !l.starts_with("west.bootstrap.servers"))
        .collect::<Vec<_>>()
        .join("\n");
    let path = write(dir.path(), "nobootstrap.properties", &text);
    assert_bad(
        "properties without west.bootstrap.servers",
        &path,
        &["west", "bootstrap.servers", &file_name(&path)],
    );
}

#[test]
fn bad_number() {
    let dir = temp_dir("strait-badcfg-");
    let text = properties_config(dir.path(), "replication.factor = three\n");
    let path = write(dir.path(), "number.properties", &text);
    let line = line_of(&text, "replication.factor");
    assert_bad(
        "properties replication.factor = three",
        &path,
        &["replication.factor", "three", &file_name(&path)],
    );
    assert_names_line("properties replication.factor = three", &path, line);

    let path = write(
        dir.path(),
        "number.toml",
        &toml_config(
            dir.path(),
            Some("127.0.0.1:29092"),
            "east",
            "max_in_flight_records = \"lots\"",
        ),
    );
    assert_bad(
        "TOML max_in_flight_records = \"lots\"",
        &path,
        &["max_in_flight_records", &file_name(&path)],
    );
}

/// A bad TOML value is reported at its line, or at the environment variable that set it.
#[test]
fn toml_errors_name_the_line_or_the_variable() {
    let dir = temp_dir("strait-badcfg-");
    let text = toml_config(
        dir.path(),
        Some("127.0.0.1:29092"),
        "east",
        "max_in_flight_records = \"lots\"",
    );
    let path = write(dir.path(), "typed.toml", &text);
    let line = line_of(&text, "max_in_flight_records");
    let expected = format!(
        "error: {}:{line}: `flows.eastwest.max_in_flight_records`: expected an integer, found \
         string \"lots\"\n",
        path.display()
    );
    assert_refused_exactly(&path, &expected);

    let text = toml_config(dir.path(), Some("127.0.0.1:29092"), "east", "");
    let path = write(dir.path(), "env.toml", &text);
    let variable = "STRAIT__FLOWS__EASTWEST__REPLICATION_FACTOR";
    let out = check_config(&path, &[(variable, "0")]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (
            Some(2),
            format!(
                "error: environment variable {variable} (overriding {}): invalid value \"0\" for \
                 `flows.eastwest.replication_factor`: expected a whole number from 1 to 32767, or \
                 -1 for the target broker's default\n",
                path.display()
            )
            .as_str()
        )
    );

    let path = write(
        dir.path(),
        "syntax.toml",
        "[node]\ndata_dir = \"/x\"\n[clusters.east\n",
    );
    let out = check_config(&path, &[]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (
            Some(2),
            format!(
                "error: {}:3: invalid TOML: unclosed table, expected `]`\n",
                path.display()
            )
            .as_str()
        )
    );
}

/// A client property librdkafka rejects (a bad value, an unknown name) is a configuration error at
/// load, naming the key as written and its line: before, the flow failed only when it created its
/// clients, and check-config said the file was valid.
#[test]
fn bad_client_properties_are_refused_before_anything_starts() {
    let dir = temp_dir("strait-badcfg-");
    let text = properties_config(dir.path(), "east.consumer.fetch.min.bytes = lots\n");
    let path = write(dir.path(), "client.properties", &text);
    let line = line_of(&text, "east.consumer.fetch.min.bytes");
    let what = "properties east.consumer.fetch.min.bytes = lots";
    assert_bad(
        what,
        &path,
        &[
            &format!("{}:{line}:", path.display()),
            "`east.consumer.fetch.min.bytes` = \"lots\"",
            "fetch.min.bytes",
        ],
    );
    assert_names_line(what, &path, line);

    let text = toml_config(
        dir.path(),
        Some("127.0.0.1:29092"),
        "east",
        "[clusters.east.consumer]\n\"fetch.min.bytes\" = \"lots\"",
    );
    let path = write(dir.path(), "client.toml", &text);
    let line = line_of(&text, "\"fetch.min.bytes\"");
    let expected = format!(
        "error: {}:{line}: `clusters.east.consumer.\"fetch.min.bytes\"` = \"lots\": Invalid value \
         for configuration property \"fetch.min.bytes\" (librdkafka, for the source consumer of \
         flow east->west)\n",
        path.display()
    );
    assert_refused_exactly(&path, &expected);

    let text = toml_config(
        dir.path(),
        Some("127.0.0.1:29092"),
        "east",
        "[flows.eastwest.producer]\n\"lingerer.ms\" = 5",
    );
    let path = write(dir.path(), "unknown-client.toml", &text);
    let line = line_of(&text, "\"lingerer.ms\"");
    assert_bad(
        "TOML unknown librdkafka property",
        &path,
        &[
            &format!("{}:{line}:", path.display()),
            "`flows.eastwest.producer.\"lingerer.ms\"`",
            "No such configuration property",
        ],
    );
}

/// What an mm2.properties may ask for that this build cannot do is refused, with the key, the
/// line, the reason and the fix: Java truststores (librdkafka reads PEM only), OAUTHBEARER with
/// OIDC (no libcurl) or with a Java login callback (no token source).
#[test]
fn security_settings_that_cannot_work_are_refused() {
    let dir = temp_dir("strait-badcfg-");
    let cases: [(&str, &str, &str, &[&str]); 3] = [
        (
            "jks.properties",
            "east.security.protocol = SASL_SSL\n\
             east.ssl.truststore.location = /etc/kafka/truststore.jks\n\
             east.ssl.truststore.password = changeit\n",
            "east.ssl.truststore.location",
            &[
                "JKS truststore",
                "keytool -exportcert",
                "ssl.truststore.type = PEM",
            ],
        ),
        (
            "oidc.properties",
            "east.security.protocol = SASL_SSL\neast.sasl.mechanism = OAUTHBEARER\n\
             east.sasl.jaas.config = org.apache.kafka.common.security.oauthbearer.\
             OAuthBearerLoginModule required clientId=\"mirror\" clientSecret=\"hush\";\n",
            "east.sasl.jaas.config",
            &["without libcurl", "SCRAM-SHA-512"],
        ),
        (
            "callback.properties",
            "east.security.protocol = SASL_SSL\neast.sasl.mechanism = OAUTHBEARER\n\
             east.sasl.login.callback.handler.class = com.example.Tokens\n",
            "east.sasl.mechanism",
            &["token source", "SCRAM-SHA-512"],
        ),
    ];
    for (name, extra, key, reasons) in cases {
        let text = properties_config(dir.path(), extra);
        let path = write(dir.path(), name, &text);
        let line = line_of(&text, key);
        let mut must_name = vec![format!("{}:{line}: `{key}`", path.display())];
        must_name.extend(reasons.iter().map(|r| (*r).to_owned()));
        let must_name: Vec<&str> = must_name.iter().map(String::as_str).collect();
        assert_bad(name, &path, &must_name);
        let out = check_config(&path, &[]);
        for secret in ["changeit", "hush"] {
            assert!(!out.stderr.contains(secret), "{name}: {}", out.stderr);
        }
    }
}

#[test]
fn unreadable_file() {
    let dir = temp_dir("strait-badcfg-");
    let missing = dir.path().join("does-not-exist.toml");
    let missing_name = missing.to_string_lossy().into_owned();
    assert_bad("missing file", &missing, &[&missing_name]);

    // A directory where the file should be (permissions do not stop root, a directory does).
    let not_a_file = dir.path().join("directory.properties");
    std::fs::create_dir(&not_a_file).expect("mkdir");
    let name = not_a_file.to_string_lossy().into_owned();
    assert_bad("a directory", &not_a_file, &[&name]);
}

#[test]
fn valid_configs_are_summarised() {
    let dir = temp_dir("strait-badcfg-");
    let toml = write(
        dir.path(),
        "good.toml",
        &toml_config(dir.path(), Some("127.0.0.1:29092"), "east", ""),
    );
    let properties = write(
        dir.path(),
        "good.properties",
        &properties_config(dir.path(), ""),
    );
    for path in [toml, properties] {
        let out = check_config(&path, &[]);
        assert_eq!(
            out.code,
            Some(0),
            "check-config {}: stdout:\n{}\nstderr:\n{}",
            path.display(),
            out.stdout,
            out.stderr
        );
        for needle in ["east->west", "orders-.*", "payments"] {
            assert!(
                out.stdout.contains(needle),
                "check-config {} should list {needle:?}; stdout:\n{}",
                path.display(),
                out.stdout
            );
        }
    }
}

/// `STRAIT__CLUSTERS__<ALIAS>__BOOTSTRAP_SERVERS` overrides the file's value, for a lowercase
/// alias and for an uppercase one (`A`, as the test configs use; environment variable names are
/// case-insensitive to the loader, the alias is not).
#[test]
fn toml_env_override_is_honoured() {
    let dir = temp_dir("strait-badcfg-");
    let lower = toml_config(dir.path(), Some("127.0.0.1:29092"), "east", "");
    let upper = lower
        .replace("clusters.east", "clusters.A")
        .replace("clusters.west", "clusters.B")
        .replace("\"east\"", "\"A\"")
        .replace("\"west\"", "\"B\"");
    for (name, text, var) in [
        (
            "override-lower.toml",
            lower,
            "STRAIT__CLUSTERS__EAST__BOOTSTRAP_SERVERS",
        ),
        (
            "override-upper.toml",
            upper,
            "STRAIT__CLUSTERS__A__BOOTSTRAP_SERVERS",
        ),
    ] {
        let path = write(dir.path(), name, &text);
        let out = check_config(&path, &[(var, "10.1.2.3:9999")]);
        assert_eq!(
            out.code,
            Some(0),
            "{name}: stdout:\n{}\nstderr:\n{}",
            out.stdout,
            out.stderr
        );
        assert!(
            out.stdout.contains("10.1.2.3:9999"),
            "{name}: with {var} set, the summary should show the overridden bootstrap; stdout:\n{}",
            out.stdout
        );
        assert!(
            !out.stdout.contains("127.0.0.1:19092"),
            "{name}: the file's bootstrap should be overridden; stdout:\n{}",
            out.stdout
        );
    }
}

/// A `.properties` file takes the `STRAIT__*` variables a TOML file takes, with the same meaning:
/// a value is honoured, a bad one is refused naming the variable, and one with no
/// `mm2.properties` key (a flow's) is refused naming the variable rather than ignored.
#[test]
fn properties_env_overrides_are_honoured_or_refused_naming_the_variable() {
    let dir = temp_dir("strait-badcfg-");
    let path = write(
        dir.path(),
        "env.properties",
        &properties_config(dir.path(), ""),
    );
    let out = check_config(
        &path,
        &[("STRAIT__CLUSTERS__WEST__BOOTSTRAP_SERVERS", "10.1.2.3:9999")],
    );
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    assert!(
        out.stdout.contains("10.1.2.3:9999") && !out.stdout.contains("127.0.0.1:29092"),
        "the variable should override west.bootstrap.servers; stdout:\n{}",
        out.stdout
    );

    let variable = "STRAIT__CLUSTER__CONTROL_TOKEN";
    let out = check_config(&path, &[(variable, "too-short")]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (
            Some(2),
            format!(
                "error: environment variable {variable} (overriding {}): invalid value \"****\" \
                 for `strait.cluster.control.token`: expected 16 to 4096 visible ASCII \
                 characters (no spaces): a bearer token for the control API\n",
                path.display()
            )
            .as_str()
        )
    );

    let variable = "STRAIT__FLOWS__EASTWEST__REPLICATION_FACTOR";
    let out = check_config(&path, &[(variable, "3")]);
    assert_refused(
        "a flow variable for a .properties file",
        &out,
        &[
            &format!(
                "error: environment variable {variable} (overriding {}): ",
                path.display()
            ),
            "SOURCE->TARGET",
        ],
    );
    assert_eq!(out.code, Some(2));
}

/// MirrorMaker 2 keys Strait does not act on are listed once each by `check-config` and logged once
/// each as a warning when a node starts, with their line and the reason. A Java-only client
/// property is ignored once although every client built from its scope translates it.
#[test]
fn ignored_mm2_keys_are_named_once() {
    let dir = temp_dir("strait-badcfg-");
    // Nothing listens on the bootstrap ports: the node starts its flows and retries connecting.
    let text = format!(
        "clusters = east, west\n\
         east.bootstrap.servers = 127.0.0.1:{east}\n\
         west.bootstrap.servers = 127.0.0.1:{west}\n\
         strait.data.dir = {data}\n\
         strait.cluster.listen = 127.0.0.1:{cluster}\n\
         east->west.enabled = true\n\
         tasks.max = 4\n\
         key.converter = org.apache.kafka.connect.converters.ByteArrayConverter\n\
         east->west.sync.topic.acls.enabled = false\n\
         east.consumer.max.poll.records = 500\n",
        east = free_port(),
        west = free_port(),
        data = dir.path().join("data").display(),
        cluster = free_port(),
    );
    let path = write(dir.path(), "ignored.properties", &text);
    let not_implemented = "MirrorMaker 2 setting, not implemented in Strait yet";
    let ignored = [
        ("tasks.max", not_implemented),
        ("key.converter", not_implemented),
        ("east->west.sync.topic.acls.enabled", not_implemented),
        (
            "east.consumer.max.poll.records",
            "Java client setting with no librdkafka equivalent",
        ),
    ];

    let out = check_config(&path, &[]);
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    assert!(
        out.stdout.contains("ignored keys (4):\n"),
        "stdout:\n{}",
        out.stdout
    );
    for (key, reason) in ignored {
        let line = line_of(&text, key);
        let listed = format!("  line {line}: {key}: {reason}\n");
        assert_eq!(
            out.stdout.matches(&listed).count(),
            1,
            "check-config should list {listed:?} once; stdout:\n{}",
            out.stdout
        );
        assert_eq!(
            out.stdout.matches(key).count(),
            1,
            "{key} named more than once; stdout:\n{}",
            out.stdout
        );
    }

    let mut node = Strait::start_file(&path);
    wait_logged(&node, "node started");
    let log = node.log();
    for (key, _) in ignored {
        let line = line_of(&text, key);
        let warnings: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("WARN") && l.contains("configuration key ignored"))
            .filter(|l| l.contains(&format!("key={key} ")))
            .collect();
        assert_eq!(
            warnings.len(),
            1,
            "{key} should be warned about once; log:\n{log}"
        );
        assert!(
            warnings[0].contains(&format!("line={line} ")),
            "the warning names line {line}: {}",
            warnings[0]
        );
    }
    // SIGTERM drains even with every broker unreachable: the node does not wait out a pending
    // metadata request (30 s) before it exits.
    let asked = std::time::Instant::now();
    let status = node.terminate();
    assert!(status.success(), "SIGTERM should exit 0: {status}");
    assert!(
        asked.elapsed() < std::time::Duration::from_secs(10),
        "the drain took {:?} with unreachable brokers\n{}",
        asked.elapsed(),
        node.log_tail(20)
    );
}

/// Every Strait cluster that does not set `cluster_id` has the same one ("strait"), so a node could
/// join the wrong cluster: with several nodes, check-config and a starting node warn about it.
#[test]
fn several_nodes_without_a_cluster_id_are_warned_about() {
    let dir = temp_dir("strait-badcfg-");
    let port = free_port();
    let cluster = format!(
        "[cluster]\nnode_id = 1\nlisten = \"127.0.0.1:{port}\"\n\
         peers = [\"1@127.0.0.1:{port}\", \"2@127.0.0.1:{}\", \"3@127.0.0.1:{}\"]\n",
        free_port(),
        free_port()
    );
    let base = toml_config(
        &dir.path().join("data"),
        Some(&format!("127.0.0.1:{}", free_port())),
        "east",
        "",
    );
    let warning = "cluster.cluster_id is not set; this cluster uses the default id \"strait\", \
                   like every cluster that sets none: set a distinct id per cluster so a node \
                   never joins the wrong cluster";

    let path = write(dir.path(), "unnamed.toml", &format!("{base}\n{cluster}"));
    let out = check_config(&path, &[]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (Some(0), format!("warning: {warning}\n").as_str()),
        "stdout:\n{}",
        out.stdout
    );
    let named = write(
        dir.path(),
        "named.toml",
        &format!("{base}\n{cluster}cluster_id = \"mirror-ew\"\n"),
    );
    let out = check_config(&named, &[]);
    assert_eq!((out.code, out.stderr.as_str()), (Some(0), ""));

    let mut node = Strait::start_file(&path);
    wait_logged(&node, "cluster transport listening");
    let log = node.log();
    let warnings = log
        .lines()
        .filter(|l| l.contains("WARN") && l.contains(warning))
        .count();
    assert_eq!(
        warnings, 1,
        "the warning should be logged once; log:\n{log}"
    );
    // Only the start-up matters here: the other two peers never come.
    node.kill9();
}

/// Waits until `node` logs a line containing `needle`; fails at once if it exits first.
fn wait_logged(node: &Strait, needle: &str) {
    wait::until_ok(
        &format!("the node to log {needle:?}"),
        || {
            assert!(
                !node.has_exited(),
                "the node exited:\n{}",
                node.log_tail(40)
            );
            let log = node.log();
            if log.contains(needle) {
                Ok(())
            } else {
                Err(format!("{} log lines", log.lines().count()))
            }
        },
        || node.log_tail(40),
    );
}

/// A misspelt key is refused with the key it was meant to be, in both formats, by `check-config`
/// and `node` alike: before, `A->B.enabeld = true` was reported as "no flow is enabled" (no line,
/// no key), and `replcation.factor` or a misspelt client property of an `mm2.properties` passed
/// with an "ignored" note. A Java client name in a TOML client table names librdkafka's.
#[test]
fn misspelt_keys_are_refused_with_the_key_they_were_meant_to_be() {
    let dir = temp_dir("strait-badcfg-");
    let clusters = "clusters = A, B\nA.bootstrap.servers = 127.0.0.1:19092\n\
                    B.bootstrap.servers = 127.0.0.1:19093\n";
    let cases = [
        (
            "enabled.properties",
            format!("{clusters}A->B.enabeld = true\n"),
            "4: `A->B.enabeld`: unknown key: did you mean `A->B.enabled`?",
        ),
        (
            "factor.properties",
            format!("{clusters}A->B.enabled = true\nreplcation.factor = 1\n"),
            "5: `replcation.factor`: unknown key: did you mean `replication.factor`?",
        ),
        (
            "client.properties",
            format!(
                "{clusters}A->B.enabled = true\nA.consumer.fetch.min.bytes = 1\n\
                 A.producer.lingr.ms=5\n"
            ),
            "6: `A.producer.lingr.ms`: unknown client property: did you mean \
             `A.producer.linger.ms`?",
        ),
        (
            "fetch.properties",
            format!("{clusters}A->B.enabled = true\nA.consumer.fetch.min.bytess = 1\n"),
            "5: `A.consumer.fetch.min.bytess`: unknown client property: did you mean \
             `A.consumer.fetch.min.bytes`?",
        ),
    ];
    let toml = "[clusters.A]\nbootstrap_servers = \"127.0.0.1:19092\"\n[clusters.B]\n\
                bootstrap_servers = \"127.0.0.1:19093\"\n\n[flows.a_to_b]\nsource = \"A\"\n\
                target = \"B\"\n";
    let toml_cases = [
        (
            "factor.toml",
            format!("{toml}replication_factr = 3\n"),
            "9: `flows.a_to_b.replication_factr`: unknown key: did you mean \
             `flows.a_to_b.replication_factor`?",
        ),
        (
            "linger.toml",
            format!("{toml}[flows.a_to_b.producer]\n\"lingerer.ms\" = 5\n"),
            "10: `flows.a_to_b.producer.\"lingerer.ms\"` = \"5\": No such configuration \
             property: \"lingerer.ms\" (librdkafka, for the target producer of flow A->B): did \
             you mean `flows.a_to_b.producer.\"linger.ms\"`?",
        ),
        (
            "java-name.toml",
            format!("{toml}[flows.a_to_b.producer]\n\"max.request.size\" = 1048576\n"),
            "10: `flows.a_to_b.producer.\"max.request.size\"` = \"1048576\": No such \
             configuration property: \"max.request.size\" (librdkafka, for the target producer \
             of flow A->B): `max.request.size` is the Java client's name: librdkafka's is \
             `message.max.bytes`",
        ),
    ];
    for (name, text, expected) in cases.into_iter().chain(toml_cases) {
        let path = write(dir.path(), name, &text);
        assert_refused_exactly(&path, &format!("error: {}:{expected}\n", path.display()));
    }
}
