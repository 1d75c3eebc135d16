//! The entry points: [`load`] picks the format from the file's extension; [`load_text`] reads a
//! text in a given format (what the control API's `ApplyConfig` receives).

use std::collections::HashMap;
use std::path::Path;

use crate::error::ConfigError;
use crate::model::Settings;
use crate::{mm2, native};

/// Loads and validates a configuration file: `.properties` is read as MirrorMaker 2's
/// `mm2.properties`, `.toml` as Strait's native format, both with `STRAIT__*` environment
/// overrides. Any other extension is an error naming the file.
pub fn load(path: &Path) -> Result<Settings, ConfigError> {
    load_with_env(path, None)
}

/// [`load`], with the environment overrides taken from `env` instead of the process environment
/// (so tests do not race on global state).
pub(crate) fn load_with_env(
    path: &Path,
    env: Option<HashMap<String, String>>,
) -> Result<Settings, ConfigError> {
    let mut settings = match Format::of_path(path) {
        Some(Format::Properties) => {
            let text = read(path, true)?;
            mm2::parse(path, &text, env)
        }
        Some(Format::Toml) => {
            let text = read(path, false)?;
            native::parse(path, &text, env)
        }
        None => Err(ConfigError::UnknownFormat {
            file: path.to_path_buf(),
        }),
    }?;
    if let Some(tls) = &mut settings.cluster.tls {
        crate::membership::read_tls_files(path, tls)?;
    }
    Ok(settings)
}

/// The two formats a configuration is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// MirrorMaker 2's `mm2.properties`.
    Properties,
    /// Strait's native TOML.
    Toml,
}

impl Format {
    /// The format of a file by its extension (`.properties`, `.toml`, any case).
    pub fn of_path(path: &Path) -> Option<Format> {
        let extension = path.extension()?.to_string_lossy().to_ascii_lowercase();
        Self::of_name(&extension)
    }

    /// `properties` or `toml` (any case).
    pub fn of_name(name: &str) -> Option<Format> {
        match name.to_ascii_lowercase().as_str() {
            "properties" => Some(Format::Properties),
            "toml" => Some(Format::Toml),
            _ => None,
        }
    }
}

/// Reads and validates a configuration given as text, exactly as [`load`] reads a file of
/// `format`, except that a text gets no `STRAIT__*` environment overrides (the text is the whole
/// configuration). `origin` stands for the file in messages (`origin:line: ...`). The files
/// `[cluster.tls]` names are not read (they are this node's, and a text's node settings are not
/// applied).
pub fn load_text(origin: &Path, format: Format, text: &str) -> Result<Settings, ConfigError> {
    match format {
        Format::Properties => mm2::parse(origin, text, Some(HashMap::new())),
        Format::Toml => native::parse(origin, text, Some(HashMap::new())),
    }
}

