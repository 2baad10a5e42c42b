//! `EspHttpServer`: esp-idf-svc's server handle over an httpd [`Server`].

use std::fmt::Debug;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};

use embedded_svc::http::server::{FnHandler, Handler, Request};
use embedded_svc::http::Method;
use embedded_svc::utils::http::server::registration::{ChainHandler, ChainRoot};

use super::config::Configuration;
use super::connection::{to_httpd_method, EspHttpConnection};
use super::error::{EspError, EspIOError};
use crate::api::request::Request as HttpdRequest;
use crate::config::Config;
use crate::server::Server;
use crate::Error;

/// An HTTP server serving embedded-svc handlers (esp-idf-svc's `EspHttpServer`): started by
/// [`new`](EspHttpServer::new), stopped when dropped.
///
/// Only `'static` servers exist here: esp-idf-svc's `new_nonstatic` and the other `*_nonstatic`
/// registrations, which let handlers borrow from the stack, rest on `unsafe` and are left out.
///
/// ```
/// use embedded_svc::http::Method;
/// use embedded_svc::io::Write;
/// use httpd::svc::{embedded_svc, Configuration, EspHttpServer};
///
/// let mut server = EspHttpServer::new(&Configuration { http_port: 0, ..Default::default() })?;
/// server.fn_handler("/hello", Method::Get, |req| {
///     req.into_ok_response()?.write_all(b"Hello from the host")
/// })?;
/// println!("listening on {}", server.local_addr());
/// # Ok::<(), anyhow::Error>(())
/// ```
pub struct EspHttpServer<'a> {
    server: Server,
    _handlers: PhantomData<&'a ()>,
}

impl Debug for EspHttpServer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EspHttpServer")
            .field("server", &self.server)
            .finish()
    }
}

impl EspHttpServer<'static> {
    /// Starts a server with `conf` mapped onto httpd (see [`Configuration`]).
    ///
    /// # Errors
    /// The port cannot be bound, or a value httpd refuses (e.g. `max_open_sockets: 0`).
    pub fn new(conf: &Configuration) -> Result<Self, EspIOError> {
        Self::with_config(conf.to_httpd_config()?)
    }

    /// Starts a server with an httpd configuration, e.g. `conf.to_httpd()` adjusted
    /// (not in esp-idf-svc).
    ///
    /// # Errors
    /// The port cannot be bound, or the thread cannot be spawned.
    pub fn with_config(config: Config) -> Result<Self, EspIOError> {
        let server = Server::start(config)?;
        log::info!("started the esp-rs facade on {}", server.local_addr());
        Ok(EspHttpServer {
            server,
            _handlers: PhantomData,
        })
    }
}

impl<'a> EspHttpServer<'a> {
    /// The address the server listens on, with the real port for `http_port: 0` (not in
    /// esp-idf-svc).
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The httpd server behind the facade, for httpd's own API (not in esp-idf-svc).
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Registers `handler` for `uri` and `method`. The handler need not be `Sync`: a mutex
    /// serialises its calls (the chip runs one handler at a time too).
    ///
    /// # Errors
    /// The URI is already registered for the method, the table is full (`max_uri_handlers`),
    /// or the method is one httpd does not parse (the WebDAV and UPnP ones).
    pub fn handler<H>(
        &mut self,
        uri: &str,
        method: Method,
        handler: H,
    ) -> Result<&mut Self, EspError>
    where
        H: for<'r> Handler<EspHttpConnection<'r>> + Send + 'static,
    {
        let method = to_httpd_method(method).ok_or(Error::InvalidConfig(
            "method: httpd serves GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH, TRACE and CONNECT",
        ))?;
        let handler = Mutex::new(handler);
        self.server.register(crate::Handler::new(
            uri,
            method,
            move |req: &mut HttpdRequest<'_>| {
                // A shorter reborrow of the request, so the connection owns its view of it.
                let req = HttpdRequest::new(&mut *req.session, &mut *req.ex, req.env);
                let handler = handler.lock().unwrap_or_else(PoisonError::into_inner);
                EspHttpConnection::new(req).run(&*handler)
            },
        ))?;
        log::debug!("registered {method} {uri}");
        Ok(self)
    }

    /// Registers the function `f` for `uri` and `method`; it gets each request wrapped in an
    /// embedded-svc `Request`.
    ///
    /// # Errors
    /// As [`handler`](EspHttpServer::handler).
    pub fn fn_handler<E, F>(
        &mut self,
        uri: &str,
        method: Method,
        f: F,
    ) -> Result<&mut Self, EspError>
    where
        F: for<'r> Fn(Request<&mut EspHttpConnection<'r>>) -> Result<(), E> + Send + 'static,
        E: Debug,
    {
        self.handler(uri, method, FnHandler::new(f))
    }

    /// Registers every handler of an embedded-svc registration chain, first added first.
    ///
    /// # Errors
    /// As [`handler`](EspHttpServer::handler), for the first handler that fails.
    pub fn handler_chain<C>(&mut self, chain: C) -> Result<&mut Self, EspError>
    where
        C: EspHttpTraversableChain<'a>,
    {
        chain.accept(self)?;
        Ok(self)
    }
}

impl Drop for EspHttpServer<'_> {
    fn drop(&mut self) {
        // Stops even while detached WebSocket senders still hold a handle to the server.
        self.server.stop();
        log::info!("esp-rs facade stopped");
    }
}

/// Wraps a function into an embedded-svc `FnHandler` (esp-idf-svc's free `fn_handler`; not
/// to be confused with [`EspHttpServer::fn_handler`]).
pub fn fn_handler<F, E>(f: F) -> FnHandler<F>
where
    F: for<'a> Fn(Request<&mut EspHttpConnection<'a>>) -> Result<(), E> + Send,
    E: Debug,
{
    FnHandler::new(f)
}

/// A chain of handlers to register with [`EspHttpServer::handler_chain`] (built from
/// embedded-svc's `ChainRoot`).
pub trait EspHttpTraversableChain<'a> {
    /// Registers the chain's handlers on `server`.
    ///
    /// # Errors
    /// As [`EspHttpServer::handler`].
    fn accept(self, server: &mut EspHttpServer<'a>) -> Result<(), EspError>;
}

impl<'a> EspHttpTraversableChain<'a> for ChainRoot {
    fn accept(self, _server: &mut EspHttpServer<'a>) -> Result<(), EspError> {
        Ok(())
    }
}

impl<'a, H, N> EspHttpTraversableChain<'a> for ChainHandler<H, N>
where
    H: for<'r> Handler<EspHttpConnection<'r>> + Send + 'static,
    N: EspHttpTraversableChain<'a>,
{
    fn accept(self, server: &mut EspHttpServer<'a>) -> Result<(), EspError> {
        self.next.accept(server)?;
        server.handler(self.path, self.method, self.handler)?;
        Ok(())
    }
}
