//! The deployment files under deploy/ agree with each other and with the configuration format.
//! No Kubernetes, container engine or systemd runs them here, so this reads them:
//! - deploy/k8s: every YAML document parses; the StatefulSet, its Services, the
//!   PodDisruptionBudget and the ConfigMap fit together (selectors, ports, paths); the ConfigMap's
//!   strait.toml passes `strait check-config` with the identity the StatefulSet's own entrypoint
//!   script gives each pod (that script runs here, with `/bin/sh`);
//! - deploy/docker-compose.yml: three strait services, distinct node ids, one shared config that
//!   passes `check-config` with each service's environment;
//! - deploy/systemd: the unit starts `strait node` on the example config, which passes
//!   `check-config`, with its data dir in the unit's StateDirectory (and `systemd-analyze verify`
//!   accepts the unit where that tool exists);
//! - deploy/Dockerfile: its toolchain is at least the workspace's rust-version, which is at least
//!   what every locked dependency a Linux build compiles declares (`cargo metadata`); it builds on
//!   the runtime stage's Debian release, and installs what each enabled rdkafka-sys feature needs
//!   to build and to run.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;
use serde_yaml_ng::Value;
use strait_tests::process::die_with_test;
use strait_tests::strait::{check_config, strait_bin, temp_dir, CheckOutput};

/// How long a node may take to drain on SIGTERM (`DRAIN_TIMEOUT` in node/src/node.rs): every
/// stop timeout must leave at least this plus some margin before SIGKILL.
const DRAIN_SECS: u64 = 60;
const MIN_STOP_SECS: u64 = DRAIN_SECS + 10;

/// The config file path inside the image (the Dockerfile's CMD, the StatefulSet's args).
const IMAGE_CONFIG: &str = "/etc/strait/strait.toml";

fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(repo_path(relative))
        .unwrap_or_else(|e| panic!("reading {relative}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// YAML

/// Every document of a YAML file, with merge keys (`<<: *anchor`) applied; empty documents are
/// dropped.
fn yaml_documents(relative: &str) -> Vec<Value> {
    let text = read(relative);
    let mut documents = Vec::new();
    for (i, document) in serde_yaml_ng::Deserializer::from_str(&text).enumerate() {
        let mut value = Value::deserialize(document)
            .unwrap_or_else(|e| panic!("{relative}: YAML document {} does not parse: {e}", i + 1));
        value
            .apply_merge()
            .unwrap_or_else(|e| panic!("{relative}: YAML document {}: merge keys: {e}", i + 1));
        if !value.is_null() {
            documents.push(value);
        }
    }
    documents
}

/// The value at a dotted `path` (`spec.template.spec.containers.0`; numbers index sequences), or
/// `None`.
fn get<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(value, |v, segment| match segment.parse::<usize>() {
            Ok(i) if v.is_sequence() => v.get(i),
            _ => v.get(segment),
        })
}

/// [`get`], panicking with `what` and the path when it is absent.
fn at<'a>(value: &'a Value, path: &str, what: &str) -> &'a Value {
    get(value, path).unwrap_or_else(|| panic!("{what}: no `{path}`"))
}

fn str_at<'a>(value: &'a Value, path: &str, what: &str) -> &'a str {
    at(value, path, what)
        .as_str()
        .unwrap_or_else(|| panic!("{what}: `{path}` is not a string"))
}

fn u64_at(value: &Value, path: &str, what: &str) -> u64 {
    at(value, path, what)
        .as_u64()
        .unwrap_or_else(|| panic!("{what}: `{path}` is not a whole number"))
}

fn seq_at<'a>(value: &'a Value, path: &str, what: &str) -> &'a [Value] {
    at(value, path, what)
        .as_sequence()
        .map(Vec::as_slice)
        .unwrap_or_else(|| panic!("{what}: `{path}` is not a list"))
}

/// A mapping of strings to strings (labels, selectors), as sorted pairs.
fn string_map(value: &Value, path: &str, what: &str) -> BTreeMap<String, String> {
    let mapping = at(value, path, what)
        .as_mapping()
        .unwrap_or_else(|| panic!("{what}: `{path}` is not a mapping"));
    mapping
        .iter()
        .map(|(k, v)| {
            let key = k
                .as_str()
                .unwrap_or_else(|| panic!("{what}: `{path}`: a key is not a string"));
            let value = v
                .as_str()
                .unwrap_or_else(|| panic!("{what}: `{path}.{key}` is not a string"));
            (key.to_owned(), value.to_owned())
        })
        .collect()
}

/// Panics unless every entry of `selector` is among `labels`.
fn assert_selects(
    selector: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
    what: &str,
) {
    assert!(
        !selector.is_empty(),
        "{what}: the selector is empty (it would select every pod)"
    );
    for (key, value) in selector {
        assert_eq!(
            labels.get(key),
            Some(value),
            "{what}: selector {key}={value} does not match the StatefulSet's pod labels {labels:?}"
        );
    }
}

/// A duration as compose and systemd write it (`75s`, `75`, `1m15s`), in seconds.
fn seconds(text: &str, what: &str) -> u64 {
    let bad =
        || -> u64 { panic!("{what}: cannot read `{text}` as a duration in seconds or minutes") };
    let mut total = 0;
    let mut number = String::new();
    for c in text.trim().chars() {
        match c {
            '0'..='9' => number.push(c),
            'm' | 's' if !number.is_empty() => {
                let n: u64 = number.parse().unwrap_or_else(|_| bad());
                total += if c == 'm' { n * 60 } else { n };
                number.clear();
            }
            _ => {
                bad();
            }
        }
    }
    if !number.is_empty() {
        total += number.parse::<u64>().unwrap_or_else(|_| bad());
    }
    total
}

