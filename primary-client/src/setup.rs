//! Turning a [`Config`] into a running Primary: keys, TLS material, trust anchors.

use std::path::Path;

use uptane::crypto::PrivateKey;
use uptane::director::Vehicle;
use uptane::repository::Store;
use uptane::{Error, Result};

use crate::config::Config;
use crate::cycle::{Primary, PrimaryIdentity};
use crate::director::DirectorApi;
use crate::http::{HttpClient, HttpConfig};
use crate::progress::Progress;
use crate::state::ChainStore;

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io { what: path.display().to_string(), source })
}

/// The HTTPS client: the configured CAs, and the client certificate when `mutual` (every
/// request but provisioning, which is how the certificate is obtained).
pub fn http_client(config: &Config, mutual: bool) -> Result<HttpClient> {
    let mut ca_pem = Vec::new();
    for path in &config.ca {
        ca_pem.extend(read(path)?);
        ca_pem.push(b'\n');
    }
    let client_identity = if mutual {
        let (cert, key) = (config.client_cert_path(), config.client_key_path());
        if !cert.exists() {
            return Err(Error::NotFound {
                what: format!(
                    "client certificate {} (run `primary-client provision` first)",
                    cert.display()
                ),
            });
        }
        Some((read(&cert)?, read(&key)?))
    } else {
        None
    };
    HttpClient::new(&HttpConfig {
        ca_pem: (!ca_pem.is_empty()).then_some(ca_pem),
        client_identity,
        https_only: false,
        guard: config.limits.guard(),
    })
}

/// Copies the provisioned Roots into the state directory on first start (PR-16); later
/// starts keep the Roots the Primary has rotated to.
pub fn install_trust_anchors(config: &Config) -> Result<()> {
    for (repository, provisioned) in
        [("director", &config.director_root), ("image", &config.image_root)]
    {
        let mut store = ChainStore::new(config.state_dir.join(repository))?;
        if store.load("root.json")?.is_some() {
            continue;
        }
        let path = provisioned.as_ref().ok_or_else(|| Error::NotFound {
            what: format!(
                "a trusted {repository} root (set {repository}_root in the configuration)"
            ),
        })?;
        store.save("root.json", &read(path)?)?;
    }
    Ok(())
}

/// A Primary for `config`, with bars shown if `progress`.
pub fn primary(config: &Config, progress: Progress) -> Result<Primary> {
    install_trust_anchors(config)?;
    let key = PrivateKey::read(&config.primary_key)?;
    let client = http_client(config, true)?;
    let mut ecus = std::collections::BTreeMap::new();
    ecus.insert(config.primary_serial.clone(), config.hardware_id.clone());
    for secondary in &config.secondaries {
        ecus.insert(secondary.serial.clone(), secondary.hardware_id.clone());
    }
    Ok(Primary {
        identity: PrimaryIdentity {
            vehicle: Vehicle { vin: config.vin.clone(), ecus },
            serial: config.primary_serial.clone(),
            hardware_id: config.hardware_id.clone(),
            key,
        },
        director: DirectorApi::new(client.clone(), &config.director_url, config.vin.clone()),
        client,
        image_url: config.image_url.clone(),
        state_dir: config.state_dir.clone(),
        rules: config.limits.rules(),
        progress,
    })
}
