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

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(unreachable_pub)]

mod config;
mod detach;
mod error;
mod event_loop;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod parse;
mod request;
mod response;
mod router;
mod server;
mod session;
mod ws;
mod ws_codec;

pub use config::{Config, ConfigBuilder, OnClose, OnOpen, TcpKeepalive, MAX_REQ_HEADERS_LIMIT};
pub use detach::AsyncRequest;
pub use error::{Error, ErrorCode};
pub use event_loop::ServerContext;
pub use parse::{Method, Version};
pub use request::Request;
pub use router::{Handler, UriMatch};
pub use server::Server;
pub use session::SessionId;
pub use ws::{CloseCode, Opcode, WsConn, WsFrame, WsHandler, WsMessage, WsSendCallback};
