//! Negative response codes (ISO 14229-1, annex A.1).

use std::fmt;

/// A negative response code: the third byte of `0x7F SID NRC`.
///
/// A newtype rather than an enum because the client must carry whatever code a server sends,
/// including ones this crate never produces; the constants are the codes this protocol uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Nrc(pub u8);

impl Nrc {
    /// 0x10: the request was understood but failed for no more specific reason.
    pub const GENERAL_REJECT: Self = Self(0x10);
    /// 0x11: unknown service identifier.
    pub const SERVICE_NOT_SUPPORTED: Self = Self(0x11);
    /// 0x12: known service, unknown sub-function.
    pub const SUBFUNCTION_NOT_SUPPORTED: Self = Self(0x12);
    /// 0x13: the message length or a length field inside it is wrong.
    pub const INCORRECT_LENGTH: Self = Self(0x13);
    /// 0x22: the server's state does not allow the request now (say, a transfer already open).
    pub const CONDITIONS_NOT_CORRECT: Self = Self(0x22);
    /// 0x24: the request came out of order (data without a download, exit before the end).
    pub const REQUEST_SEQUENCE_ERROR: Self = Self(0x24);
    /// 0x31: a parameter is outside what the server supports (identifier, routine, size).
    pub const REQUEST_OUT_OF_RANGE: Self = Self(0x31);
    /// 0x70: the server refuses to start the announced upload or download.
    pub const UPLOAD_DOWNLOAD_NOT_ACCEPTED: Self = Self(0x70);
    /// 0x71: the transfer was halted (too much data, too slow, past its deadline).
    pub const TRANSFER_DATA_SUSPENDED: Self = Self(0x71);
    /// 0x72: writing or verifying what was transferred failed.
    pub const GENERAL_PROGRAMMING_FAILURE: Self = Self(0x72);
    /// 0x73: a TransferData block carried an unexpected block sequence counter.
    pub const WRONG_BLOCK_SEQUENCE_COUNTER: Self = Self(0x73);
    /// 0x78: not an error: the final response follows later (the client switches to P2*).
    pub const RESPONSE_PENDING: Self = Self(0x78);

    /// The name ISO 14229 gives the code, if it is one this crate knows.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x10 => "generalReject",
            0x11 => "serviceNotSupported",
            0x12 => "subFunctionNotSupported",
            0x13 => "incorrectMessageLengthOrInvalidFormat",
            0x22 => "conditionsNotCorrect",
            0x24 => "requestSequenceError",
            0x31 => "requestOutOfRange",
            0x70 => "uploadDownloadNotAccepted",
            0x71 => "transferDataSuspended",
            0x72 => "generalProgrammingFailure",
            0x73 => "wrongBlockSequenceCounter",
            0x78 => "requestCorrectlyReceivedResponsePending",
            _ => return None,
        })
    }
}

impl fmt::Display for Nrc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "NRC {:#04X} ({name})", self.0),
            None => write!(f, "NRC {:#04X}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_names_and_unknown_codes() {
        assert_eq!(
            Nrc::WRONG_BLOCK_SEQUENCE_COUNTER.to_string(),
            "NRC 0x73 (wrongBlockSequenceCounter)"
        );
        assert_eq!(Nrc(0x99).to_string(), "NRC 0x99");
    }
}
