//! What a handler gets: the request's head and body, its session's context, and the response
//! API (ESP-IDF's `httpd_req_*` and `httpd_resp_*`).

use std::any::Any;
use std::borrow::Cow;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};

use crate::config::Config;
use crate::detach::{AsyncRequest, Handoff, ResumeTx};
use crate::parse::{absolute_path_start, Framing, Head, HeaderSpan, KeepAlive, Span, Version};
use crate::response::{
    self, BodyFraming, ConnectionHeader, DateCache, HeadParts, CONTINUE, LAST_CHUNK,
};
use crate::server::{Inner, Server};
use crate::session::{Session, SessionId, UnreadBody};
use crate::{Error, ErrorCode, Method};

/// Unread body beyond this is not drained after the handler: the connection closes instead
/// (and the response says so).
pub(crate) const DRAIN_LIMIT: u64 = 1024 * 1024;
/// A handler's output is written out once this much is pending.
const FLUSH_AT: usize = 64 * 1024;

/// The loop's read-only environment for handlers.
pub(crate) struct Env {
    pub(crate) config: Config,
    /// Response bytes the current handler may leave pending before its sends wait: the
    /// per-session cap, or less when other sessions already hold most of the total.
    pub(crate) pending_budget: usize,
    pub(crate) date: DateCache,
    pub(crate) server: Weak<Inner>,
    /// How a detached request returns its session; `None` for a request already detached.
    pub(crate) resume: Option<ResumeTx>,
}

impl Env {
    /// Whether this is a detached request's environment (off the server thread).
    fn detached(&self) -> bool {
        self.resume.is_none()
    }
}

/// How far the response has gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Progress {
    NotStarted,
    /// Head sent with `Transfer-Encoding: chunked`; chunks follow.
    Chunked,
    /// Head sent without a length (HTTP/1.0 client): the body ends with the connection.
    UntilClose,
    /// Raw bytes were sent: the handler frames the response itself.
    Raw,
    Done,
}

/// The response being built for the current request. Reused across requests.
#[derive(Debug)]
pub(crate) struct ResponseState {
    status: String,
    content_type: String,
    /// Serialised header lines, in the order set.
    headers: Vec<u8>,
    header_count: usize,
    pub(crate) progress: Progress,
    /// The handler asked for `Connection: close`.
    close_requested: bool,
    /// The response said (or will say) `Connection: close`: the session closes after it.
    pub(crate) closing: bool,
    /// Writing failed: the session must close.
    pub(crate) broken: bool,
}

impl ResponseState {
    fn new() -> Self {
        let mut r = ResponseState {
            status: String::new(),
            content_type: String::new(),
            headers: Vec::new(),
            header_count: 0,
            progress: Progress::NotStarted,
            close_requested: false,
            closing: false,
            broken: false,
        };
        r.reset();
        r
    }

    fn reset(&mut self) {
        self.status.clear();
        self.status.push_str("200 OK");
        self.content_type.clear();
        self.content_type.push_str("text/html");
        self.headers.clear();
        self.header_count = 0;
        self.progress = Progress::NotStarted;
        self.close_requested = false;
        self.closing = false;
        self.broken = false;
    }
}

/// The body still to be read and where it starts in the session's input.
#[derive(Debug)]
pub(crate) struct BodyReader {
    pub(crate) unread: Option<UnreadBody>,
    /// Next unread body byte in the session's input buffer.
    pub(crate) pos: usize,
    /// Body bytes delivered so far.
    pub(crate) received: u64,
}

/// The state of one request/response exchange; the loop keeps one and reuses it.
#[derive(Debug)]
pub(crate) struct Exchange {
    pub(crate) head: Head,
    pub(crate) headers: Vec<HeaderSpan>,
    pub(crate) body: BodyReader,
    pub(crate) resp: ResponseState,
    /// Set by [`Request::detach`]: where the loop hands the session over.
    pub(crate) handoff: Option<Arc<Handoff>>,
}

impl Exchange {
    pub(crate) fn new(max_headers: usize) -> Self {
        Exchange {
            head: Head::empty(),
            headers: Vec::with_capacity(max_headers),
            body: BodyReader {
                unread: None,
                pos: 0,
                received: 0,
            },
            resp: ResponseState::new(),
            handoff: None,
        }
    }

    /// Prepares for a request with `head` (already parsed into `headers`).
    pub(crate) fn begin(&mut self, head: Head, max_chunk_line: usize) {
        self.head = head;
        self.body = BodyReader {
            unread: match head.framing {
                Framing::Empty => None,
                Framing::Length(n) => Some(UnreadBody::Length(n)),
                Framing::Chunked => Some(UnreadBody::Chunked(crate::parse::ChunkedDecoder::new(
                    max_chunk_line,
                ))),
            },
            pos: head.len,
            received: 0,
        };
        self.resp.reset();
        self.handoff = None;
    }

