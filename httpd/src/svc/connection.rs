//! `EspHttpConnection`: one request and its response behind embedded-svc's `Connection` trait,
//! with esp-idf-svc's observable behaviour (bodies sent chunked, a handler-set
//! `Content-Length` dropped, an empty 200 when the handler sends nothing, a 500 page when it
//! fails before its response started).

use std::fmt::{self, Debug, Write as _};

use embedded_svc::http::server::{Connection, Handler};
use embedded_svc::http::{Headers, Method, Query};
use embedded_svc::io::{ErrorType, Read, Write};

use super::error::{EspError, EspIOError};
use crate::api::request::Request;
use crate::Error;

/// The request's head, copied out so that [`Connection::split`] can hand it out next to the
/// body reader (esp-idf-svc aliases the connection instead, which takes `unsafe`).
#[derive(Debug, Clone)]
pub struct EspHttpRequestHead {
    method: Method,
    uri: String,
    headers: Vec<(String, String)>,
}

impl EspHttpRequestHead {
    fn of(req: &Request<'_>) -> Self {
        EspHttpRequestHead {
            method: to_svc_method(req.method()),
            uri: req.uri().to_owned(),
            headers: req
                .headers()
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect(),
        }
    }
}

impl Query for EspHttpRequestHead {
    fn uri(&self) -> &str {
        &self.uri
    }

    fn method(&self) -> Method {
        self.method
    }
}

impl Headers for EspHttpRequestHead {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The connection under the HTTP layer (esp-idf-svc's `EspHttpRawConnection`): reads give the
/// request body (decoded, as httpd frames it, where the chip reads the socket itself), writes
/// go to the client unframed (httpd's `send_raw`: the handler frames its response itself, and
/// nothing else is sent for the request). It is also the body reader [`Connection::split`]
/// hands out.
pub struct EspHttpRawConnection<'a> {
    req: Request<'a>,
    /// Bytes went out through [`Write`] here: the response is the handler's own.
    raw_written: bool,
}

impl Debug for EspHttpRawConnection<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EspHttpRawConnection")
            .field("request", &self.req)
            .finish_non_exhaustive()
    }
}

impl EspHttpRawConnection<'_> {
    /// The client's address (esp-idf-svc's `source_ipv4` / `source_ipv6`).
    pub fn remote_addr(&self) -> std::net::SocketAddr {
        self.req.remote_addr()
    }
}

impl ErrorType for EspHttpRawConnection<'_> {
    type Error = EspIOError;
}

impl Read for EspHttpRawConnection<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, EspIOError> {
        Ok(self.req.recv(buf)?)
    }
}

impl Write for EspHttpRawConnection<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, EspIOError> {
        if !buf.is_empty() {
            self.req.send_raw(buf)?;
            self.raw_written = true;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), EspIOError> {
        Ok(())
    }
}

/// Where the embedded-svc side of the exchange is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading the request; no response yet.
    Request,
    /// `initiate_response` was called; `wrote` once a body byte went out.
    Response { wrote: bool },
}

/// One request and its response (esp-idf-svc's `EspHttpConnection`): implements embedded-svc's
/// [`Connection`] (with `Query`, `Headers`, `Read`, `Write`), which handlers get wrapped in a
/// `Request`.
///
/// As on the chip, the response body is sent chunked as it is written, a `Content-Length`
/// among the response headers is dropped, and a response that was initiated but got no body is
/// sent with an empty one. Calls out of phase (reading after `initiate_response`, writing
/// before it, initiating twice) return an error where esp-idf-svc panics.
pub struct EspHttpConnection<'a> {
    raw: EspHttpRawConnection<'a>,
    /// The head, copied on the first [`split`](Connection::split).
    head: Option<EspHttpRequestHead>,
    phase: Phase,
}

impl Debug for EspHttpConnection<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EspHttpConnection")
            .field("request", &self.raw.req)
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

impl<'a> EspHttpConnection<'a> {
    pub(super) fn new(req: Request<'a>) -> Self {
        EspHttpConnection {
            raw: EspHttpRawConnection {
                req,
                raw_written: false,
            },
            head: None,
            phase: Phase::Request,
        }
    }

    /// The request target with its query, e.g. `/post?x=1`.
    pub fn uri(&self) -> &str {
        self.raw.req.uri()
    }

    /// The request method.
    pub fn method(&self) -> Method {
        to_svc_method(self.raw.req.method())
    }

