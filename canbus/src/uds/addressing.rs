//! CAN identifiers for the request and response channel of each Secondary.
//!
//! Every Secondary gets its own pair (physical addressing): ISO-TP flow control and UDS
//! responses only work one-to-one. Functional (broadcast) addressing carries single frames
//! only, so metadata is delivered to each Secondary in turn; see `PROTOCOL.md`.

use crate::Error;
use crate::id::{self, Id};
use crate::isotp::IsoTpConfig;

/// Tester address of the Primary in normal fixed addressing (ISO 15765-2 uses 0xF1 for an
/// off-board tester; the Primary plays that role on the vehicle bus).
pub const PRIMARY_ADDRESS: u8 = 0xF1;

/// The identifiers of one Secondary's channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EcuAddress {
    /// Frames from the Primary to the Secondary.
    pub request: Id,
    /// Frames from the Secondary to the Primary.
    pub response: Id,
}

impl EcuAddress {
    /// 11-bit identifiers in the OBD pattern: request 0x7E0 + n, response 0x7E8 + n, for the
    /// first eight Secondaries (n = 0..=7). Short identifiers keep frames short.
    pub fn standard(n: u8) -> Result<Self, Error> {
        if n > 7 {
            return Err(Error::InvalidConfig { reason: "11-bit addressing covers 8 ECUs (0..=7)" });
        }
        let n = u16::from(n);
        Ok(Self { request: id::standard(0x7E0 + n)?, response: id::standard(0x7E8 + n)? })
    }

    /// 29-bit normal fixed addressing (ISO 15765-2, priority 6, physical):
    /// request `0x18DA_<ecu>_F1`, response `0x18DA_F1_<ecu>`, for up to 254 Secondaries.
    pub fn normal_fixed(ecu: u8) -> Result<Self, Error> {
        if ecu == PRIMARY_ADDRESS {
            return Err(Error::InvalidConfig { reason: "0xF1 is the Primary's own address" });
        }
        let (ecu, primary) = (u32::from(ecu), u32::from(PRIMARY_ADDRESS));
        Ok(Self {
            request: id::extended(0x18DA_0000 | ecu << 8 | primary)?,
            response: id::extended(0x18DA_0000 | primary << 8 | ecu)?,
        })
    }

    /// The Primary's ISO-TP configuration for this channel (classic, or FD with BRS).
    pub fn client_config(&self, fd: bool) -> IsoTpConfig {
        config(self.request, self.response, fd)
    }

    /// The Secondary's ISO-TP configuration for this channel.
    pub fn server_config(&self, fd: bool) -> IsoTpConfig {
        config(self.response, self.request, fd)
    }
}

fn config(tx: Id, rx: Id, fd: bool) -> IsoTpConfig {
    if fd { IsoTpConfig::fd(tx, rx) } else { IsoTpConfig::classic(tx, rx) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        let a = EcuAddress::standard(2).unwrap();
        assert_eq!((id::raw(a.request), id::raw(a.response)), (0x7E2, 0x7EA));
        assert!(EcuAddress::standard(8).is_err());
        let b = EcuAddress::normal_fixed(0x10).unwrap();
        assert_eq!((id::raw(b.request), id::raw(b.response)), (0x18DA_10F1, 0x18DA_F110));
        assert!(EcuAddress::normal_fixed(0xF1).is_err());
        assert_eq!(a.server_config(true).tx_id, a.response);
    }
}