    /// Prepares for answering a request whose head could not be used: no headers, no body,
    /// and the connection closes.
    pub(crate) fn begin_broken(&mut self) {
        self.headers.clear();
        self.begin(Head::empty(), 0);
        self.body.pos = 0;
    }
}

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

impl<'a> Request<'a> {
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

    /// The client's address.
    pub fn remote_addr(&self) -> SocketAddr {
        self.session.peer
    }

    /// The id of this request's session (connection).
    pub fn session_id(&self) -> SessionId {
        self.session.id
    }

    /// A handle to the server, for registering handlers or queueing work from a handler.
    /// `None` only while the server is being dropped.
    ///
    /// Do not capture a [`Server`] in a handler: that keeps the server alive forever. Use this.
    pub fn server(&self) -> Option<Server> {
        self.env.server.upgrade().map(Server::from_inner)
    }

    /// Detaches the request from the server thread (ESP-IDF's
    /// `httpd_req_async_handler_begin`): returns a `Send + 'static` [`AsyncRequest`] that another
    /// thread uses to read the body and respond. The session is not polled (nor purged) until
    /// the `AsyncRequest` is dropped; then it continues or closes as the response decided.
    /// The handler should return `Ok(())` promptly after detaching.
    ///
    /// # Errors
    /// [`Error::ResponseStarted`] if a response was started; [`Error::Stopped`] if the request
    /// is already detached.
    pub fn detach(&mut self) -> Result<AsyncRequest, Error> {
        self.check_not_started()?;
        let resume = self.env.resume.clone().ok_or(Error::Stopped)?;
        if self.ex.handoff.is_some() {
            return Err(Error::Stopped);
        }
        let handoff = Handoff::new();
        self.ex.handoff = Some(Arc::clone(&handoff));
        Ok(AsyncRequest::new(handoff, resume))
    }

