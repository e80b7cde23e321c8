//! Service identifiers, data identifiers and routine identifiers of the ECU protocol.

/// Service identifiers (ISO 14229-1). A positive response carries `SID + 0x40`.
pub mod sid {
    /// ECUReset.
    pub const ECU_RESET: u8 = 0x11;
    /// ReadDataByIdentifier.
    pub const READ_DATA_BY_IDENTIFIER: u8 = 0x22;
    /// WriteDataByIdentifier.
    pub const WRITE_DATA_BY_IDENTIFIER: u8 = 0x2E;
    /// RoutineControl.
    pub const ROUTINE_CONTROL: u8 = 0x31;
    /// RequestDownload.
    pub const REQUEST_DOWNLOAD: u8 = 0x34;
    /// TransferData.
    pub const TRANSFER_DATA: u8 = 0x36;
    /// RequestTransferExit.
    pub const REQUEST_TRANSFER_EXIT: u8 = 0x37;
    /// RequestFileTransfer.
    pub const REQUEST_FILE_TRANSFER: u8 = 0x38;
    /// TesterPresent.
    pub const TESTER_PRESENT: u8 = 0x3E;
    /// The first byte of every negative response.
    pub const NEGATIVE_RESPONSE: u8 = 0x7F;
    /// Added to the request's SID in a positive response.
    pub const POSITIVE_OFFSET: u8 = 0x40;
}

/// What ReadDataByIdentifier reads and WriteDataByIdentifier writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Identifier {
    /// 0xF18C (ISO ecuSerialNumber): the ECU serial the Director knows it by. Read.
    EcuSerial,
    /// 0xF191 (ISO vehicleManufacturerECUHardwareNumber): the Uptane hardware id. Read.
    HardwareId,
    /// 0xF1A0 (manufacturer range): the ECU's public key as the Secondary encodes it. Read.
    PublicKey,
    /// 0xF1A1 (manufacturer range): a signed time attestation from the Director. Write.
    TimeAttestation,
}

impl Identifier {
    /// The 16-bit data identifier on the wire.
    pub const fn code(self) -> u16 {
        match self {
            Self::EcuSerial => 0xF18C,
            Self::HardwareId => 0xF191,
            Self::PublicKey => 0xF1A0,
            Self::TimeAttestation => 0xF1A1,
        }
    }

    /// The identifier a wire code stands for.
    pub const fn from_code(code: u16) -> Option<Self> {
        Some(match code {
            0xF18C => Self::EcuSerial,
            0xF191 => Self::HardwareId,
            0xF1A0 => Self::PublicKey,
            0xF1A1 => Self::TimeAttestation,
            _ => return None,
        })
    }

    /// Whether ReadDataByIdentifier may read it (the time attestation is write-only).
    pub const fn readable(self) -> bool {
        !matches!(self, Self::TimeAttestation)
    }
}

/// The routines RoutineControl (sub-function 0x01, startRoutine) runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Routine {
    /// 0x0201: sign an ECU version report over the nonce in the option record.
    VersionReport,
    /// 0x0202: verify the metadata files delivered since the last verification.
    VerifyMetadata,
    /// 0x0203: verify the image written to the inactive slot and make it the active one.
    ActivateImage,
}

impl Routine {
    /// The 16-bit routine identifier on the wire.
    pub const fn code(self) -> u16 {
        match self {
            Self::VersionReport => 0x0201,
            Self::VerifyMetadata => 0x0202,
            Self::ActivateImage => 0x0203,
        }
    }

    /// The routine a wire code stands for.
    pub const fn from_code(code: u16) -> Option<Self> {
        Some(match code {
            0x0201 => Self::VersionReport,
            0x0202 => Self::VerifyMetadata,
            0x0203 => Self::ActivateImage,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for id in [
            Identifier::EcuSerial,
            Identifier::HardwareId,
            Identifier::PublicKey,
            Identifier::TimeAttestation,
        ] {
            assert_eq!(Identifier::from_code(id.code()), Some(id));
        }
        for routine in [Routine::VersionReport, Routine::VerifyMetadata, Routine::ActivateImage] {
            assert_eq!(Routine::from_code(routine.code()), Some(routine));
        }
        assert_eq!(Identifier::from_code(0xF190), None);
        assert_eq!(Routine::from_code(0xFF00), None);
    }
}
