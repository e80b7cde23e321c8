//! Requests on the wire: strict decoding (server) and encoding (client).
//!
//! Decoding never trusts a length field: every one is checked against the bytes actually
//! present, and a request with anything left over is refused. The refusal is the NRC the
//! server answers with.

use super::nrc::Nrc;
use super::service::{Identifier, Routine, sid};

/// RoutineControl sub-function startRoutine, the only one offered.
const START_ROUTINE: u8 = 0x01;
/// ECUReset sub-function hardReset, the only one offered.
const HARD_RESET: u8 = 0x01;
/// TesterPresent sub-function zeroSubFunction.
const ZERO_SUBFUNCTION: u8 = 0x00;
/// RequestFileTransfer modeOfOperation AddFile and ReplaceFile: both write a file.
const ADD_FILE: u8 = 0x01;
const REPLACE_FILE: u8 = 0x03;
/// dataFormatIdentifier 0x00: neither compressed nor encrypted, the only format taken.
const PLAIN: u8 = 0x00;
/// Longest metadata file name accepted (names are short paths such as `image/12.root.json`).
pub const MAX_FILE_NAME_LEN: usize = 255;

/// One request, borrowing its variable parts from the received message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// ReadDataByIdentifier with one identifier.
    ReadData(Identifier),
    /// WriteDataByIdentifier.
    WriteData {
        /// What is written.
        id: Identifier,
        /// The record, at least one byte.
        data: &'a [u8],
    },
    /// RoutineControl startRoutine.
    StartRoutine {
        /// Which routine.
        routine: Routine,
        /// The routine option record (the nonce for a version report, else empty).
        option: &'a [u8],
    },
    /// RequestDownload of an image to the start of the inactive slot (address 0).
    RequestDownload {
        /// memorySize: the image's exact length.
        size: u64,
    },
    /// RequestFileTransfer adding or replacing a metadata file.
    RequestFileTransfer {
        /// filePathAndName.
        name: &'a str,
        /// fileSizeUnCompressed (equal to fileSizeCompressed: no compression).
        size: u64,
    },
    /// TransferData.
    TransferData {
        /// blockSequenceCounter: 1 for the first block, wrapping from 0xFF to 0x00.
        counter: u8,
        /// transferRequestParameterRecord, at least one byte.
        data: &'a [u8],
    },
    /// RequestTransferExit without a parameter record.
    TransferExit,
    /// ECUReset hardReset.
    EcuReset,
    /// TesterPresent.
    TesterPresent,
}

