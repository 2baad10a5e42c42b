//! Response heads, chunk framing, the cached `Date`, and the one keep-alive rule: bytes
//! appended to a session's output.

use std::time::{SystemTime, UNIX_EPOCH};

use super::head::KeepAlive;

/// Unread request body beyond this is not drained after the handler: the connection closes
/// instead (and the response says so).
pub(crate) const DRAIN_LIMIT: u64 = 1024 * 1024;

/// What is left of the request body when the connection's fate is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyLeft {
    /// All of it is read or buffered (or there was none).
    Nothing,
    /// This many bytes, beyond those already buffered.
    Length(u64),
    /// A chunked body not yet at its end.
    Chunked,
}

/// The facts that decide whether a connection survives a response.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Outcome {
    /// What the request asked for (`Connection`, and the HTTP version's default).
    pub(crate) request: KeepAlive,
    /// The handler asked to close (`Connection: close` in its response).
    pub(crate) handler_close: bool,
    /// The response body ends with the connection (no length, no chunking).
    pub(crate) until_close: bool,
    pub(crate) body_left: BodyLeft,
    /// The client sent `Expect: 100-continue` and got no `100 Continue`: it may be holding its
    /// body back, or sending it anyway; either way the next request's start is unknown.
    pub(crate) continue_unanswered: bool,
    /// The server is shutting down: this is the connection's last response.
    pub(crate) server_closing: bool,
}

impl Outcome {
    /// The one keep-alive rule: whether the connection closes after this response. A body too
    /// long to drain, or one the client holds back for a `100 Continue` it never got, closes it
    /// too, and the response says so.
    #[inline]
    pub(crate) fn must_close(&self) -> bool {
        self.request == KeepAlive::Close
            || self.handler_close
            || self.until_close
            || matches!(self.body_left, BodyLeft::Length(n) if n > DRAIN_LIMIT)
            || (self.continue_unanswered && self.body_left != BodyLeft::Nothing)
            || self.server_closing
    }
}

/// How the response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyFraming {
    /// `Content-Length: n`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// No length: the body ends when the connection closes (chunked responses to HTTP/1.0).
    UntilClose,
}

/// What the `Connection` header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnectionHeader {
    /// Nothing: HTTP/1.1 keeps the connection by default.
    Omit,
    /// `Connection: keep-alive`, for HTTP/1.0 clients that asked for it.
    KeepAlive,
    /// `Connection: close`.
    Close,
}

/// The parts of a response head.
pub(crate) struct HeadParts<'a> {
    pub(crate) status: &'a str,
    pub(crate) content_type: &'a str,
    pub(crate) framing: BodyFraming,
    pub(crate) connection: ConnectionHeader,
    pub(crate) date: &'a str,
    /// Serialised `Name: value\r\n` lines set by the handler, in order.
    pub(crate) extra: &'a [u8],
}

