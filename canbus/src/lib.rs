//! A faithful mock of a CAN / CAN FD bus, and ISO-TP on top of it.
//!
//! The Primary hands images to Secondary ECUs over CAN. Testing that path needs a bus that
//! behaves like the real one (frame formats, bit timing, arbitration, errors and
//! retransmission) yet runs a 16 MiB transfer in seconds and the same way every time:
//!
//! - [`frame`]: classic (0-8 bytes) and FD (0-64 bytes) frames with 11- or 29-bit identifiers,
//!   implementing the `embedded-can` traits.
//! - [`timing`]: the exact bit length of each frame at the configured bit rates, stuff bits
//!   included; [`arbitration`]: who wins when several nodes send at once.
//! - [`hub`]: an in-process broadcast bus whose virtual clock advances by those bit times, with
//!   acceptance filters, error confinement and [`fault`] injection on a seeded schedule.
//! - [`daemon`] and the `canbus-hub` binary: the same bus shared by processes over a Unix
//!   socket, frames in SocketCAN's byte layout ([`wire`]).
//! - [`isotp`]: ISO 15765-2 transport over any [`CanLink`], which both the hub's [`Node`] and
//!   the daemon's [`HubClient`] implement.
//! - [`uds`]: the Primary <-> Secondary ECU protocol, UDS services (ISO 14229) over ISO-TP.
//! - `SocketCanLink` (feature `socketcan`): the same [`CanLink`] on a real Linux interface.
//!
//! ```
//! use canbus::{CanFrame, Hub, HubConfig, id};
//! use std::time::Duration;
//!
//! let hub = Hub::new(HubConfig::default())?;
//! let (a, b) = (hub.attach()?, hub.attach()?);
//! let frame = CanFrame::classic(id::standard(0x123)?, &[1, 2, 3])?;
//! let sent = a.transmit(&frame, Duration::from_secs(1))?;
//! let received = b.recv(None)?.expect("a frame");
//! assert_eq!(received.frame, frame);
//! assert_eq!(received.timestamp, sent);
//! # Ok::<(), canbus::Error>(())
//! ```

pub mod arbitration;
pub mod daemon;
pub mod dlc;
mod error;
pub mod fault;
pub mod frame;
pub mod hub;
pub mod id;
pub mod isotp;
mod link;
#[cfg(feature = "socketcan")]
mod socketcan_link;
pub mod time;
pub mod timing;
pub mod uds;
pub mod wire;

pub use daemon::{HubClient, HubServer};
pub use error::Error;
pub use fault::{Babble, FaultAction, FaultPlan, FaultRule, Trigger};
pub use frame::{CanFrame, FdFlags, FrameFormat};
pub use hub::{ClockMode, Filter, Hub, HubConfig, Node};
pub use isotp::{IsoTpConfig, IsoTpSocket};
pub use link::{CanLink, Received};
#[cfg(feature = "socketcan")]
pub use socketcan_link::SocketCanLink;
pub use time::Timestamp;
pub use timing::{BusTiming, Stuffing};
