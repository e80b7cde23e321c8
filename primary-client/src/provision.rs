//! First-start provisioning with the Director (Standard 5.4.1; how production fleets are
//! built): the Primary makes its own TLS key and a certificate request naming its VIN,
//! presents the fleet provisioning credential with the vehicle's ECUs and their public keys,
//! and stores the client certificate the Director's fleet CA issues. The TLS key never leaves
//! the vehicle.

use std::path::Path;

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};
use serde::{Deserialize, Serialize};
use uptane::crypto::PublicKey;
use uptane::names::{EcuSerial, HardwareId, Vin};
use uptane::repository::write_atomically;
use uptane::{Error, Result};

use crate::http::{HttpClient, Method, directory_url};

/// One ECU as the Director's inventory records it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EcuRegistration {
    pub serial: EcuSerial,
    pub hardware_id: HardwareId,
    pub public_key: PublicKey,
}

/// `POST /provisioning` (bearer: the fleet provisioning credential).
#[derive(Debug, Clone, Serialize)]
pub struct ProvisionRequest {
    pub vin: Vin,
    pub primary: EcuSerial,
    pub ecus: Vec<EcuRegistration>,
    /// PEM PKCS#10 request for the vehicle's client certificate.
    pub csr: String,
}

/// What the Director answers.
#[derive(Debug, Clone, Deserialize)]
pub struct Issued {
    /// `registered`, `reissued` (same inventory again) or `reprovisioned`.
    pub outcome: String,
    /// PEM client certificate naming the VIN.
    pub certificate: String,
}

/// A TLS key (ECDSA P-256) and a certificate request naming `vin` as its DNS name, which is
/// what the Director's mutual TLS checks.
pub fn certificate_request(vin: &Vin) -> Result<(String, KeyPair)> {
    let tls = |e: rcgen::Error| Error::Other(format!("certificate request: {e}"));
    let key = KeyPair::generate().map_err(tls)?;
    let mut params = CertificateParams::new(vec![vin.to_string()]).map_err(tls)?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, vin.as_str());
    params.distinguished_name = name;
    let csr = params.serialize_request(&key).map_err(tls)?.pem().map_err(tls)?;
    Ok((csr, key))
}

/// Provisions the vehicle and writes the key (mode 0600) and certificate to `key_path` and
/// `cert_path`. `client` trusts the Director's server certificate and presents none.
pub fn provision(
    client: &HttpClient,
    director_url: &str,
    credential: &str,
    mut request: ProvisionRequest,
    cert_path: &Path,
    key_path: &Path,
) -> Result<Issued> {
    let (csr, key) = certificate_request(&request.vin)?;
    request.csr = csr;
    let url = format!("{}provisioning", directory_url(director_url));
    let body = serde_json::to_vec(&request).map_err(|e| Error::Other(e.to_string()))?;
    let reply =
        client.send(Method::Post, &url, &body, Some(credential), 64 * 1024, "provisioning")?;
    let issued: Issued = serde_json::from_slice(&reply).map_err(|e| Error::Transport {
        what: "provisioning".into(),
        detail: format!("unreadable answer: {e}"),
    })?;
    if !issued.certificate.contains("BEGIN CERTIFICATE") {
        return Err(Error::Transport {
            what: "provisioning".into(),
            detail: "the answer holds no PEM certificate".into(),
        });
    }
    for path in [cert_path, key_path] {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|source| Error::Io { what: dir.display().to_string(), source })?;
        }
    }
    write_private(key_path, key.serialize_pem().as_bytes())?;
    write_atomically(cert_path, issued.certificate.as_bytes())?;
    Ok(issued)
}

/// Writes a private key readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomically(path, bytes)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|source| Error::Io { what: path.display().to_string(), source })?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_request_names_the_vin_and_carries_the_key() {
        let vin = Vin::new("WVWZZZ1JZXW000001").unwrap();
        let (csr, key) = certificate_request(&vin).unwrap();
        let der = pem::parse(&csr).unwrap();
        assert_eq!(der.tag(), "CERTIFICATE REQUEST");
        let contains = |needle: &[u8]| der.contents().windows(needle.len()).any(|w| w == needle);
        assert!(contains(vin.as_str().as_bytes()));
        assert!(contains(key.public_key_raw()));
        let (_, other) = certificate_request(&vin).unwrap();
        assert!(!contains(other.public_key_raw()), "a fresh key per request");
    }
}
