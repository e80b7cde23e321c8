//! The Director's vehicle interface (DESIGN.md), over mutual TLS: the vehicle's own metadata,
//! its version manifests, and time attestations.

use serde::Serialize;
use serde_json::Value;
use uptane::names::Vin;
use uptane::{Error, Result};

use crate::http::{HttpClient, HttpFetcher, Method, directory_url};

/// The largest answer the Director gives to a manifest or a time request.
const MAX_REPLY_BYTES: u64 = 64 * 1024;

/// One vehicle's view of the Director.
#[derive(Debug, Clone)]
pub struct DirectorApi {
    client: HttpClient,
    base: String,
    vin: Vin,
}

#[derive(Serialize)]
struct TimeRequest<'a> {
    nonces: &'a [String],
}

impl DirectorApi {
    pub fn new(client: HttpClient, base_url: &str, vin: Vin) -> DirectorApi {
        DirectorApi { client, base: directory_url(base_url), vin }
    }

    /// The vehicle's metadata, for the repository verifier.
    pub fn metadata(&self) -> HttpFetcher {
        let url = format!("{}vehicles/{}/metadata/", self.base, self.vin);
        HttpFetcher::new(self.client.clone(), &url)
    }

    /// `PUT /vehicles/VIN/manifest`; returns the Director's receipt.
    pub fn send_manifest(&self, manifest: &[u8]) -> Result<Value> {
        let url = format!("{}vehicles/{}/manifest", self.base, self.vin);
        let reply = self.client.send(
            Method::Put,
            &url,
            manifest,
            None,
            MAX_REPLY_BYTES,
            "vehicle manifest",
        )?;
        serde_json::from_slice(&reply).map_err(|e| Error::Transport {
            what: "vehicle manifest".into(),
            detail: format!("unreadable receipt: {e}"),
        })
    }

    /// `POST /time`: a signed attestation of the current time over `nonces` (verified by the
    /// caller against the trusted Director Root).
    pub fn attest_time(&self, nonces: &[String]) -> Result<Vec<u8>> {
        let body =
            serde_json::to_vec(&TimeRequest { nonces }).map_err(|e| Error::Other(e.to_string()))?;
        let url = format!("{}time", self.base);
        self.client.send(Method::Post, &url, &body, None, MAX_REPLY_BYTES, "time attestation")
    }
}
