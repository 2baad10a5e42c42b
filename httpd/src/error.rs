//! The crate's error type and the table of HTTP errors the server generates.

use std::fmt;
use std::io;

/// Everything that can go wrong when starting or driving a server, registering handlers,
/// or using a request from inside a handler.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system call failed (bind, accept, read, write, ...).
    Io(io::Error),
    /// A configuration value was refused by [`ConfigBuilder::build`](crate::ConfigBuilder::build);
    /// the payload names the setting and the rule.
    InvalidConfig(&'static str),
    /// TLS material or settings are unusable (feature `tls`); the message names the file.
    Tls(String),
    /// The handler table already holds `max_uri_handlers` handlers.
    HandlerTableFull,
    /// A handler for the same URI and method is already registered (or the matcher already
    /// matches the new URI for that method).
    HandlerExists,
    /// No handler is registered for that URI (and method).
    HandlerNotFound,
    /// The control queue is full; the work was not queued.
    QueueFull,
    /// The server has stopped (or is stopping).
    Stopped,
    /// The session has closed (or is closing); its id is stale.
    NoSuchSession,
    /// A status line, content type, header name or header value was refused: empty, containing
    /// CR, LF or another control character, or otherwise malformed.
    InvalidHeader,
    /// More than `max_resp_headers` response headers were set.
    TooManyHeaders,
    /// The response head was already sent, so the status or headers can no longer change, or the
    /// call does not fit the response already started (for example `send` after `send_chunk`).
    ResponseStarted,
    /// Nothing arrived from the client within `recv_wait_timeout`.
    Timeout,
    /// The client closed the connection before the request body was complete.
    ConnectionClosed,
    /// The request body is malformed (a bad chunk size or chunk framing).
    BadBody,
    /// The request body is larger than the server or handler accepts.
    BodyTooLarge,
    /// A handler failed; the message is logged by the server.
    Handler(String),
    /// The request was already detached ([`Request::detach`](crate::Request::detach) twice).
    AlreadyDetached,
    /// A WebSocket frame the protocol does not allow: a message opcode other than Text or
    /// Binary, or a control frame payload over 125 bytes.
    InvalidFrame,
    /// A WebSocket Close was already sent on this connection: nothing more may be sent.
    CloseSent,
    /// The response body does not match the `Content-Length` set for it.
    LengthMismatch,
}

impl Error {
    /// A handler failure with a message, for handlers that want to fail with their own reason.
    ///
    /// ```
    /// let err = httpd::Error::handler("no such sensor");
    /// assert_eq!(err.to_string(), "handler failed: no such sensor");
    /// ```
    pub fn handler(msg: impl Into<String>) -> Self {
        Error::Handler(msg.into())
    }

    /// The status a handler failing with this error is answered with (under
    /// [`FailurePolicy::ErrorPage`](crate::FailurePolicy::ErrorPage)): 408 when the client was
    /// too slow, 400 for a malformed body, 413 for one too large, 500 for everything else.
    ///
    /// ```
    /// use httpd::{Error, ErrorCode};
    /// assert_eq!(Error::Timeout.status(), ErrorCode::RequestTimeout);
    /// assert_eq!(Error::handler("x").status(), ErrorCode::InternalServerError);
    /// ```
    pub fn status(&self) -> ErrorCode {
        match self {
            Error::Timeout => ErrorCode::RequestTimeout,
            Error::BadBody => ErrorCode::BadRequest,
            Error::BodyTooLarge => ErrorCode::ContentTooLarge,
            _ => ErrorCode::InternalServerError,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "i/o error: {e}"),
            Error::InvalidConfig(why) => write!(f, "invalid configuration: {why}"),
            Error::Tls(why) => write!(f, "TLS configuration: {why}"),
            Error::HandlerTableFull => f.write_str("handler table is full"),
            Error::HandlerExists => f.write_str("a handler for this URI and method exists"),
            Error::HandlerNotFound => f.write_str("no handler registered for this URI"),
            Error::QueueFull => f.write_str("control queue is full"),
            Error::Stopped => f.write_str("server stopped"),
            Error::NoSuchSession => f.write_str("no such session"),
            Error::InvalidHeader => f.write_str("invalid status line, content type or header"),
            Error::TooManyHeaders => f.write_str("too many response headers"),
            Error::ResponseStarted => f.write_str("response already started"),
            Error::Timeout => f.write_str("timed out waiting for the client"),
            Error::ConnectionClosed => f.write_str("connection closed by the client"),
            Error::BadBody => f.write_str("malformed request body"),
            Error::BodyTooLarge => f.write_str("request body too large"),
            Error::Handler(msg) => write!(f, "handler failed: {msg}"),
            Error::AlreadyDetached => f.write_str("request already detached"),
            Error::InvalidFrame => f.write_str("invalid WebSocket frame"),
            Error::CloseSent => f.write_str("WebSocket close already sent"),
            Error::LengthMismatch => f.write_str("body length differs from Content-Length"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Timeout,
            _ => Error::Io(e),
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Io(e) => e,
            Error::Timeout => io::ErrorKind::TimedOut.into(),
            Error::ConnectionClosed => io::ErrorKind::UnexpectedEof.into(),
            Error::BadBody => io::ErrorKind::InvalidData.into(),
            other => io::Error::other(other),
        }
    }
}

