//! TLS: a development CA and server certificate generated on first start into the service's
//! TLS directory (or files given by flags), served by rustls with the ring provider.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::danger::ClientCertVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{Error, Result};
use crate::keys::write_private;

/// The certificate and key files the server uses.
#[derive(Debug, Clone)]
pub struct ServerFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The development CA clients should trust, when the certificate is generated.
    pub ca: Option<PathBuf>,
}

/// The configured files (`cert` and `key`, when both are given), or the development ones in
/// `dir`, generated if missing: a CA named "`name` development CA" and a server certificate
/// for `name` on the loopback names.
pub fn ensure_server_files(
    cert: Option<&PathBuf>,
    key: Option<&PathBuf>,
    dir: &Path,
    name: &str,
) -> Result<ServerFiles> {
    if let (Some(cert), Some(key)) = (cert, key) {
        return Ok(ServerFiles { cert: cert.clone(), key: key.clone(), ca: None });
    }
    let files = ServerFiles {
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
        ca: Some(dir.join("ca.pem")),
    };
    if !files.cert.exists() || !files.key.exists() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), e))?;
        generate(dir, name).map_err(|e| Error::Tls(format!("generating certificates: {e}")))?;
        tracing::info!(ca = %dir.join("ca.pem").display(), "generated a development CA and server certificate");
    }
    Ok(files)
}

/// The parameters of a CA named `name` (rebuilding them with the CA's key issues certificates
/// that chain to it).
pub fn ca_params(name: &str) -> Result<CertificateParams, rcgen::Error> {
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, name);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ok(ca)
}

fn generate(dir: &Path, name: &str) -> Result<(), Box<dyn std::error::Error>> {
    let ca_key = KeyPair::generate()?;
    let ca = ca_params(&format!("{name} development CA"))?;
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, &ca_key);

    let server_key = KeyPair::generate()?;
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
    let mut server = CertificateParams::new(names)?;
    server.distinguished_name.push(DnType::CommonName, name);
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
/// `client_auth` makes the client certificate verifier, if any, with that provider; without
/// one no client certificates are asked for.
pub fn server_config(
    cert: &Path,
    key: &Path,
    client_auth: impl FnOnce(&Arc<CryptoProvider>) -> Result<Option<Arc<dyn ClientCertVerifier>>>,
) -> Result<ServerConfig> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| Error::Tls(format!("{}: {e}", cert.display())))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| Error::Tls(format!("{}: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = client_auth(&provider)?;
    let builder = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?;
    let builder = match verifier {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|e| Error::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