// ---------------------------------------------------------------------------------------------
// strait check-config

/// The value of the first `name:` line of a `check-config` report (`listen`, `node id`, ...).
fn field_opt<'a>(out: &'a CheckOutput, name: &str) -> Option<&'a str> {
    let prefix = format!("{name}:");
    out.stdout
        .lines()
        .find_map(|line| line.trim_start().strip_prefix(&prefix))
        .map(str::trim)
}

/// [`field_opt`], panicking when the line is absent.
fn field<'a>(out: &'a CheckOutput, name: &str, what: &str) -> &'a str {
    field_opt(out, name).unwrap_or_else(|| {
        panic!(
            "{what}: check-config printed no `{name}:` line:\n{}",
            out.stdout
        )
    })
}

fn port_of(address: &str, what: &str) -> u64 {
    address
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or_else(|| panic!("{what}: no port in `{address}`"))
}

fn assert_accepted(out: &CheckOutput, what: &str) {
    assert_eq!(
        out.code,
        Some(0),
        "{what}: strait check-config rejected it:\nstdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
    // Each shipped cluster names itself: no warning about the shared default cluster id.
    assert!(
        !out.stderr.contains("warning:"),
        "{what}: check-config warns:\n{}",
        out.stderr
    );
}

/// What `check-config` says of one node's configuration.
struct NodeView {
    node_id: String,
    listen_port: u64,
    advertise: String,
    peers: String,
    join: Option<String>,
    data_dir: String,
    metrics_port: Option<u64>,
}

fn node_view(out: &CheckOutput, what: &str) -> NodeView {
    assert_accepted(out, what);
    let metrics = field(out, "metrics", what);
    let metrics_port = (metrics != "off").then(|| {
        let address = metrics
            .strip_prefix("http://")
            .and_then(|m| m.strip_suffix("/metrics"))
            .unwrap_or_else(|| panic!("{what}: unexpected metrics line `{metrics}`"));
        port_of(address, what)
    });
    NodeView {
        node_id: field(out, "node id", what).to_owned(),
        listen_port: port_of(field(out, "listen", what), what),
        advertise: field(out, "advertise", what).to_owned(),
        peers: field_opt(out, "peers").unwrap_or_default().to_owned(),
        join: field_opt(out, "join").map(str::to_owned),
        data_dir: field(out, "data dir", what).to_owned(),
        metrics_port,
    }
}

/// A command with no `STRAIT__*` variable of the test's environment, dying with the test.
fn clean_command(program: &str) -> Command {
    let mut command = Command::new(program);
    die_with_test(&mut command);
    let leaked: Vec<OsString> = std::env::vars_os()
        .map(|(name, _)| name)
        .filter(|name| name.to_string_lossy().starts_with("STRAIT__"))
        .collect();
    for name in leaked {
        command.env_remove(name);
    }
    command.stdin(Stdio::null());
    command
}

// ---------------------------------------------------------------------------------------------
// Kubernetes

const K8S_DIR: &str = "deploy/k8s";

/// Every object of deploy/k8s, with the file it is in.
struct K8s {
    objects: Vec<(String, Value)>,
}

impl K8s {
    fn load() -> K8s {
        let dir = repo_path(K8S_DIR);
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .map(|entry| {
                entry
                    .expect("a directory entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|name| name.ends_with(".yaml") || name.ends_with(".yml"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no YAML file in {K8S_DIR}");
        let mut objects = Vec::new();
        for file in files {
            let relative = format!("{K8S_DIR}/{file}");
            let documents = yaml_documents(&relative);
            assert!(!documents.is_empty(), "{relative}: no YAML document");
            for document in documents {
                str_at(&document, "apiVersion", &relative);
                str_at(&document, "kind", &relative);
                objects.push((file.clone(), document));
            }
        }
        K8s { objects }
    }

    fn kind(&self, kind: &str) -> Vec<(&str, &Value)> {
        self.objects
            .iter()
            .filter(|(_, o)| o.get("kind").and_then(Value::as_str) == Some(kind))
            .map(|(file, o)| (file.as_str(), o))
            .collect()
    }

    /// The only object of `kind`.
    fn one(&self, kind: &str) -> &Value {
        let found = self.kind(kind);
        assert_eq!(
            found.len(),
            1,
            "{K8S_DIR}: expected one {kind}, found {}",
            found.len()
        );
        found[0].1
    }

    /// The Service named `name`.
    fn service(&self, name: &str) -> &Value {
        self.kind("Service")
            .into_iter()
            .map(|(_, s)| s)
            .find(|s| get(s, "metadata.name").and_then(Value::as_str) == Some(name))
            .unwrap_or_else(|| panic!("{K8S_DIR}: no Service named `{name}`"))
    }
}

/// The StatefulSet's only container.
fn container(statefulset: &Value) -> &Value {
    let containers = seq_at(statefulset, "spec.template.spec.containers", "StatefulSet");
    assert_eq!(containers.len(), 1, "StatefulSet: expected one container");
    &containers[0]
}

/// The ConfigMap's strait.toml, written to a temp dir (kept alive by the returned guard).
fn configmap_config(k8s: &K8s) -> (tempfile::TempDir, PathBuf, String) {
    let configmap = k8s.one("ConfigMap");
    let data = at(configmap, "data", "ConfigMap")
        .as_mapping()
        .expect("ConfigMap: `data` is a mapping");
    assert_eq!(
        data.len(),
        1,
        "ConfigMap: expected one file (strait.toml) in `data`"
    );
    let (key, text) = data.iter().next().expect("one entry");
    let key = key
        .as_str()
        .expect("ConfigMap: the key is a string")
        .to_owned();
    let text = text.as_str().expect("ConfigMap: the file is a string");
    let dir = temp_dir("strait-k8s-");
    let path = dir.path().join(&key);
    std::fs::write(&path, text).expect("writing the ConfigMap's file");
    (dir, path, key)
}

#[test]
fn k8s_manifests_fit_together() {
    let k8s = K8s::load();

    // The kustomization applies every manifest of the directory.
    let kustomization = k8s.one("Kustomization");
    let listed: BTreeSet<String> = seq_at(kustomization, "resources", "kustomization.yaml")
        .iter()
        .map(|r| {
            r.as_str()
                .expect("kustomization.yaml: a resource is a string")
                .to_owned()
        })
        .collect();
    let files: BTreeSet<String> = k8s
        .objects
        .iter()
        .filter(|(_, o)| o.get("kind").and_then(Value::as_str) != Some("Kustomization"))
        .map(|(file, _)| file.clone())
        .collect();
    assert_eq!(
        listed, files,
        "kustomization.yaml `resources` must list every manifest of {K8S_DIR}"
    );

    let sts = k8s.one("StatefulSet");
    let what = "StatefulSet";
    let replicas = u64_at(sts, "spec.replicas", what);
    assert!(
        replicas >= 3,
        "{what}: {replicas} replicas; a Raft quorum that survives a lost pod needs 3"
    );
    assert_eq!(
        str_at(sts, "spec.podManagementPolicy", what),
        "Parallel",
        "{what}: pods must start together (none is Ready before the cluster has a quorum)"
    );
    let pod_labels = string_map(sts, "spec.template.metadata.labels", what);
    assert_selects(
        &string_map(sts, "spec.selector.matchLabels", what),
        &pod_labels,
        "StatefulSet selector",
    );

    // The cluster settings as a pod sees them (node id 1: check-config needs one).
    let (_dir, config, key) = configmap_config(&k8s);
    let out = check_config(&config, &[("STRAIT__CLUSTER__NODE_ID", "1")]);
    let node = node_view(&out, "the ConfigMap's strait.toml");
    let grpc_port = node.listen_port;
    let metrics_port = node
        .metrics_port
        .expect("the ConfigMap's strait.toml: set [node] metrics_listen (the `metrics` port)");

    // The headless Service gives the pods their DNS names, also before they are Ready.
    let headless_name = str_at(sts, "spec.serviceName", what);
    let headless = k8s.service(headless_name);
    let hwhat = format!("headless Service {headless_name}");
    assert_eq!(
        str_at(headless, "spec.clusterIP", &hwhat),
        "None",
        "{hwhat}: clusterIP must be None"
    );
    assert_eq!(
        at(headless, "spec.publishNotReadyAddresses", &hwhat).as_bool(),
        Some(true),
        "{hwhat}: publishNotReadyAddresses must be true, or peers cannot resolve each other before \
         the cluster has formed"
    );
    assert_selects(
        &string_map(headless, "spec.selector", &hwhat),
        &pod_labels,
        &hwhat,
    );

    // Every other Service is a client Service over the same pods, with the gRPC and metrics ports.
    let clients: Vec<&Value> = k8s
        .kind("Service")
        .into_iter()
        .map(|(_, s)| s)
        .filter(|s| get(s, "metadata.name").and_then(Value::as_str) != Some(headless_name))
        .collect();
    assert_eq!(
        clients.len(),
        1,
        "{K8S_DIR}: expected one client Service besides {headless_name}"
    );
    let client = clients[0];
    let cwhat = format!(
        "client Service {}",
        str_at(client, "metadata.name", "Service")
    );
    assert_ne!(
        get(client, "spec.clusterIP").and_then(Value::as_str),
        Some("None"),
        "{cwhat}: not headless"
    );
    assert_selects(
        &string_map(client, "spec.selector", &cwhat),
        &pod_labels,
        &cwhat,
    );
    let target_ports = |service: &Value, what: &str| -> BTreeSet<u64> {
        seq_at(service, "spec.ports", what)
            .iter()
            .map(|p| {
                get(p, "targetPort")
                    .or_else(|| get(p, "port"))
                    .and_then(Value::as_u64)
                    .unwrap_or_else(|| {
                        panic!("{what}: each port needs a numeric targetPort or port")
                    })
            })
            .collect()
    };
    assert!(
        target_ports(headless, &hwhat).contains(&grpc_port),
        "{hwhat}: no port to the cluster port {grpc_port} (the config's listen)"
    );
    let client_ports = target_ports(client, &cwhat);
    for (port, name) in [(grpc_port, "cluster (gRPC)"), (metrics_port, "metrics")] {
        assert!(
            client_ports.contains(&port),
            "{cwhat}: no port to the {name} port {port}"
        );
    }

    // The container: ports, probes on the cluster port, drain time, resources, non-root.
    let c = container(sts);
    let container_ports: BTreeSet<u64> = seq_at(c, "ports", what)
        .iter()
        .map(|p| u64_at(p, "containerPort", what))
        .collect();
    for (port, name) in [(grpc_port, "cluster (gRPC)"), (metrics_port, "metrics")] {
        assert!(
            container_ports.contains(&port),
            "{what}: no containerPort for the {name} port {port}"
        );
    }
    for probe in ["readinessProbe", "livenessProbe"] {
        let port = u64_at(c, &format!("{probe}.grpc.port"), what);
        assert_eq!(
            port, grpc_port,
            "{what}: the {probe} (gRPC health) checks port {port}, but the config's cluster port \
             (listen) is {grpc_port}"
        );
    }
    let grace = u64_at(
        sts,
        "spec.template.spec.terminationGracePeriodSeconds",
        what,
    );
    assert!(grace >= MIN_STOP_SECS, "{what}: terminationGracePeriodSeconds {grace} < {MIN_STOP_SECS}: the SIGTERM drain takes up to {DRAIN_SECS} s");
    for resource in ["cpu", "memory"] {
        at(c, &format!("resources.requests.{resource}"), what);
    }
    assert_eq!(
        at(sts, "spec.template.spec.securityContext.runAsNonRoot", what).as_bool(),
        Some(true),
        "{what}: the pod must run as non-root"
    );

    // Volumes: the ConfigMap at the path `args` names, the data dir on a volumeClaimTemplate.
    let mounts: BTreeMap<String, String> = seq_at(c, "volumeMounts", what)
        .iter()
        .map(|m| {
            (
                str_at(m, "name", what).to_owned(),
                str_at(m, "mountPath", what).to_owned(),
            )
        })
        .collect();
    let configmap_name = str_at(k8s.one("ConfigMap"), "metadata.name", "ConfigMap");
    let config_volume = seq_at(sts, "spec.template.spec.volumes", what)
        .iter()
        .find(|v| get(v, "configMap.name").and_then(Value::as_str) == Some(configmap_name))
        .unwrap_or_else(|| panic!("{what}: no volume of the ConfigMap {configmap_name}"));
    let config_mount = &mounts[str_at(config_volume, "name", what)];
    let config_path = format!("{config_mount}/{key}");
    let args: Vec<&str> = seq_at(c, "args", what)
        .iter()
        .map(|a| a.as_str().expect("StatefulSet: args are strings"))
        .collect();
    assert_eq!(
        args.get(1..),
        Some(&["node", "--config", config_path.as_str()][..]),
        "{what}: args must run `strait node --config {config_path}` (the ConfigMap's file)"
    );
    let claims: BTreeSet<&str> = seq_at(sts, "spec.volumeClaimTemplates", what)
        .iter()
        .map(|t| str_at(t, "metadata.name", what))
        .collect();
    assert!(
        mounts
            .iter()
            .any(|(name, path)| claims.contains(name.as_str()) && *path == node.data_dir),
        "{what}: the data dir {} is not mounted from a volumeClaimTemplate ({claims:?}): the pod \
         would lose its node identity and positions when rescheduled",
        node.data_dir
    );

    // The PodDisruptionBudget keeps a quorum through voluntary disruptions.
    let pdb = k8s.one("PodDisruptionBudget");
    assert_eq!(
        u64_at(pdb, "spec.maxUnavailable", "PodDisruptionBudget"),
        1,
        "PodDisruptionBudget: maxUnavailable must be 1"
    );
    assert_selects(
        &string_map(pdb, "spec.selector.matchLabels", "PodDisruptionBudget"),
        &pod_labels,
        "PodDisruptionBudget",
    );
}

/// Runs the StatefulSet's entrypoint (`command`) as pod `hostname` would, with `strait
/// check-config --offline` on `config` instead of `strait node`.
fn run_entrypoint(container: &Value, hostname: &str, config: &Path) -> CheckOutput {
    let what = "StatefulSet container";
    let command: Vec<&str> = seq_at(container, "command", what)
        .iter()
        .map(|a| a.as_str().expect("StatefulSet: command items are strings"))
        .collect();
    let (program, rest) = command
        .split_first()
        .expect("StatefulSet: command is not empty");
    let mut cmd = clean_command(program);
    cmd.args(rest)
        .arg(strait_bin())
        .arg("check-config")
        .arg("--config")
        .arg(config)
        .arg("--offline")
        .env("HOSTNAME", hostname);
    for var in get(container, "env")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
    {
        cmd.env(str_at(var, "name", what), str_at(var, "value", what));
    }
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("running the entrypoint ({program}): {e}"));
    CheckOutput {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn k8s_entrypoint_gives_each_pod_its_identity() {
    let k8s = K8s::load();
    let sts = k8s.one("StatefulSet");
    let name = str_at(sts, "metadata.name", "StatefulSet");
    let headless = str_at(sts, "spec.serviceName", "StatefulSet");
    let replicas = u64_at(sts, "spec.replicas", "StatefulSet");
    let c = container(sts);
    let (_dir, config, _) = configmap_config(&k8s);

    let voters = check_config(&config, &[("STRAIT__CLUSTER__NODE_ID", "1")]);
    let voters = node_view(&voters, "the ConfigMap's strait.toml").peers;
    let voters = voters.split(", ").count() as u64;
    let told = get(c, "env")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .find(|v| get(v, "name").and_then(Value::as_str) == Some("INITIAL_VOTERS"))
        .map(|v| str_at(v, "value", "StatefulSet env INITIAL_VOTERS"));
    assert_eq!(
        told,
        Some(voters.to_string().as_str()),
        "StatefulSet: env INITIAL_VOTERS (read by the entrypoint) must be the number of peers in \
         the ConfigMap ({voters})"
    );

    // Every replica, and one more as after `kubectl scale --replicas=N+1`.
    for ordinal in 0..=replicas {
        let hostname = format!("{name}-{ordinal}");
        let what = format!("pod {hostname}");
        let out = run_entrypoint(c, &hostname, &config);
        let node = node_view(&out, &what);
        let id = ordinal + 1;
        assert_eq!(
            node.node_id,
            id.to_string(),
            "{what}: node id must be the ordinal + 1"
        );
        let own = format!("{hostname}.{headless}:{}", node.listen_port);
        assert_eq!(
            node.advertise, own,
            "{what}: must advertise its DNS name through the headless Service"
        );
        if ordinal < voters {
            assert!(
                node.peers.contains(&format!("{id}@{own} (this node)")),
                "{what}: an initial voter must find itself in peers as {id}@{own}: {}",
                node.peers
            );
            assert_eq!(
                node.join, None,
                "{what}: an initial voter bootstraps, it does not join"
            );
        } else {
            assert!(
                node.peers.is_empty(),
                "{what}: beyond the {voters} initial voters, peers must be empty: {}",
                node.peers
            );
            assert!(
                node.join.is_some(),
                "{what}: beyond the {voters} initial voters, it must join the running cluster"
            );
        }
    }

    // A pod name without an ordinal is refused by the entrypoint itself.
    let out = run_entrypoint(c, "strait", &config);
    assert_ne!(
        out.code,
        Some(0),
        "a HOSTNAME without ordinal must be refused:\n{}",
        out.stdout
    );
}

// ---------------------------------------------------------------------------------------------
// docker compose

const COMPOSE: &str = "deploy/docker-compose.yml";

/// A service's environment, written as a mapping or as a list of `NAME=value`.
fn environment(service: &Value, what: &str) -> BTreeMap<String, String> {
    let Some(env) = service.get("environment") else {
        return BTreeMap::new();
    };
    let scalar = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("{what}: environment value {other:?} is not a scalar"),
    };
    if let Some(list) = env.as_sequence() {
        return list
            .iter()
            .map(|item| {
                let item = item
                    .as_str()
                    .unwrap_or_else(|| panic!("{what}: environment item is not a string"));
                let (k, v) = item
                    .split_once('=')
                    .unwrap_or_else(|| panic!("{what}: `{item}` is not NAME=value"));
                (k.to_owned(), v.to_owned())
            })
            .collect();
    }
    env.as_mapping()
        .unwrap_or_else(|| panic!("{what}: environment is neither a mapping nor a list"))
        .iter()
        .map(|(k, v)| {
            (
                k.as_str()
                    .expect("environment names are strings")
                    .to_owned(),
                scalar(v),
            )
        })
        .collect()
}

/// The hosts of every cluster's bootstrap servers in a `check-config` report (its `clusters:`
/// section: `  A: bootstrap a1:9092,a2:9092 (...)`).
fn bootstrap_hosts(out: &CheckOutput, what: &str) -> Vec<String> {
    let section = out
        .stdout
        .lines()
        .skip_while(|l| *l != "clusters:")
        .skip(1)
        .take_while(|l| l.starts_with(' '));
    let mut hosts = Vec::new();
    for line in section {
        let servers = line
            .split_once(": bootstrap ")
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("{what}: unexpected clusters line `{line}`"));
        hosts.extend(
            servers
                .split(',')
                .map(|s| s.rsplit_once(':').map_or(s, |(h, _)| h).to_owned()),
        );
    }
    assert!(
        !hosts.is_empty(),
        "{what}: check-config listed no cluster:\n{}",
        out.stdout
    );
    hosts
}

#[test]
fn compose_runs_a_three_node_cluster() {
    let documents = yaml_documents(COMPOSE);
    assert_eq!(documents.len(), 1, "{COMPOSE}: expected one YAML document");
    let compose = &documents[0];
    let services = at(compose, "services", COMPOSE)
        .as_mapping()
        .expect("services is a mapping");
    let declared_volumes: BTreeSet<&str> = get(compose, "volumes")
        .and_then(Value::as_mapping)
        .map(|m| m.keys().filter_map(Value::as_str).collect())
        .unwrap_or_default();

    // The strait services: those built from deploy/Dockerfile.
    let strait: Vec<(&str, &Value)> = services
        .iter()
        .filter(|(_, s)| {
            get(s, "build.dockerfile").and_then(Value::as_str) == Some("deploy/Dockerfile")
        })
        .map(|(name, s)| (name.as_str().expect("service names are strings"), s))
        .collect();
    assert_eq!(
        strait.len(),
        3,
        "{COMPOSE}: expected three strait services (built from deploy/Dockerfile)"
    );

    // The image runs `strait node --config /etc/strait/strait.toml`.
    let dockerfile = read("deploy/Dockerfile");
    let cmd = dockerfile
        .lines()
        .find(|l| l.starts_with("CMD"))
        .expect("deploy/Dockerfile: no CMD");
    assert!(
        cmd.contains(IMAGE_CONFIG),
        "deploy/Dockerfile: CMD must read {IMAGE_CONFIG}: {cmd}"
    );

    let mut ids = BTreeSet::new();
    let mut config_sources = BTreeSet::new();
    let mut data_volumes = BTreeSet::new();
    for (name, service) in &strait {
        let what = format!("{COMPOSE}: service {name}");
        let env = environment(service, &what);
        let id = env
            .get("STRAIT__CLUSTER__NODE_ID")
            .unwrap_or_else(|| panic!("{what}: no STRAIT__CLUSTER__NODE_ID in its environment"));
        assert!(
            ids.insert(id.clone()),
            "{what}: node id {id} is used by another service"
        );

        let grace = seconds(str_at(service, "stop_grace_period", &what), &what);
        assert!(grace >= MIN_STOP_SECS, "{what}: stop_grace_period {grace} s < {MIN_STOP_SECS} s: the SIGTERM drain takes up to {DRAIN_SECS} s");

        // Short volume syntax: SOURCE:TARGET[:MODE].
        let volumes: Vec<(&str, &str)> = seq_at(service, "volumes", &what)
            .iter()
            .map(|v| {
                let v = v
                    .as_str()
                    .unwrap_or_else(|| panic!("{what}: use the short volume syntax"));
                let mut parts = v.split(':');
                (
                    parts.next().unwrap_or(""),
                    parts
                        .next()
                        .unwrap_or_else(|| panic!("{what}: volume `{v}` has no target")),
                )
            })
            .collect();
        let source = volumes
            .iter()
            .find(|(_, target)| *target == IMAGE_CONFIG)
            .unwrap_or_else(|| panic!("{what}: nothing mounted at {IMAGE_CONFIG}"))
            .0;
        config_sources.insert(source);
        let config = repo_path("deploy").join(source);

        let env_pairs: Vec<(&str, &str)> =
            env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let out = check_config(&config, &env_pairs);
        let node = node_view(&out, &what);
        assert_eq!(
            &node.node_id, id,
            "{what}: check-config shows another node id"
        );
        let host = node.advertise.rsplit_once(':').map_or("", |(h, _)| h);
        assert_eq!(
            host, *name,
            "{what}: its address in peers ({}) must be its service name, which compose resolves",
            node.advertise
        );

        let data = volumes
            .iter()
            .find(|(_, target)| *target == node.data_dir)
            .unwrap_or_else(|| panic!("{what}: nothing mounted at the data dir {}", node.data_dir))
            .0;
        assert!(
            declared_volumes.contains(data),
            "{what}: data volume `{data}` is not a named volume of the file"
        );
        assert!(
            data_volumes.insert(data),
            "{what}: data volume `{data}` is shared with another node"
        );

        // The brokers the config names are services of the file.
        for host in bootstrap_hosts(&out, &what) {
            assert!(
                services.contains_key(host.as_str()),
                "{what}: bootstrap host `{host}` is not a service of {COMPOSE}"
            );
        }
    }
    assert_eq!(
        config_sources.len(),
        1,
        "{COMPOSE}: the strait services must share one config file: {config_sources:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// systemd

const UNIT: &str = "deploy/systemd/strait.service";
const UNIT_CONFIG: &str = "deploy/systemd/strait.toml";

/// `Section.Key` → values (a key may repeat), comments and blank lines skipped.
fn unit_settings(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut settings: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("{UNIT}: `{line}` is not KEY=VALUE"));
        settings
            .entry(format!("{section}.{}", key.trim()))
            .or_default()
            .push(value.trim().to_owned());
    }
    settings
}

#[test]
fn systemd_unit_runs_the_example_config() {
    let text = read(UNIT);
    let settings = unit_settings(&text);
    let one = |key: &str| -> &str {
        match settings.get(key).map(Vec::as_slice) {
            Some([value]) => value,
            Some(values) => panic!("{UNIT}: {key} is set {} times", values.len()),
            None => panic!("{UNIT}: {key} is not set"),
        }
    };
    for (key, expected) in [
        ("Service.Type", "simple"),
        ("Service.Restart", "on-failure"),
        ("Service.KillSignal", "SIGTERM"),
        ("Service.NoNewPrivileges", "yes"),
        ("Service.ProtectSystem", "strict"),
        ("Service.StateDirectory", "strait"),
    ] {
        assert_eq!(one(key), expected, "{UNIT}: {key}");
    }
    let user = one("Service.User");
    assert!(
        !user.is_empty() && user != "root",
        "{UNIT}: User must be a dedicated user, not `{user}`"
    );
    let stop = seconds(one("Service.TimeoutStopSec"), UNIT);
    assert!(stop >= MIN_STOP_SECS, "{UNIT}: TimeoutStopSec {stop} s < {MIN_STOP_SECS} s: the SIGTERM drain takes up to {DRAIN_SECS} s");

    // ExecStart runs `strait node --config /etc/strait/strait.toml`.
    let exec: Vec<&str> = one("Service.ExecStart").split_whitespace().collect();
    assert!(
        matches!(exec.as_slice(), [bin, "node", "--config", config] if bin.ends_with("/strait") && *config == IMAGE_CONFIG),
        "{UNIT}: ExecStart must be `/…/strait node --config {IMAGE_CONFIG}`: {exec:?}"
    );

    // The example config (installed as /etc/strait/strait.toml) keeps its data in the state dir.
    let out = check_config(&repo_path(UNIT_CONFIG), &[]);
    let node = node_view(&out, UNIT_CONFIG);
    let state_dir = format!("/var/lib/{}", one("Service.StateDirectory"));
    assert_eq!(
        node.data_dir, state_dir,
        "{UNIT_CONFIG}: data_dir must be {state_dir}, the only path ProtectSystem=strict leaves writable"
    );

    // systemd's own check, where systemd is installed (ExecStart pointed at the built binary).
    let analyze = Command::new("systemd-analyze").arg("--version").output();
    if analyze.is_err() {
        println!("systemd-analyze verify: skipped (no systemd-analyze)");
        return;
    }
    let dir = temp_dir("strait-unit-");
    let unit = dir.path().join("strait.service");
    let bin = strait_bin();
    let rewritten = text.replace(exec[0], &bin.to_string_lossy());
    std::fs::write(&unit, rewritten).expect("writing the unit copy");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .expect("running systemd-analyze verify");
    assert!(
        out.status.success(),
        "{UNIT}: systemd-analyze verify failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// Dockerfile

const DOCKERFILE: &str = "deploy/Dockerfile";

/// The Linux targets the image is built on (amd64 and arm64 hosts).
const IMAGE_TARGETS: [&str; 2] = ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"];

/// A Rust version (`1.88`, `1.88.0`), comparable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct RustVersion(u64, u64, u64);

impl RustVersion {
    fn parse(text: &str, what: &str) -> RustVersion {
        let parts: Vec<u64> = text
            .split('.')
            .map(|p| {
                p.parse()
                    .unwrap_or_else(|_| panic!("{what}: {text:?} is not a Rust version"))
            })
            .collect();
        match parts[..] {
            [major, minor] => RustVersion(major, minor, 0),
            [major, minor, patch] => RustVersion(major, minor, patch),
            _ => panic!("{what}: {text:?} is not a Rust version"),
        }
    }
}

impl std::fmt::Display for RustVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// One stage of a Dockerfile: its `FROM` image and its `RUN` commands (continuation lines joined,
/// split at `&&`).
struct Stage {
    image: String,
    commands: Vec<String>,
}

impl Stage {
    /// The packages its `apt-get install` commands install.
    fn apt_packages(&self) -> BTreeSet<String> {
        self.commands
            .iter()
            // `VAR=value apt-get install ...`: the variables are the command's environment.
            .map(|c| {
                let mut words = c.split(' ').peekable();
                while words
                    .next_if(|w| w.contains('=') && !w.starts_with('-'))
                    .is_some()
                {}
                words.collect::<Vec<_>>().join(" ")
            })
            .filter_map(|c| c.strip_prefix("apt-get install").map(str::to_owned))
            .flat_map(|args| {
                args.split_whitespace()
                    .filter(|arg| !arg.starts_with('-'))
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

fn dockerfile_stages() -> Vec<Stage> {
    let text = read(DOCKERFILE).replace("\\\n", " ");
    let mut stages: Vec<Stage> = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("FROM ") {
            let image = rest.split_whitespace().next().unwrap_or_default();
            stages.push(Stage {
                image: image.to_owned(),
                commands: Vec::new(),
            });
        } else if let Some(rest) = line.strip_prefix("RUN ") {
            let stage = stages
                .last_mut()
                .unwrap_or_else(|| panic!("{DOCKERFILE}: RUN before FROM"));
            stage.commands.extend(
                rest.split("&&")
                    .map(|c| c.split_whitespace().collect::<Vec<_>>().join(" ")),
            );
        }
    }
    stages
}

/// `cargo metadata --locked` of the workspace, with the dependencies a build for `target`
/// compiles (`None`: every locked package, whatever its platform or cfg).
fn cargo_metadata(target: Option<&str>) -> serde_json::Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = clean_command(&cargo);
    command
        .args([
            "metadata",
            "--locked",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(repo_path("Cargo.toml"));
    if let Some(target) = target {
        command.args(["--filter-platform", target]);
    }
    let output = command
        .stderr(Stdio::piped())
        .output()
        .unwrap_or_else(|e| panic!("running {cargo} metadata: {e}"));
    assert!(
        output.status.success(),
        "cargo metadata --locked failed (is Cargo.lock up to date?):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON")
}

/// A package of `cargo metadata` that declares a rust-version: its id, `name version`, and that.
struct Declared {
    id: String,
    name: String,
    rust_version: RustVersion,
}

/// Every package of `metadata` that declares a rust-version.
fn rust_versions(metadata: &serde_json::Value) -> Vec<Declared> {
    metadata["packages"]
        .as_array()
        .expect("cargo metadata lists packages")
        .iter()
        .filter_map(|p| {
            let name = format!("{} {}", p["name"].as_str()?, p["version"].as_str()?);
            Some(Declared {
                id: p["id"].as_str()?.to_owned(),
                rust_version: RustVersion::parse(p["rust_version"].as_str()?, &name),
                name,
            })
        })
        .collect()
}

/// The image's toolchain can build what Cargo.lock locks: the build stage's `rust:X.Y` is at least
/// the workspace's rust-version, which is at least the highest rust-version of the locked packages
/// a Linux build compiles (before, the image had 1.85 while tonic, config and time need 1.88).
/// Packages behind a cfg no build sets (loom's, `cfg(loom)` in left-right) are not compiled and do
/// not count; they are listed when the test fails.
#[test]
fn dockerfile_toolchain_builds_the_locked_dependencies() {
    let stages = dockerfile_stages();
    let build = stages
        .iter()
        .find(|s| s.image.starts_with("rust:"))
        .unwrap_or_else(|| panic!("{DOCKERFILE}: no build stage FROM rust:X.Y-<debian>"));
    let tag = build.image.trim_start_matches("rust:");
    let (version, debian) = tag
        .split_once('-')
        .unwrap_or_else(|| panic!("{DOCKERFILE}: pin rust:X.Y-<debian release>, not {tag:?}"));
    let toolchain = RustVersion::parse(version, &format!("{DOCKERFILE}: FROM {}", build.image));

    let all = cargo_metadata(None);
    let members: BTreeSet<&str> = all["workspace_members"]
        .as_array()
        .expect("workspace members")
        .iter()
        .filter_map(|m| m.as_str())
        .collect();
    let (own, locked): (Vec<_>, Vec<_>) = all["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .partition(|p| p["id"].as_str().is_some_and(|id| members.contains(id)));
    assert!(!locked.is_empty());
    let workspace: BTreeSet<Option<&str>> =
        own.iter().map(|p| p["rust_version"].as_str()).collect();
    let workspace = match workspace.into_iter().collect::<Vec<_>>()[..] {
        [Some(v)] => RustVersion::parse(v, "Cargo.toml [workspace.package] rust-version"),
        ref several => panic!(
            "every workspace member should declare the workspace's rust-version \
             (rust-version.workspace = true); found {several:?}"
        ),
    };
    assert!(
        toolchain >= workspace,
        "{DOCKERFILE} builds with rust {toolchain}, older than the workspace's rust-version \
         {workspace}"
    );

    let unfiltered = rust_versions(&all);
    for target in IMAGE_TARGETS {
        let compiled = rust_versions(&cargo_metadata(Some(target)));
        let needed = compiled
            .iter()
            .filter(|p| !members.contains(p.id.as_str()))
            .max_by_key(|p| p.rust_version)
            .expect("locked packages declare rust versions");
        let not_compiled: Vec<String> = unfiltered
            .iter()
            .filter(|p| p.rust_version > workspace && !compiled.iter().any(|c| c.id == p.id))
            .map(|p| format!("{} ({})", p.name, p.rust_version))
            .collect();
        assert!(
            workspace >= needed.rust_version,
            "the workspace's rust-version {workspace} is older than {} needs ({}) on {target}: \
             raise it (Cargo.toml) and the image's toolchain ({DOCKERFILE}). Not compiled for \
             {target}, not counted: {not_compiled:?}",
            needed.name,
            needed.rust_version
        );
        println!(
            "{target}: image rust {toolchain} >= workspace {workspace} >= {} ({}); not compiled \
             here: {not_compiled:?}",
            needed.rust_version, needed.name
        );
    }

    // The binary built on the build stage's Debian runs on the runtime stage's (glibc).
    let runtime = stages.last().expect("a runtime stage");
    let runtime_debian = runtime
        .image
        .strip_prefix("debian:")
        .and_then(|tag| tag.split('-').next())
        .unwrap_or_else(|| {
            panic!("{DOCKERFILE}: the runtime stage should be debian:<release>-slim")
        });
    assert_eq!(
        debian, runtime_debian,
        "{DOCKERFILE}: build on the runtime's Debian release (glibc), not rust:{tag} for \
         {}",
        runtime.image
    );
}

/// What building rdkafka-sys always needs: a C compiler and make for librdkafka's configure and
/// make.
const RDKAFKA_BUILD: &[&str] = &["build-essential"];

/// What each rdkafka-sys feature needs to build (Debian packages of the build stage) and to run
/// (packages of the runtime stage). A feature missing here fails the test below: add what it needs
/// to the Dockerfile and here.
const RDKAFKA_FEATURES: &[(&str, &[&str], &[&str])] = &[
    ("default", &[], &[]),
    ("ssl", &["libssl-dev"], &["libssl3"]),
    ("openssl-sys", &["libssl-dev"], &["libssl3"]),
    ("libz", &["zlib1g-dev"], &["zlib1g"]),
    ("libz-sys", &["zlib1g-dev"], &["zlib1g"]),
    // zstd-sys builds zstd from source with a C compiler and links it statically.
    ("zstd", &["build-essential"], &[]),
    ("zstd-sys", &["build-essential"], &[]),
    ("cmake-build", &["cmake"], &[]),
    ("cmake", &["cmake"], &[]),
    ("gssapi", &["libsasl2-dev"], &["libsasl2-2"]),
    ("sasl2-sys", &["libsasl2-dev"], &["libsasl2-2"]),
    ("curl", &["libcurl4-openssl-dev"], &["libcurl4"]),
    ("curl-sys", &["libcurl4-openssl-dev"], &["libcurl4"]),
];

/// The image has what the rdkafka build of this workspace needs: the build stage installs the
/// compiler and headers each enabled rdkafka-sys feature needs (zstd: a C compiler, as zstd-sys
/// builds it from source), and the runtime stage the shared libraries the binary links.
#[test]
fn dockerfile_has_what_the_rdkafka_build_needs() {
    let stages = dockerfile_stages();
    let build = stages
        .iter()
        .find(|s| s.image.starts_with("rust:"))
        .expect("a build stage");
    let runtime = stages.last().expect("a runtime stage");
    let (build_packages, runtime_packages) = (build.apt_packages(), runtime.apt_packages());

    let metadata = cargo_metadata(Some(IMAGE_TARGETS[0]));
    let rdkafka_sys = metadata["resolve"]["nodes"]
        .as_array()
        .expect("cargo metadata resolves the graph")
        .iter()
        .find(|n| {
            n["id"]
                .as_str()
                .is_some_and(|id| id.contains("rdkafka-sys"))
        })
        .expect("rdkafka-sys is in the build");
    for package in RDKAFKA_BUILD {
        assert!(
            build_packages.contains(*package),
            "{DOCKERFILE}: the build stage should install {package} (librdkafka's configure and \
             make); it installs {build_packages:?}"
        );
    }
    let features = rdkafka_sys["features"]
        .as_array()
        .expect("features")
        .iter()
        .filter_map(|f| f.as_str());
    for feature in features {
        let (_, build_needs, runtime_needs) = RDKAFKA_FEATURES
            .iter()
            .find(|(name, _, _)| *name == feature)
            .unwrap_or_else(|| {
                panic!(
                    "rdkafka-sys feature {feature:?} is enabled: add the Debian packages it needs \
                     to build and to run to {DOCKERFILE} and to RDKAFKA_FEATURES"
                )
            });
        for package in *build_needs {
            assert!(
                build_packages.contains(*package),
                "{DOCKERFILE}: the build stage should install {package} (rdkafka-sys feature \
                 {feature:?}); it installs {build_packages:?}"
            );
        }
        for package in *runtime_needs {
            assert!(
                runtime_packages.contains(*package),
                "{DOCKERFILE}: the runtime stage should install {package} (rdkafka-sys feature \
                 {feature:?}); it installs {runtime_packages:?}"
            );
        }
    }
}
