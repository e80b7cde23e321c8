//! Prometheus text metrics (`GET /metrics`): requests by endpoint kind and status, accepted
//! check-ins (manifests), rejections by error code, signatures made by role, and how polls were
//! answered (from memory, from the database, or newly signed).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::keys::ROLES;

#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    rejections: Mutex<BTreeMap<&'static str, u64>>,
    checkins: AtomicU64,
    signatures: [AtomicU64; 4],
    polls: [AtomicU64; 3],
    resigned: AtomicU64,
}

/// How a request for a vehicle's timestamp was answered.
#[derive(Debug, Clone, Copy)]
pub enum Poll {
    /// The bytes in memory: no database read of metadata, no signature, no encoding.
    Cached = 0,
    /// Adopted from the database (signed by another process or before a restart).
    Stored = 1,
    /// A new bundle was signed.
    Signed = 2,
}

const POLLS: [&str; 3] = ["cached", "stored", "signed"];

/// Which endpoint family a path belongs to.
pub fn kind_of(path: &str) -> &'static str {
    if path.starts_with("/vehicles/") {
        if path.ends_with("/manifest") { "manifest" } else { "metadata" }
    } else if path == "/time" {
        "time"
    } else if path == "/provisioning" {
        "provisioning"
    } else if path.starts_with("/api/") {
        "api"
    } else if path == "/metrics" {
        "metrics"
    } else {
        "other"
    }
}

fn bump<K: Ord>(map: &Mutex<BTreeMap<K, u64>>, key: K) {
    *map.lock().unwrap_or_else(|e| e.into_inner()).entry(key).or_default() += 1;
}

impl Metrics {
    pub fn count_request(&self, kind: &'static str, status: u16) {
        bump(&self.requests, (kind, status));
        if kind == "manifest" && status == 200 {
            self.checkins.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A request refused with the stable `code`.
    pub fn count_rejection(&self, code: &'static str) {
        bump(&self.rejections, code);
    }

    pub fn count_signature(&self, role: &str) {
        if let Some(i) = ROLES.iter().position(|r| *r == role) {
            self.signatures[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn count_poll(&self, how: Poll) {
        self.polls[how as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_resigned(&self) {
        self.resigned.fetch_add(1, Ordering::Relaxed);
    }

    /// Signatures made so far for `role`.
    pub fn signatures(&self, role: &str) -> u64 {
        ROLES
            .iter()
            .position(|r| *r == role)
            .map_or(0, |i| self.signatures[i].load(Ordering::Relaxed))
    }

    pub fn render(&self) -> String {
        let head = |name: &str, help: &str| {
            format!("# HELP director_repo_{name} {help}\n# TYPE director_repo_{name} counter\n")
        };
        let mut text = head("requests_total", "HTTP requests by endpoint kind and status.");
        for ((kind, status), n) in self.requests.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(
                text,
                "director_repo_requests_total{{kind=\"{kind}\",status=\"{status}\"}} {n}"
            );
        }
        text += &head("checkins_total", "Vehicle manifests accepted.");
        let _ = writeln!(
            text,
            "director_repo_checkins_total {}",
            self.checkins.load(Ordering::Relaxed)
        );
        text += &head("rejections_total", "Requests refused, by error code.");
        for (code, n) in self.rejections.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(text, "director_repo_rejections_total{{code=\"{code}\"}} {n}");
        }
        text += &head("signatures_total", "Signatures made with the online keys, by role.");
        for (role, n) in ROLES.iter().zip(&self.signatures) {
            let _ = writeln!(
                text,
                "director_repo_signatures_total{{role=\"{role}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
        text += &head("polls_total", "Timestamp requests by how they were answered.");
        for (how, n) in POLLS.iter().zip(&self.polls) {
            let _ = writeln!(
                text,
                "director_repo_polls_total{{answer=\"{how}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
        text += &head(
            "resigned_total",
            "Vehicle bundles re-signed by the background task before expiry.",
        );
        let _ = writeln!(
            text,
            "director_repo_resigned_total {}",
            self.resigned.load(Ordering::Relaxed)
        );
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_its_labels() {
        let metrics = Metrics::default();
        metrics.count_request("manifest", 200);
        metrics.count_request("manifest", 400);
        metrics.count_rejection("bad_signature");
        metrics.count_signature("targets");
        metrics.count_poll(Poll::Cached);
        let text = metrics.render();
        assert!(text.contains("director_repo_requests_total{kind=\"manifest\",status=\"400\"} 1"));
        assert!(text.contains("director_repo_checkins_total 1\n"));
        assert!(text.contains("director_repo_rejections_total{code=\"bad_signature\"} 1"));
        assert!(text.contains("director_repo_signatures_total{role=\"targets\"} 1"));
        assert!(text.contains("director_repo_signatures_total{role=\"time\"} 0"));
        assert!(text.contains("director_repo_polls_total{answer=\"cached\"} 1"));
        assert!(text.contains("# TYPE director_repo_rejections_total counter"));
        assert_eq!(kind_of("/vehicles/V/metadata/timestamp.json"), "metadata");
        assert_eq!(kind_of("/vehicles/V/manifest"), "manifest");
    }
}
