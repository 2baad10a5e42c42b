//! Request-head parsing over `httparse`, with the server's limits and framing rules. Sans-IO:
//! bytes in, results out; "need more bytes" is `Ok(None)`.

use super::chunked::ChunkedDecoder;
use super::uri::absolute_path_start;
use crate::types::{Method, Version, MAX_REQ_HEADERS_LIMIT};
use crate::ErrorCode;

/// Whether a connection stays open after the current exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeepAlive {
    Close,
    KeepAlive,
}

/// A byte range in the session's request buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) end: u32,
}

impl Span {
    fn of(buf: &[u8], part: &[u8]) -> Span {
        // Both slices come from the same buffer; the subtraction gives the offset.
        let start = part.as_ptr() as usize - buf.as_ptr() as usize;
        Span {
            start: start as u32,
            end: (start + part.len()) as u32,
        }
    }

    pub(crate) fn get(self, buf: &[u8]) -> &[u8] {
        &buf[self.start as usize..self.end as usize]
    }
}

/// Where one request header sits in the buffer.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HeaderSpan {
    pub(crate) name: Span,
    pub(crate) value: Span,
}

/// How the request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body.
    Empty,
    /// `Content-Length: n` (n > 0).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

impl Framing {
    /// The body still to read for a request so framed.
    pub(crate) fn unread(self, max_chunk_line: usize) -> Option<UnreadBody> {
        match self {
            Framing::Empty => None,
            Framing::Length(n) => Some(UnreadBody::Length(n)),
            Framing::Chunked => Some(UnreadBody::Chunked(ChunkedDecoder::new(max_chunk_line))),
        }
    }
}

/// The part of a request body not yet read.
#[derive(Debug, Clone)]
pub(crate) enum UnreadBody {
    Length(u64),
    Chunked(ChunkedDecoder),
}

/// A parsed request head. Header positions are in the `headers` vector given to
/// [`parse_head`]; all spans index the buffer that was parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head {
    /// Bytes of the head, including the blank line that ends it.
    pub(crate) len: usize,
    pub(crate) method: Method,
    pub(crate) target: Span,
    pub(crate) version: Version,
    pub(crate) framing: Framing,
    pub(crate) keep_alive: KeepAlive,
    pub(crate) expect_continue: bool,
}

impl Head {
    /// Stands in for a head that could not be parsed: no target, no body, connection closes.
    pub(crate) fn empty() -> Head {
        Head {
            len: 0,
            method: Method::Get,
            target: Span::default(),
            version: Version::Http11,
            framing: Framing::Empty,
            keep_alive: KeepAlive::Close,
            expect_continue: false,
        }
    }
}

/// The limits a head must respect.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_uri_len: usize,
    pub(crate) max_hdr_len: usize,
    pub(crate) max_headers: usize,
}

const MAX_METHOD_LEN: usize = 16;
/// `" HTTP/1.1\r\n"`
const VERSION_TAIL_LEN: usize = 11;

