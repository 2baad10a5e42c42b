//! What a handler gets: the request's head and body, its session's context, detaching
//! (ESP-IDF's `httpd_req_*`). The response side is in `respond`.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::sync::Arc;

use super::detach::{AsyncRequest, Handoff};
use super::exchange::{Env, Exchange, Progress};
use crate::config::FailurePolicy;
use crate::conn::session::Session;
use crate::conn::transport::Transport;
use crate::event::Event;
use crate::proto::head::{Framing, Span, UnreadBody};
use crate::proto::response::CONTINUE;
use crate::proto::uri::{path_of, percent_decode, query_pairs};
use crate::types::{Method, Version};
use crate::{Error, ErrorCode};

/// A `recv` into a buffer at least this large, with nothing buffered, reads the transport
/// directly into it.
const DIRECT_READ: usize = 4096;

/// A request being handled, and its response. Handlers receive `&mut Request`.
///
/// ```no_run
/// use httpd::{Config, Handler, Method, Server};
/// let server = Server::start(Config::builder().port(8080).build()?)?;
/// server.register(Handler::new("/echo", Method::Post, |req| {
///     let mut body = Vec::new();
///     let mut buf = [0u8; 512];
///     loop {
///         let n = req.recv(&mut buf)?;
///         if n == 0 { break; }
///         body.extend_from_slice(&buf[..n]);
///     }
///     req.set_type("application/octet-stream")?;
///     req.send(&body)
/// }))?;
/// # Ok::<(), httpd::Error>(())
/// ```
pub struct Request<'a> {
    pub(crate) session: &'a mut Session,
    pub(crate) ex: &'a mut Exchange,
    pub(crate) env: &'a Env,
}

impl fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method())
            .field("uri", &self.uri())
            .field("version", &self.version())
            .field("session", &self.session.id)
            .field("response_started", &self.response_started())
            .finish_non_exhaustive()
    }
}

impl<'a> Request<'a> {
    /// The one way to put a request together: a session, the exchange it is in, and the
    /// environment it runs in.
    #[inline]
    pub(crate) fn new(session: &'a mut Session, ex: &'a mut Exchange, env: &'a Env) -> Self {
        Request { session, ex, env }
    }

    fn buf(&self) -> &[u8] {
        &self.session.input.data
    }

    fn text(&self, span: Span) -> &str {
        std::str::from_utf8(span.get(self.buf())).unwrap_or_default()
    }

    // ---- the request ------------------------------------------------------------------------

    /// The request method.
    pub fn method(&self) -> Method {
        self.ex.head.method
    }

    /// The HTTP version of the request.
    pub fn version(&self) -> Version {
        self.ex.head.version
    }

    /// The request target as sent: path and query (`/a/b?x=1`). Empty when the server is
    /// answering a request it could not parse.
    pub fn uri(&self) -> &str {
        self.text(self.ex.head.target)
    }

    /// The path: the target without its query (and, for an absolute-form target, without
    /// scheme and authority). This is what handlers are matched against.
    pub fn path(&self) -> &str {
        std::str::from_utf8(path_of(self.ex.head.target.get(self.buf()))).unwrap_or_default()
    }

    /// The raw query string, after `?`, if the target has one.
    pub fn query(&self) -> Option<&str> {
        self.uri().split_once('?').map(|(_, q)| q)
    }

    /// The raw value of a query parameter, ESP-IDF's `httpd_query_key_value`: the key is
    /// compared case-insensitively, the value is not decoded, a key without `=` has value `""`.
    ///
    /// # Example
    /// For `/hello?query1=a%20b&Flag`, `query_value("QUERY1")` is `Some("a%20b")` and
    /// `query_value("flag")` is `Some("")`.
    pub fn query_value(&self, key: &str) -> Option<&str> {
        query_pairs(self.query()?)
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    }

