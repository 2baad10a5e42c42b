//! # httpd
//!
//! A lightweight, embeddable HTTP/1.1 server modelled on ESP-IDF's `esp_http_server`: one
//! server thread running a poll loop over the listener, a control queue and the client
//! sessions; URI handlers registered at run time; persistent sessions that carry their own
//! context, dropped when the connection closes. Fixed, configured limits; no async runtime.
//!
//! ```
//! use httpd::{Config, Handler, Method, Server};
//!
//! let config = Config::builder().port(0).build()?;
//! let server = Server::start(config)?;
//! server.register(Handler::new("/hello", Method::Get, |req| {
//!     req.set_header("Custom-Header", "yes")?;
//!     req.send_str("Hello World!")
//! }))?;
//! server.register(Handler::new("/adder", Method::Post, |req| {
//!     let body = req.read_body(16)?;
//!     let n: i64 = std::str::from_utf8(&body).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
//!     let sum = req.session_ctx_or_insert_with(|| 0i64); // lives as long as the connection
//!     *sum += n;
//!     let reply = sum.to_string();
//!     req.send_str(&reply)
//! }))?;
//! println!("listening on http://{}", server.local_addr());
//! server.stop();
//! # Ok::<(), httpd::Error>(())
//! ```
//!
//! See the README for the configuration table and the mapping from ESP-IDF's API.
//!
//! # Layout
//!
//! Layers, each using only those above it in this list (no import cycles):
//!
//! - `types`: shared vocabulary (session ids, methods, versions, URI matchers). Uses nothing.
//! - `error`: the one error type and the one error -> status table. Uses nothing.
//! - `event`: server events and their observer. Uses `types`, `error`.
//! - `hooks`: raw-socket hooks for bindings that speak in OS descriptors (the C API). Uses
//!   `types`.
//! - `config`: the validated configuration and its builder. Uses the above.
//! - `tls` (feature `tls`): TLS configuration (certificates, client authentication, versions,
//!   resumption, handshake deadline) and what handlers learn of a TLS session. Uses `error`.
//! - `proto`: sans-IO protocol cores (request heads, chunked coding, response heads and the
//!   keep-alive rule, request targets, the WebSocket codec and message assembly). Uses the above.
//! - `conn`: transports (TCP, TLS over TCP, an in-memory pipe, the relay between a worker and the
//!   loop), buffers, response bodies pulled from a source, the session state machine and the
//!   session table. Uses the above.
//! - `api`: what handlers get (request, response, `Body`, `WsConn`, detached requests, session
//!   context). Uses the above.
//! - `router`: the handler table, a matcher per handler. Uses the above.
//! - `runtime`: the control channel, dispatch, the worker pool and the poll loop, the only place
//!   that decides who runs next. Uses the above.
//! - `server`: the thin public `Server` handle. Uses everything.
//! - `svc` (feature `embedded-svc`): embedded-svc's server traits and an `EspHttpServer`
//!   facade for esp-rs handler code. Uses `server`, `router`, `api` and below; nothing uses it.
//! - `files`: static files (a directory or compiled-in assets) as a handler, and safe uploads.
//!   Uses `types`, `error`, `proto`, `api`, `router`; only re-exported here.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(unreachable_pub)]

mod api;
mod config;
mod conn;
mod error;
mod event;
mod files;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod hooks;
mod proto;
mod router;
mod runtime;
mod server;
#[cfg(feature = "tls")]
mod tls;
mod types;

// esp-rs on a host (issue 14): the top layer, above `server`.
#[cfg(feature = "embedded-svc")]
pub mod svc;

pub use api::body::Body;
pub use api::detach::AsyncRequest;
pub use api::request::Request;
pub use api::ws::{CloseCode, Opcode, WsConn, WsFrame, WsHandler, WsMessage, WsSendCallback};
pub use config::{
    Config, ConfigBuilder, FailurePolicy, OnClose, OnOpen, TcpKeepalive, MAX_REQ_HEADERS_LIMIT,
};
pub use error::{Error, ErrorCode};
pub use event::{Event, OnEvent};
pub use files::{Assets, FileError, StaticFiles};
pub use hooks::{Opened, SocketHooks, SocketIo};
pub use router::Handler;
pub use runtime::control::ServerContext;
pub use server::Server;
#[cfg(feature = "tls")]
pub use tls::{
    crypto_provider, ClientAuth, Resumption, TlsConfig, TlsConfigBuilder, TlsInfo, TlsVersion,
    DEFAULT_HANDSHAKE_TIMEOUT,
};
pub use types::{Method, SessionId, UriMatch, Version};
