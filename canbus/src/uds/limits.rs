//! The server's limits and the client's timers.

use std::time::Duration;

use crate::Error;

/// What the server accepts. The defaults suit a 16 MiB image on a 500 kbit/s classic bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ServerLimits {
    /// maxNumberOfBlockLength announced to the client: the longest TransferData request,
    /// SID and block sequence counter included (ISO 14229-1 counts them). Longer blocks are
    /// refused with NRC 0x13.
    pub max_block_len: usize,
    /// Per-message byte cap on every request, enforced by ISO-TP before any byte is stored
    /// (the first frame of a longer message gets FC.Overflow). At least `max_block_len`.
    pub max_message_len: usize,
    /// A transfer still open this long after it began is aborted (slow retrieval).
    pub transfer_deadline: Option<Duration>,
    /// After `grace`, a transfer whose average rate since it began falls under this many
    /// bytes per second is aborted (slow retrieval).
    pub min_bytes_per_sec: Option<u64>,
    /// How long a transfer may start slowly before the rate counts.
    pub grace: Duration,
}

impl Default for ServerLimits {
    /// 4095-byte blocks (the longest ISO-TP message without the 32-bit length escape), no
    /// deadline, and at least 1 KiB/s averaged after 10 s: the Primary's own HTTP limit.
    fn default() -> Self {
        Self {
            max_block_len: 4095,
            max_message_len: 4095,
            transfer_deadline: None,
            min_bytes_per_sec: Some(1024),
            grace: Duration::from_secs(10),
        }
    }
}

impl ServerLimits {
    pub(super) fn validate(&self) -> Result<(), Error> {
        let reason = if self.max_block_len < 3 {
            "max_block_len must leave room for data after the SID and counter"
        } else if u32::try_from(self.max_message_len).is_err() {
            "max_message_len must fit an ISO-TP message (4 GiB)"
        } else if self.max_message_len < self.max_block_len {
            "max_message_len must be at least max_block_len"
        } else {
            return Ok(());
        };
        Err(Error::InvalidConfig { reason })
    }
}

/// The client's timers (ISO 14229-2 P2 and P2*) and retry policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientConfig {
    /// P2client: from the end of a request until the response must begin.
    pub p2: Duration,
    /// P2*client: after each "response pending" (NRC 0x78), until the next response begins.
    pub p2_star: Duration,
    /// "Response pending" answers accepted for one request before giving up, so a server
    /// cannot stall the client forever.
    pub max_pending: u32,
    /// Times a TransferData block is sent again after a transport error or a missing
    /// response. Safe because the server acknowledges a repeated counter without writing.
    pub block_retries: u8,
    /// Largest TransferData request the client builds, whatever the server announces (bounds
    /// the client's buffer).
    pub max_block_len: usize,
}

impl Default for ClientConfig {
    /// P2 100 ms (ISO's 50 ms server time plus margin for a loaded host), P2* 5 s, 100 pending
    /// answers, 3 retries, blocks of up to 64 KiB.
    fn default() -> Self {
        Self {
            p2: Duration::from_millis(100),
            p2_star: Duration::from_secs(5),
            max_pending: 100,
            block_retries: 3,
            max_block_len: 64 << 10,
        }
    }
}
