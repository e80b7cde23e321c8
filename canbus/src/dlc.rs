//! Data length codes: the 4-bit field that says how many data bytes follow.
//!
//! Classic CAN carries 0-8 bytes and the DLC is the length. CAN FD keeps the 4-bit field, so
//! codes 9-15 stand for 12, 16, 20, 24, 32, 48 and 64 bytes; any other length must be padded up
//! to the next one of these (ISO 11898-1:2015, table 5). ISO-TP over FD relies on this table to
//! pick the smallest frame that holds a segment.

/// Payload length for each DLC code 0..=15 of a CAN FD frame.
pub const FD_LENGTHS: [usize; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64];

/// Largest classic CAN payload.
pub const CLASSIC_MAX_LEN: usize = 8;

/// Largest CAN FD payload.
pub const FD_MAX_LEN: usize = 64;

/// The DLC code of a payload length that an FD frame can carry as is, `None` for lengths that
/// need padding first.
pub fn fd_dlc(len: usize) -> Option<u8> {
    FD_LENGTHS.iter().position(|&l| l == len).and_then(|code| u8::try_from(code).ok())
}

/// The smallest valid FD payload length that holds `len` bytes, `None` above 64.
pub fn fd_padded_len(len: usize) -> Option<usize> {
    FD_LENGTHS.iter().copied().find(|&l| l >= len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_padding() {
        assert_eq!(fd_dlc(8), Some(8));
        assert_eq!(fd_dlc(12), Some(9));
        assert_eq!(fd_dlc(64), Some(15));
        assert_eq!(fd_dlc(9), None);
        assert_eq!(fd_padded_len(9), Some(12));
        assert_eq!(fd_padded_len(33), Some(48));
        assert_eq!(fd_padded_len(0), Some(0));
        assert_eq!(fd_padded_len(65), None);
    }
}
