//! The two image slots (A/B): an image streams into the inactive slot while it is hashed, and
//! the running image is never touched, so an endless, corrupt or interrupted transfer cannot
//! leave the ECU without a bootable image (Standard 5.4.3.5; ESCAR §5.3.1).
//!
//! Booting is simulated: a slot boots if its bytes still have the length and hashes they were
//! installed with (a bootloader's integrity check), and unless the image begins with
//! [`BOOT_FAILURE_MARKER`], which stands for firmware that is validly signed but crashes on
//! start. Tests sign such an image to exercise the fall-back to the previous slot.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use uptane::image::ImageVerifier;
use uptane::manifest::InstalledImage;
use uptane::metadata::TargetFile;
use uptane::repository::write_atomically;

use crate::error::{Error, Result};
use crate::state::Slot;

/// An image that begins with these bytes fails its trial boot (see the module docs).
pub const BOOT_FAILURE_MARKER: &[u8] = b"UPTANE-SIMULATED-BOOT-FAILURE";

/// The slot files, `slots/a.img` and `slots/b.img` under the storage directory.
#[derive(Debug, Clone)]
pub struct Slots {
    dir: PathBuf,
}

impl Slots {
    pub fn new(storage: &Path) -> Result<Slots> {
        let dir = storage.join("slots");
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(Slots { dir })
    }

    pub fn path(&self, slot: Slot) -> PathBuf {
        self.dir.join(format!("{}.img", slot.name()))
    }

    /// Writes a whole image at once (factory provisioning).
    pub fn flash(&self, slot: Slot, bytes: &[u8]) -> Result<()> {
        Ok(write_atomically(&self.path(slot), bytes)?)
    }

    /// Starts streaming the image `target`, described by `file`, into `slot`.
    pub fn writer(&self, slot: Slot, target: &str, file: &TargetFile) -> Result<SlotWriter> {
        let path = self.path(slot);
        let handle = File::create(&path).map_err(|e| Error::io(&path, e))?;
        Ok(SlotWriter { file: handle, verifier: ImageVerifier::new(target, file), path })
    }

    /// The simulated boot of `slot`, which should hold `image`.
    pub fn boot(&self, slot: Slot, image: &InstalledImage) -> Result<(), BootFailure> {
        let path = self.path(slot);
        let mut reader = File::open(&path).map_err(|e| BootFailure::Unreadable(e.to_string()))?;
        let file = TargetFile {
            length: image.fileinfo.length,
            hashes: image.fileinfo.hashes.clone(),
            custom: None,
            extra: Default::default(),
        };
        let mut verifier = ImageVerifier::new(&image.filepath, &file);
        let mut chunk = vec![0; 64 * 1024];
        let mut head = Vec::with_capacity(BOOT_FAILURE_MARKER.len());
        loop {
            let read =
                reader.read(&mut chunk).map_err(|e| BootFailure::Unreadable(e.to_string()))?;
            if read == 0 {
                break;
            }
            let wanted = (BOOT_FAILURE_MARKER.len() - head.len()).min(read);
            head.extend_from_slice(&chunk[..wanted]);
            verifier.update(&chunk[..read]).map_err(|e| BootFailure::Corrupt(e.to_string()))?;
        }
        verifier.finish().map_err(|e| BootFailure::Corrupt(e.to_string()))?;
        if head == BOOT_FAILURE_MARKER {
            return Err(BootFailure::Crashed);
        }
        Ok(())
    }
}

/// Why a slot did not boot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BootFailure {
    #[error("slot unreadable: {0}")]
    Unreadable(String),
    #[error("slot no longer holds its image: {0}")]
    Corrupt(String),
    #[error("the image crashed during its trial boot")]
    Crashed,
}

/// An image being written into a slot, verified as it arrives.
#[derive(Debug)]
pub struct SlotWriter {
    file: File,
    verifier: ImageVerifier,
    path: PathBuf,
}

impl SlotWriter {
    /// Appends `chunk`, refusing it whole if it would pass the listed length (A11): no byte
    /// beyond the length ever reaches the slot.
    pub fn write(&mut self, chunk: &[u8]) -> Result<()> {
        self.verifier.update(chunk)?;
        self.file.write_all(chunk).map_err(|e| Error::io(&self.path, e))
    }

    /// Bytes written so far.
    pub fn received(&self) -> u64 {
        self.verifier.received()
    }

    /// Checks the exact length and every hash (A2), then makes the slot durable.
    pub fn finish(self) -> Result<()> {
        self.verifier.finish()?;
        self.file.sync_all().map_err(|e| Error::io(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uptane::Attack;

    fn setup() -> (tempfile::TempDir, Slots) {
        let dir = tempfile::tempdir().unwrap();
        let slots = Slots::new(dir.path()).unwrap();
        (dir, slots)
    }

    #[test]
    fn a_streamed_image_is_checked_and_boots() {
        let (_dir, slots) = setup();
        let image = b"firmware 2.0".repeat(10_000);
        let file = TargetFile::describing(&image);
        let mut writer = slots.writer(Slot::B, "fw.bin", &file).unwrap();
        for chunk in image.chunks(4093) {
            writer.write(chunk).unwrap();
        }
        writer.finish().unwrap();
        slots.boot(Slot::B, &InstalledImage::new("fw.bin", &file)).unwrap();
    }

    #[test]
    fn bytes_past_the_length_never_reach_the_slot() {
        let (_dir, slots) = setup();
        let file = TargetFile::describing(b"12345678");
        let mut writer = slots.writer(Slot::A, "fw.bin", &file).unwrap();
        writer.write(b"1234").unwrap();
        let err = writer.write(b"56789").unwrap_err();
        assert_eq!(err.attack(), Some(Attack::EndlessData));
        assert_eq!(writer.received(), 4);
        drop(writer);
        assert_eq!(std::fs::read(slots.path(Slot::A)).unwrap(), b"1234");
    }

    #[test]
    fn a_tampered_image_fails_at_the_end() {
        let (_dir, slots) = setup();
        let file = TargetFile::describing(b"good image");
        let mut writer = slots.writer(Slot::A, "fw.bin", &file).unwrap();
        writer.write(b"evil image").unwrap();
        assert_eq!(writer.finish().unwrap_err().attack(), Some(Attack::ArbitrarySoftware));
    }

    #[test]
    fn a_corrupted_slot_or_a_crashing_image_does_not_boot() {
        let (_dir, slots) = setup();
        let good = TargetFile::describing(b"good image");
        slots.flash(Slot::A, b"good imagf").unwrap();
        let image = InstalledImage::new("fw.bin", &good);
        assert!(matches!(slots.boot(Slot::A, &image), Err(BootFailure::Corrupt(_))));
        assert!(matches!(slots.boot(Slot::B, &image), Err(BootFailure::Unreadable(_))));
        let crashing = [BOOT_FAILURE_MARKER, b" but signed"].concat();
        slots.flash(Slot::B, &crashing).unwrap();
        let image = InstalledImage::new("fw.bin", &TargetFile::describing(&crashing));
        assert_eq!(slots.boot(Slot::B, &image), Err(BootFailure::Crashed));
    }
}