/// Parses a request head from the start of `buf`.
///
/// Returns `Ok(None)` when more bytes are needed (and the limits are not yet exceeded),
/// `Ok(Some(head))` when the head is complete and acceptable, and the status to answer with
/// otherwise. `headers` is cleared and filled with the header positions.
pub(crate) fn parse_head(
    buf: &[u8],
    limits: &Limits,
    headers: &mut Vec<HeaderSpan>,
) -> Result<Option<Head>, ErrorCode> {
    headers.clear();
    // Uninitialised: zeroing 128 headers on every parse was a tenth of a request's cost.
    let mut raw =
        [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_REQ_HEADERS_LIMIT];
    let mut req = httparse::Request::new(&mut []);
    let len = match req.parse_with_uninit_headers(buf, &mut raw[..limits.max_headers]) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return check_partial(buf, limits).map(|()| None),
        Err(httparse::Error::TooManyHeaders) => return Err(ErrorCode::HeaderFieldsTooLarge),
        Err(httparse::Error::Version) => {
            return match version_error(buf) {
                VersionError::LaterMinor(at) => {
                    // RFC 9110 2.5: a later 1.x minor version is answered as 1.1. Parsed from a
                    // copy with the digit replaced; spans are offsets, so they hold for `buf`.
                    let mut patched = buf.to_vec();
                    patched[at] = b'1';
                    parse_head(&patched, limits, headers)
                }
                VersionError::Status(code) => Err(code),
            };
        }
        Err(_) => {
            return Err(check_partial(buf, limits)
                .err()
                .unwrap_or(ErrorCode::BadRequest))
        }
    };
    let method = req.method.unwrap_or_default();
    let target = req.path.unwrap_or_default();
    if target.len() > limits.max_uri_len {
        return Err(ErrorCode::UriTooLong);
    }
    let line_len = request_line_len(buf).unwrap_or(len);
    if len - line_len - blank_line_len(&buf[..len]) > limits.max_hdr_len {
        return Err(ErrorCode::HeaderFieldsTooLarge);
    }
    let method = Method::from_token(method).ok_or(ErrorCode::NotImplemented)?;
    let version = match req.version {
        Some(0) => Version::Http10,
        Some(1) => Version::Http11,
        _ => return Err(ErrorCode::VersionNotSupported),
    };
    if !valid_target(method, target) {
        return Err(ErrorCode::BadRequest);
    }

    let mut fields = Fields::default();
    for h in req.headers.iter() {
        headers.push(HeaderSpan {
            name: Span::of(buf, h.name.as_bytes()),
            value: Span::of(buf, h.value),
        });
        fields.add(h.name, h.value)?;
    }
    let framing = fields.framing(version)?;
    if version == Version::Http11 && fields.hosts != 1 {
        return Err(ErrorCode::BadRequest);
    }
    let keep_alive = match (version, fields.close, fields.keep_alive) {
        (_, true, _) => KeepAlive::Close,
        (Version::Http11, false, _) | (Version::Http10, false, true) => KeepAlive::KeepAlive,
        (Version::Http10, false, false) => KeepAlive::Close,
    };
    Ok(Some(Head {
        len,
        method,
        target: Span::of(buf, target.as_bytes()),
        version,
        framing,
        keep_alive,
        // RFC 9110 10.1.1: an HTTP/1.0 client's expectation is ignored (and it gets no 1xx).
        expect_continue: fields.expect_continue && version == Version::Http11,
    }))
}

/// What the framing-relevant headers said.
#[derive(Default)]
struct Fields {
    content_length: Option<u64>,
    /// Every `Transfer-Encoding` coding seen, in order: only a single final `chunked` is valid.
    codings: u32,
    te_fields: u32,
    chunked_last: bool,
    hosts: u32,
    close: bool,
    keep_alive: bool,
    expect_continue: bool,
}

impl Fields {
    fn add(&mut self, name: &str, value: &[u8]) -> Result<(), ErrorCode> {
        if name.eq_ignore_ascii_case("content-length") {
            for item in value.split(|&b| b == b',') {
                let n = parse_length(trim(item))?;
                if self.content_length.is_some_and(|m| m != n) {
                    return Err(ErrorCode::BadRequest);
                }
                self.content_length = Some(n);
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            self.te_fields += 1;
            for item in value.split(|&b| b == b',') {
                let coding = trim(item);
                if coding.is_empty() {
                    continue;
                }
                self.codings += 1;
                self.chunked_last = coding.eq_ignore_ascii_case(b"chunked");
            }
        } else if name.eq_ignore_ascii_case("host") {
            self.hosts += 1;
            if !valid_host(value) {
                return Err(ErrorCode::BadRequest);
            }
        } else if name.eq_ignore_ascii_case("connection") {
            for item in value.split(|&b| b == b',') {
                let token = trim(item);
                self.close |= token.eq_ignore_ascii_case(b"close");
                self.keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case("expect") {
            self.expect_continue |= trim(value).eq_ignore_ascii_case(b"100-continue");
        }
        Ok(())
    }

    fn framing(&self, version: Version) -> Result<Framing, ErrorCode> {
        if self.te_fields > 0 && self.codings == 0 {
            return Err(ErrorCode::BadRequest);
        }
        match (self.codings, self.content_length) {
            (0, None | Some(0)) => Ok(Framing::Empty),
            (0, Some(n)) => Ok(Framing::Length(n)),
            // Both framings, a coding we do not implement, chunked not last or repeated, or
            // chunked on HTTP/1.0: the framing is ambiguous, refuse it (no request smuggling).
            (1, None) if self.chunked_last && version == Version::Http11 => Ok(Framing::Chunked),
            _ => Err(ErrorCode::BadRequest),
        }
    }
}

/// A `Content-Length` value: 1*DIGIT, nothing else. A value overflowing u64 is not a valid
/// length (400), rather than a large one.
fn parse_length(digits: &[u8]) -> Result<u64, ErrorCode> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(ErrorCode::BadRequest);
    }
    digits.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or(ErrorCode::BadRequest)
    })
}

