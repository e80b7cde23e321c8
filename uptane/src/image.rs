//! Checks on an image before it is installed (Uptane 5.4.3.4, 5.4.4.2 step 10): the Director
//! and Image repository agree, the image fits this ECU's hardware, its release counter does not
//! go back, and its bytes have every listed hash and exactly the listed length.

use crate::crypto::MultiHasher;
use crate::error::{Error, Result};
use crate::metadata::{TargetCustom, TargetFile};
use crate::names::{EcuSerial, HardwareId};

/// Step 10: the Director's entry must equal the Image repository's in length, every hash, and
/// the profile's SHALL-match custom fields (hardware ids, release counter).
pub fn match_director_and_image(
    path: &str,
    director: &TargetFile,
    image: &TargetFile,
) -> Result<()> {
    let mismatch = |field| Err(Error::DirectorImageMismatch { target: path.into(), field });
    if director.length != image.length {
        return mismatch("length");
    }
    if director.hashes != image.hashes {
        return mismatch("hashes");
    }
    let (d, i) = (director.uptane(path)?, image.uptane(path)?);
    if d.hardware_ids != i.hardware_ids {
        return mismatch("hardwareIds");
    }
    if d.release_counter != i.release_counter {
        return mismatch("releaseCounter");
    }
    Ok(())
}

/// Step 3: the hardware id the Director names for `serial`, and the image's `hardwareIds`,
/// must both be this ECU's.
pub fn check_hardware(
    path: &str,
    custom: &TargetCustom,
    serial: &EcuSerial,
    ecu: &HardwareId,
) -> Result<()> {
    let named =
        custom.ecu_identifiers.as_ref().and_then(|ids| ids.get(serial)).map(|id| &id.hardware_id);
    let listed = custom.hardware_ids.as_deref().unwrap_or_default();
    if named == Some(ecu) && listed.contains(ecu) {
        return Ok(());
    }
    Err(Error::HardwareIdMismatch {
        target: path.into(),
        serial: serial.to_string(),
        ecu: ecu.to_string(),
        listed: listed.iter().map(ToString::to_string).collect(),
    })
}

/// Step 5: the release counter may not go below the installed image's (A5). An entry without
/// one counts as 0.
pub fn check_release_counter(path: &str, custom: &TargetCustom, installed: u64) -> Result<()> {
    let new = custom.release_counter.unwrap_or(0);
    if new < installed {
        return Err(Error::ReleaseCounterRollback { target: path.into(), installed, new });
    }
    Ok(())
}

/// Step 7 while the image streams in: at most `length` bytes, then every hash.
#[derive(Debug)]
pub struct ImageVerifier {
    path: String,
    length: u64,
    hasher: MultiHasher,
}

impl ImageVerifier {
    pub fn new(path: &str, file: &TargetFile) -> ImageVerifier {
        ImageVerifier {
            path: path.into(),
            length: file.length,
            hasher: MultiHasher::new(&file.hashes),
        }
    }

    /// Feeds the next chunk; fails as soon as the image is longer than listed (A11).
    pub fn update(&mut self, chunk: &[u8]) -> Result<()> {
        if self.hasher.length() + chunk.len() as u64 > self.length {
            return Err(Error::TooLarge { what: self.path.clone(), limit: self.length });
        }
        self.hasher.update(chunk);
        Ok(())
    }

    /// Bytes seen so far.
    pub fn received(&self) -> u64 {
        self.hasher.length()
    }

    /// Checks the exact length and every listed hash (A2).
    pub fn finish(self) -> Result<()> {
        let found = self.hasher.length();
        if found != self.length {
            return Err(Error::ImageLength { target: self.path, expected: self.length, found });
        }
        match self.hasher.mismatch() {
            Some(algorithm) => Err(Error::ImageHash { target: self.path, algorithm }),
            None => Ok(()),
        }
    }

