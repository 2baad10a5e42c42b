//! What handlers learn about a TLS connection (feature `tls`).

use super::request::Request;
use super::ws::WsConn;
use crate::tls::TlsInfo;

impl Request<'_> {
    /// The TLS session this request came over: negotiated version, cipher suite, SNI name,
    /// ALPN protocol and the client's certificate. `None` over plain HTTP.
    ///
    /// ```no_run
    /// # use httpd::{Handler, Method};
    /// let whoami = Handler::new("/whoami", Method::Get, |req| match req.tls() {
    ///     Some(tls) if tls.client_cert.is_some() => req.send_str("authenticated"),
    ///     _ => req.send_err(httpd::ErrorCode::NotFound, None),
    /// });
    /// ```
    pub fn tls(&self) -> Option<TlsInfo> {
        self.session.transport.tls_info()
    }
}

impl WsConn<'_> {
    /// The TLS session of this WebSocket (WSS); `None` over plain HTTP.
    pub fn tls(&self) -> Option<TlsInfo> {
        self.session.transport.tls_info()
    }
}
