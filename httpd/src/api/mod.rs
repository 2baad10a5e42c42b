//! What handlers get, built on the connection layer: the request and its body, the response
//! and [`Body`](body::Body), WebSocket connections, detached requests and the session context.
//! Uses `types`, `error`, `config`, `proto` and `conn`.

pub(crate) mod body;
pub(crate) mod detach;
pub(crate) mod exchange;
pub(crate) mod request;
mod respond;
mod session_api;
#[cfg(feature = "tls")]
mod tls;
pub(crate) mod ws;