    /// The first request header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.raw.req.header(name)
    }

    /// The head and the body reader, borrowed apart (see [`Connection::split`]).
    pub fn split(&mut self) -> (&EspHttpRequestHead, &mut EspHttpRawConnection<'a>) {
        let raw = &mut self.raw;
        let head = self
            .head
            .get_or_insert_with(|| EspHttpRequestHead::of(&raw.req));
        (head, raw)
    }

    /// Sets the status line (`status` and `message`, or the usual reason phrase) and the
    /// response headers; the head goes out with the first body bytes. `Content-Type` sets the
    /// type (default `text/html`); `Content-Length` and `Transfer-Encoding` are dropped (the
    /// body is sent chunked).
    ///
    /// # Errors
    /// A status outside 100..=999, a header name or value httpd refuses, more than
    /// `max_resp_headers` headers, or a response already initiated.
    pub fn initiate_response(
        &mut self,
        status: u16,
        message: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<(), EspError> {
        if self.phase != Phase::Request || self.raw.raw_written {
            return Err(Error::ResponseStarted.into());
        }
        let req = &mut self.raw.req;
        let reason = message.unwrap_or_else(|| reason_phrase(status));
        req.set_status(&format!("{status} {reason}"))?;
        for (name, value) in headers {
            if name.eq_ignore_ascii_case("content-type") {
                req.set_type(value)?;
            } else if !name.eq_ignore_ascii_case("content-length")
                && !name.eq_ignore_ascii_case("transfer-encoding")
            {
                req.set_header(name, value)?;
            }
        }
        self.phase = Phase::Response { wrote: false };
        Ok(())
    }

    /// Whether `initiate_response` was called.
    pub fn is_response_initiated(&self) -> bool {
        self.phase != Phase::Request
    }

    /// Reads request body bytes; 0 at its end.
    ///
    /// # Errors
    /// After `initiate_response`; or what httpd's `recv` reports (timeout, client gone, bad
    /// chunked framing).
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, EspError> {
        if self.phase != Phase::Request {
            return Err(Error::ResponseStarted.into());
        }
        Ok(self.raw.req.recv(buf)?)
    }

    /// Sends `buf` as the next chunk of the response body; returns its length.
    ///
    /// # Errors
    /// Before `initiate_response`, or when the client does not take it.
    pub fn write(&mut self, buf: &[u8]) -> Result<usize, EspError> {
        let Phase::Response { wrote } = &mut self.phase else {
            return Err(Error::ResponseStarted.into());
        };
        if !buf.is_empty() {
            self.raw.req.send_chunk(buf)?;
            *wrote = true;
        }
        Ok(buf.len())
    }

    /// [`write`](EspHttpConnection::write), for the whole buffer.
    ///
    /// # Errors
    /// As `write`.
    pub fn write_all(&mut self, buf: &[u8]) -> Result<(), EspError> {
        self.write(buf).map(|_| ())
    }

    /// The connection under the HTTP layer.
    ///
    /// # Errors
    /// None on a host; the `Result` is esp-idf-svc's signature.
    pub fn raw_connection(&mut self) -> Result<&mut EspHttpRawConnection<'a>, EspError> {
        Ok(&mut self.raw)
    }

    /// Runs `handler` and ends the exchange as esp-idf-svc does; what is left for httpd to do
    /// is returned (`Err` closes the connection).
    pub(super) fn run<H>(mut self, handler: &H) -> Result<(), Error>
    where
        H: Handler<Self>,
    {
        match handler.handle(&mut self) {
            Ok(()) => self.complete(),
            Err(e) if !self.raw.req.response_started() => {
                log::info!(
                    "{} {}: handler failed: {e:?}",
                    self.method_str(),
                    self.uri()
                );
                self.render_error(&e)?;
                self.complete()
            }
            Err(e) => {
                // Part of the body is out: closing without the last chunk tells the client it
                // is cut short (esp-idf-svc ends the chunked body as if it were whole).
                Err(Error::handler(format!("{e:?} after the response started")))
            }
        }
    }

    fn method_str(&self) -> &'static str {
        self.raw.req.method().as_str()
    }

    /// esp-idf-svc's `complete`: the last chunk, an empty body for a response that got none,
    /// or (nothing initiated) an empty chunked 200.
    fn complete(&mut self) -> Result<(), Error> {
        if self.raw.raw_written {
            return Ok(());
        }
        match self.phase {
            Phase::Response { wrote: false } => self.raw.req.send(b""),
            Phase::Request | Phase::Response { wrote: true } => self.raw.req.send_chunk(b""),
        }
    }

    /// The 500 page for a handler that failed before its response started, with the error's
    /// `Debug` text (escaped) as on the chip; the connection stays open.
    fn render_error(&mut self, error: &dyn Debug) -> Result<(), Error> {
        let mut text = String::new();
        let _ = write!(text, "{error:?}");
        let mut page = String::from(
            "<!DOCTYPE html>\n<html><body style=\"font-family: Verdana, Sans;\">\n<h1>INTERNAL ERROR</h1>\n<hr>\n<pre>",
        );
        for c in text.chars() {
            match c {
                '<' => page.push_str("&lt;"),
                '>' => page.push_str("&gt;"),
                '&' => page.push_str("&amp;"),
                c => page.push(c),
            }
        }
        page.push_str("</pre>\n</body></html>\n");
        // Headers the handler set before failing are not sent with the error page.
        self.phase = Phase::Request;
        self.raw.req.ex.resp.headers.clear();
        self.raw.req.ex.resp.header_count = 0;
        self.raw.req.ex.resp.declared_len = None;
        self.initiate_response(
            500,
            Some("Internal Error"),
            &[("Content-Type", "text/html")],
        )
        .map_err(EspError::into_inner)?;
        self.write_all(page.as_bytes())
            .map_err(EspError::into_inner)
    }
}

