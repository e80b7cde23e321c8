//! [`Secondary`] over the CAN bus: the ECU protocol of `canbus::uds` (PROTOCOL.md).
//!
//! Metadata goes as files named `REPO/FILE` (`director/3.root.json`, `director/timestamp.json`,
//! `image/snapshot.json`, `image/targets.json`, `image/ROLE.json` for delegations, ROLE
//! percent-encoded), the names the Secondary's verifier fetches; then the Secondary runs its
//! verify-metadata routine. An image goes by RequestDownload into the inactive slot and is
//! switched to by the activate routine, which verifies it first.

use canbus::CanLink;
use canbus::uds::{Identifier, TransferTarget, UdsClient, UdsError};
use serde_json::Value;
use uptane::crypto::PublicKey;
use uptane::names::{EcuSerial, HardwareId};
use uptane::repository::role_file_name;
use uptane::{Error, Result};

use crate::config::SecondaryConfig;
use crate::secondary::{ImageTransfer, MetadataBundle, RepoMetadata, Secondary, Verification};

/// One Secondary reached through its UDS channel.
#[derive(Debug)]
pub struct CanSecondary<L> {
    config: SecondaryConfig,
    client: UdsClient<L>,
    /// Whether the Secondary's own verification of this cycle's metadata ordered an image.
    expects_image: bool,
}

/// A routine's status record (JSON), `null` if it is not JSON.
fn status(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or(Value::Null)
}

impl<L: CanLink> CanSecondary<L> {
    pub fn new(config: SecondaryConfig, client: UdsClient<L>) -> CanSecondary<L> {
        CanSecondary { config, client, expects_image: false }
    }

    fn error(&self, doing: &str, error: UdsError) -> Error {
        Error::Transport {
            what: format!("ECU {} ({doing})", self.config.serial),
            detail: error.to_string(),
        }
    }

    fn send_file(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        let target = TransferTarget::File(name);
        self.client
            .transfer(target, bytes.len() as u64, bytes, |_| {})
            .map_err(|e| self.error(name, e))
    }

    fn send_repo(&mut self, repo: &str, metadata: &RepoMetadata) -> Result<()> {
        for (version, root) in &metadata.roots {
            self.send_file(&format!("{repo}/{version}.root.json"), root)?;
        }
        if let Some(timestamp) = &metadata.timestamp {
            self.send_file(&format!("{repo}/timestamp.json"), timestamp)?;
        }
        if let Some(snapshot) = &metadata.snapshot {
            self.send_file(&format!("{repo}/snapshot.json"), snapshot)?;
        }
        for (role, bytes) in &metadata.targets {
            self.send_file(&format!("{repo}/{}", role_file_name(role)), bytes)?;
        }
        Ok(())
    }
}

impl<L: CanLink> Secondary for CanSecondary<L> {
    fn serial(&self) -> &EcuSerial {
        &self.config.serial
    }

    fn hardware_id(&self) -> &HardwareId {
        &self.config.hardware_id
    }

    fn verification(&self) -> Verification {
        self.config.mode
    }

    fn public_key(&mut self) -> Result<PublicKey> {
        let bytes = self
            .client
            .read_identifier(Identifier::PublicKey)
            .map_err(|e| self.error("public key", e))?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Malformed {
            role: format!("public key of ECU {}", self.config.serial),
            reason: e.to_string(),
        })
    }

    fn version_report(&mut self, challenge: &str) -> Result<Value> {
        // Raw bytes on the bus; the Secondary echoes them hex-encoded, as `challenge` is.
        let raw = hex::decode(challenge).map_err(|e| Error::Other(format!("challenge: {e}")))?;
        let bytes =
            self.client.version_report(&raw).map_err(|e| self.error("version report", e))?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Malformed {
            role: format!("version report of ECU {}", self.config.serial),
            reason: e.to_string(),
        })
    }

    /// A negative response is the ECU refusing the time (a `Time` error), not a bus failure.
    fn send_time(&mut self, attestation: &[u8]) -> Result<()> {
        self.client.time_attestation(attestation).map_err(|e| match e {
            UdsError::Negative { nrc, .. } => Error::Time(format!(
                "ECU {} refused the time attestation: {nrc}",
                self.config.serial
            )),
            e => self.error("time attestation", e),
        })
    }

    fn send_metadata(&mut self, metadata: &MetadataBundle) -> Result<()> {
        self.send_repo("director", &metadata.director)?;
        if self.config.mode == Verification::Full {
            self.send_repo("image", &metadata.image)?;
        }
        let verdict =
            self.client.verify_metadata().map_err(|e| self.error("verify metadata", e))?;
        self.expects_image = status(&verdict)["verdict"] == "update";
        Ok(())
    }

    fn send_image(
        &mut self,
        image: ImageTransfer<'_>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<()> {
        if !self.expects_image {
            return Err(Error::Other(format!(
                "ECU {}: its verification of the metadata ordered no image",
                self.config.serial
            )));
        }
        self.client
            .transfer(TransferTarget::Image, image.length, image.reader, progress)
            .map_err(|e| self.error(image.path, e))?;
        self.expects_image = false;
        let activation = self.client.activate().map_err(|e| self.error("activate", e))?;
        let activation = status(&activation);
        if activation["result"] != "installed" {
            return Err(Error::Other(format!(
                "ECU {} did not install {}: {activation}",
                self.config.serial, image.path
            )));
        }
        Ok(())
    }
}

/// Joins the bus at the hub daemon's socket once per Secondary (each channel owns its link).
pub fn connect_all(
    hub: &std::path::Path,
    secondaries: &[SecondaryConfig],
    fd: bool,
) -> Result<Vec<Box<dyn Secondary>>> {
    let mut connected: Vec<Box<dyn Secondary>> = Vec::new();
    for config in secondaries {
        let can = |e: canbus::Error| Error::Transport {
            what: format!("CAN channel of ECU {}", config.serial),
            detail: e.to_string(),
        };
        let id = |raw: u32| {
            u16::try_from(raw)
                .ok()
                .filter(|raw| *raw <= 0x7FF)
                .map_or_else(|| canbus::id::extended(raw), canbus::id::standard)
                .map_err(can)
        };
        let (tx, rx) = (id(config.request_id)?, id(config.response_id)?);
        let iso =
            if fd { canbus::IsoTpConfig::fd(tx, rx) } else { canbus::IsoTpConfig::classic(tx, rx) };
        let link = canbus::HubClient::connect(hub).map_err(can)?;
        let socket = canbus::IsoTpSocket::new(link, iso).map_err(can)?;
        let client = UdsClient::new(socket, canbus::uds::ClientConfig::default());
        connected.push(Box::new(CanSecondary::new(config.clone(), client)));
    }
    Ok(connected)
}