/// The file's text. Java reads `.properties` files as ISO-8859-1, so one that is not UTF-8 is
/// decoded that way rather than rejected.
fn read(path: &Path, latin1_fallback: bool) -> Result<String, ConfigError> {
    let error = |cause| ConfigError::Read {
        file: path.to_path_buf(),
        cause,
    };
    let bytes = std::fs::read(path).map_err(error)?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(e) if latin1_fallback => Ok(e.into_bytes().iter().map(|&b| char::from(b)).collect()),
        Err(e) => Err(error(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            e.utf8_error(),
        ))),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::model::{ClusterMembership, LogFormat};

    /// [`super::load`] without the process environment's `STRAIT__*` variables.
    fn load(path: &Path) -> Result<Settings, ConfigError> {
        load_with_env(path, Some(HashMap::new()))
    }

    fn example(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(name)
    }

    fn write(dir: &tempfile::TempDir, name: &str, text: &[u8]) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn picks_the_format_by_extension() {
        let dir = tempfile::tempdir().unwrap();
        let properties = write(
            &dir,
            "mm2.properties",
            b"clusters = A, B\nA.bootstrap.servers = a\nB.bootstrap.servers = b\nA->B.enabled = true\n",
        );
        assert_eq!(load(&properties).unwrap().flows.len(), 1);
        let toml = write(
            &dir,
            "strait.TOML",
            b"[clusters.A]\nbootstrap_servers = \"a\"\n[clusters.B]\nbootstrap_servers = \"b\"\n[flows.\"A->B\"]\n",
        );
        assert_eq!(
            load_with_env(&toml, Some(HashMap::new()))
                .unwrap()
                .flows
                .len(),
            1
        );
    }

    #[test]
    fn a_text_loads_like_a_file_of_its_format() {
        let dir = tempfile::tempdir().unwrap();
        let text = "clusters = A, B\nA.bootstrap.servers = a\nB.bootstrap.servers = b\n\
                    A->B.enabled = true\nA->B.topics = orders.*\n";
        let path = write(&dir, "mm2.properties", text.as_bytes());
        let from_file = load(&path).unwrap();
        let from_text = load_text(Path::new("content"), Format::Properties, text).unwrap();
        assert_eq!(from_file.shared_config(), from_text.shared_config());
        assert_eq!(Format::of_path(&path), Some(Format::Properties));
        assert_eq!(Format::of_name("TOML"), Some(Format::Toml));
        assert_eq!(Format::of_name("yaml"), None);

        // Errors name the origin and, for .properties, the line.
        let bad = "clusters = A, B\nA.bootstrap.servers = a\nB.bootstrap.servers = b\n\
                   A->B.enabled = maybe\n";
        let msg = load_text(Path::new("content"), Format::Properties, bad)
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("content:4: "), "{msg}");
        assert!(msg.contains("A->B.enabled"), "{msg}");
        let msg = load_text(
            Path::new("content"),
            Format::Toml,
            "[flows.x]\ntopicz = 1\n",
        )
        .unwrap_err()
        .to_string();
        assert!(msg.starts_with("content:2: "), "{msg}");
        assert!(msg.contains("flows.x.topicz"), "{msg}");
    }

    #[test]
    fn unknown_extension_names_the_file() {
        let err = load(Path::new("/etc/strait/strait.yaml")).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, ConfigError::UnknownFormat { .. }));
        assert!(msg.contains("/etc/strait/strait.yaml"), "{msg}");
        assert!(
            msg.contains(".properties") && msg.contains(".toml"),
            "{msg}"
        );
        assert!(load(Path::new("/etc/strait/config")).is_err());
    }

    #[test]
    fn unreadable_file_names_the_file_and_the_os_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.properties");
        let msg = load(&missing).unwrap_err().to_string();
        assert!(msg.contains(&missing.display().to_string()), "{msg}");
        assert!(msg.contains("No such file or directory"), "{msg}");

        let directory = dir.path().join("dir.toml");
        std::fs::create_dir(&directory).unwrap();
        let msg = load(&directory).unwrap_err().to_string();
        assert!(msg.contains("dir.toml"), "{msg}");
        assert!(msg.starts_with("cannot read"), "{msg}");
    }

    #[test]
    fn properties_that_are_not_utf8_are_read_as_latin1_like_java() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "mm2.properties",
            b"# caf\xe9\nclusters = A, B\nA.bootstrap.servers = a\nB.bootstrap.servers = b\nA->B.enabled = true\nA.client.id = caf\xe9\n",
        );
        let settings = load(&path).unwrap();
        assert_eq!(settings.flows[0].consumer["client.id"], "café");
    }

    #[test]
    fn the_examples_load() {
        let minimal = load(&example("mm2-minimal.properties")).unwrap();
        assert_eq!(minimal.flows.len(), 1);
        assert!(minimal.ignored.is_empty(), "{:?}", minimal.ignored);

        let active = load(&example("mm2-active-active.properties")).unwrap();
        let ids: Vec<String> = active.flows.iter().map(|f| f.id.to_string()).collect();
        assert_eq!(ids, ["A->B", "B->A"]);
        let ab = &active.flows[0];
        assert_eq!(ab.consumer["sasl.username"], "mirror-a");
        assert_eq!(ab.producer["sasl.username"], "mirror-b");
        assert_eq!(ab.consumer["ssl.ca.location"], "/etc/strait/ca.pem");
        assert_eq!(ab.consumer["security.protocol"], "SASL_SSL");
        assert_eq!(ab.consumer["isolation.level"], "read_committed");
        assert_eq!(ab.replication_factor, Some(3));
        assert!(!ab.topics.matches("orders-test"));
        assert!(ab.topics.matches("orders"));
        assert!(
            ab.topics.matches("orders-replica"),
            "\\. in the file is a literal dot"
        );
        assert!(!ab.topics.matches("orders.replica"));
        assert_eq!(active.node.log_format, LogFormat::Json);
        assert_eq!(active.cluster.node_id, 1);
        assert_eq!(active.cluster.peers.len(), 3);
        assert_eq!(active.cluster.advertise, "strait-1.example.com:7070");
        assert_eq!(active.cluster.listen.to_string(), "0.0.0.0:7070");
        assert_eq!(active.cluster.cluster_id, "mirror-ab");
        assert_eq!(minimal.cluster, ClusterMembership::default());
        let ignored: Vec<&str> = active.ignored.iter().map(|i| i.key.as_str()).collect();
        assert!(
            ignored.is_empty(),
            "the MM2 fail-over keys are all read now: {ignored:?}"
        );

        let native = load_with_env(&example("strait.toml"), Some(HashMap::new())).unwrap();
        assert_eq!(native.flows.len(), 1);
        let flow = &native.flows[0];
        assert_eq!(flow.id.to_string(), "A->B");
        assert_eq!(flow.replication_factor, Some(3));
        assert_eq!(flow.consumer["isolation.level"], "read_committed");
        assert_eq!(flow.consumer["fetch.wait.max.ms"], "10");
        assert_eq!(flow.producer["compression.type"], "lz4");
        assert!(flow
            .config_properties_exclude
            .is_match("min.insync.replicas"));
        assert!(native.ignored.is_empty(), "{:?}", native.ignored);
        let pairs: Vec<String> = native
            .pair_heartbeats
            .iter()
            .map(|p| format!("{} {}", p.id, p.enabled))
            .collect();
        assert_eq!(
            pairs,
            ["B->A true"],
            "the disabled B->A flow writes heartbeats"
        );
        assert_eq!(native.cluster, ClusterMembership::default());

        let node1 = load_with_env(&example("strait-node1.toml"), Some(HashMap::new())).unwrap();
        let cluster = &node1.cluster;
        assert_eq!(cluster.node_id, 1);
        assert_eq!(cluster.peers.len(), 3);
        assert_eq!(
            cluster.advertise,
            "strait-0.strait.mirror.svc.cluster.local:7070"
        );
        assert_eq!(cluster.listen.to_string(), "0.0.0.0:7070");
        assert_eq!(cluster.cluster_id, "mirror-eu");
        assert!(node1.ignored.is_empty(), "{:?}", node1.ignored);
        // The same file on the pod of node 3, its id from the environment.
        let env = HashMap::from([("STRAIT__CLUSTER__NODE_ID".to_owned(), "3".to_owned())]);
        let node3 = load_with_env(&example("strait-node1.toml"), Some(env)).unwrap();
        assert_eq!(node3.cluster.node_id, 3);
        assert_eq!(
            node3.cluster.advertise,
            "strait-2.strait.mirror.svc.cluster.local:7070"
        );
    }

    /// One set of `STRAIT__*` variables means the same to a `.properties` file and to the
    /// equivalent TOML file: the node, its place in the cluster, and the Kafka clusters come out
    /// equal.
    #[test]
    fn the_same_variables_mean_the_same_in_both_formats() {
        let dir = tempfile::tempdir().unwrap();
        let properties = write(
            &dir,
            "mm2.properties",
            b"clusters = A, B\nA.bootstrap.servers = a:9092\nB.bootstrap.servers = b:9092\n\
              A->B.enabled = true\n",
        );
        let toml = write(
            &dir,
            "strait.toml",
            b"[clusters.A]\nbootstrap_servers = \"a:9092\"\n[clusters.B]\n\
              bootstrap_servers = \"b:9092\"\n[flows.\"A->B\"]\n",
        );
        let env: HashMap<String, String> = [
            ("STRAIT__NODE__DATA_DIR", "/var/lib/strait"),
            ("STRAIT__NODE__LOG_FORMAT", "json"),
            ("STRAIT__NODE__PROGRESS_INTERVAL_SECS", "0"),
            ("STRAIT__NODE__METRICS_LISTEN", "127.0.0.1:9464"),
            ("STRAIT__CLUSTER__NODE_ID", "2"),
            ("STRAIT__CLUSTER__LISTEN", "0.0.0.0:7171"),
            ("STRAIT__CLUSTER__ADVERTISE", "strait-1.strait:7171"),
            ("STRAIT__CLUSTER__JOIN", "strait-0.strait:7171"),
            ("STRAIT__CLUSTER__CLUSTER_ID", "mirror-ab"),
            ("STRAIT__CLUSTER__LIVENESS_TIMEOUT_MS", "4000"),
            ("STRAIT__CLUSTER__POSITION_INTERVAL_MS", "500"),
            ("STRAIT__CLUSTER__CONTROL_TOKEN", "0123456789abcdef-token"),
            ("STRAIT__CLUSTER__HEALTH_LISTEN", "0.0.0.0:7080"),
            ("STRAIT__CLUSTERS__A__BOOTSTRAP_SERVERS", "a1:9092,a2:9092"),
            ("STRAIT__CLUSTERS__A__CLIENT__SASL_PASSWORD", "pw"),
            ("STRAIT__CLUSTERS__B__PRODUCER__LINGER_MS", "5"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let from_properties = load_with_env(&properties, Some(env.clone())).unwrap();
        let from_toml = load_with_env(&toml, Some(env)).unwrap();
        assert_eq!(from_properties.node, from_toml.node);
        assert_eq!(from_properties.cluster, from_toml.cluster);
        assert_eq!(from_properties.clusters, from_toml.clusters);
        assert_eq!(
            from_properties.flows[0].consumer,
            from_toml.flows[0].consumer
        );
        assert_eq!(
            from_properties.flows[0].producer,
            from_toml.flows[0].producer
        );
        assert_eq!(from_properties.cluster.node_id, 2);
        assert_eq!(
            from_properties.cluster.control_token.as_deref(),
            Some("0123456789abcdef-token")
        );
    }

    const FLOW_TOML: &str = "[clusters.A]\nbootstrap_servers = \"a\"\n[clusters.B]\n\
                             bootstrap_servers = \"b\"\n[flows.\"A->B\"]\n";
    const CERT: &[u8] = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    const KEY: &[u8] = b"-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";

    /// A directory with a certificate, its key and a CA file.
    fn tls_files() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        write(&dir, "node.crt", CERT);
        write(&dir, "node.key", KEY);
        write(&dir, "ca.crt", CERT);
        dir
    }

    fn toml_with_tls(dir: &tempfile::TempDir, tls: &str) -> PathBuf {
        let d = dir.path().display();
        let text =
            format!("{FLOW_TOML}[cluster]\nhealth_listen = \"0.0.0.0:7080\"\n[cluster.tls]\n{tls}")
                .replace("$D", &d.to_string());
        write(dir, "strait.toml", text.as_bytes())
    }

    #[test]
    fn tls_files_are_read_at_load_in_both_formats() {
        let dir = tls_files();
        let toml = toml_with_tls(
            &dir,
            "cert = \"$D/node.crt\"\nkey = \"$D/node.key\"\nca = \"$D/ca.crt\"\n",
        );
        let cluster = load_with_env(&toml, Some(HashMap::new())).unwrap().cluster;
        assert_eq!(cluster.health_listen, Some("0.0.0.0:7080".parse().unwrap()));
        let tls = cluster.tls.expect("tls is set");
        assert_eq!(tls.cert.pem, CERT);
        assert_eq!(tls.key.pem, KEY);
        assert_eq!(tls.ca.pem, CERT);
        assert!(tls.require_client_cert, "mutual TLS by default");
        assert_eq!(tls.server_name, None);
        // The key never shows in debug output.
        assert!(!format!("{tls:?}").contains("MIIE"));

        let d = dir.path().display();
        let properties = write(
            &dir,
            "mm2.properties",
            format!(
                "clusters = A, B\nA.bootstrap.servers = a\nB.bootstrap.servers = b\n\
                 A->B.enabled = true\nstrait.cluster.health.listen = 0.0.0.0:7080\n\
                 strait.cluster.tls.cert = {d}/node.crt\nstrait.cluster.tls.key = {d}/node.key\n\
                 strait.cluster.tls.ca = {d}/ca.crt\n\
                 strait.cluster.tls.require.client.cert = false\n\
                 strait.cluster.tls.server.name = strait.internal\n"
            )
            .as_bytes(),
        );
        let cluster = load(&properties).unwrap().cluster;
        assert_eq!(cluster.health_listen, Some("0.0.0.0:7080".parse().unwrap()));
        let tls = cluster.tls.expect("tls is set");
        assert_eq!(tls.key.pem, KEY);
        assert!(!tls.require_client_cert);
        assert_eq!(tls.server_name.as_deref(), Some("strait.internal"));
    }

    #[test]
    fn tls_errors_name_the_key_and_the_path() {
        let dir = tls_files();
        let d = dir.path().display().to_string();
        let file = dir.path().join("strait.toml");
        let f = file.display();
        let error = |tls: &str| {
            let toml = toml_with_tls(&dir, tls);
            load_with_env(&toml, Some(HashMap::new()))
                .unwrap_err()
                .to_string()
        };
        let missing = error("cert = \"$D/node.crt\"\nkey = \"$D/nope.key\"\nca = \"$D/ca.crt\"\n");
        assert!(
            missing.starts_with(&format!(
                "{f}:10: `cluster.tls.key`: cannot read {d}/nope.key: "
            )),
            "{missing}"
        );
        let not_a_cert =
            error("cert = \"$D/node.key\"\nkey = \"$D/node.key\"\nca = \"$D/ca.crt\"\n");
        assert_eq!(
            not_a_cert,
            format!(
                "{f}:9: invalid value \"{d}/node.key\" for `cluster.tls.cert`: expected a PEM \
                 file with at least one certificate (-----BEGIN CERTIFICATE-----)"
            )
        );
        let no_ca = error("cert = \"$D/node.crt\"\nkey = \"$D/node.key\"\n");
        assert!(
            no_ca.starts_with(&format!("{f}: `cluster.tls.ca` is required: ")),
            "{no_ca}"
        );
        let bad_name = error("server_name = \"a b\"\n");
        assert!(bad_name.contains("`cluster.tls.server_name`"), "{bad_name}");
        let unknown = error("certificate = \"x\"\n");
        assert!(unknown.contains("certificate"), "{unknown}");
    }

    #[test]
    fn an_applied_text_does_not_read_tls_files() {
        let text = format!(
            "{FLOW_TOML}[cluster.tls]\ncert = \"/nowhere/a.crt\"\nkey = \"/nowhere/a.key\"\n\
             ca = \"/nowhere/ca.crt\"\n"
        );
        let settings = load_text(Path::new("applied"), Format::Toml, &text).unwrap();
        let tls = settings.cluster.tls.expect("tls is set");
        assert!(tls.cert.pem.is_empty());
    }
}
