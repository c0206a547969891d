//! What one client may ask of the server: the limits [`Control`](super::Control)'s builder
//! sets, with their defaults.

use std::time::Duration;

/// Every limit of a control API; [`Limits::default`] holds the documented defaults.
#[derive(Clone, Copy, Debug)]
pub(super) struct Limits {
    /// Bytes of one frame (one request or batch).
    pub max_request: usize,
    /// Calls in one batch.
    pub max_batch: usize,
    /// Bytes of one answer (a response, or a batch's array of them).
    pub max_response: usize,
    /// WebSocket connections at once.
    pub max_connections: usize,
    /// How long a frame may take to arrive once begun, or to be sent; and the handshake.
    pub frame_timeout: Duration,
    /// How long a connection with no subscription may send nothing.
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request: 1 << 20,
            max_batch: 64,
            max_response: 4 << 20,
            max_connections: 64,
            frame_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(300),
        }
    }
}