impl<'a> Request<'a> {
    /// Decodes a request; `Err` is the NRC to refuse it with.
    pub fn decode(message: &'a [u8]) -> Result<Self, Nrc> {
        let Some((&service, body)) = message.split_first() else {
            return Err(Nrc::INCORRECT_LENGTH);
        };
        let mut body = Reader(body);
        let request = match service {
            sid::READ_DATA_BY_IDENTIFIER => {
                let id = identifier(body.u16()?)?;
                if !id.readable() {
                    return Err(Nrc::REQUEST_OUT_OF_RANGE);
                }
                Self::ReadData(id)
            }
            sid::WRITE_DATA_BY_IDENTIFIER => {
                let id = identifier(body.u16()?)?;
                if id != Identifier::TimeAttestation {
                    return Err(Nrc::REQUEST_OUT_OF_RANGE);
                }
                Self::WriteData { id, data: body.non_empty_rest()? }
            }
            sid::ROUTINE_CONTROL => {
                if body.u8()? != START_ROUTINE {
                    return Err(Nrc::SUBFUNCTION_NOT_SUPPORTED);
                }
                let routine = Routine::from_code(body.u16()?).ok_or(Nrc::REQUEST_OUT_OF_RANGE)?;
                let option = match routine {
                    Routine::VersionReport => body.non_empty_rest()?,
                    _ => &[],
                };
                Self::StartRoutine { routine, option }
            }
            sid::REQUEST_DOWNLOAD => {
                plain_format(body.u8()?)?;
                let format = body.u8()?;
                let (size_len, address_len) = (format >> 4, format & 0x0F);
                let address = body.uint(address_len)?;
                let size = body.uint(size_len)?;
                if address != 0 || size == 0 {
                    return Err(Nrc::REQUEST_OUT_OF_RANGE);
                }
                Self::RequestDownload { size }
            }
            sid::REQUEST_FILE_TRANSFER => {
                if !matches!(body.u8()?, ADD_FILE | REPLACE_FILE) {
                    return Err(Nrc::REQUEST_OUT_OF_RANGE);
                }
                let name_len = body.u16()?;
                let name = file_name(body.take(name_len.into())?)?;
                plain_format(body.u8()?)?;
                let size_len = body.u8()?;
                let size = body.uint(size_len)?;
                let compressed = body.uint(size_len)?;
                if size != compressed || size == 0 {
                    return Err(Nrc::REQUEST_OUT_OF_RANGE);
                }
                Self::RequestFileTransfer { name, size }
            }
            sid::TRANSFER_DATA => {
                let counter = body.u8()?;
                Self::TransferData { counter, data: body.non_empty_rest()? }
            }
            sid::REQUEST_TRANSFER_EXIT => Self::TransferExit,
            sid::ECU_RESET => match body.u8()? {
                HARD_RESET => Self::EcuReset,
                _ => return Err(Nrc::SUBFUNCTION_NOT_SUPPORTED),
            },
            sid::TESTER_PRESENT => match body.u8()? {
                ZERO_SUBFUNCTION => Self::TesterPresent,
                _ => return Err(Nrc::SUBFUNCTION_NOT_SUPPORTED),
            },
            _ => return Err(Nrc::SERVICE_NOT_SUPPORTED),
        };
        body.end()?;
        Ok(request)
    }

    /// The service identifier.
    pub fn sid(&self) -> u8 {
        match self {
            Self::ReadData(_) => sid::READ_DATA_BY_IDENTIFIER,
            Self::WriteData { .. } => sid::WRITE_DATA_BY_IDENTIFIER,
            Self::StartRoutine { .. } => sid::ROUTINE_CONTROL,
            Self::RequestDownload { .. } => sid::REQUEST_DOWNLOAD,
            Self::RequestFileTransfer { .. } => sid::REQUEST_FILE_TRANSFER,
            Self::TransferData { .. } => sid::TRANSFER_DATA,
            Self::TransferExit => sid::REQUEST_TRANSFER_EXIT,
            Self::EcuReset => sid::ECU_RESET,
            Self::TesterPresent => sid::TESTER_PRESENT,
        }
    }

    /// The request's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.sid()];
        match *self {
            Self::ReadData(id) => out.extend_from_slice(&id.code().to_be_bytes()),
            Self::WriteData { id, data } => {
                out.extend_from_slice(&id.code().to_be_bytes());
                out.extend_from_slice(data);
            }
            Self::StartRoutine { routine, option } => {
                out.push(START_ROUTINE);
                out.extend_from_slice(&routine.code().to_be_bytes());
                out.extend_from_slice(option);
            }
            Self::RequestDownload { size } => {
                let size = minimal_be(size);
                // addressAndLengthFormatIdentifier: memorySize length, one address byte.
                out.extend_from_slice(&[PLAIN, (size.len() as u8) << 4 | 1, 0]);
                out.extend_from_slice(&size);
            }
            Self::RequestFileTransfer { name, size } => {
                out.push(REPLACE_FILE);
                // Names longer than u16 cannot be encoded; the server refuses them anyway.
                let name_len = u16::try_from(name.len()).unwrap_or(u16::MAX);
                out.extend_from_slice(&name_len.to_be_bytes());
                out.extend_from_slice(name.as_bytes());
                let size = minimal_be(size);
                out.extend_from_slice(&[PLAIN, size.len() as u8]);
                out.extend_from_slice(&size);
                out.extend_from_slice(&size);
            }
            Self::TransferData { counter, data } => {
                out.push(counter);
                out.extend_from_slice(data);
            }
            Self::TransferExit => {}
            Self::EcuReset => out.push(HARD_RESET),
            Self::TesterPresent => out.push(ZERO_SUBFUNCTION),
        }
        out
    }
}

