//! The ECU on the bus: the UDS services of [`canbus::uds`] answered by an [`Ecu`].
//!
//! | request (client call)                      | ECU operation                          | refusals |
//! |--------------------------------------------|----------------------------------------|----------|
//! | `read_identifier(EcuSerial / HardwareId)`  | the serial / hardware id, UTF-8        | |
//! | `read_identifier(PublicKey)`               | the key object, canonical JSON         | |
//! | `version_report(challenge)`                | [`Ecu::version_report`]: signed JSON    | 0x31 challenge over 64 bytes |
//! | `time_attestation(bytes)`                  | [`Ecu::time_attestation`]              | 0x31 not verifiable, not ours, or older |
//! | `transfer(File("director/targets.json"))`  | [`Ecu::receive_metadata`]              | 0x31 name, 0x70 size |
//! | `verify_metadata()`                        | [`Ecu::verify_metadata`]: status JSON  | 0x22 verification failed |
//! | `transfer(Image)`                          | [`Ecu::begin_image`] ... `finish_image`| 0x24 nothing ordered, 0x70 size, 0x72 hash or length |
//! | `activate()`                               | [`Ecu::activate`]: status JSON         | 0x24 no verified image |
//! | `reset()`                                  | the binary reopens the ECU (a reboot)  | |
//!
//! Status records: verify answers `{"verdict":"no_update"}` or
//! `{"verdict":"update","target":PATH,"length":N}`; activate answers `{"result":"installed"}`
//! or `{"result":"rolled_back","reason":TEXT}`. Transfers the server aborts (more bytes than
//! announced, a message over the cap, a deadline, too low a rate) become `endless_data` or
//! `slow_retrieval` in the next version report.

use canbus::uds::{AbortReason, EcuHandler, Identifier, Nrc, ServerLimits, UdsServer};
use canbus::{CanLink, IsoTpConfig, IsoTpSocket, id, isotp::TransferGuard};
use serde_json::json;
use uptane::Attack;

use crate::config::{BusConfig, Config, Limits};
use crate::ecu::{Activation, Ecu, Verdict};
use crate::error::Error;

/// The UDS server for `config`'s channel and limits on `link`.
pub fn server<L: CanLink>(link: L, config: &Config) -> Result<UdsServer<L>, canbus::Error> {
    let socket = IsoTpSocket::new(link, isotp_config(&config.bus, &config.limits)?)?;
    UdsServer::new(socket, server_limits(&config.limits))
}

/// The Secondary's ISO-TP channel: it listens on the request identifier, answers on the
/// response one, and bounds every message by the configured cap and rate.
pub fn isotp_config(bus: &BusConfig, limits: &Limits) -> Result<IsoTpConfig, canbus::Error> {
    let make = |raw: u32| match bus.extended {
        true => id::extended(raw),
        false => {
            u16::try_from(raw).map_err(|_| canbus::Error::InvalidId { raw }).and_then(id::standard)
        }
    };
    let (tx, rx) = (make(bus.response_id)?, make(bus.request_id)?);
    let mut config = if bus.fd { IsoTpConfig::fd(tx, rx) } else { IsoTpConfig::classic(tx, rx) };
    config.max_message_len = limits.max_message_bytes;
    config.guard = TransferGuard {
        min_bytes_per_sec: Some(limits.min_bytes_per_sec),
        grace: limits.grace,
        deadline: Some(limits.transfer_deadline),
    };
    Ok(config)
}

/// The UDS server's limits from the ECU's.
pub fn server_limits(limits: &Limits) -> ServerLimits {
    ServerLimits {
        max_block_len: limits.max_message_bytes,
        max_message_len: limits.max_message_bytes,
        transfer_deadline: Some(limits.transfer_deadline),
        min_bytes_per_sec: Some(limits.min_bytes_per_sec),
        grace: limits.grace,
    }
}

/// What the open transfer carries.
#[derive(Debug)]
enum Transfer {
    None,
    File { name: String, bytes: Vec<u8> },
    Image,
}

/// An [`Ecu`] behind the [`EcuHandler`] trait.
#[derive(Debug)]
pub struct BusEcu {
    ecu: Ecu,
    transfer: Transfer,
}

impl BusEcu {
    pub fn new(ecu: Ecu) -> BusEcu {
        BusEcu { ecu, transfer: Transfer::None }
    }

    pub fn ecu(&self) -> &Ecu {
        &self.ecu
    }

    pub fn into_ecu(self) -> Ecu {
        self.ecu
    }
}

/// Logs a refusal and turns it into the negative response `nrc`.
fn refuse(err: Error, nrc: Nrc) -> Nrc {
    tracing::info!(error = %err, %nrc, "refused");
    nrc
}

/// A sequence error is one whatever the operation; anything else is `nrc`.
fn refusal(err: Error, nrc: Nrc) -> Nrc {
    match err {
        Error::Sequence(_) => refuse(err, Nrc::REQUEST_SEQUENCE_ERROR),
        err => refuse(err, nrc),
    }
}

fn status(value: serde_json::Value) -> Vec<u8> {
    value.to_string().into_bytes()
}

