//! The closed-form lower bound of an ISO-TP transfer, shared by the benches.
//!
//! Computed without the simulator's code: the frames ISO-TP needs (first frame, consecutive
//! frames, flow controls) times each frame's worst-case bit length at the configured rates,
//! plus the STmin gaps.

use canbus::isotp::StMin;

/// Bus rates and the receiver's flow control parameters.
#[derive(Clone, Copy, Debug)]
pub struct Format {
    /// CAN FD with 64-byte frames and bit rate switching; otherwise classic 8-byte frames.
    pub fd: bool,
    /// Nominal (arbitration) bit rate.
    pub nominal: u32,
    /// Data phase bit rate (equal to `nominal` for classic CAN).
    pub data: u32,
    /// Block size the receiver grants.
    pub block_size: u8,
    /// Separation time the receiver asks for.
    pub st_min: StMin,
}

/// Worst-case bits of a classic base-format data frame with `n` bytes, intermission included:
/// 34 + 8n stuffed bits, floor((34 + 8n - 1) / 4) stuff bits, 13 fixed bits.
fn classic_bits(n: u64) -> u64 {
    let stuffed = 34 + 8 * n;
    stuffed + (stuffed - 1) / 4 + 13
}

/// Worst-case (nominal, data) bits of a CAN FD base-format frame with BRS and `n` bytes (a
/// valid FD length). Nominal: SOF..BRS (17) and its stuff bits, ACK, delimiters, EOF, IFS (12).
/// Data: ESI, DLC, data, their stuff bits, stuff count, CRC, fixed stuff bits, CRC delimiter.
fn fd_bits(n: u64) -> (u64, u64) {
    let arbitration = 17;
    let dynamic = arbitration + 5 + 8 * n;
    let stuff_nominal = (arbitration - 2) / 4;
    let stuff_data = (dynamic - 2) / 4 - stuff_nominal;
    let crc_field = if n > 16 { 4 + 21 + 7 } else { 4 + 17 + 6 };
    (arbitration + stuff_nominal + 12, 5 + 8 * n + stuff_data + crc_field + 1)
}

/// Smallest CAN FD length holding `n` bytes.
fn fd_len(n: u64) -> u64 {
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64]
        .into_iter()
        .find(|&l| l >= n)
        .unwrap_or(64)
}

/// Seconds a frame carrying `n` payload bytes (before padding) occupies the bus. ISO-TP pads
/// with 0xCC by default: classic frames to 8 bytes, FD frames to at least 8 and then to the
/// next valid length.
pub fn frame_seconds(format: &Format, n: u64) -> f64 {
    if format.fd {
        let (nominal, data) = fd_bits(fd_len(n.max(8)));
        nominal as f64 / f64::from(format.nominal) + data as f64 / f64::from(format.data)
    } else {
        classic_bits(8) as f64 / f64::from(format.nominal)
    }
}

/// The transfer's lower bound in seconds: first frame, flow controls and consecutive frames
/// back to back, consecutive frames within a block at least STmin apart, ending at the last
/// frame's end of frame (its intermission does not count).
pub fn limit_seconds(format: &Format, len: u64) -> f64 {
    let tx_dl: u64 = if format.fd { 64 } else { 8 };
    let first_payload = if len > 4095 { tx_dl - 6 } else { tx_dl - 2 };
    let per_cf = tx_dl - 1;
    let rest = len - first_payload;
    let full_cfs = rest / per_cf;
    let last = rest % per_cf;
    let cfs = full_cfs + u64::from(last > 0);
    let blocks = if format.block_size == 0 { 1 } else { cfs.div_ceil(format.block_size.into()) };
    let gaps_in_blocks = cfs - blocks;

    let ff = frame_seconds(format, tx_dl);
    let fc = frame_seconds(format, 3);
    let cf = frame_seconds(format, tx_dl);
    let last_cf = if last > 0 { frame_seconds(format, last + 1) } else { cf };
    let intermission = 3.0 / f64::from(format.nominal);
    let st_min = format.st_min.duration().as_secs_f64();
    // Within a block the next frame starts STmin after the previous one's end of frame, or
    // when its intermission ends, whichever is later.
    let gap_extra = (st_min - intermission).max(0.0);
    ff + fc * blocks as f64
        + cf * full_cfs as f64
        + if last > 0 { last_cf } else { 0.0 }
        + gap_extra * gaps_in_blocks as f64
        - intermission
}
