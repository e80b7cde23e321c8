//! Bit stuffing: after five equal bits the transmitter inserts one bit of the opposite level,
//! so receivers can resynchronise on edges. The inserted bit starts the next run.
//!
//! The simulator counts the stuff bits of every frame it puts on the bus (millions for a
//! 16 MiB transfer, in debug builds too), so data bytes go through a table eight bits at a
//! time. Insertion is *lazy*: the stuff bit is emitted before the bit that follows a run of
//! five, so a run ending exactly at the end of the stuffed region leaves a pending stuff bit
//! that the caller adds (classic CRC) or drops (CAN FD, where a fixed stuff bit follows anyway).

/// One bit through the rule. `state` is the level of the last bit on the bus (bit 3) and how
/// many equal bits in a row (bits 0-2). Returns (stuff bits inserted before it, new state).
const fn step(state: u8, bit: u8) -> (u8, u8) {
    let mut level = state >> 3;
    let mut run = state & 7;
    let mut stuffed = 0;
    if run == 5 {
        stuffed = 1;
        level ^= 1;
        run = 1;
    }
    if bit == level {
        run += 1;
    } else {
        level = bit;
        run = 1;
    }
    (stuffed, (level << 3) | run)
}

/// For each state and byte: stuff bits inserted (high byte) and the state after (low byte).
/// (A `static`, not a `const`: debug builds would copy a `const` array on every lookup.)
static TABLE: [[u16; 256]; 16] = {
    let mut table = [[0; 256]; 16];
    let mut state = 0;
    while state < 16 {
        let mut byte = 0;
        while byte < 256 {
            let mut s = state as u8;
            let mut count = 0u16;
            let mut i = 0;
            while i < 8 {
                let (stuffed, next) = step(s, ((byte >> (7 - i)) & 1) as u8);
                count += stuffed as u16;
                s = next;
                i += 1;
            }
            table[state][byte] = (count << 8) | s as u16;
            byte += 1;
        }
        state += 1;
    }
    table
};

/// Counts the stuff bits of a bit stream as it is fed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stuffer {
    state: u8,
    count: u32,
}

impl Stuffer {
    /// Before SOF the bus idles recessive (1); the dominant SOF starts the first run.
    pub(crate) fn new() -> Self {
        Self { state: 1 << 3, count: 0 }
    }

    pub(crate) fn bit(&mut self, bit: bool) {
        let (stuffed, state) = step(self.state, u8::from(bit));
        self.count += u32::from(stuffed);
        self.state = state;
    }

    pub(crate) fn byte(&mut self, byte: u8) {
        let entry = TABLE[usize::from(self.state)][usize::from(byte)];
        self.count += u32::from(entry >> 8);
        self.state = (entry & 0xFF) as u8;
    }

    /// Stuff bits inserted so far.
    pub(crate) fn count(&self) -> u32 {
        self.count
    }

    /// True when five equal bits have just gone out, so the next bit on the bus is a stuff bit.
    pub(crate) fn pending(&self) -> bool {
        self.state & 7 == 5
    }
}

/// The most stuff bits that can precede the last of `n` stuffed bits: one after the 5th bit,
/// then one after every 4 more (the stuff bit itself starts the next run), i.e.
/// `floor((n - 2) / 4)`. A stuff bit that would follow the last bit is not counted.
pub(crate) fn worst_case_within(n: u32) -> u32 {
    n.saturating_sub(2) / 4
}

/// As [`worst_case_within`], plus the stuff bit that may follow the last bit:
/// `floor((n - 1) / 4)` (the classic-CAN bound of Davis et al. 2007).
pub(crate) fn worst_case_with_trailing(n: u32) -> u32 {
    n.saturating_sub(1) / 4
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits_of(bytes: &[u8]) -> impl Iterator<Item = bool> + '_ {
        bytes.iter().flat_map(|&byte| (0..8).rev().map(move |i| (byte >> i) & 1 == 1))
    }

    #[test]
    fn table_matches_bitwise() {
        let bytes = [0x00, 0xFF, 0x0F, 0x83, 0xE0, 0xAA, 0x00, 0x00, 0x7C, 0xF8];
        for skew in 0..5 {
            let (mut by_bit, mut by_byte) = (Stuffer::new(), Stuffer::new());
            for _ in 0..skew {
                by_bit.bit(false);
                by_byte.bit(false);
            }
            bits_of(&bytes).for_each(|bit| by_bit.bit(bit));
            bytes.iter().for_each(|&byte| by_byte.byte(byte));
            assert_eq!((by_bit.count(), by_bit.state), (by_byte.count(), by_byte.state));
        }
    }

    #[test]
    fn known_patterns() {
        // Ten dominant bits: a stuff bit after the 5th; the next five zeros form a new run of
        // five, so a second stuff bit is pending. An eleventh zero makes it go out.
        let mut stuffer = Stuffer::new();
        (0..10).for_each(|_| stuffer.bit(false));
        assert_eq!((stuffer.count(), stuffer.pending()), (1, true));
        stuffer.bit(false);
        assert_eq!((stuffer.count(), stuffer.pending()), (2, false));
    }

    #[test]
    fn worst_case_bounds() {
        assert_eq!(worst_case_with_trailing(34 + 64), 24);
        assert_eq!(worst_case_with_trailing(54 + 64), 29);
        assert_eq!(worst_case_within(5), 0);
        assert_eq!(worst_case_within(6), 1);
    }
}
