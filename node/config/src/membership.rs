//! The cluster settings of a node ([`ClusterMembership`]), shared by both loaders: parsing of each
//! value (the loaders report a failure as [`ConfigError::InvalidValue`] with their key and line),
//! then [`membership`], which applies the rules between values and the defaults.
//!
//! Syntax:
//! - a node id is a whole number, at least 1;
//! - `listen` is `IP:PORT` (an address to bind: no host name);
//! - `advertise`, `join` and peer addresses are `HOST:PORT`: a DNS name, an IPv4 address or a
//!   bracketed IPv6 address (`[fd00::1]:7070`), never `0.0.0.0` / `[::]` (no other node can use
//!   those);
//! - a peer is `ID@HOST:PORT`;
//! - ports are 1 to 65535 (no port 0: the address must be known to be advertised);
//! - a cluster id is 1 to 255 letters, digits, `.`, `_` or `-`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::assemble::Sourced;
use crate::error::{ConfigError, Location, Place};
use crate::model::{
    ClusterMembership, ClusterTls, Peer, PemFile, DEFAULT_CLUSTER_ID, DEFAULT_LISTEN,
    DEFAULT_LIVENESS_TIMEOUT, DEFAULT_NODE_ID, DEFAULT_POSITION_INTERVAL, MIN_LIVENESS_TIMEOUT,
    MIN_POSITION_INTERVAL,
};

pub(crate) const EXPECT_NODE_ID: &str =
    "a node id: a whole number, at least 1 (0 is not a node id)";
pub(crate) const EXPECT_LISTEN: &str = "IP:PORT, the local address to listen on, e.g. \
    0.0.0.0:7070 or [::]:7070 (an IP address, not a host name; port 1 to 65535)";
pub(crate) const EXPECT_ADDRESS: &str = "HOST:PORT that other nodes can reach, e.g. \
    strait-0.strait:7070, 10.0.0.1:7070 or [fd00::1]:7070 (not 0.0.0.0 or [::]; port 1 to 65535)";
pub(crate) const EXPECT_PEER: &str = "ID@HOST:PORT, e.g. 1@10.0.0.1:7070 or 2@strait-1.strait:7070";
pub(crate) const EXPECT_PEER_ID: &str =
    "ID@HOST:PORT with a node id of at least 1 (0 is not a node id), e.g. 1@10.0.0.1:7070";
pub(crate) const EXPECT_PEER_ADDRESS: &str = "ID@HOST:PORT with an address other nodes can \
    reach (not 0.0.0.0 or [::]; port 1 to 65535), e.g. 1@10.0.0.1:7070";
pub(crate) const EXPECT_CLUSTER_ID: &str =
    "a cluster id of 1 to 255 letters, digits, '.', '_' or '-'";
pub(crate) const EXPECT_LIVENESS_TIMEOUT: &str = "a whole number of milliseconds, at least 500";
pub(crate) const EXPECT_POSITION_INTERVAL: &str = "a whole number of milliseconds, at least 100";

/// A node id in a TOML file (an integer, or a string from the environment read as one).
pub(crate) fn node_id(n: i64) -> Result<u64, &'static str> {
    u64::try_from(n)
        .ok()
        .filter(|&n| n >= 1)
        .ok_or(EXPECT_NODE_ID)
}

/// A node id written as text (`mm2.properties`, peers).
pub(crate) fn parse_node_id(text: &str) -> Result<u64, &'static str> {
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|&n| n >= 1)
        .ok_or(EXPECT_NODE_ID)
}

/// `IP:PORT` to bind.
pub(crate) fn parse_listen(text: &str) -> Result<SocketAddr, &'static str> {
    text.trim()
        .parse::<SocketAddr>()
        .ok()
        .filter(|a| a.port() != 0)
        .ok_or(EXPECT_LISTEN)
}

/// `HOST:PORT` other nodes can reach, returned trimmed; the error says what is expected.
pub fn parse_address(text: &str) -> Result<String, &'static str> {
    let text = text.trim();
    let (host, port) = text.rsplit_once(':').ok_or(EXPECT_ADDRESS)?;
    // `u16::from_str` accepts a leading `+`: digits only.
    let port_ok = !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u16>().is_ok_and(|p| p != 0);
    if !port_ok || !valid_host(host) {
        return Err(EXPECT_ADDRESS);
    }
    Ok(text.to_owned())
}

