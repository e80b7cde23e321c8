//! The two verification procedures an ECU runs before installing (Uptane 5.4.4): full
//! verification of both repositories (Primary, capable Secondaries) and partial verification
//! of the Director's Targets (constrained Secondaries).

use std::collections::BTreeMap;

use crate::director::{Assignment, Scope, check_director_targets};
use crate::error::{Error, Result};
use crate::image::{check_hardware, check_release_counter, match_director_and_image};
use crate::metadata::Hashes;
use crate::names::{EcuSerial, HardwareId};
use crate::repository::{Fetch, Store, TrustedSet, Updater};

/// What one ECU runs now: the image path, its hashes, and the release counter it was
/// installed with (persisted by the ECU, for the rollback check A5).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Installed {
    pub path: String,
    pub hashes: Hashes,
    pub release_counter: u64,
}

/// The installed image of each ECU that has one.
pub type InstalledImages = BTreeMap<EcuSerial, Installed>;

/// The outcome of verification: the images to install, each checked for every ECU it names.
#[derive(Debug, Clone, PartialEq)]
pub struct Bundle {
    /// Assignments of images that differ from what their ECUs run.
    pub updates: Vec<Assignment>,
    /// Every assignment the Director made, including already installed ones.
    pub all: Vec<Assignment>,
}

impl Bundle {
    pub fn is_empty(&self) -> bool {
        self.updates.is_empty()
    }
}

/// Full verification (5.4.4.2). The updaters carry the cycle's fixed time. `own` limits the
/// Image repository match to one ECU's image, as a full-verification Secondary may do; a
/// Primary passes `None` and checks every image (step 10).
pub fn verify_full<DF: Fetch, DS: Store, IF: Fetch, IS: Store>(
    director: &mut Updater<DF, DS>,
    image: &mut Updater<IF, IS>,
    scope: Scope<'_>,
    own: Option<&EcuSerial>,
    installed: &InstalledImages,
) -> Result<Bundle> {
    // Steps 2-5.
    director.refresh()?;
    let targets = director.trusted().targets("targets").ok_or_else(missing_targets)?;
    let all = check_director_targets(targets, scope)?;
    let updates: Vec<Assignment> = all
        .iter()
        .filter(|a| own.is_none_or(|own| a.ecus.contains_key(own)))
        .filter(|a| a.ecus.keys().any(|ecu| !runs(installed, ecu, a)))
        .cloned()
        .collect();
    // Step 6: nothing new to install, nothing more to verify.
    if updates.is_empty() {
        return Ok(Bundle { updates, all });
    }
    // Steps 7-9.
    image.refresh()?;
    // Step 10.
    for assignment in &updates {
        let path = assignment.path.as_str();
        for (serial, hardware_id) in &assignment.ecus {
            if own.is_some_and(|own| own != serial) {
                continue;
            }
            let found = image.find_target(path, Some(hardware_id.as_str()))?.ok_or_else(|| {
                Error::TargetNotFound {
                    target: path.into(),
                    repository: "the Image repository".into(),
                }
            })?;
            match_director_and_image(path, &assignment.file, &found.file)?;
            check_ecu(assignment, serial, hardware_id, installed)?;
        }
    }
    Ok(Bundle { updates, all })
}

/// Partial verification (5.4.4.1) of Director Targets received as `bytes`, for the ECU
/// `serial` of hardware `hardware_id`. `director` holds the trusted Director Root (and the
/// previous Targets, for the rollback check); the check of Targets against a Snapshot (T2) is
/// skipped. Returns this ECU's assignment, if the Director made one.
pub fn verify_partial(
    director: &mut TrustedSet,
    bytes: &[u8],
    scope: Scope<'_>,
    serial: &EcuSerial,
    hardware_id: &HardwareId,
    installed: &InstalledImages,
) -> Result<Option<Assignment>> {
    director.check_root_fresh()?;
    let mut candidate = director.clone();
    candidate.update_targets_unlisted(bytes)?;
    let targets = candidate.targets("targets").ok_or_else(missing_targets)?;
    let assignment =
        check_director_targets(targets, scope)?.into_iter().find(|a| a.ecus.contains_key(serial));
    if let Some(assignment) = &assignment {
        let named = &assignment.ecus[serial];
        if named != hardware_id {
            return Err(hardware_mismatch(assignment, serial, hardware_id));
        }
        check_ecu(assignment, serial, hardware_id, installed)?;
    }
    *director = candidate;
    Ok(assignment)
}

/// The checks of 5.4.3.4 that need no image bytes: hardware id, release counter.
fn check_ecu(
    assignment: &Assignment,
    serial: &EcuSerial,
    hardware_id: &HardwareId,
    installed: &InstalledImages,
) -> Result<()> {
    let path = assignment.path.as_str();
    check_hardware(path, &assignment.custom, serial, hardware_id)?;
    let counter = installed.get(serial).map_or(0, |i| i.release_counter);
    check_release_counter(path, &assignment.custom, counter)
}

fn hardware_mismatch(assignment: &Assignment, serial: &EcuSerial, ecu: &HardwareId) -> Error {
    Error::HardwareIdMismatch {
        target: assignment.path.to_string(),
        serial: serial.to_string(),
        ecu: ecu.to_string(),
        listed: assignment.ecus.get(serial).map(ToString::to_string).into_iter().collect(),
    }
}

/// Whether `ecu` already runs the assigned image.
fn runs(installed: &InstalledImages, ecu: &EcuSerial, assignment: &Assignment) -> bool {
    installed
        .get(ecu)
        .is_some_and(|i| i.path == assignment.path.as_str() && i.hashes == assignment.file.hashes)
}

fn missing_targets() -> Error {
    Error::NotFound { what: "trusted Director targets".into() }
}