/// An HTTP error the server can answer with: ESP-IDF's `httpd_err_code_t`.
///
/// Each code has one status line and one default message, the ones ESP-IDF sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 400: the request is malformed.
    BadRequest,
    /// 401: authentication is required.
    Unauthorized,
    /// 403: the request is refused.
    Forbidden,
    /// 404: no handler matches the URI.
    NotFound,
    /// 405: handlers match the URI, but not for this method.
    MethodNotAllowed,
    /// 408: the request did not arrive in time.
    RequestTimeout,
    /// 411: a body needs a length.
    LengthRequired,
    /// 413: the body is larger than the server accepts.
    ContentTooLarge,
    /// 414: the request target is longer than `max_uri_len`.
    UriTooLong,
    /// 431: the header section is longer than `max_req_hdr_len`, or has too many fields.
    HeaderFieldsTooLarge,
    /// 500: a handler failed.
    InternalServerError,
    /// 501: the method is not supported.
    NotImplemented,
    /// 505: the HTTP version is neither 1.0 nor 1.1.
    VersionNotSupported,
}

/// The one table: code, status line, default message.
const TABLE: [(ErrorCode, &str, &str); 13] = [
    (
        ErrorCode::BadRequest,
        "400 Bad Request",
        "Bad request syntax",
    ),
    (
        ErrorCode::Unauthorized,
        "401 Unauthorized",
        "No permission -- see authorization schemes",
    ),
    (
        ErrorCode::Forbidden,
        "403 Forbidden",
        "Request forbidden -- authorization will not help",
    ),
    (
        ErrorCode::NotFound,
        "404 Not Found",
        "Nothing matches the given URI",
    ),
    (
        ErrorCode::MethodNotAllowed,
        "405 Method Not Allowed",
        "Specified method is invalid for this resource",
    ),
    (
        ErrorCode::RequestTimeout,
        "408 Request Timeout",
        "Server closed this connection",
    ),
    (
        ErrorCode::LengthRequired,
        "411 Length Required",
        "Client must specify Content-Length",
    ),
    (
        ErrorCode::ContentTooLarge,
        "413 Content Too Large",
        "Content is too large",
    ),
    (ErrorCode::UriTooLong, "414 URI Too Long", "URI is too long"),
    (
        ErrorCode::HeaderFieldsTooLarge,
        "431 Request Header Fields Too Large",
        "Header fields are too long",
    ),
    (
        ErrorCode::InternalServerError,
        "500 Internal Server Error",
        "Server has encountered an unexpected error",
    ),
    (
        ErrorCode::NotImplemented,
        "501 Not Implemented",
        "Server does not support this method",
    ),
    (
        ErrorCode::VersionNotSupported,
        "505 HTTP Version Not Supported",
        "HTTP version not supported by server",
    ),
];

impl ErrorCode {
    /// Every code, in table order.
    pub const ALL: [ErrorCode; 13] = [
        ErrorCode::BadRequest,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::RequestTimeout,
        ErrorCode::LengthRequired,
        ErrorCode::ContentTooLarge,
        ErrorCode::UriTooLong,
        ErrorCode::HeaderFieldsTooLarge,
        ErrorCode::InternalServerError,
        ErrorCode::NotImplemented,
        ErrorCode::VersionNotSupported,
    ];

    fn row(self) -> &'static (ErrorCode, &'static str, &'static str) {
        &TABLE[self.index()]
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// The numeric status code, e.g. `404`.
    pub fn status(self) -> u16 {
        let line = self.row().1;
        line[..3].parse().unwrap_or(500)
    }

    /// The status line without the version, e.g. `"404 Not Found"`.
    pub fn status_line(self) -> &'static str {
        self.row().1
    }

    /// ESP-IDF's default body for this error, e.g. `"Nothing matches the given URI"`.
    pub fn default_message(self) -> &'static str {
        self.row().2
    }

    /// The code for a numeric status, if it is one of the table's.
    pub fn from_status(status: u16) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.status() == status)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.status_line())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_in_enum_order_and_consistent() {
        for (i, code) in ErrorCode::ALL.into_iter().enumerate() {
            assert_eq!(TABLE[i].0, code);
            assert_eq!(code.index(), i);
            assert_eq!(ErrorCode::from_status(code.status()), Some(code));
            assert!(code.status_line().starts_with(&code.status().to_string()));
        }
        assert_eq!(ErrorCode::NotFound.status(), 404);
        assert_eq!(
            ErrorCode::RequestTimeout.default_message(),
            "Server closed this connection"
        );
        assert_eq!(ErrorCode::from_status(418), None);
    }

    #[test]
    fn io_timeouts_map_to_timeout() {
        let e: Error = io::Error::from(io::ErrorKind::WouldBlock).into();
        assert!(matches!(e, Error::Timeout));
        let e: Error = io::Error::from(io::ErrorKind::BrokenPipe).into();
        assert!(matches!(e, Error::Io(_)));
    }
}