    /// Verifies a whole image held in memory.
    pub fn verify(path: &str, file: &TargetFile, bytes: &[u8]) -> Result<()> {
        let mut verifier = ImageVerifier::new(path, file);
        verifier.update(bytes)?;
        verifier.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Attack;
    use crate::metadata::EcuIdentifier;
    use serde_json::Map;

    fn hw(id: &str) -> HardwareId {
        HardwareId::new(id).unwrap()
    }

    fn custom(listed: &[&str], named: &str, counter: u64) -> TargetCustom {
        TargetCustom {
            hardware_ids: Some(listed.iter().map(|h| hw(h)).collect()),
            release_counter: Some(counter),
            ecu_identifiers: Some(
                [(
                    EcuSerial::new("BCM-1").unwrap(),
                    EcuIdentifier { hardware_id: hw(named), extra: Map::new() },
                )]
                .into(),
            ),
            ..TargetCustom::default()
        }
    }

    fn entry(bytes: &[u8], custom: &TargetCustom) -> TargetFile {
        let mut file = TargetFile::describing(bytes);
        file.set_uptane(custom).unwrap();
        file
    }

    #[test]
    fn director_and_image_must_agree_on_every_shall_match_field() {
        let image = entry(b"image", &custom(&["bcm"], "bcm", 3));
        let mut director = image.clone();
        director.set_uptane(&custom(&["bcm"], "bcm", 3)).unwrap();
        match_director_and_image("a", &director, &image).unwrap();

        type Tamper = Box<dyn Fn(&mut TargetFile)>;
        let cases: Vec<(&str, Tamper)> = vec![
            ("length", Box::new(|f| f.length += 1)),
            ("hashes", Box::new(|f| *f.hashes.get_mut("sha512").unwrap() = "00".repeat(64))),
            ("hardwareIds", Box::new(|f| f.set_uptane(&custom(&["tcu"], "bcm", 3)).unwrap())),
            ("releaseCounter", Box::new(|f| f.set_uptane(&custom(&["bcm"], "bcm", 4)).unwrap())),
        ];
        for (field, tamper) in cases {
            let mut forged = director.clone();
            tamper(&mut forged);
            let err = match_director_and_image("a", &forged, &image).unwrap_err();
            assert!(
                matches!(err, Error::DirectorImageMismatch { field: f, .. } if f == field),
                "{field}"
            );
            assert_eq!(err.attack(), Some(Attack::ArbitrarySoftware));
        }
    }

    #[test]
    fn hardware_must_fit_the_ecu() {
        let serial = EcuSerial::new("BCM-1").unwrap();
        check_hardware("a", &custom(&["bcm"], "bcm", 1), &serial, &hw("bcm")).unwrap();
        for c in [custom(&["tcu"], "bcm", 1), custom(&["bcm"], "tcu", 1), TargetCustom::default()] {
            let err = check_hardware("a", &c, &serial, &hw("bcm")).unwrap_err();
            assert_eq!(err.attack(), Some(Attack::HwIdMismatch));
        }
    }

    #[test]
    fn release_counter_never_goes_back() {
        check_release_counter("a", &custom(&["bcm"], "bcm", 5), 5).unwrap();
        check_release_counter("a", &custom(&["bcm"], "bcm", 6), 5).unwrap();
        let err = check_release_counter("a", &custom(&["bcm"], "bcm", 4), 5).unwrap_err();
        assert_eq!(err.attack(), Some(Attack::Rollback));
    }

    #[test]
    fn image_bytes_need_every_hash_and_the_exact_length() {
        let file = TargetFile::describing(b"good image");
        ImageVerifier::verify("a", &file, b"good image").unwrap();
        let flipped = ImageVerifier::verify("a", &file, b"good imagf").unwrap_err();
        assert_eq!(flipped.attack(), Some(Attack::ArbitrarySoftware));
        let short = ImageVerifier::verify("a", &file, b"good").unwrap_err();
        assert!(matches!(short, Error::ImageLength { .. }));
        let long = ImageVerifier::verify("a", &file, b"good image!").unwrap_err();
        assert_eq!(long.attack(), Some(Attack::EndlessData));
        let mut one_bad = file.clone();
        one_bad.hashes.insert("sha512".into(), "00".repeat(64));
        let err = ImageVerifier::verify("a", &one_bad, b"good image").unwrap_err();
        assert!(matches!(err, Error::ImageHash { ref algorithm, .. } if algorithm == "sha512"));
    }
}