/// A DNS name, an IPv4 address or a bracketed IPv6 address, not the unspecified address.
fn valid_host(host: &str) -> bool {
    let ip: Option<IpAddr> = match host.strip_prefix('[') {
        Some(inner) => match inner.strip_suffix(']').map(str::parse::<Ipv6Addr>) {
            Some(Ok(v6)) => Some(IpAddr::V6(v6)),
            _ => return false,
        },
        None => {
            let name_ok = !host.is_empty()
                && !host.starts_with(['.', '-'])
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
            if !name_ok {
                return false;
            }
            host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
        }
    };
    !ip.is_some_and(|ip| ip.is_unspecified())
}

/// `ID@HOST:PORT`.
pub(crate) fn parse_peer(text: &str) -> Result<Peer, &'static str> {
    let (id, address) = text.trim().split_once('@').ok_or(EXPECT_PEER)?;
    let id = id.trim();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EXPECT_PEER);
    }
    let id = parse_node_id(id).map_err(|_| EXPECT_PEER_ID)?;
    let address = parse_address(address).map_err(|_| EXPECT_PEER_ADDRESS)?;
    Ok(Peer { id, address })
}

/// Each item of a peer list; on error, the item that is wrong and what was expected.
pub(crate) fn parse_peers(items: &[String]) -> Result<Vec<Peer>, (String, &'static str)> {
    items
        .iter()
        .map(|item| parse_peer(item).map_err(|expected| (item.trim().to_owned(), expected)))
        .collect()
}

pub(crate) const EXPECT_CONTROL_TOKEN: &str =
    "16 to 4096 visible ASCII characters (no spaces): a bearer token for the control API";

/// A control API bearer token: long enough not to be guessed, and sendable as an HTTP header.
pub(crate) fn parse_control_token(text: &str) -> Result<String, &'static str> {
    let text = text.trim();
    let ok = (16..=4096).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(text.to_owned())
    } else {
        Err(EXPECT_CONTROL_TOKEN)
    }
}

pub(crate) fn parse_cluster_id(text: &str) -> Result<String, &'static str> {
    let text = text.trim();
    let ok = (1..=255).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
    if ok {
        Ok(text.to_owned())
    } else {
        Err(EXPECT_CLUSTER_ID)
    }
}

fn millis_at_least(n: i64, min: Duration) -> Option<Duration> {
    u64::try_from(n)
        .ok()
        .map(Duration::from_millis)
        .filter(|d| *d >= min)
}

pub(crate) fn liveness_timeout(n: i64) -> Result<Duration, &'static str> {
    millis_at_least(n, MIN_LIVENESS_TIMEOUT).ok_or(EXPECT_LIVENESS_TIMEOUT)
}

pub(crate) fn position_interval(n: i64) -> Result<Duration, &'static str> {
    millis_at_least(n, MIN_POSITION_INTERVAL).ok_or(EXPECT_POSITION_INTERVAL)
}

pub(crate) const EXPECT_PEM_PATH: &str = "the path of a PEM file";
pub(crate) const EXPECT_SERVER_NAME: &str =
    "a DNS name or IP address that peers' certificates are checked for, e.g. strait.internal";
pub(crate) const EXPECT_CERT_PEM: &str =
    "a PEM file with at least one certificate (-----BEGIN CERTIFICATE-----)";
pub(crate) const EXPECT_KEY_PEM: &str =
    "a PEM file with a private key (-----BEGIN PRIVATE KEY----- or RSA/EC PRIVATE KEY)";

/// The path of a PEM file (not read here: see [`read_tls_files`]).
pub(crate) fn parse_pem_path(text: &str) -> Result<PathBuf, &'static str> {
    let text = text.trim();
    if text.is_empty() {
        return Err(EXPECT_PEM_PATH);
    }
    Ok(PathBuf::from(text))
}

/// A name a certificate is checked for: a DNS name or an IP address (IPv6 without brackets).
pub(crate) fn parse_server_name(text: &str) -> Result<String, &'static str> {
    let text = text.trim();
    let ok = text.parse::<Ipv6Addr>().is_ok() || (valid_host(text) && !text.starts_with('['));
    if ok {
        Ok(text.to_owned())
    } else {
        Err(EXPECT_SERVER_NAME)
    }
}

