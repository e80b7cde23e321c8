//! The Director-only checks on trusted Director Targets (profile §3.3.4 D1-D4): no delegations,
//! each ECU named once, only ECUs of this vehicle, and this vehicle's VIN.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Error, Result};
use crate::metadata::{TargetCustom, TargetFile, Targets};
use crate::names::{EcuSerial, HardwareId, TargetPath, Vin};

/// What an ECU knows of its vehicle: the VIN and, for a Primary, every ECU with its hardware.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vehicle {
    pub vin: Vin,
    pub ecus: BTreeMap<EcuSerial, HardwareId>,
}

/// One image the Director assigns, to one or more ECUs.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub path: TargetPath,
    pub file: TargetFile,
    pub custom: TargetCustom,
    /// The ECUs that install it, with the hardware id the Director names for each.
    pub ecus: BTreeMap<EcuSerial, HardwareId>,
}

/// Which of D1-D4 apply: a Primary checks all; a partial-verification Secondary cannot run D3,
/// since it does not know the other ECUs (Uptane 5.4.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// D1, D2, D3, D4.
    Vehicle(&'a Vehicle),
    /// D1, D2, D4, for a Secondary that knows only its VIN.
    Ecu(&'a Vin),
}

/// Runs D1-D4 on Director Targets and returns the assignments it makes.
pub fn check_director_targets(targets: &Targets, scope: Scope<'_>) -> Result<Vec<Assignment>> {
    if targets.delegates() {
        return Err(Error::DirectorDelegates);
    }
    let vin = match scope {
        Scope::Vehicle(vehicle) => &vehicle.vin,
        Scope::Ecu(vin) => vin,
    };
    if targets.vin() != Some(vin.as_str()) {
        return Err(Error::VinMismatch {
            expected: vin.to_string(),
            found: targets.vin().map(String::from),
        });
    }
    let mut seen = BTreeSet::new();
    let mut assignments = Vec::with_capacity(targets.targets.len());
    for (path, file) in &targets.targets {
        let path = TargetPath::new(path.as_str())?;
        let custom = file.uptane(path.as_str())?;
        let identifiers =
            custom.ecu_identifiers.as_ref().filter(|ids| !ids.is_empty()).ok_or_else(|| {
                Error::malformed("director targets", format!("{path}: no ecuIdentifiers"))
            })?;
        let mut ecus = BTreeMap::new();
        for (serial, identifier) in identifiers {
            if !seen.insert(serial.clone()) {
                return Err(Error::DuplicateEcu { serial: serial.to_string() });
            }
            if let Scope::Vehicle(vehicle) = scope
                && !vehicle.ecus.contains_key(serial)
            {
                return Err(Error::UnknownEcu { serial: serial.to_string() });
            }
            ecus.insert(serial.clone(), identifier.hardware_id.clone());
        }
        assignments.push(Assignment { path, file: file.clone(), custom, ecus });
    }
    Ok(assignments)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Attack;
    use crate::metadata::{Delegations, EcuIdentifier};
    use serde_json::{Map, json};

    fn vehicle() -> Vehicle {
        Vehicle {
            vin: Vin::new("WVWZZZ1JZXW000001").unwrap(),
            ecus: BTreeMap::from([
                (EcuSerial::new("TCU-1").unwrap(), HardwareId::new("tcu").unwrap()),
                (EcuSerial::new("BCM-1").unwrap(), HardwareId::new("bcm").unwrap()),
            ]),
        }
    }

    fn entry(serials: &[&str]) -> TargetFile {
        let mut file = TargetFile::describing(b"image");
        let custom = TargetCustom {
            hardware_ids: Some(vec![HardwareId::new("bcm").unwrap()]),
            release_counter: Some(1),
            ecu_identifiers: Some(
                serials
                    .iter()
                    .map(|s| {
                        let id = EcuIdentifier {
                            hardware_id: HardwareId::new("bcm").unwrap(),
                            extra: Map::new(),
                        };
                        (EcuSerial::new(*s).unwrap(), id)
                    })
                    .collect(),
            ),
            ..TargetCustom::default()
        };
        file.set_uptane(&custom).unwrap();
        file
    }

    fn targets(entries: &[(&str, TargetFile)], vin: Option<&str>) -> Targets {
        let mut targets = Targets::new(1, chrono::Utc::now());
        for (path, file) in entries {
            targets.targets.insert(path.to_string(), file.clone());
        }
        if let Some(vin) = vin {
            targets.custom = Some(json!({ "vin": vin }).as_object().unwrap().clone());
        }
        targets
    }

    #[test]
    fn valid_director_targets_yield_assignments() {
        let v = vehicle();
        let t = targets(&[("bcm.bin", entry(&["BCM-1"]))], Some(v.vin.as_str()));
        let assignments = check_director_targets(&t, Scope::Vehicle(&v)).unwrap();
        assert_eq!(assignments.len(), 1);
        assert_eq!(assignments[0].ecus.keys().next().unwrap().as_str(), "BCM-1");
        // An empty Director targets with the right VIN is valid: nothing to install.
        let empty = targets(&[], Some(v.vin.as_str()));
        assert!(check_director_targets(&empty, Scope::Vehicle(&v)).unwrap().is_empty());
    }

    #[test]
    fn d1_delegations_are_refused() {
        let v = vehicle();
        let mut t = targets(&[], Some(v.vin.as_str()));
        let mut delegations = Delegations::default();
        delegations.keys.insert("k".into(), crate::crypto::PublicKey::ed25519(&[1; 32]));
        t.delegations = Some(delegations);
        let err = check_director_targets(&t, Scope::Vehicle(&v)).unwrap_err();
        assert!(matches!(err, Error::DirectorDelegates));
        assert_eq!(err.attack(), Some(Attack::ArbitrarySoftware));
    }

    #[test]
    fn d2_an_ecu_named_twice_is_refused() {
        let v = vehicle();
        let t = targets(
            &[("a.bin", entry(&["BCM-1"])), ("b.bin", entry(&["BCM-1"]))],
            Some(v.vin.as_str()),
        );
        for scope in [Scope::Vehicle(&v), Scope::Ecu(&v.vin)] {
            let err = check_director_targets(&t, scope).unwrap_err();
            assert!(matches!(err, Error::DuplicateEcu { .. }));
            assert_eq!(err.attack(), Some(Attack::ArbitrarySoftware));
        }
    }

    #[test]
    fn d3_an_ecu_outside_the_vehicle_is_refused_by_the_primary_only() {
        let v = vehicle();
        let t = targets(&[("a.bin", entry(&["ECU-OTHER"]))], Some(v.vin.as_str()));
        let err = check_director_targets(&t, Scope::Vehicle(&v)).unwrap_err();
        assert!(matches!(err, Error::UnknownEcu { .. }));
        assert_eq!(err.attack(), Some(Attack::ArbitrarySoftware));
        check_director_targets(&t, Scope::Ecu(&v.vin)).unwrap();
    }

    #[test]
    fn d4_another_vehicles_or_no_vin_is_refused() {
        let v = vehicle();
        for vin in [Some("WVWZZZ1JZXW000002"), None] {
            let t = targets(&[], vin);
            let err = check_director_targets(&t, Scope::Ecu(&v.vin)).unwrap_err();
            assert_eq!(err.attack(), Some(Attack::VinMismatch));
        }
    }

    #[test]
    fn every_director_image_names_its_ecus() {
        let v = vehicle();
        let t = targets(&[("a.bin", TargetFile::describing(b"x"))], Some(v.vin.as_str()));
        let err = check_director_targets(&t, Scope::Vehicle(&v)).unwrap_err();
        assert_eq!(err.attack(), Some(Attack::ArbitrarySoftware));
    }
}