    /// Ends the exchange after its handler: completes or starts the response as `result`
    /// requires (the `fallback` error page, an empty 200, the last chunk, or an error status),
    /// and marks the connection closing where it must be.
    pub(crate) fn complete(&mut self, result: Result<(), Error>, fallback: Option<ErrorCode>) {
        match result {
            Ok(()) => {
                let _ = match (self.ex.resp.progress, fallback) {
                    (Progress::NotStarted, Some(code)) => self.send_err(code, None),
                    (Progress::NotStarted, None) => self.send(b""),
                    (Progress::Chunked | Progress::UntilClose, _) => self.send_chunk(b""),
                    (Progress::Raw | Progress::Done, _) => Ok(()),
                };
            }
            Err(e) => {
                log::warn!("{} {}: {e}", self.ex.head.method, self.uri());
                self.ex.resp.closing = true;
                if self.ex.resp.progress == Progress::NotStarted {
                    let code = match e {
                        Error::Timeout => ErrorCode::RequestTimeout,
                        Error::BadBody => ErrorCode::BadRequest,
                        Error::BodyTooLarge => ErrorCode::ContentTooLarge,
                        _ => ErrorCode::InternalServerError,
                    };
                    let _ = self.send_err(code, None);
                }
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
                    let want = buf.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                    let n = if avail > 0 {
                        let n = want.min(avail);
                        buf[..n].copy_from_slice(&input.data[body.pos..body.pos + n]);
                        body.pos += n;
                        n
                    } else {
                        self.before_socket_read()?;
                        let timeout = self.env.config.recv_wait_timeout;
                        match self.session.read_blocking(&mut buf[..want], timeout)? {
                            0 => return Err(Error::ConnectionClosed),
                            n => n,
                        }
                    };
                    self.ex.body.received += n as u64;
                    if let Some(UnreadBody::Length(left)) = &mut self.ex.body.unread {
                        *left -= n as u64;
                        if *left == 0 {
                            self.ex.body.unread = None;
                        }
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
        let end = self.session.input.end;
        let mut data = std::mem::take(&mut self.session.input.data);
        let result = self.session.read_blocking(&mut data[end..], timeout);
        self.session.input.data = data;
        match result? {
            0 => Err(Error::ConnectionClosed),
            n => {
                self.session.input.end += n;
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
            self.session.output.extend_from_slice(CONTINUE);
            self.session.continue_sent = true;
        }
        if self.session.pending_output() > 0 {
            let timeout = self.env.config.send_wait_timeout;
            self.session
                .flush_blocking(0, timeout)
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

    // ---- session context --------------------------------------------------------------------

    /// The session's context, if one of type `T` is set (ESP-IDF's `req->sess_ctx`).
    pub fn session_ctx<T: Any + Send>(&mut self) -> Option<&mut T> {
        self.session.ctx_mut()
    }

    /// Sets the session's context, dropping (freeing) the previous one. It lives until the
    /// connection closes, it is replaced, or the server stops.
    pub fn set_session_ctx<T: Any + Send>(&mut self, ctx: T) {
        self.session.set_ctx(ctx);
    }

    /// The session's context of type `T`, created with `f` if there is none (or it has
    /// another type, which is dropped).
    pub fn session_ctx_or_insert_with<T: Any + Send>(&mut self, f: impl FnOnce() -> T) -> &mut T {
        if !self.session.ctx.as_ref().is_some_and(|c| c.is::<T>()) {
            self.session.set_ctx(f());
        }
        self.session.ctx_mut().expect("context was just set to a T")
    }

    /// Removes and returns the session's context if it has type `T` (otherwise leaves it).
    pub fn take_session_ctx<T: Any + Send>(&mut self) -> Option<T> {
        match self.session.ctx.take()?.downcast::<T>() {
            Ok(ctx) => Some(*ctx),
            Err(other) => {
                self.session.ctx = Some(other);
                None
            }
        }
    }

    /// Drops the session's context, whatever its type.
    pub fn clear_session_ctx(&mut self) {
        self.session.ctx = None;
    }

    // ---- the response -----------------------------------------------------------------------

    /// Sets the status line text, e.g. `"404 Not Found"` or `"503 Busy"`. Default `"200 OK"`.
    ///
    /// # Errors
    /// [`Error::InvalidHeader`] unless it is three digits (100-999), a space and a reason
    /// without control characters; [`Error::ResponseStarted`] once the head is sent.
    pub fn set_status(&mut self, status: &str) -> Result<(), Error> {
        self.check_not_started()?;
        if !response::valid_status(status) {
            return Err(Error::InvalidHeader);
        }
        self.ex.resp.status.clear();
        self.ex.resp.status.push_str(status);
        Ok(())
    }

    /// Sets the `Content-Type`. Default `"text/html"`.
    ///
    /// # Errors
    /// [`Error::InvalidHeader`] for an empty value or control characters;
    /// [`Error::ResponseStarted`] once the head is sent.
    pub fn set_type(&mut self, content_type: &str) -> Result<(), Error> {
        self.check_not_started()?;
        if content_type.is_empty() || !response::valid_value(content_type) {
            return Err(Error::InvalidHeader);
        }
        self.ex.resp.content_type.clear();
        self.ex.resp.content_type.push_str(content_type);
        Ok(())
    }

    /// Adds a response header; headers are sent in the order set. `Connection: close` makes
    /// the server close the connection after this response.
    ///
    /// # Errors
    /// [`Error::InvalidHeader`] for a name that is not a token, a value with CR, LF or another
    /// control character, or `Content-Length` / `Transfer-Encoding` (the server frames the
    /// body); [`Error::TooManyHeaders`] past `max_resp_headers`; [`Error::ResponseStarted`]
    /// once the head is sent.
    pub fn set_header(&mut self, name: &str, value: &str) -> Result<(), Error> {
        self.check_not_started()?;
        let value = value.trim_matches([' ', '\t']);
        if !response::valid_name(name)
            || !response::valid_value(value)
            || name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
        {
            return Err(Error::InvalidHeader);
        }
        if name.eq_ignore_ascii_case("connection") {
            // The server writes the Connection header itself, from the keep-alive decision.
            if value
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("close"))
            {
                self.ex.resp.close_requested = true;
            }
            return Ok(());
        }
        if self.ex.resp.header_count >= self.env.config.max_resp_headers {
            return Err(Error::TooManyHeaders);
        }
        let h = &mut self.ex.resp.headers;
        h.extend_from_slice(name.as_bytes());
        h.extend_from_slice(b": ");
        h.extend_from_slice(value.as_bytes());
        h.extend_from_slice(b"\r\n");
        self.ex.resp.header_count += 1;
        Ok(())
    }

    /// Sends a complete response with this body (`Content-Length`), ESP-IDF's
    /// `httpd_resp_send`. For a HEAD request the body is not sent.
    ///
    /// # Errors
    /// [`Error::ResponseStarted`] if a response was already started;
    /// [`Error::Io`] / [`Error::Timeout`] if the client does not take it.
    pub fn send(&mut self, body: impl AsRef<[u8]>) -> Result<(), Error> {
        let body = body.as_ref();
        self.check_not_started()?;
        self.write_head(BodyFraming::Length(body.len() as u64));
        if self.body_allowed() {
            self.session.output.extend_from_slice(body);
        }
        self.ex.resp.progress = Progress::Done;
        self.after_write()
    }

    /// [`send`](Request::send) for a string (ESP-IDF's `httpd_resp_sendstr`).
    ///
    /// # Errors
    /// As [`send`](Request::send).
    pub fn send_str(&mut self, body: &str) -> Result<(), Error> {
        self.send(body.as_bytes())
    }

    /// Sends one chunk of a chunked response, ESP-IDF's `httpd_resp_send_chunk`; the first call
    /// sends the head, an empty chunk ends the response. (The server ends it if the handler
    /// returns without doing so.) To an HTTP/1.0 client the body is sent unframed and the
    /// connection closes after it.
    ///
    /// # Errors
    /// [`Error::ResponseStarted`] after [`send`](Request::send) or after the last chunk;
    /// [`Error::Io`] / [`Error::Timeout`] if the client does not take it.
    pub fn send_chunk(&mut self, chunk: impl AsRef<[u8]>) -> Result<(), Error> {
        let chunk = chunk.as_ref();
        if self.ex.resp.progress == Progress::NotStarted {
            let framing = if self.ex.head.version == Version::Http10 {
                BodyFraming::UntilClose
            } else {
                BodyFraming::Chunked
            };
            self.write_head(framing);
            self.ex.resp.progress = match framing {
                BodyFraming::UntilClose => Progress::UntilClose,
                _ => Progress::Chunked,
            };
        }
        let body = self.body_allowed();
        match (self.ex.resp.progress, chunk.is_empty()) {
            (Progress::Chunked, false) if body => {
                response::write_chunk(&mut self.session.output, chunk)
            }
            (Progress::Chunked, true) => {
                if body {
                    self.session.output.extend_from_slice(LAST_CHUNK);
                }
                self.ex.resp.progress = Progress::Done;
            }
            (Progress::UntilClose, false) if body => self.session.output.extend_from_slice(chunk),
            (Progress::UntilClose, true) => self.ex.resp.progress = Progress::Done,
            (Progress::Chunked | Progress::UntilClose, false) => {}
            _ => return Err(Error::ResponseStarted),
        }
        self.after_write()
    }

    /// Sends an error response: the code's status line and `msg` (or ESP-IDF's default
    /// message) as a text/html body, ESP-IDF's `httpd_resp_send_err`. The connection stays
    /// open if the request allows it; return `Err` from the handler to close it.
    ///
    /// # Errors
    /// As [`send`](Request::send).
    pub fn send_err(&mut self, code: ErrorCode, msg: Option<&str>) -> Result<(), Error> {
        self.check_not_started()?;
        self.ex.resp.status.clear();
        self.ex.resp.status.push_str(code.status_line());
        self.ex.resp.content_type.clear();
        self.ex.resp.content_type.push_str("text/html");
        self.send(msg.unwrap_or(code.default_message()))
    }

    /// Sends raw bytes to the client, ESP-IDF's `httpd_send`: the handler frames the response
    /// itself. Nothing else is sent for this request.
    ///
    /// # Errors
    /// [`Error::ResponseStarted`] if a framed response was started; [`Error::Io`] /
    /// [`Error::Timeout`] if the client does not take it.
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), Error> {
        match self.ex.resp.progress {
            Progress::NotStarted | Progress::Raw => {}
            _ => return Err(Error::ResponseStarted),
        }
        self.ex.resp.progress = Progress::Raw;
        self.ex.resp.closing |= self.ex.head.keep_alive == KeepAlive::Close;
        self.session.output.extend_from_slice(bytes);
        self.after_write()
    }

    /// Whether the response head has been sent (or queued for sending).
    pub fn response_started(&self) -> bool {
        self.ex.resp.progress != Progress::NotStarted
    }

    fn check_not_started(&self) -> Result<(), Error> {
        match self.ex.resp.progress {
            Progress::NotStarted => Ok(()),
            _ => Err(Error::ResponseStarted),
        }
    }

    fn body_allowed(&self) -> bool {
        self.ex.head.method != Method::Head && response::status_allows_body(&self.ex.resp.status)
    }

    /// Decides whether the connection survives this response and writes the head.
    fn write_head(&mut self, framing: BodyFraming) {
        // The same rules as the loop's decision after the handler (`after_response`): a body
        // too long to drain, or one the client holds back waiting for a `100 Continue` it never
        // got, means the connection closes, and the response says so.
        let buffered = (self.session.input.end - self.ex.body.pos) as u64;
        let (unread_too_long, body_held_back) = match &self.ex.body.unread {
            Some(UnreadBody::Length(left)) => (
                left.saturating_sub(buffered) > DRAIN_LIMIT,
                *left > buffered,
            ),
            Some(UnreadBody::Chunked(_)) => (false, true),
            None => (false, false),
        };
        let unanswered_expect =
            self.ex.head.expect_continue && !self.session.continue_sent && body_held_back;
        let resp = &mut self.ex.resp;
        resp.closing |= self.ex.head.keep_alive == KeepAlive::Close
            || resp.close_requested
            || unread_too_long
            || unanswered_expect
            || framing == BodyFraming::UntilClose;
        let connection = match (resp.closing, self.ex.head.version) {
            (true, _) => ConnectionHeader::Close,
            (false, Version::Http10) => ConnectionHeader::KeepAlive,
            (false, Version::Http11) => ConnectionHeader::Omit,
        };
        response::write_head(
            &mut self.session.output,
            &HeadParts {
                status: &resp.status,
                content_type: &resp.content_type,
                framing,
                connection,
                date: self.env.date.get(),
                extra: &resp.headers,
            },
        );
    }

    /// Keeps the session's pending output bounded (see [`bound_output`]).
    fn after_write(&mut self) -> Result<(), Error> {
        bound_output(self.session, self.env).inspect_err(|_| self.ex.resp.broken = true)
    }

    /// The handler took over the connection's bytes (a protocol upgrade): nothing more is
    /// sent for this request.
    pub(crate) fn mark_raw(&mut self) {
        self.ex.resp.progress = Progress::Raw;
    }
}

impl io::Read for Request<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv(buf).map_err(io::Error::from)
    }
}

/// Writing to a request sends chunks of a chunked response; [`Request::send_chunk`] with an
/// empty chunk (or returning from the handler) ends it.
impl io::Write for Request<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.send_chunk(buf).map_err(io::Error::from)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let timeout = self.env.config.send_wait_timeout;
        self.session.flush_blocking(0, timeout)
    }
}

