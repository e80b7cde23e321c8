//! The core's [`Fetch`] over HTTPS (ureq, rustls with ring): the Image repository's metadata,
//! each file read with the byte limit the verifier gives, never more. No proxies and no retries:
//! the verifier must see exactly what the repository served.

use std::path::Path;
use std::time::Duration;

use uptane::repository::Fetch;
use ureq::Agent;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

use crate::error::{Error, Result};

/// Longest wait for a connection, and for a whole file.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const FILE_TIMEOUT: Duration = Duration::from_secs(30);

/// Metadata of one repository: `name` is appended to `BASE/metadata/`.
#[derive(Debug, Clone)]
pub struct HttpsFetch {
    agent: Agent,
    base: String,
}

impl HttpsFetch {
    /// A client of the repository at `url`, trusting the CA in `ca` (PEM) or else the public
    /// roots; `http://` only if `allow_http` (development).
    pub fn new(url: &str, ca: Option<&Path>, allow_http: bool) -> Result<HttpsFetch> {
        if !allow_http && !url.starts_with("https://") {
            return Err(Error::Config(format!("the Image repository URL must be https: {url}")));
        }
        let mut tls = TlsConfig::builder();
        if let Some(path) = ca {
            let pem = std::fs::read(path).map_err(|e| Error::io(path.display(), e))?;
            tls = tls.root_certs(RootCerts::new_with_certs(&certificates(&pem, path)?));
        }
        let agent = Agent::config_builder()
            .tls_config(tls.build())
            .https_only(!allow_http)
            .proxy(None)
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(FILE_TIMEOUT))
            .user_agent(concat!("uptane-director/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Ok(HttpsFetch { agent, base: format!("{}/metadata/", url.trim_end_matches('/')) })
    }
}

fn certificates(pem: &[u8], path: &Path) -> Result<Vec<Certificate<'static>>> {
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        match item {
            Ok(PemItem::Certificate(cert)) => certs.push(cert),
            Ok(_) => {}
            Err(e) => return Err(Error::Tls(format!("{}: {e}", path.display()))),
        }
    }
    if certs.is_empty() {
        return Err(Error::Tls(format!("{}: no certificate", path.display())));
    }
    Ok(certs)
}

impl Fetch for HttpsFetch {
    fn fetch(&mut self, name: &str, max_bytes: u64) -> uptane::Result<Vec<u8>> {
        let url = format!("{}{name}", self.base);
        let transport = |detail: String| uptane::Error::Transport { what: url.clone(), detail };
        let response = self.agent.get(&url).call().map_err(|e| transport(e.to_string()))?;
        match response.status().as_u16() {
            200 => {}
            404 => return Err(uptane::Error::NotFound { what: url }),
            status => return Err(transport(format!("HTTP {status}"))),
        }
        if response.body().content_length().is_some_and(|length| length > max_bytes) {
            return Err(uptane::Error::TooLarge { what: name.into(), limit: max_bytes });
        }
        response.into_body().with_config().limit(max_bytes).read_to_vec().map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => {
                uptane::Error::TooLarge { what: name.into(), limit: max_bytes }
            }
            other => transport(other.to_string()),
        })
    }
}
