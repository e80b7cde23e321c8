//! TLS: a development CA and server certificate generated on first start into DATA/tls (or
//! files given by flags), served by rustls with the ring provider.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::keys::write_private;

/// The certificate and key files the server uses.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The development CA clients should trust, when the certificate is generated.
    pub ca: Option<PathBuf>,
}

/// The configured files, or the development ones (generated if missing).
pub fn ensure_files(config: &Config) -> Result<TlsFiles> {
    if let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) {
        return Ok(TlsFiles { cert: cert.clone(), key: key.clone(), ca: None });
    }
    let dir = config.dir("tls");
    let files = TlsFiles {
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
        ca: Some(dir.join("ca.pem")),
    };
    if !files.cert.exists() || !files.key.exists() {
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(dir.display(), e))?;
        generate(&dir).map_err(|e| Error::Tls(format!("generating certificates: {e}")))?;
        tracing::info!(ca = %dir.join("ca.pem").display(), "generated a development CA and server certificate");
    }
    Ok(files)
}

fn generate(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "image-repo development CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, &ca_key);

    let server_key = KeyPair::generate()?;
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
    let mut server = CertificateParams::new(names)?;
    server.distinguished_name.push(DnType::CommonName, "image-repo");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server.signed_by(&server_key, &issuer)?;

    uptane::repository::write_atomically(&dir.join("ca.pem"), ca_cert.pem().as_bytes())?;
    write_private(&dir.join("ca.key"), ca_key.serialize_pem().as_bytes())?;
    let chain = format!("{}{}", server_cert.pem(), ca_cert.pem());
    uptane::repository::write_atomically(&dir.join("server.pem"), chain.as_bytes())?;
    write_private(&dir.join("server.key"), server_key.serialize_pem().as_bytes())?;
    Ok(())
}

/// A rustls server configuration from PEM files (ring provider, never the process default).
pub fn server_config(files: &TlsFiles) -> Result<ServerConfig> {
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| Error::Tls(format!("{}: {e}", files.cert.display())))?;
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| Error::Tls(format!("{}: {e}", files.key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| Error::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
