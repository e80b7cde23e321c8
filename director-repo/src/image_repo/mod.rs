//! The Image repository, read by the Director as a verifying client (DESIGN, data flow step 2):
//! the same core verifier vehicles run ([`Updater`] with [`Rules::uptane`]), from a root
//! provisioned by configuration. An image is assigned only if the verified metadata lists it,
//! through delegations that serve the ECU's hardware id, with that hardware id among its
//! `hardwareIds`; the Director's entry is then copied from the verified one (DR-13), never
//! taken from the operator. The trusted state (DATA_DIR/image-repo) persists between
//! refreshes, so the Image repository can no more roll the Director back than a vehicle.

mod fetch;

use std::sync::Mutex;

use chrono::Utc;
use uptane::metadata::{TargetCustom, TargetFile};
use uptane::names::{HardwareId, TargetPath};
use uptane::repository::{DirStore, Rules, Store, TrustedSet, Updater};

pub use self::fetch::HttpsFetch;
use crate::config::Config;
use crate::error::{Error, Rejection, Rejections as _, Result};

/// A verifying client of the Image repository.
#[derive(Debug)]
pub struct ImageRepo {
    fetch: HttpsFetch,
    /// The trusted metadata; held for the length of a refresh and lookup.
    store: Mutex<DirStore>,
}

impl ImageRepo {
    /// The configured Image repository, if any. On first start the provisioned root (it must
    /// verify by its own threshold) seeds the trusted state.
    pub fn open(config: &Config) -> Result<Option<ImageRepo>> {
        let (Some(url), Some(root)) = (&config.image_repo_url, &config.image_repo_root) else {
            return Ok(None);
        };
        let fetch = HttpsFetch::new(url, config.image_repo_ca.as_deref(), config.insecure_http)?;
        let mut store = DirStore::new(config.dir("image-repo"))?;
        if store.load("root.json")?.is_none() {
            let bytes = std::fs::read(root).map_err(|e| Error::io(root.display(), e))?;
            TrustedSet::new(&bytes, Utc::now(), Rules::uptane()).map_err(|e| {
                Error::Config(format!("the Image repository root {}: {e}", root.display()))
            })?;
            store.save("root.json", &bytes)?;
        }
        tracing::info!(url, "reading the Image repository");
        Ok(Some(ImageRepo { fetch, store: Mutex::new(store) }))
    }

    /// Refreshes the trusted metadata and returns the Director's entry for `path` on an ECU
    /// of `hardware`: `image_not_found` if no role that may sign it lists it,
    /// `hardware_id_mismatch` if it is not for that hardware.
    pub fn director_entry(&self, path: &TargetPath, hardware: &HardwareId) -> Result<TargetFile> {
        let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        let mut updater =
            Updater::new(self.fetch.clone(), store.clone(), Utc::now(), Rules::uptane())
                .map_err(unverified)?;
        updater.refresh().map_err(unverified)?;
        let entry = match updater.find_target(path.as_str(), Some(hardware.as_str())) {
            Ok(Some(found)) => found.file,
            Ok(None) => {
                // Listed under delegations for other hardware only, or not at all?
                let elsewhere = updater.find_target(path.as_str(), None).map_err(unverified)?;
                return Err(match elsewhere {
                    Some(found) => mismatch(path, hardware, &found.role),
                    None => Rejection::not_found(
                        "image_not_found",
                        format!("the Image repository does not list {path}"),
                    ),
                }
                .into());
            }
            Err(e) => return Err(unverified(e)),
        };
        drop(store);
        let custom = entry.uptane(path.as_str())?;
        let hardware_ids = custom.hardware_ids.unwrap_or_default();
        if !hardware_ids.contains(hardware) {
            return Err(Rejection::bad_request(
                "hardware_id_mismatch",
                format!(
                    "{path} is not for hardware {hardware} (its hardwareIds: {})",
                    hardware_ids.iter().map(HardwareId::as_str).collect::<Vec<_>>().join(", ")
                ),
            )
            .into());
        }
        let mut director = TargetFile {
            length: entry.length,
            hashes: entry.hashes,
            custom: None,
            extra: Default::default(),
        };
        director.set_uptane(&TargetCustom {
            hardware_ids: Some(hardware_ids),
            release_counter: custom.release_counter,
            ..TargetCustom::default()
        })?;
        Ok(director)
    }
}

fn mismatch(path: &TargetPath, hardware: &HardwareId, role: &str) -> Rejection {
    Rejection::bad_request(
        "hardware_id_mismatch",
        format!("{path} is signed by role {role}, which is not trusted for hardware {hardware}"),
    )
}

/// A failed refresh: the repository unreachable, or its metadata refused (naming the attack).
fn unverified(error: uptane::Error) -> Error {
    use uptane::Error as E;
    match &error {
        E::NotFound { .. } | E::Transport { .. } | E::Io { .. } | E::SlowRetrieval { .. } => {
            Rejection::new(502, "image_repo_unavailable", error).into()
        }
        _ => {
            let attack = error.attack().map_or("", |a| a.label());
            Rejection::new(
                502,
                "image_repo_rejected",
                format!("the Image repository's metadata failed verification ({attack}): {error}"),
            )
            .into()
        }
    }
}
