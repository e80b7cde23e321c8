//! CAN identifiers: the `embedded-can` types, with fallible constructors that return our error.
//!
//! We reuse [`embedded_can::Id`] rather than a type of our own so that frames built here can be
//! handed to any `embedded-can` driver (SocketCAN included) without conversion.

pub use embedded_can::{ExtendedId, Id, StandardId};

use crate::Error;

/// An 11-bit identifier (CAN 2.0A, base frame format).
pub fn standard(raw: u16) -> Result<Id, Error> {
    StandardId::new(raw).map(Id::Standard).ok_or(Error::InvalidId { raw: raw.into() })
}

/// A 29-bit identifier (CAN 2.0B, extended frame format).
pub fn extended(raw: u32) -> Result<Id, Error> {
    ExtendedId::new(raw).map(Id::Extended).ok_or(Error::InvalidId { raw })
}

/// The numeric value of an identifier, without any format flag.
pub fn raw(id: Id) -> u32 {
    match id {
        Id::Standard(id) => id.as_raw().into(),
        Id::Extended(id) => id.as_raw(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(raw(standard(0x7FF).unwrap()), 0x7FF);
        assert!(standard(0x800).is_err());
        assert_eq!(raw(extended(0x1FFF_FFFF).unwrap()), 0x1FFF_FFFF);
        assert!(extended(0x2000_0000).is_err());
    }
}
