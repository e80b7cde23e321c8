//! CRC-15/CAN, the checksum of classic frames.
//!
//! Classic CAN stuffs the CRC sequence like the rest of the frame, so the exact length of a
//! frame depends on its CRC value and the simulator must compute it. (CAN FD's CRC-17/CRC-21
//! field uses fixed stuff bits instead, so its length is known without the value.)
//! Polynomial x^15 + x^14 + x^10 + x^8 + x^7 + x^4 + x^3 + 1 (0x4599), initial value 0, over the
//! unstuffed bits from SOF to the end of the data field (ISO 11898-1, 10.4.2.6).

const POLY: u16 = 0x4599;
const MASK: u16 = 0x7FFF;

/// One step of the register as the standard describes it, bit by bit.
const fn shift_bit(crc: u16, bit: u16) -> u16 {
    let feedback = bit ^ ((crc >> 14) & 1);
    let crc = (crc << 1) & MASK;
    if feedback == 1 { crc ^ POLY } else { crc }
}

/// The register after shifting in each byte value from zero, for eight bits per step.
/// (A `static`, not a `const`: debug builds would copy a `const` array on every lookup.)
static TABLE: [u16; 256] = {
    let mut table = [0; 256];
    let mut byte = 0;
    while byte < 256 {
        let mut crc = 0;
        let mut i = 0;
        while i < 8 {
            crc = shift_bit(crc, ((byte >> (7 - i)) & 1) as u16);
            i += 1;
        }
        table[byte] = crc;
        byte += 1;
    }
    table
};

/// A CRC-15 register fed bit by bit or byte by byte.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Crc15(u16);

impl Crc15 {
    pub(crate) fn bit(&mut self, bit: bool) {
        self.0 = shift_bit(self.0, u16::from(bit));
    }

    pub(crate) fn byte(&mut self, byte: u8) {
        let index = usize::from(((self.0 >> 7) ^ u16::from(byte)) & 0xFF);
        self.0 = ((self.0 << 8) ^ TABLE[index]) & MASK;
    }

    pub(crate) fn value(self) -> u16 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bitwise(bytes: &[u8]) -> u16 {
        let mut crc = Crc15::default();
        for &byte in bytes {
            for i in (0..8).rev() {
                crc.bit((byte >> i) & 1 == 1);
            }
        }
        crc.value()
    }

    fn bytewise(bytes: &[u8]) -> u16 {
        let mut crc = Crc15::default();
        bytes.iter().for_each(|&byte| crc.byte(byte));
        crc.value()
    }

    #[test]
    fn check_value_and_table() {
        // CRC-15/CAN of the ASCII string "123456789" is 0x059E (reveng catalogue).
        assert_eq!(bytewise(b"123456789"), 0x059E);
        assert_eq!(bitwise(b"123456789"), 0x059E);
        let mixed = [0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0xFF, 0x12, 0x34];
        assert_eq!(bytewise(&mixed), bitwise(&mixed));
    }
}
