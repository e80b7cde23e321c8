//! Verification of staged metadata by the Secondary itself (Uptane 5.4.4; SF-3, SP-3): full
//! verification of both repositories or partial verification of Director Targets, ending in
//! the image this ECU is to install, if any. The core library does the checks; this module
//! wires the staged files and the trusted copies on flash into it.

use chrono::{DateTime, Utc};
use uptane::director::{Assignment, Scope};
use uptane::image::check_hardware;
use uptane::metadata::TargetFile;
use uptane::repository::{Fetch, Rules, Store, TrustedSet, Updater, walk_root_chain};
use uptane::time::time_keys;
use uptane::verification::{Installed, InstalledImages, verify_full, verify_partial};

use crate::config::{Identity, Mode};
use crate::error::{Error, Result};
use crate::metadata::{CycleStore, Repo, Staged, TrustedStore};

/// An image the Director assigned to this ECU, verified as far as metadata can verify it.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub target: String,
    pub file: TargetFile,
    pub release_counter: u64,
}

/// Verifies `staged` at the cycle's fixed time `now` against the trusted metadata in `store`
/// and the image this ECU runs. On success the trusted metadata is updated; on failure the
/// previous trusted copies stay untouched.
pub fn verify(
    mode: Mode,
    identity: &Identity,
    store: &TrustedStore,
    staged: &Staged,
    now: DateTime<Utc>,
    running: Installed,
) -> Result<Option<Order>> {
    let installed = InstalledImages::from([(identity.serial.clone(), running.clone())]);
    let assignment = match mode {
        Mode::Full => full(identity, store, staged, now, &installed)?,
        Mode::Partial => partial(identity, store, staged, now, &installed)?,
    };
    let Some(assignment) = assignment else { return Ok(None) };
    let target = assignment.path.as_str();
    if running.path == target && running.hashes == assignment.file.hashes {
        return Ok(None);
    }
    Ok(Some(Order {
        target: target.to_string(),
        release_counter: assignment.custom.release_counter.unwrap_or(0),
        file: assignment.file,
    }))
}

/// SF-3: steps 1-10 of 5.4.4.2, the match covering only this ECU's image.
fn full(
    identity: &Identity,
    store: &TrustedStore,
    staged: &Staged,
    now: DateTime<Utc>,
    installed: &InstalledImages,
) -> Result<Option<Assignment>> {
    let updater = |repo| -> Result<_> {
        let store = CycleStore::new(store.repo(repo)?);
        Ok(Updater::new(staged.fetch(repo), store, now, Rules::uptane())?)
    };
    let (mut director, mut image) = (updater(Repo::Director)?, updater(Repo::Image)?);
    let scope = Scope::Ecu(&identity.vin);
    let bundle = verify_full(&mut director, &mut image, scope, Some(&identity.serial), installed)?;
    let assignment = bundle.all.into_iter().find(|a| a.ecus.contains_key(&identity.serial));
    if let Some(a) = &assignment {
        // The core checked the hardware the Director names; the ECU checks its own.
        check_hardware(a.path.as_str(), &a.custom, &identity.serial, &identity.hardware_id)?;
    }
    director.into_parts().2.commit()?;
    image.into_parts().2.commit()?;
    Ok(assignment)
}

/// SP-3: Director Targets checked against the trusted Director Root (after any Root rotation
/// the Primary passed on, SP-8), without a Snapshot, and the assignment against this ECU's
/// own hardware id. The new Targets are kept only if they
/// name this ECU (5.4.3.3: otherwise keep the previous Targets).
fn partial(
    identity: &Identity,
    store: &TrustedStore,
    staged: &Staged,
    now: DateTime<Utc>,
    installed: &InstalledImages,
) -> Result<Option<Assignment>> {
    let mut trusted = store.repo(Repo::Director)?;
    let root = trusted
        .load("root.json")?
        .ok_or_else(|| Error::State("no trusted Director root.json".into()))?;
    let rules = Rules::uptane();
    let mut set = TrustedSet::new(&root, now, rules.clone())?;
    if let Some(previous) = trusted.load("targets.json")?
        && let Err(e) = set.load_targets("targets", "root", &previous)
    {
        tracing::warn!(error = %e, "stored Director targets no longer verify; ignored");
    }
    let mut fetch = staged.fetch(Repo::Director);
    let rotated = walk_root_chain(&mut set, &mut fetch, |_, _| Ok(()))?;
    let bytes = fetch.fetch("targets.json", rules.max_targets_bytes)?;
    let scope = Scope::Ecu(&identity.vin);
    let assignment = verify_partial(
        &mut set,
        &bytes,
        scope,
        &identity.serial,
        &identity.hardware_id,
        installed,
    )?;
    if rotated {
        trusted.save("root.json", set.root().bytes())?;
    }
    if assignment.is_some() {
        trusted.save("targets.json", &bytes)?;
    }
    Ok(assignment)
}

/// Whether the staged Director Root chain, verified link by link, names other time keys than
/// the trusted Root (TM-5): then the ECU's clock restarts, as the old key may have pushed it
/// ahead.
pub fn time_key_rotated(store: &TrustedStore, staged: &Staged, now: DateTime<Utc>) -> Result<bool> {
    let root = store
        .repo(Repo::Director)?
        .load("root.json")?
        .ok_or_else(|| Error::State("no trusted Director root.json".into()))?;
    let mut set = TrustedSet::new(&root, now, Rules::uptane())?;
    let before = time_keys(set.root().meta())?;
    walk_root_chain(&mut set, &mut staged.fetch(Repo::Director), |_, _| Ok(()))?;
    Ok(time_keys(set.root().meta())? != before)
}
