//! The response side of a [`Request`]: ESP-IDF's `httpd_resp_*`, and bodies streamed from a
//! source.

use std::io;

use super::body::{Body, Parts};
use super::exchange::{bound_complete_output, bound_output, Progress};
use super::request::Request;
use crate::conn::source::{Source, SourceFraming};
use crate::event::Event;
use crate::proto::head::KeepAlive;
use crate::proto::response::{self, BodyFraming, ConnectionHeader, HeadParts, Outcome, LAST_CHUNK};
use crate::types::{Method, Version};
use crate::{Error, ErrorCode};

impl Request<'_> {
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
    /// the server close the connection after this response. `Content-Length` declares the body's
    /// length: the chunks then sent with [`send_chunk`](Request::send_chunk) are the body,
    /// unframed, and must add up to it (a file of known length streamed by the handler).
    ///
    /// # Errors
    /// [`Error::InvalidHeader`] for a name that is not a token, a value with CR, LF or another
    /// control character, a `Content-Length` that is not a decimal number, or
    /// `Transfer-Encoding` (the server frames the body); [`Error::TooManyHeaders`] past
    /// `max_resp_headers`; [`Error::ResponseStarted`] once the head is sent.
    pub fn set_header(&mut self, name: &str, value: &str) -> Result<(), Error> {
        self.check_not_started()?;
        let value = value.trim_matches([' ', '\t']);
        if !response::valid_name(name)
            || !response::valid_value(value)
            || name.eq_ignore_ascii_case("transfer-encoding")
        {
            return Err(Error::InvalidHeader);
        }
        if name.eq_ignore_ascii_case("content-length") {
            // The server writes it, with the framing it implies.
            let valid = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
            let len = value.parse().ok().filter(|_| valid);
            self.ex.resp.declared_len = Some(len.ok_or(Error::InvalidHeader)?);
            return Ok(());
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
    /// [`Error::LengthMismatch`] if a `Content-Length` was set and the body has another length
    /// (a HEAD request may send an empty body); [`Error::Io`] / [`Error::Timeout`] if the
    /// client does not take it.
    pub fn send(&mut self, body: impl AsRef<[u8]>) -> Result<(), Error> {
        let body = body.as_ref();
        self.check_not_started()?;
        let len = self.checked_len(body.len() as u64, body.is_empty())?;
        self.write_head(BodyFraming::Length(len));
        if self.body_allowed() {
            self.session.output.data.extend_from_slice(body);
        }
        self.ex.resp.progress = Progress::Done;
        bound_complete_output(self.session, self.env).inspect_err(|_| self.ex.resp.broken = true)
    }

    /// [`send`](Request::send) for a string (ESP-IDF's `httpd_resp_sendstr`).
    ///
    /// # Errors
    /// As [`send`](Request::send).
    pub fn send_str(&mut self, body: &str) -> Result<(), Error> {
        self.send(body.as_bytes())
    }

    /// Sends a complete response whose body may come from a reader or a file (see [`Body`]).
    /// Bytes are sent as [`send`](Request::send) sends them. A source is pulled by the server
    /// as the client takes the response, after the handler returns: the handler does not wait,
    /// and neither does anyone else. Off the server thread (a detached request) it is written
    /// out before this returns.
    ///
    /// # Errors
    /// As [`send`](Request::send).
    pub fn send_body(&mut self, body: impl Into<Body>) -> Result<(), Error> {
        self.check_not_started()?;
        let (source, len) = match body.into().into_parts() {
            Parts::Bytes(bytes) => return self.send(bytes),
            Parts::Stream(reader, len) => (Err(reader), len),
            Parts::File(file, offset, len) => (Ok((file, offset)), Some(len)),
        };
        let framing = match (len, self.ex.resp.declared_len) {
            (Some(n), Some(d)) if n != d => return Err(Error::LengthMismatch),
            (Some(n), _) | (None, Some(n)) => BodyFraming::Length(n),
            (None, None) if self.ex.head.version == Version::Http10 => BodyFraming::UntilClose,
            (None, None) => BodyFraming::Chunked,
        };
        self.write_head(framing);
        self.ex.resp.progress = Progress::Done;
        if self.body_allowed() {
            let framing = match framing {
                BodyFraming::Length(n) => SourceFraming::Length(n),
                BodyFraming::Chunked => SourceFraming::Chunked,
                BodyFraming::UntilClose => SourceFraming::UntilClose,
            };
            let source = match source {
                // A file's length is known, so its framing is that length.
                Ok((file, offset)) => Source::file(file, offset, len.unwrap_or(0)),
                Err(reader) => Source::new(reader, framing),
            };
            self.session.output.source = Some(Box::new(source));
        }
        if self.env.off_loop() {
            self.after_write()?;
        }
        Ok(())
    }

    /// Sends one chunk of a chunked response, ESP-IDF's `httpd_resp_send_chunk`; the first call
    /// sends the head, an empty chunk ends the response. (The server ends it if the handler
    /// returns without doing so.) To an HTTP/1.0 client the body is sent unframed and the
    /// connection closes after it. After `set_header("Content-Length", ..)` the chunks are sent
    /// unframed and must add up to that length; a response that ends short closes the
    /// connection.
    ///
    /// # Errors
    /// [`Error::ResponseStarted`] after [`send`](Request::send) or after the last chunk;
    /// [`Error::LengthMismatch`] for a chunk past the declared length; [`Error::Io`] /
    /// [`Error::Timeout`] if the client does not take it.
    pub fn send_chunk(&mut self, chunk: impl AsRef<[u8]>) -> Result<(), Error> {
        let chunk = chunk.as_ref();
        if self.ex.resp.progress == Progress::NotStarted {
            let framing = match self.ex.resp.declared_len {
                Some(n) => BodyFraming::Length(n),
                None if self.ex.head.version == Version::Http10 => BodyFraming::UntilClose,
                None => BodyFraming::Chunked,
            };
            self.write_head(framing);
            self.ex.resp.progress = match framing {
                BodyFraming::Length(_) => Progress::Declared,
                BodyFraming::UntilClose => Progress::UntilClose,
                BodyFraming::Chunked => Progress::Chunked,
            };
        }
        let body = self.body_allowed();
        let resp = &mut self.ex.resp;
        let out = &mut self.session.output.data;
        match (resp.progress, chunk.is_empty()) {
            (Progress::Chunked, false) if body => response::write_chunk(out, chunk),
            (Progress::Chunked, true) => {
                if body {
                    out.extend_from_slice(LAST_CHUNK);
                }
                resp.progress = Progress::Done;
            }
            (Progress::Declared, false) => {
                let left = resp.declared_len.unwrap_or(0);
                if chunk.len() as u64 > left {
                    return Err(Error::LengthMismatch);
                }
                resp.declared_len = Some(left - chunk.len() as u64);
                if body {
                    out.extend_from_slice(chunk);
                }
            }
            (Progress::Declared, true) => {
                if body && resp.declared_len != Some(0) {
                    log::debug!("response ended short of its Content-Length; closing");
                    resp.broken = true;
                }
                resp.progress = Progress::Done;
            }
            (Progress::UntilClose, false) if body => out.extend_from_slice(chunk),
            (Progress::UntilClose, true) => resp.progress = Progress::Done,
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
        let id = self.session.id;
        self.env.config.events.emit(|| Event::Error { id, code });
        let resp = &mut self.ex.resp;
        resp.status.clear();
        resp.status.push_str(code.status_line());
        resp.content_type.clear();
        resp.content_type.push_str("text/html");
        resp.declared_len = None;
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
        self.session.output.data.extend_from_slice(bytes);
        self.after_write()
    }

    /// Whether the response head has been sent (or queued for sending).
    pub fn response_started(&self) -> bool {
        self.ex.resp.progress != Progress::NotStarted
    }

    pub(crate) fn check_not_started(&self) -> Result<(), Error> {
        match self.ex.resp.progress {
            Progress::NotStarted => Ok(()),
            _ => Err(Error::ResponseStarted),
        }
    }

    /// The length to announce for a body of `len` bytes, given a declared `Content-Length`.
    fn checked_len(&self, len: u64, empty: bool) -> Result<u64, Error> {
        match self.ex.resp.declared_len {
            None => Ok(len),
            Some(d) if d == len || (empty && self.ex.head.method == Method::Head) => Ok(d),
            Some(_) => Err(Error::LengthMismatch),
        }
    }

    fn body_allowed(&self) -> bool {
        self.ex.head.method != Method::Head && response::status_allows_body(&self.ex.resp.status)
    }

    /// Decides whether the connection survives this response and writes the head.
    fn write_head(&mut self, framing: BodyFraming) {
        let outcome = Outcome {
            request: self.ex.head.keep_alive,
            handler_close: self.ex.resp.close_requested,
            until_close: framing == BodyFraming::UntilClose,
            body_left: self.ex.body_left(self.session.input.end),
            continue_unanswered: self.ex.head.expect_continue && !self.session.continue_sent,
            server_closing: self.env.draining(),
        };
        let resp = &mut self.ex.resp;
        resp.closing |= outcome.must_close();
        let connection = match (resp.closing, self.ex.head.version) {
            (true, _) => ConnectionHeader::Close,
            (false, Version::Http10) => ConnectionHeader::KeepAlive,
            (false, Version::Http11) => ConnectionHeader::Omit,
        };
        response::write_head(
            &mut self.session.output.data,
            &HeadParts {
                status: &resp.status,
                content_type: &resp.content_type,
                framing,
                connection,
                date: self.env.date.get(),
                extra: &resp.headers,
            },
        );
        let id = self.session.id;
        self.env.config.events.emit(|| Event::ResponseHead {
            id,
            status: response::status_code(&resp.status),
        });
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
        self.session
            .flush_blocking(0, timeout, &self.env.config.events)
    }
}