/// The usual reason phrase for `status` (the chip sends the bare code when none is given;
/// httpd's status line always has a reason, possibly empty).
fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// httpd's method as embedded-svc's.
pub(super) fn to_svc_method(m: crate::Method) -> Method {
    match m {
        crate::Method::Head => Method::Head,
        crate::Method::Post => Method::Post,
        crate::Method::Put => Method::Put,
        crate::Method::Delete => Method::Delete,
        crate::Method::Options => Method::Options,
        crate::Method::Patch => Method::Patch,
        crate::Method::Trace => Method::Trace,
        crate::Method::Connect => Method::Connect,
        _ => Method::Get,
    }
}

/// embedded-svc's method as httpd's; `None` for the WebDAV and UPnP methods httpd does not
/// parse.
pub(super) fn to_httpd_method(m: Method) -> Option<crate::Method> {
    Some(match m {
        Method::Get => crate::Method::Get,
        Method::Head => crate::Method::Head,
        Method::Post => crate::Method::Post,
        Method::Put => crate::Method::Put,
        Method::Delete => crate::Method::Delete,
        Method::Options => crate::Method::Options,
        Method::Patch => crate::Method::Patch,
        Method::Trace => crate::Method::Trace,
        Method::Connect => crate::Method::Connect,
        _ => return None,
    })
}

impl Query for EspHttpConnection<'_> {
    fn uri(&self) -> &str {
        EspHttpConnection::uri(self)
    }

    fn method(&self) -> Method {
        EspHttpConnection::method(self)
    }
}

impl Headers for EspHttpConnection<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        EspHttpConnection::header(self, name)
    }
}

impl ErrorType for EspHttpConnection<'_> {
    type Error = EspIOError;
}

impl Read for EspHttpConnection<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, EspIOError> {
        Ok(EspHttpConnection::read(self, buf)?)
    }
}

impl Write for EspHttpConnection<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, EspIOError> {
        Ok(EspHttpConnection::write(self, buf)?)
    }

    fn flush(&mut self) -> Result<(), EspIOError> {
        match self.phase {
            Phase::Response { .. } => Ok(()),
            Phase::Request => Err(Error::ResponseStarted.into()),
        }
    }
}

impl<'b> Connection for EspHttpConnection<'b> {
    type Headers = EspHttpRequestHead;
    type Read = EspHttpRawConnection<'b>;
    type RawConnectionError = EspIOError;
    type RawConnection = EspHttpRawConnection<'b>;

    fn split(&mut self) -> (&Self::Headers, &mut Self::Read) {
        EspHttpConnection::split(self)
    }

    fn initiate_response<'a>(
        &'a mut self,
        status: u16,
        message: Option<&'a str>,
        headers: &'a [(&'a str, &'a str)],
    ) -> Result<(), Self::Error> {
        Ok(EspHttpConnection::initiate_response(
            self, status, message, headers,
        )?)
    }

    fn is_response_initiated(&self) -> bool {
        EspHttpConnection::is_response_initiated(self)
    }

    fn raw_connection(&mut self) -> Result<&mut Self::RawConnection, Self::Error> {
        Ok(EspHttpConnection::raw_connection(self)?)
    }
}