/// Reads the PEM files of `[cluster.tls]`: a missing or unreadable file, or one without what it
/// must hold, is an error naming the key that names it and the path.
pub(crate) fn read_tls_files(file: &Path, tls: &mut ClusterTls) -> Result<(), ConfigError> {
    let checks: [(&mut PemFile, &str, &[&str]); 3] = [
        (
            &mut tls.cert,
            EXPECT_CERT_PEM,
            &["-----BEGIN CERTIFICATE-----"],
        ),
        (&mut tls.key, EXPECT_KEY_PEM, &["PRIVATE KEY-----"]),
        (
            &mut tls.ca,
            EXPECT_CERT_PEM,
            &["-----BEGIN CERTIFICATE-----"],
        ),
    ];
    for (pem, expected, markers) in checks {
        let at = Location::at(file, pem.place.clone());
        let bytes = std::fs::read(&pem.path).map_err(|cause| ConfigError::UnreadableFile {
            at: at.clone(),
            key: pem.setting.clone(),
            path: pem.path.clone(),
            cause,
        })?;
        let text = String::from_utf8_lossy(&bytes);
        if !markers.iter().any(|marker| text.contains(marker)) {
            return Err(ConfigError::InvalidValue {
                at,
                key: pem.setting.clone(),
                value: pem.path.display().to_string(),
                expected: expected.to_owned(),
            });
        }
        pem.pem = bytes;
    }
    Ok(())
}

/// The cluster values one file (and its environment overrides) sets, each already parsed; `None` =
/// not set.
#[derive(Debug, Default)]
pub(crate) struct MembershipValues {
    pub node_id: Option<Sourced<u64>>,
    pub listen: Option<Sourced<SocketAddr>>,
    pub advertise: Option<Sourced<String>>,
    pub peers: Option<Sourced<Vec<Peer>>>,
    pub join: Option<Sourced<String>>,
    pub cluster_id: Option<String>,
    pub liveness_timeout: Option<Duration>,
    pub position_interval: Option<Duration>,
    pub control_token: Option<String>,
    pub health_listen: Option<SocketAddr>,
    pub tls_cert: Option<Sourced<PathBuf>>,
    pub tls_key: Option<Sourced<PathBuf>>,
    pub tls_ca: Option<Sourced<PathBuf>>,
    pub tls_require_client_cert: Option<bool>,
    pub tls_server_name: Option<String>,
}

/// How one format names the settings that messages may ask to set.
pub(crate) struct MembershipKeys {
    pub node_id: &'static str,
    pub advertise: &'static str,
    pub listen: &'static str,
    pub cluster_id: &'static str,
    pub tls_cert: &'static str,
    pub tls_key: &'static str,
    pub tls_ca: &'static str,
    /// Appended to the message asking for a node id (e.g. how to set it from the environment).
    pub node_id_hint: &'static str,
}

/// `` `key` ``, `` `key` (line N) `` or `` `key` (from VARIABLE) ``.
pub(crate) fn place<T>(value: &Sourced<T>) -> String {
    match &value.place {
        Place::Line(line) => format!("`{}` (line {line})", value.key),
        Place::Env(variable) => format!("`{}` (from {variable})", value.key),
        Place::File => format!("`{}`", value.key),
    }
}