/// Appends a response head to `out`.
pub(crate) fn write_head(out: &mut Vec<u8>, head: &HeadParts<'_>) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(head.status.as_bytes());
    out.extend_from_slice(b"\r\nContent-Type: ");
    out.extend_from_slice(head.content_type.as_bytes());
    match head.framing {
        BodyFraming::Length(n) if status_allows_length(head.status) => {
            out.extend_from_slice(b"\r\nContent-Length: ");
            out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        }
        BodyFraming::Chunked if status_allows_length(head.status) => {
            out.extend_from_slice(b"\r\nTransfer-Encoding: chunked");
        }
        // RFC 9112 6.1 / 6.3: no framing headers on 1xx and 204 responses.
        BodyFraming::Length(_) | BodyFraming::Chunked | BodyFraming::UntilClose => {}
    }
    out.extend_from_slice(b"\r\nDate: ");
    out.extend_from_slice(head.date.as_bytes());
    match head.connection {
        ConnectionHeader::Omit => {}
        ConnectionHeader::KeepAlive => out.extend_from_slice(b"\r\nConnection: keep-alive"),
        ConnectionHeader::Close => out.extend_from_slice(b"\r\nConnection: close"),
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(head.extra);
    out.extend_from_slice(b"\r\n");
}

/// 1xx, 204 and 304 responses carry no body, and 1xx/204 no `Content-Length` (RFC 9110 8.6).
pub(crate) fn status_allows_length(status: &str) -> bool {
    !(status.starts_with('1') || status.starts_with("204"))
}

/// The code of a validated status line (`"404 Not Found"` -> 404).
pub(crate) fn status_code(status: &str) -> u16 {
    status.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// Whether a response with this status may carry a body at all.
pub(crate) fn status_allows_body(status: &str) -> bool {
    status_allows_length(status) && !status.starts_with("304")
}

/// Appends one chunk (`data` must not be empty).
pub(crate) fn write_chunk(out: &mut Vec<u8>, data: &[u8]) {
    let mut hex = [0u8; 16];
    let mut n = data.len();
    let mut i = hex.len();
    loop {
        i -= 1;
        hex[i] = b"0123456789abcdef"[n & 0xf];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&hex[i..]);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// The size line [`fill_chunk_size_line`] writes: eight hex digits and CRLF.
pub(crate) const CHUNK_SIZE_LINE_LEN: usize = 10;

/// Writes a fixed-width chunk size line for `n` (< 2^32) into `line` (leading zeros are valid
/// in a chunk size), so a chunk can be read in place after a reserved line.
pub(crate) fn fill_chunk_size_line(line: &mut [u8], n: usize) {
    for (i, b) in line[..8].iter_mut().enumerate() {
        *b = b"0123456789abcdef"[(n >> (4 * (7 - i))) & 0xf];
    }
    line[8..CHUNK_SIZE_LINE_LEN].copy_from_slice(b"\r\n");
}

/// The last chunk, with no trailers.
pub(crate) const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// The interim response to `Expect: 100-continue`.
pub(crate) const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// A status line's text: three digits (100..=999), a space, a reason without control
/// characters (it may be empty).
pub(crate) fn valid_status(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 4
        && b[..3].iter().all(u8::is_ascii_digit)
        && b[0] != b'0'
        && b[3] == b' '
        && valid_value(&s[4..])
}

/// A header field name: one or more token characters (RFC 9110 5.6.2).
pub(crate) fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A header field value: no CR, LF, NUL or other control character but HTAB.
pub(crate) fn valid_value(s: &str) -> bool {
    s.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// The `Date` header's value, formatted once per second.
#[derive(Debug)]
pub(crate) struct DateCache {
    secs: u64,
    text: String,
}

impl DateCache {
    pub(crate) fn new() -> Self {
        let mut cache = DateCache {
            secs: u64::MAX,
            text: String::new(),
        };
        cache.refresh(SystemTime::now());
        cache
    }

    pub(crate) fn refresh(&mut self, now: SystemTime) {
        let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if secs != self.secs {
            self.secs = secs;
            self.text = httpdate::fmt_http_date(now);
        }
    }

    pub(crate) fn get(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn head_layout() {
        let mut out = Vec::new();
        write_head(
            &mut out,
            &HeadParts {
                status: "200 OK",
                content_type: "text/plain",
                framing: BodyFraming::Length(13),
                connection: ConnectionHeader::Close,
                date: "Thu, 01 Jan 1970 00:00:00 GMT",
                extra: b"X-A: 1\r\n",
            },
        );
        assert_eq!(
            out,
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\
Date: Thu, 01 Jan 1970 00:00:00 GMT\r\nConnection: close\r\nX-A: 1\r\n\r\n"
        );
    }

    #[test]
    fn no_length_for_204() {
        let mut out = Vec::new();
        let parts = HeadParts {
            status: "204 No Content",
            content_type: "text/html",
            framing: BodyFraming::Length(0),
            connection: ConnectionHeader::Omit,
            date: "d",
            extra: b"",
        };
        write_head(&mut out, &parts);
        assert!(!String::from_utf8(out).unwrap().contains("Content-Length"));
        assert!(!status_allows_body("304 Not Modified"));
        assert!(status_allows_body("200 OK"));
    }

    #[test]
    fn chunks() {
        let mut out = Vec::new();
        write_chunk(&mut out, &[b'x'; 26]);
        assert_eq!(&out[..4], b"1a\r\n");
        assert!(out.ends_with(b"x\r\n"));
    }

    #[test]
    fn keep_alive_rule() {
        let base = Outcome {
            request: KeepAlive::KeepAlive,
            handler_close: false,
            until_close: false,
            body_left: BodyLeft::Nothing,
            continue_unanswered: false,
            server_closing: false,
        };
        assert!(!base.must_close());
        let cases = [
            (
                Outcome {
                    request: KeepAlive::Close,
                    ..base
                },
                true,
            ),
            (
                Outcome {
                    handler_close: true,
                    ..base
                },
                true,
            ),
            (
                Outcome {
                    until_close: true,
                    ..base
                },
                true,
            ),
            (
                Outcome {
                    body_left: BodyLeft::Length(DRAIN_LIMIT),
                    ..base
                },
                false,
            ),
            (
                Outcome {
                    body_left: BodyLeft::Length(DRAIN_LIMIT + 1),
                    ..base
                },
                true,
            ),
            (
                Outcome {
                    body_left: BodyLeft::Chunked,
                    ..base
                },
                false,
            ),
            (
                Outcome {
                    continue_unanswered: true,
                    server_closing: false,
                    ..base
                },
                false,
            ),
            (
                Outcome {
                    continue_unanswered: true,
                    server_closing: false,
                    body_left: BodyLeft::Chunked,
                    ..base
                },
                true,
            ),
            (
                Outcome {
                    continue_unanswered: true,
                    server_closing: false,
                    body_left: BodyLeft::Length(1),
                    ..base
                },
                true,
            ),
        ];
        for (outcome, close) in cases {
            assert_eq!(outcome.must_close(), close, "{outcome:?}");
        }
    }

    #[test]
    fn fixed_width_chunk_sizes() {
        let mut line = [0u8; CHUNK_SIZE_LINE_LEN];
        fill_chunk_size_line(&mut line, 0x3fff);
        assert_eq!(&line, b"00003fff\r\n");
    }

    #[test]
    fn validation() {
        assert!(valid_status("200 OK"));
        assert!(valid_status("503 Busy"));
        assert!(valid_status("299 "));
        for bad in [
            "20 OK",
            "2000 OK",
            "abc OK",
            "200OK",
            "200 O\r\nK",
            "099 X",
            "",
        ] {
            assert!(!valid_status(bad), "{bad:?}");
        }
        assert!(valid_name("X-Custom_1"));
        assert!(!valid_name("X Custom") && !valid_name("") && !valid_name("X:"));
        assert!(valid_value("a b\tc"));
        assert!(!valid_value("a\rb") && !valid_value("a\nb") && !valid_value("a\0b"));
    }

    #[test]
    fn date_changes_once_per_second() {
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        let mut d = DateCache::new();
        d.refresh(t);
        assert_eq!(d.get(), "Sun, 06 Nov 1994 08:49:37 GMT");
        d.refresh(t + Duration::from_millis(500));
        assert_eq!(d.get(), "Sun, 06 Nov 1994 08:49:37 GMT");
        d.refresh(t + Duration::from_secs(1));
        assert_eq!(d.get(), "Sun, 06 Nov 1994 08:49:38 GMT");
    }
}