    /// A query parameter's value, percent-decoded (`+` is a space). Invalid escapes are kept
    /// as they are; bytes that are not UTF-8 are replaced.
    pub fn query_value_decoded(&self, key: &str) -> Option<Cow<'_, str>> {
        self.query_value(key).map(percent_decode)
    }

    /// The value of the first header named `name` (case-insensitive), without surrounding
    /// whitespace. `None` when absent or not UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        let buf = self.buf();
        self.ex
            .headers
            .iter()
            .find(|h| h.name.get(buf).eq_ignore_ascii_case(name.as_bytes()))
            .and_then(|h| std::str::from_utf8(h.value.get(buf)).ok())
    }

    /// Every request header as `(name, value)`, in the order received. Values that are not
    /// UTF-8 are given as `""`.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.ex
            .headers
            .iter()
            .map(|h| (self.text(h.name), self.text(h.value)))
    }

    /// The value of cookie `name` from the `Cookie` header(s), ESP-IDF's
    /// `httpd_req_get_cookie_val`. Names are case-sensitive.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        let buf = self.buf();
        self.ex
            .headers
            .iter()
            .filter(|h| h.name.get(buf).eq_ignore_ascii_case(b"cookie"))
            .filter_map(|h| std::str::from_utf8(h.value.get(buf)).ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.trim_matches('"'))
    }

    /// The body length from `Content-Length` (0 without a body); `None` for a chunked body,
    /// whose length is unknown until it is read.
    pub fn content_length(&self) -> Option<u64> {
        match self.ex.head.framing {
            Framing::Empty => Some(0),
            Framing::Length(n) => Some(n),
            Framing::Chunked => None,
        }
    }

    /// Whether the body is sent with `Transfer-Encoding: chunked`.
    pub fn is_chunked(&self) -> bool {
        self.ex.head.framing == Framing::Chunked
    }

    /// Detaches the request from the server thread (ESP-IDF's
    /// `httpd_req_async_handler_begin`): returns a `Send + 'static` [`AsyncRequest`] that another
    /// thread uses to read the body and respond. The session is not polled (nor purged) until
    /// the `AsyncRequest` is dropped; then it continues or closes as the response decided.
    /// The handler should return `Ok(())` promptly after detaching.
    ///
    /// # Errors
    /// [`Error::ResponseStarted`] if a response was started; [`Error::AlreadyDetached`] if the
    /// request is already detached.
    pub fn detach(&mut self) -> Result<AsyncRequest, Error> {
        self.check_not_started()?;
        let resume = self.env.resume.clone().ok_or(Error::AlreadyDetached)?;
        if self.ex.handoff.is_some() {
            return Err(Error::AlreadyDetached);
        }
        let handoff = Handoff::new();
        self.ex.handoff = Some(Arc::clone(&handoff));
        Ok(AsyncRequest::new(handoff, resume))
    }

    /// Ends the exchange after its handler: completes or starts the response as `result`
    /// requires (the `fallback` error page, an empty 200, the last chunk), or applies the
    /// failure policy, and marks the connection closing where it must be. The one place that
    /// decides what a handler's failure sends.
    pub(crate) fn complete(&mut self, result: Result<(), Error>, fallback: Option<ErrorCode>) {
        let e = match result {
            Ok(()) => {
                let ended = match (self.ex.resp.progress, fallback) {
                    (Progress::NotStarted, Some(code)) => self.send_err(code, None),
                    (Progress::NotStarted, None) => self.send(b""),
                    (Progress::Chunked | Progress::UntilClose | Progress::Declared, _) => {
                        self.send_chunk(b"")
                    }
                    (Progress::Raw | Progress::Done, _) => Ok(()),
                };
                match ended {
                    Ok(()) => return,
                    // An empty body where the handler declared a length: its response is wrong
                    // however it ends, so it ends as a failure does.
                    Err(e) => e,
                }
            }
            Err(e) => e,
        };
        log::warn!("{} {}: {e}", self.ex.head.method, self.uri());
        self.ex.resp.closing = true;
        if self.ex.resp.progress != Progress::NotStarted {
            // A response half sent cannot be taken back: the close tells the client it is cut.
            self.ex.resp.broken = true;
            return;
        }
        match self.env.config.failure_policy {
            FailurePolicy::ErrorPage => {
                if self.send_err(e.status(), None).is_err() {
                    self.ex.resp.broken = true;
                }
            }
            FailurePolicy::Close => {
                let id = self.session.id;
                let code = e.status();
                self.env.config.events.emit(|| Event::Error { id, code });
                self.ex.resp.progress = Progress::Done;
                self.ex.resp.broken = true;
            }
        }
    }

    // ---- the body ---------------------------------------------------------------------------

    /// Reads body bytes into `buf`, ESP-IDF's `httpd_req_recv`. Returns the number of bytes
    /// read, 0 when the body is complete. Chunked bodies are decoded. Waits at most
    /// `recv_wait_timeout` for data.
    ///
    /// # Errors
    /// [`Error::Timeout`] when nothing arrives in time (answer 408 if you like; returning the
    /// error does that), [`Error::ConnectionClosed`] when the client closes mid-body,
    /// [`Error::BadBody`] for malformed chunk framing, [`Error::BodyTooLarge`] past
    /// `max_body_len`, [`Error::Io`] otherwise.
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let n = self.recv_body(buf)?;
        if n > 0 {
            let id = self.session.id;
            self.env
                .config
                .events
                .emit(|| Event::BodyData { id, len: n });
        }
        Ok(n)
    }

    fn recv_body(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let body = &mut self.ex.body;
            let input = &mut self.session.input;
            let avail = input.end - body.pos;
            match &mut body.unread {
                None => return Ok(0),
                Some(UnreadBody::Length(left)) => {
                    if avail == 0 && buf.len() >= DIRECT_READ {
                        // Nothing buffered and room to spare: straight into the caller's
                        // buffer, saving a copy (a large upload's bytes are copied once).
                        let want = buf.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                        return self.read_body_direct(&mut buf[..want]);
                    }
                    if avail == 0 {
                        // Through the session's buffer and transport, as every other read.
                        self.read_more_body()?;
                        continue;
                    }
                    let n = buf
                        .len()
                        .min(avail)
                        .min(usize::try_from(*left).unwrap_or(usize::MAX));
                    buf[..n].copy_from_slice(&input.data[body.pos..body.pos + n]);
                    body.pos += n;
                    body.received += n as u64;
                    *left -= n as u64;
                    if *left == 0 {
                        body.unread = None;
                    }
                    return Ok(n);
                }
                Some(UnreadBody::Chunked(decoder)) => {
                    let (used, n) = decoder
                        .decode(&input.data[body.pos..input.end], buf)
                        .map_err(|_| Error::BadBody)?;
                    body.pos += used;
                    body.received += n as u64;
                    let done = decoder.is_done();
                    if done {
                        body.unread = None;
                    }
                    if self
                        .env
                        .config
                        .max_body_len
                        .is_some_and(|max| body.received > max)
                    {
                        return Err(Error::BodyTooLarge);
                    }
                    if n > 0 || done {
                        return Ok(n);
                    }
                    self.read_more_body()?;
                }
            }
        }
    }

    /// Reads body bytes (`Content-Length` framing, none buffered) from the transport directly
    /// into `buf`, waiting up to `recv_wait_timeout`.
    fn read_body_direct(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        self.before_socket_read()?;
        let timeout = self.env.config.recv_wait_timeout;
        let n = self.session.transport.read_wait(buf, timeout)?;
        if n == 0 {
            return Err(Error::ConnectionClosed);
        }
        // As after any blocking read: the loop looks at the transport again.
        self.session.input.readable = true;
        let body = &mut self.ex.body;
        body.received += n as u64;
        if let Some(UnreadBody::Length(left)) = &mut body.unread {
            *left -= n as u64;
            if *left == 0 {
                body.unread = None;
            }
        }
        Ok(n)
    }

    /// Moves the unread body bytes to just after the head and reads more from the socket.
    fn read_more_body(&mut self) -> Result<(), Error> {
        let head_len = self.ex.head.len;
        let input = &mut self.session.input;
        let pos = self.ex.body.pos;
        input.data.copy_within(pos..input.end, head_len);
        input.end = head_len + (input.end - pos);
        self.ex.body.pos = head_len;
        if input.end == input.data.len() {
            return Err(Error::BadBody);
        }
        self.before_socket_read()?;
        let timeout = self.env.config.recv_wait_timeout;
        let input = &mut self.session.input;
        let read = self
            .session
            .transport
            .read_wait(&mut input.data[input.end..], timeout);
        match read? {
            0 => Err(Error::ConnectionClosed),
            n => {
                input.end += n;
                // A blocking read says nothing about what is left (in the socket, or inside
                // a TLS transport): the loop looks again rather than wait for an edge.
                input.readable = true;
                Ok(())
            }
        }
    }

    /// Before waiting on the socket: answer `Expect: 100-continue` and push out what the
    /// handler already sent, so the client is not waiting on us while we wait on it.
    fn before_socket_read(&mut self) -> Result<(), Error> {
        if self.ex.head.expect_continue
            && !self.session.continue_sent
            && self.ex.resp.progress == Progress::NotStarted
        {
            self.session.output.data.extend_from_slice(CONTINUE);
            self.session.continue_sent = true;
        }
        if self.session.pending_output() > 0 {
            let timeout = self.env.config.send_wait_timeout;
            self.session
                .flush_blocking(0, timeout, &self.env.config.events)
                .inspect_err(|_| self.ex.resp.broken = true)?;
        }
        Ok(())
    }

    /// Reads the rest of the body into a vector, refusing more than `limit` bytes.
    ///
    /// # Errors
    /// [`Error::BodyTooLarge`] past `limit`, and those of [`recv`](Request::recv).
    pub fn read_body(&mut self, limit: usize) -> Result<Vec<u8>, Error> {
        let mut body = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = self.recv(&mut buf)?;
            if n == 0 {
                return Ok(body);
            }
            if body.len() + n > limit {
                return Err(Error::BodyTooLarge);
            }
            body.extend_from_slice(&buf[..n]);
        }
    }

    // ---- session ----------------------------------------------------------------------------

    super::session_api::session_api!();
}

impl io::Read for Request<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv(buf).map_err(io::Error::from)
    }
}
