//! TLS: a development CA and server certificate generated on first start into DATA/tls (or
//! files given by flags), served by rustls with the ring provider; and the fleet CA that
//! vehicles' client certificates chain to (mutual TLS). A client certificate names its VIN as
//! a DNS subject alternative name (and as its common name).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair};
use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use service_kit::tls::ca_params;

use crate::config::Config;
use crate::error::{Error, Rejections as _, Result};
use crate::keys::write_private;

const FLEET_CA_NAME: &str = "director-repo fleet CA";

/// The certificate and key files the server uses.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The development CA clients should trust, when the certificate is generated.
    pub ca: Option<PathBuf>,
    /// The CA that vehicles' client certificates must chain to.
    pub fleet_ca: PathBuf,
}

/// The configured files, or the development ones (generated if missing).
pub fn ensure_files(config: &Config) -> Result<TlsFiles> {
    let dir = config.dir("tls");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(dir.display(), e))?;
    let fleet_ca = match &config.client_ca {
        Some(path) => path.clone(),
        None => {
            let path = dir.join("fleet-ca.pem");
            if !path.exists() || !dir.join("fleet-ca.key").exists() {
                generate_fleet_ca(&dir)
                    .map_err(|e| Error::Tls(format!("generating the fleet CA: {e}")))?;
                tracing::info!(ca = %path.display(), "generated a development fleet CA");
            }
            path
        }
    };
    let server = service_kit::tls::ensure_server_files(
        config.tls_cert.as_ref(),
        config.tls_key.as_ref(),
        &dir,
        "director-repo",
    )?;
    Ok(TlsFiles { cert: server.cert, key: server.key, ca: server.ca, fleet_ca })
}

fn generate_fleet_ca(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let key = KeyPair::generate()?;
    let cert = ca_params(FLEET_CA_NAME)?.self_signed(&key)?;
    write_private(&dir.join("fleet-ca.key"), key.serialize_pem().as_bytes())?;
    uptane::repository::write_atomically(&dir.join("fleet-ca.pem"), cert.pem().as_bytes())?;
    Ok(())
}

/// A vehicle's client certificate and key, issued by the generated fleet CA (development:
/// the key is made on the server; production Primaries send a CSR, see [`issue_for_csr`]).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClientCertificate {
    pub certificate: String,
    pub private_key: String,
    pub fleet_ca: String,
}

/// A certificate issued for a vehicle's own key (from its CSR).
#[derive(Debug, Clone, serde::Serialize)]
pub struct IssuedCertificate {
    pub certificate: String,
    pub fleet_ca: String,
}

/// Issues a client certificate naming `vin`, with a key generated here. For development and
/// tests; Primaries provision with a CSR so their key never leaves the vehicle.
pub fn issue_client_certificate(config: &Config, vin: &str) -> Result<ClientCertificate> {
    let key = KeyPair::generate().map_err(tls)?;
    let issued = issue(config, vin, &key)?;
    Ok(ClientCertificate {
        certificate: issued.certificate,
        private_key: key.serialize_pem(),
        fleet_ca: issued.fleet_ca,
    })
}

/// Issues a client certificate naming `vin` for the public key of a PEM certificate signing
/// request. The CSR's signature must verify (proof that the requester holds the key); any
/// names or extensions it asks for are ignored: the certificate names the VIN only.
pub fn issue_for_csr(config: &Config, vin: &str, csr_pem: &str) -> Result<IssuedCertificate> {
    let csr = rcgen::CertificateSigningRequestParams::from_pem(csr_pem).map_err(|e| {
        crate::Rejection::bad_request(
            "bad_csr",
            format!("not a PEM certificate signing request with a valid signature: {e}"),
        )
    })?;
    issue(config, vin, &csr.public_key)
}

fn tls(e: rcgen::Error) -> Error {
    Error::Tls(e.to_string())
}

/// Signs a client certificate for `key` naming `vin` (common name and DNS subject alternative
/// name) with the generated fleet CA. A given `--client-ca` has its key elsewhere: refused.
fn issue(config: &Config, vin: &str, key: &impl rcgen::PublicKeyData) -> Result<IssuedCertificate> {
    if config.client_ca.is_some() {
        return Err(crate::Rejection::conflict(
            "no_fleet_ca_key",
            "the fleet CA is external (--client-ca): issue client certificates with it",
        )
        .into());
    }
    let dir = config.dir("tls");
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name)).map_err(|e| Error::io(dir.join(name).display(), e))
    };
    let (ca_pem, ca_key) = (read("fleet-ca.pem")?, read("fleet-ca.key")?);
    let ca_key = KeyPair::from_pem(&ca_key).map_err(tls)?;
    // The issuer is named by its distinguished name and identified by its key: rebuilding the
    // parameters the CA was made with issues certificates that chain to it.
    let issuer = Issuer::new(ca_params(FLEET_CA_NAME).map_err(tls)?, &ca_key);
    let mut params = CertificateParams::new(vec![vin.to_owned()]).map_err(tls)?;
    params.distinguished_name.push(DnType::CommonName, vin);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(key, &issuer).map_err(tls)?;
    Ok(IssuedCertificate { certificate: cert.pem(), fleet_ca: ca_pem })
}

/// A rustls server configuration from PEM files (ring provider, never the process default).
/// Client certificates are verified against the fleet CA when presented; the operator's admin
/// API needs none (it takes a bearer token), vehicle routes require one.
pub fn server_config(files: &TlsFiles) -> Result<ServerConfig> {
    service_kit::tls::server_config(&files.cert, &files.key, |provider| {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(&files.fleet_ca)
            .map_err(|e| Error::Tls(format!("{}: {e}", files.fleet_ca.display())))?
        {
            let cert =
                cert.map_err(|e| Error::Tls(format!("{}: {e}", files.fleet_ca.display())))?;
            roots.add(cert).map_err(|e| Error::Tls(e.to_string()))?;
        }
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .allow_unauthenticated()
                .build()
                .map_err(|e| Error::Tls(e.to_string()))?;
        Ok(Some(verifier))
    })
}

/// The names a verified client certificate presents (DNS subject alternative names), kept in
/// the connection's data.
#[derive(Debug, Clone, Default)]
pub struct ClientIdentity {
    pub names: Vec<String>,
}

/// Reads the client certificate of a TLS connection (already verified by rustls).
pub fn client_identity(connection: &dyn std::any::Any) -> Option<ClientIdentity> {
    type Tls = actix_tls::accept::rustls_0_23::TlsStream<actix_web::rt::net::TcpStream>;
    let stream = connection.downcast_ref::<Tls>()?;
    let (_, session) = stream.get_ref();
    let leaf = session.peer_certificates()?.first()?;
    let cert = webpki::EndEntityCert::try_from(leaf).ok()?;
    Some(ClientIdentity { names: cert.valid_dns_names().map(str::to_owned).collect() })
}
