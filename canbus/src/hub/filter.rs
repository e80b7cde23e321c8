//! Acceptance filters, as a CAN controller or a SocketCAN socket applies them.
//!
//! A node on a busy vehicle bus sees hundreds of frames per second that are not for it;
//! filtering in the "controller" keeps them out of its receive queue (and, in the lockstep
//! scheduler, keeps the node from being woken for them).

use crate::frame::CanFrame;
use crate::id::{self, Id};

/// Passes a frame when `frame_id & mask == id & mask` and, if set, the identifier format
/// matches: the semantics of SocketCAN's `struct can_filter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Filter {
    id: u32,
    mask: u32,
    extended: Option<bool>,
}

impl Filter {
    /// Passes every frame.
    pub const ACCEPT_ALL: Self = Self { id: 0, mask: 0, extended: None };

    /// Passes exactly this identifier in this format.
    pub fn exact(id: Id) -> Self {
        Self::masked(id, u32::MAX)
    }

    /// Passes identifiers of `id`'s format that agree with `id` on the bits set in `mask`.
    pub fn masked(id: Id, mask: u32) -> Self {
        Self { id: id::raw(id), mask, extended: Some(matches!(id, Id::Extended(_))) }
    }

    /// True when `frame` passes.
    pub fn accepts(&self, frame: &CanFrame) -> bool {
        self.extended.is_none_or(|extended| extended == frame.is_extended_id())
            && frame.raw_id() & self.mask == self.id & self.mask
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::{extended, standard};

    #[test]
    fn exact_and_masked() {
        let frame = CanFrame::classic(standard(0x7E8).unwrap(), &[]).unwrap();
        assert!(Filter::ACCEPT_ALL.accepts(&frame));
        assert!(Filter::exact(standard(0x7E8).unwrap()).accepts(&frame));
        assert!(!Filter::exact(standard(0x7E0).unwrap()).accepts(&frame));
        assert!(!Filter::exact(extended(0x7E8).unwrap()).accepts(&frame));
        assert!(Filter::masked(standard(0x7E0).unwrap(), 0x7F0).accepts(&frame));
    }
}