/// Keeps a session's pending output bounded after a handler wrote to it: past `FLUSH_AT` it
/// is written out, and past the pending budget the handler waits for the client. Off the
/// server thread (a detached request), nothing else writes for us: it is sent at once, so each
/// chunk of a streamed response leaves when it is sent.
pub(crate) fn bound_output(session: &mut Session, env: &Env) -> Result<(), Error> {
    let timeout = env.config.send_wait_timeout;
    if env.detached() {
        if session.pending_output() > 0 {
            session.flush_blocking(0, timeout)?;
        }
        return Ok(());
    }
    if session.pending_output() < FLUSH_AT {
        return Ok(());
    }
    session.flush_nonblocking()?;
    if session.pending_output() > env.pending_budget {
        session.flush_blocking(env.pending_budget, timeout)?;
    }
    Ok(())
}

/// The path of a request target: without query, and without scheme and authority for an
/// absolute-form target.
pub(crate) fn path_of(target: &[u8]) -> &[u8] {
    let without_query = match target.iter().position(|&b| b == b'?') {
        Some(q) => &target[..q],
        None => target,
    };
    match absolute_path_start(without_query) {
        Some(at) if at == without_query.len() => b"/",
        Some(at) => &without_query[at..],
        None => without_query,
    }
}

fn query_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
}

/// Percent-decoding for query values (`application/x-www-form-urlencoded`: `+` is a space).
fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.contains(['%', '+']) {
        return Cow::Borrowed(s);
    }
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(path_of(b"/a/b?x=1"), b"/a/b");
        assert_eq!(path_of(b"/"), b"/");
        assert_eq!(path_of(b"http://h:80/a?q"), b"/a");
        assert_eq!(path_of(b"http://h"), b"/");
        assert_eq!(path_of(b"http://h?q"), b"/");
    }

    #[test]
    fn query_values() {
        let q = "query1=a%20b&Flag&x=1&x=2&empty=";
        let find = |k: &str| {
            query_pairs(q)
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v)
        };
        assert_eq!(find("QUERY1"), Some("a%20b"));
        assert_eq!(find("flag"), Some(""));
        assert_eq!(find("x"), Some("1"));
        assert_eq!(find("empty"), Some(""));
        assert_eq!(find("nope"), None);
    }

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("a%20b+c"), "a b c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%E2%9C%93"), "\u{2713}");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
        assert!(matches!(percent_decode("plain"), Cow::Borrowed(_)));
    }
}