/// The bytes of a reg-name or IPv4 address (RFC 3986 3.2.2: unreserved, pct-encoded and
/// sub-delims, but the comma: a list is not a host), as a table: it runs for every request.
static REG_NAME: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'%'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b';'
                    | b'='
            );
        b += 1;
    }
    table
};

/// A `Host` value (RFC 9110 7.2): empty, or a uri-host (IP literal in brackets, or a
/// reg-name / IPv4 address) with an optional port of at most 65535. No userinfo, path, list
/// or whitespace.
fn valid_host(value: &[u8]) -> bool {
    let (host, port) = match value.first() {
        Some(b'[') => match value.iter().position(|&b| b == b']') {
            Some(end) => {
                let literal = &value[1..end];
                let ok = !literal.is_empty()
                    && literal
                        .iter()
                        .all(|&b| b.is_ascii_hexdigit() || b":.vV".contains(&b));
                if !ok {
                    return false;
                }
                match &value[end + 1..] {
                    [] => return true,
                    [b':', port @ ..] => (&[][..], Some(port)),
                    _ => return false,
                }
            }
            None => return false,
        },
        _ => match value.iter().position(|&b| b == b':') {
            Some(colon) => (&value[..colon], Some(&value[colon + 1..])),
            None => (value, None),
        },
    };
    let reg_name = host.iter().all(|&b| REG_NAME[usize::from(b)]);
    let port_ok = port.is_none_or(|p| {
        p.iter().all(u8::is_ascii_digit)
            && (p.is_empty()
                || p.iter()
                    .try_fold(0u32, |n, &d| {
                        Some(n * 10 + u32::from(d - b'0')).filter(|&n| n <= 65_535)
                    })
                    .is_some())
    });
    reg_name && port_ok
}

fn trim(s: &[u8]) -> &[u8] {
    s.trim_ascii()
}

fn valid_target(method: Method, target: &str) -> bool {
    // Visible ASCII only, and no fragment, which a client never sends (RFC 9112 3.2).
    // httparse has refused spaces, controls and DEL; raw non-ASCII bytes it lets through.
    if non_ascii_or_fragment(target.as_bytes()) {
        return false;
    }
    match target.as_bytes().first() {
        Some(b'/') => true,
        Some(b'*') => method == Method::Options && target == "*",
        // Absolute form (RFC 9112 3.2.2): accepted, routed on its path.
        _ if method == Method::Connect => !target.is_empty(),
        _ => absolute_path_start(target.as_bytes()).is_some(),
    }
}

/// Whether `bytes` holds a byte >= 0x80 or a `#`. Eight bytes at a time: it runs on every
/// request's target.
fn non_ascii_or_fragment(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut words = bytes.chunks_exact(8);
    for chunk in &mut words {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_ne_bytes(word);
        // A byte of `y` is zero where `x` has a '#'; the classic zero-byte test finds it.
        let y = x ^ (ONES * u64::from(b'#'));
        if (x | (y.wrapping_sub(ONES) & !y)) & HIGH != 0 {
            return true;
        }
    }
    words.remainder().iter().any(|&b| b >= 0x80 || b == b'#')
}

/// Bytes up to the end of the request line, counting the blank lines httparse skips before it.
fn request_line_len(buf: &[u8]) -> Option<usize> {
    let skipped = buf
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    buf[skipped..]
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| skipped + i + 1)
}

fn blank_line_len(head: &[u8]) -> usize {
    if head.ends_with(b"\r\n") {
        2
    } else {
        1
    }
}