fn list(peers: &[Peer]) -> String {
    peers
        .iter()
        .map(Peer::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn conflict<T>(file: &Path, at: &Sourced<T>, value: String, reason: String) -> ConfigError {
    ConfigError::Conflict {
        at: Location::at(file, at.place.clone()),
        key: at.key.clone(),
        value,
        reason,
    }
}

fn same_address(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The port of an address [`parse_address`] accepted.
fn port_of(address: &str) -> Option<u16> {
    address.rsplit_once(':').and_then(|(_, p)| p.parse().ok())
}

/// Advice about values that are valid but risky: a cluster of several nodes (several peers, or a
/// node joining one) that leaves its id at the default, which every such cluster shares.
pub(crate) fn warnings(values: &MembershipValues, keys: &MembershipKeys) -> Vec<String> {
    let peers = values.peers.as_ref().map_or(0, |p| p.value.len());
    let several_nodes = peers > 1 || values.join.is_some();
    if values.cluster_id.is_some() || !several_nodes {
        return Vec::new();
    }
    vec![format!(
        "{} is not set; this cluster uses the default id \"{DEFAULT_CLUSTER_ID}\", like every \
         cluster that sets none: set a distinct id per cluster so a node never joins the wrong \
         cluster",
        keys.cluster_id
    )]
}

/// Checks the rules between the values and fills in the defaults (see [`ClusterMembership`]).
pub(crate) fn membership(
    file: &Path,
    mut values: MembershipValues,
    keys: &MembershipKeys,
) -> Result<ClusterMembership, ConfigError> {
    let peers_list = values
        .peers
        .as_ref()
        .map_or(&[][..], |p| p.value.as_slice());

    if let (Some(join), Some(peers)) = (&values.join, &values.peers) {
        if !peers.value.is_empty() {
            return Err(conflict(
                file,
                join,
                join.value.clone(),
                format!(
                    "`{}` and {} are mutually exclusive: peers bootstrap a new cluster, join \
                     enters a running one; set only one",
                    join.key,
                    place(peers)
                ),
            ));
        }
    }

    if let Some(peers) = &values.peers {
        for (i, peer) in peers.value.iter().enumerate() {
            let earlier = &peers.value[..i];
            if let Some(other) = earlier.iter().find(|p| p.id == peer.id) {
                return Err(conflict(
                    file,
                    peers,
                    list(&peers.value),
                    format!(
                        "node id {} is listed twice ({other} and {peer}): each node has its own id",
                        peer.id
                    ),
                ));
            }
            if let Some(other) = earlier
                .iter()
                .find(|p| same_address(&p.address, &peer.address))
            {
                return Err(conflict(
                    file,
                    peers,
                    list(&peers.value),
                    format!(
                        "address {} is listed twice (nodes {} and {}): each node has its own \
                         address",
                        peer.address, other.id, peer.id
                    ),
                ));
            }
        }
    }

    let several_nodes = peers_list.len() > 1 || values.join.is_some();
    let node_id = match &values.node_id {
        Some(id) => id.value,
        None if several_nodes => {
            let why = match &values.join {
                Some(join) => format!("{} is set", place(join)),
                None => "the peer list has several nodes".to_owned(),
            };
            return Err(ConfigError::MissingKey {
                at: Location::new(file, None),
                key: keys.node_id.to_owned(),
                hint: format!(
                    "{why}, and each node of a cluster needs its own id (the default {} would \
                     be the same on every node){}",
                    DEFAULT_NODE_ID, keys.node_id_hint
                ),
            });
        }
        None => DEFAULT_NODE_ID,
    };

    let own_peer = match &values.peers {
        Some(peers) if !peers.value.is_empty() => {
            let own = peers.value.iter().find(|p| p.id == node_id);
            if own.is_none() {
                let source = match &values.node_id {
                    Some(id) => format!("from {}", place(id)),
                    None => format!("the default: `{}` is not set", keys.node_id),
                };
                let ids: Vec<String> = peers.value.iter().map(|p| p.id.to_string()).collect();
                return Err(conflict(
                    file,
                    peers,
                    list(&peers.value),
                    format!(
                        "the peer list does not include this node (id {node_id}, {source}): list \
                         every initial voter, this node included, or set this node's id to one \
                         of {}",
                        ids.join(", ")
                    ),
                ));
            }
            own
        }
        _ => None,
    };

    if let (Some(own), Some(advertise)) = (own_peer, &values.advertise) {
        if !same_address(&own.address, &advertise.value) {
            let peers = values.peers.as_ref().expect("own_peer comes from peers");
            return Err(conflict(
                file,
                advertise,
                advertise.value.clone(),
                format!(
                    "this node (id {node_id}) is {own} in {}: its advertised address must be its \
                     peer address {}, or leave `{}` unset to use it",
                    place(peers),
                    own.address,
                    advertise.key
                ),
            ));
        }
    }

    // This node's address as other nodes know it, when the file says.
    let own_address = values
        .advertise
        .as_ref()
        .map(|a| a.value.clone())
        .or_else(|| own_peer.map(|p| p.address.clone()));
    let listen = match (&values.listen, &own_address) {
        (Some(listen), _) => listen.value,
        (None, Some(address)) => SocketAddr::new(
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port_of(address).expect("addresses are validated with a port"),
        ),
        (None, None) => DEFAULT_LISTEN,
    };
    let advertise = match own_address {
        Some(address) => address,
        None => {
            // A joining node is reached at the address it registers. Without `advertise` that is
            // its listen address, which must then be set, and not a wildcard: the default
            // (127.0.0.1:7070) would register an address nobody meant, and the node would
            // stay dead in the cluster's eyes with no error.
            if let Some(join) = &values.join {
                let why = if values.listen.is_none() {
                    format!(
                        "neither it nor `{}` is set (the default listen address {listen} is only \
                         for a single node)",
                        keys.listen
                    )
                } else if listen.ip().is_unspecified() {
                    format!("the listen address {listen} is a wildcard, not one it can use")
                } else {
                    String::new()
                };
                if !why.is_empty() {
                    return Err(ConfigError::MissingKey {
                        at: Location::at(file, join.place.clone()),
                        key: keys.advertise.to_owned(),
                        hint: format!(
                            "{} is set, so the cluster must be told how to reach this node \
                             (HOST:PORT), and {why}; set `{}`, or `{}` to the address other \
                             nodes reach",
                            place(join),
                            keys.advertise,
                            keys.listen
                        ),
                    });
                }
            }
            listen.to_string()
        }
    };

    if let Some(join) = &values.join {
        if same_address(&join.value, &advertise) {
            return Err(conflict(
                file,
                join,
                join.value.clone(),
                "this is this node's own address: join through another member of the running \
                 cluster"
                    .to_owned(),
            ));
        }
    }

    let tls = tls(file, &mut values, keys)?;
    Ok(ClusterMembership {
        node_id,
        listen,
        advertise,
        peers: values.peers.map(|p| p.value).unwrap_or_default(),
        join: values.join.map(|j| j.value),
        cluster_id: values
            .cluster_id
            .unwrap_or_else(|| DEFAULT_CLUSTER_ID.to_owned()),
        liveness_timeout: values.liveness_timeout.unwrap_or(DEFAULT_LIVENESS_TIMEOUT),
        position_interval: values
            .position_interval
            .unwrap_or(DEFAULT_POSITION_INTERVAL),
        control_token: values.control_token,
        tls,
        health_listen: values.health_listen,
    })
}

/// `[cluster.tls]`: nothing set is no TLS; anything set needs the certificate, its key and the CA.
fn tls(
    file: &Path,
    values: &mut MembershipValues,
    keys: &MembershipKeys,
) -> Result<Option<ClusterTls>, ConfigError> {
    let any = values.tls_cert.is_some()
        || values.tls_key.is_some()
        || values.tls_ca.is_some()
        || values.tls_require_client_cert.is_some()
        || values.tls_server_name.is_some();
    if !any {
        return Ok(None);
    }
    let take = |value: Option<Sourced<PathBuf>>, key: &str| match value {
        Some(sourced) => Ok(PemFile {
            path: sourced.value,
            setting: sourced.key,
            place: sourced.place,
            pem: Vec::new(),
        }),
        None => Err(ConfigError::MissingKey {
            at: Location::new(file, None),
            key: key.to_owned(),
            hint: format!(
                "TLS on the cluster port needs `{}` (this node's certificate), `{}` (its key) and \
                 `{}` (the CA peers' certificates are checked against)",
                keys.tls_cert, keys.tls_key, keys.tls_ca
            ),
        }),
    };
    Ok(Some(ClusterTls {
        cert: take(values.tls_cert.take(), keys.tls_cert)?,
        key: take(values.tls_key.take(), keys.tls_key)?,
        ca: take(values.tls_ca.take(), keys.tls_ca)?,
        require_client_cert: values.tls_require_client_cert.unwrap_or(true),
        server_name: values.tls_server_name.take(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids() {
        assert_eq!(node_id(1), Ok(1));
        assert_eq!(node_id(0), Err(EXPECT_NODE_ID));
        assert_eq!(node_id(-3), Err(EXPECT_NODE_ID));
        assert_eq!(parse_node_id(" 7 "), Ok(7));
        assert_eq!(parse_node_id("18446744073709551615"), Ok(u64::MAX));
        for bad in ["0", "-1", "", "one", "1.5"] {
            assert_eq!(parse_node_id(bad), Err(EXPECT_NODE_ID), "{bad}");
        }
    }

    #[test]
    fn listen_addresses() {
        assert_eq!(
            parse_listen("0.0.0.0:7070"),
            Ok("0.0.0.0:7070".parse().unwrap())
        );
        assert_eq!(parse_listen(" [::]:9 "), Ok("[::]:9".parse().unwrap()));
        for bad in [
            "localhost:7070",
            "0.0.0.0",
            "1.2.3.4:0",
            "1.2.3.4:70000",
            "",
        ] {
            assert_eq!(parse_listen(bad), Err(EXPECT_LISTEN), "{bad}");
        }
    }

    #[test]
    fn reachable_addresses() {
        for good in [
            "10.0.0.1:7070",
            "strait-0.strait.ns.svc.cluster.local:7070",
            "[fd00::1]:7070",
            "Node_1:1",
            " a:65535 ",
        ] {
            assert_eq!(parse_address(good).as_deref(), Ok(good.trim()), "{good}");
        }
        for bad in [
            "10.0.0.1",
            ":7070",
            "a:",
            "a:0",
            "a:+7",
            "a:65536",
            "a b:7070",
            "fd00::1:7070",
            "[fd00::1:7070",
            "[nope]:7070",
            "0.0.0.0:7070",
            "[::]:7070",
            "-a:7070",
            "http://a:7070",
        ] {
            assert_eq!(parse_address(bad), Err(EXPECT_ADDRESS), "{bad}");
        }
    }

    #[test]
    fn peers() {
        assert_eq!(
            parse_peer(" 2@strait-1.strait:7070 "),
            Ok(Peer {
                id: 2,
                address: "strait-1.strait:7070".to_owned()
            })
        );
        assert_eq!(
            parse_peer("3@[fd00::3]:1").unwrap().to_string(),
            "3@[fd00::3]:1"
        );
        assert_eq!(parse_peer("0@a:7070"), Err(EXPECT_PEER_ID));
        assert_eq!(parse_peer("1@a"), Err(EXPECT_PEER_ADDRESS));
        assert_eq!(parse_peer("1@0.0.0.0:7070"), Err(EXPECT_PEER_ADDRESS));
        for bad in ["a:7070", "@a:7070", "x@a:7070", "-1@a:7070", "1:a:7070"] {
            assert_eq!(parse_peer(bad), Err(EXPECT_PEER), "{bad}");
        }
        let items = vec!["1@a:1".to_owned(), " 2@b ".to_owned()];
        assert_eq!(
            parse_peers(&items),
            Err(("2@b".to_owned(), EXPECT_PEER_ADDRESS))
        );
    }

    #[test]
    fn cluster_ids_and_durations() {
        assert_eq!(
            parse_cluster_id(" prod-eu.1_a "),
            Ok("prod-eu.1_a".to_owned())
        );
        for bad in ["", "a b", "é", &"x".repeat(256)] {
            assert_eq!(parse_cluster_id(bad), Err(EXPECT_CLUSTER_ID), "{bad}");
        }
        assert_eq!(liveness_timeout(500), Ok(Duration::from_millis(500)));
        assert_eq!(liveness_timeout(499), Err(EXPECT_LIVENESS_TIMEOUT));
        assert_eq!(liveness_timeout(-1), Err(EXPECT_LIVENESS_TIMEOUT));
        assert_eq!(position_interval(100), Ok(Duration::from_millis(100)));
        assert_eq!(position_interval(99), Err(EXPECT_POSITION_INTERVAL));
        // The messages agree with the constants.
        assert!(EXPECT_LIVENESS_TIMEOUT
            .ends_with(&format!("at least {}", MIN_LIVENESS_TIMEOUT.as_millis())));
        assert!(EXPECT_POSITION_INTERVAL
            .ends_with(&format!("at least {}", MIN_POSITION_INTERVAL.as_millis())));
    }

    #[test]
    fn the_model_default_is_what_an_empty_section_gives() {
        let keys = MembershipKeys {
            node_id: "node_id",
            advertise: "advertise",
            listen: "listen",
            cluster_id: "cluster_id",
            tls_cert: "tls.cert",
            tls_key: "tls.key",
            tls_ca: "tls.ca",
            node_id_hint: "",
        };
        let loaded = membership(Path::new("f"), MembershipValues::default(), &keys).unwrap();
        assert_eq!(loaded, ClusterMembership::default());
        assert_eq!(loaded.advertise, "127.0.0.1:7070");
        assert_eq!(
            loaded.initial_voters(),
            [Peer {
                id: 1,
                address: "127.0.0.1:7070".to_owned()
            }]
        );
    }
}