impl EcuHandler for BusEcu {
    fn read_identifier(&mut self, id: Identifier) -> Result<Vec<u8>, Nrc> {
        let identity = self.ecu.identity();
        match id {
            Identifier::EcuSerial => Ok(identity.serial.as_str().as_bytes().to_vec()),
            Identifier::HardwareId => Ok(identity.hardware_id.as_str().as_bytes().to_vec()),
            Identifier::PublicKey => uptane::canonical::to_vec_from(self.ecu.public_key())
                .map_err(|e| refuse(e.into(), Nrc::GENERAL_REJECT)),
            _ => Err(Nrc::REQUEST_OUT_OF_RANGE),
        }
    }

    fn version_report(&mut self, nonce: &[u8]) -> Result<Vec<u8>, Nrc> {
        self.ecu.version_report(nonce).map_err(|e| match e {
            Error::TooLarge { .. } => refuse(e, Nrc::REQUEST_OUT_OF_RANGE),
            e => refuse(e, Nrc::GENERAL_REJECT),
        })
    }

    fn time_attestation(&mut self, attestation: &[u8]) -> Result<(), Nrc> {
        self.ecu
            .time_attestation(attestation)
            .map(drop)
            .map_err(|e| refuse(e, Nrc::REQUEST_OUT_OF_RANGE))
    }

    fn begin_file(&mut self, name: &str, size: u64) -> Result<(), Nrc> {
        self.transfer = Transfer::None;
        self.ecu.check_metadata(name, size).map_err(|e| match e {
            Error::TooLarge { .. } => refuse(e, Nrc::UPLOAD_DOWNLOAD_NOT_ACCEPTED),
            e => refuse(e, Nrc::REQUEST_OUT_OF_RANGE),
        })?;
        // The size is bounded by the check above and the server never lets more arrive.
        let capacity = usize::try_from(size).unwrap_or(0);
        self.transfer = Transfer::File { name: name.into(), bytes: Vec::with_capacity(capacity) };
        Ok(())
    }

    fn begin_image(&mut self, size: u64) -> Result<(), Nrc> {
        self.transfer = Transfer::None;
        self.ecu.begin_image(size).map_err(|e| refusal(e, Nrc::UPLOAD_DOWNLOAD_NOT_ACCEPTED))?;
        self.transfer = Transfer::Image;
        Ok(())
    }

    fn write(&mut self, chunk: &[u8]) -> Result<(), Nrc> {
        let result = match &mut self.transfer {
            Transfer::File { bytes, .. } => {
                bytes.extend_from_slice(chunk);
                Ok(())
            }
            Transfer::Image => self.ecu.image_data(chunk).map_err(|e| match e {
                Error::TooLarge { .. } => refuse(e, Nrc::TRANSFER_DATA_SUSPENDED),
                e => refusal(e, Nrc::GENERAL_PROGRAMMING_FAILURE),
            }),
            Transfer::None => Err(Nrc::REQUEST_SEQUENCE_ERROR),
        };
        if result.is_err() {
            self.transfer = Transfer::None;
        }
        result
    }

    fn end_transfer(&mut self) -> Result<(), Nrc> {
        match std::mem::replace(&mut self.transfer, Transfer::None) {
            Transfer::File { name, bytes } => self
                .ecu
                .receive_metadata(&name, bytes)
                .map_err(|e| refusal(e, Nrc::UPLOAD_DOWNLOAD_NOT_ACCEPTED)),
            Transfer::Image => {
                self.ecu.finish_image().map_err(|e| refusal(e, Nrc::GENERAL_PROGRAMMING_FAILURE))
            }
            Transfer::None => Err(Nrc::REQUEST_SEQUENCE_ERROR),
        }
    }

    fn verify_metadata(&mut self) -> Result<Vec<u8>, Nrc> {
        match self.ecu.verify_metadata() {
            Ok(Verdict::NoUpdate) => Ok(status(json!({"verdict": "no_update"}))),
            Ok(Verdict::Update { target, length }) => {
                Ok(status(json!({"verdict": "update", "target": target, "length": length})))
            }
            Err(e) => Err(refusal(e, Nrc::CONDITIONS_NOT_CORRECT)),
        }
    }

    fn activate(&mut self) -> Result<Vec<u8>, Nrc> {
        match self.ecu.activate() {
            Ok(Activation::Installed) => Ok(status(json!({"result": "installed"}))),
            Ok(Activation::RolledBack(reason)) => {
                Ok(status(json!({"result": "rolled_back", "reason": reason.to_string()})))
            }
            Err(e) => Err(refusal(e, Nrc::GENERAL_PROGRAMMING_FAILURE)),
        }
    }

    fn transfer_aborted(&mut self, reason: AbortReason) {
        self.transfer = Transfer::None;
        let attack = if reason.is_endless_data() {
            Some(Attack::EndlessData)
        } else if reason.is_slow_retrieval() {
            Some(Attack::SlowRetrieval)
        } else {
            None
        };
        if let Err(e) = self.ecu.abort_transfer(attack, format!("{reason:?}")) {
            tracing::error!(error = %e, "could not record an aborted transfer");
        }
    }
}
