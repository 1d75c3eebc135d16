//! TLS on the cluster port: the server's configuration, and the one client configuration every
//! outgoing connection uses (the Raft transport, join and leave, the control API's fan-out to other
//! nodes, the `strait` CLI).

use strait_config::ClusterTls;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity, ServerTlsConfig};

/// The cluster port's TLS: this node's certificate, and clients' certificates checked against the
/// CA (required unless `require_client_cert` is false).
pub fn server_config(tls: &ClusterTls) -> ServerTlsConfig {
    ServerTlsConfig::new()
        .identity(Identity::from_pem(&tls.cert.pem, &tls.key.pem))
        .client_ca_root(Certificate::from_pem(&tls.ca.pem))
        .client_auth_optional(!tls.require_client_cert)
}

/// A client's TLS: trust the certificates of `ca` (PEM bundle), present `identity` (certificate
/// chain and key, PEM) when given, and check the server's certificate for `server_name`, else for
/// the host of the address connected to.
pub fn client_config(
    ca: &[u8],
    identity: Option<(&[u8], &[u8])>,
    server_name: Option<&str>,
) -> ClientTlsConfig {
    let mut config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca));
    if let Some((cert, key)) = identity {
        config = config.identity(Identity::from_pem(cert, key));
    }
    if let Some(name) = server_name {
        config = config.domain_name(name);
    }
    config
}

/// How this node connects to the others: their certificates checked against its CA, its own
/// certificate presented.
pub fn node_client_config(tls: &ClusterTls) -> ClientTlsConfig {
    client_config(
        &tls.ca.pem,
        Some((&tls.cert.pem, &tls.key.pem)),
        tls.server_name.as_deref(),
    )
}

/// An endpoint for `address` (`HOST:PORT`): `http://` without TLS, `https://` with it.
pub fn endpoint(
    address: &str,
    tls: Option<&ClientTlsConfig>,
) -> Result<Endpoint, tonic::transport::Error> {
    match tls {
        None => Endpoint::from_shared(format!("http://{address}")),
        Some(tls) => Endpoint::from_shared(format!("https://{address}"))?.tls_config(tls.clone()),
    }
}
