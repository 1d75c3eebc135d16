//! Certificates for TLS tests, generated at test time (no key is committed): a CA, and
//! certificates it signs for nodes and clients, written as PEM files into a temp dir.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

/// A certificate and its key, as PEM files.
#[derive(Debug, Clone)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A CA that signs certificates valid for `127.0.0.1` and `localhost`; its files live as long as
/// it does.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    /// The CA's certificate (PEM), what peers check certificates against.
    pub ca_pem: String,
    pub ca_file: PathBuf,
    dir: tempfile::TempDir,
}

impl TestCa {
    /// A new CA called `name`.
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("a CA key");
        let cert = params.self_signed(&key).expect("a self-signed CA");
        let dir = crate::strait::temp_dir(&format!("strait-tls-{name}-"));
        let ca_pem = cert.pem();
        let ca_file = dir.path().join("ca.crt");
        std::fs::write(&ca_file, &ca_pem).expect("writing the CA file");
        TestCa {
            issuer: Issuer::new(params, key),
            ca_pem,
            ca_file,
            dir,
        }
    }

    /// A certificate for `name` (its common name), valid for `127.0.0.1` and `localhost`, as
    /// server and as client.
    pub fn issue(&self, name: &str) -> CertFiles {
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .expect("certificate params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate().expect("a key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("a signed certificate");
        let files = CertFiles {
            cert: self.dir.path().join(format!("{name}.crt")),
            key: self.dir.path().join(format!("{name}.key")),
        };
        std::fs::write(&files.cert, cert.pem()).expect("writing a certificate");
        std::fs::write(&files.key, key.serialize_pem()).expect("writing a key");
        files
    }

    /// The directory the files are written to.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// A client TLS configuration trusting `ca` (PEM), presenting `identity` when given.
pub fn client_config(ca: &Path, identity: Option<&CertFiles>) -> ClientTlsConfig {
    let read = |path: &Path| std::fs::read(path).expect("reading a PEM file");
    let mut config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(ca)));
    if let Some(files) = identity {
        config = config.identity(Identity::from_pem(read(&files.cert), read(&files.key)));
    }
    config
}