/// For an incomplete (or unparseable) head: has it already passed a limit?
fn check_partial(buf: &[u8], limits: &Limits) -> Result<(), ErrorCode> {
    let line_end = request_line_len(buf);
    let line = &buf[..line_end.unwrap_or(buf.len())];
    // The target runs from after the first space to the next space (or what we have so far).
    if let Some(sp) = line
        .iter()
        .take(MAX_METHOD_LEN + 1)
        .position(|&b| b == b' ')
    {
        let rest = &line[sp + 1..];
        let target_len = match rest.iter().position(|&b| b == b' ') {
            Some(n) => n,
            None if line_end.is_some() => rest.len().saturating_sub(2),
            None => rest.len(),
        };
        if target_len > limits.max_uri_len {
            return Err(ErrorCode::UriTooLong);
        }
    } else if line.len() > MAX_METHOD_LEN {
        return Err(ErrorCode::BadRequest);
    }
    match line_end {
        // The header section may still need its blank line (2 bytes) on top of the limit.
        Some(end) if buf.len() - end > limits.max_hdr_len + 2 => {
            Err(ErrorCode::HeaderFieldsTooLarge)
        }
        None if line.len() > MAX_METHOD_LEN + 1 + limits.max_uri_len + VERSION_TAIL_LEN => {
            Err(ErrorCode::BadRequest)
        }
        _ => Ok(()),
    }
}

/// What a version httparse refused means.
enum VersionError {
    /// `HTTP/1.x` with x > 1, its minor digit at this offset: served as HTTP/1.1.
    LaterMinor(usize),
    Status(ErrorCode),
}

