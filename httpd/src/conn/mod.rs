//! The connection layer: transports (TCP, TLS over TCP, an in-memory pipe, the relay to a
//! worker), buffers and their pools, response bodies pulled from a source, the session state
//! machine and the session table. Uses `types`, `error` and `proto`; knows nothing of handlers or the loop.

pub(crate) mod buffer;
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) mod pipe;
pub(crate) mod relay;
pub(crate) mod session;
pub(crate) mod source;
pub(crate) mod table;
#[cfg(feature = "tls")]
pub(crate) mod tls;
pub(crate) mod transport;
