//! esp-rs on a host: embedded-svc 0.29's HTTP server traits served by httpd, behind a facade
//! with the names of esp-idf-svc 0.53's `esp_idf_svc::http::server` (feature `embedded-svc`).
//!
//! Handler code written for the chip compiles and runs unchanged on a host; only the `use`
//! line of the server module changes:
//!
//! ```text
//! use esp_idf_svc::http::server;   // on the chip
//! use httpd::svc as server;        // on a host
//! ```
//!
//! ```
//! use httpd::svc as server;
//! use server::embedded_svc::http::{Headers, Method};
//! use server::embedded_svc::io::{Read, Write};
//!
//! let conf = server::Configuration { http_port: 0, ..Default::default() };
//! let mut server = server::EspHttpServer::new(&conf)?;
//! server.fn_handler::<anyhow::Error, _>("/post", Method::Post, |mut req| {
//!     let len = req.content_len().unwrap_or(0) as usize;
//!     let mut buf = vec![0; len];
//!     req.read_exact(&mut buf)?;
//!     req.into_ok_response()?.write_all(&buf)?;
//!     Ok(())
//! })?;
//! server.ws_handler("/ws", None, |ws| {
//!     if ws.is_new() || ws.is_closed() {
//!         return Ok(());
//!     }
//!     let (frame_type, len) = ws.recv(&mut [])?; // the size, without consuming the frame
//!     let mut buf = vec![0; len];
//!     ws.recv(&mut buf)?;
//!     ws.send(frame_type, &buf)
//! })?;
//! # Ok::<(), anyhow::Error>(())
//! ```
//!
//! What it is made of: [`EspHttpServer`] starts an httpd [`Server`](crate::Server) with the
//! [`Configuration`] mapped onto httpd's (see [`Configuration::to_httpd`]) and stops it when
//! dropped; each handler is registered as an httpd handler that wraps the request in an
//! [`EspHttpConnection`], embedded-svc's `Connection`; WebSocket handlers run on httpd's
//! WebSocket support (see [`ws`]). There is no `unsafe`: esp-idf-svc's `new_nonstatic`,
//! `handler_nonstatic`, `fn_handler_nonstatic` and `handler_chain_nonstatic`, which let
//! handlers borrow from the stack and are `unsafe` there, are left out. TLS (`https_port`,
//! certificates) is not part of the facade.

mod config;
mod connection;
mod error;
mod server;
pub mod ws;

pub use embedded_svc;
pub use embedded_svc::http::server::{
    CompositeHandler, Connection, FnHandler, Handler, Middleware, Request, Response,
};
pub use embedded_svc::http::{headers, status, Method};
pub use embedded_svc::utils::http::server::registration::*;
pub use embedded_svc::utils::http::{cookies, HeaderSetError, Headers};

pub use self::config::{Configuration, Core, KeepAlive, HOST_STACK_MIN};
pub use self::connection::{EspHttpConnection, EspHttpRawConnection, EspHttpRequestHead};
pub use self::error::{EspError, EspIOError};
pub use self::server::{fn_handler, EspHttpServer, EspHttpTraversableChain};
