//! A small HTTP(S) client for the Image repository's upload API (ureq over rustls with the ring
//! provider). keytool stays free of the vehicle-side client crates: it only needs bearer-token
//! PUTs, a GET asking whether the service holds a blob, and GETs of the public metadata.
//!
//! Every answer outside 2xx (404 where the caller expects it aside) becomes a [`Refusal`]
//! carrying the service's stable error code and message, because that is what a release
//! engineer needs to act on; transport failures stay errors.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use ureq::http::{Response, StatusCode};
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use ureq::{Agent, Body, SendBody};

use crate::error::{Error, Result};
use crate::fsutil;

/// Error bodies are small JSON documents; anything longer is cut.
const MAX_ERROR_BODY: u64 = 64 * 1024;

/// What the service said when it refused a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// `PUT /api/v1/metadata/targets`.
    pub request: String,
    pub status: u16,
    /// The service's stable code (`bad_signature`, `missing_blob`, ...), or `http_STATUS` when
    /// the body was not the service's JSON error.
    pub error: String,
    pub message: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: HTTP {} {}: {}", self.request, self.status, self.error, self.message)
    }
}

/// Why a push stopped: the service refused something, or it could not be done at all.
#[derive(Debug)]
pub enum PushError {
    Refused(Refusal),
    Failed(Error),
}

impl From<Error> for PushError {
    fn from(error: Error) -> PushError {
        PushError::Failed(error)
    }
}

impl From<uptane::Error> for PushError {
    fn from(error: uptane::Error) -> PushError {
        PushError::Failed(error.into())
    }
}

pub type PushResult<T> = std::result::Result<T, PushError>;

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    message: String,
}

/// A client for one service base URL and upload token.
pub struct Client {
    agent: Agent,
    base: String,
    authorization: String,
}

impl std::fmt::Debug for Client {
    // Never print the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base", &self.base).finish_non_exhaustive()
    }
}

impl Client {
    /// `ca`: PEM certificates to trust instead of the public roots (a development CA).
    pub fn new(url: &str, token: &str, ca: Option<&Path>) -> Result<Client> {
        let base = url.trim_end_matches('/').to_owned();
        if !base.starts_with("https://") && !base.starts_with("http://") {
            return Err(Error::Usage(format!("--server {url}: expected an https:// URL")));
        }
        if base.starts_with("http://") {
            tracing::warn!("{base}: plain HTTP sends the upload token in the clear");
        }
        if token.trim().is_empty() {
            return Err(Error::Usage("--token is empty".into()));
        }
        let mut tls = TlsConfig::builder();
        if let Some(ca) = ca {
            tls = tls.root_certs(RootCerts::new_with_certs(&read_certificates(ca)?));
        }
        let agent = Agent::config_builder()
            .tls_config(tls.build())
            .http_status_as_error(false)
            // A redirect of an authenticated PUT is never what the release engineer meant.
            .max_redirects(0)
            .timeout_connect(Some(Duration::from_secs(10)))
            // Publishing a large Targets file makes the service verify every entry first.
            .timeout_recv_response(Some(Duration::from_secs(300)))
            .user_agent(concat!("keytool/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Client { agent, base, authorization: format!("Bearer {}", token.trim()) })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// GETs a public file (`/metadata/...`): `None` on 404, at most `limit` bytes.
    pub fn get(&self, path: &str, limit: u64) -> PushResult<Option<Vec<u8>>> {
        let request = format!("GET {path}");
        let response =
            self.agent.get(self.url(path)).call().map_err(|e| self.transport(path, e))?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let body = self.success(&request, response)?;
        Ok(Some(read_body(body, limit, &request)?))
    }

    /// Whether the service already holds the blob with this sha256 (its upload API answers
    /// 404 for blobs never uploaded).
    pub fn has_blob(&self, sha256: &str) -> PushResult<bool> {
        let path = format!("/api/v1/blobs/{sha256}");
        let response = self
            .agent
            .get(self.url(&path))
            .header("Authorization", &self.authorization)
            .call()
            .map_err(|e| self.transport(&path, e))?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(false);
        }
        self.success(&format!("GET {path}"), response)?;
        Ok(true)
    }

    /// PUTs `length` bytes from `reader` with the upload token; returns the answer's body.
    pub fn put(&self, path: &str, length: u64, reader: impl Read + 'static) -> PushResult<Vec<u8>> {
        let request = format!("PUT {path}");
        let response = self
            .agent
            .put(self.url(path))
            .header("Authorization", &self.authorization)
            .header("Content-Length", length.to_string())
            .send(SendBody::from_owned_reader(reader))
            .map_err(|e| self.transport(path, e))?;
        let body = self.success(&request, response)?;
        Ok(read_body(body, MAX_ERROR_BODY, &request)?)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn transport(&self, path: &str, error: ureq::Error) -> PushError {
        let what = self.url(path);
        PushError::Failed(uptane::Error::Transport { what, detail: error.to_string() }.into())
    }

    /// The body of a 2xx answer; anything else is the service's refusal.
    fn success(&self, request: &str, response: Response<Body>) -> PushResult<Body> {
        let status = response.status();
        if status.is_success() {
            return Ok(response.into_body());
        }
        let bytes = read_body(response.into_body(), MAX_ERROR_BODY, request).unwrap_or_default();
        let (error, message) = match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => (body.error, body.message),
            Err(_) => (
                format!("http_{}", status.as_u16()),
                String::from_utf8_lossy(&bytes).trim().to_owned(),
            ),
        };
        Err(PushError::Refused(Refusal {
            request: request.to_owned(),
            status: status.as_u16(),
            error,
            message,
        }))
    }
}

fn read_body(body: Body, limit: u64, request: &str) -> Result<Vec<u8>> {
    body.into_with_config().limit(limit).read_to_vec().map_err(|e| {
        uptane::Error::Transport { what: request.to_owned(), detail: e.to_string() }.into()
    })
}

fn read_certificates(path: &Path) -> Result<Vec<Certificate<'static>>> {
    let pem = fsutil::read(path)?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(PemItem::Certificate(cert)) => certs.push(cert),
            Ok(_) => {}
            Err(e) => return Err(Error::Usage(format!("--ca {}: {e}", path.display()))),
        }
    }
    if certs.is_empty() {
        return Err(Error::Usage(format!("--ca {}: no PEM certificate in it", path.display())));
    }
    Ok(certs)
}