/// `value` big-endian in as few bytes as hold it (at least one).
pub(super) fn minimal_be(value: u64) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let skip = (value.leading_zeros() / 8).min(7) as usize;
    bytes[skip..].to_vec()
}

/// A big-endian unsigned integer of 1 to 8 bytes.
pub(super) fn be_uint(bytes: &[u8]) -> Option<u64> {
    (1..=8)
        .contains(&bytes.len())
        .then(|| bytes.iter().fold(0u64, |acc, &byte| acc << 8 | u64::from(byte)))
}

fn identifier(code: u16) -> Result<Identifier, Nrc> {
    Identifier::from_code(code).ok_or(Nrc::REQUEST_OUT_OF_RANGE)
}

fn plain_format(format: u8) -> Result<(), Nrc> {
    if format == PLAIN { Ok(()) } else { Err(Nrc::REQUEST_OUT_OF_RANGE) }
}

/// A file name: 1 to 255 bytes of printable ASCII (the handler decides which names it takes).
fn file_name(bytes: &[u8]) -> Result<&str, Nrc> {
    if bytes.is_empty() || bytes.len() > MAX_FILE_NAME_LEN {
        return Err(Nrc::REQUEST_OUT_OF_RANGE);
    }
    if !bytes.iter().all(|byte| byte.is_ascii_graphic()) {
        return Err(Nrc::REQUEST_OUT_OF_RANGE);
    }
    std::str::from_utf8(bytes).map_err(|_| Nrc::REQUEST_OUT_OF_RANGE)
}