/// httparse said the version is bad: 505 for a well-formed request line with an `HTTP/x.y`
/// other than 1.x, 400 for anything else (a space inside the target included).
fn version_error(buf: &[u8]) -> VersionError {
    let skipped = buf.len() - buf.trim_ascii_start().len();
    let line = &buf[..request_line_len(buf).unwrap_or(buf.len())];
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let spaces = line[skipped.min(line.len())..]
        .iter()
        .filter(|&&b| b == b' ')
        .count();
    let version = line.rsplit(|&b| b == b' ').next().unwrap_or_default();
    match version {
        _ if spaces != 2 => VersionError::Status(ErrorCode::BadRequest),
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', minor] if (b'2'..=b'9').contains(minor) => {
            VersionError::LaterMinor(line.len() - 1)
        }
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            VersionError::Status(ErrorCode::VersionNotSupported)
        }
        _ => VersionError::Status(ErrorCode::BadRequest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_uri_len: 32,
        max_hdr_len: 96,
        max_headers: 8,
    };

    fn parse(req: &str) -> Result<Option<Head>, ErrorCode> {
        parse_head(req.as_bytes(), &LIMITS, &mut Vec::new())
    }

    fn status(req: &str) -> Option<u16> {
        match parse(req) {
            Ok(_) => None,
            Err(code) => Some(code.status()),
        }
    }

    #[test]
    fn complete_heads() {
        let buf = "GET /a?b=c HTTP/1.1\r\nHost: x\r\nX-Y:  z \r\n\r\nBODY";
        let mut headers = Vec::new();
        let head = parse_head(buf.as_bytes(), &LIMITS, &mut headers)
            .unwrap()
            .unwrap();
        assert_eq!(head.len, buf.len() - 4);
        assert_eq!(head.method, Method::Get);
        assert_eq!(head.target.get(buf.as_bytes()), b"/a?b=c");
        assert_eq!(head.version, Version::Http11);
        assert_eq!(head.framing, Framing::Empty);
        assert_eq!(head.keep_alive, KeepAlive::KeepAlive);
        assert_eq!(headers.len(), 2);
        assert_eq!(headers[1].name.get(buf.as_bytes()), b"X-Y");
        assert_eq!(headers[1].value.get(buf.as_bytes()), b"z");
    }

    #[test]
    fn framing_and_connection_table() {
        let cases: &[(&str, Framing, KeepAlive)] = &[
            (
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n",
                Framing::Length(5),
                KeepAlive::KeepAlive,
            ),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
                Framing::Length(5),
                KeepAlive::KeepAlive,
            ),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\n",
                Framing::Length(5),
                KeepAlive::KeepAlive,
            ),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
                Framing::Empty,
                KeepAlive::KeepAlive,
            ),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
                Framing::Chunked,
                KeepAlive::KeepAlive,
            ),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n",
                Framing::Chunked,
                KeepAlive::KeepAlive,
            ),
            (
                "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                Framing::Empty,
                KeepAlive::Close,
            ),
            (
                "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, Close\r\n\r\n",
                Framing::Empty,
                KeepAlive::Close,
            ),
            ("GET / HTTP/1.0\r\n\r\n", Framing::Empty, KeepAlive::Close),
            (
                "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
                Framing::Empty,
                KeepAlive::KeepAlive,
            ),
            (
                "GET / HTTP/1.1\nHost: x\n\n",
                Framing::Empty,
                KeepAlive::KeepAlive,
            ),
            (
                "GET http://example.com/a HTTP/1.1\r\nHost: example.com\r\n\r\n",
                Framing::Empty,
                KeepAlive::KeepAlive,
            ),
            (
                "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
                Framing::Empty,
                KeepAlive::KeepAlive,
            ),
        ];
        for (req, framing, keep_alive) in cases {
            let head = parse(req)
                .unwrap_or_else(|e| panic!("{req:?}: {e}"))
                .unwrap();
            assert_eq!(head.framing, *framing, "{req:?}");
            assert_eq!(head.keep_alive, *keep_alive, "{req:?}");
        }
    }

    #[test]
    fn refused_heads_table() {
        let long_uri = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(32));
        let ok_uri = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(31));
        // Header section: "Host: x\r\n" (9) + "A: " + value + "\r\n"; the limit is 96.
        let long_hdr = format!("GET / HTTP/1.1\r\nHost: x\r\nA: {}\r\n\r\n", "b".repeat(83));
        let ok_hdr = format!("GET / HTTP/1.1\r\nHost: x\r\nA: {}\r\n\r\n", "b".repeat(82));
        let many = format!("GET / HTTP/1.1\r\nHost: x\r\n{}\r\n", "A: b\r\n".repeat(8));
        let cases: &[(&str, Option<u16>)] = &[
            (&ok_uri, None),
            (&long_uri, Some(414)),
            (&ok_hdr, None),
            (&long_hdr, Some(431)),
            (&many, Some(431)),
            ("GET / HTTP/2.0\r\nHost: x\r\n\r\n", Some(505)),
            // RFC 9110 2.5: a later HTTP/1.x is answered as HTTP/1.1.
            ("GET / HTTP/1.2\r\nHost: x\r\n\r\n", None),
            ("GET / HTTP/1.9\r\nHost: x\r\n\r\n", None),
            ("GET / HTTP/1.10\r\nHost: x\r\n\r\n", Some(400)),
            ("GET / HTTP/0.9\r\nHost: x\r\n\r\n", Some(505)),
            // The target: a space, raw non-ASCII or a fragment is a bad request, not a version.
            ("GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", Some(400)),
            ("GET /a HTTP/1.1 HTTP/1.1\r\nHost: x\r\n\r\n", Some(400)),
            ("GET /caf\u{e9} HTTP/1.1\r\nHost: x\r\n\r\n", Some(400)),
            ("GET /a#frag HTTP/1.1\r\nHost: x\r\n\r\n", Some(400)),
            ("GET /a?b#frag HTTP/1.1\r\nHost: x\r\n\r\n", Some(400)),
            // Host: a uri-host and an optional port <= 65535, nothing else.
            ("GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", None),
            ("GET / HTTP/1.1\r\nHost: [::1]:65535\r\n\r\n", None),
            ("GET / HTTP/1.1\r\nHost: [fe80::1]\r\n\r\n", None),
            ("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", None),
            ("GET / HTTP/1.1\r\nHost: x:\r\n\r\n", None),
            ("GET / HTTP/1.1\r\nHost: user@x\r\n\r\n", Some(400)),
            ("GET / HTTP/1.1\r\nHost: x/path\r\n\r\n", Some(400)),
            ("GET / HTTP/1.1\r\nHost: a, b\r\n\r\n", Some(400)),
            ("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", Some(400)),
            ("GET / HTTP/1.1\r\nHost: x:65536\r\n\r\n", Some(400)),
            ("GET / HTTP/1.1\r\nHost: x:99999999999\r\n\r\n", Some(400)),
            ("GET / HTTP/1.1\r\nHost: x:8a\r\n\r\n", Some(400)),
            ("GET / HTTP/1.1\r\nHost: x:1:2\r\n\r\n", Some(400)),
            ("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", Some(400)),
            ("GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", Some(400)),
            ("GET / HTTP/1.1\r\nHost: []\r\n\r\n", Some(400)),
            ("GET / HTTX/1.1\r\nHost: x\r\n\r\n", Some(400)),
            ("GET / HTTP/1.1\rHost: x\r\n\r\n", Some(400)),
            ("GET / HTTP/1.1\r\nHost : x\r\n\r\n", Some(400)),
            ("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", Some(400)),
            ("GET / HTTP/1.1\r\nHo\x01st: x\r\n\r\n", Some(400)),
            ("GET / HTTP/1.1\r\nHost: x\x01y\r\n\r\n", Some(400)),
            ("GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n", Some(400)),
            ("GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", Some(400)),
            ("GET HTTP/1.1\r\nHost: x\r\n\r\n", Some(400)),
            ("GET  / HTTP/1.1\r\nHost: x\r\n\r\n", Some(400)),
            ("GET a HTTP/1.1\r\nHost: x\r\n\r\n", Some(400)),
            ("BREW / HTTP/1.1\r\nHost: x\r\n\r\n", Some(501)),
            ("GET / HTTP/1.1\r\n\r\n", Some(400)),
            ("GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", Some(400)),
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", Some(400)),
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", Some(400)),
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\n", Some(400)),
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n", Some(400)),
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", Some(400)),
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x5\r\n\r\n", Some(400)),
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n", Some(400)),
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", Some(400)),
            ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", Some(400)),
            ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", Some(400)),
            ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", Some(400)),
            ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", Some(400)),
            ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \r\n\r\n", Some(400)),
            ("\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", None),
            // Found by the randomized test: a multi-byte character where a scheme would end.
            ("GET http:\u{e825}-h//h/p HTTP/1.1\r\nHost: x\r\n\r\n", Some(400)),
            ("GET ht\u{e9}p://h/p HTTP/1.1\r\nHost: x\r\n\r\n", Some(400)),
            ("\x16\x03\x01\x02\x00\x01\x00\x01\x7c\x03\x03", Some(400)),
        ];
        for (req, want) in cases {
            assert_eq!(status(req), *want, "{req:?}");
        }
    }

    #[test]
    fn fragment_and_non_ascii_found_at_every_position() {
        for len in 0..24 {
            let clean = vec![b'a'; len];
            assert!(!non_ascii_or_fragment(&clean));
            for at in 0..len {
                for bad in [b'#', 0x80, 0xff, 0xc3] {
                    let mut t = clean.clone();
                    t[at] = bad;
                    assert!(non_ascii_or_fragment(&t), "{len} {at} {bad:#x}");
                }
                // Bytes next to '#' (0x22, 0x24) and every other visible ASCII byte pass.
                for ok in (0x21u8..0x7f).filter(|&b| b != b'#') {
                    let mut t = clean.clone();
                    t[at] = ok;
                    assert!(!non_ascii_or_fragment(&t), "{len} {at} {ok:#x}");
                }
            }
        }
    }

    #[test]
    fn partial_heads_wait_or_hit_limits_early() {
        assert!(matches!(parse("GET / HTTP/1.1\r\nHost: x\r\n"), Ok(None)));
        assert!(matches!(parse("GE"), Ok(None)));
        assert_eq!(status(&format!("GET /{}", "a".repeat(40))), Some(414));
        assert_eq!(
            status(&format!("GET / HTTP/1.1\r\nA: {}", "b".repeat(120))),
            Some(431)
        );
        assert_eq!(status(&"X".repeat(40)), Some(400));
    }

    #[test]
    fn every_split_point_of_a_valid_head_is_partial_then_complete() {
        let req = b"POST /echo?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n";
        for cut in 0..req.len() {
            assert!(
                matches!(parse_head(&req[..cut], &LIMITS, &mut Vec::new()), Ok(None)),
                "cut at {cut}"
            );
        }
        let head = parse_head(req, &LIMITS, &mut Vec::new()).unwrap().unwrap();
        assert_eq!(head.framing, Framing::Length(3));
    }
}
