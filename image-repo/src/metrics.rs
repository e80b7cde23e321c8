//! Prometheus text metrics: requests by kind and status class, publishes by outcome, and the
//! published versions.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use crate::published::Published;

#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    publishes: Mutex<BTreeMap<(String, String), u64>>,
}

/// Which endpoint family a path belongs to.
pub fn kind_of(path: &str) -> &'static str {
    if path.starts_with("/metadata/") {
        "metadata"
    } else if path.starts_with("/targets/") {
        "targets"
    } else if path.starts_with("/api/") {
        "api"
    } else if path == "/metrics" {
        "metrics"
    } else {
        "other"
    }
}

impl Metrics {
    pub fn count_request(&self, kind: &'static str, status: u16) {
        *self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((kind, status))
            .or_default() += 1;
    }

    /// `result` is `accepted` or the rejection code.
    pub fn count_publish(&self, role: &str, result: &str) {
        let role = if matches!(role, "root" | "targets" | "snapshot" | "timestamp") {
            role
        } else {
            "delegated"
        };
        *self
            .publishes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((role.to_owned(), result.to_owned()))
            .or_default() += 1;
    }

    pub fn render(&self, published: &Published) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP image_repo_requests_total HTTP requests by endpoint kind and status.\n",
        );
        out.push_str("# TYPE image_repo_requests_total counter\n");
        for ((kind, status), n) in self.requests.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(
                out,
                "image_repo_requests_total{{kind=\"{kind}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP image_repo_publish_total Publish attempts by role and result.\n");
        out.push_str("# TYPE image_repo_publish_total counter\n");
        for ((role, result), n) in self.publishes.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(
                out,
                "image_repo_publish_total{{role=\"{role}\",result=\"{result}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP image_repo_published_version Current version of each top-level role.\n",
        );
        out.push_str("# TYPE image_repo_published_version gauge\n");
        for role in ["root", "targets", "snapshot", "timestamp"] {
            let _ = writeln!(
                out,
                "image_repo_published_version{{role=\"{role}\"}} {}",
                published.version(role)
            );
        }
        out
    }
}