/// A cursor over a request body; running short is an incorrect length.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Nrc> {
        if self.0.len() < n {
            return Err(Nrc::INCORRECT_LENGTH);
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, Nrc> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, Nrc> {
        let bytes = self.take(2)?;
        Ok(u16::from_be_bytes([bytes[0], bytes[1]]))
    }

    /// An integer whose length came from a format byte: 1 to 8 bytes, else out of range.
    fn uint(&mut self, len: u8) -> Result<u64, Nrc> {
        if !(1..=8).contains(&len) {
            return Err(Nrc::REQUEST_OUT_OF_RANGE);
        }
        be_uint(self.take(len.into())?).ok_or(Nrc::REQUEST_OUT_OF_RANGE)
    }

    fn non_empty_rest(&mut self) -> Result<&'a [u8], Nrc> {
        if self.0.is_empty() {
            return Err(Nrc::INCORRECT_LENGTH);
        }
        Ok(std::mem::take(&mut self.0))
    }

    fn end(&self) -> Result<(), Nrc> {
        if self.0.is_empty() { Ok(()) } else { Err(Nrc::INCORRECT_LENGTH) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_round_trips() {
        let requests = [
            Request::ReadData(Identifier::PublicKey),
            Request::WriteData { id: Identifier::TimeAttestation, data: b"signed time" },
            Request::StartRoutine { routine: Routine::VersionReport, option: &[1, 2, 3] },
            Request::StartRoutine { routine: Routine::ActivateImage, option: &[] },
            Request::RequestDownload { size: 1 << 20 },
            Request::RequestDownload { size: u64::MAX },
            Request::RequestFileTransfer { name: "director/targets.json", size: 1234 },
            Request::TransferData { counter: 0xFF, data: &[0; 100] },
            Request::TransferExit,
            Request::EcuReset,
            Request::TesterPresent,
        ];
        for request in requests {
            assert_eq!(Request::decode(&request.encode()), Ok(request));
        }
    }

    #[test]
    fn wire_layouts_follow_iso_14229() {
        let download = Request::RequestDownload { size: 0x10_0000 }.encode();
        assert_eq!(download, [0x34, 0x00, 0x31, 0x00, 0x10, 0x00, 0x00]);
        let file = Request::RequestFileTransfer { name: "a.json", size: 300 }.encode();
        assert_eq!(
            file,
            [0x38, 0x03, 0, 6, b'a', b'.', b'j', b's', b'o', b'n', 0, 2, 1, 44, 1, 44]
        );
        assert_eq!(Request::ReadData(Identifier::EcuSerial).encode(), [0x22, 0xF1, 0x8C]);
    }

    #[test]
    fn malformed_requests_get_the_right_nrc() {
        let cases: [(&[u8], Nrc); 22] = [
            (&[], Nrc::INCORRECT_LENGTH),
            (&[0x10, 0x02], Nrc::SERVICE_NOT_SUPPORTED),
            (&[0x22, 0xF1], Nrc::INCORRECT_LENGTH),
            (&[0x22, 0xF1, 0x8C, 0x00], Nrc::INCORRECT_LENGTH),
            (&[0x22, 0xF1, 0x90], Nrc::REQUEST_OUT_OF_RANGE),
            (&[0x22, 0xF1, 0xA1], Nrc::REQUEST_OUT_OF_RANGE),
            (&[0x2E, 0xF1, 0x8C, 1], Nrc::REQUEST_OUT_OF_RANGE),
            (&[0x2E, 0xF1, 0xA1], Nrc::INCORRECT_LENGTH),
            (&[0x31, 0x02, 0x02, 0x01], Nrc::SUBFUNCTION_NOT_SUPPORTED),
            (&[0x31, 0x01, 0xFF, 0x00], Nrc::REQUEST_OUT_OF_RANGE),
            (&[0x31, 0x01, 0x02, 0x01], Nrc::INCORRECT_LENGTH),
            (&[0x31, 0x01, 0x02, 0x03, 0x00], Nrc::INCORRECT_LENGTH),
            (&[0x34, 0x00, 0x11, 0x01, 0x10], Nrc::REQUEST_OUT_OF_RANGE),
            (&[0x34, 0x00, 0x11, 0x00, 0x00], Nrc::REQUEST_OUT_OF_RANGE),
            (&[0x34, 0x00, 0x91, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9], Nrc::REQUEST_OUT_OF_RANGE),
            (&[0x34, 0x00, 0x41, 0x00, 0x10], Nrc::INCORRECT_LENGTH),
            (&[0x34, 0x11, 0x11, 0x00, 0x10], Nrc::REQUEST_OUT_OF_RANGE),
            (&[0x38, 0x03, 0, 9, b'a', 0, 1, 5, 5], Nrc::INCORRECT_LENGTH),
            (&[0x38, 0x03, 0, 2, b'a', b' ', 0, 1, 5, 5], Nrc::REQUEST_OUT_OF_RANGE),
            (&[0x38, 0x03, 0, 1, b'a', 0, 1, 5, 6], Nrc::REQUEST_OUT_OF_RANGE),
            (&[0x36, 0x01], Nrc::INCORRECT_LENGTH),
            (&[0x37, 0x00], Nrc::INCORRECT_LENGTH),
        ];
        for (bytes, nrc) in cases {
            assert_eq!(Request::decode(bytes), Err(nrc), "{bytes:02X?}");
        }
        assert_eq!(
            Request::decode(&[0x38, 0x04, 0, 1, b'a', 0, 1, 5, 5]),
            Err(Nrc::REQUEST_OUT_OF_RANGE)
        );
        assert_eq!(Request::decode(&[0x11, 0x03]), Err(Nrc::SUBFUNCTION_NOT_SUPPORTED));
    }

    #[test]
    fn integers() {
        assert_eq!(minimal_be(0), [0]);
        assert_eq!(minimal_be(0x1234), [0x12, 0x34]);
        assert_eq!(be_uint(&[1, 0]), Some(256));
        assert_eq!(be_uint(&[]), None);
        assert_eq!(be_uint(&[0; 9]), None);
    }
}
